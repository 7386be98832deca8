"""Each edit operation applied to the draft of the roadmap, with what it changed said in the roadmap's language.

Skip, know, add (with missing prerequisites) and retime concepts; set the weeks, the hours a week or a date to
finish by; move the level a step (scaling hours as the planner does); order rules; resource preferences; more
projects a stage. What can only be said once the roadmap is arranged (the week a topic starts, an over-budget
warning, how many resources were removed) is queued on ``Draft.after``.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Sequence
from datetime import date
from typing import Any

from roadmap_agent.domain.edit_draft import Draft
from roadmap_agent.domain.edit_ops import (
    AddConcepts,
    ChangeLevel,
    EditOp,
    FinishBy,
    KnowConcepts,
    MoreProjects,
    OrderBefore,
    OrderFirst,
    PreferResources,
    ScaleHours,
    SetHoursPerWeek,
    SetWeeks,
    SkipConcepts,
)
from roadmap_agent.domain.edit_refit import PREFERRED, ancestors, has_preferred
from roadmap_agent.domain.messages import listed, text
from roadmap_agent.domain.models import LEVELS, MAX_HOURS_PER_WEEK, MAX_WEEKS, OrderRule, ResourcePreference, Roadmap
from roadmap_agent.domain.planning import LEVEL_HOURS_FACTOR
from roadmap_agent.domain.schedule import round_hours

MAX_PROJECTS_PER_STAGE = 3
_EPSILON = 1e-6


def apply_op(op: EditOp, draft: Draft) -> None:
    """Apply ``op`` to ``draft`` and add to its report what changed, or why nothing could (what needs the arranged
    roadmap to be said waits on ``draft.after``)."""
    match op:
        case SkipConcepts(concept_ids=ids):
            _skip(ids, draft)
        case KnowConcepts(concept_ids=ids):
            _know(ids, draft)
        case AddConcepts(concept_ids=ids):
            _add(ids, draft)
        case ScaleHours(concept_ids=ids, factor=factor):
            _scale(ids, factor, draft)
        case SetWeeks(weeks=weeks):
            _set_weeks(weeks, draft, "edit.weeks")
        case FinishBy():
            _finish_by(op, draft)
        case SetHoursPerWeek(hours=hours):
            _set_pace(hours, draft)
        case ChangeLevel(step=step):
            _level(step, draft)
        case OrderFirst(concept_ids=ids):
            _order_first(ids, draft)
        case OrderBefore(first=first, then=then):
            _order_before(first, then, draft)
        case PreferResources(preference=preference):
            _prefer(preference, draft)
        case MoreProjects():
            _more_projects(draft)


# -- concepts --------------------------------------------------------------------------------------


def _skip(ids: tuple[str, ...], draft: Draft) -> None:
    removed = [draft.concepts.pop(c) for c in ids if c in draft.concepts]
    absent = [c for c in ids if c not in {r.id for r in removed} and c not in draft.known]
    draft.skipped.update(c.id for c in removed)
    if not removed:  # "skip Docker" names Docker's concepts; only those in the roadmap are listed as skipped
        draft.skipped.update(absent)
    draft.ordering = [r for r in draft.ordering if r.first not in ids and r.then not in ids]
    if removed:
        gone = {c.id for c in removed}
        dependents = [c.id for c in draft.concepts.values() if gone & set(c.prerequisites)]
        draft.say("skipped", "edit.skipped", [c.id for c in removed], items=draft.items(removed))
        if dependents:
            draft.say("skipped", "edit.skipped.dependents", dependents, names=draft.names(dependents))
    elif absent:
        draft.say("unchanged", "edit.skipped.absent", absent, names=draft.names(absent))
    else:
        draft.say("unchanged", "edit.known.already", list(ids), names=draft.names(list(ids)))


def _know(ids: tuple[str, ...], draft: Draft) -> None:
    removed = [draft.concepts.pop(c) for c in ids if c in draft.concepts]
    draft.known.update(ids)
    draft.skipped.difference_update(ids)
    draft.ordering = [r for r in draft.ordering if r.first not in ids and r.then not in ids]
    if removed:
        draft.say("known", "edit.known", [c.id for c in removed], items=draft.items(removed))
    else:
        draft.say("known", "edit.known.absent", list(ids), names=draft.names(list(ids)))


def _add(ids: tuple[str, ...], draft: Draft) -> None:
    catalog = draft.catalog
    wanted = [c for c in ids if c not in draft.concepts and c in catalog.concepts]
    if not wanted:
        draft.say("unchanged", "edit.added.present", list(ids), names=draft.names(list(ids)))
        return
    draft.known.difference_update(wanted)
    draft.skipped.difference_update(wanted)
    new = catalog.closure(wanted, stop_at=draft.known | draft.skipped) - draft.concepts.keys()
    factor = LEVEL_HOURS_FACTOR[draft.level]
    for added in sorted(new, key=catalog.rank):
        entry = catalog.concepts[added]
        draft.concepts[added] = entry.to_concept(draft.language, round_hours(entry.hours * factor))
    hours = sum(draft.concepts[c].hours for c in new)
    extra = sorted(new - set(wanted), key=catalog.rank)
    with_text = text("edit.added.with", draft.language, names=draft.names(extra)) if extra else ""
    draft.say("added", "edit.added", sorted(new, key=catalog.rank), names=draft.names(wanted), hours=f"{hours:g}",
              prerequisites=with_text)
    needs_skipped = sorted({p for c in new for p in catalog.concepts[c].prerequisites if p in draft.skipped})
    if needs_skipped:
        draft.say("added", "edit.added.needs_skipped", needs_skipped, names=draft.names(needs_skipped))


def _scale(ids: tuple[str, ...], factor: float, draft: Draft) -> None:
    scaled: list[str] = []
    moved: list[str] = []
    for concept_id in ids:
        concept = draft.concepts.get(concept_id)
        if concept is None:
            continue
        before = concept.hours
        concept.hours = round_hours(before * factor)
        moved.append(concept_id)
        scaled.append(text("edit.retimed.item", draft.language, name=concept.name, before=f"{before:g}",
                           after=f"{concept.hours:g}"))
    if scaled:
        draft.say("retimed", "edit.retimed", moved, items=listed(scaled, draft.language))
    else:
        draft.cannot(draft.names(list(ids)), "edit.absent", names=draft.names(list(ids)))


# -- budget ----------------------------------------------------------------------------------------


def _set_weeks(weeks: int, draft: Draft, key: str, **values: Any) -> None:
    draft.weeks = max(1, min(MAX_WEEKS, weeks))
    draft.weeks_set = True
    asked = draft.weeks

    def finish(roadmap: Roadmap) -> None:
        if roadmap.requested_weeks:
            draft.say("duration", "edit.weeks.over", asked=asked, weeks=roadmap.weeks,
                      hours=roadmap.hours_per_week)
        else:
            draft.say("duration", key, weeks=asked, **values)
    draft.after.append(finish)


def _set_pace(hours: int, draft: Draft) -> None:
    draft.hours_per_week = max(1, min(MAX_HOURS_PER_WEEK, hours))
    pace = draft.hours_per_week

    def finish(roadmap: Roadmap) -> None:
        draft.say("pace", "edit.pace.over" if roadmap.requested_weeks else "edit.pace", hours=pace,
                  weeks=roadmap.weeks, asked=roadmap.requested_weeks)
    draft.after.append(finish)


def _finish_by(op: FinishBy, draft: Draft) -> None:
    today = draft.today
    year = op.year or today.year
    day = _day_of(op, year)
    if op.year is None and day <= today:
        year += 1
        day = _day_of(op, year)
    shown = day.isoformat()
    if day <= today:
        draft.cannot(shown, "edit.date_past", date=shown, today=today.isoformat())
        return
    weeks = max(1, math.ceil((day - today).days / 7 - _EPSILON))
    _set_weeks(weeks, draft, "edit.finish_by", date=shown, today=today.isoformat())


def _day_of(op: FinishBy, year: int) -> date:
    last = calendar.monthrange(year, op.month)[1]
    if op.day is not None:
        return date(year, op.month, min(op.day, last))
    return date(year, op.month, last if op.end_of_month else 1)


def _level(step: int, draft: Draft) -> None:
    index = LEVELS.index(draft.level) + step
    label = text(f"level.{draft.level}", draft.language)
    if not 0 <= index < len(LEVELS):
        draft.cannot(text("edit.level.easier" if step < 0 else "edit.level.harder", draft.language),
                     "edit.level.limit", level=label)
        return
    new = LEVELS[index]
    factor = LEVEL_HOURS_FACTOR[new] / LEVEL_HOURS_FACTOR[draft.level]
    for concept in draft.concepts.values():
        concept.hours = round_hours(concept.hours * factor)
    draft.say("level", "edit.level", before=label, after=text(f"level.{new}", draft.language),
              percent=f"{(factor - 1) * 100:+.0f}")
    draft.level = new


# -- order -----------------------------------------------------------------------------------------


def _absent(ids: Sequence[str], draft: Draft) -> bool:
    present = [c for c in ids if c in draft.concepts]
    if present:
        return False
    draft.cannot(draft.names(list(ids)), "edit.order.absent", names=draft.names(list(ids)))
    return True


def _order_first(ids: tuple[str, ...], draft: Draft) -> None:
    if _absent(ids, draft):
        return
    present = [c for c in ids if c in draft.concepts]
    draft.ordering = [r for r in draft.ordering if r.first not in present] + [OrderRule(first=c) for c in present]

    def finish(roadmap: Roadmap) -> None:
        week = _first_week(roadmap, present)
        before = _before_in_order(roadmap, present)
        draft.say("order", "edit.order.first", present, names=draft.names(present), week=week)
        if before:
            draft.say("order", "edit.order.first.after", before, names=draft.names(before))
    draft.after.append(finish)


def _order_before(first: tuple[str, ...], then: tuple[str, ...], draft: Draft) -> None:
    if _absent(first, draft) or _absent(then, draft):
        return
    firsts = [c for c in first if c in draft.concepts]
    thens = [c for c in then if c in draft.concepts]
    blocked = [(t, f) for f in firsts for t in thens if t in ancestors(f, draft.concepts)]
    if blocked:  # what comes first is needed by the other
        needs = sorted({t for t, _ in blocked}, key=thens.index)
        draft.cannot(draft.names(firsts), "edit.order.impossible", first=draft.names(firsts),
                     then=draft.names(needs))
        thens = [t for t in thens if t not in needs]
        if not thens:
            return
    rules = [OrderRule(first=f, then=t) for f in firsts for t in thens]
    draft.ordering = [r for r in draft.ordering if (r.then, r.first) not in {(x.first, x.then) for x in rules}]
    draft.ordering += [r for r in rules if r not in draft.ordering]
    draft.say("order", "edit.order.before", [*firsts, *thens], first=draft.names(firsts), then=draft.names(thens))


def _first_week(roadmap: Roadmap, ids: Sequence[str]) -> int:
    weeks = [w.week for w in roadmap.schedule if set(ids) & set(w.concept_ids)]
    return min(weeks) if weeks else 0


def _before_in_order(roadmap: Roadmap, ids: Sequence[str]) -> list[str]:
    order = roadmap.concept_ids()
    first = min((order.index(c) for c in ids if c in order), default=0)
    return order[:first]


# -- resources and projects ------------------------------------------------------------------------


def _prefer(preference: ResourcePreference, draft: Draft) -> None:
    exclusive = {"reading", "video", "interactive"}
    kept = [p for p in draft.preferences if not (preference in exclusive and p in exclusive)]
    if preference == "video":
        kept = [p for p in kept if p != "no_video"]
    if preference == "no_video":
        kept = [p for p in kept if p != "video"]
    draft.preferences = [p for p in kept if p != preference] + [preference]

    def finish(roadmap: Roadmap) -> None:
        bare = [c.id for c in roadmap.concepts() if not has_preferred(c, preference, draft.catalog, draft.language)]
        removed = _removed_resources(draft.before_resources, roadmap)
        draft.say("resources", f"edit.resources.{preference}" if removed else "edit.resources.nothing",
                  removed=removed)
        if bare and preference in PREFERRED:
            sort = text(f"edit.resources.kind.{preference}", draft.language)
            draft.say("resources", "edit.resources.none_left", bare, count=len(bare), sort=sort,
                      names=draft.names(bare))
    draft.after.append(finish)


def _removed_resources(before: dict[str, set[str]], roadmap: Roadmap) -> int:
    return sum(len(before.get(c.id, set()) - {r.url for r in c.resources}) for c in roadmap.concepts())


def _more_projects(draft: Draft) -> None:
    if draft.projects_per_stage >= MAX_PROJECTS_PER_STAGE:
        draft.cannot(text("edit.projects.name", draft.language), "edit.projects.limit")
        return
    draft.projects_per_stage += 1

    def finish(roadmap: Roadmap) -> None:
        count = len(roadmap.projects())
        if count > draft.projects_before:
            draft.say("projects", "edit.projects", before=draft.projects_before, after=count)
        else:
            draft.cannot(text("edit.projects.name", draft.language), "edit.projects.limit")
    draft.after.append(finish)
