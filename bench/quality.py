"""Roadmap quality on our own goals: does the offline planner answer the goal that was asked (issue 12)?

    .venv/bin/python bench/quality.py                 # every goal of bench/quality_goals.json, figures + failures
    .venv/bin/python bench/quality.py --json          # the same figures as JSON
    .venv/bin/python bench/quality.py --goal "learn Vue 3 in 6 weeks"   # one goal's plan and its checks

How to read it. Every goal of ``bench/quality_goals.json`` (English and Chinese) goes through ``plan_request``
in-process, and each applicable aspect of its outcome is checked:

- ``follows_goal``: the domains the goal names are in the roadmap and the unasked alternatives are not (a domain is
  in it through a technology's own or goal concepts, a role's or subject's own concepts; ``absent`` also takes
  concept ids), what the goal says is known is not taught again, ``before`` pairs keep their order,
  ``first_stage_absent`` concepts are not in stage 1;
- ``honest_scope``: "out" raises ``OutOfScope`` (never a roadmap), "partial" gives a roadmap whose warnings name the
  uncovered subject, "in" gives a roadmap;
- ``fits_budget``: core hours <= hours/week x weeks of the roadmap, no week over its hours; a duration or weekly hours
  the roadmap changes from what was asked is named (the number) in a warning; the intent read the stated figures;
- ``consistent_numbers``: the title states the weeks and hours/week, the summary the weeks; the schedule has at most
  ``weeks`` weeks, its hours add up to ``total_hours`` (= core concepts + projects), and it covers exactly the core
  concepts and projects (optional concepts are not scheduled);
- ``language``: a Chinese goal gets Chinese in every user-facing text and the catalog's Chinese concept names; an
  English goal gets no Chinese character anywhere;
- ``prerequisites``: ``validate_roadmap`` is empty; every prerequisite (the roadmap's and the catalog's) of a core
  concept is an earlier core concept or assumed known; no core concept depends on an optional one;
- ``shape``: every core stage ends with a project (>= 2 criteria) built from its stage's concepts; a module name
  appears once; no stage is named like one of its modules; optional concepts sit in one final optional stage; a
  developer role plan has Git unless Git is known.

A line per aspect gives passed/total (goals where the aspect applies: an out-of-scope goal is checked for scope
only, so is a goal that wrongly got none, plus ``follows_goal`` when it names technologies), then every failure
(goal, aspect, why), then observations that are no aspect (stated durations kept, catalog vs generic projects, long
stage names, core hours), then the overall line: checks passed over all aspects and goals clean on every aspect.
Nothing is asserted and the exit code is 0: ``tests/unit/test_quality.py`` holds the >= 95% guard and imports these
checks (one copy of the logic). A goal-file mistake (an id the catalog lacks) is printed on stderr first.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roadmap_agent.domain.catalog import Catalog, load_catalog
from roadmap_agent.domain.models import Concept, Intent, Language, LearnerRequest, Roadmap
from roadmap_agent.domain.planning import plan_request
from roadmap_agent.domain.scope import OutOfScope
from roadmap_agent.domain.validation import validate_roadmap

GOALS_FILE = Path(__file__).resolve().with_name("quality_goals.json")
ASPECTS = ("follows_goal", "honest_scope", "fits_budget", "consistent_numbers", "language", "prerequisites",
           "shape")
DEVELOPER_ROLES = frozenset({"backend", "frontend", "fullstack", "mobile", "devops", "game_dev", "qa_testing"})
GIT_CONCEPT = "devops.git"
SCOPES = ("in", "partial", "out")
EXPECT_KEYS = frozenset({"scope", "technologies", "absent", "known_absent", "weeks", "hours_per_week", "uncovered",
                         "first_stage_absent", "before", "language"})
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
HOURS_TOLERANCE = 0.05
STAGE_NAME_CHARS = 100  # observations only: a stage name longer than this reads as a list, not an outcome

Reasons = list[str]


# -- the goals -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GoalCase:
    goal: str
    expect: dict[str, Any] = field(default_factory=dict)

    @property
    def scope(self) -> str:
        return str(self.expect.get("scope", "in"))

    @property
    def language(self) -> Language:
        stated = self.expect.get("language")
        if stated in ("en", "zh"):
            return "zh" if stated == "zh" else "en"
        return goal_language(self.goal)


def goal_language(text: str) -> Language:
    """What the roadmap must be written in: Chinese for a goal with any Chinese character."""
    return "zh" if CJK.search(text) else "en"


def load_goals(path: Path = GOALS_FILE) -> list[GoalCase]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    return [GoalCase(goal=str(item["goal"]), expect=dict(item.get("expect", {}))) for item in raw]


def goal_file_problems(cases: Sequence[GoalCase], catalog: Catalog) -> Reasons:
    """Mistakes in the goal file itself: unknown keys, ids the catalog does not have, duplicate goals."""
    problems: Reasons = []
    seen: set[str] = set()
    for case in cases:
        where = f"goal {case.goal!r}"
        if case.goal in seen:
            problems.append(f"{where}: listed twice")
        seen.add(case.goal)
        expect = case.expect
        problems += [f"{where}: unknown expectation key {k!r}" for k in sorted(set(expect) - EXPECT_KEYS)]
        if case.scope not in SCOPES:
            problems.append(f"{where}: scope must be one of {SCOPES}")
        if case.scope == "partial" and not expect.get("uncovered"):
            problems.append(f"{where}: a partial goal needs 'uncovered'")
        for domain_id in expect.get("technologies", []):
            if domain_id not in catalog.domains:
                problems.append(f"{where}: technologies: no domain {domain_id!r}")
        for item in expect.get("absent", []):
            if item not in catalog.domains and item not in catalog.concepts:
                problems.append(f"{where}: absent: no domain or concept {item!r}")
        for key in ("known_absent", "first_stage_absent"):
            problems += [f"{where}: {key}: no concept {c!r}" for c in expect.get(key, []) if c not in catalog.concepts]
        for pair in expect.get("before", []):
            if len(pair) != 2 or any(c not in catalog.concepts for c in pair):
                problems.append(f"{where}: before: {pair!r} is not a pair of concept ids")
        for key in ("weeks", "hours_per_week"):
            if key in expect and not isinstance(expect[key], int):
                problems.append(f"{where}: {key} must be an integer")
    return problems


# -- running a goal --------------------------------------------------------------------------------


@dataclass
class Outcome:
    request: LearnerRequest
    intent: Intent | None = None
    roadmap: Roadmap | None = None
    out_of_scope: OutOfScope | None = None
    error: str | None = None


def run_request(request: LearnerRequest, catalog: Catalog, roadmap_id: str = "rm-quality") -> Outcome:
    outcome = Outcome(request=request)
    try:
        outcome.intent, outcome.roadmap = plan_request(request, catalog, roadmap_id)
    except OutOfScope as exc:
        outcome.out_of_scope = exc
    except Exception as exc:  # a report: a crash is a failure to show, not a reason to stop
        outcome.error = f"{type(exc).__name__}: {exc}"
    return outcome


# -- roadmap helpers -------------------------------------------------------------------------------


def core_concepts(roadmap: Roadmap) -> list[Concept]:
    """Non-optional concepts of non-optional stages, in roadmap order."""
    return [c for s in roadmap.stages if not s.optional for m in s.modules for c in m.concepts if not c.optional]


def optional_concepts(roadmap: Roadmap) -> list[Concept]:
    return [c for s in roadmap.stages for m in s.modules for c in m.concepts if s.optional or c.optional]


def states_number(text: str, number: int | float) -> bool:
    """``number`` written in ``text`` as a whole number ("13 weeks", "13 周"), not as part of another number."""
    written = f"{number:g}"
    return re.search(rf"(?<![0-9.]){re.escape(written)}(?![0-9]|\.[0-9])", text) is not None


def domain_members(domain_id: str, catalog: Catalog) -> set[str]:
    """The concepts that show a domain in a roadmap: a technology's own and goal concepts (which may live in
    another file); a role's or subject's own concepts only (its goal concepts are shared fundamentals such as Git),
    or its goal concepts when its file owns none."""
    domain = catalog.domains[domain_id]
    owned, goals = set(domain.concept_ids), set(domain.goal_concepts)
    if domain.kind == "technology":
        return owned | goals
    return owned or goals


def _warned_with(roadmap: Roadmap, number: int) -> bool:
    return any(states_number(w, number) for w in roadmap.warnings)


# -- the aspects -----------------------------------------------------------------------------------
# Each check returns the reasons it failed (empty: passed).


def check_follows_goal(roadmap: Roadmap, expect: dict[str, Any], catalog: Catalog) -> Reasons:
    reasons: Reasons = []
    ids = roadmap.concept_ids()
    present = set(ids)
    for domain_id in expect.get("technologies", []):
        if domain_id in catalog.domains and not present & domain_members(domain_id, catalog):
            reasons.append(f"no concept of {domain_id}")
    for item in expect.get("absent", []):
        if item in catalog.concepts:
            if item in present:
                reasons.append(f"has {item}, which was not asked for")
        elif item in catalog.domains:
            found = sorted(present & domain_members(item, catalog))
            if found:
                reasons.append(f"has {item} concepts, not asked for: {', '.join(found[:4])}")
    for concept_id in expect.get("known_absent", []):
        if concept_id in present:
            reasons.append(f"teaches {concept_id}, which the goal says is known")
    first = roadmap.stages[0] if roadmap.stages else None
    first_ids = {c.id for m in first.modules for c in m.concepts} if first else set()
    for concept_id in expect.get("first_stage_absent", []):
        if concept_id in first_ids:
            reasons.append(f"stage 1 has {concept_id}")
    position = {c: i for i, c in enumerate(ids)}
    for earlier, later in expect.get("before", []):
        if earlier in position and later in position and position[earlier] > position[later]:
            reasons.append(f"{later} comes before {earlier}")
    return reasons


def check_honest_scope(outcome: Outcome, case: GoalCase) -> Reasons:
    expected = case.scope
    uncovered = str(case.expect.get("uncovered", ""))
    if outcome.error:
        return [f"crashed: {outcome.error}"]
    if expected == "out":
        if outcome.roadmap is not None:
            return [f"got a roadmap ({outcome.roadmap.title!r}) instead of OutOfScope"]
        if outcome.out_of_scope is None:
            return ["neither a roadmap nor OutOfScope"]
        message = outcome.out_of_scope.message  # written in the goal's language
        if not message.strip():
            return ["OutOfScope has an empty message"]
        named = " ".join([message, *outcome.out_of_scope.uncovered]).lower()
        if uncovered and uncovered.lower() not in named:
            return [f"OutOfScope does not name {uncovered!r}: {message[:120]!r}"]
        return []
    if outcome.roadmap is None:
        uncovered_now = outcome.out_of_scope.uncovered if outcome.out_of_scope is not None else None
        return [f"OutOfScope (uncovered: {uncovered_now}) for an in-scope goal"]
    if expected == "partial" and not any(uncovered.lower() in w.lower() for w in outcome.roadmap.warnings):
        return [f"no warning names {uncovered!r} (warnings: {outcome.roadmap.warnings})"]
    return []


def check_fits_budget(roadmap: Roadmap, asked_weeks: int | None, asked_hours_per_week: int | None) -> Reasons:
    """The core fits the roadmap's own budget; a change from what was asked is stated with its number."""
    reasons: Reasons = []
    budget = roadmap.hours_per_week * roadmap.weeks
    if roadmap.total_hours > budget + HOURS_TOLERANCE:
        reasons.append(f"core {roadmap.total_hours:g} h > {roadmap.hours_per_week} h/week x {roadmap.weeks} weeks")
    full = [w.week for w in roadmap.schedule if w.hours > roadmap.hours_per_week + HOURS_TOLERANCE]
    if full:
        reasons.append(f"weeks over {roadmap.hours_per_week} h: {full[:5]}")
    if asked_weeks is not None and roadmap.weeks > asked_weeks and not _warned_with(roadmap, roadmap.weeks):
        reasons.append(f"{roadmap.weeks} weeks instead of the {asked_weeks} asked, and no warning says {roadmap.weeks}")
    if (asked_hours_per_week is not None and roadmap.hours_per_week != asked_hours_per_week
            and not _warned_with(roadmap, roadmap.hours_per_week)):
        reasons.append(f"{roadmap.hours_per_week} h/week instead of the {asked_hours_per_week} asked, unwarned")
    return reasons


