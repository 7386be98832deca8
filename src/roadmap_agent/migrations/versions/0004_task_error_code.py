"""Tasks carry the code of the error they failed with (``out_of_scope``, ``storage_unavailable``, ...).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tasks", sa.Column("error_code", sa.String(64)))


def downgrade() -> None:
    op.drop_column("tasks", "error_code")
