"""Learning progress: one state per concept (or project) and where the learner stands against the schedule.

Pure: the store hands over the roadmap version, its progress rows and the dates; nothing here reads a clock.
A week of the schedule is seven days from the version's ``starts_on``; what was planned by ``today`` is the
hours of the weeks that have ended plus the elapsed share of the current one. What is *covered* is the hours of
finished (done or skipped) items plus the hours logged on items in progress (at most the item's hours).
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field

from roadmap_agent.domain.models import Concept, Project, Roadmap

ProgressState = Literal["todo", "learning", "done", "skipped"]
STATES: tuple[ProgressState, ...] = ("todo", "learning", "done", "skipped")
FINISHED: frozenset[str] = frozenset({"done", "skipped"})
Standing = Literal["ahead", "on_track", "behind", "not_started", "finished"]
MAX_NOTE_CHARS = 10_000
MAX_ITEM_HOURS = 1000.0
ON_TRACK_SHARE = 0.25  # within a quarter of a week's hours of the plan counts as on track


class ItemProgress(BaseModel):
    """The learner's record of one concept or project (``todo`` with 0 hours when never touched)."""

    concept_id: str
    state: ProgressState = "todo"
    hours: float = Field(default=0.0, ge=0, le=MAX_ITEM_HOURS)
    note: str = Field(default="", max_length=MAX_NOTE_CHARS)
    updated_at: datetime | None = None
    revision: int = 0  # goes up by one per update: send it back as If-Match to update only an unchanged row


class ProgressSummary(BaseModel):
    counts: dict[str, int]
    total: int
    percent: float  # done + skipped, of all tracked items
    hours_done: float
    hours_left: float
    planned_by_today: float
    standing: Standing
    hours_ahead: float  # positive: ahead of the plan; negative: behind
    today: date
    starts_on: date
    planned_finish: date
    projected_finish: date | None  # at the learner's pace so far; None before any progress


def tracked_items(roadmap: Roadmap) -> list[Concept | Project]:
    """What progress is kept on: every concept (finished earlier ones included) and every project."""
    return [*roadmap.completed, *roadmap.concepts(), *roadmap.projects()]


def item_ids(roadmap: Roadmap) -> list[str]:
    return [item.id for item in tracked_items(roadmap)]


def week_dates(starts_on: date, week: int) -> tuple[date, date]:
    """First and last day of schedule ``week`` (1-based)."""
    first = starts_on + timedelta(days=7 * (week - 1))
    return first, first + timedelta(days=6)


def planned_by(roadmap: Roadmap, starts_on: date, today: date) -> float:
    """Scheduled hours that should be behind the learner on ``today`` (the day itself counted)."""
    days = (today - starts_on).days + 1
    if days <= 0:
        return 0.0
    planned = 0.0
    for week in roadmap.schedule:
        elapsed = min(7, max(0, days - 7 * (week.week - 1)))
        planned += week.hours * elapsed / 7
    return round(planned, 2)


def covered(item: Concept | Project, progress: ItemProgress | None) -> float:
    if progress is None:
        return 0.0
    if progress.state in FINISHED:
        return item.hours
    return min(progress.hours, item.hours)


def summarize(roadmap: Roadmap, progress: dict[str, ItemProgress], starts_on: date, today: date,
              began_on: date | None = None) -> ProgressSummary:
    """Where the learner stands on ``today`` against this version's schedule (week 1 starts ``starts_on``);
    the pace for the projected finish counts every hour since ``began_on`` (the roadmap's start date)."""
    items = tracked_items(roadmap)
    counts = dict.fromkeys(STATES, 0)
    for item in items:
        counts[progress[item.id].state if item.id in progress else "todo"] += 1
    scheduled = [item for item in items if not (isinstance(item, Concept) and item.optional)]
    earlier = {c.id for c in roadmap.completed}
    hours_done = round(sum(covered(item, progress.get(item.id)) for item in scheduled), 2)
    hours_left = round(sum(item.hours - covered(item, progress.get(item.id)) for item in scheduled
                           if item.id not in earlier), 2)
    done_now = round(hours_done - sum(c.hours for c in roadmap.completed), 2)  # on this version's schedule
    planned = planned_by(roadmap, starts_on, today)
    finished = counts["done"] + counts["skipped"]
    planned_finish = week_dates(starts_on, max(1, len(roadmap.schedule)))[1]
    return ProgressSummary(
        counts=counts, total=len(items), percent=round(100 * finished / len(items), 1) if items else 0.0,
        hours_done=hours_done, hours_left=hours_left, planned_by_today=planned,
        standing=_standing(done_now, planned, hours_left, roadmap.hours_per_week),
        hours_ahead=round(done_now - planned, 2), today=today, starts_on=starts_on,
        planned_finish=planned_finish,
        projected_finish=projected_finish(hours_done, hours_left, began_on or starts_on, today))


def _standing(done: float, planned: float, left: float, hours_per_week: int) -> Standing:
    if left <= 0:
        return "finished"
    if done <= 0 and planned <= 0:
        return "not_started"
    slack = ON_TRACK_SHARE * hours_per_week
    if done - planned > slack:
        return "ahead"
    if planned - done > slack:
        return "behind"
    return "on_track"


def projected_finish(done: float, left: float, starts_on: date, today: date) -> date | None:
    """The day the rest is done at the pace so far (hours per day since the start)."""
    if left <= 0:
        return today
    days = (today - starts_on).days + 1
    if done <= 0 or days <= 0:
        return None
    per_day = done / days
    return today + timedelta(days=math.ceil(left / per_day))