def check_stated_budget(intent: Intent, expect: dict[str, Any]) -> Reasons:
    """The intent read the duration and weekly hours the goal states."""
    reasons: Reasons = []
    if "weeks" in expect:
        if intent.weeks != expect["weeks"]:
            reasons.append(f"intent has {intent.weeks} weeks, the goal states {expect['weeks']}")
        if not intent.weeks_stated:
            reasons.append("intent.weeks_stated is False for a goal that states a duration")
    if "hours_per_week" in expect and intent.hours_per_week != expect["hours_per_week"]:
        reasons.append(f"intent has {intent.hours_per_week} h/week, the goal states {expect['hours_per_week']}")
    return reasons


def check_consistent_numbers(roadmap: Roadmap) -> Reasons:
    reasons: Reasons = []
    if not (states_number(roadmap.title, roadmap.weeks) and states_number(roadmap.title, roadmap.hours_per_week)):
        reasons.append(f"title {roadmap.title!r} does not state {roadmap.weeks} weeks and "
                       f"{roadmap.hours_per_week} h/week")
    if not states_number(roadmap.summary, roadmap.weeks):
        reasons.append(f"summary does not state {roadmap.weeks} weeks: {roadmap.summary[:100]!r}")
    if len(roadmap.schedule) > roadmap.weeks:
        reasons.append(f"schedule has {len(roadmap.schedule)} weeks, the roadmap says {roadmap.weeks}")
    scheduled = sum(w.hours for w in roadmap.schedule)
    if abs(scheduled - roadmap.total_hours) > HOURS_TOLERANCE:
        reasons.append(f"schedule hours {scheduled:g} != total_hours {roadmap.total_hours:g}")
    core = core_concepts(roadmap)
    projects = [s.project for s in roadmap.stages if not s.optional and s.project is not None]
    core_hours = sum(c.hours for c in core) + sum(p.hours for p in projects)
    if abs(core_hours - roadmap.total_hours) > HOURS_TOLERANCE:
        reasons.append(f"total_hours {roadmap.total_hours:g} != core concepts + projects {core_hours:g}")
    in_schedule = {c for w in roadmap.schedule for c in w.concept_ids}
    core_ids = {c.id for c in core}
    optional_ids = {c.id for c in optional_concepts(roadmap)}
    if scheduled_optional := sorted(in_schedule & optional_ids):
        reasons.append(f"optional concepts scheduled: {scheduled_optional[:4]}")
    if missing := sorted(core_ids - in_schedule):
        reasons.append(f"core concepts not scheduled: {missing[:4]}")
    if extra := sorted(in_schedule - core_ids - optional_ids):
        reasons.append(f"schedule names concepts not in the roadmap: {extra[:4]}")
    scheduled_projects = {p for w in roadmap.schedule for p in w.project_ids}
    project_ids = {p.id for p in projects}
    if scheduled_projects != project_ids:
        reasons.append(f"scheduled projects {sorted(scheduled_projects)} != stage projects {sorted(project_ids)}")
    return reasons


