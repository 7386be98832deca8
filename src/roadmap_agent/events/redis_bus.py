"""``RedisBus``: the ``EventBus`` of server mode, task events as JSON over ``infra/redis.py``'s pub/sub.

infra/ moves plain payloads; this is where they become ``Event``s again (parsed once per process, however
many local subscribers a task has).
"""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager

from roadmap_agent.events.bus import BusStats
from roadmap_agent.infra.redis import RedisPubSub
from roadmap_agent.store.records import Event


class RedisBus(RedisPubSub[Event]):
    remote = True  # publishing crosses the network: EventLog publishes from a background task

    def decode(self, data: bytes) -> Event:
        return Event.model_validate_json(data)

    async def publish(self, event: Event) -> bool:
        return await self.send(event.task_id, event.model_dump_json(),
                               f"publishing event {event.seq} of task {event.task_id}")

    def subscribe(self, task_id: str) -> AbstractAsyncContextManager[asyncio.Queue[Event]]:
        return self.listen(task_id)

    @property
    def target(self) -> str:
        return self.connection.display_url

    def stats(self) -> BusStats:
        return BusStats(self.breaker.state, self.published, self.failed, self.skipped_open)
