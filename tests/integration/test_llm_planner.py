"""The workflow on a model: a scripted OpenAI-compatible server (scripts/fake_openai.py, on 127.0.0.1) answers
well, badly, slowly or not at all. Runs complete with the model, repair its answers, or fall back to the offline
planner -- visibly, and within their deadlines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_openai import FakeOpenAI, Reply, answer, error, hang, malformed, schema_invalid, slow

from conftest import secret
from roadmap_agent.domain.catalog import load_catalog
from roadmap_agent.domain.models import LearnerRequest, ReviewDecision, Roadmap
from roadmap_agent.domain.validation import validate_roadmap
from roadmap_agent.services import Services, open_services
from roadmap_agent.settings import Settings
from roadmap_agent.store.records import Event, TaskStatus

pytestmark = pytest.mark.integration

LLM_KEY = secret("llm")  # the session scans every test's output for it
GOAL = "I want to become a backend developer in 3 months, I know some Python, 10 hours a week"
GOAL_ZH = "我想三个月内学会 Python 后端开发，每周 10 小时"
CLI = str(Path(sys.executable).parent / "roadmap-agent")
SLACK = 1.5  # seconds a deadline may be overrun by scheduling and the offline planner

Configure = Callable[..., Settings]


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI(api_key=LLM_KEY).start()
    yield server
    server.stop()


def _llm_env(fake: FakeOpenAI, **overrides: str) -> dict[str, str]:
    return {"LLM_BASE_URL": fake.base_url, "LLM_API_KEY": LLM_KEY, "LLM_MODEL": "fake-small",
            "LLM_RETRY_BASE_DELAY": "0.05", "LLM_RETRY_MAX_DELAY": "0.5", **overrides}


@pytest.fixture
def configure(fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> Configure:
    def make(**overrides: str) -> Settings:
        for name, value in _llm_env(fake, **overrides).items():
            monkeypatch.setenv(name, value)
        return Settings.load(env_file=None)
    return make


async def _run(services: Services, goal: str = GOAL, auto_approve: bool = True) -> str:
    task = await services.runner.submit("local", LearnerRequest(goal=goal, auto_approve=auto_approve))
    await services.runner.wait(task.task_id)
    return task.task_id


async def _completed(services: Services, task_id: str) -> dict[str, Event]:
    """The last ``completed`` progress event of each step."""
    return {e.step: e for e in await services.store.events_after(task_id, 0) if e.step and e.status == "completed"}


async def _final(services: Services, task_id: str) -> Roadmap:
    task = await services.store.get_task(task_id)
    assert task.status == TaskStatus.COMPLETED, task.error
    return Roadmap.model_validate(await services.store.get_roadmap(task.roadmap_id or ""))


async def test_good_answers_complete_with_the_model_and_a_grounded_roadmap(configure: Configure,
                                                                         fake: FakeOpenAI) -> None:
    async with open_services(configure(LLM_MODEL_CURRICULUM="fake-large")) as services:
        task_id = await _run(services)
        roadmap = await _final(services, task_id)
        steps = await _completed(services, task_id)
    for step in ("intent_analysis", "curriculum_design"):
        assert steps[step].data["planner"] == "llm" and "fallback_reason" not in steps[step].data
        assert steps[step].data["llm_usage"]["prompt_tokens"] > 0
    assert validate_roadmap(roadmap) == [] and roadmap.warnings == []
    catalog = load_catalog()
    grounded = [c for c in roadmap.concepts() if c.id in catalog.concepts]
    assert grounded and all(c.hours == catalog.concepts[c.id].hours and c.resources for c in grounded)
    assert any(c.id.startswith("custom.capstone") for c in roadmap.concepts())  # the model's own idea, kept
    assert [r["model"] for r in fake.chat_requests()] == ["fake-small", "fake-large"]
    assert fake.chat_requests()[0]["response_format"]["type"] == "json_schema"


async def test_named_technologies_reach_the_model_and_its_optional_concepts_and_projects_are_kept(
        configure: Configure, fake: FakeOpenAI) -> None:
    async with open_services(configure()) as services:
        task_id = await _run(services, goal="become a backend developer with Go in 4 months")
        roadmap = await _final(services, task_id)
        task = await services.store.get_task(task_id)
    assert task.intent is not None and "golang" in task.intent["technologies"]
    prompt = "\n".join(m["content"] for m in fake.chat_requests("CurriculumAnswer")[0]["messages"])
    assert "Technologies: Go" in prompt and "Python" in prompt.split("alternatives the learner did not ask for:")[1]
    optional = [c for c in roadmap.concepts() if c.optional]
    assert optional and all(s.optional for s in roadmap.stages if any(c.optional for m in s.modules
                                                                      for c in m.concepts))
    scheduled = {c for week in roadmap.schedule for c in week.concept_ids}
    assert not scheduled & {c.id for c in optional}
    projects = roadmap.projects()
    assert any(p.title == "Stage project: deploy an API" for p in projects)  # the model's, kept
    assert all(s.project for s in roadmap.stages if not s.optional)  # and ours where it gave none
    assert validate_roadmap(roadmap) == []


async def test_a_malformed_answer_is_repaired(configure: Configure, fake: FakeOpenAI) -> None:
    fake.add(malformed())
    async with open_services(configure()) as services:
        task_id = await _run(services)
        await _final(services, task_id)
        intent = (await _completed(services, task_id))["intent_analysis"]
    assert intent.data["planner"] == "llm" and intent.data["llm_usage"]["calls"] == 2
    repair = fake.chat_requests("IntentAnswer")[1]["messages"]
    assert repair[-2]["role"] == "assistant" and "not valid JSON" in repair[-1]["content"]


@pytest.mark.parametrize(("replies", "reason"), [
    ([schema_invalid()] * 3, "still invalid after 3 attempts"),
    ([error(500)] * 3, "HTTP 500"),
    ([error(429, retry_after=0.1)] * 3, "HTTP 429"),
], ids=["invalid-json", "500", "429"])
async def test_failures_beyond_the_budget_fall_back_to_the_offline_planner(configure: Configure, fake: FakeOpenAI,
                                                                          replies: list[Reply], reason: str) -> None:
    fake.add(*replies)
    async with open_services(configure()) as services:
        task_id = await _run(services)
        roadmap = await _final(services, task_id)
        steps = await _completed(services, task_id)
    intent = steps["intent_analysis"].data
    assert intent["planner"] == "offline" and reason in intent["fallback_reason"]
    assert intent["intent"]["domains"] == ["backend"]  # the offline planner's reading of the goal
    assert steps["curriculum_design"].data["planner"] == "llm"  # the next step tries the model again
    assert any("offline planner" in warning for warning in roadmap.warnings)  # the learner sees it
    assert validate_roadmap(roadmap) == []


async def test_rate_limits_are_retried_after_the_servers_delay(configure: Configure, fake: FakeOpenAI) -> None:
    fake.add(error(429, retry_after=0.4), error(503, retry_after=0.4))
    async with open_services(configure(LLM_RETRY_MAX_DELAY="1")) as services:
        task_id = await _run(services)
        await _final(services, task_id)
        intent = (await _completed(services, task_id))["intent_analysis"].data
    assert intent["planner"] == "llm" and len(fake.chat_requests("IntentAnswer")) == 3
    assert intent["duration_ms"] >= 800  # waited as asked (Retry-After: 0.4 twice)


async def test_a_hung_connection_never_outlasts_the_step_deadline(configure: Configure, fake: FakeOpenAI) -> None:
    fake.add(*[hang()] * 20)
    settings = configure(LLM_READ_TIMEOUT="1", LLM_MAX_RETRIES="10", LLM_CALL_TIMEOUT="30", LLM_STEP_TIMEOUT="2.5")
    started = time.monotonic()
    async with open_services(settings) as services:
        task_id = await _run(services)
        await _final(services, task_id)
        steps = await _completed(services, task_id)
        elapsed = time.monotonic() - started
    for step in ("intent_analysis", "curriculum_design"):
        assert steps[step].data["planner"] == "offline"
        assert "LLM_STEP_TIMEOUT" in steps[step].data["fallback_reason"]
        assert steps[step].data["duration_ms"] < (2.5 + SLACK) * 1000
    assert elapsed < 2 * 2.5 + 5


async def test_a_slow_answer_is_cut_off_at_the_call_deadline(configure: Configure, fake: FakeOpenAI) -> None:
    fake.add(slow(10))
    async with open_services(configure(LLM_READ_TIMEOUT="20", LLM_CALL_TIMEOUT="1.5")) as services:
        task_id = await _run(services)
        await _final(services, task_id)
        intent = (await _completed(services, task_id))["intent_analysis"].data
    assert intent["planner"] == "offline" and "LLM_CALL_TIMEOUT" in intent["fallback_reason"]
    assert intent["duration_ms"] < (1.5 + SLACK) * 1000


async def test_endpoints_without_json_schema_get_json_object(configure: Configure, fake: FakeOpenAI) -> None:
    fake.json_schema_supported = False  # DeepSeek, older vLLM/Ollama: 400 to response_format json_schema
    async with open_services(configure()) as services:
        task_id = await _run(services)
        await _final(services, task_id)
        steps = await _completed(services, task_id)
    assert steps["curriculum_design"].data["planner"] == "llm"
    formats = [r.get("response_format", {}).get("type") for r in fake.chat_requests()]
    assert formats == ["json_schema", "json_object", "json_object"]  # refused once, then remembered


async def test_a_bad_request_for_another_reason_keeps_json_schema(configure: Configure, fake: FakeOpenAI) -> None:
    fake.add(*[error(400)] * 3)  # e.g. a prompt too long for the model: refused whatever the response format
    async with open_services(configure()) as services:
        task_id = await _run(services)
        await _final(services, task_id)
        steps = await _completed(services, task_id)
    assert steps["intent_analysis"].data["planner"] == "offline"
    assert "HTTP 400" in steps["intent_analysis"].data["fallback_reason"]
    formats = [r.get("response_format", {}).get("type") for r in fake.chat_requests()]
    assert formats == ["json_schema", "json_object", None, "json_schema"]  # the next step starts at the top again


async def test_chinese_requests_use_chinese_prompts_and_warnings(configure: Configure, fake: FakeOpenAI) -> None:
    fake.add(*[error(500)] * 3)  # intent analysis falls back; curriculum design uses the model
    async with open_services(configure()) as services:
        task_id = await _run(services, GOAL_ZH)
        roadmap = await _final(services, task_id)
    intent_prompt = fake.chat_requests("IntentAnswer")[0]["messages"]
    assert intent_prompt[0]["content"].startswith("你为学习路线规划器分析")  # picked by the goal's language
    assert intent_prompt[1]["content"].startswith("学习目标：" + GOAL_ZH)
    curriculum_prompt = fake.chat_requests("CurriculumAnswer")[0]["messages"]
    assert curriculum_prompt[0]["content"].startswith("你负责设计学习课程")
    assert "技术：Python" in curriculum_prompt[-1]["content"]  # the technology the goal names
    # The model's stages are kept; the title is ours, so its numbers agree with the plan (v2).
    assert roadmap.language == "zh" and [s.name for s in roadmap.stages if not s.optional] == ["基础", "进阶"]
    assert roadmap.title.startswith("后端开发") and f"{roadmap.weeks} 周" in roadmap.title
    assert any("离线规划器" in warning for warning in roadmap.warnings)


async def test_review_feedback_is_read_by_the_model(configure: Configure, fake: FakeOpenAI) -> None:
    async with open_services(configure()) as services:
        task_id = await _run(services, auto_approve=False)
        draft = Roadmap.model_validate(await services.store.draft_roadmap(task_id))
        first = draft.concepts()[0]
        fake.add(answer({"known": [first.name], "add": ["Kubernetes"], "weeks": 20}))
        feedback = f"I already know {first.name}. Teach me k8s too, and give me 20 weeks."
        await services.runner.review(task_id, ReviewDecision(approved=False, feedback=feedback))
        await services.runner.wait(task_id)
        task = await services.store.get_task(task_id)
        assert task.status == TaskStatus.HUMAN_REVIEW_PENDING and task.review_round == 2
        edited = Roadmap.model_validate(await services.store.draft_roadmap(task_id))
        edit = (await _completed(services, task_id))["roadmap_edit"].data
        await services.runner.review(task_id, ReviewDecision(approved=True))
        await services.runner.wait(task_id)
        final = await _final(services, task_id)
    assert edit["planner"] == "llm" and any(first.name in change for change in edit["changes"])
    assert first.id not in edited.concept_ids() and first.id in edited.assumed_known
    assert "devops.kubernetes" in edited.concept_ids() and edited.weeks == 20
    assert validate_roadmap(edited) == [] and final.concept_ids() == edited.concept_ids()
    assert feedback in fake.chat_requests("EditAnswer")[0]["messages"][-1]["content"]


async def test_health_reports_the_llm_endpoint(configure: Configure, fake: FakeOpenAI) -> None:
    async with open_services(configure(LLM_PROBE_INTERVAL="0.01")) as services:
        status, body = services.prober.readiness()
        assert status == 200 and body["dependencies"]["llm"]["status"] == "ok"
        assert body["dependencies"]["llm"]["target"] == fake.base_url and not body["dependencies"]["llm"]["required"]
        fake.stop()
        await services.prober.probe_all()
        status, body = services.prober.readiness()
    assert status == 200 and body["status"] == "degraded"  # the offline planner still serves
    llm = body["dependencies"]["llm"]
    assert llm["status"] == "down" and "Cannot reach the LLM" in llm["last_error"]


def _cli(home: Path, *args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith(("LLM_", "ROADMAP_AGENT_"))}
    env.update(ROADMAP_AGENT_HOME=str(home), LOG_FORMAT="json", LOG_LEVEL="INFO", **variables)
    return subprocess.run([CLI, *args], env=env, capture_output=True, text=True, timeout=60, check=False)


def _document(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode == 0, done.stderr[-2000:]
    document: dict[str, Any] = json.loads(done.stdout)
    return document


def test_cli_generate_and_check_against_the_model(isolated_home: Path, fake: FakeOpenAI) -> None:
    done = _cli(isolated_home, "generate", GOAL, "--auto-approve", "--json", **_llm_env(fake))
    result = _document(done)
    assert result["status"] == "completed" and result["roadmap"]["warnings"] == []
    assert any(c["id"].startswith("custom.") for s in result["roadmap"]["stages"] for m in s["modules"]
               for c in m["concepts"])
    assert '"event": "llm_step_usage"' in done.stderr and LLM_KEY not in done.stdout + done.stderr
    assert "Designing the curriculum: Designed" in done.stderr and "(model fake-small)" in done.stderr  # progress

    checked = _cli(isolated_home, "check", "--json", **_llm_env(fake))
    llm = next(d for d in _document(checked)["dependencies"] if d["name"] == "llm")
    assert llm["status"] == "ok" and LLM_KEY not in checked.stdout + checked.stderr

    unknown = _cli(isolated_home, "check", "--json", **_llm_env(fake, LLM_MODEL_CURRICULUM="gpt-imaginary"))
    llm = next(d for d in _document(unknown)["dependencies"] if d["name"] == "llm")
    assert llm["status"] == "degraded" and "LLM_MODEL_CURRICULUM gpt-imaginary" in llm["diagnosis"]


def test_cli_with_a_wrong_key_falls_back_and_leaks_no_key(isolated_home: Path, fake: FakeOpenAI) -> None:
    wrong = secret("llmwrong")  # the fake server echoes it in its 401, as some servers do
    done = _cli(isolated_home, "generate", GOAL, "--auto-approve", "--json", **_llm_env(fake, LLM_API_KEY=wrong))
    result = _document(done)
    assert result["status"] == "completed"
    assert any("offline planner" in warning for warning in result["roadmap"]["warnings"])
    assert "rejected the API key" in done.stderr and "LLM_API_KEY" in done.stderr
    assert "(offline planner: The LLM at" in done.stderr  # the progress line says so
    for key in (wrong, LLM_KEY):
        assert key not in done.stdout + done.stderr