def user_texts(roadmap: Roadmap) -> list[tuple[str, str]]:
    """(where, text) of every text a learner reads, concept names and resource titles excepted."""
    texts = [("title", roadmap.title), ("summary", roadmap.summary)]
    texts += [("warning", w) for w in roadmap.warnings] + [("note", n) for n in roadmap.notes]
    for stage in roadmap.stages:
        texts.append((f"stage {stage.id} name", stage.name))
        if stage.project is not None:
            project = stage.project
            texts += [(f"project {project.id} title", project.title),
                      (f"project {project.id} description", project.description)]
            texts += [(f"project {project.id} criterion", c) for c in project.acceptance_criteria]
        for module in stage.modules:
            texts.append((f"module {module.id} name", module.name))
            texts += [(f"concept {c.id} description", c.description) for c in module.concepts]
    return texts


def check_language(roadmap: Roadmap, language: Language, catalog: Catalog) -> Reasons:
    reasons: Reasons = []
    if roadmap.language != language:
        reasons.append(f"roadmap language {roadmap.language}, the goal is {language}")
    texts = user_texts(roadmap)
    concepts = roadmap.concepts()
    if language == "zh":
        zh_module_names = {m.name.zh for m in catalog.modules.values()}
        bare = [where for where, text in texts if not CJK.search(text)
                and not (where.startswith("module") and text in zh_module_names)]
        if bare:
            reasons.append(f"no Chinese in {len(bare)} texts: {', '.join(bare[:3])}")
        wrong = [c.id for c in concepts if c.id in catalog.concepts and c.name != catalog.concepts[c.id].name.zh]
        if wrong:
            reasons.append(f"concept names not the catalog's zh names: {wrong[:4]}")
    else:
        texts += [(f"concept {c.id} name", c.name) for c in concepts]
        texts += [(f"resource of {c.id}", r.title) for c in concepts for r in c.resources]
        chinese = [where for where, text in texts if CJK.search(text)]
        if chinese:
            reasons.append(f"Chinese in {len(chinese)} texts of an English roadmap: {', '.join(chinese[:3])}")
    return reasons


