"""Roadmap quality (issue 12): the evaluation of bench/quality.py as a regression guard, plus properties and examples.

The checks live once, in ``bench/quality.py`` (the report a person reads); this file imports them:
(a) every aspect of the goal file reaches 95%; (b) random keyword requests fit their budget (or say so), keep
their numbers consistent and validate; (c) the named-technology and scope examples of the issue; and the checks
themselves catch broken hand-made roadmaps (so a green figure means something).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roadmap_agent.domain.catalog import load_catalog
from roadmap_agent.domain.models import (
    Concept,
    Intent,
    Language,
    LearnerRequest,
    Module,
    Project,
    Roadmap,
    ScheduleWeek,
    Stage,
)
from roadmap_agent.domain.planning import plan_request
from roadmap_agent.domain.scope import OutOfScope
from roadmap_agent.domain.validation import validate_roadmap

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import quality  # bench/ is not a package: its folder is put on sys.path just above

CATALOG = load_catalog()
PASS_RATE = 0.95


# -- (a) the goal file, every aspect >= 95% ---------------------------------------------------------


@pytest.fixture(scope="module")
def report() -> quality.Report:
    return quality.evaluate(quality.load_goals(), CATALOG)


def test_the_goal_file_is_well_formed() -> None:
    cases = quality.load_goals()
    assert len(cases) >= 90
    chinese = sum(1 for c in cases if quality.goal_language(c.goal) == "zh")
    assert 0.35 <= chinese / len(cases) <= 0.5
    assert {c.scope for c in cases} == {"in", "partial", "out"}
    assert quality.goal_file_problems(cases, CATALOG) == []


@pytest.mark.parametrize("aspect", quality.ASPECTS)
def test_every_aspect_reaches_95_percent(report: quality.Report, aspect: str) -> None:
    passed, total = report.figures(aspect)
    assert total > 0
    failures = [f"{goal!r}: {why}" for goal, name, why in report.failures() if name == aspect]
    assert passed / total >= PASS_RATE, f"{aspect}: {passed}/{total}\n" + "\n".join(failures)


# -- (b) properties: budget and consistency for random keyword requests -----------------------------

KEYWORDS: list[tuple[str, str, Language]] = sorted(
    {(d.id, k, "en") for d in CATALOG.domains.values() for k in (*d.keywords_en, d.name.en)}
    | {(d.id, k, "zh") for d in CATALOG.domains.values() for k in (*(d.keywords_zh or d.keywords_en), d.name.zh)}
)


@st.composite
def keyword_requests(draw: st.DrawFn) -> LearnerRequest:
    _, keyword, language = draw(st.sampled_from(KEYWORDS))
    goal = f"learn {keyword}" if language == "en" else f"我想学习{keyword}"
    return LearnerRequest(goal=goal, hours_per_week=draw(st.integers(1, 40)), weeks=draw(st.integers(1, 52)),
                          language=language)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(request=keyword_requests())
def test_keyword_roadmaps_fit_their_budget_and_their_numbers_agree(request: LearnerRequest) -> None:
    outcome = quality.run_request(request, CATALOG)
    assert outcome.error is None
    assert outcome.roadmap is not None, f"a catalog keyword is out of scope: {outcome.out_of_scope}"
    roadmap = outcome.roadmap
    assert quality.check_fits_budget(roadmap, request.weeks, request.hours_per_week) == []
    assert quality.check_consistent_numbers(roadmap) == []
    assert validate_roadmap(roadmap) == []


# -- (c) examples of the issue ------------------------------------------------------------------------


def _plan(goal: str) -> tuple[Intent, Roadmap]:
    return plan_request(LearnerRequest(goal=goal), CATALOG, "rm-example")


def _has(roadmap: Roadmap, domain_id: str) -> set[str]:
    members: set[str] = quality.domain_members(domain_id, CATALOG)
    return set(roadmap.concept_ids()) & members


def test_swift_gives_ios_and_no_android() -> None:
    _, roadmap = _plan("learn iOS development with Swift and SwiftUI")
    assert _has(roadmap, "ios")
    assert not _has(roadmap, "android")


def test_vue_gives_vue_and_no_react() -> None:
    _, roadmap = _plan("learn Vue 3")
    assert _has(roadmap, "vue")
    assert not _has(roadmap, "react")


def test_express_gives_node_and_no_python_web_framework() -> None:
    _, roadmap = _plan("backend development with Node.js and Express")
    assert _has(roadmap, "nodejs")
    assert "backend.web_framework" not in roadmap.concept_ids()


def test_spring_boot_gives_java_spring() -> None:
    _, roadmap = _plan("Java and Spring Boot")
    assert _has(roadmap, "java_spring")


def test_spanish_is_out_of_scope() -> None:
    with pytest.raises(OutOfScope) as caught:
        _plan("learn Spanish")
    assert "Spanish" in caught.value.message or "spanish" in caught.value.message.lower()


def test_docker_in_three_weeks_at_five_hours_fits() -> None:
    _, roadmap = _plan("learn Docker in 3 weeks, 5 hours a week")
    assert roadmap.weeks == 3
    assert roadmap.total_hours <= 15


# -- the checks catch broken roadmaps (hand-made, independent of the planner) ------------------------


def _concept(concept_id: str, hours: float, prerequisites: list[str] | None = None,
             optional: bool = False) -> Concept:
    known = CATALOG.concepts[concept_id]
    return Concept(id=concept_id, name=known.name.en, description=known.description.en, hours=hours,
                   difficulty=known.difficulty, prerequisites=list(known.prerequisites if prerequisites is None
                                                               else prerequisites), optional=optional)


def _good_roadmap() -> Roadmap:
    """Git in 2 weeks at 5 h/week: 6 h of Git, 3 h of GitHub, a 1 h project; Helm as an optional extra."""
    git, github = _concept("devops.git", 6), _concept("devops.github_workflow", 3)
    project = Project(id="p1", title="A repository with history", description="Keep a small project in Git.",
                      hours=1, acceptance_criteria=["Ten commits with clear messages", "A merged pull request"],
                      concept_ids=["devops.git", "devops.github_workflow"])
    core = Stage(id="stage-1", name="Track and share code", order=1, project=project,
                 modules=[Module(id="m1", name="Version control", concepts=[git, github])])
    extra = Stage(id="stage-2", name="If you have time", order=2, optional=True,
                  modules=[Module(id="m2", name="Packaging", concepts=[_concept("devops.helm", 5, [], optional=True)])])
    return Roadmap(id="rm-hand", title="Git roadmap (2 weeks, 5 h/week)", summary="10 hours over 2 weeks.",
                   language="en", total_hours=10, weeks=2, hours_per_week=5, stages=[core, extra],
                   schedule=[ScheduleWeek(week=1, concept_ids=["devops.git"], hours=5),
                             ScheduleWeek(week=2, concept_ids=["devops.git", "devops.github_workflow"], hours=5,
                                          project_ids=["p1"])])


def test_a_good_hand_made_roadmap_passes_every_check() -> None:
    roadmap = _good_roadmap()
    assert quality.check_fits_budget(roadmap, 2, 5) == []
    assert quality.check_consistent_numbers(roadmap) == []
    assert quality.check_language(roadmap, "en", CATALOG) == []
    assert quality.check_shape(roadmap, None) == []
    assert quality.check_follows_goal(roadmap, {"technologies": ["git"], "absent": ["python"]}, CATALOG) == []


def test_the_checks_catch_broken_numbers() -> None:
    roadmap = _good_roadmap()
    roadmap.title = "Git roadmap"
    roadmap.schedule[1].concept_ids.append("devops.helm")
    reasons = quality.check_consistent_numbers(roadmap)
    assert any("title" in r for r in reasons)
    assert any("optional concepts scheduled" in r for r in reasons)
    roadmap = _good_roadmap()
    roadmap.schedule.pop()
    reasons = quality.check_consistent_numbers(roadmap)
    assert any("not scheduled" in r for r in reasons)
    assert any("schedule hours" in r for r in reasons)


def test_the_checks_catch_an_unwarned_overrun_and_a_full_week() -> None:
    roadmap = _good_roadmap()
    roadmap.weeks = 3
    roadmap.schedule[0].hours = 7
    reasons = quality.check_fits_budget(roadmap, 2, 5)
    assert any("3 weeks instead of the 2 asked" in r for r in reasons)
    assert any("weeks over" in r for r in reasons)
    roadmap.warnings = ["Over budget: the core needs 3 weeks at 5 h/week."]
    assert not any("instead of" in r for r in quality.check_fits_budget(roadmap, 2, 5))


def test_the_checks_catch_language_shape_and_order_problems() -> None:
    roadmap = _good_roadmap()
    roadmap.stages[0].name = "Version control"
    roadmap.stages[0].project = None
    roadmap.stages[0].modules[0].concepts.reverse()
    roadmap.summary = "两周"
    assert quality.check_language(roadmap, "en", CATALOG)
    assert quality.check_language(roadmap, "zh", CATALOG)
    shape = quality.check_shape(roadmap, None)
    assert any("named like one of its modules" in r for r in shape)
    assert any("no project" in r for r in shape)
    assert any("comes before its prerequisite" in r for r in quality.check_prerequisites(roadmap, CATALOG))
    expect = {"technologies": ["python"], "absent": ["git"], "known_absent": ["devops.git"],
              "before": [["devops.github_workflow", "devops.git"]], "first_stage_absent": ["devops.git"]}
    assert len(quality.check_follows_goal(_good_roadmap(), expect, CATALOG)) == 5


def test_a_developer_role_plan_without_git_fails_shape() -> None:
    roadmap = _good_roadmap()
    intent = Intent(goal="become a backend developer", domains=["backend"])
    assert quality.check_shape(roadmap, intent) == []
    roadmap.stages[0].modules[0].concepts.pop(0)
    assert any("devops.git" in r for r in quality.check_shape(roadmap, intent))
