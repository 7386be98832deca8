"""A subscriber's view of one task's events: replay from the log, then live, exactly once and in order.

The subscription opens *before* the replay, so nothing published in between is lost; live events at or below
the last delivered sequence are dropped, and a jump in sequence (a dropped publish, a full queue, a dead
bus) is filled from the log. A quiet stream costs no database work while the bus is live: the log is re-read
every ``poll_interval`` seconds only while the bus is away (and once when it comes back), plus a backstop
read every ``backstop_interval`` seconds that catches a publish lost in another process. The stream ends
after a terminal event, or at once when the task has finished and nothing is left after ``after``. A log read
that fails because the database is away is tried again every ``poll_interval`` seconds: the stream waits,
then catches up from the log, instead of breaking mid-response.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from roadmap_agent.errors import DatabaseUnavailable
from roadmap_agent.events.bus import EventBus
from roadmap_agent.store.records import Event
from roadmap_agent.store.repository import TaskStore

BACKSTOP_INTERVAL = 30.0


async def stream_events(task_id: str, after: int, store: TaskStore, bus: EventBus, poll_interval: float = 1.0,
                        count: Callable[[str], None] | None = None,
                        backstop_interval: float = BACKSTOP_INTERVAL, *, follow: bool = False) -> AsyncIterator[Event]:
    """``count(path)`` is told how each event was delivered: "replay", "live", or "log_fallback" (missed live).

    ``follow`` keeps the stream open past the task's end, for the learning events of its final roadmap."""
    last = after
    read_log = True
    path = "replay"
    tally = count or (lambda _path: None)
    loop = asyncio.get_running_loop()
    async with bus.subscribe(task_id) as queue:
        was_live = bus.is_live()
        read_at = loop.time()
        while True:
            if read_log:
                # Status first, then the log: a task already finished with nothing after ``last`` (a client
                # asking for ?after= past the end) ends the stream instead of waiting forever.
                read_at = loop.time()
                try:
                    finished = (await store.get_task(task_id)).status.terminal
                    events = await store.events_after(task_id, last)
                except DatabaseUnavailable:
                    await asyncio.sleep(poll_interval)
                    continue
                for event in events:
                    tally(path)
                    yield event
                    last = event.seq
                    if event.terminal and not follow:
                        return
                if finished and not events and not follow:
                    return
                path = "log_fallback"
            try:
                live = await asyncio.wait_for(queue.get(), timeout=poll_interval)
            except TimeoutError:
                is_live = bus.is_live()
                # Away now, or just back (events may have gone by meanwhile), or the backstop is due.
                read_log = not (is_live and was_live) or loop.time() - read_at >= backstop_interval
                was_live = is_live
                continue
            read_log = live.seq > last + 1  # a gap: fill it from the log
            if live.seq == last + 1:
                tally("live")
                yield live
                last = live.seq
                if live.terminal and not follow:
                    return
