"""The workflow end to end on the embedded default: auto-approve, review with rejection + edit, cancel."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from roadmap_agent.domain.catalog import load_catalog
from roadmap_agent.domain.changes import EditReport
from roadmap_agent.domain.models import LearnerRequest, ReviewDecision, Roadmap
from roadmap_agent.domain.validation import validate_roadmap
from roadmap_agent.errors import Conflict, DecisionAlreadyMade, NotAwaitingReview
from roadmap_agent.services import Services, open_services
from roadmap_agent.settings import Settings
from roadmap_agent.store.records import EventType, TaskStatus

pytestmark = pytest.mark.integration

GOAL = "I want to become a backend developer in 3 months, I know some Python, 10 hours a week"


async def _submit(services: Services, goal: str = GOAL, **options: object) -> str:
    task = await services.runner.submit("local", LearnerRequest(goal=goal, **options))
    await services.runner.wait(task.task_id)
    return task.task_id


async def test_auto_approved_run_completes_persists_and_exports(services: Services, isolated_home: Path) -> None:
    task_id = await _submit(services, auto_approve=True)
    task = await services.store.get_task(task_id)
    assert task.status == TaskStatus.COMPLETED and task.roadmap_id
    assert task.intent and task.intent["domains"] == ["backend"] and task.intent["weeks"] == 13
    roadmap = Roadmap.model_validate(await services.store.get_roadmap(task.roadmap_id))
    assert validate_roadmap(roadmap) == []
    assert "python.syntax" not in roadmap.concept_ids()  # "I know some Python"
    exported = isolated_home / "artifacts" / "roadmaps"
    assert json.loads((exported / f"{roadmap.id}.json").read_text())["id"] == roadmap.id
    assert (exported / f"{roadmap.id}.md").read_text().startswith(f"# {roadmap.title}")
    events = await services.store.events_after(task_id, 0)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    steps = [(e.step, e.status) for e in events if e.type == EventType.PROGRESS and e.step]
    assert steps[:4] == [("intent_analysis", "started"), ("intent_analysis", "completed"),
                         ("curriculum_design", "started"), ("curriculum_design", "completed")]
    assert ("finalize", "completed") in steps
    assert events[-1].type == EventType.COMPLETED and events[-1].data["roadmap_id"] == roadmap.id


async def test_review_rejection_edits_and_approval_finalizes(services: Services) -> None:
    task_id = await _submit(services)
    task = await services.store.get_task(task_id)
    assert task.status == TaskStatus.HUMAN_REVIEW_PENDING and task.review_round == 1
    draft = Roadmap.model_validate(await services.store.draft_roadmap(task_id))
    assert "devops.docker" in draft.concept_ids() and "devops.kubernetes" not in draft.concept_ids()

    await services.runner.review(task_id, ReviewDecision(approved=False,
                                 feedback="skip Docker, add Kubernetes, make it 8 weeks"))
    await services.runner.wait(task_id)
    task = await services.store.get_task(task_id)
    assert task.status == TaskStatus.HUMAN_REVIEW_PENDING and task.review_round == 2
    edited = Roadmap.model_validate(await services.store.draft_roadmap(task_id))
    assert "devops.docker" not in edited.concept_ids()
    assert "devops.docker" in edited.skipped and "devops.docker" not in edited.assumed_known  # skipped, not known
    kubernetes = set(load_catalog().domains["kubernetes"].concept_ids)
    assert kubernetes & set(edited.concept_ids())
    # re-fitted to 8 weeks, or honest that the core needs longer (and by how much)
    assert edited.weeks == 8 or (edited.requested_weeks == 8 and edited.weeks > 8
                                 and any(w.startswith("Over budget:") for w in edited.warnings))
    assert len(edited.schedule) <= edited.weeks
    assert validate_roadmap(edited) == []
    edit_event = next(e for e in await services.store.events_after(task_id, 0) if e.step == "roadmap_edit"
                      and e.status == "completed")
    docker = load_catalog().concepts["devops.docker"].name.en  # "Running containers"
    assert any(docker in change for change in edit_event.data["changes"])

    with pytest.raises(DecisionAlreadyMade):  # round 1 was decided already
        await services.store.decide(task_id, 1, True, None)
    await services.runner.review(task_id, ReviewDecision(approved=True))
    with pytest.raises(NotAwaitingReview):
        await services.runner.review(task_id, ReviewDecision(approved=True))
    await services.runner.wait(task_id)
    task = await services.store.get_task(task_id)
    assert task.status == TaskStatus.COMPLETED
    final = Roadmap.model_validate(await services.store.get_roadmap(task.roadmap_id or ""))
    assert final.concept_ids() == edited.concept_ids()


async def test_chinese_feedback_edits_a_chinese_roadmap(services: Services) -> None:
    task_id = await _submit(services, goal="我想三个月内学会 Python 后端开发，每周 10 小时")
    draft = Roadmap.model_validate(await services.store.draft_roadmap(task_id))
    assert draft.language == "zh" and "devops.docker" in draft.concept_ids()
    await services.runner.review(task_id, ReviewDecision(approved=False, feedback="跳过 Docker"))
    await services.runner.wait(task_id)
    edited = Roadmap.model_validate(await services.store.draft_roadmap(task_id))
    assert "devops.docker" not in edited.concept_ids()


async def test_cancel_is_idempotent_and_final(services: Services) -> None:
    task_id = await _submit(services)
    first = await services.runner.cancel(task_id)
    second = await services.runner.cancel(task_id)
    assert first.status == second.status == TaskStatus.CANCELLED
    events = await services.store.events_after(task_id, 0)
    assert [e.type for e in events].count(EventType.CANCELLED) == 1
    with pytest.raises(NotAwaitingReview):
        await services.runner.review(task_id, ReviewDecision(approved=True))
    completed = await _submit(services, auto_approve=True)
    with pytest.raises(Conflict):
        await services.runner.cancel(completed)


async def test_idempotency_key_returns_the_same_task(services: Services) -> None:
    request = LearnerRequest(goal=GOAL, auto_approve=True)
    first = await services.runner.submit("local", request, "key-1")
    again = await services.runner.submit("local", request, "key-1")
    await services.runner.wait(first.task_id)
    assert first.task_id == again.task_id
    tasks, total = await services.store.list_tasks("local", 10, 0)
    assert total == 1 and tasks[0].task_id == first.task_id


async def test_the_edit_report_reaches_the_review_and_decisions_are_kept(services: Services) -> None:
    task_id = await _submit(services)
    await services.runner.review(task_id, ReviewDecision(approved=False, feedback="skip Docker, banana purple"))
    await services.runner.wait(task_id)
    review = await services.store.last_event(task_id, EventType.HUMAN_REVIEW_REQUIRED)
    assert review is not None and review.data["review_round"] == 2 and review.data["max_review_rounds"] == 10
    report = EditReport.model_validate(review.data["report"])
    assert report.applied and report.not_understood and "banana purple" in report.not_understood[0].text
    assert review.data["changes"] == report.sentences()
    assert "devops.docker" in [r.concept_id for r in report.diff.removed]
    await services.runner.review(task_id, ReviewDecision(approved=True))
    await services.runner.wait(task_id)
    history = (await services.store.decisions([task_id]))[task_id]
    assert [(d.round, d.approved, d.feedback) for d in history] == [
        (1, False, "skip Docker, banana purple"), (2, True, None)]


async def test_review_rounds_are_bounded_with_a_message_that_says_what_to_do(
        isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROADMAP_AGENT_MAX_REVIEW_ROUNDS", "2")
    async with open_services(Settings.load(env_file=None)) as services:
        task_id = await _submit(services, goal="我想学 SQL")
        await services.runner.review(task_id, ReviewDecision(approved=False, feedback="跳过 SQL 多表连接"))
        await services.runner.wait(task_id)
        last = await services.store.last_event(task_id, EventType.HUMAN_REVIEW_REQUIRED)
        assert last is not None and last.data["last_round"] is True and "最后一轮" in last.message
        with pytest.raises(Conflict) as refused:
            await services.runner.review(task_id, ReviewDecision(approved=False, feedback="再多一点练习"))
        assert "ROADMAP_AGENT_MAX_REVIEW_ROUNDS=2" in refused.value.message and "批准" in refused.value.message
        assert (await services.store.get_task(task_id)).status == TaskStatus.HUMAN_REVIEW_PENDING  # still open
        await services.runner.review(task_id, ReviewDecision(approved=True))
        assert (await services.runner.wait(task_id)).status == TaskStatus.COMPLETED