def check_prerequisites(roadmap: Roadmap, catalog: Catalog) -> Reasons:
    reasons = [f"validate_roadmap: {issue.code}: {issue.message}" for issue in validate_roadmap(roadmap)][:5]
    core = core_concepts(roadmap)
    position = {c.id: i for i, c in enumerate(core)}
    optional_ids = {c.id for c in optional_concepts(roadmap)}
    known = set(roadmap.assumed_known)
    for index, concept in enumerate(core):
        needs = set(concept.prerequisites)
        if concept.id in catalog.concepts:
            needs |= set(catalog.concepts[concept.id].prerequisites)
        for prerequisite in sorted(needs - known):
            if prerequisite in optional_ids:
                reasons.append(f"core {concept.id} depends on optional {prerequisite}")
            elif prerequisite not in position:
                reasons.append(f"core {concept.id} needs {prerequisite}: not in the core, not known")
            elif position[prerequisite] >= index:
                reasons.append(f"core {concept.id} comes before its prerequisite {prerequisite}")
    return reasons


def check_shape(roadmap: Roadmap, intent: Intent | None) -> Reasons:
    reasons: Reasons = []
    core_ids = {c.id for c in core_concepts(roadmap)}
    earlier: set[str] = set()
    for stage in roadmap.stages:
        stage_ids = {c.id for m in stage.modules for c in m.concepts}
        if not stage.optional:
            project = stage.project
            if project is None:
                reasons.append(f"stage {stage.id} has no project")
            else:
                if len(project.acceptance_criteria) < 2:
                    reasons.append(f"project {project.id} has {len(project.acceptance_criteria)} criteria")
                uses = set(project.concept_ids)
                if not uses & stage_ids:
                    reasons.append(f"project {project.id} uses none of stage {stage.id}'s concepts")
                if stray := sorted(uses - stage_ids - earlier - set(roadmap.assumed_known)):
                    reasons.append(f"project {project.id} uses concepts not taught by then: {stray[:3]}")
        earlier |= stage_ids & core_ids
        module_names = {m.name.strip().casefold() for m in stage.modules}
        if stage.name.strip().casefold() in module_names:
            reasons.append(f"stage {stage.id} is named like one of its modules: {stage.name!r}")
    names = [m.name.strip().casefold() for s in roadmap.stages for m in s.modules]
    if repeated := sorted({n for n in names if names.count(n) > 1}):
        reasons.append(f"module names repeated: {repeated[:3]}")
    optional_stages = [i for i, s in enumerate(roadmap.stages) if s.optional]
    if optional_stages and optional_stages != [len(roadmap.stages) - 1]:
        reasons.append("optional concepts are not in one final stage")
    stray_optional = [c.id for s in roadmap.stages if not s.optional for m in s.modules for c in m.concepts
                      if c.optional]
    if stray_optional:
        reasons.append(f"optional concepts inside core stages: {stray_optional[:3]}")
    if intent is not None and set(intent.domains) & DEVELOPER_ROLES:
        if GIT_CONCEPT not in core_ids and GIT_CONCEPT not in roadmap.assumed_known:
            reasons.append(f"a developer role plan ({', '.join(intent.domains)}) without {GIT_CONCEPT} in its core")
    return reasons


