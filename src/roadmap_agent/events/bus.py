"""Event fan-out and the durable-first event log.

``EventLog.emit`` appends to ``task_events`` (the truth) and only then publishes on the bus (the fast path).
A publish failure is logged and counted, never raised: subscribers re-read the table and miss nothing.
``InProcessBus`` is the embedded default; ``RedisBus`` (``events/redis_bus.py``) implements the same
``EventBus`` protocol in server mode, and says through it what callers need to know about a remote bus
(``remote``, ``target``, ``ping``, ``stats``) without asking which class it is.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from roadmap_agent.logging import get_logger
from roadmap_agent.metrics import Metrics
from roadmap_agent.store.records import Event, EventType
from roadmap_agent.store.repository import TaskStore

_QUEUE_LIMIT = 1000
_OUTBOX_LIMIT = 10_000

log = get_logger(__name__)


@dataclass(frozen=True)
class BusStats:
    """A remote bus's publishes so far and its circuit breaker (for metrics)."""

    breaker_state: str
    published: int
    failed: int
    skipped_open: int


class EventBus(Protocol):
    @property
    def remote(self) -> bool:
        """Publishing crosses the network (may be slow or fail), so it is done off the caller's path."""
        ...

    @property
    def target(self) -> str:
        """Where events go, secret-free (for health)."""
        ...

    async def ping(self) -> float:
        """Round-trip time in seconds; raises when the bus cannot be reached."""
        ...

    def stats(self) -> BusStats | None:
        """Counters of a remote bus, or None."""
        ...

    async def publish(self, event: Event) -> bool:
        """Hand ``event`` to live subscribers; False if skipped on purpose (a breaker open), raise on failure."""
        ...

    def subscribe(self, task_id: str) -> AbstractAsyncContextManager[asyncio.Queue[Event]]: ...

    def is_live(self) -> bool:
        """Live events are arriving: a quiet subscriber need not re-read the log (False while Redis is away)."""
        ...


class InProcessBus:
    """Fan-out inside one process. A slow subscriber's full queue drops live events; it refills from the log."""

    remote = False
    target = "in-process"

    def __init__(self) -> None:
        self._queues: dict[str, set[asyncio.Queue[Event]]] = defaultdict(set)

    async def ping(self) -> float:
        return 0.0

    def stats(self) -> BusStats | None:
        return None

    async def publish(self, event: Event) -> bool:
        for queue in list(self._queues.get(event.task_id, ())):
            if queue.full():
                continue
            queue.put_nowait(event)
        return True

    def is_live(self) -> bool:
        return True

    @asynccontextmanager
    async def subscribe(self, task_id: str) -> AsyncIterator[asyncio.Queue[Event]]:
        queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=_QUEUE_LIMIT)
        self._queues[task_id].add(queue)
        try:
            yield queue
        finally:
            self._queues[task_id].discard(queue)
            if not self._queues[task_id]:
                del self._queues[task_id]


class EventLog:
    """Append to the durable log, then hand the event to the bus.

    With a remote bus (``background=True``) publishing happens on one background task fed by a bounded queue,
    in order: ``emit`` returns as soon as the event is durable, so no request or step ever waits on Redis (not
    even the 250 ms publish deadline). A full queue drops the live copy; subscribers read it from the log.
    """

    def __init__(self, store: TaskStore, bus: EventBus, metrics: Metrics | None = None, *,
                 background: bool = False) -> None:
        self.store = store
        self.bus = bus
        self.metrics = metrics
        self.publish_failures = 0
        self._outbox: asyncio.Queue[Event] | None = asyncio.Queue(maxsize=_OUTBOX_LIMIT) if background else None
        self._publisher: asyncio.Task[None] | None = None

    async def emit(self, task_id: str, type_: EventType, message: str, *, step: str | None = None,
                   status: str | None = None, data: dict[str, Any] | None = None,
                   task_values: dict[str, Any] | None = None, epoch: int | None = None) -> Event:
        """Append durably (fenced by the run's ``epoch`` when given), then publish on the fast path."""
        event = await self.store.append_event(task_id, type_, message, step=step, status=status, data=data,
                                              task_values=task_values, epoch=epoch)
        await self.announce(event)
        return event

    async def announce(self, event: Event) -> None:
        """Publish an event that is durable already (e.g. a task's first, written with the task itself)."""
        if self._outbox is None:
            await self._publish(event)
        elif self._outbox.full():
            self._count("dropped")
        else:
            self._outbox.put_nowait(event)
            if self._publisher is None or self._publisher.done():
                self._publisher = asyncio.create_task(self._drain_outbox(), name="event-publisher")

    async def _drain_outbox(self) -> None:
        assert self._outbox is not None  # noqa: S101 - only started with an outbox
        while True:
            await self._publish(await self._outbox.get())

    async def _publish(self, event: Event) -> None:
        try:
            published = await self.bus.publish(event)
        except Exception as exc:  # the durable log already has it: never fail the caller over the fast path
            self.publish_failures += 1
            self._count("failed")
            log.warning("event_publish_failed", task_id=event.task_id, seq=event.seq, error=str(exc))
        else:
            self._count("ok" if published else "skipped")

    async def aclose(self, grace: float = 1.0) -> None:
        """Publish what is queued (for at most ``grace`` seconds), then stop the publisher."""
        deadline = asyncio.get_running_loop().time() + grace
        while self._outbox is not None and not self._outbox.empty() and self._publisher and not self._publisher.done():
            if asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.01)
        if self._publisher is not None:
            self._publisher.cancel()
            await asyncio.gather(self._publisher, return_exceptions=True)

    def _count(self, result: str) -> None:
        if self.metrics is not None:
            self.metrics.event_publishes.labels(result=result).inc()
