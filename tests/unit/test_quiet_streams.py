"""Finding 5: a quiet event stream costs no database work while the bus is live (fakes: no IO here)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Any, cast

from roadmap_agent.events.bus import InProcessBus
from roadmap_agent.events.stream import stream_events
from roadmap_agent.store.records import Event, EventType, TaskStatus
from roadmap_agent.store.repository import TaskStore


class _Store:
    """One running task with one event; counts the reads a stream makes."""

    def __init__(self) -> None:
        self.reads = 0

    async def get_task(self, task_id: str) -> Any:
        self.reads += 1
        return type("Task", (), {"status": TaskStatus.RUNNING})()

    async def events_after(self, task_id: str, after: int) -> list[Event]:
        return [] if after >= 1 else [Event(task_id=task_id, seq=1, type=EventType.PROGRESS, message="started",
                                            timestamp=datetime.now(UTC))]


class _AwayBus(InProcessBus):
    def is_live(self) -> bool:
        return False


async def reads_during(bus: InProcessBus, seconds: float) -> tuple[int, list[int]]:
    store = _Store()
    seen: list[int] = []

    async def consume() -> None:
        async for event in stream_events("t1", 0, cast(TaskStore, store), bus, poll_interval=0.02):
            seen.append(event.seq)

    consumer = asyncio.create_task(consume())
    await asyncio.sleep(seconds)
    await bus.publish(Event(task_id="t1", seq=2, type=EventType.COMPLETED, message="done",
                            timestamp=datetime.now(UTC)))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(consumer, 1.0)
    return store.reads, seen


async def test_a_quiet_stream_reads_the_log_once_while_the_bus_is_live() -> None:
    reads, seen = await reads_during(InProcessBus(), 0.5)
    assert reads == 1 and seen == [1, 2]


async def test_while_the_bus_is_away_the_stream_tails_the_log() -> None:
    reads, seen = await reads_during(_AwayBus(), 0.3)
    assert reads >= 5 and seen == [1, 2]
