"""The task rules: accepting a request (once per idempotency key), review, cancel, retry and resume.

What may happen to a task in which state, and the events that say so; running it is someone else's job
(``schedule``). No LangGraph here, so the rules are tested with a store and a fake scheduler alone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

from roadmap_agent.domain.lang import request_language
from roadmap_agent.domain.messages import text
from roadmap_agent.domain.models import LearnerRequest, ReviewDecision
from roadmap_agent.errors import CheckpointerUnavailable, Conflict, NotAwaitingReview, NotRetryable
from roadmap_agent.events.bus import EventLog
from roadmap_agent.logging import get_logger
from roadmap_agent.metrics import Metrics
from roadmap_agent.settings import ResilienceSettings
from roadmap_agent.store.records import EventType, TaskRecord, TaskStatus
from roadmap_agent.store.repository import FirstEvent, InTransaction, TaskStore
from roadmap_agent.workflow.language import task_language

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

log = get_logger(__name__)

RUNNABLE = {TaskStatus.PENDING, TaskStatus.RUNNING}
Schedule = Callable[[str], Awaitable[None]]  # run (or queue a run of) this task


class KnownSkills(Protocol):
    """Owner -> catalog ids of their skill profile, read on ``conn`` (the new task's transaction) when given."""

    async def __call__(self, owner: str, conn: AsyncConnection | None = None) -> list[str]: ...


class TaskRules:
    def __init__(self, store: TaskStore, events: EventLog, settings: ResilienceSettings, metrics: Metrics,
                 schedule: Schedule, *, emergency: bool = False, enqueue_within: InTransaction | None = None) -> None:
        self.store = store
        self.events = events
        self.settings = settings
        self.metrics = metrics
        self.schedule = schedule
        self.enqueue_within = enqueue_within  # queue a new task's run inside its insert transaction (server mode)
        self.emergency = emergency  # no checkpointer: no review, runs are auto-approved
        self.known_skills: KnownSkills | None = None  # set by open_services: the learner's skill profile

    async def submit(self, owner: str, request: LearnerRequest, idempotency_key: str | None = None,
                     *, background: bool = True) -> TaskRecord:
        """Accept a request (once per idempotency key) and schedule its run unless ``background`` is False.

        The request's known skills gain the owner's skill profile (done or known in earlier roadmaps) unless it
        says ``use_skill_profile: false``.
        """
        values = request.model_dump(mode="json")
        known = self.known_skills if request.use_skill_profile else None

        async def with_profile(conn: AsyncConnection) -> dict[str, Any]:  # read in the task's own transaction
            assert known is not None  # noqa: S101 - only passed when set
            return {**values, "profile_skills": [s for s in await known(owner, conn) if s not in request.known_skills]}

        first = FirstEvent(EventType.PROGRESS, text("event.accepted", request_language(values)), status="pending")
        # Server mode: the queue job goes in the same transaction as the task and its first event (no orphan).
        within = self.enqueue_within if background else None
        task, event = await self.store.create_task(owner, with_profile if known else values, idempotency_key,
                                                   first=first, within=within)
        if event is not None:
            self.metrics.runs_started.inc()
            log.info("workflow_execution_starting", task_id=task.task_id)
            await self.events.announce(event)
            if background and within is None:
                await self.schedule(task.task_id)
        return task

    async def review(self, task_id: str, decision: ReviewDecision, owner: str | None = None) -> TaskRecord:
        if self.emergency:
            raise CheckpointerUnavailable("Human review is unavailable: the service runs in emergency mode without "
                                          "a checkpointer (ROADMAP_AGENT_CHECKPOINTER=none); runs are auto-approved.")
        task = await self.store.get_task(task_id, owner)
        if task.status != TaskStatus.HUMAN_REVIEW_PENDING:
            raise NotAwaitingReview(f"Task {task_id} is {task.status.value}, not waiting for a review decision.")
        if not decision.approved and not (decision.feedback or "").strip():
            log.info("review_rejected_without_feedback", task_id=task_id)
        if not decision.approved and task.review_round >= self.settings.max_review_rounds:
            raise Conflict(text("review.limit", task_language(task), round=task.review_round,
                                max=self.settings.max_review_rounds))
        # One transaction: a second decision for the round (or one racing a cancel) changes nothing -> 409.
        await self.store.decide(task_id, task.review_round, decision.approved, decision.feedback)
        await self.schedule(task_id)
        return await self.store.get_task(task_id)

    async def cancel(self, task_id: str, owner: str | None = None) -> TaskRecord:
        """Idempotent. A task nobody runs is cancelled now; a live run stops at its next step boundary."""
        task = await self.store.get_task(task_id, owner)
        if task.status == TaskStatus.CANCELLED:
            return task
        if task.status in (TaskStatus.COMPLETED, TaskStatus.FAILED):
            raise Conflict(f"Task {task_id} already {task.status.value}; there is nothing to cancel.")
        await self.store.update_task(task_id, cancel_requested=True)
        # A pending task's claim is a compare-and-set on the status too: whichever comes first wins.
        idle = {TaskStatus.HUMAN_REVIEW_PENDING, TaskStatus.PENDING}
        if await self.store.set_status_if(task_id, idle, TaskStatus.CANCELLED, current_step=None):
            log.info("cancelled", task_id=task_id)
            await self.events.emit(task_id, EventType.CANCELLED, text("event.cancelled", task_language(task)),
                                   status="cancelled")
        return await self.store.get_task(task_id)

    async def retry(self, task_id: str, owner: str | None = None) -> TaskRecord:
        task = await self.store.get_task(task_id, owner)
        if task.status != TaskStatus.FAILED:
            raise NotRetryable(f"Task {task_id} is {task.status.value}; only failed tasks can be retried.")
        if await self.store.set_status_if(task_id, {TaskStatus.FAILED}, TaskStatus.PENDING, error=None,
                                          error_code=None):
            log.info("retry_requested", task_id=task_id)
            await self.events.emit(task_id, EventType.PROGRESS, text("event.retrying", task_language(task)),
                                   status="pending")
            await self.schedule(task_id)
        return await self.store.get_task(task_id)

    async def resume(self, task_id: str) -> bool:
        """Continue a run that died (status pending/running) from its last checkpoint."""
        task = await self.store.get_task(task_id)
        if task.status not in RUNNABLE:
            return False
        await self.schedule(task_id)
        return True

    async def recover_unfinished(self) -> list[str]:
        """At startup (in-process execution, one process): continue every run the last process left behind."""
        recovered = []
        for task in await self.store.tasks_in(RUNNABLE):
            if await self.resume(task.task_id):
                recovered.append(task.task_id)
        return recovered
