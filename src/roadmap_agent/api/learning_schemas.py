"""Request and response bodies of the learning routes (stable field names, like schemas.py)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field, field_validator

from roadmap_agent.api.schemas import storable_text
from roadmap_agent.domain.models import MAX_HOURS_PER_WEEK, MAX_WEEKS, Concept
from roadmap_agent.domain.progress import (
    MAX_ITEM_HOURS,
    MAX_NOTE_CHARS,
    ItemProgress,
    ProgressState,
    ProgressSummary,
    tracked_items,
)
from roadmap_agent.domain.reviews import ReviewRating
from roadmap_agent.domain.versions import VersionDiff
from roadmap_agent.learning import Opened
from roadmap_agent.store.learning import ProgressChange, VersionRecord


class _Body(BaseModel):
    model_config = {"extra": "forbid"}


class ProgressBody(_Body):
    state: ProgressState | None = None
    hours: float | None = Field(default=None, ge=0, le=MAX_ITEM_HOURS, description="Hours spent, set to this.")
    add_hours: float | None = Field(default=None, gt=0, le=MAX_ITEM_HOURS, description="Or add this many hours.")
    note: str | None = Field(default=None, max_length=MAX_NOTE_CHARS, description="Markdown.")

    @field_validator("note")
    @classmethod
    def _storable(cls, value: str | None) -> str | None:
        return None if value is None else storable_text(value)

    def change(self) -> ProgressChange:
        return ProgressChange(state=self.state, hours=self.hours, add_hours=self.add_hours, note=self.note)


class ProgressUpdate(ProgressBody):
    concept_id: str = Field(min_length=1, max_length=128)


class ProgressPut(_Body):
    start_date: date | None = None
    timezone: str | None = Field(default=None, max_length=64)
    updates: list[ProgressUpdate] = Field(default_factory=list, max_length=500)


class ReplanBody(_Body):
    weeks: int | None = Field(default=None, ge=1, le=MAX_WEEKS, description="Weeks from today (default: what is "
                              "left until the deadline).")
    hours_per_week: int | None = Field(default=None, ge=1, le=MAX_HOURS_PER_WEEK)


class ReviewBody(_Body):
    rating: ReviewRating


class ShareBody(_Body):
    show_progress: bool = False


class ShareView(BaseModel):
    token: str
    path: str
    url: str
    show_progress: bool


class ItemView(BaseModel):
    concept_id: str
    name: str
    kind: str  # concept | project | finished (left the schedule in a re-plan)
    week: int | None
    planned_hours: float
    optional: bool
    state: ProgressState
    hours: float
    note: str
    updated_at: datetime | None
    revision: int


def item_views(opened: Opened, progress: dict[str, ItemProgress]) -> list[ItemView]:
    weeks: dict[str, int] = {}
    for week in opened.roadmap.schedule:
        for item_id in [*week.concept_ids, *week.project_ids]:
            weeks.setdefault(item_id, week.week)
    finished = {c.id for c in opened.roadmap.completed}
    views = []
    for item in tracked_items(opened.roadmap):
        record = progress.get(item.id) or ItemProgress(concept_id=item.id)
        kind = "finished" if item.id in finished else "concept" if isinstance(item, Concept) else "project"
        views.append(ItemView(concept_id=item.id, name=item.name if isinstance(item, Concept) else item.title,
                              kind=kind, week=weeks.get(item.id), planned_hours=item.hours,
                              optional=isinstance(item, Concept) and item.optional, state=record.state,
                              hours=record.hours, note=record.note, updated_at=record.updated_at,
                              revision=record.revision))
    return views


class ProgressView(BaseModel):
    roadmap_id: str
    version: int
    start_date: date
    timezone: str
    deadline: date
    summary: ProgressSummary
    items: list[ItemView]

    @classmethod
    def of(cls, opened: Opened, summary: ProgressSummary, progress: dict[str, ItemProgress]) -> ProgressView:
        return cls(roadmap_id=opened.record.roadmap_id, version=opened.version.version,
                   start_date=opened.record.start_date, timezone=opened.record.timezone,
                   deadline=opened.record.deadline, summary=summary, items=item_views(opened, progress))


class ReplanView(BaseModel):
    version: int
    roadmap: dict[str, object]
    diff: VersionDiff
    progress: ProgressView


class VersionView(BaseModel):
    version: int
    starts_on: date
    reason: str
    created_at: datetime

    @classmethod
    def of(cls, record: VersionRecord) -> VersionView:
        return cls(version=record.version, starts_on=record.starts_on, reason=record.reason,
                   created_at=record.created_at)


class VersionList(BaseModel):
    current: int
    items: list[VersionView]


class RoadmapSummary(BaseModel):
    roadmap_id: str
    task_id: str
    title: str
    language: str
    created_at: datetime
    version: int
    start_date: date | None


class RoadmapList(BaseModel):
    items: list[RoadmapSummary]
    total: int
    limit: int
    offset: int


class DueReview(BaseModel):
    roadmap_id: str
    concept_id: str
    name: str
    due: date
    reviews: int
    last_rating: str | None


class DueReviews(BaseModel):
    items: list[DueReview]

