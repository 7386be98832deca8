"""What a run does around each graph step (``StepHooks``): the step's progress events, its fencing, its timing.

Every write of a run is fenced by the epoch its claim took (``current_epoch``, a context variable the graph's
nodes inherit): a run another worker has taken over stops at its next write (``RunSuperseded``). A cancel is
honoured at the next step boundary (``TaskCancelled``). Database calls inside a step are retried on transient
unavailability, jittered and bounded.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any, TypeVar

from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from roadmap_agent.domain.messages import text
from roadmap_agent.domain.models import Language, Roadmap
from roadmap_agent.domain.render import roadmap_to_markdown
from roadmap_agent.errors import DatabaseUnavailable, RunSuperseded, TaskCancelled
from roadmap_agent.events.bus import EventLog
from roadmap_agent.infra.storage import ArtifactStore
from roadmap_agent.logging import get_logger
from roadmap_agent.metrics import Metrics
from roadmap_agent.settings import ResilienceSettings
from roadmap_agent.steps import INTENT_ANALYSIS
from roadmap_agent.store.records import EventType
from roadmap_agent.store.repository import TaskStore

T = TypeVar("T")
log = get_logger(__name__)
# The epoch this run claimed; graph nodes run in child tasks, which inherit it.
current_epoch: ContextVar[int | None] = ContextVar("run_epoch", default=None)


def step_label(step: str | None, language: Language) -> str:
    return text(f"step.{step}", language) if step else text("step.start", language)


class RunHooks:
    """``StepHooks`` for the graph, and the fenced event writes every part of a run shares."""

    def __init__(self, store: TaskStore, events: EventLog, storage: ArtifactStore, settings: ResilienceSettings,
                 metrics: Metrics) -> None:
        self.store = store
        self.events = events
        self.storage = storage
        self.settings = settings
        self.metrics = metrics
        self._started_at: dict[tuple[str, str], float] = {}

    async def step_started(self, task_id: str, step: str, *, language: Language = "en",
                           announce: bool = True) -> None:
        task = await self.retrying(lambda: self.store.get_task(task_id))
        if task.cancel_requested:
            raise TaskCancelled(f"Task {task_id} was cancelled before {step}.")
        if task.run_epoch != current_epoch.get():
            raise RunSuperseded(f"Task {task_id}: another worker took this run over.")
        if self.settings.step_delay:
            await asyncio.sleep(self.settings.step_delay)
        self._started_at[(task_id, step)] = time.perf_counter()
        if not announce:
            await self.retrying(lambda: self.store.update_task(task_id, current_step=step,
                                                               epoch=current_epoch.get()))
            return
        log.info(f"{step}_started", task_id=task_id)
        message = text("event.step_started", language, step=step, label=step_label(step, language))
        await self.emit(task_id, EventType.PROGRESS, message, step=step, status="started",
                        task_values={"current_step": step})

    async def step_completed(self, task_id: str, step: str, message: str, data: dict[str, Any]) -> None:
        started = self._started_at.pop((task_id, step), time.perf_counter())
        elapsed = time.perf_counter() - started
        elapsed_ms = round(elapsed * 1000, 1)
        self.metrics.step_duration.labels(step=step).observe(elapsed)
        log.info(f"{step}_completed", task_id=task_id, duration_ms=elapsed_ms)
        task_values = {"intent": data["intent"]} if step == INTENT_ANALYSIS else None
        await self.emit(task_id, EventType.PROGRESS, message, step=step, status="completed",
                        data={**data, "duration_ms": elapsed_ms}, task_values=task_values)

    async def finalize(self, task_id: str, roadmap: Roadmap) -> dict[str, str]:
        body = roadmap.model_dump(mode="json")
        await self.retrying(lambda: self.store.save_roadmap(task_id, body, epoch=current_epoch.get()))
        json_uri = await self.storage.put(f"roadmaps/{roadmap.id}.json",
                                          roadmap.model_dump_json(indent=2).encode(), "application/json")
        md_uri = await self.storage.put(f"roadmaps/{roadmap.id}.md", roadmap_to_markdown(roadmap).encode(),
                                        "text/markdown; charset=utf-8")
        await self.retrying(lambda: self.store.update_task(task_id, roadmap_id=roadmap.id, draft_roadmap=None,
                                                           epoch=current_epoch.get()))
        return {"json": json_uri, "markdown": md_uri}

    async def emit(self, task_id: str, type_: EventType, message: str, **fields: Any) -> None:
        """An event of this run: fenced by its epoch, which the event data carries too, with an id that
        keeps a retried append from logging it twice."""
        epoch = current_epoch.get()
        data = {**(fields.pop("data", None) or {}), "epoch": epoch, "event_id": uuid.uuid4().hex}
        await self.retrying(lambda: self.events.emit(task_id, type_, message, data=data, epoch=epoch, **fields))

    async def retrying(self, call: Callable[[], Awaitable[T]]) -> T:
        """A database call inside a step: retried on transient unavailability (jittered, bounded)."""
        async for attempt in AsyncRetrying(
                retry=retry_if_exception_type(DatabaseUnavailable), reraise=True,
                stop=stop_after_attempt(self.settings.step_db_attempts),
                wait=wait_random_exponential(multiplier=0.25, max=self.settings.step_db_max_backoff)):
            with attempt:
                return await call()
        raise AssertionError("unreachable")  # pragma: no cover - reraise=True re-raises the last error
