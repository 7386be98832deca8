"""The run queue: who runs a task (``worker``), a fencing counter (``run_epoch``), and procrastinate's schema.

Every claim of a run increments ``run_epoch``; the run's writes carry the epoch they claimed, so a run that
was taken over (its worker hung, then woke up) can no longer write anything. On PostgreSQL the job queue's
own tables and functions (procrastinate, pinned to 3.10.x in pyproject) are created here, inside the
migration lock, so many processes starting at once apply them once.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("run_epoch", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("worker", sa.String(128)))
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        from roadmap_agent.infra.queue import schema_sql  # the queue's driver stays inside infra/

        exists = bind.execute(sa.text("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")).scalar()
        if not exists:
            bind.exec_driver_sql(schema_sql().replace("%", "%%"))


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("worker")
        batch.drop_column("run_epoch")
