"""A model's answers become catalog-grounded intents, roadmaps and edits (no IO)."""

from __future__ import annotations

from datetime import date
from typing import cast

import pytest

from roadmap_agent.domain.catalog import load_catalog
from roadmap_agent.domain.models import Intent, LearnerRequest
from roadmap_agent.domain.validation import auto_fix, validate_roadmap
from roadmap_agent.llm.answers import CurriculumAnswer, EditAnswer, IntentAnswer
from roadmap_agent.llm.client import Completion, LLMClient
from roadmap_agent.llm.grounding import GroundingError, Names, apply_answer, intent_from, roadmap_from
from roadmap_agent.llm.openai_planner import LLMPlanner
from roadmap_agent.settings import LLMSettings

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
                                     {"id": "backend.http_basics", "name": "HTTP"},
                                     {"id": "backend.client_server", "name": "Client and server"}),  # needs DNS
                         INTENT, NAMES, "rm-1")
    issues = {issue.code for issue in validate_roadmap(draft)}
    assert "prerequisite_order" in issues and "missing_prerequisite" in issues
    fixed = auto_fix(draft, CATALOG, INTENT.domains, INTENT.level)
    assert validate_roadmap(fixed) == []
    order = fixed.concept_ids()
    assert order.index("backend.http_basics") < order.index("backend.rest_api_design")
    assert order.index("cs_fundamentals.dns") < order.index("backend.client_server")


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
    edited, report = apply_answer(answer, draft, INTENT, NAMES)
    # skipped, not known (issue 13)
    assert "backend.http_basics" not in edited.concept_ids() and "backend.http_basics" in edited.skipped
    assert "backend.http_basics" not in edited.assumed_known
    assert "devops.kubernetes" in edited.concept_ids()
    assert edited.weeks == 8 or edited.requested_weeks == 8
    assert [n.text for n in report.not_understood] == ["Underwater basket weaving"]
    assert {c.kind for c in report.applied} >= {"skipped", "added", "retimed", "duration"}
    assert report.diff.removed and report.diff.added


def test_the_new_edit_kinds_from_a_model_answer() -> None:
    draft = roadmap_from(_curriculum({"id": "backend.http_basics", "name": "HTTP"},
                                     {"id": "backend.rest_api_design", "name": "REST"}), INTENT, NAMES, "rm-1")
    answer = EditAnswer.model_validate({
        "known": ["HTTP fundamentals"], "finish_by": "2026-03-01", "level": "harder", "resources": ["reading"],
        "start_with": ["backend.rest_api_design"], "more_projects": True, "not_understood": ["banana purple"]})
    edited, report = apply_answer(answer, draft, INTENT, NAMES, today=date(2026, 1, 1))
    assert "backend.http_basics" in edited.assumed_known and edited.level == "intermediate"
    assert edited.weeks == 9 or edited.requested_weeks == 9  # 59 days
    assert edited.resource_preferences == ["reading"] and edited.ordering
    kinds = [c.kind for c in report.applied]
    assert {"known", "duration", "level", "resources", "order"} <= set(kinds)
    assert "banana purple" in [n.text for n in report.not_understood]


def _staged(*stages: dict[str, object]) -> CurriculumAnswer:
    return CurriculumAnswer.model_validate({"title": "Backend", "stages": list(stages)})


PROJECT = {"title": "An HTTP inspector", "description": "Print what a server answers.", "hours": 3,
           "acceptance_criteria": ["prints the status line", "prints every header"]}


def test_optional_concepts_go_to_an_optional_stage_outside_the_schedule() -> None:
    roadmap = roadmap_from(_staged(
        {"name": "Extras first", "modules": [{"name": "X", "concepts": [
            {"id": "backend.graphql", "name": "GraphQL", "optional": True}]}]},
        {"name": "Speak HTTP", "modules": [{"name": "Web", "concepts": [
            {"id": "backend.http_basics", "name": "HTTP"}, {"id": "backend.grpc", "name": "gRPC", "optional": True},
            {"id": "backend.rest_api_design", "name": "REST"}]}]},
    ), INTENT, NAMES, "rm-1")
    *core, last = roadmap.stages
    assert last.optional and {c.id for m in last.modules for c in m.concepts} == {"backend.graphql", "backend.grpc"}
    assert all(c.optional and not c.core for m in last.modules for c in m.concepts)
    assert [s.name for s in core] == ["Speak HTTP"] and not core[0].optional  # the all-optional stage is gone
    assert [c.id for m in core[0].modules for c in m.concepts] == ["backend.http_basics", "backend.rest_api_design"]
    scheduled = {c for week in roadmap.schedule for c in week.concept_ids}
    assert scheduled == {"backend.http_basics", "backend.rest_api_design"}  # optional ones are not scheduled
    core_hours = sum(c.hours for m in core[0].modules for c in m.concepts) + (core[0].project.hours
                                                                              if core[0].project else 0)
    assert sum(week.hours for week in roadmap.schedule) == pytest.approx(core_hours)
    assert validate_roadmap(roadmap) == []


