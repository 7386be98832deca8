"""Roadmap invariants, and the auto-fix that restores them.

The invariants (DESIGN.md): every prerequisite comes earlier in the roadmap and in its schedule, or is
something the learner already knows; no cycles; no empty stage or module; hours fit the budget or the roadmap
carries an explicit warning with what to trim. ``structure_validation`` checks them; ``auto_fix`` rebuilds a
roadmap that breaks them (adding missing prerequisites from the catalog, breaking cycles, re-arranging).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from roadmap_agent.domain.catalog import Catalog
from roadmap_agent.domain.models import Concept, Language, Roadmap
from roadmap_agent.domain.planning import OVER_BUDGET_PREFIX, arrange, plan_of

_EPSILON = 0.01


@dataclass(frozen=True)
class Issue:
    code: str
    message: str
    concept_id: str | None = None


def validate_roadmap(roadmap: Roadmap) -> list[Issue]:
    return [
        *_empty_parts(roadmap),
        *_duplicates(roadmap),
        *_prerequisites(roadmap),
        *_cycles(roadmap),
        *_schedule(roadmap),
        *_budget(roadmap),
    ]


def _empty_parts(roadmap: Roadmap) -> list[Issue]:
    issues = [Issue("empty_roadmap", "the roadmap has no concepts")] if not roadmap.concepts() else []
    for stage in roadmap.stages:
        if not stage.modules:
            issues.append(Issue("empty_stage", f"stage {stage.id} has no modules"))
        issues += [Issue("empty_module", f"module {m.id} has no concepts") for m in stage.modules if not m.concepts]
    return issues


def _duplicates(roadmap: Roadmap) -> list[Issue]:
    seen: set[str] = set()
    issues: list[Issue] = []
    for concept_id in roadmap.concept_ids():
        if concept_id in seen:
            issues.append(Issue("duplicate_concept", f"{concept_id} appears twice", concept_id))
        seen.add(concept_id)
    return issues


def _prerequisites(roadmap: Roadmap) -> list[Issue]:
    position = {c: i for i, c in enumerate(roadmap.concept_ids())}
    optional = {c.id for c in roadmap.concepts() if c.optional}
    known = set(roadmap.assumed_known)
    issues: list[Issue] = []
    for index, concept in enumerate(roadmap.concepts()):
        for prerequisite in concept.prerequisites:
            if prerequisite in known:
                continue
            if prerequisite not in position:
                issues.append(Issue("missing_prerequisite",
                                    f"{concept.id} needs {prerequisite}, which is neither in the roadmap "
                                    "nor known", concept.id))
            elif position[prerequisite] >= index:
                issues.append(Issue("prerequisite_order", f"{concept.id} comes before its prerequisite "
                                    f"{prerequisite}", concept.id))
            elif prerequisite in optional and not concept.optional:
                issues.append(Issue("needs_optional", f"{concept.id} is core but needs the optional "
                                    f"{prerequisite}", concept.id))
    return issues


def find_cycle(concepts: list[Concept]) -> list[str]:
    """One prerequisite cycle among ``concepts`` as a list of ids, or [] if there is none."""
    graph = {c.id: list(c.prerequisites) for c in concepts}
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in graph:
                continue
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return []

    for node in graph:
        if node not in state and (cycle := visit(node)):
            return cycle
    return []


def _cycles(roadmap: Roadmap) -> list[Issue]:
    cycle = find_cycle(roadmap.concepts())
    return [Issue("cycle", "prerequisite cycle: " + " -> ".join(cycle), cycle[0])] if cycle else []


def _schedule(roadmap: Roadmap) -> list[Issue]:
    issues: list[Issue] = []
    first_week: dict[str, int] = {}
    last_week: dict[str, int] = {}
    for expected, week in enumerate(roadmap.schedule, start=1):
        if week.week != expected:
            issues.append(Issue("schedule_gap", f"week {week.week} should be week {expected}"))
        if week.hours > roadmap.hours_per_week + _EPSILON:
            issues.append(Issue("week_overfull", f"week {week.week} has {week.hours} h, more than "
                                f"{roadmap.hours_per_week} h/week"))
        for concept_id in week.concept_ids:
            first_week.setdefault(concept_id, week.week)
            last_week[concept_id] = week.week
    for concept in roadmap.concepts():
        if concept.optional:
            if concept.id in first_week:
                issues.append(Issue("optional_scheduled", f"{concept.id} is optional but scheduled", concept.id))
            continue
        if concept.id not in first_week:
            issues.append(Issue("unscheduled", f"{concept.id} is not in the schedule", concept.id))
            continue
        for prerequisite in concept.prerequisites:
            if last_week.get(prerequisite, 0) > first_week[concept.id]:
                issues.append(Issue("schedule_order", f"{concept.id} starts before {prerequisite} ends",
                                    concept.id))
    scheduled_projects = {p for w in roadmap.schedule for p in w.project_ids}
    issues += [Issue("unscheduled", f"project {p.id} is not in the schedule") for p in roadmap.projects()
               if p.id not in scheduled_projects]
    scheduled = sum(w.hours for w in roadmap.schedule)
    if abs(scheduled - roadmap.total_hours) > _EPSILON * max(1, len(roadmap.schedule)):
        issues.append(Issue("schedule_hours", f"schedule has {scheduled:g} h, roadmap {roadmap.total_hours:g} h"))
    return issues


def _budget(roadmap: Roadmap) -> list[Issue]:
    issues: list[Issue] = []
    total = sum(c.hours for c in roadmap.core_concepts()) + sum(p.hours for p in roadmap.projects())
    if abs(total - roadmap.total_hours) > _EPSILON:
        issues.append(Issue("total_hours", f"total_hours is {roadmap.total_hours:g} but the core concepts and "
                            f"projects add to {total:g}"))
    over = total > roadmap.hours_per_week * roadmap.weeks + _EPSILON
    warned = any(w.startswith(OVER_BUDGET_PREFIX[roadmap.language]) for w in roadmap.warnings)
    if over and not warned:
        issues.append(Issue("over_budget", "the roadmap exceeds the time budget without saying what to trim"))
    return issues


def auto_fix(roadmap: Roadmap, catalog: Catalog, domains: list[str], level: str = "beginner") -> Roadmap:
    """Rebuild ``roadmap`` so that it satisfies every invariant, keeping its concepts where possible."""
    concepts: dict[str, Concept] = {}
    for concept in roadmap.concepts():
        concepts.setdefault(concept.id, concept.model_copy(deep=True))
    plan = plan_of(roadmap, domains, level)
    known = set(plan.assumed_known)
    _add_missing_prerequisites(concepts, known, catalog, roadmap.language)
    _break_cycles(concepts)
    _core_needs_core(concepts)
    return arrange(replace(plan, concepts=list(concepts.values()), assumed_known=sorted(known)), catalog)


def _core_needs_core(concepts: dict[str, Concept]) -> None:
    """What a core concept needs is core too."""
    pending = [c for c in concepts.values() if c.core]
    while pending:
        concept = pending.pop()
        for prerequisite in concept.prerequisites:
            needed = concepts.get(prerequisite)
            if needed is not None and not needed.core:
                needed.core = True
                pending.append(needed)


def _add_missing_prerequisites(concepts: dict[str, Concept], known: set[str], catalog: Catalog,
                               language: Language) -> None:
    pending = list(concepts.values())
    while pending:
        concept = pending.pop()
        kept: list[str] = []
        for prerequisite in concept.prerequisites:
            if prerequisite in concepts or prerequisite in known:
                kept.append(prerequisite)
            elif prerequisite in catalog.concepts:
                added = catalog.concepts[prerequisite].to_concept(language, core=concept.core)
                concepts[prerequisite] = added
                pending.append(added)
                kept.append(prerequisite)
            # an unknown prerequisite (a model's invention) cannot be taught: drop the reference
        concept.prerequisites = kept


def _break_cycles(concepts: dict[str, Concept]) -> None:
    while cycle := find_cycle(list(concepts.values())):
        # Drop the edge that closes the cycle: the last node stops requiring the first.
        source, target = cycle[-2], cycle[-1]
        concepts[source].prerequisites = [p for p in concepts[source].prerequisites if p != target]
