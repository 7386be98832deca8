"""An edited draft re-fitted into a roadmap: order rules, the plan arranged again, more projects, resources.

"start with X" / "X before Y" rules become prerequisites while arranging, where no real prerequisite (of a concept
or of its module) says otherwise; the plan is arranged by ``planning.arrange`` (the core first, stretch topics while
they fit); stages are split so that each part ends with its own project when more projects were asked for; and
each concept's catalog resources are filtered by the resource preferences. The real prerequisites are put back on
the concepts afterwards, and what review asked for is kept on the roadmap.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from roadmap_agent.domain.catalog import Catalog, resources_for
from roadmap_agent.domain.edit_draft import Draft
from roadmap_agent.domain.models import (
    Concept,
    Language,
    OrderRule,
    Resource,
    ResourceKind,
    ResourcePreference,
    Roadmap,
    Stage,
)
from roadmap_agent.domain.planning import Plan, arrange, complete_roadmap
from roadmap_agent.domain.structure import (
    PROJECT_MIN_HOURS,
    Unit,
    attach_projects,
    build_stages,
    module_key,
    reachable,
    split_evenly,
)

READING: frozenset[ResourceKind] = frozenset({"docs", "book", "article", "tutorial"})
INTERACTIVE: frozenset[ResourceKind] = frozenset({"practice", "course"})
PREFERRED: dict[str, frozenset[ResourceKind]] = {"reading": READING, "video": frozenset({"video"}),
                                                 "interactive": INTERACTIVE}
# The catalog links free material; these hosts sell theirs (a book to buy, a paid platform, a paid certificate).
PAID_HOSTS = frozenset({"dataintensive.net", "experimentguide.com", "www.coursera.org", "www.tryexponent.com",
                        "interviewing.io"})
_EPSILON = 1e-6


# -- order -----------------------------------------------------------------------------------------


def ancestors(concept_id: str, concepts: dict[str, Concept]) -> set[str]:
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


# -- resources -------------------------------------------------------------------------------------


def _base_resources(concept: Concept, catalog: Catalog, language: Language) -> list[Resource]:
    entry = catalog.concepts.get(concept.id)
    return resources_for(entry.resources, language) if entry else list(concept.resources)


def has_preferred(concept: Concept, preference: ResourcePreference, catalog: Catalog, language: Language) -> bool:
    """Whether the catalog has a resource of the kind ``preference`` asks for on ``concept`` (any, when it asks
    for no kind)."""
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


# -- projects --------------------------------------------------------------------------------------


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
    return split_evenly(units, count, 0.9)


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


def arrange_draft(plan: Plan, draft: Draft) -> Roadmap:
    """The roadmap ``plan`` (the draft's concepts and budget) arranges into, with what review asked for kept on it.

    The draft keeps only the order rules about concepts still in the plan, and records the resources each concept
    had before filtering (``before_resources``) for the report."""
    catalog = draft.catalog
    concepts = {c.id: c for c in plan.concepts}
    real = {c.id: [p for p in c.prerequisites if p in concepts or p not in draft.skipped] for c in plan.concepts}
    for concept in plan.concepts:
        concept.prerequisites = list(real[concept.id])
    draft.ordering = [r for r in draft.ordering if r.first in concepts and (r.then is None or r.then in concepts)]
    for target, firsts in _order_edges(concepts, draft.ordering, catalog).items():
        concepts[target].prerequisites += sorted(firsts - set(concepts[target].prerequisites))
    for rule in draft.ordering:  # what the learner put first is wanted: it and what it needs are scheduled
        for concept_id in {rule.first, *ancestors(rule.first, concepts)}:
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
