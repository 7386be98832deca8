"""The model planner's pieces without a server: prompts, answer parsing, retry rules, the fallback net."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import httpx2  # openai 3.x transport: its exceptions carry httpx2 requests and responses
import openai
import pytest

from roadmap_agent.breaker import CircuitBreaker
from roadmap_agent.domain.catalog import load_catalog
from roadmap_agent.domain.changes import EditReport
from roadmap_agent.domain.models import Intent, LearnerRequest, Roadmap
from roadmap_agent.errors import InvalidModelOutput, LLMUnavailable
from roadmap_agent.llm.answers import IntentAnswer
from roadmap_agent.llm.base import PlannerNote, collect_notes
from roadmap_agent.llm.client import Completion, is_transient, retry_after
from roadmap_agent.llm.fallback import FallbackPlanner
from roadmap_agent.llm.offline import OfflinePlanner
from roadmap_agent.llm.openai_planner import describe_problem, parse_answer
from roadmap_agent.llm.templates import PROMPT_VERSION, render
from roadmap_agent.settings import Settings
from roadmap_agent.workflow.graph import _with_planner_notes

PROMPTS = Path(__file__).resolve().parents[2] / "src" / "roadmap_agent" / "llm" / "prompts"
STEPS = ("intent_analysis", "curriculum_design", "roadmap_edit", "repair")
VALUES = {"goal": "G", "hints": "", "domains": "D", "schema": "{}", "catalog": "C", "level": "beginner",
          "hours_per_week": "10", "weeks": "13", "budget": "130", "known": "-", "roadmap": "R", "feedback": "F",
          "problem": "P", "technologies": "T", "excluded": "X", "today": "2026-01-01"}


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("language", ["en", "zh"])
def test_every_prompt_renders_in_both_languages(step: str, language: Any) -> None:
    messages = render(step, language, **VALUES)
    text = "\n".join(m["content"] for m in messages)
    assert messages[-1]["role"] == "user" and "$" not in text
    assert any("\u4e00" <= ch <= "\u9fff" for ch in text) == (language == "zh")
    assert (PROMPTS / f"{step}.{PROMPT_VERSION}.{language}.txt").is_file()


def test_a_missing_prompt_value_is_an_error_not_a_blank() -> None:
    with pytest.raises(KeyError):
        render("intent_analysis", "en", goal="only the goal")


def _completion(text: str, truncated: bool = False) -> Completion:
    return Completion(text=text, model="m", response_format="json_object", prompt_tokens=1, completion_tokens=1,
                      truncated=truncated)


def test_answers_are_found_inside_fences_and_thinking() -> None:
    body = json.dumps({"domains": ["backend"]})
    for text in (body, f"```json\n{body}\n```", f"<think>is it {{this}}? no.</think>\n{body}",
                 f"Sure! Here it is:\n{body}\nHope it helps."):
        assert parse_answer(_completion(text), IntentAnswer).domains == ["backend"]


@pytest.mark.parametrize(("text", "said"), [
    ('{"domains": ["backend"], "level": ', "not valid JSON"),
    ("I cannot help with that.", "no JSON object"),
    ('{"domains": [], "level": "guru"}', "does not follow the schema"),
])
def test_invalid_answers_get_a_sentence_for_the_repair_round(text: str, said: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_answer(_completion(text), IntentAnswer)
    assert said in describe_problem(caught.value, _completion(text))


def test_a_truncated_answer_is_told_to_be_shorter() -> None:
    text = '{"domains": ["backend"'
    with pytest.raises(ValueError) as caught:
        parse_answer(_completion(text, truncated=True), IntentAnswer)
    assert "cut off" in describe_problem(caught.value, _completion(text, truncated=True))


def _status_error(status: int, headers: dict[str, str] | None = None) -> openai.APIStatusError:
    request = httpx2.Request("POST", "http://llm.test/v1/chat/completions")
    response = httpx2.Response(status, headers=headers or {}, request=request)
    return openai.APIStatusError(f"HTTP {status}", response=response, body=None)


@pytest.mark.parametrize(("status", "retried"), [(429, True), (500, True), (503, True), (408, True), (400, False),
                                                 (401, False), (404, False), (422, False)])
def test_only_transient_statuses_are_retried(status: int, retried: bool) -> None:
    assert is_transient(_status_error(status)) is retried


def test_timeouts_and_connection_errors_are_retried_and_retry_after_is_read() -> None:
    request = httpx2.Request("POST", "http://llm.test/v1/chat/completions")
    assert is_transient(openai.APITimeoutError(request)) and is_transient(openai.APIConnectionError(request=request))
    assert retry_after(_status_error(429, {"Retry-After": "2"})) == 2.0
    assert retry_after(_status_error(429, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0.0


def test_the_step_model_overrides_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_BASE_URL", "http://llm.test/v1")
    monkeypatch.setenv("LLM_MODEL", "small")
    monkeypatch.setenv("LLM_MODEL_CURRICULUM", "large")
    llm = Settings.load(env_file=None).llm
    assert llm.enabled and llm.model_for("curriculum_design") == "large" and llm.model_for("roadmap_edit") == "small"
    monkeypatch.delenv("LLM_MODEL")
    assert not Settings.load(env_file=None).llm.enabled  # a base URL alone keeps the offline planner


# -- the fallback net ------------------------------------------------------------------------------


class _Model:
    name = "llm"

    def __init__(self, error: Exception | None) -> None:
        self.error = error
        self.calls = 0

    async def analyze_intent(self, request: LearnerRequest) -> Intent:
        self.calls += 1
        if self.error:
            raise self.error
        return Intent(goal=request.goal, domains=["frontend"])

    async def design_curriculum(self, intent: Intent, roadmap_id: str) -> Roadmap:
        raise NotImplementedError

    async def edit_roadmap(self, roadmap: Roadmap, intent: Intent, feedback: str,
                           today: date | None = None) -> tuple[Roadmap, EditReport]:
        raise NotImplementedError


def _planner(model: _Model, failures: int = 2) -> FallbackPlanner:
    return FallbackPlanner(model, OfflinePlanner(load_catalog()), step_timeout=5,
                           breaker=CircuitBreaker(failures, reset_after=60))


async def test_the_model_answers_when_it_can() -> None:
    with collect_notes() as notes:
        intent = await _planner(_Model(None)).analyze_intent(LearnerRequest(goal="become a backend developer"))
    assert intent.domains == ["frontend"] and [n.planner for n in notes] == ["llm"]


@pytest.mark.parametrize("error", [LLMUnavailable("The LLM at http://x/v1 answered HTTP 500"),
                                   InvalidModelOutput("still invalid after 3 attempts"), KeyError("bug")])
async def test_any_model_failure_falls_back_to_the_offline_answer_and_says_why(error: Exception) -> None:
    with collect_notes() as notes:
        intent = await _planner(_Model(error)).analyze_intent(LearnerRequest(goal="我想学后端开发"))
    assert intent.domains == ["backend", "python"]  # the offline planner's reading: the role and
    assert intent.defaulted == ["python"]  # its default language (the model would have said "frontend")
    (note,) = notes
    assert note.planner == "offline" and note.fallback_reason
    assert note.warning and "离线规划器" in note.warning  # in the learner's language


async def test_a_dead_endpoint_is_skipped_after_repeated_failures_but_bad_answers_are_not() -> None:
    dead = _Model(LLMUnavailable("Cannot reach the LLM"))
    planner = _planner(dead, failures=2)
    for _ in range(4):
        with collect_notes() as notes:
            await planner.analyze_intent(LearnerRequest(goal="backend"))
    assert dead.calls == 2 and notes[0].fallback_reason and "skipped" in notes[0].fallback_reason
    confused = _Model(InvalidModelOutput("bad JSON"))
    planner = _planner(confused, failures=2)
    for _ in range(4):
        await planner.analyze_intent(LearnerRequest(goal="backend"))
    assert confused.calls == 4


def test_a_fallback_warning_stays_on_every_later_roadmap() -> None:
    note = PlannerNote("offline", fallback_reason="HTTP 500", warning="The AI model could not ...")
    _, data = _with_planner_notes({}, {"intent": {}}, {}, [note])
    assert data == {"planner": "offline", "fallback_reason": "HTTP 500"}
    update, _ = _with_planner_notes({}, {"intent": {}}, {}, [note])
    later, _ = _with_planner_notes({"planner_warnings": update["planner_warnings"]},
                                   {"roadmap": {"warnings": ["Over budget: ..."]}}, {}, [])
    assert later["roadmap"]["warnings"] == ["Over budget: ...", "The AI model could not ..."]
