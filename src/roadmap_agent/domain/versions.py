"""Re-planning a roadmap into a new version, and the diff between two versions.

``replan`` takes the learner's progress out of the plan (done and skipped concepts leave the schedule and are
kept in ``completed``) and re-fits the rest with the offline planner's own rules (``plan_of`` + ``arrange``):
core first, stretch topics while ``hours_per_week x weeks`` allows, optional ones outside the schedule, and an
over-budget warning saying what no longer fits when even the core does not fit the weeks left.

A new version's week 1 starts on the first day of the old schedule's week that holds ``today``
(``aligned_start``), so weeks of both versions fall on the same dates and a diff compares like with like.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Literal

from pydantic import BaseModel

from roadmap_agent.domain.catalog import Catalog
from roadmap_agent.domain.models import Roadmap
from roadmap_agent.domain.planning import arrange, plan_of
from roadmap_agent.domain.progress import FINISHED, ItemProgress, week_dates

# added/removed: in one version only; scheduled/unscheduled: into or out of the schedule (to optional, or back)
Change = Literal["added", "removed", "scheduled", "unscheduled", "moved", "retimed", "finished"]


def aligned_start(starts_on: date, today: date) -> date:
    """The first day of the week (of a schedule starting ``starts_on``) that holds ``today``."""
    if today <= starts_on:
        return starts_on
    return starts_on + timedelta(days=7 * ((today - starts_on).days // 7))


def weeks_until(starts_on: date, deadline: date) -> int:
    """Whole schedule weeks from ``starts_on`` to ``deadline`` (at least one)."""
    return max(1, -(-(deadline - starts_on).days // 7))


def replan(roadmap: Roadmap, progress: dict[str, ItemProgress], catalog: Catalog, domains: list[str], *,
           weeks: int, hours_per_week: int, level: str = "beginner") -> Roadmap:
    """A new version of ``roadmap``: what is finished out of the schedule, the rest fitted to ``weeks``."""
    finished = [c for c in roadmap.concepts() if c.id in progress and progress[c.id].state in FINISHED]
    gone = {c.id for c in finished}
    base = plan_of(roadmap, domains, level)
    plan = replace(base, concepts=[c for c in base.concepts if c.id not in gone],
                   assumed_known=sorted({*base.assumed_known, *gone}), weeks=weeks, hours_per_week=hours_per_week,
                   weeks_stated=True)
    result = arrange(plan, catalog)
    result.assumed_known = list(roadmap.assumed_known)  # finished is not the same as known before starting
    result.completed = [*roadmap.completed, *(c.model_copy(deep=True) for c in finished)]
    return result


class Placement(BaseModel):
    week: int | None = None  # None: outside the schedule (optional, or finished)
    starts: date | None = None
    hours: float | None = None


class ConceptChange(BaseModel):
    concept_id: str
    name: str
    change: Change
    before: Placement
    after: Placement


class Delta(BaseModel):
    before: float | int | str | None
    after: float | int | str | None


class VersionDiff(BaseModel):
    from_version: int
    to_version: int
    changes: list[ConceptChange]
    weeks: Delta
    hours_per_week: Delta
    total_hours: Delta
    finish: Delta  # the last scheduled day of each version


def _placements(roadmap: Roadmap, starts_on: date) -> dict[str, Placement]:
    hours = {c.id: c.hours for c in roadmap.concepts()}
    placed: dict[str, Placement] = {}
    for week in roadmap.schedule:
        for concept_id in week.concept_ids:
            placed.setdefault(concept_id, Placement(week=week.week, starts=week_dates(starts_on, week.week)[0],
                                                    hours=hours.get(concept_id)))
    for concept in roadmap.concepts():
        placed.setdefault(concept.id, Placement(hours=concept.hours))
    return placed


def diff(before: Roadmap, before_start: date, after: Roadmap, after_start: date, *,
         from_version: int, to_version: int) -> VersionDiff:
    old, new = _placements(before, before_start), _placements(after, after_start)
    names = {c.id: c.name for c in [*before.concepts(), *before.completed, *after.concepts(), *after.completed]}
    finished_now = {c.id for c in after.completed} - {c.id for c in before.completed}
    changes: list[ConceptChange] = []
    for concept_id in [*old, *(c for c in new if c not in old)]:
        was, now = old.get(concept_id), new.get(concept_id)
        kind = _kind(was, now, concept_id in finished_now)
        if kind is not None:
            changes.append(ConceptChange(concept_id=concept_id, name=names.get(concept_id, concept_id), change=kind,
                                         before=was or Placement(), after=now or Placement()))
    return VersionDiff(
        from_version=from_version, to_version=to_version, changes=changes,
        weeks=Delta(before=before.weeks, after=after.weeks),
        hours_per_week=Delta(before=before.hours_per_week, after=after.hours_per_week),
        total_hours=Delta(before=before.total_hours, after=after.total_hours),
        finish=Delta(before=_finish(before, before_start), after=_finish(after, after_start)))


def _kind(was: Placement | None, now: Placement | None, finished: bool) -> Change | None:
    if finished:
        return "finished"
    if was is None:
        return "added"
    if now is None:
        return "removed"
    if (was.week is None) != (now.week is None):
        return "unscheduled" if now.week is None else "scheduled"
    if was.hours != now.hours:
        return "retimed"
    if was.starts != now.starts:
        return "moved"
    return None


def _finish(roadmap: Roadmap, starts_on: date) -> str:
    return week_dates(starts_on, max(1, len(roadmap.schedule)))[1].isoformat()
