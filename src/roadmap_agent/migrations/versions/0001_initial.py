"""Initial schema: tasks, roadmaps, review decisions and the task event log.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "tasks",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("current_step", sa.String(64)),
        sa.Column("request", Json, nullable=False),
        sa.Column("intent", Json),
        sa.Column("draft_roadmap", Json),
        sa.Column("roadmap_id", sa.String(80)),
        sa.Column("error", sa.Text),
        sa.Column("review_round", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_seq", sa.Integer, nullable=False, server_default="0"),
        sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("idempotency_key", sa.String(255)),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.UniqueConstraint("owner", "idempotency_key", name="uq_tasks_owner_idempotency_key"),
    )
    op.create_index("ix_tasks_owner", "tasks", ["owner"])
    op.create_index("ix_tasks_status", "tasks", ["status"])
    op.create_table(
        "roadmaps",
        sa.Column("id", sa.String(80), primary_key=True),
        sa.Column("task_id", sa.String(64), sa.ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("body", Json, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
    )
    op.create_index("ix_roadmaps_task_id", "roadmaps", ["task_id"])
    op.create_table(
        "review_decisions",
        sa.Column("task_id", sa.String(64), sa.ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("review_round", sa.Integer, primary_key=True),
        sa.Column("approved", sa.Boolean, nullable=False),
        sa.Column("feedback", sa.Text),
        sa.Column("created_at", Timestamp, nullable=False),
    )
    op.create_table(
        "task_events",
        sa.Column("task_id", sa.String(64), sa.ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("step", sa.String(64)),
        sa.Column("status", sa.String(32)),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("data", Json, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("task_events")
    op.drop_table("review_decisions")
    op.drop_table("roadmaps")
    op.drop_table("tasks")
