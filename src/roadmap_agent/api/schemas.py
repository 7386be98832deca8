"""Request and response bodies of the v1 API (field names are the stable contract in DESIGN.md)."""

from __future__ import annotations

import unicodedata
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, field_validator

from roadmap_agent.domain.models import (
    MAX_GOAL_CHARS,
    MAX_HOURS_PER_WEEK,
    MAX_WEEKS,
    Language,
    LearnerRequest,
    Level,
)
from roadmap_agent.store.records import Decision, TaskRecord, TaskStatus


def storable_text(value: str) -> str:
    """Refuse what PostgreSQL cannot store (NUL, lone surrogates): a clear 422 instead of a database error."""
    if "\x00" in value:
        raise ValueError("text must not contain NUL (\\u0000) characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode (it contains a lone surrogate)") from None
    return value


# Zero-width spaces and joiners, direction marks, BOM, soft hyphen: format characters (Cf) nobody sees.
INVISIBLE = {"Cf", "Cc", "Zs", "Zl", "Zp"}


def visible(text: str) -> str:
    return "".join(c for c in text if unicodedata.category(c) not in INVISIBLE and not c.isspace())


def strip_invisible(text: str) -> str:
    """``text`` without leading or trailing invisible characters (inside it they may join words)."""
    chars = list(text)
    while chars and (chars[0].isspace() or unicodedata.category(chars[0]) in INVISIBLE):
        chars.pop(0)
    while chars and (chars[-1].isspace() or unicodedata.category(chars[-1]) in INVISIBLE):
        chars.pop()
    return "".join(chars)


class CreateRoadmapBody(BaseModel):
    goal: str = Field(min_length=1, max_length=MAX_GOAL_CHARS,
                      description="What the learner wants, in English or Chinese.",
                      examples=["I want to become a backend developer in 3 months, I know some Python, "
                                "10 hours a week"])
    hours_per_week: int | None = Field(default=None, ge=1, le=MAX_HOURS_PER_WEEK)
    weeks: int | None = Field(default=None, ge=1, le=MAX_WEEKS, description="Whole duration (3 months = 13).")
    level: Level | None = None
    known_skills: list[str] = Field(default_factory=list, max_length=100)
    language: Language | None = None
    auto_approve: bool = False
    timezone: str | None = Field(default=None, max_length=64, examples=["Europe/Berlin"],
                                 description="IANA time zone of the learner: the start date's and calendar's.")
    start_date: date | None = Field(default=None, strict=False,  # JSON has no date type: "YYYY-MM-DD"
                                    description="When learning starts (default: the day the "
                                    "roadmap is finalized, in `timezone`).")
    use_skill_profile: bool = Field(default=True, description="Skip concepts you finished or knew in earlier "
                                    "roadmaps (listed as assumed known); false plans them again.")

    # strict: "yes" is not a boolean and true is not a number of hours (no silent coercion).
    model_config = {"extra": "forbid", "strict": True}

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone name; use e.g. 'Europe/Berlin' or 'UTC'") from None
        return value

    @field_validator("goal")
    @classmethod
    def _goal_has_text(cls, value: str) -> str:
        storable_text(value)
        value = unicodedata.normalize("NFC", value)
        if not visible(value):
            raise ValueError("goal is empty (only spaces or invisible characters); describe what you want to "
                             "learn, e.g. 'become a data analyst in 6 months'")
        return strip_invisible(value)

    @field_validator("known_skills")
    @classmethod
    def _short_skills(cls, value: list[str]) -> list[str]:
        if any(len(s) > 100 for s in value):
            raise ValueError("each known skill must be at most 100 characters")
        return [storable_text(s) for s in value]

    def to_request(self) -> LearnerRequest:
        return LearnerRequest.model_validate(self.model_dump())


class ReviewBody(BaseModel):
    approved: bool
    feedback: str | None = Field(default=None, max_length=MAX_GOAL_CHARS,
                                 examples=["skip Docker, add Kubernetes, make it 8 weeks"])

    model_config = {"extra": "forbid", "strict": True}

    @field_validator("feedback")
    @classmethod
    def _storable_feedback(cls, value: str | None) -> str | None:
        return None if value is None else storable_text(value)


class TaskLinks(BaseModel):
    self: str
    roadmap: str
    events: str
    websocket: str
    review: str
    cancel: str


class TaskCreated(BaseModel):
    task_id: str
    status: TaskStatus
    links: TaskLinks


class TaskView(BaseModel):
    task_id: str
    owner: str
    status: TaskStatus
    current_step: str | None
    intent: dict[str, Any] | None
    roadmap_id: str | None
    error: str | None
    error_code: str | None = None  # e.g. out_of_scope: the offline catalog does not cover the goal
    review_round: int
    # The history of the review: each round's decision and its feedback, oldest first.
    decisions: list[Decision] = Field(default_factory=list)
    created_at: datetime
    updated_at: datetime
    links: TaskLinks

    @classmethod
    def of(cls, task: TaskRecord, decisions: list[Decision] | None = None) -> TaskView:
        return cls(task_id=task.task_id, owner=task.owner, status=task.status, current_step=task.current_step,
                   intent=task.intent, roadmap_id=task.roadmap_id, error=task.error, error_code=task.error_code,
                   review_round=task.review_round, decisions=decisions or [],
                   created_at=task.created_at, updated_at=task.updated_at, links=links_for(task.task_id))


class TaskPage(BaseModel):
    items: list[TaskView]
    total: int
    limit: int
    offset: int


def links_for(task_id: str) -> TaskLinks:
    base = f"/api/v1/tasks/{task_id}"
    return TaskLinks(self=base, roadmap=f"{base}/roadmap", events=f"{base}/events", websocket=f"{base}/ws",
                     review=f"{base}/review", cancel=f"{base}/cancel")
