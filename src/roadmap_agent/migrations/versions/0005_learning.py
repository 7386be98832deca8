"""Learning with a roadmap: its dates and versions, progress per concept, review cards and share links.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

Timestamp = sa.DateTime(timezone=True)
JsonType = sa.JSON().with_variant(JSONB(), "postgresql")


def _roadmap_fk() -> sa.Column[str]:
    return sa.Column("roadmap_id", sa.String(80), sa.ForeignKey("roadmaps.id", ondelete="CASCADE"), primary_key=True)


def upgrade() -> None:
    op.create_table(
        "learning_roadmaps", _roadmap_fk(),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("start_date", sa.Date, nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("deadline", sa.Date, nullable=False),
        sa.Column("current_version", sa.Integer, nullable=False),
        sa.Column("share_hash", sa.String(64), unique=True),
        sa.Column("share_progress", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("shared_at", Timestamp),
        sa.Column("created_at", Timestamp, nullable=False),
    )
    op.create_index("ix_learning_roadmaps_owner", "learning_roadmaps", ["owner"])
    op.create_table(
        "roadmap_versions", _roadmap_fk(),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("body", JsonType, nullable=False),
        sa.Column("starts_on", sa.Date, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
    )
    op.create_table(
        "concept_progress", _roadmap_fk(),
        sa.Column("concept_id", sa.String(128), primary_key=True),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("hours", sa.Float, nullable=False, server_default="0"),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("revision", sa.Integer, nullable=False, server_default="1"),
        sa.Column("updated_at", Timestamp, nullable=False),
    )
    op.create_index("ix_concept_progress_owner", "concept_progress", ["owner"])
    op.create_table(
        "review_cards", _roadmap_fk(),
        sa.Column("concept_id", sa.String(128), primary_key=True),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("card", JsonType, nullable=False),
        sa.Column("due", sa.Date, nullable=False),
        sa.Column("reviews", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_rating", sa.String(8)),
        sa.Column("updated_at", Timestamp, nullable=False),
    )
    op.create_index("ix_review_cards_owner_due", "review_cards", ["owner", "due"])


def downgrade() -> None:
    for table in ("review_cards", "concept_progress", "roadmap_versions", "learning_roadmaps"):
        op.drop_table(table)
