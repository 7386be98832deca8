"""Curriculum design, scheduling and validation: every generated roadmap satisfies the invariants."""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roadmap_agent.domain.catalog import Catalog, load_catalog
from roadmap_agent.domain.models import Concept, Intent, LearnerRequest, Roadmap
from roadmap_agent.domain.planning import OVER_BUDGET_PREFIX, design_curriculum, plan_request, trim_candidates
from roadmap_agent.domain.validation import auto_fix, validate_roadmap

CATALOG = load_catalog()
DOMAINS = sorted(CATALOG.domains)
CONCEPTS = sorted(CATALOG.concepts)


@st.composite
def intents(draw: st.DrawFn) -> Intent:
    domains = draw(st.lists(st.sampled_from(DOMAINS), min_size=1, max_size=3, unique=True))
    known = draw(st.lists(st.sampled_from(CONCEPTS + DOMAINS), max_size=6, unique=True))
    return Intent(goal="property test", domains=domains, known_skills=known,
                  level=draw(st.sampled_from(["beginner", "intermediate", "advanced"])),
                  hours_per_week=draw(st.integers(1, 80)), weeks=draw(st.integers(1, 156)),
                  language=draw(st.sampled_from(["en", "zh"])))


def _positions(roadmap: Roadmap) -> dict[str, int]:
    return {c: i for i, c in enumerate(roadmap.concept_ids())}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(intent=intents())
def test_every_generated_roadmap_satisfies_the_invariants(intent: Intent) -> None:
    roadmap = design_curriculum(intent, CATALOG, "rm-test")
    assert validate_roadmap(roadmap) == []
    positions = _positions(roadmap)
    known = set(roadmap.assumed_known)
    for index, concept in enumerate(roadmap.concepts()):
        for prerequisite in concept.prerequisites:
            assert prerequisite in known or positions[prerequisite] < index
    assert all(stage.modules and all(m.concepts for m in stage.modules) for stage in roadmap.stages)
    assert not known & set(positions), "a known skill was taught again"
    over = roadmap.total_hours > intent.hours_per_week * intent.weeks
    warned = any(w.startswith(OVER_BUDGET_PREFIX[intent.language]) for w in roadmap.warnings)
    assert over == warned
    assert sum(w.hours for w in roadmap.schedule) == pytest.approx(roadmap.total_hours, abs=0.05)
    assert all(w.hours <= intent.hours_per_week + 1e-6 for w in roadmap.schedule)


@settings(max_examples=60, deadline=None)
@given(intent=intents(), seed=st.integers(0, 2**16))
def test_auto_fix_repairs_a_broken_roadmap(intent: Intent, seed: int) -> None:
    roadmap = design_curriculum(intent, CATALOG, "rm-test")
    broken = _break(roadmap, random.Random(seed))
    fixed = auto_fix(broken, CATALOG, intent.domains, intent.level)
    assert validate_roadmap(fixed) == []


def _break(roadmap: Roadmap, rng: random.Random) -> Roadmap:
    """Shuffle concepts across modules, drop one concept others need, add an empty module."""
    broken = roadmap.model_copy(deep=True)
    concepts = [c for s in broken.stages for m in s.modules for c in m.concepts]
    needed = {p for c in concepts for p in c.prerequisites}
    droppable = [c for c in concepts if c.id in needed]
    if droppable and len(concepts) > 1:
        concepts.remove(rng.choice(droppable))
    rng.shuffle(concepts)
    modules = [m for s in broken.stages for m in s.modules]
    for module in modules:
        module.concepts = []
    for concept in concepts:
        rng.choice(modules).concepts.append(concept)
    broken.schedule = broken.schedule[: len(broken.schedule) // 2]
    broken.warnings = []
    return broken


def test_validation_reports_each_broken_invariant() -> None:
    intent = Intent(goal="g", domains=["backend"], hours_per_week=5, weeks=2)
    roadmap = design_curriculum(intent, CATALOG, "rm-x")
    assert validate_roadmap(roadmap) == []
    broken = roadmap.model_copy(deep=True)
    first_module = broken.stages[0].modules[0]
    first, second = first_module.concepts[0], broken.concepts()[-1]
    first.prerequisites.append(second.id)                 # first now needs something that comes later ...
    second.prerequisites.append(first.id)                 # ... which needs it back: a cycle
    broken.stages[-1].modules.append(first_module.model_copy(update={"id": "empty", "concepts": []}))
    broken.warnings, broken.weeks = [], 1                  # over budget without saying so
    codes = {issue.code for issue in validate_roadmap(broken)}
    assert {"prerequisite_order", "cycle", "empty_module", "over_budget"} <= codes


def test_known_skills_are_removed_and_goal_shapes_the_plan(catalog: Catalog = CATALOG) -> None:
    beginner = design_curriculum(Intent(goal="g", domains=["backend"]), catalog, "a")
    knows_python = design_curriculum(Intent(goal="g", domains=["backend"], known_skills=["python"]), catalog, "b")
    assert "python.syntax" in beginner.concept_ids()
    assert "python.syntax" not in knows_python.concept_ids()
    assert knows_python.total_hours < beginner.total_hours
    assert "devops.docker" in beginner.concept_ids()
    assert "devops.kubernetes" not in beginner.concept_ids()


def test_a_tight_budget_warns_with_what_to_trim() -> None:
    roadmap = design_curriculum(Intent(goal="g", domains=["machine_learning"], hours_per_week=2, weeks=4),
                                CATALOG, "rm-tight")
    warning = next(w for w in roadmap.warnings if w.startswith("Over budget:"))
    # 182.5 h into 8 h: no handful of topics closes that; the warning says so instead of naming six
    assert "or trim:" not in warning and "dropping a few topics would not close the gap" in warning
    assert roadmap.weeks > 4 and f"takes {roadmap.weeks} weeks" in warning and roadmap.requested_weeks == 4
    assert f"({roadmap.weeks} weeks" in roadmap.title and len(roadmap.schedule) <= roadmap.weeks


def test_chinese_roadmap_uses_chinese_names() -> None:
    roadmap = design_curriculum(Intent(goal="g", domains=["python"], language="zh"), CATALOG, "rm-zh")
    assert roadmap.title.endswith("）") and "学习路线" in roadmap.title
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in c.name + c.description) for c in roadmap.concepts())


