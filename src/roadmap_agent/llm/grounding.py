"""A model's answers mapped onto the bundled catalog (pure: no IO).

A concept the model names is matched to a catalog concept by id, then by name or alias (English or Chinese),
then by the catalog's own text matcher; a match takes the catalog's id, name, description, hours (scaled for
the level, as the offline planner does), difficulty, prerequisites and resources. A concept with no match is
kept as the model gave it, sanitised: a ``custom.`` id, hours clamped, prerequisites limited to concepts that
exist, and no links (a model's URLs are too often invented). The roadmap built here is *not* trusted: the
workflow's structure validation and auto-fix run on it like on any draft.

Anything that cannot be used at all raises ``GroundingError`` with a sentence the model gets back to repair.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from roadmap_agent.domain.amounts import clamp
from roadmap_agent.domain.catalog import Catalog
from roadmap_agent.domain.changes import EditReport
from roadmap_agent.domain.edit_ops import (
    LESS,
    MORE,
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
from roadmap_agent.domain.editing import apply_edits
from roadmap_agent.domain.intent import DEFAULT_HOURS_PER_WEEK, DEFAULT_WEEKS, skill_ids
from roadmap_agent.domain.models import (
    MAX_HOURS_PER_WEEK,
    MAX_WEEKS,
    MIN_HOURS_PER_WEEK,
    MIN_WEEKS,
    Concept,
    Intent,
    Language,
    LearnerRequest,
    Module,
    Project,
    Roadmap,
    Stage,
)
from roadmap_agent.domain.planning import LEVEL_HOURS_FACTOR, Plan, complete_roadmap
from roadmap_agent.domain.schedule import round_hours
from roadmap_agent.domain.selection import select
from roadmap_agent.domain.structure import PROJECT_MAX_HOURS, PROJECT_MIN_HOURS, attach_projects
from roadmap_agent.llm.answers import ConceptAnswer, CurriculumAnswer, EditAnswer, IntentAnswer, ProjectAnswer

CUSTOM_PREFIX = "custom."
MIN_HOURS, MAX_HOURS, DEFAULT_HOURS = 0.5, 40.0, 4.0
MAX_NAME, MAX_TEXT = 120, 600


class GroundingError(ValueError):
    """The answer parses but cannot be used; the message is meant for the model."""


def _key(text: str) -> str:
    return re.sub(r"[\s\-_./:()（）]+", " ", text.strip().lower()).strip()


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class Names:
    """Catalog concepts and domains by every name a model may use for them."""

    catalog: Catalog
    concepts: dict[str, str] = field(default_factory=dict)
    domains: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for concept in self.catalog.concepts.values():
            for name in (concept.id, concept.name.en, concept.name.zh, *concept.aliases):
                self.concepts.setdefault(_key(name), concept.id)
        for domain in self.catalog.domains.values():
            for name in (domain.id, domain.id.replace("_", " "), domain.name.en, domain.name.zh):
                self.domains.setdefault(_key(name), domain.id)

    def concept(self, text: str) -> str | None:
        if text in self.catalog.concepts:
            return text
        exact = self.concepts.get(_key(text))
        if exact:
            return exact
        found = self.catalog.match_concepts(text)
        return found[0] if len(found) == 1 else None

    def domain(self, text: str) -> str | None:
        exact = self.domains.get(_key(text))
        if exact:
            return exact
        found = self.catalog.match_domains(text)
        return found[0] if found else None


# -- intent ----------------------------------------------------------------------------------------


def intent_from(answer: IntentAnswer, request: LearnerRequest, names: Names, language: Language) -> Intent:
    """The model's reading of the goal; the request's structured fields win, as with the offline planner."""
    catalog = names.catalog
    targets = list(dict.fromkeys(d for d in (names.domain(x) for x in answer.domains) if d))
    if not targets:
        raise GroundingError(f"none of the domains {answer.domains} is a catalog domain; use ids from: "
                             + ", ".join(catalog.domains))
    known = list(dict.fromkeys(i for skill in [*answer.known_skills, *request.known_skills, *request.profile_skills]
                               for i in skill_ids(skill, catalog)))
    hours = request.hours_per_week or (clamp(answer.hours_per_week, MIN_HOURS_PER_WEEK, MAX_HOURS_PER_WEEK)
                                       if answer.hours_per_week else DEFAULT_HOURS_PER_WEEK)
    weeks = request.weeks or (clamp(answer.weeks, MIN_WEEKS, MAX_WEEKS) if answer.weeks else DEFAULT_WEEKS)
    technologies = [d for d in (names.domain(x) for x in answer.technologies)
                    if d and catalog.domains[d].kind == "technology"]
    domains = list(dict.fromkeys([*(d for d in targets if d not in known), *technologies])) or targets
    return Intent(goal=request.goal.strip(), domains=domains,
                  level=request.level or answer.level, known_skills=known, hours_per_week=hours, weeks=weeks,
                  language=language, preferences=[_clip(p, 40) for p in answer.preferences[:5]],
                  technologies=list(dict.fromkeys(technologies)), weeks_stated=bool(request.weeks or answer.weeks))


# -- curriculum ------------------------------------------------------------------------------------


@dataclass
class _Draft:
    names: Names
    intent: Intent
    known: set[str]
    by_answer: dict[str, str] = field(default_factory=dict)  # the model's id or name -> our id
    concepts: dict[str, Concept] = field(default_factory=dict)

    def resolve(self, answer: ConceptAnswer) -> str:
        for text in (answer.id, answer.name):
            if text and (found := self.names.concept(text)):
                return found
        base = re.sub(r"[^a-z0-9]+", "-", (answer.id or answer.name).lower()).strip("-")[:40] or "topic"
        candidate, n = f"{CUSTOM_PREFIX}{base}", 1
        while candidate in self.by_answer.values():
            n += 1
            candidate = f"{CUSTOM_PREFIX}{base}-{n}"
        return candidate

    def reference(self, text: str) -> str | None:
        return self.by_answer.get(text) or self.by_answer.get(_key(text)) or self.names.concept(text)


def roadmap_from(answer: CurriculumAnswer, intent: Intent, names: Names, roadmap_id: str) -> Roadmap:
    """The model's curriculum as a roadmap, grounded in the catalog; what the learner knows is left out.

    The model's stages, modules and projects are kept; optional concepts go to a final optional stage; the
    duration, schedule, title and summary are ours, so the numbers agree as they do offline.
    """
    draft = _Draft(names, intent, names.catalog.expand_known(intent.known_skills))
    answers = [c for s in answer.stages for m in s.modules for c in m.concepts]
    for concept in answers:  # ids first, so prerequisites may name concepts that come later
        our_id = draft.resolve(concept)
        for text in (concept.id, concept.name):
            if text:
                draft.by_answer.setdefault(text, our_id)
                draft.by_answer.setdefault(_key(text), our_id)
    stages = _stages(answer, draft)
    if not stages:
        raise GroundingError("no usable concept is left (all were duplicates or already known); propose the "
                             "concepts the learner still needs, using catalog ids where they exist")
    optional = [c for s in stages for m in s.modules for c in m.concepts if not c.core]
    for stage in stages:
        for module in stage.modules:
            module.concepts = [c for c in module.concepts if c.core]
        stage.modules = [m for m in stage.modules if m.concepts]
    stages = [s for s in stages if s.modules]
    if not stages:
        raise GroundingError("every concept is optional; mark the concepts the goal needs as core")
    for number, stage in enumerate(stages, start=1):  # renumbered: ids stay unique once stages drop out
        stage.order, stage.id = number, f"stage-{number}"
        for index, module in enumerate(stage.modules, start=1):
            module.id = f"{stage.id}.m{index}"
        if stage.project is not None:  # the model's project covers the stage's core, not what moved out
            stage.project.id = f"{stage.id}-project"
            stage.project.concept_ids = [c.id for m in stage.modules for c in m.concepts]
    missing = [s for s in stages if s.project is None]
    attach_projects(missing, draft.known, names.catalog, intent.domains, intent.language)
    selection = select(intent, names.catalog)
    plan = Plan(roadmap_id=roadmap_id, concepts=[], assumed_known=sorted(draft.known), domains=intent.domains,
                hours_per_week=intent.hours_per_week, weeks=intent.weeks, language=intent.language,
                level=intent.level, weeks_stated=intent.weeks_stated, notes=selection.notes,
                warnings=selection.warnings)
    return complete_roadmap(plan, stages, optional, names.catalog)


def _stages(answer: CurriculumAnswer, draft: _Draft) -> list[Stage]:
    stages: list[Stage] = []
    for stage in answer.stages:
        stage_id = f"stage-{len(stages) + 1}"
        modules: list[Module] = []
        for module in stage.modules:
            concepts = [c for c in (_concept(a, draft) for a in module.concepts) if c is not None]
            if concepts:
                modules.append(Module(id=f"{stage_id}.m{len(modules) + 1}", name=_clip(module.name, MAX_NAME),
                                      concepts=concepts))
        if modules:
            ids = [c.id for m in modules for c in m.concepts]
            stages.append(Stage(id=stage_id, name=_clip(stage.name, MAX_NAME), order=len(stages) + 1,
                                modules=modules, project=_project(stage.project, stage_id, ids)))
    return stages


def _project(answer: ProjectAnswer | None, stage_id: str, concept_ids: list[str]) -> Project | None:
    if answer is None or len(answer.acceptance_criteria) < 2:
        return None  # ours instead: a project without checkable criteria is no project
    hours = round_hours(min(max(answer.hours or 4.0, PROJECT_MIN_HOURS), PROJECT_MAX_HOURS))
    return Project(id=f"{stage_id}-project", title=_clip(answer.title, MAX_NAME),
                   description=_clip(answer.description, MAX_TEXT) or _clip(answer.title, MAX_NAME), hours=hours,
                   acceptance_criteria=[_clip(c, MAX_NAME * 2) for c in answer.acceptance_criteria[:4]],
                   concept_ids=concept_ids)


def _concept(answer: ConceptAnswer, draft: _Draft) -> Concept | None:
    our_id = draft.by_answer.get(answer.id or answer.name) or draft.resolve(answer)
    if our_id in draft.concepts or our_id in draft.known:
        return None
    catalog = draft.names.catalog
    if our_id in catalog.concepts:
        known = catalog.concepts[our_id]
        hours = round_hours(known.hours * LEVEL_HOURS_FACTOR[draft.intent.level])
        concept = known.to_concept(draft.intent.language, hours, core=not answer.optional)
    else:
        needs = [p for p in (draft.reference(x) for x in answer.prerequisites) if p and p != our_id]
        concept = Concept(id=our_id, name=_clip(answer.name, MAX_NAME),
                          description=_clip(answer.description, MAX_TEXT) or _clip(answer.name, MAX_NAME),
                          hours=round_hours(min(max(answer.hours or DEFAULT_HOURS, MIN_HOURS), MAX_HOURS)),
                          difficulty=answer.difficulty or "intermediate",
                          prerequisites=list(dict.fromkeys(needs)), core=not answer.optional)
    draft.concepts[our_id] = concept
    return concept


# -- edits -----------------------------------------------------------------------------------------


def _in_roadmap(text: str, roadmap: Roadmap, names: Names) -> str | None:
    by_name = {_key(c.name): c.id for c in roadmap.concepts()}
    return text if text in roadmap.concept_ids() else by_name.get(_key(text)) or names.concept(text)


def edits_from(answer: EditAnswer, roadmap: Roadmap, names: Names) -> tuple[list[EditOp], list[Unclear]]:
    """Edit operations for ``apply_edits``, and what could not be used (names that matched nothing, parts the
    model did not understand), to tell the learner."""
    unclear: list[Unclear] = [Unclear(_clip(t, 120)) for t in answer.not_understood if t.strip()]

    def ids(texts: list[str], catalog_only: bool = False) -> tuple[str, ...]:
        found: list[str] = []
        for text in texts:
            hit = names.concept(text) if catalog_only else _in_roadmap(text, roadmap, names)
            if hit:
                found.append(hit)
            elif domain := names.domain(text):  # "Kubernetes", "Docker": the domain's core, as offline
                found += names.catalog.domains[domain].goal_concepts
            else:
                unclear.append(Unclear(_clip(text, 60), "not_found"))
        return tuple(dict.fromkeys(found))

    ops: list[EditOp] = []
    if skip := ids(answer.skip):
        ops.append(SkipConcepts(skip))
    if known := ids(answer.known):
        ops.append(KnowConcepts(known))
    if add := ids(answer.add, catalog_only=True):
        ops.append(AddConcepts(add))
    if more := ids(answer.more_time):
        ops.append(ScaleHours(more, MORE))
    if less := ids(answer.less_time):
        ops.append(ScaleHours(less, LESS))
    if answer.weeks:
        ops.append(SetWeeks(answer.weeks))
    if answer.hours_per_week:
        ops.append(SetHoursPerWeek(answer.hours_per_week))
    if answer.finish_by:
        try:
            day = date.fromisoformat(answer.finish_by.strip()[:10])
        except ValueError:
            unclear.append(Unclear(_clip(answer.finish_by, 60)))
        else:
            ops.append(FinishBy(day.month, day.day, day.year))
    if answer.level:
        ops.append(ChangeLevel(-1 if answer.level == "easier" else 1))
    if first := ids(answer.start_with):
        ops.append(OrderFirst(first))
    for pair in answer.before:
        before, after = ids([pair.first]), ids([pair.then])
        if before and after:
            ops.append(OrderBefore(before, after))
    ops += [PreferResources(p) for p in dict.fromkeys(answer.resources)]
    if answer.more_projects:
        ops.append(MoreProjects())
    return ops, unclear


def apply_answer(answer: EditAnswer, roadmap: Roadmap, intent: Intent, names: Names,
                 today: date | None = None) -> tuple[Roadmap, EditReport]:
    """The edited roadmap and its report, in the roadmap's language (the domain applies the operations)."""
    ops, unclear = edits_from(answer, roadmap, names)
    return apply_edits(roadmap, ops, names.catalog, intent.domains, intent.level, unclear=unclear, today=today)
