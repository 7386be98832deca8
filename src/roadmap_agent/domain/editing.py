"""Apply review feedback to a roadmap and say, in the roadmap's language, what changed and what did not.

``read_feedback`` (feedback.py) turns "skip Docker, make it 8 weeks" / "跳过 Docker" into operations and the parts
it could not read; this module applies the operations and returns the roadmap with an ``EditReport``: one
``Change`` per applied request, one ``NotUnderstood`` (with a hint of what can be said) per part that was not
applied, and the diff against the previous draft.

- skip X: X leaves the roadmap and is listed in ``skipped`` (not ``assumed_known``: the learner may want it
  later); concepts that build on X stay, and the change says so. "I already know X": ``assumed_known``.
- add X brings its missing prerequisites; more/less time scales hours; weeks, hours a week or a date to finish
  by change the budget, and the plan is re-fitted (``planning.arrange``: the core first, stretch topics while
  they fit, the rest optional, an over-budget warning with ``requested_weeks`` when the core does not fit).
- easier/harder moves the level one step and scales the hours as the planner does for that level.
- "start with X" / "X before Y" become ordering rules: while arranging, X is made a prerequisite of what should
  follow it (only where no prerequisite says otherwise; when one does, the report says why), and the rules are
  kept in ``Roadmap.ordering`` so later edits keep the order.
- resource preferences ("prefer reading", "no videos", "free only") filter each concept's catalog resources;
  a concept with no resource of the preferred kind keeps what it has, and the report names it.
- "more projects" splits stages so that each part ends with its own project (``projects_per_stage``).

Everything a review asked for lives on the roadmap (``skipped``, ``level``, ``ordering``,
``resource_preferences``, ``projects_per_stage``), so every edit starts from the previous draft and keeps it.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from roadmap_agent.domain.catalog import Catalog, resources_for
from roadmap_agent.domain.changes import Change, ChangeKind, EditReport, NotUnderstood
from roadmap_agent.domain.diff import diff_roadmaps
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
    Unclear,
)
from roadmap_agent.domain.feedback import read_feedback
from roadmap_agent.domain.messages import text
from roadmap_agent.domain.models import (
    LEVELS,
    MAX_HOURS_PER_WEEK,
    MAX_WEEKS,
    Concept,
    Language,
    Level,
    OrderRule,
    Resource,
    ResourceKind,
    ResourcePreference,
    Roadmap,
    Stage,
)
from roadmap_agent.domain.planning import LEVEL_HOURS_FACTOR, Plan, arrange, complete_roadmap, plan_of
from roadmap_agent.domain.schedule import round_hours
from roadmap_agent.domain.structure import PROJECT_MIN_HOURS, Unit, attach_projects, build_stages, module_key, reachable

MAX_PROJECTS_PER_STAGE = 3
MAX_NAMED = 6  # names listed in one sentence before "..."
READING: frozenset[ResourceKind] = frozenset({"docs", "book", "article", "tutorial"})
INTERACTIVE: frozenset[ResourceKind] = frozenset({"practice", "course"})
PREFERRED: dict[str, frozenset[ResourceKind]] = {"reading": READING, "video": frozenset({"video"}),
                                                 "interactive": INTERACTIVE}
# The catalog links free material; these hosts sell theirs (a book to buy, a paid platform, a paid certificate).
PAID_HOSTS = frozenset({"dataintensive.net", "experimentguide.com", "www.coursera.org", "www.tryexponent.com",
                        "interviewing.io"})
_EPSILON = 1e-6


@dataclass
class _Draft:
    concepts: dict[str, Concept]
    known: set[str]
    skipped: set[str]
    hours_per_week: int
    weeks: int
    level: Level
    ordering: list[OrderRule]
    preferences: list[ResourcePreference]
    projects_per_stage: int
    language: Language
    catalog: Catalog
    today: date
    applied: list[Change] = field(default_factory=list)
    not_understood: list[NotUnderstood] = field(default_factory=list)
    weeks_set: bool = False
    level_start: Level = "beginner"
    level_given: bool = False  # the roadmap carries a level an earlier edit set
    projects_before: int = 0
    before_resources: dict[str, set[str]] = field(default_factory=dict)
    after: list[Any] = field(default_factory=list)  # messages that need the arranged roadmap (order, budget)

    def say(self, kind: ChangeKind, key: str, ids: Sequence[str] = (), **values: Any) -> None:
        self.applied.append(Change(kind=kind, message=text(key, self.language, **values), concept_ids=list(ids)))

    def cannot(self, said: str, key: str, **values: Any) -> None:
        self.not_understood.append(NotUnderstood(text=said, message=text(key, self.language, **values)))

    def name(self, concept_id: str) -> str:
        if concept_id in self.concepts:
            return self.concepts[concept_id].name
        entry = self.catalog.concepts.get(concept_id)
        return entry.name.get(self.language) if entry else concept_id

    def names(self, concept_ids: Sequence[str]) -> str:
        names = [self.name(c) for c in concept_ids]
        shown = text("list.sep", self.language).join(names[:MAX_NAMED])
        return shown + ("..." if len(names) > MAX_NAMED else "")

    def items(self, concepts: Sequence[Concept]) -> str:
        shown = [text("name_hours", self.language, name=c.name, hours=f"{c.hours:g}") for c in concepts]
        return text("list.sep", self.language).join(shown[:MAX_NAMED]) + ("..." if len(shown) > MAX_NAMED else "")


def edit_roadmap(roadmap: Roadmap, feedback: str, catalog: Catalog, domains: list[str], level: str = "beginner",
                 *, today: date | None = None) -> tuple[Roadmap, EditReport]:
    """The roadmap with ``feedback`` applied, and the report of what changed and what was not understood."""
    reading = read_feedback(feedback, catalog)
    return apply_edits(roadmap, reading.ops, catalog, domains, level, unclear=reading.unclear, today=today)


def apply_edits(roadmap: Roadmap, ops: Sequence[EditOp], catalog: Catalog, domains: list[str],
                level: str = "beginner", *, unclear: Sequence[Unclear] = (),
                today: date | None = None) -> tuple[Roadmap, EditReport]:
    given: Level = next((v for v in LEVELS if v == level), "beginner")
    start_level: Level = roadmap.level if roadmap.level is not None else given
    base = plan_of(roadmap, domains, start_level)
    draft = _Draft(concepts={c.id: _with_catalog_prerequisites(c, catalog) for c in roadmap.concepts()},
                   known=set(roadmap.assumed_known), skipped=set(roadmap.skipped),
                   hours_per_week=roadmap.hours_per_week, weeks=base.weeks, level=start_level,
                   ordering=list(roadmap.ordering), preferences=list(roadmap.resource_preferences),
                   projects_per_stage=roadmap.projects_per_stage, language=roadmap.language, catalog=catalog,
                   today=today or date.today(), level_start=start_level, level_given=roadmap.level is not None,
                   projects_before=len(roadmap.projects()))
    for op in ops:
        _apply(op, draft)
    for part in unclear:
        key = "edit.not_found" if part.reason == "not_found" else "edit.not_understood"
        draft.cannot(part.text, key, text=part.text)
    if not ops and not unclear:
        draft.cannot("", "edit.nothing")
    plan = replace(base, concepts=list(draft.concepts.values()), assumed_known=sorted(draft.known),
                   hours_per_week=draft.hours_per_week, weeks=draft.weeks, level=draft.level,
                   weeks_stated=base.weeks_stated or draft.weeks_set)
    edited = _arrange(plan, draft)
    for finish in draft.after:
        finish(edited)
    return edited, EditReport(applied=draft.applied, not_understood=draft.not_understood,
                              diff=diff_roadmaps(roadmap, edited))


def keep_review_state(source: Roadmap, target: Roadmap) -> Roadmap:
    """``target`` (rebuilt by an auto-fix) with what review asked for on ``source``: skipped topics, level, order,
    resource preferences and projects per stage."""
    return target.model_copy(update={"skipped": list(source.skipped), "level": source.level,
                                     "ordering": list(source.ordering),
                                     "resource_preferences": list(source.resource_preferences),
                                     "projects_per_stage": source.projects_per_stage})


def _with_catalog_prerequisites(concept: Concept, catalog: Catalog) -> Concept:
    """A copy with its real prerequisites: the catalog's (an earlier edit dropped the skipped ones)."""
    copy = concept.model_copy(deep=True)
    if concept.id in catalog.concepts:
        copy.prerequisites = list(catalog.concepts[concept.id].prerequisites)
    return copy