# -- one goal, all goals ---------------------------------------------------------------------------


@dataclass
class CaseResult:
    case: GoalCase
    outcome: Outcome
    aspects: dict[str, Reasons]  # only the aspects that apply


def _safely(check: Callable[[], Reasons]) -> Reasons:
    try:
        return check()
    except Exception as exc:  # a check that trips over a malformed roadmap reports it as that aspect's failure
        return [f"check crashed: {type(exc).__name__}: {exc}"]


def evaluate_case(case: GoalCase, catalog: Catalog, roadmap_id: str = "rm-quality") -> CaseResult:
    outcome = run_request(LearnerRequest(goal=case.goal), catalog, roadmap_id)
    aspects: dict[str, Reasons] = {"honest_scope": _safely(lambda: check_honest_scope(outcome, case))}
    roadmap, intent, expect = outcome.roadmap, outcome.intent, case.expect
    if roadmap is None or intent is None:
        if case.scope != "out" and any(k in expect for k in ("technologies", "known_absent", "before")):
            aspects["follows_goal"] = ["no roadmap"]
        return CaseResult(case, outcome, aspects)
    asked_weeks = expect.get("weeks", intent.weeks if intent.weeks_stated else None)
    asked_hours = expect.get("hours_per_week", intent.hours_per_week)
    aspects["follows_goal"] = _safely(lambda: check_follows_goal(roadmap, expect, catalog))
    aspects["fits_budget"] = _safely(lambda: check_stated_budget(intent, expect)
                                     + check_fits_budget(roadmap, asked_weeks, asked_hours))
    aspects["consistent_numbers"] = _safely(lambda: check_consistent_numbers(roadmap))
    aspects["language"] = _safely(lambda: check_language(roadmap, case.language, catalog))
    aspects["prerequisites"] = _safely(lambda: check_prerequisites(roadmap, catalog))
    aspects["shape"] = _safely(lambda: check_shape(roadmap, intent))
    return CaseResult(case, outcome, aspects)


