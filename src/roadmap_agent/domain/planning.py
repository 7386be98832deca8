"""Curriculum design: from an analysed intent to an ordered, staged, scheduled roadmap.

``design_curriculum`` picks concepts (the prerequisite closure of the target domains' goals, minus what the
learner knows, plus stretch topics while the time budget allows). ``arrange`` turns any set of concepts into
a roadmap: topological order (staying inside one module while it can), stages by difficulty that never put a
prerequisite after its dependent, modules as runs of one catalog module, the schedule, and a budget warning
that names what to trim. Editing and the validator's auto-fix reuse ``arrange``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from roadmap_agent.domain.catalog import Catalog
from roadmap_agent.domain.models import DIFFICULTY_RANK, Concept, Intent, Language, Module, Roadmap, Stage
from roadmap_agent.domain.schedule import build_schedule, round_hours, weeks_needed

LEVEL_HOURS_FACTOR = {"beginner": 1.0, "intermediate": 0.85, "advanced": 0.7}
STAGE_NAMES: dict[int, dict[Language, str]] = {
    0: {"en": "Foundations", "zh": "基础阶段"},
    1: {"en": "Core skills", "zh": "核心技能"},
    2: {"en": "Advanced topics", "zh": "进阶提升"},
}
OTHER_MODULE = "other"
OVER_BUDGET_PREFIX: dict[Language, str] = {"en": "Over budget:", "zh": "超出时间预算："}


@dataclass(frozen=True)
class Plan:
    """Everything ``arrange`` needs; a roadmap can be turned back into one with ``plan_of``."""

    roadmap_id: str
    concepts: list[Concept]
    assumed_known: list[str]
    domains: list[str]
    hours_per_week: int
    weeks: int
    language: Language
    level: str = "beginner"


def design_curriculum(intent: Intent, catalog: Catalog, roadmap_id: str) -> Roadmap:
    known = catalog.expand_known(intent.known_skills)
    goals = [c for d in intent.domains for c in catalog.domains[d].goal_concepts]
    selected = catalog.closure(goals) - known
    factor = LEVEL_HOURS_FACTOR[intent.level]
    hours = {c: round_hours(catalog.concepts[c].hours * factor) for c in catalog.concepts}
    budget = intent.budget_hours
    total = sum(hours[c] for c in selected)
    for stretch in _stretch_candidates(intent, catalog, selected | known):
        extra = catalog.closure([stretch]) - known - selected
        cost = sum(hours[c] for c in extra)
        if total + cost <= budget:
            selected |= extra
            total += cost
    concepts = [catalog.concepts[c].to_concept(intent.language, hours[c]) for c in selected]
    plan = Plan(roadmap_id=roadmap_id, concepts=concepts, assumed_known=sorted(known), domains=intent.domains,
                hours_per_week=intent.hours_per_week, weeks=intent.weeks, language=intent.language,
                level=intent.level)
    return arrange(plan, catalog)


def _stretch_candidates(intent: Intent, catalog: Catalog, excluded: set[str]) -> list[str]:
    return [c for d in intent.domains for c in catalog.domains[d].concept_ids if c not in excluded]


def plan_of(roadmap: Roadmap, domains: list[str], level: str = "beginner") -> Plan:
    return Plan(roadmap_id=roadmap.id, concepts=roadmap.concepts(), assumed_known=list(roadmap.assumed_known),
                domains=domains, hours_per_week=roadmap.hours_per_week, weeks=roadmap.weeks,
                language=roadmap.language, level=level)


def arrange(plan: Plan, catalog: Catalog) -> Roadmap:
    ordered = order_concepts(plan.concepts, catalog)
    stages = _stages(ordered, plan.concepts, catalog, plan.language)
    flat = [c for s in stages for m in s.modules for c in m.concepts]
    total = round(sum(c.hours for c in flat), 2)
    roadmap = Roadmap(
        id=plan.roadmap_id, title=_title(plan, catalog), summary="", language=plan.language,
        total_hours=total, weeks=plan.weeks, hours_per_week=plan.hours_per_week,
        warnings=budget_warnings(flat, plan.hours_per_week, plan.weeks, plan.language, catalog),
        assumed_known=sorted(set(plan.assumed_known)), stages=stages,
        schedule=build_schedule(flat, plan.hours_per_week),
    )
    roadmap.summary = _summary(roadmap, plan, catalog)
    return roadmap


# -- ordering --------------------------------------------------------------------------------------


def stage_levels(concepts: Sequence[Concept]) -> dict[str, int]:
    """Stage of each concept: its difficulty, raised to the stage of its latest prerequisite."""
    by_id = {c.id: c for c in concepts}
    levels: dict[str, int] = {}

    def level(concept_id: str, path: frozenset[str]) -> int:
        if concept_id in levels:
            return levels[concept_id]
        concept = by_id[concept_id]
        own = DIFFICULTY_RANK[concept.difficulty]
        inner = [level(p, path | {concept_id}) for p in concept.prerequisites if p in by_id and p not in path]
        levels[concept_id] = max([own, *inner])
        return levels[concept_id]

    for concept in concepts:
        level(concept.id, frozenset())
    return levels


def order_concepts(concepts: Sequence[Concept], catalog: Catalog) -> list[Concept]:
    """Topological order; among ready concepts: lowest stage, then the current module, then catalog rank.

    Concepts caught in a prerequisite cycle (possible only in a model's draft) go last, in input order,
    for the validator to report and the auto-fix to break.
    """
    by_id = {c.id: c for c in concepts}
    levels = stage_levels(concepts)
    pending = {c.id: {p for p in c.prerequisites if p in by_id and p != c.id} for c in concepts}
    ordered: list[Concept] = []
    last_module: str | None = None
    while pending:
        ready = [c for c, needs in pending.items() if not needs]
        if not ready:
            break
        chosen = min(ready, key=lambda c: (levels[c], _module_of(c, catalog) != last_module, _rank(c, catalog)))
        ordered.append(by_id[chosen])
        last_module = _module_of(chosen, catalog)
        del pending[chosen]
        for needs in pending.values():
            needs.discard(chosen)
    ordered += [by_id[c] for c in pending]
    return ordered


def _module_of(concept_id: str, catalog: Catalog) -> str:
    known = catalog.concepts.get(concept_id)
    return known.module if known else OTHER_MODULE


def _rank(concept_id: str, catalog: Catalog) -> int:
    return catalog.rank(concept_id) if concept_id in catalog.concepts else len(catalog.concepts)


def _stages(ordered: list[Concept], all_concepts: Sequence[Concept], catalog: Catalog,
            language: Language) -> list[Stage]:
    levels = stage_levels(all_concepts)
    # Keep the order monotone in stage even for a cyclic draft: a concept never moves to an earlier stage.
    stage_of: dict[str, int] = {}
    floor = 0
    for concept in ordered:
        floor = max(floor, levels[concept.id])
        stage_of[concept.id] = floor
    stages: list[Stage] = []
    for number in sorted(set(stage_of.values())):
        members = [c for c in ordered if stage_of[c.id] == number]
        stage_id = f"stage-{len(stages) + 1}"
        stages.append(Stage(id=stage_id, name=STAGE_NAMES[number][language], order=len(stages) + 1,
                            modules=_modules(stage_id, members, catalog, language)))
    return stages


def _modules(stage_id: str, members: list[Concept], catalog: Catalog, language: Language) -> list[Module]:
    modules: list[Module] = []
    seen: dict[str, int] = {}
    last_key: str | None = None
    for concept in members:
        module_key = _module_of(concept.id, catalog)
        if module_key == last_key:
            modules[-1].concepts.append(concept)
            continue
        last_key = module_key
        seen[module_key] = seen.get(module_key, 0) + 1
        part = seen[module_key]
        name = _module_name(module_key, catalog, language) + (f" ({part})" if part > 1 else "")
        module_id = f"{stage_id}.{module_key}" + (f"-{part}" if part > 1 else "")
        modules.append(Module(id=module_id, name=name, concepts=[concept]))
    return modules


def _module_name(module_key: str, catalog: Catalog, language: Language) -> str:
    if module_key in catalog.modules:
        return catalog.modules[module_key].name.get(language)
    return "Other topics" if language == "en" else "其他主题"


# -- texts -----------------------------------------------------------------------------------------


def budget_warnings(concepts: Sequence[Concept], hours_per_week: int, weeks: int, language: Language,
                    catalog: Catalog) -> list[str]:
    total = sum(c.hours for c in concepts)
    budget = hours_per_week * weeks
    if total <= budget + 1e-6:
        return []
    trim = trim_candidates(concepts, total - budget)
    trim_text = ", ".join(f"{c.name} ({c.hours:g} h)" for c in trim)
    needed = weeks_needed(total, hours_per_week)
    per_week = -(-int(total + 0.999) // weeks)
    if language == "zh":
        return [f"{OVER_BUDGET_PREFIX['zh']}本路线需要 {total:g} 小时，而每周 {hours_per_week} 小时 × {weeks} 周"
                f"只有 {budget} 小时。可以删减：{trim_text}；或延长到 {needed} 周，或每周投入 {per_week} 小时。"]
    return [f"{OVER_BUDGET_PREFIX['en']} this roadmap needs {total:g} h but {hours_per_week} h/week x {weeks} weeks "
            f"gives {budget} h. To fit, trim: {trim_text}; or allow {needed} weeks, or {per_week} h/week."]


def trim_candidates(concepts: Sequence[Concept], excess: float) -> list[Concept]:
    """Concepts nothing else needs, hardest and latest first, until ``excess`` hours are covered."""
    needed_by_others = {p for c in concepts for p in c.prerequisites}
    leaves = [c for c in concepts if c.id not in needed_by_others]
    leaves.sort(key=lambda c: (-DIFFICULTY_RANK[c.difficulty], -concepts.index(c)))
    chosen: list[Concept] = []
    covered = 0.0
    for concept in leaves:
        if covered >= excess:
            break
        chosen.append(concept)
        covered += concept.hours
    return chosen


def _domain_names(domains: Iterable[str], catalog: Catalog, language: Language) -> str:
    names = [catalog.domains[d].name.get(language) for d in domains if d in catalog.domains]
    return (" + " if language == "en" else "、").join(names)


def _title(plan: Plan, catalog: Catalog) -> str:
    names = _domain_names(plan.domains, catalog, plan.language)
    if plan.language == "zh":
        return f"{names}学习路线（{plan.weeks} 周，每周 {plan.hours_per_week} 小时）"
    return f"{names} roadmap ({plan.weeks} weeks, {plan.hours_per_week} h/week)"


def _summary(roadmap: Roadmap, plan: Plan, catalog: Catalog) -> str:
    count = len(roadmap.concepts())
    known = [catalog.concepts[c].name.get(plan.language) for c in roadmap.assumed_known if c in catalog.concepts]
    known_text = ", ".join(known[:6]) + ("..." if len(known) > 6 else "")
    if plan.language == "zh":
        text = (f"{len(roadmap.stages)} 个阶段、{count} 个知识点，共 {roadmap.total_hours:g} 小时，"
                f"按每周 {plan.hours_per_week} 小时约需 {len(roadmap.schedule)} 周。")
        return text + (f"已跳过你掌握的内容：{known_text}。" if known else "")
    text = (f"{len(roadmap.stages)} stages, {count} concepts, {roadmap.total_hours:g} hours: about "
            f"{len(roadmap.schedule)} weeks at {plan.hours_per_week} h/week for a {plan.level} learner.")
    return text + (f" Skips what you already know: {known_text}." if known else "")
