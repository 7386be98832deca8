"""The runner: claims a task and drives it through the graph, keeping the task row and event log true.

Its parts: ``hooks.py`` (what happens around each step: progress events, fencing, timing), ``tasks.py`` (the
task rules: submit, review, cancel, retry, resume -- no LangGraph), and this module (claim and run).

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
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command

from roadmap_agent.domain.catalog import Catalog
from roadmap_agent.domain.messages import text
from roadmap_agent.domain.models import Language, LearnerRequest, ReviewDecision
from roadmap_agent.errors import (
    DatabaseUnavailable,
    DependencyUnavailable,
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
from roadmap_agent.steps import HUMAN_REVIEW
from roadmap_agent.store.records import EventType, TaskRecord, TaskStatus
from roadmap_agent.store.repository import InTransaction, TaskStore
from roadmap_agent.workflow.graph import build_graph
from roadmap_agent.workflow.hooks import RunHooks, current_epoch, step_label
from roadmap_agent.workflow.language import task_language
from roadmap_agent.workflow.tasks import RUNNABLE, KnownSkills, TaskRules

__all__ = ["RUNNABLE", "Runner", "default_worker_name", "step_label", "task_language"]

log = get_logger(__name__)
T = TypeVar("T")
FINAL_SAVE_MAX_DELAY = 30.0  # seconds between attempts to save a run's outcome the database refused

Dispatch = Callable[[str], Awaitable[None]]
Saver = BaseCheckpointSaver[str]


def default_worker_name(role: str = "proc") -> str:
    return f"{role}:{socket.gethostname()}:{os.getpid()}"


class Runner:
    def __init__(self, store: TaskStore, events: EventLog, storage: ArtifactStore, planner: Planner,
                 catalog: Catalog, saver: Saver | None, settings: ResilienceSettings, metrics: Metrics | None = None,
                 *, dispatch: Dispatch | None = None, dispatch_within: InTransaction | None = None,
                 worker_name: str | None = None) -> None:
        self.store = store
        self.events = events
        self.settings = settings
        self.metrics = metrics or Metrics()
        # None: runs are asyncio tasks of this process. Otherwise runs are queued for worker processes.
        self._dispatch = dispatch
        self.worker_name = worker_name or default_worker_name()
        # Emergency mode: no checkpointer, so no interrupt() (review) and nothing to resume from.
        self.emergency = saver is None
        self.hooks = RunHooks(store, events, storage, settings, self.metrics)
        # dispatch_within: a new task's job is queued in the task's own insert transaction (dispatch: later runs).
        self.rules = TaskRules(store, events, settings, self.metrics, self.schedule, emergency=self.emergency,
                               enqueue_within=dispatch_within if dispatch is not None else None)
        self.graph: CompiledStateGraph[Any, Any, Any, Any] = build_graph(
            planner, catalog, self.hooks, saver, max_fix_rounds=settings.max_fix_rounds,
            max_review_rounds=settings.max_review_rounds, step_timeout=settings.step_timeout)
        self._running: dict[str, asyncio.Task[TaskStatus]] = {}

    @property
    def queued(self) -> bool:
        return self._dispatch is not None

    @property
    def known_skills(self) -> KnownSkills | None:
        return self.rules.known_skills

    @known_skills.setter
    def known_skills(self, known_skills: KnownSkills | None) -> None:
        self.rules.known_skills = known_skills

    # -- the task rules (tasks.py) -----------------------------------------------------------------

    async def submit(self, owner: str, request: LearnerRequest, idempotency_key: str | None = None,
                     *, background: bool = True) -> TaskRecord:
        return await self.rules.submit(owner, request, idempotency_key, background=background)

    async def review(self, task_id: str, decision: ReviewDecision, owner: str | None = None) -> TaskRecord:
        return await self.rules.review(task_id, decision, owner)

    async def cancel(self, task_id: str, owner: str | None = None) -> TaskRecord:
        return await self.rules.cancel(task_id, owner)

    async def retry(self, task_id: str, owner: str | None = None) -> TaskRecord:
        return await self.rules.retry(task_id, owner)

    async def resume(self, task_id: str) -> bool:
        return await self.rules.resume(task_id)

    async def recover_unfinished(self) -> list[str]:
        return await self.rules.recover_unfinished()

    # -- scheduling --------------------------------------------------------------------------------

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
        claim = await self._until_saved(lambda: self.store.claim_run(task_id, self.worker_name), "run_not_claimed",
                                        task_id)
        if claim is None:
            return (await self.store.get_task(task_id)).status
        epoch, previous = claim
        token = current_epoch.set(epoch)
        try:
            return await self._run_claimed(task_id, previous)
        except RunSuperseded as exc:
            log.warning("run_superseded", task_id=task_id, epoch=epoch, detail=exc.message)
            return TaskStatus.RUNNING
        finally:
            current_epoch.reset(token)

    async def _run_claimed(self, task_id: str, previous: str | None) -> TaskStatus:
        task = await self.store.get_task(task_id)
        if previous is not None:  # the last holder never let go: it crashed, was killed or hung
            self.metrics.runs_recovered.inc()
            log.info("task_recovering", task_id=task_id, step=task.current_step, previous_worker=previous)
            language = task_language(task)
            await self.hooks.emit(task_id, EventType.TASK_RECOVERING,
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
        token = current_epoch.set(claim[0])
        try:
            language = task_language(await self.store.get_task(task_id))
            await self._finish(task_id, TaskStatus.FAILED, EventType.FAILED,
                               text("event.failed", language, reason=reason), error=reason)
        finally:
            current_epoch.reset(token)

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
            await self.hooks.emit(task_id, EventType.HUMAN_REVIEW_REQUIRED, message,
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
        await self._until_saved(lambda: self.hooks.emit(task_id, event, message, status=status.value, data=data,
                                                        task_values=values), "final_state_not_saved", task_id)
        self.metrics.runs_finished.labels(status=status.value).inc()
        return status

    async def _until_saved(self, write: Callable[[], Awaitable[T]], what: str, task_id: str) -> T:
        """``write()``, again with backoff while the database refuses it, when in-process.

        In-process (a full disk, the database away) a task must not stay ``pending`` or ``running`` forever:
        keep what is to be written and write it as soon as the database takes writes again; cancel and retry
        follow. Queued, the error escapes: the queue retries the run with its own backoff."""
        delay = 1.0
        while True:
            try:
                return await write()
            except DatabaseUnavailable as exc:
                if self.queued:
                    raise
                log.error(what, task_id=task_id, error=exc.message, retry_in_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, FINAL_SAVE_MAX_DELAY)