def _apply(op: EditOp, draft: _Draft) -> None:
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


def _skip(ids: tuple[str, ...], draft: _Draft) -> None:
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


def _know(ids: tuple[str, ...], draft: _Draft) -> None:
    removed = [draft.concepts.pop(c) for c in ids if c in draft.concepts]
    draft.known.update(ids)
    draft.skipped.difference_update(ids)
    draft.ordering = [r for r in draft.ordering if r.first not in ids and r.then not in ids]
    if removed:
        draft.say("known", "edit.known", [c.id for c in removed], items=draft.items(removed))
    else:
        draft.say("known", "edit.known.absent", list(ids), names=draft.names(list(ids)))


def _add(ids: tuple[str, ...], draft: _Draft) -> None:
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


def _scale(ids: tuple[str, ...], factor: float, draft: _Draft) -> None:
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
        shown = text("list.sep", draft.language).join(scaled[:MAX_NAMED]) + ("..." if len(scaled) > MAX_NAMED else "")
        draft.say("retimed", "edit.retimed", moved, items=shown)
    else:
        draft.cannot(draft.names(list(ids)), "edit.absent", names=draft.names(list(ids)))


# -- budget ----------------------------------------------------------------------------------------


def _set_weeks(weeks: int, draft: _Draft, key: str, **values: Any) -> None:
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