def test_a_clamped_value_is_said_in_the_roadmap_too() -> None:
    intent, roadmap = plan_request(LearnerRequest(goal="learn Go, 1000 hours a week"), CATALOG, "rm-clamped")
    assert intent.hours_per_week == 80 and roadmap.hours_per_week == 80
    assert any("1000" in note and "80" in note for note in roadmap.notes)


def test_trimming_peels_back_to_prerequisites_until_the_excess_is_covered() -> None:
    """Dropping the last of a chain frees the one before it: a 10 h excess over a 3-concept chain of 4 h each
    names all three (it named only the last, 4 h, as if that were enough)."""
    chain = [Concept(id=f"c{i}", name=f"C{i}", description="", hours=4, difficulty="beginner",
                     prerequisites=[f"c{i - 1}"] if i else []) for i in range(3)]
    assert [c.id for c in trim_candidates(chain, 10)] == ["c2", "c1", "c0"]
    assert [c.id for c in trim_candidates(chain, 4)] == ["c2"]


@pytest.mark.parametrize("goal", ["learn Angular in 10 weeks",
                                  "become a backend developer in 3 months, 10 hours a week",
                                  "我想两个月学会 React，每周 8 小时"])
def test_an_over_budget_warning_names_enough_to_trim_or_none_at_all(goal: str) -> None:
    _, roadmap = plan_request(LearnerRequest(goal=goal), CATALOG, "rm-trim")
    warning = next(w for w in roadmap.warnings if w.startswith(OVER_BUDGET_PREFIX[roadmap.language]))
    excess = roadmap.total_hours - roadmap.hours_per_week * (roadmap.requested_weeks or roadmap.weeks)
    named = [float(h) for h in re.findall(r"[(（](\d+(?:\.\d+)?) (?:h|小时)[)）]", warning)]
    assert not named or sum(named) >= excess, (warning, excess)


def test_a_small_excess_names_topics_that_cover_it() -> None:
    """Budgets just under what the core needs: the first over-budget plan names topics, and they cover it."""
    for hours in range(60, 5, -1):
        roadmap = design_curriculum(Intent(goal="g", domains=["python"], hours_per_week=hours, weeks=2), CATALOG,
                                    "rm-small")
        warning = next((w for w in roadmap.warnings if w.startswith("Over budget:")), None)
        if warning is not None:
            break
    assert warning is not None and "or trim:" in warning, warning
    named = [float(h) for h in re.findall(r"\((\d+(?:\.\d+)?) h\)", warning)]
    assert sum(named) >= roadmap.total_hours - 2 * hours, warning


def test_a_profile_skill_the_roadmap_is_not_about_is_kept_but_not_said_to_be_skipped() -> None:
    from roadmap_agent.domain.render import roadmap_to_markdown

    sql = [c for c in CATALOG.concepts if CATALOG.domain_of(c) == "databases"]
    frontend = LearnerRequest(goal="我想半年内成为前端工程师，每周 12 小时", profile_skills=["sql"])
    _, roadmap = plan_request(frontend, CATALOG, "f")
    assert set(roadmap.assumed_known) & set(sql), "the profile's SQL is still recorded (the skill profile reads it)"
    for shown in (roadmap.summary, roadmap_to_markdown(roadmap)):
        assert not [c for c in sql if CATALOG.concepts[c].name.get("zh") in shown], shown
    data = LearnerRequest(goal="data engineering in 4 months, I know SQL, 8 hours a week")
    _, roadmap = plan_request(data, CATALOG, "d")
    assert "Skips what you already know: " in roadmap.summary and "...." not in roadmap.summary
    assert " more." in roadmap.summary  # more known SQL concepts than one sentence names
    assert CATALOG.relevant_known(["databases.sql_basics", "frontend.html_css"], ["databases.sql_joins"]) == [
        "databases.sql_basics"]