@dataclass
class Report:
    results: list[CaseResult]

    def figures(self, aspect: str) -> tuple[int, int]:
        applied = [r.aspects[aspect] for r in self.results if aspect in r.aspects]
        return sum(1 for reasons in applied if not reasons), len(applied)

    def percent(self, aspect: str) -> float:
        passed, total = self.figures(aspect)
        return 100.0 * passed / total if total else 100.0

    def failures(self) -> list[tuple[str, str, str]]:
        return [(r.case.goal, aspect, "; ".join(reasons))
                for r in self.results for aspect in ASPECTS if (reasons := r.aspects.get(aspect))]

    def observations(self, catalog: Catalog) -> dict[str, str]:
        """Figures that are no aspect (nothing to pass) but say how a mentor would see the plans."""
        roadmaps = [(r.case, r.outcome.roadmap) for r in self.results if r.outcome.roadmap is not None]
        stated = [(c, rm) for c, rm in roadmaps if isinstance(c.expect.get("weeks"), int)]
        kept = sum(1 for c, rm in stated if rm.weeks <= c.expect["weeks"])
        catalog_projects = {p.id for d in catalog.domains.values() for p in d.projects}
        projects = [s.project for _, rm in roadmaps for s in rm.stages if s.project is not None]
        from_catalog = sum(1 for p in projects if p.id in catalog_projects)
        names = [s.name for _, rm in roadmaps for s in rm.stages if not s.optional]
        long_names = sum(1 for n in names if len(n) > STAGE_NAME_CHARS)
        hours = sorted(rm.total_hours for _, rm in roadmaps)
        return {
            "stated_duration_kept": f"{kept}/{len(stated)} goals that state a duration get a core that fits it",
            "catalog_projects": f"{from_catalog}/{len(projects)} stage projects come from the catalog "
                                "(the rest are generic 'put X into practice')",
            "long_stage_names": f"{long_names}/{len(names)} core stage names are longer than {STAGE_NAME_CHARS} "
                                "characters",
            "core_hours": (f"median {hours[len(hours) // 2]:g} h, max {hours[-1]:g} h" if hours else "no roadmaps"),
        }

    def as_json(self) -> dict[str, Any]:
        checks = [self.figures(a) for a in ASPECTS]
        passed, total = sum(p for p, _ in checks), sum(t for _, t in checks)
        percent = round(100.0 * passed / total, 1) if total else 100.0
        clean = sum(1 for r in self.results if not any(r.aspects.values()))
        return {
            "goals": len(self.results),
            "aspects": {a: {"passed": p, "total": t, "percent": round(self.percent(a), 1)}
                        for a, (p, t) in zip(ASPECTS, checks, strict=True)},
            "overall": {"passed": passed, "total": total, "percent": percent,
                        "goals_all_passed": clean, "lowest_aspect": min(ASPECTS, key=self.percent)},
            "failures": [{"goal": g, "aspect": a, "why": w} for g, a, w in self.failures()],
        }


def evaluate(cases: Iterable[GoalCase], catalog: Catalog) -> Report:
    return Report([evaluate_case(case, catalog, f"rm-quality-{i}") for i, case in enumerate(cases, start=1)])


