"""Curriculum design: from an analysed intent to a staged, scheduled roadmap that keeps its budget.

``design_curriculum`` selects concepts (selection.py: the core the goal needs, stretch topics around it) and
``arrange`` turns any set of concepts into a roadmap: the core first, stretch topics scheduled while the budget
``hours_per_week x weeks`` allows, the rest kept as optional concepts after the core and outside the schedule;
modules in teaching order, stages that each end with a project (structure.py), the week-by-week schedule, and
texts that all state one duration. When even the core does not fit, the roadmap takes the weeks the core needs
and a warning says so, with the hours per week that would fit the asked weeks. Editing and the validator's
auto-fix reuse ``arrange``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from roadmap_agent.domain.catalog import Catalog
from roadmap_agent.domain.intent import analyze_intent
from roadmap_agent.domain.messages import catalogue, join, listed, text
from roadmap_agent.domain.models import (
    DIFFICULTY_RANK,
    Concept,
    Intent,
    Language,
    LearnerRequest,
    Project,
    Roadmap,
    Stage,
)
from roadmap_agent.domain.schedule import build_schedule, round_hours, weeks_needed
from roadmap_agent.domain.selection import in_service_of_a_role, option_domains, select
from roadmap_agent.domain.structure import (
    PROJECT_MIN_HOURS,
    PROJECT_SHARE,
    attach_projects,
    build_stages,
    module_units,
    order_concepts,
    partition,
)

LEVEL_HOURS_FACTOR = {"beginner": 1.0, "intermediate": 0.85, "advanced": 0.7}
MAX_OPTIONAL = 12
MAX_TRIM_SHOWN = 6  # past that, fewer topics is not the answer: more weeks or hours are
OVER_BUDGET_PREFIX: dict[Language, str] = {"en": "Over budget:", "zh": "超出时间预算："}
_EPSILON = 1e-6

__all__ = [
    "OVER_BUDGET_PREFIX",
    "Plan",
    "arrange",
    "complete_roadmap",
    "design_curriculum",
    "order_concepts",
    "plan_of",
    "plan_request",
    "trim_candidates",
]


@dataclass(frozen=True)
class Plan:
    """Everything ``arrange`` needs; a roadmap can be turned back into one with ``plan_of``."""

    roadmap_id: str
    concepts: list[Concept]  # core (``core=True``) and stretch candidates, in any order
    assumed_known: list[str]
    domains: list[str]
    hours_per_week: int
    weeks: int
    language: Language
    level: str = "beginner"
    weeks_stated: bool = True  # False: take the weeks the core needs and say so
    notes: list[str] = field(default_factory=list)  # kept as they are (a default stack)
    warnings: list[str] = field(default_factory=list)  # kept as they are (what the catalog does not cover)


def plan_request(request: LearnerRequest, catalog: Catalog, roadmap_id: str) -> tuple[Intent, Roadmap]:
    """The offline planner end to end (raises ``OutOfScope`` for a goal the catalog does not cover)."""
    intent = analyze_intent(request, catalog)
    return intent, design_curriculum(intent, catalog, roadmap_id)


def design_curriculum(intent: Intent, catalog: Catalog, roadmap_id: str) -> Roadmap:
    selection = select(intent, catalog)
    factor = LEVEL_HOURS_FACTOR[intent.level]

    def concept(concept_id: str, core: bool) -> Concept:
        entry = catalog.concepts[concept_id]
        return entry.to_concept(intent.language, round_hours(entry.hours * factor), core=core)

    concepts = [concept(c, True) for c in sorted(selection.core, key=catalog.rank)]
    # stretch starts unscheduled (optional); arrange schedules what fits
    concepts += [concept(c, False).model_copy(update={"optional": True}) for c in selection.stretch]
    plan = Plan(roadmap_id=roadmap_id, concepts=concepts, assumed_known=sorted(selection.known),
                domains=intent.domains, hours_per_week=intent.hours_per_week, weeks=intent.weeks,
                language=intent.language, level=intent.level, weeks_stated=intent.weeks_stated,
                notes=selection.notes, warnings=selection.warnings)
    return arrange(plan, catalog)


def plan_of(roadmap: Roadmap, domains: list[str], level: str = "beginner") -> Plan:
    generated = (*_prefixes("duration_picked"), *OVER_BUDGET_PREFIX.values())
    concepts = roadmap.concepts()  # stretch priority: what was scheduled, then the optional topics, in order
    ordered = [c for c in concepts if c.core] + [c for c in concepts if not c.core and not c.optional]
    ordered += [c for c in concepts if c.optional]
    return Plan(roadmap_id=roadmap.id, concepts=[c.model_copy(deep=True) for c in ordered],
                assumed_known=list(roadmap.assumed_known), domains=domains, hours_per_week=roadmap.hours_per_week,
                weeks=roadmap.requested_weeks or roadmap.weeks, language=roadmap.language, level=level,
                weeks_stated=not any(n.startswith(generated) for n in roadmap.notes),
                notes=[n for n in roadmap.notes if not n.startswith(generated)],
                warnings=[w for w in roadmap.warnings if not w.startswith(generated)])


def _prefixes(key: str) -> tuple[str, ...]:
    return tuple(v.split("{", 1)[0] for v in catalogue()[key].values())


# -- fitting the budget ----------------------------------------------------------------------------


def arrange(plan: Plan, catalog: Catalog) -> Roadmap:
    known = set(plan.assumed_known)
    plan = _core_closed(plan)
    by_id = {c.id: c for c in plan.concepts}
    core = [c for c in plan.concepts if c.core]
    stretch = [c for c in plan.concepts if not c.core]  # most relevant first (selection.py)
    budget = plan.hours_per_week * plan.weeks if plan.weeks_stated else 0.0
    chosen = _fill(core, stretch, known, budget)
    while True:
        stages = _core_stages([by_id[c] for c in chosen], known, catalog, plan)
        _fit_projects(stages, budget)
        total = _hours(stages)
        added = [c for c in chosen if not by_id[c].core]
        if total <= budget + _EPSILON or not added:
            break
        chosen = _without(chosen, added[-1], by_id)
    optional = _optional([c for c in stretch if c.id not in chosen], set(chosen) | known)
    return complete_roadmap(plan, stages, optional, catalog)


def _core_closed(plan: Plan) -> Plan:
    """What a core concept needs is core too (an edit may add a core topic that needs a stretch one)."""
    by_id = {c.id: c for c in plan.concepts}
    needed: set[str] = set()
    pending = [c.id for c in plan.concepts if c.core]
    while pending:
        for prerequisite in by_id[pending.pop()].prerequisites:
            if prerequisite in by_id and prerequisite not in needed and not by_id[prerequisite].core:
                needed.add(prerequisite)
                pending.append(prerequisite)
    if not needed:
        return plan
    concepts = [c.model_copy(update={"core": True}) if c.id in needed else c for c in plan.concepts]
    return replace(plan, concepts=concepts)


def _fill(core: list[Concept], stretch: list[Concept], known: set[str], budget: float) -> list[str]:
    """Core ids, then stretch ids (in order) while the estimate with projects stays within ``budget``."""
    chosen = [c.id for c in core]
    have = set(chosen) | known
    by_id = {c.id: c for c in stretch}
    spent = sum(c.hours for c in core) * (1 + PROJECT_SHARE)
    for concept in stretch:
        if concept.id in have:
            continue
        unit = _with_missing_prerequisites(concept.id, by_id, have)
        cost = sum(by_id[c].hours for c in unit) * (1 + PROJECT_SHARE)
        if spent + cost <= budget:  # a topic comes with what it needs, or not at all
            chosen += unit
            have |= set(unit)
            spent += cost
    return chosen


def _with_missing_prerequisites(concept_id: str, by_id: dict[str, Concept], have: set[str]) -> list[str]:
    unit: list[str] = []

    def visit(current: str) -> None:
        if current in unit or current in have or current not in by_id:
            return
        for prerequisite in by_id[current].prerequisites:
            visit(prerequisite)
        unit.append(current)

    visit(concept_id)
    return unit


def _without(chosen: list[str], concept_id: str, by_id: dict[str, Concept]) -> list[str]:
    """``chosen`` less ``concept_id`` and every stretch concept that needs it."""
    dropped = {concept_id}
    for other in chosen:
        if not by_id[other].core and dropped & set(by_id[other].prerequisites):
            dropped.add(other)
    return [c for c in chosen if c not in dropped]


def _optional(rest: list[Concept], have: set[str]) -> list[Concept]:
    """Stretch topics that are not scheduled: every one the roadmap scheduled before (a shorter duration never
    hides a topic), then the most relevant others up to MAX_OPTIONAL."""
    was_scheduled = [c for c in rest if not c.optional]
    picked: list[Concept] = []
    for concept in [*was_scheduled, *(c for c in rest if c.optional)]:
        if len(picked) >= MAX_OPTIONAL and concept.optional:
            break
        if all(p in have for p in concept.prerequisites):
            picked.append(concept)
            have = have | {concept.id}
    return [c for c in rest if c in picked]


def _core_stages(concepts: list[Concept], known: set[str], catalog: Catalog, plan: Plan) -> list[Stage]:
    fresh = [c.model_copy(update={"optional": False}) for c in concepts]
    groups = partition(module_units(fresh, catalog))
    stages = build_stages(groups, catalog, plan.language)
    attach_projects(stages, known, catalog, plan.domains, plan.language)
    return stages


def _fit_projects(stages: list[Stage], budget: float) -> None:
    """When the concepts fit the budget but the projects push it over, the projects get what is left (at least
    PROJECT_MIN_HOURS each): a smaller build, not a longer plan."""
    projects = [s.project for s in stages if s.project is not None]
    concepts = sum(c.hours for s in stages for m in s.modules for c in m.concepts)
    room = budget - concepts
    if not projects or concepts + sum(p.hours for p in projects) <= budget + _EPSILON:
        return
    if room < PROJECT_MIN_HOURS * len(projects) - _EPSILON:
        return  # even the smallest projects do not fit: the plan takes longer and says so
    factor = room / sum(p.hours for p in projects)
    for project in projects:
        project.hours = max(PROJECT_MIN_HOURS, math.floor(project.hours * factor * 2) / 2)


def _hours(stages: Sequence[Stage]) -> float:
    concepts = sum(c.hours for s in stages for m in s.modules for c in m.concepts)
    return round(concepts + sum(s.project.hours for s in stages if s.project), 2)


def _schedule_items(stages: Sequence[Stage]) -> list[Concept | Project]:
    items: list[Concept | Project] = []
    for stage in stages:
        items += [c for m in stage.modules for c in m.concepts]
        if stage.project is not None:
            items.append(stage.project)
    return items


def complete_roadmap(plan: Plan, stages: list[Stage], optional: list[Concept], catalog: Catalog) -> Roadmap:
    """The roadmap of core ``stages`` (with their projects) and ``optional`` concepts: duration, schedule and
    texts that agree (a model's draft is completed here too)."""
    total = _hours(stages)
    needed = weeks_needed(total, plan.hours_per_week)
    over = plan.weeks_stated and total > plan.hours_per_week * plan.weeks + _EPSILON
    weeks = plan.weeks if plan.weeks_stated and not over else needed
    if optional:
        extra = [c.model_copy(update={"optional": True, "core": False}) for c in optional]
        stages += build_stages([module_units(extra, catalog)], catalog, plan.language, start=len(stages) + 1,
                               optional=True, seen_names={m.name for s in stages for m in s.modules})
    notes = list(plan.notes)
    if not plan.weeks_stated:
        notes.append(text("duration_picked", plan.language, weeks=weeks, hours=plan.hours_per_week))
    warnings = list(plan.warnings)
    if over:
        warnings.append(_over_budget(stages, total, plan, weeks))
    roadmap = Roadmap(
        id=plan.roadmap_id, title=_title(plan, catalog, weeks), summary="", language=plan.language,
        total_hours=total, weeks=weeks, hours_per_week=plan.hours_per_week, warnings=warnings, notes=notes,
        assumed_known=sorted(set(plan.assumed_known)), requested_weeks=plan.weeks if over else None,
        stages=stages, schedule=build_schedule(_schedule_items([s for s in stages if not s.optional]),
                                               plan.hours_per_week),
    )
    roadmap.summary = _summary(roadmap, plan, catalog)
    return roadmap


def _over_budget(stages: list[Stage], total: float, plan: Plan, weeks: int) -> str:
    core = [c for s in stages if not s.optional for m in s.modules for c in m.concepts]
    budget = plan.hours_per_week * plan.weeks
    trim = trim_candidates(core, total - budget)[:MAX_TRIM_SHOWN]
    per_week = -(-int(total + 0.999) // plan.weeks)
    values = {"total": f"{total:g}", "hours": plan.hours_per_week, "asked": plan.weeks, "budget": budget,
              "weeks": weeks, "per_week": per_week}
    if sum(c.hours for c in trim) < total - budget:  # naming topics that would not be enough would mislead
        return text("over_budget.no_trim", plan.language, **values)
    trim_text = text("list.sep", plan.language).join(text("name_hours", plan.language, name=c.name,
                                                          hours=f"{c.hours:g}") for c in trim)
    return text("over_budget", plan.language, trim=trim_text, **values)


def trim_candidates(concepts: Sequence[Concept], excess: float) -> list[Concept]:
    """Concepts to drop until ``excess`` hours are covered: each time one that nothing left needs, hardest and
    latest first (dropping it may free its prerequisites, which are then candidates too)."""
    remaining = list(concepts)
    chosen: list[Concept] = []
    covered = 0.0
    while covered < excess and remaining:
        needed = {p for c in remaining for p in c.prerequisites}
        leaves = [c for c in remaining if c.id not in needed]
        if not leaves:
            break
        pick = min(leaves, key=lambda c: (-DIFFICULTY_RANK[c.difficulty], -remaining.index(c)))
        chosen.append(pick)
        covered += pick.hours
        remaining.remove(pick)
    return chosen


# -- texts -----------------------------------------------------------------------------------------


def title_names(domains: Iterable[str], catalog: Catalog, language: Language) -> str:
    """"Backend development with Go", "Vue + Docker": roles with their chosen options, then the rest."""
    domain_list = [d for d in domains if d in catalog.domains]
    serving = in_service_of_a_role(domain_list, catalog)
    options = option_domains(domain_list, catalog) | serving
    first_role = next((d for d in domain_list if catalog.domains[d].kind == "role"), None)
    parts: list[str] = []
    for domain_id in domain_list:
        if domain_id in options:
            continue
        domain = catalog.domains[domain_id]
        with_options = [catalog.domains[o].name.get(language) for c in domain.choices for o in c.options
                        if o in domain_list]
        if domain_id == first_role:
            with_options += [catalog.domains[t].name.get(language) for t in domain_list
                             if t in serving and catalog.domains[t].name.get(language) not in with_options]
        name = domain.name.get(language)
        parts.append(text("title.with", language, role=name, technologies=join(with_options, language))
                     if with_options else name)
    return text("title.join", language).join(parts)


def _title(plan: Plan, catalog: Catalog, weeks: int) -> str:
    return text("title", plan.language, names=title_names(plan.domains, catalog, plan.language), weeks=weeks,
                hours=plan.hours_per_week)


def _summary(roadmap: Roadmap, plan: Plan, catalog: Catalog) -> str:
    language = plan.language
    core = roadmap.core_concepts()
    optional = [c for c in roadmap.concepts() if c.optional]
    summary = text("summary", language, stages=len([s for s in roadmap.stages if not s.optional]),
                   concepts=len(core), projects=len(roadmap.projects()), total=f"{roadmap.total_hours:g}",
                   weeks=roadmap.weeks, hours=plan.hours_per_week, level=text(f"level.{plan.level}", language))
    if len(roadmap.schedule) < roadmap.weeks:
        summary += text("summary.early", language, used=len(roadmap.schedule), weeks=roadmap.weeks)
    if optional:
        summary += text("summary.optional", language, count=len(optional),
                        hours=f"{sum(c.hours for c in optional):g}")
    known = [catalog.concepts[c].name.get(language)
             for c in catalog.relevant_known(roadmap.assumed_known, roadmap.concept_ids()) if c in catalog.concepts]
    if known:
        summary += text("summary.known", language, known=listed(known, language))
    return summary

