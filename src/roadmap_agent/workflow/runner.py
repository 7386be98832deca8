"""The runner: drives tasks through the graph and keeps the task row and event log true.

A run is ``graph.ainvoke`` on the task's thread (thread id = task id). Whoever runs a task -- an asyncio task
in this process (embedded default, CLI) or a ``roadmap-agent worker`` taking it from the queue -- first
*claims* it: ``tasks.run_epoch`` goes up by one and every write of the run is fenced by that epoch, so a run
that was taken over (its worker hung and was presumed dead) stops at its next write instead of interleaving
with the new one. A claim that finds the previous holder still set knows that run died: it emits
``task_recovering`` and continues from the last checkpoint.

What a run continues with is read from the checkpoint, not passed along: no checkpoint -> start from the
request; stopped at the review ``interrupt()`` with a recorded decision -> ``Command(resume=decision)``;
otherwise -> continue. So "run task X" is the only message ever queued, and any worker can act on it.

Every event ``message`` comes from the message catalogue in the task's language (``task_language``): a
Chinese goal gets Chinese progress over SSE and WebSocket. Review rounds are bounded
(``ROADMAP_AGENT_MAX_REVIEW_ROUNDS``): a rejection in the last round is refused with a 409 that says so.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any, TypeVar

from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from roadmap_agent.domain.catalog import Catalog
from roadmap_agent.domain.messages import text
from roadmap_agent.domain.models import Language, LearnerRequest, ReviewDecision, Roadmap
from roadmap_agent.domain.render import roadmap_to_markdown
from roadmap_agent.errors import (
    CheckpointerUnavailable,
    Conflict,
    DatabaseUnavailable,
    DependencyUnavailable,
    NotAwaitingReview,
    NotRetryable,
    OutOfScope,
    RunSuperseded,
    TaskCancelled,
)
from roadmap_agent.events.bus import EventLog
from roadmap_agent.infra.storage import ArtifactStore
from roadmap_agent.llm.base import Planner
from roadmap_agent.logging import get_logger
from roadmap_agent.metrics import Metrics
from roadmap_agent.redaction import hide_paths, redact_text
from roadmap_agent.settings import ResilienceSettings
from roadmap_agent.store.records import EventType, TaskRecord, TaskStatus
from roadmap_agent.store.repository import TaskStore
from roadmap_agent.workflow.graph import HUMAN_REVIEW, build_graph, request_language

log = get_logger(__name__)
FINAL_SAVE_MAX_DELAY = 30.0  # seconds between attempts to save a run's outcome the database refused
T = TypeVar("T")

RUNNABLE = {TaskStatus.PENDING, TaskStatus.RUNNING}
Dispatch = Callable[[str], Awaitable[None]]
KnownSkills = Callable[[str], Awaitable[list[str]]]  # owner -> catalog ids of their skill profile
# The epoch this run claimed; graph nodes run in child tasks, which inherit it.
_EPOCH: ContextVar[int | None] = ContextVar("run_epoch", default=None)


def default_worker_name(role: str = "proc") -> str:
    return f"{role}:{socket.gethostname()}:{os.getpid()}"


def task_language(task: TaskRecord) -> Language:
    """The language a task speaks: its intent's once analysed, before that the request's (or its goal's)."""
    language = (task.intent or {}).get("language")
    return language if language in ("en", "zh") else request_language(task.request)


def step_label(step: str | None, language: Language) -> str:
    return text(f"step.{step}", language) if step else text("step.start", language)


class Runner:
    def __init__(self, store: TaskStore, events: EventLog, storage: ArtifactStore, planner: Planner,
                 catalog: Catalog, saver: Any, settings: ResilienceSettings, metrics: Metrics | None = None, *,
                 dispatch: Dispatch | None = None, worker_name: str | None = None) -> None:
        self.store = store
        self.events = events
        self.storage = storage
        self.settings = settings
        self.metrics = metrics or Metrics()
        # None: runs are asyncio tasks of this process. Otherwise runs are queued for worker processes.
        self._dispatch = dispatch
        self.worker_name = worker_name or default_worker_name()
        # Emergency mode: no checkpointer, so no interrupt() (review) and nothing to resume from.
        self.emergency = saver is None
        self.graph: CompiledStateGraph[Any, Any, Any, Any] = build_graph(
            planner, catalog, self, saver, max_fix_rounds=settings.max_fix_rounds,
            max_review_rounds=settings.max_review_rounds, step_timeout=settings.step_timeout)
        self._running: dict[str, asyncio.Task[TaskStatus]] = {}
        self.known_skills: KnownSkills | None = None  # set by open_services: the learner's skill profile
        self._started_at: dict[tuple[str, str], float] = {}

    @property
    def queued(self) -> bool:
        return self._dispatch is not None

    # -- StepHooks ---------------------------------------------------------------------------------

    async def step_started(self, task_id: str, step: str, *, language: Language = "en",
                           announce: bool = True) -> None:
        task = await self._retrying(lambda: self.store.get_task(task_id))
        if task.cancel_requested:
            raise TaskCancelled(f"Task {task_id} was cancelled before {step}.")
        if task.run_epoch != _EPOCH.get():
            raise RunSuperseded(f"Task {task_id}: another worker took this run over.")
        if self.settings.step_delay:
            await asyncio.sleep(self.settings.step_delay)
        self._started_at[(task_id, step)] = time.perf_counter()
        if not announce:
            await self._retrying(lambda: self.store.update_task(task_id, current_step=step, epoch=_EPOCH.get()))
            return
        log.info(f"{step}_started", task_id=task_id)
        message = text("event.step_started", language, step=step, label=step_label(step, language))
        await self._emit(task_id, EventType.PROGRESS, message, step=step, status="started",
                         task_values={"current_step": step})

    async def step_completed(self, task_id: str, step: str, message: str, data: dict[str, Any]) -> None:
        started = self._started_at.pop((task_id, step), time.perf_counter())
        elapsed = time.perf_counter() - started
        elapsed_ms = round(elapsed * 1000, 1)
        self.metrics.step_duration.labels(step=step).observe(elapsed)
        log.info(f"{step}_completed", task_id=task_id, duration_ms=elapsed_ms)
        task_values = {"intent": data["intent"]} if step == "intent_analysis" else None
        await self._emit(task_id, EventType.PROGRESS, message, step=step, status="completed",
                         data={**data, "duration_ms": elapsed_ms}, task_values=task_values)

    async def finalize(self, task_id: str, roadmap: Roadmap) -> dict[str, str]:
        body = roadmap.model_dump(mode="json")
        await self._retrying(lambda: self.store.save_roadmap(task_id, body, epoch=_EPOCH.get()))
        json_uri = await self.storage.put(f"roadmaps/{roadmap.id}.json",
                                          roadmap.model_dump_json(indent=2).encode(), "application/json")
        md_uri = await self.storage.put(f"roadmaps/{roadmap.id}.md", roadmap_to_markdown(roadmap).encode(),
                                        "text/markdown; charset=utf-8")
        await self._retrying(lambda: self.store.update_task(task_id, roadmap_id=roadmap.id, draft_roadmap=None,
                                                            epoch=_EPOCH.get()))
        return {"json": json_uri, "markdown": md_uri}

    async def _emit(self, task_id: str, type_: EventType, message: str, **fields: Any) -> None:
        """An event of this run: fenced by its epoch, which the event data carries too, with an id that
        keeps a retried append from logging it twice."""
        epoch = _EPOCH.get()
        data = {**(fields.pop("data", None) or {}), "epoch": epoch, "event_id": uuid.uuid4().hex}
        await self._retrying(lambda: self.events.emit(task_id, type_, message, data=data, epoch=epoch, **fields))

    async def _retrying(self, call: Callable[[], Awaitable[T]]) -> T:
        """A database call inside a step: retried on transient unavailability (jittered, bounded)."""
        async for attempt in AsyncRetrying(
                retry=retry_if_exception_type(DatabaseUnavailable), reraise=True,
                stop=stop_after_attempt(self.settings.step_db_attempts),
                wait=wait_random_exponential(multiplier=0.25, max=self.settings.step_db_max_backoff)):
            with attempt:
                return await call()
        raise AssertionError("unreachable")  # pragma: no cover - reraise=True re-raises the last error

    # -- commands ----------------------------------------------------------------------------------

    async def submit(self, owner: str, request: LearnerRequest, idempotency_key: str | None = None,
                     *, background: bool = True) -> TaskRecord:
        """Accept a request (once per idempotency key) and schedule its run unless ``background`` is False.

        The request's known skills gain the owner's skill profile (done or known in earlier roadmaps) unless it
        says ``use_skill_profile: false``.
        """
        if request.use_skill_profile and self.known_skills is not None:
            profile = [s for s in await self.known_skills(owner) if s not in request.known_skills]
            request = request.model_copy(update={"profile_skills": profile})
        task, created = await self.store.create_task(owner, request.model_dump(mode="json"), idempotency_key)
        if created:
            self.metrics.runs_started.inc()
            log.info("workflow_execution_starting", task_id=task.task_id)
            await self.events.emit(task.task_id, EventType.PROGRESS, text("event.accepted", task_language(task)),
                                   status="pending")
            if background:
                await self.schedule(task.task_id)
        return task

    async def schedule(self, task_id: str) -> None:
        """Run ``task_id`` here in the background, or queue it for a worker.

        A failed queue insert is not the caller's problem: the task is already durable and runnable, and
        the workers' sweep queues such orphans within ``ROADMAP_AGENT_WORKER_ORPHAN_AFTER`` seconds.
        """
        if self._dispatch is None:
            self.start(task_id)
            return
        try:
            await self._dispatch(task_id)
        except DependencyUnavailable as exc:
            log.warning("run_not_queued", task_id=task_id, error=exc.message,
                        message="the workers' sweep will queue it shortly")

    def start(self, task_id: str) -> asyncio.Task[TaskStatus]:
        """Run (or continue) ``task_id`` in this process; at most one run per task here."""
        current = self._running.get(task_id)
        if current is not None and not current.done():
            return current
        run = asyncio.create_task(self.run(task_id), name=f"run-{task_id}")
        self._running[task_id] = run
        run.add_done_callback(lambda _: self._running.pop(task_id, None) if self._running.get(task_id) is run
                              else None)
        return run

    async def wait(self, task_id: str, poll: float = 0.2) -> TaskRecord:
        """Until the task stops running (review pending, finished): its record."""
        run = self._running.get(task_id)
        if run is not None:
            await asyncio.wait({run})
            if not run.cancelled() and (error := run.exception()) is not None:
                raise error  # e.g. the database went away: the caller reports it; `resume` continues later
        while True:
            task = await self.store.get_task(task_id)
            if task.status not in RUNNABLE:
                return task
            await asyncio.sleep(poll)

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

    async def aclose(self) -> None:
        """Stop background runs; they stay ``running`` and continue from their checkpoint next start."""
        runs = list(self._running.values())
        for run in runs:
            run.cancel()
        await asyncio.gather(*runs, return_exceptions=True)

    # -- execution ---------------------------------------------------------------------------------

    async def run(self, task_id: str) -> TaskStatus:
        """Claim the task and run it until it stops (review, finished); a lost claim ends quietly.

        ``DependencyUnavailable`` escapes only when the run is queued (the queue retries it with backoff);
        in-process it ends the task ``failed`` with the reason, and ``retry`` continues it later.
        """
        claim = await self.store.claim_run(task_id, self.worker_name)
        if claim is None:
            return (await self.store.get_task(task_id)).status
        epoch, previous = claim
        token = _EPOCH.set(epoch)
        try:
            return await self._run_claimed(task_id, previous)
        except RunSuperseded as exc:
            log.warning("run_superseded", task_id=task_id, epoch=epoch, detail=exc.message)
            return TaskStatus.RUNNING
        finally:
            _EPOCH.reset(token)

    async def _run_claimed(self, task_id: str, previous: str | None) -> TaskStatus:
        task = await self.store.get_task(task_id)
        if previous is not None:  # the last holder never let go: it crashed, was killed or hung
            self.metrics.runs_recovered.inc()
            log.info("task_recovering", task_id=task_id, step=task.current_step, previous_worker=previous)
            language = task_language(task)
            await self._emit(task_id, EventType.TASK_RECOVERING,
                             text("event.recovering", language, step=task.current_step or "start",
                                  label=step_label(task.current_step, language)),
                             step=task.current_step, status="running")
        config: Any = {"configurable": {"thread_id": task_id}}
        try:
            graph_input, waiting = await self._graph_input(task, config)
            if waiting:
                return await self._after_invoke(task_id, config)
            result = await self.graph.ainvoke(graph_input, config)
        except TaskCancelled:
            return await self._finish(task_id, TaskStatus.CANCELLED, EventType.CANCELLED,
                                      text("event.cancelled", task_language(task)))
        except (RunSuperseded, asyncio.CancelledError):
            raise
        except DependencyUnavailable as exc:
            if self.queued:
                log.warning("run_interrupted", task_id=task_id, error=exc.message)
                raise
            return await self._failed(task_id, exc, task_language(task))
        except Exception as exc:
            return await self._failed(task_id, exc, task_language(task))
        if self.emergency:
            return await self._completed(task_id, result)
        return await self._after_invoke(task_id, config)

    async def _graph_input(self, task: TaskRecord, config: Any) -> tuple[Any, bool]:
        """(what to invoke the graph with, whether the run is waiting for a review decision instead)."""
        start = {"task_id": task.task_id, "request": task.request}
        if self.emergency:
            log.warning("emergency_mode_run", task_id=task.task_id, message="no checkpointer: no human review, "
                        "no crash recovery; this run is auto-approved and starts from the beginning")
            return {**start, "request": {**task.request, "auto_approve": True}}, False
        snapshot = await self.graph.aget_state(config)
        if not snapshot.values:  # never checkpointed: start from the request
            return start, False
        interrupts = [i for t in snapshot.tasks for i in t.interrupts]
        if not interrupts:
            return None, False  # continue from the last checkpoint
        decision = await self.store.decision(task.task_id, interrupts[0].value["review_round"])
        if decision is None:  # stopped at the review before its status was recorded: wait for the decision
            return None, True
        return Command(resume=decision), False

    async def _failed(self, task_id: str, exc: Exception, language: Language) -> TaskStatus:
        if isinstance(exc, OutOfScope):  # an answer, not a fault: no stack trace
            log.info("failed", task_id=task_id, error_code=exc.code, error=exc.message)
        else:
            log.error("failed", task_id=task_id, error=f"{type(exc).__name__}: {exc}",
                      exc_info=not isinstance(exc, DependencyUnavailable))
        reason = hide_paths(redact_text(getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"))
        code = getattr(exc, "code", "error")
        return await self._finish(task_id, TaskStatus.FAILED, EventType.FAILED,
                                  text("event.failed", language, reason=reason),
                                  error=reason, error_code=code, data={"code": code})

    async def fail(self, task_id: str, reason: str) -> None:
        """Give up on a run the queue could not finish (attempts used up): the task ends failed."""
        claim = await self.store.claim_run(task_id, self.worker_name)
        if claim is None:
            return
        token = _EPOCH.set(claim[0])
        try:
            language = task_language(await self.store.get_task(task_id))
            await self._finish(task_id, TaskStatus.FAILED, EventType.FAILED,
                               text("event.failed", language, reason=reason), error=reason)
        finally:
            _EPOCH.reset(token)

    async def _after_invoke(self, task_id: str, config: Any) -> TaskStatus:
        snapshot = await self.graph.aget_state(config)
        interrupts = [i for t in snapshot.tasks for i in t.interrupts]
        if interrupts:
            value = interrupts[0].value
            log.info("human_review_required", task_id=task_id, review_round=value["review_round"])
            language = (snapshot.values.get("intent") or {}).get("language", "en")
            key = "event.review_required.last" if value.get("last_round") else "event.review_required"
            message = text(key, language, round=value["review_round"],
                           max=value.get("max_review_rounds", self.settings.max_review_rounds))
            # The status and its event in one transaction: a decision can only follow what clients were told.
            await self._emit(task_id, EventType.HUMAN_REVIEW_REQUIRED, message,
                             step=HUMAN_REVIEW, status="human_review_pending", data=value, task_values={
                                 "status": TaskStatus.HUMAN_REVIEW_PENDING.value, "current_step": HUMAN_REVIEW,
                                 "worker": None, "review_round": value["review_round"],
                                 "draft_roadmap": snapshot.values["roadmap"]})
            return TaskStatus.HUMAN_REVIEW_PENDING
        return await self._completed(task_id, snapshot.values)

    async def _completed(self, task_id: str, values: dict[str, Any]) -> TaskStatus:
        data = {"roadmap_id": values["roadmap"]["id"], "artifacts": values.get("artifacts", {})}
        language: Language = values["roadmap"].get("language", "en")
        return await self._finish(task_id, TaskStatus.COMPLETED, EventType.COMPLETED,
                                  text("event.completed", language), data=data)

    async def _finish(self, task_id: str, status: TaskStatus, event: EventType, message: str, *,
                      error: str | None = None, error_code: str | None = None,
                      data: dict[str, Any] | None = None) -> TaskStatus:
        log.info(event.value, task_id=task_id, status=status.value, error=error)
        values = {"status": status.value, "error": error, "error_code": error_code, "current_step": None,
                  "worker": None}
        delay = 1.0
        while True:
            try:
                await self._emit(task_id, event, message, status=status.value, data=data, task_values=values)
                break
            except DatabaseUnavailable as exc:
                if self.queued:  # the queue retries the run
                    raise
                # In-process (a full disk, the database away): the task must not stay "running" forever. Keep
                # the outcome and save it as soon as the database takes writes again; cancel and retry follow.
                log.error("final_state_not_saved", task_id=task_id, status=status.value, error=exc.message,
                          retry_in_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, FINAL_SAVE_MAX_DELAY)
        self.metrics.runs_finished.labels(status=status.value).inc()
        return status
