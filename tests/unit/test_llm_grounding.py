"""A model's answers become catalog-grounded intents, roadmaps and edits (no IO)."""

from __future__ import annotations

import pytest

from roadmap_agent.domain.catalog import load_catalog
from roadmap_agent.domain.models import Intent, LearnerRequest
from roadmap_agent.domain.validation import auto_fix, validate_roadmap
from roadmap_agent.llm.answers import CurriculumAnswer, EditAnswer, IntentAnswer
from roadmap_agent.llm.grounding import GroundingError, Names, apply_answer, intent_from, roadmap_from

CATALOG = load_catalog()
NAMES = Names(CATALOG)
INTENT = Intent(goal="backend", domains=["backend"], known_skills=["python"], hours_per_week=10, weeks=13)


def _curriculum(*concepts: dict[str, object], title: str = "Backend") -> CurriculumAnswer:
    return CurriculumAnswer.model_validate(
        {"title": title, "stages": [{"name": "All", "modules": [{"name": "One", "concepts": list(concepts)}]}]})


@pytest.mark.parametrize("named", ["backend.http_basics", "HTTP fundamentals", "http fundamentals", "HTTP 基础"])
def test_a_concept_named_by_id_or_name_in_either_language_takes_the_catalog_entry(named: str) -> None:
    roadmap = roadmap_from(_curriculum({"name": named, "hours": 99, "prerequisites": ["made.up"]}), INTENT, NAMES,
                           "rm-1")
    concept = roadmap.concepts()[0]
    catalog = CATALOG.concepts["backend.http_basics"]
    assert concept.id == "backend.http_basics" and concept.name == catalog.name.en
    assert concept.hours == catalog.hours  # the catalog's hours, not the model's 99
    assert concept.prerequisites == list(catalog.prerequisites) and concept.resources


def test_an_unknown_concept_is_kept_but_sanitised() -> None:
    roadmap = roadmap_from(_curriculum(
        {"id": "backend.http_basics", "name": "HTTP"},
        {"name": "Capstone: ship a service!", "hours": 500, "difficulty": "advanced",
         "prerequisites": ["HTTP fundamentals", "quantum.teleportation", "Capstone: ship a service!"]},
    ), INTENT, NAMES, "rm-1")
    custom = roadmap.concepts()[1]
    assert custom.id == "custom.capstone-ship-a-service" and custom.name == "Capstone: ship a service!"
    assert custom.hours == 40  # clamped
    assert custom.prerequisites == ["backend.http_basics"]  # the name resolved; invented and self links dropped
    assert custom.resources == []  # no model-made links


def test_known_and_duplicate_concepts_are_left_out() -> None:
    roadmap = roadmap_from(_curriculum({"id": "python.syntax", "name": "Python syntax"},
                                       {"id": "backend.http_basics", "name": "HTTP"},
                                       {"name": "HTTP fundamentals"}), INTENT, NAMES, "rm-1")
    assert roadmap.concept_ids() == ["backend.http_basics"]
    assert "python.syntax" in roadmap.assumed_known


def test_nothing_usable_is_an_error_the_model_can_fix() -> None:
    with pytest.raises(GroundingError, match="no usable concept"):
        roadmap_from(_curriculum({"id": "python.syntax", "name": "Python syntax"}), INTENT, NAMES, "rm-1")


def test_a_badly_ordered_draft_is_caught_and_fixed_by_the_normal_loop() -> None:
    draft = roadmap_from(_curriculum({"id": "backend.rest_api_design", "name": "REST"},
                                     {"id": "backend.http_basics", "name": "HTTP"}), INTENT, NAMES, "rm-1")
    issues = {issue.code for issue in validate_roadmap(draft)}
    assert "prerequisite_order" in issues and "missing_prerequisite" in issues
    fixed = auto_fix(draft, CATALOG, INTENT.domains, INTENT.level)
    assert validate_roadmap(fixed) == []
    order = fixed.concept_ids()
    assert order.index("backend.http_basics") < order.index("backend.rest_api_design")


def test_over_budget_drafts_say_what_to_trim() -> None:
    small = INTENT.model_copy(update={"hours_per_week": 1, "weeks": 2})
    roadmap = roadmap_from(_curriculum({"id": "backend.http_basics", "name": "HTTP"},
                                       {"id": "backend.rest_api_design", "name": "REST"}), small, NAMES, "rm-1")
    assert roadmap.warnings and roadmap.warnings[0].startswith("Over budget:")


def test_chinese_roadmaps_use_chinese_catalog_names() -> None:
    intent = INTENT.model_copy(update={"language": "zh"})
    roadmap = roadmap_from(_curriculum({"name": "HTTP 基础"}, title="后端路线"), intent, NAMES, "rm-1")
    assert roadmap.language == "zh" and roadmap.concepts()[0].name == "HTTP 基础"


def test_intent_domains_map_by_name_and_request_fields_win() -> None:
    answer = IntentAnswer(domains=["Backend development", "后端开发", "astrology"], level="advanced",
                          known_skills=["Python"], hours_per_week=500, weeks=13)
    request = LearnerRequest(goal="backend please", level="beginner")
    intent = intent_from(answer, request, NAMES, "en")
    assert intent.domains == ["backend"] and intent.level == "beginner"
    assert intent.hours_per_week == 80 and intent.weeks == 13 and "python" in intent.known_skills


def test_an_intent_without_a_catalog_domain_is_refused() -> None:
    with pytest.raises(GroundingError, match="catalog domain"):
        intent_from(IntentAnswer(domains=["astrology"]), LearnerRequest(goal="stars"), NAMES, "en")


def test_edits_apply_through_the_domain_and_report_what_matched_nothing() -> None:
    draft = roadmap_from(_curriculum({"id": "backend.http_basics", "name": "HTTP"},
                                     {"id": "backend.rest_api_design", "name": "REST"}), INTENT, NAMES, "rm-1")
    answer = EditAnswer(skip=["HTTP fundamentals"], add=["Kubernetes", "Underwater basket weaving"],
                        more_time=["backend.rest_api_design"], weeks=8)
    edited, changes = apply_answer(answer, draft, INTENT, NAMES)
    assert "backend.http_basics" not in edited.concept_ids() and "backend.http_basics" in edited.assumed_known
    assert "devops.kubernetes" in edited.concept_ids() and edited.weeks == 8
    assert any("Underwater basket weaving" in change for change in changes)
    assert len(changes) >= 4
