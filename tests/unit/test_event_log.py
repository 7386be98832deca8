"""EventLog's fast path: what the publish metric counts for each outcome of the bus (fakes: no IO here)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, cast

from roadmap_agent.events.bus import BusStats, EventLog
from roadmap_agent.metrics import Metrics
from roadmap_agent.store.records import Event, EventType
from roadmap_agent.store.repository import TaskStore


class _Store:
    def __init__(self) -> None:
        self.seq = 0

    async def append_event(self, task_id: str, type_: EventType, message: str, **_: Any) -> Event:
        self.seq += 1
        return Event(task_id=task_id, seq=self.seq, type=type_, message=message, timestamp=datetime.now(UTC))


class _Bus:
    """Answers each publish with the next scripted outcome: True, False (skipped) or an exception."""

    remote = True
    target = "scripted"

    def __init__(self, outcomes: list[bool | Exception]) -> None:
        self.outcomes = outcomes

    async def ping(self) -> float:
        return 0.0

    def stats(self) -> BusStats | None:
        return None

    async def publish(self, event: Event) -> bool:
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    @asynccontextmanager
    async def subscribe(self, task_id: str) -> AsyncIterator[asyncio.Queue[Event]]:
        yield asyncio.Queue()

    def is_live(self) -> bool:
        return True


def _count(metrics: Metrics, result: str) -> float:
    value = metrics.registry.get_sample_value("roadmap_event_publishes_total", {"result": result})
    return value or 0.0


async def test_publish_outcomes_are_counted_apart() -> None:
    metrics = Metrics()
    log = EventLog(cast(TaskStore, _Store()), _Bus([True, False, False, RuntimeError("down")]), metrics)
    for _ in range(4):
        await log.emit("t1", EventType.PROGRESS, "step")
    counts = {result: _count(metrics, result) for result in ("ok", "skipped", "failed")}
    assert counts == {"ok": 1.0, "skipped": 2.0, "failed": 1.0}
    assert log.publish_failures == 1