def _set_pace(hours: int, draft: _Draft) -> None:
    draft.hours_per_week = max(1, min(MAX_HOURS_PER_WEEK, hours))
    pace = draft.hours_per_week

    def finish(roadmap: Roadmap) -> None:
        draft.say("pace", "edit.pace.over" if roadmap.requested_weeks else "edit.pace", hours=pace,
                  weeks=roadmap.weeks, asked=roadmap.requested_weeks)
    draft.after.append(finish)


def _finish_by(op: FinishBy, draft: _Draft) -> None:
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


def _level(step: int, draft: _Draft) -> None:
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


def _ancestors(concept_id: str, concepts: dict[str, Concept]) -> set[str]:
    """What ``concept_id`` needs in the roadmap, transitively."""
    seen: set[str] = set()
    pending = list(concepts[concept_id].prerequisites) if concept_id in concepts else []
    while pending:
        current = pending.pop()
        if current in seen or current not in concepts:
            continue
        seen.add(current)
        pending += concepts[current].prerequisites
    return seen


def _absent(ids: Sequence[str], draft: _Draft) -> bool:
    present = [c for c in ids if c in draft.concepts]
    if present:
        return False
    draft.cannot(draft.names(list(ids)), "edit.order.absent", names=draft.names(list(ids)))
    return True


def _order_first(ids: tuple[str, ...], draft: _Draft) -> None:
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


def _order_before(first: tuple[str, ...], then: tuple[str, ...], draft: _Draft) -> None:
    if _absent(first, draft) or _absent(then, draft):
        return
    firsts = [c for c in first if c in draft.concepts]
    thens = [c for c in then if c in draft.concepts]
    blocked = [(t, f) for f in firsts for t in thens if t in _ancestors(f, draft.concepts)]
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


