"""The shape of a roadmap: modules in teaching order (each once), stages named for what they teach, projects.

Modules are ordered as units: a module comes after every module it needs (modules that need each other, which
the catalog lint forbids but a model's draft may contain, are merged into one); ties go to catalog order
(foundations and languages first). Consecutive modules form stages of similar size; a stage is named from its
largest modules' outcomes and ends with the catalog project that best practises it (or a generic one).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from roadmap_agent.domain.catalog import Catalog, CatalogProject
from roadmap_agent.domain.messages import join, text
from roadmap_agent.domain.models import Concept, Language, Module, Project, Stage
from roadmap_agent.domain.schedule import round_hours

OTHER_MODULE = "other"
T = TypeVar("T")
HOURS_PER_STAGE = 30
MAX_STAGES = 6
PROJECT_SHARE = 0.15  # a stage's project takes about this share of its concept hours
PROJECT_MIN_HOURS, PROJECT_MAX_HOURS = 1.0, 8.0
PROJECT_MIN_LEARNED = 0.75  # a catalog project fits a stage when the learner has met most of what it uses


@dataclass
class Unit:
    """One module of the roadmap: its catalog module ids (one, unless merged) and its concepts in order."""

    keys: list[str]
    concepts: list[Concept]

    @property
    def hours(self) -> float:
        return sum(c.hours for c in self.concepts)


def module_key(concept_id: str, catalog: Catalog) -> str:
    known = catalog.concepts.get(concept_id)
    return known.module if known else OTHER_MODULE


def order_concepts(concepts: Sequence[Concept], catalog: Catalog) -> list[Concept]:
    """Topological order, ties by catalog rank; concepts caught in a cycle (a model's draft) go last."""
    by_id = {c.id: c for c in concepts}
    pending = {c.id: {p for p in c.prerequisites if p in by_id and p != c.id} for c in concepts}
    ready = [(_rank(c, catalog), c) for c, needs in pending.items() if not needs]
    heapq.heapify(ready)
    dependents: dict[str, list[str]] = {c: [] for c in pending}
    for concept_id, needs in pending.items():
        for need in needs:
            dependents[need].append(concept_id)
    ordered: list[Concept] = []
    while ready:
        _, chosen = heapq.heappop(ready)
        ordered.append(by_id[chosen])
        for dependent in dependents[chosen]:
            pending[dependent].discard(chosen)
            if not pending[dependent]:
                heapq.heappush(ready, (_rank(dependent, catalog), dependent))
        del pending[chosen]
    done = {c.id for c in ordered}
    return ordered + [c for c in concepts if c.id not in done]


def _rank(concept_id: str, catalog: Catalog) -> int:
    return catalog.rank(concept_id) if concept_id in catalog.concepts else len(catalog.concepts)


def module_units(concepts: Sequence[Concept], catalog: Catalog) -> list[Unit]:
    """``concepts`` grouped by module, modules in dependency order, concepts in order inside each."""
    keys = list(dict.fromkeys(module_key(c.id, catalog) for c in concepts))
    key_of = {c.id: module_key(c.id, catalog) for c in concepts}
    needs: dict[str, set[str]] = {k: set() for k in keys}
    for concept in concepts:
        for prerequisite in concept.prerequisites:
            if prerequisite in key_of and key_of[prerequisite] != key_of[concept.id]:
                needs[key_of[concept.id]].add(key_of[prerequisite])
    groups = _strongly_connected(keys, needs)
    group_of = {k: i for i, g in enumerate(groups) for k in g}
    group_needs = {i: {group_of[n] for k in g for n in needs[k]} - {i} for i, g in enumerate(groups)}
    order = _topological(groups, group_needs, _deferred(groups, group_needs, catalog), catalog)
    units: list[Unit] = []
    for index in order:
        members = [c for c in concepts if key_of[c.id] in groups[index]]
        units.append(Unit(keys=sorted(groups[index], key=catalog.module_rank),
                          concepts=order_concepts(members, catalog)))
    return units


def _strongly_connected(nodes: list[str], edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (a model's draft may be deep)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                groups.append(group)
    return groups


def _deferred(groups: list[list[str]], needs: dict[int, set[int]], catalog: Catalog) -> set[int]:
    """Role modules nothing of another domain needs: they apply the technology, so they come after it
    (publishing an app after learning Swift, caching after the web framework)."""
    def domain(i: int) -> str:
        module = catalog.modules.get(groups[i][0])
        return module.domain if module else OTHER_MODULE
    needed_by_others: set[int] = set()
    for i, wanted in needs.items():
        for j in reachable(wanted, needs):
            if domain(j) != domain(i):
                needed_by_others.add(j)
    return {i for i in range(len(groups)) if i not in needed_by_others and domain(i) in catalog.domains
            and catalog.domains[domain(i)].kind == "role"}


def reachable(start: Iterable[T], graph: Mapping[T, Iterable[T]]) -> set[T]:
    """Every node reachable from ``start`` in ``graph`` (node -> the nodes it points at), ``start`` included."""
    seen: set[T] = set()
    pending = list(start)
    while pending:
        node = pending.pop()
        if node not in seen:
            seen.add(node)
            pending += graph.get(node, ())
    return seen


def _topological(groups: list[list[str]], needs: dict[int, set[int]], deferred: set[int],
                 catalog: Catalog) -> list[int]:
    """Modules just in time: the modules nothing else needs (the goals) in catalog order, deferred ones last,
    each preceded by what it still needs (depth first). Among those, a role's module that itself builds on
    something (publishing an app) comes last, right before the module that needs it; foundations first."""
    dependents: dict[int, set[int]] = {i: set() for i in needs}
    for module, wanted in needs.items():
        for prerequisite in wanted:
            dependents[prerequisite].add(module)

    def rank(i: int) -> int:
        return min(catalog.module_rank(k) for k in groups[i])

    def domain(i: int) -> str:
        module = catalog.modules.get(groups[i][0])
        return module.domain if module else OTHER_MODULE

    def late(parent: int, i: int) -> bool:
        owner = catalog.domains.get(domain(i))
        return owner is not None and owner.kind == "role" and domain(i) != domain(parent) and bool(needs[i])

    order: list[int] = []
    placed: set[int] = set()

    def visit(i: int) -> None:
        placed.add(i)
        for prerequisite in sorted(needs[i], key=lambda p: (late(i, p), rank(p))):
            if prerequisite not in placed:
                visit(prerequisite)
        order.append(i)

    for sink in sorted((i for i, d in dependents.items() if not d), key=lambda i: (i in deferred, rank(i))):
        visit(sink)
    for rest in sorted(set(needs) - placed, key=rank):  # only in a cycle the grouping missed (none expected)
        visit(rest)
    return order


# -- stages ----------------------------------------------------------------------------------------


def partition(units: list[Unit]) -> list[list[Unit]]:
    """Consecutive units in stages of about HOURS_PER_STAGE hours (at most MAX_STAGES)."""
    total = sum(u.hours for u in units)
    return split_evenly(units, max(1, min(MAX_STAGES, len(units), round(total / HOURS_PER_STAGE))), 0.95)


def split_evenly(units: list[Unit], count: int, fill: float) -> list[list[Unit]]:
    """Consecutive ``units`` in up to ``count`` parts of about equal hours: a part closes once the parts so far
    hold ``fill`` of their share, while enough units are left for the parts still to come."""
    target = sum(u.hours for u in units) / count
    parts: list[list[Unit]] = [[]]
    filled = 0.0
    for position, unit in enumerate(units):
        parts[-1].append(unit)
        filled += unit.hours
        left_units = len(units) - position - 1
        left_parts = count - len(parts)
        if left_parts and left_units >= left_parts and filled >= target * len(parts) * fill:
            parts.append([])
    return [p for p in parts if p]


def unit_name(unit: Unit, catalog: Catalog, language: Language) -> str:
    names = [catalog.modules[k].name.get(language) if k in catalog.modules else text("module.other", language)
             for k in unit.keys]
    return " / ".join(dict.fromkeys(names))


def unit_outcome(unit: Unit, catalog: Catalog, language: Language) -> str:
    module = catalog.modules.get(unit.keys[0])
    if module is not None and module.outcome is not None:
        return module.outcome.get(language)
    return unit_name(unit, catalog, language)


def stage_name(units: list[Unit], catalog: Catalog, language: Language) -> str:
    """What the learner can do after the stage: the outcome of its largest module."""
    return unit_outcome(max(units, key=lambda u: u.hours), catalog, language)


def build_stages(groups: list[list[Unit]], catalog: Catalog, language: Language, *, start: int = 1,
                 optional: bool = False, seen_names: set[str] | None = None) -> list[Stage]:
    """Stages of ``groups``; ``seen_names`` are module names used before (an optional module continuing a core
    one is named "X: going further")."""
    stages: list[Stage] = []
    seen_names = set() if seen_names is None else set(seen_names)
    for offset, units in enumerate(groups):
        number = start + offset
        stage_id = f"stage-{number}"
        modules: list[Module] = []
        for unit in units:
            name = unit_name(unit, catalog, language)
            if optional and name in seen_names:
                name = text("module.more", language, name=name)
            if name in seen_names:  # two catalog modules of the same name: say which domain
                domain = catalog.domains.get(catalog.modules[unit.keys[0]].domain) if unit.keys[0] in catalog.modules \
                    else None
                name = f"{name} ({domain.name.get(language)})" if domain else f"{name} ({len(seen_names)})"
            seen_names.add(name)
            modules.append(Module(id=f"{stage_id}.{'+'.join(unit.keys)}", name=name, concepts=unit.concepts))
        title = text("stage.optional", language) if optional else stage_name(units, catalog, language)
        stages.append(Stage(id=stage_id, name=title, order=number, modules=modules, optional=optional))
    return stages


# -- projects --------------------------------------------------------------------------------------


def attach_projects(stages: list[Stage], known: set[str], catalog: Catalog, domains: list[str],
                    language: Language) -> None:
    """Give every (non-optional) stage the project that best practises it."""
    done = set(known)
    used: set[str] = set()
    for stage in stages:
        if stage.optional:
            continue
        ids = [c.id for m in stage.modules for c in m.concepts]
        done |= set(ids)
        hours = sum(c.hours for m in stage.modules for c in m.concepts)
        project_hours = min(PROJECT_MAX_HOURS, max(PROJECT_MIN_HOURS, round_hours(hours * PROJECT_SHARE)))
        best = _best_project(set(ids), done, used, catalog, domains)
        if best is not None:
            used.add(best.id)
            stage.project = Project(
                id=best.id, title=best.title.get(language), description=best.brief.get(language),
                hours=project_hours, acceptance_criteria=[c.get(language) for c in best.criteria],
                concept_ids=[c for c in best.uses if c in done])
        else:
            stage.project = _generic_project(stage, hours=project_hours, language=language)


def _best_project(stage_ids: set[str], done: set[str], used: set[str], catalog: Catalog,
                  domains: list[str]) -> CatalogProject | None:
    best: tuple[float, CatalogProject] | None = None
    for domain in catalog.domains.values():
        for project in domain.projects:
            uses = set(project.uses)
            learned = len(uses & done) / len(uses)
            overlap = len(stage_ids & uses)
            if project.id in used or learned < PROJECT_MIN_LEARNED or not overlap:
                continue
            score = overlap + learned + (0.5 if project.domain in domains else 0.0)
            if best is None or score > best[0]:
                best = (score, project)
    return best[1] if best else None


def _generic_project(stage: Stage, *, hours: float, language: Language) -> Project:
    concepts = [c for m in stage.modules for c in m.concepts]
    names = [m.name for m in sorted(stage.modules, key=lambda m: -sum(c.hours for c in m.concepts))][:1]
    return Project(
        id=f"{stage.id}-project", title=text("project.generic.title", language, topics=join(names, language)),
        description=text("project.generic.brief", language, concepts=join([c.name for c in concepts[:6]], language)),
        hours=hours, acceptance_criteria=[text(f"project.generic.c{i}", language) for i in (1, 2, 3)],
        concept_ids=[c.id for c in concepts])
