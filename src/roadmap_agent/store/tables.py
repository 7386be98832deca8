"""Table definitions (SQLAlchemy Core), shared by the repository and the Alembic migrations.

Types are chosen to work the same on SQLite and PostgreSQL (JSON becomes JSONB on PostgreSQL).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

metadata = sa.MetaData()

JsonType = sa.JSON().with_variant(JSONB(), "postgresql")
Timestamp = sa.DateTime(timezone=True)

tasks = sa.Table(
    "tasks", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("owner", sa.String(128), nullable=False, index=True),
    sa.Column("status", sa.String(32), nullable=False, index=True),
    sa.Column("current_step", sa.String(64)),
    sa.Column("request", JsonType, nullable=False),
    sa.Column("intent", JsonType),
    sa.Column("draft_roadmap", JsonType),
    sa.Column("roadmap_id", sa.String(80)),
    sa.Column("error", sa.Text),
    sa.Column("error_code", sa.String(64)),  # the error tree's code, e.g. out_of_scope
    sa.Column("review_round", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_seq", sa.Integer, nullable=False, server_default="0"),
    sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("idempotency_key", sa.String(255)),
    # Fencing: each claim of the run increments it; a run's writes only land while it still holds its epoch.
    sa.Column("run_epoch", sa.Integer, nullable=False, server_default="0"),
    # Who holds the run (worker name, or "cli"/"api" in-process); cleared when the run stops cleanly.
    sa.Column("worker", sa.String(128)),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.UniqueConstraint("owner", "idempotency_key", name="uq_tasks_owner_idempotency_key"),
)

roadmaps = sa.Table(
    "roadmaps", metadata,
    sa.Column("id", sa.String(80), primary_key=True),
    sa.Column("task_id", sa.String(64), sa.ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False,
              index=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("language", sa.String(8), nullable=False),
    sa.Column("body", JsonType, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
)

review_decisions = sa.Table(
    "review_decisions", metadata,
    sa.Column("task_id", sa.String(64), sa.ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("review_round", sa.Integer, primary_key=True),
    sa.Column("approved", sa.Boolean, nullable=False),
    sa.Column("feedback", sa.Text),
    sa.Column("created_at", Timestamp, nullable=False),
)

task_events = sa.Table(
    "task_events", metadata,
    sa.Column("task_id", sa.String(64), sa.ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("step", sa.String(64)),
    sa.Column("status", sa.String(32)),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("data", JsonType, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
)

users = sa.Table(
    "users", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("is_admin", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", Timestamp, nullable=False),
)

api_keys = sa.Table(
    "api_keys", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.String(64), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False,
              index=True),
    sa.Column("prefix", sa.String(16), nullable=False, index=True),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("revoked_at", Timestamp),
    sa.UniqueConstraint("hash", name="uq_api_keys_hash"),
)

# -- learning with a roadmap (migration 0005) ------------------------------------------------------------------

learning_roadmaps = sa.Table(
    "learning_roadmaps", metadata,
    sa.Column("roadmap_id", sa.String(80), sa.ForeignKey("roadmaps.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("owner", sa.String(128), nullable=False, index=True),
    sa.Column("start_date", sa.Date, nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("deadline", sa.Date, nullable=False),  # the last day the learner wants to be done by
    sa.Column("current_version", sa.Integer, nullable=False),
    sa.Column("share_hash", sa.String(64), unique=True),  # SHA-256 of the share token; NULL: not shared
    sa.Column("share_progress", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("shared_at", Timestamp),
    sa.Column("created_at", Timestamp, nullable=False),
)

roadmap_versions = sa.Table(
    "roadmap_versions", metadata,
    sa.Column("roadmap_id", sa.String(80), sa.ForeignKey("roadmaps.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("body", JsonType, nullable=False),
    sa.Column("starts_on", sa.Date, nullable=False),  # the first day of this version's week 1
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
)

concept_progress = sa.Table(
    "concept_progress", metadata,
    sa.Column("roadmap_id", sa.String(80), sa.ForeignKey("roadmaps.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("concept_id", sa.String(128), primary_key=True),
    sa.Column("owner", sa.String(128), nullable=False, index=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("hours", sa.Float, nullable=False, server_default="0"),
    sa.Column("note", sa.Text, nullable=False, server_default=""),
    sa.Column("revision", sa.Integer, nullable=False, server_default="1"),
    sa.Column("updated_at", Timestamp, nullable=False),
)

review_cards = sa.Table(
    "review_cards", metadata,
    sa.Column("roadmap_id", sa.String(80), sa.ForeignKey("roadmaps.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("concept_id", sa.String(128), primary_key=True),
    sa.Column("owner", sa.String(128), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("card", JsonType, nullable=False),  # fsrs.Card.to_dict()
    sa.Column("due", sa.Date, nullable=False),
    sa.Column("reviews", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_rating", sa.String(8)),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.Index("ix_review_cards_owner_due", "owner", "due"),
)