def _order_edges(concepts: dict[str, Concept], rules: list[OrderRule], catalog: Catalog) -> dict[str, set[str]]:
    """The prerequisites to add while arranging so that ``rules`` hold (the newest rule first), where no real
    prerequisite, of a concept or of its module, says otherwise: modules are ordered as units."""
    needs = {c.id: set(c.prerequisites) & concepts.keys() for c in concepts.values()}
    module_of = {c: module_key(c, catalog) for c in concepts}
    module_needs: dict[str, set[str]] = {m: set() for m in module_of.values()}
    for concept_id, wanted in needs.items():
        module_needs[module_of[concept_id]] |= {module_of[p] for p in wanted} - {module_of[concept_id]}

    edges: dict[str, set[str]] = {}
    firsts = {r.first for r in rules if r.then is None}
    for rule in reversed(rules):
        targets = [rule.then] if rule.then is not None else [c for c in concepts if c not in firsts]
        for target in targets:
            if target == rule.first or rule.first in needs[target]:
                continue
            if target in reachable(needs[rule.first], needs):
                continue  # it needs the target: the target stays first
            source_module, target_module = module_of[rule.first], module_of[target]
            if source_module != target_module and target_module in reachable({source_module}, module_needs):
                continue  # its module builds on the target's module
            needs[target].add(rule.first)
            edges.setdefault(target, set()).add(rule.first)
            if source_module != target_module:
                module_needs[target_module].add(source_module)
    return edges


def _first_week(roadmap: Roadmap, ids: Sequence[str]) -> int:
    weeks = [w.week for w in roadmap.schedule if set(ids) & set(w.concept_ids)]
    return min(weeks) if weeks else 0


def _before_in_order(roadmap: Roadmap, ids: Sequence[str]) -> list[str]:
    order = roadmap.concept_ids()
    first = min((order.index(c) for c in ids if c in order), default=0)
    return order[:first]


# -- resources and projects ------------------------------------------------------------------------


def _prefer(preference: ResourcePreference, draft: _Draft) -> None:
    exclusive = {"reading", "video", "interactive"}
    kept = [p for p in draft.preferences if not (preference in exclusive and p in exclusive)]
    if preference == "video":
        kept = [p for p in kept if p != "no_video"]
    if preference == "no_video":
        kept = [p for p in kept if p != "video"]
    draft.preferences = [p for p in kept if p != preference] + [preference]

    def finish(roadmap: Roadmap) -> None:
        bare = [c.id for c in roadmap.concepts() if not _has_preferred(c, preference, draft.catalog, draft.language)]
        removed = _removed_resources(draft.before_resources, roadmap)
        draft.say("resources", f"edit.resources.{preference}" if removed else "edit.resources.nothing",
                  removed=removed)
        if bare and preference in PREFERRED:
            sort = text(f"edit.resources.kind.{preference}", draft.language)
            draft.say("resources", "edit.resources.none_left", bare, count=len(bare), sort=sort,
                      names=draft.names(bare))
    draft.after.append(finish)


def _base_resources(concept: Concept, catalog: Catalog, language: Language) -> list[Resource]:
    entry = catalog.concepts.get(concept.id)
    return resources_for(entry.resources, language) if entry else list(concept.resources)


def _has_preferred(concept: Concept, preference: ResourcePreference, catalog: Catalog, language: Language) -> bool:
    kinds = PREFERRED.get(preference)
    return kinds is None or any(r.kind in kinds for r in _base_resources(concept, catalog, language))


def filter_resources(resources: list[Resource], preferences: Sequence[ResourcePreference]) -> list[Resource]:
    """``resources`` as the preferences ask, never leaving none when the concept has some."""
    chosen = list(resources)
    for preference in preferences:
        if preference == "no_video":
            kept = [r for r in chosen if r.kind != "video"]
        elif preference == "free":
            kept = [r for r in chosen if r.url.split("/")[2:3] and r.url.split("/")[2] not in PAID_HOSTS]
        else:
            kept = [r for r in chosen if r.kind in PREFERRED[preference]]
        chosen = kept or chosen
    return chosen


def _removed_resources(before: dict[str, set[str]], roadmap: Roadmap) -> int:
    return sum(len(before.get(c.id, set()) - {r.url for r in c.resources}) for c in roadmap.concepts())


def _more_projects(draft: _Draft) -> None:
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


