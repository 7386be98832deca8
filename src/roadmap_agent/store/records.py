"""What the repository returns: tasks, events and their states (the API's response shapes)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class TaskStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    HUMAN_REVIEW_PENDING = "human_review_pending"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset({TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED})


class EventType(StrEnum):
    PROGRESS = "progress"
    HUMAN_REVIEW_REQUIRED = "human_review_required"
    TASK_RECOVERING = "task_recovering"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    # Learning with the final roadmap (after ``completed``): follow them on GET /api/v1/roadmaps/{id}/events.
    PROGRESS_UPDATED = "progress_updated"
    REPLANNED = "replanned"
    REVIEWED = "reviewed"


LEARNING_EVENTS = frozenset({EventType.PROGRESS_UPDATED, EventType.REPLANNED, EventType.REVIEWED})
TERMINAL_EVENTS = frozenset({EventType.COMPLETED, EventType.FAILED, EventType.CANCELLED})


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class TaskRecord(BaseModel):
    task_id: str
    owner: str
    status: TaskStatus
    current_step: str | None = None
    request: dict[str, Any]
    intent: dict[str, Any] | None = None
    roadmap_id: str | None = None
    error: str | None = None
    error_code: str | None = None
    review_round: int = 0
    cancel_requested: bool = False
    run_epoch: int = 0
    worker: str | None = None
    created_at: datetime
    updated_at: datetime


class Event(BaseModel):
    task_id: str
    seq: int
    type: EventType
    step: str | None = None
    status: str | None = None
    message: str
    data: dict[str, Any] = Field(default_factory=dict)
    timestamp: datetime

    @property
    def terminal(self) -> bool:
        return self.type in TERMINAL_EVENTS


class Decision(BaseModel):
    """One review round's decision, as the task view shows it (``decisions`` on GET /api/v1/tasks/{id})."""

    round: int
    approved: bool
    feedback: str | None = None
    decided_at: datetime
