"""The in-process runner: drives tasks through the graph and keeps the task row and event log true.

A run is ``graph.ainvoke`` on the task's thread (thread id = task id). When it stops at ``interrupt()`` the
task waits for review; a decision is recorded once per round (the unique key makes a second one a 409) and
resumes the graph with ``Command(resume=...)``. A run that died (Ctrl-C, crash) is continued from its last
checkpoint by ``resume``; cancellation is honoured at the next step boundary.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command

from roadmap_agent.domain.catalog import Catalog
from roadmap_agent.domain.models import LearnerRequest, ReviewDecision, Roadmap
from roadmap_agent.domain.render import roadmap_to_markdown
from roadmap_agent.errors import CheckpointerUnavailable, Conflict, NotAwaitingReview, NotRetryable, TaskCancelled
from roadmap_agent.events.bus import EventLog
from roadmap_agent.infra.storage import ArtifactStore
from roadmap_agent.llm.base import Planner
from roadmap_agent.logging import get_logger
from roadmap_agent.metrics import Metrics
from roadmap_agent.settings import ResilienceSettings
from roadmap_agent.store.records import EventType, TaskRecord, TaskStatus
from roadmap_agent.store.repository import TaskStore
from roadmap_agent.workflow.graph import HUMAN_REVIEW, build_graph

log = get_logger(__name__)

RUNNABLE = {TaskStatus.PENDING, TaskStatus.RUNNING}


class Runner:
    def __init__(self, store: TaskStore, events: EventLog, storage: ArtifactStore, planner: Planner,
                 catalog: Catalog, saver: Any, settings: ResilienceSettings, metrics: Metrics | None = None) -> None:
        self.store = store
        self.events = events
        self.storage = storage
        self.settings = settings
        self.metrics = metrics or Metrics()
        # Emergency mode: no checkpointer, so no interrupt() (review) and nothing to resume from.
        self.emergency = saver is None
        self.graph: CompiledStateGraph[Any, Any, Any, Any] = build_graph(
            planner, catalog, self, saver, max_fix_rounds=settings.max_fix_rounds,
            step_timeout=settings.step_timeout)
        self._running: dict[str, asyncio.Task[TaskStatus]] = {}
        self._started_at: dict[tuple[str, str], float] = {}

    # -- StepHooks ---------------------------------------------------------------------------------

    async def step_started(self, task_id: str, step: str, *, announce: bool = True) -> None:
        task = await self.store.get_task(task_id)
        if task.cancel_requested:
            raise TaskCancelled(f"Task {task_id} was cancelled before {step}.")
        if self.settings.step_delay:
            await asyncio.sleep(self.settings.step_delay)
        self._started_at[(task_id, step)] = time.perf_counter()
        if not announce:
            await self.store.update_task(task_id, current_step=step)
            return
        log.info(f"{step}_started", task_id=task_id)
        await self.events.emit(task_id, EventType.PROGRESS, f"{step} started", step=step, status="started",
                               task_values={"current_step": step})

    async def step_completed(self, task_id: str, step: str, message: str, data: dict[str, Any]) -> None:
        started = self._started_at.pop((task_id, step), time.perf_counter())
        elapsed = time.perf_counter() - started
        elapsed_ms = round(elapsed * 1000, 1)
        self.metrics.step_duration.labels(step=step).observe(elapsed)
        log.info(f"{step}_completed", task_id=task_id, duration_ms=elapsed_ms)
        task_values = {"intent": data["intent"]} if step == "intent_analysis" else None
        await self.events.emit(task_id, EventType.PROGRESS, message, step=step, status="completed",
                               data={**data, "duration_ms": elapsed_ms}, task_values=task_values)

    async def finalize(self, task_id: str, roadmap: Roadmap) -> dict[str, str]:
        body = roadmap.model_dump(mode="json")
        await self.store.save_roadmap(task_id, body)
        json_uri = await self.storage.put(f"roadmaps/{roadmap.id}.json",
                                          roadmap.model_dump_json(indent=2).encode(), "application/json")
        md_uri = await self.storage.put(f"roadmaps/{roadmap.id}.md", roadmap_to_markdown(roadmap).encode(),
                                        "text/markdown; charset=utf-8")
        await self.store.update_task(task_id, roadmap_id=roadmap.id, draft_roadmap=None)
        return {"json": json_uri, "markdown": md_uri}

    # -- commands ----------------------------------------------------------------------------------

    async def submit(self, owner: str, request: LearnerRequest, idempotency_key: str | None = None,
                     *, background: bool = True) -> TaskRecord:
        task, created = await self.store.create_task(owner, request.model_dump(), idempotency_key)
        if created:
            self.metrics.runs_started.inc()
            log.info("workflow_execution_starting", task_id=task.task_id)
            await self.events.emit(task.task_id, EventType.PROGRESS, "Task accepted", status="pending")
            if background:
                self.start(task.task_id)
        return task

    def start(self, task_id: str, graph_input: Any = None, *, fresh: bool = True) -> asyncio.Task[TaskStatus]:
        """Run (or continue) ``task_id`` in the background; at most one run per task in this process."""
        current = self._running.get(task_id)
        if current is not None and not current.done():
            return current
        run = asyncio.create_task(self.run(task_id, graph_input, fresh=fresh), name=f"run-{task_id}")
        self._running[task_id] = run
        run.add_done_callback(lambda _: self._running.pop(task_id, None) if self._running.get(task_id) is run
                              else None)
        return run

    async def wait(self, task_id: str) -> TaskStatus | None:
        run = self._running.get(task_id)
        return await run if run is not None else None

    async def review(self, task_id: str, decision: ReviewDecision, owner: str | None = None) -> TaskRecord:
        if self.emergency:
            raise CheckpointerUnavailable("Human review is unavailable: the service runs in emergency mode without "
                                          "a checkpointer (ROADMAP_AGENT_CHECKPOINTER=none); runs are auto-approved.")
        task = await self.store.get_task(task_id, owner)
        if task.status != TaskStatus.HUMAN_REVIEW_PENDING:
            raise NotAwaitingReview(f"Task {task_id} is {task.status.value}, not waiting for a review decision.")
        await self.store.record_decision(task_id, task.review_round, decision.approved, decision.feedback)
        if not decision.approved and not (decision.feedback or "").strip():
            log.info("review_rejected_without_feedback", task_id=task_id)
        claimed = await self.store.set_status_if(task_id, {TaskStatus.HUMAN_REVIEW_PENDING}, TaskStatus.RUNNING)
        if not claimed:
            raise NotAwaitingReview(f"Task {task_id} stopped waiting for review (it was cancelled).")
        resume: Command[Any] = Command(resume={"approved": decision.approved, "feedback": decision.feedback})
        self.start(task_id, resume, fresh=False)
        return await self.store.get_task(task_id)

    async def cancel(self, task_id: str, owner: str | None = None) -> TaskRecord:
        task = await self.store.get_task(task_id, owner)
        if task.status == TaskStatus.CANCELLED:
            return task
        if task.status in (TaskStatus.COMPLETED, TaskStatus.FAILED):
            raise Conflict(f"Task {task_id} already {task.status.value}; there is nothing to cancel.")
        await self.store.update_task(task_id, cancel_requested=True)
        # A live run stops itself at its next step boundary; a task nobody is running is cancelled here.
        idle = {TaskStatus.HUMAN_REVIEW_PENDING} | (set() if task_id in self._running else {TaskStatus.PENDING})
        if await self.store.set_status_if(task_id, idle, TaskStatus.CANCELLED, current_step=None):
            log.info("cancelled", task_id=task_id)
            await self.events.emit(task_id, EventType.CANCELLED, "Task cancelled", status="cancelled")
        return await self.store.get_task(task_id)

    async def retry(self, task_id: str, owner: str | None = None) -> TaskRecord:
        task = await self.store.get_task(task_id, owner)
        if task.status != TaskStatus.FAILED:
            raise NotRetryable(f"Task {task_id} is {task.status.value}; only failed tasks can be retried.")
        await self.store.set_status_if(task_id, {TaskStatus.FAILED}, TaskStatus.RUNNING, error=None)
        self.start(task_id, None, fresh=False)
        return await self.store.get_task(task_id)

    async def resume(self, task_id: str) -> asyncio.Task[TaskStatus] | None:
        """Continue a run that died (status pending/running) from its last checkpoint."""
        task = await self.store.get_task(task_id)
        if task.status not in RUNNABLE:
            return None
        self.metrics.runs_recovered.inc()
        log.info("task_recovering", task_id=task_id, step=task.current_step)
        await self.events.emit(task_id, EventType.TASK_RECOVERING,
                               f"Resuming from the last checkpoint (was at {task.current_step or 'start'})",
                               step=task.current_step, status="running")
        return self.start(task_id, None, fresh=False)

    async def recover_unfinished(self) -> list[str]:
        """At startup (embedded mode, one process): continue every run the last process left behind."""
        recovered = []
        for task in await self.store.tasks_in(RUNNABLE):
            if await self.resume(task.task_id) is not None:
                recovered.append(task.task_id)
        return recovered

    async def aclose(self) -> None:
        """Stop background runs; they stay ``running`` and continue from their checkpoint next start."""
        runs = list(self._running.values())
        for run in runs:
            run.cancel()
        await asyncio.gather(*runs, return_exceptions=True)

    # -- execution ---------------------------------------------------------------------------------

    async def run(self, task_id: str, graph_input: Any = None, *, fresh: bool = True) -> TaskStatus:
        config: Any = {"configurable": {"thread_id": task_id}}
        task = await self.store.get_task(task_id)
        if task.status.terminal:
            return task.status
        if self.emergency:
            log.warning("emergency_mode_run", task_id=task_id, message="no checkpointer: no human review, "
                        "no crash recovery; this run is auto-approved and starts from the beginning")
            graph_input = {"task_id": task_id, "request": {**task.request, "auto_approve": True}}
        elif graph_input is None:
            snapshot = await self.graph.aget_state(config)
            if not snapshot.values:  # never checkpointed: start from the request
                graph_input = {"task_id": task_id, "request": task.request}
        await self.store.set_status_if(task_id, RUNNABLE | {TaskStatus.HUMAN_REVIEW_PENDING}, TaskStatus.RUNNING)
        try:
            result = await self.graph.ainvoke(graph_input, config)
        except TaskCancelled:
            return await self._finish(task_id, TaskStatus.CANCELLED, EventType.CANCELLED, "Task cancelled")
        except Exception as exc:
            log.exception("failed", task_id=task_id)
            reason = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            return await self._finish(task_id, TaskStatus.FAILED, EventType.FAILED, f"Task failed: {reason}",
                                      error=reason)
        if self.emergency:
            return await self._completed(task_id, result)
        return await self._after_invoke(task_id, config)

    async def _after_invoke(self, task_id: str, config: Any) -> TaskStatus:
        snapshot = await self.graph.aget_state(config)
        interrupts = [i for t in snapshot.tasks for i in t.interrupts]
        if interrupts:
            value = interrupts[0].value
            await self.store.update_task(task_id, status=TaskStatus.HUMAN_REVIEW_PENDING.value,
                                         current_step=HUMAN_REVIEW, review_round=value["review_round"],
                                         draft_roadmap=snapshot.values["roadmap"])
            log.info("human_review_required", task_id=task_id, review_round=value["review_round"])
            await self.events.emit(task_id, EventType.HUMAN_REVIEW_REQUIRED,
                                   f"Review round {value['review_round']}: approve, or reject with feedback",
                                   step=HUMAN_REVIEW, status="human_review_pending", data=value)
            return TaskStatus.HUMAN_REVIEW_PENDING
        return await self._completed(task_id, snapshot.values)

    async def _completed(self, task_id: str, values: dict[str, Any]) -> TaskStatus:
        data = {"roadmap_id": values["roadmap"]["id"], "artifacts": values.get("artifacts", {})}
        return await self._finish(task_id, TaskStatus.COMPLETED, EventType.COMPLETED, "Roadmap ready", data=data)

    async def _finish(self, task_id: str, status: TaskStatus, event: EventType, message: str, *,
                      error: str | None = None, data: dict[str, Any] | None = None) -> TaskStatus:
        await self.store.update_task(task_id, status=status.value, error=error, current_step=None)
        self.metrics.runs_finished.labels(status=status.value).inc()
        log.info(event.value, task_id=task_id, status=status.value, error=error)
        await self.events.emit(task_id, event, message, status=status.value, data=data)
        return status