def _split(roadmap: Roadmap, plan: Plan, parts: int, catalog: Catalog) -> Roadmap:
    """Each core stage of several modules split in up to ``parts`` stages, each with its own project."""
    core = [s for s in roadmap.stages if not s.optional]
    optional = [c for s in roadmap.stages if s.optional for m in s.modules for c in m.concepts]
    groups: list[list[Unit]] = []
    for stage in core:
        units = [Unit(keys=m.id.split(".", 1)[1].split("+") if "." in m.id else [m.id], concepts=m.concepts)
                 for m in stage.modules]
        groups += _chunks(units, parts)
    if len(groups) == len(core):
        return roadmap
    stages = build_stages(groups, catalog, plan.language)
    attach_projects(stages, set(plan.assumed_known), catalog, plan.domains, plan.language)
    if plan.weeks_stated:
        _shrink_projects(stages, plan.hours_per_week * plan.weeks, roadmap.total_hours)
    return complete_roadmap(plan, stages, optional, catalog)


def _chunks(units: list[Unit], parts: int) -> list[list[Unit]]:
    count = min(parts, len(units))
    if count <= 1:
        return [units]
    target = sum(u.hours for u in units) / count
    chunks: list[list[Unit]] = [[]]
    filled = 0.0
    for position, unit in enumerate(units):
        chunks[-1].append(unit)
        filled += unit.hours
        left = len(units) - position - 1
        if len(chunks) < count and left >= count - len(chunks) and filled >= target * len(chunks) * 0.9:
            chunks.append([])
    return [c for c in chunks if c]


def _shrink_projects(stages: list[Stage], budget: float, fitted: float) -> None:
    """More projects of about the same total: when the split pushes a plan that fitted over budget, the projects
    shrink to what is left (at least PROJECT_MIN_HOURS each)."""
    projects = [s.project for s in stages if s.project is not None]
    concepts = sum(c.hours for s in stages for m in s.modules for c in m.concepts)
    total = concepts + sum(p.hours for p in projects)
    if not projects or total <= budget + _EPSILON or fitted > budget + _EPSILON:
        return
    factor = max(0.0, budget - concepts) / sum(p.hours for p in projects)
    for project in projects:
        project.hours = max(PROJECT_MIN_HOURS, math.floor(project.hours * factor * 2) / 2)


# -- arranging -------------------------------------------------------------------------------------


def _arrange(plan: Plan, draft: _Draft) -> Roadmap:
    catalog = draft.catalog
    concepts = {c.id: c for c in plan.concepts}
    real = {c.id: [p for p in c.prerequisites if p in concepts or p not in draft.skipped] for c in plan.concepts}
    for concept in plan.concepts:
        concept.prerequisites = list(real[concept.id])
    draft.ordering = [r for r in draft.ordering if r.first in concepts and (r.then is None or r.then in concepts)]
    for target, firsts in _order_edges(concepts, draft.ordering, catalog).items():
        concepts[target].prerequisites += sorted(firsts - set(concepts[target].prerequisites))
    for rule in draft.ordering:  # what the learner put first is wanted: it and what it needs are scheduled
        for concept_id in {rule.first, *_ancestors(rule.first, concepts)}:
            concepts[concept_id].core = True
    draft.before_resources = {c.id: {r.url for r in c.resources} for c in plan.concepts}
    edited = arrange(plan, catalog)
    if draft.projects_per_stage > 1:
        edited = _split(edited, plan, draft.projects_per_stage, catalog)
    for concept in edited.concepts():
        concept.prerequisites = list(real.get(concept.id, concept.prerequisites))
        concept.resources = filter_resources(_base_resources(concept, catalog, draft.language), draft.preferences)
    edited.skipped = sorted(draft.skipped - set(edited.concept_ids()) - draft.known)
    edited.level = draft.level if draft.level_given or draft.level != draft.level_start else None
    edited.ordering = draft.ordering
    edited.resource_preferences = draft.preferences
    edited.projects_per_stage = draft.projects_per_stage
    return edited