def test_a_models_stage_project_is_kept_and_a_stage_without_one_gets_ours() -> None:
    roadmap = roadmap_from(_staged(
        {"name": "Extras", "modules": [{"name": "X", "concepts": [
            {"id": "backend.graphql", "name": "GraphQL", "optional": True}]}]},
        {"name": "Speak HTTP", "modules": [{"name": "Web", "concepts": [
            {"id": "backend.http_basics", "name": "HTTP"}, {"id": "backend.grpc", "name": "gRPC", "optional": True}]}],
         "project": PROJECT},
        {"name": "Design APIs", "modules": [{"name": "REST", "concepts": [
            {"id": "backend.rest_api_design", "name": "REST"}]}],
         "project": {"title": "A vague idea", "acceptance_criteria": ["works"]}},  # nothing to check: ours instead
    ), INTENT, NAMES, "rm-1")
    first, second = (s for s in roadmap.stages if not s.optional)
    assert first.project is not None and second.project is not None
    assert first.project.title == "An HTTP inspector" and first.project.hours == 3
    assert first.project.acceptance_criteria == PROJECT["acceptance_criteria"]
    assert first.project.concept_ids == ["backend.http_basics"]  # not gRPC, which went to the optional stage
    assert second.project.title != "A vague idea" and len(second.project.acceptance_criteria) >= 2
    ids = [first.project.id, second.project.id, *(m.id for s in roadmap.stages for m in s.modules)]
    assert len(ids) == len(set(ids))  # renumbered stages keep their projects and modules apart
    assert {p for week in roadmap.schedule for p in week.project_ids} == {first.project.id, second.project.id}


class _Recorder:
    """An LLM client that records the prompts and answers with a one-concept curriculum."""

    def __init__(self) -> None:
        self.prompts: list[str] = []

    async def complete(self, step: str, model: str, messages: list[dict[str, str]],
                       schema: dict[str, object]) -> Completion:
        self.prompts.append("\n".join(m["content"] for m in messages))
        body = _curriculum({"id": "backend.http_basics", "name": "HTTP"}).model_dump_json()
        return Completion(text=body, model=model, response_format="json_schema", prompt_tokens=1,
                          completion_tokens=1, truncated=False)

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float | None:
        return None


async def _curriculum_prompt(intent: Intent) -> str:
    client = _Recorder()
    planner = LLMPlanner(cast(LLMClient, client), CATALOG, LLMSettings(base_url="http://llm.test/v1", model="m"))
    await planner.design_curriculum(intent, "rm-1")
    (prompt,) = client.prompts
    return prompt


def _line(prompt: str, start: str) -> str:
    return next(line for line in prompt.splitlines() if line.strip().startswith(start))


async def test_the_curriculum_prompt_names_the_technologies_and_the_alternatives_to_leave_out() -> None:
    go = Intent(goal="backend development with Go and Docker", domains=["backend", "golang", "docker"],
                technologies=["golang", "docker"], hours_per_week=10, weeks=13)
    prompt = await _curriculum_prompt(go)
    assert _line(prompt, "Technologies:") == "Technologies: Go, Docker"
    left_out = _line(prompt, "Never teach").split(": ", 1)[1].rstrip(".").split(", ")
    assert "Python" in left_out and "Node.js" in left_out and "Go" not in left_out and "Docker" not in left_out
    # A model's intent often names only the role (and the learner knows Python): the plan is built on Python,
    # so the prompt must name it, not forbid it.
    prompt = await _curriculum_prompt(INTENT)
    assert "Python" in _line(prompt, "Technologies:") and "Python" not in _line(prompt, "Never teach")
    assert "Node.js" in _line(prompt, "Never teach")