# -- printing --------------------------------------------------------------------------------------


def print_report(report: Report, catalog: Catalog, out: Callable[[str], None] = print) -> None:
    data = report.as_json()
    out(f"roadmap quality on {data['goals']} goals")
    for aspect, figures in data["aspects"].items():
        out(f"{aspect:<20} {figures['passed']:>3}/{figures['total']:<3} {figures['percent']:5.1f}%")
    failures = data["failures"]
    out(f"\nfailures ({len(failures)}):" if failures else "\nno failures")
    for failure in failures:
        out(f"- [{failure['aspect']}] {failure['goal']!r}: {failure['why']}")
    out("\nobservations (not aspects):")
    for name, text in report.observations(catalog).items():
        out(f"- {name}: {text}")
    overall = data["overall"]
    out(f"\noverall: {overall['passed']}/{overall['total']} checks passed ({overall['percent']:.1f}%), "
        f"{overall['goals_all_passed']}/{data['goals']} goals pass every aspect, lowest aspect: "
        f"{overall['lowest_aspect']} ({data['aspects'][overall['lowest_aspect']]['percent']:.1f}%)")


def describe(result: CaseResult, out: Callable[[str], None] = print) -> None:
    """One goal's intent, plan and checks, for debugging."""
    outcome = result.outcome
    out(f"goal: {result.case.goal!r}")
    if outcome.error:
        out(f"error: {outcome.error}")
    if outcome.out_of_scope is not None:
        exc = outcome.out_of_scope
        out(f"OutOfScope: uncovered={exc.uncovered}\n  {exc.message}")
    if outcome.intent is not None:
        i = outcome.intent
        out(f"intent: domains={i.domains} technologies={i.technologies} defaulted={i.defaulted} "
            f"uncovered={i.uncovered} known={i.known_skills} level={i.level}\n"
            f"        {i.weeks} weeks (stated: {i.weeks_stated}), {i.hours_per_week} h/week, language={i.language}")
    if (roadmap := outcome.roadmap) is not None:
        out(f"title: {roadmap.title}\nsummary: {roadmap.summary}")
        out(f"weeks={roadmap.weeks} hours_per_week={roadmap.hours_per_week} total_hours={roadmap.total_hours:g} "
            f"schedule={len(roadmap.schedule)} weeks, assumed_known={roadmap.assumed_known}")
        for text in roadmap.warnings:
            out(f"warning: {text}")
        for text in roadmap.notes:
            out(f"note: {text}")
        for stage in roadmap.stages:
            out(f"[{stage.order}] {stage.name}{'  (optional)' if stage.optional else ''}")
            for module in stage.modules:
                concepts = ", ".join(f"{c.id} {c.hours:g}h{' opt' if c.optional else ''}" for c in module.concepts)
                out(f"    {module.name}: {concepts}")
            if stage.project is not None:
                p = stage.project
                out(f"    project {p.id} ({p.hours:g} h): {p.title} | criteria: {len(p.acceptance_criteria)} | "
                    f"uses {p.concept_ids}")
        for week in roadmap.schedule:
            out(f"    week {week.week}: {week.hours:g} h  {week.concept_ids} {week.project_ids}")
    for aspect in ASPECTS:
        if aspect in result.aspects:
            reasons = result.aspects[aspect]
            out(f"{aspect:<20} {'ok' if not reasons else 'FAIL: ' + '; '.join(reasons)}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--goal", help="show one goal's plan and checks (expectations from the file if listed)")
    parser.add_argument("--goals", type=Path, default=GOALS_FILE, help="the goal file (default: %(default)s)")
    args = parser.parse_args(argv)
    catalog = load_catalog()
    cases = load_goals(args.goals)
    if args.goal:
        listed = next((c for c in cases if c.goal == args.goal), GoalCase(goal=args.goal))
        describe(evaluate_case(listed, catalog))
        return 0
    problems = goal_file_problems(cases, catalog)
    report = evaluate(cases, catalog)
    if args.json:
        print(json.dumps({**report.as_json(), "observations": report.observations(catalog),
                          "goal_file_problems": problems}, ensure_ascii=False, indent=2))
        return 0
    for problem in problems:
        print(f"goal file: {problem}", file=sys.stderr)
    print_report(report, catalog)
    return 0


if __name__ == "__main__":
    sys.exit(main())
