"""Run claims and fencing in the repository (embedded SQLite; the same statements run on PostgreSQL).

A claim increments the task's epoch; writes carrying an older epoch must change nothing and raise
``RunSuperseded`` -- that is what keeps a run taken over from a hung worker from interleaving with the new one.
"""

from __future__ import annotations

import pytest

from roadmap_agent.errors import DecisionAlreadyMade, NotAwaitingReview, RunSuperseded
from roadmap_agent.services import Services
from roadmap_agent.store.records import EventType, TaskStatus

pytestmark = pytest.mark.integration

GOAL = {"goal": "learn SQL in 4 weeks"}


async def test_a_second_claim_fences_off_the_first(services: Services) -> None:
    store = services.store
    task, _ = await store.create_task("local", GOAL)
    first = await store.claim_run(task.task_id, "worker-a")
    assert first == (1, None)
    second = await store.claim_run(task.task_id, "worker-b")
    assert second == (2, "worker-a")  # a holder that never let go: the first run died or hung
    before = await store.get_task(task.task_id)

    with pytest.raises(RunSuperseded):
        await store.append_event(task.task_id, EventType.PROGRESS, "late", epoch=1)
    with pytest.raises(RunSuperseded):
        await store.update_task(task.task_id, current_step="finalize", epoch=1)
    with pytest.raises(RunSuperseded):
        await store.save_roadmap(task.task_id, {"id": "rm-x", "title": "t", "language": "en"}, epoch=1)
    assert not await store.set_status_if(task.task_id, {TaskStatus.RUNNING}, TaskStatus.COMPLETED, epoch=1)

    after = await store.get_task(task.task_id)
    assert after.model_dump(exclude={"updated_at"}) == before.model_dump(exclude={"updated_at"})
    assert await store.events_after(task.task_id, 0) == []
    event = await store.append_event(task.task_id, EventType.PROGRESS, "current", epoch=2)
    assert event.seq == 1  # the stale attempts consumed no sequence number: the stream stays gap-free


async def test_released_runs_are_claimed_without_a_previous_holder_and_finished_ones_not_at_all(
        services: Services) -> None:
    store = services.store
    task, _ = await store.create_task("local", GOAL)
    epoch, _ = await store.claim_run(task.task_id, "worker-a") or (0, None)
    await store.update_task(task.task_id, worker=None, epoch=epoch)  # what a run that stops cleanly writes
    assert await store.claim_run(task.task_id, "worker-b") == (2, None)  # stopped cleanly: not a recovery
    await store.update_task(task.task_id, status=TaskStatus.COMPLETED.value)
    assert await store.claim_run(task.task_id, "worker-c") is None


async def test_one_decision_per_round_and_none_after_a_cancel(services: Services) -> None:
    store = services.store
    task, _ = await store.create_task("local", GOAL)
    await store.update_task(task.task_id, status=TaskStatus.HUMAN_REVIEW_PENDING.value, review_round=1)
    await store.decide(task.task_id, 1, False, "skip Docker")
    assert (await store.get_task(task.task_id)).status == TaskStatus.RUNNING
    with pytest.raises(DecisionAlreadyMade):
        await store.decide(task.task_id, 1, True, None)
    assert await store.decision(task.task_id, 1) == {"approved": False, "feedback": "skip Docker"}

    other, _ = await store.create_task("local", GOAL)
    await store.update_task(other.task_id, status=TaskStatus.CANCELLED.value, review_round=1)
    with pytest.raises(NotAwaitingReview):
        await store.decide(other.task_id, 1, True, None)
    assert await store.decision(other.task_id, 1) is None  # rolled back with the failed transition
