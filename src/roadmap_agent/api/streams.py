"""Caps on concurrent event streams (SSE and WebSocket): per API key and per process, in memory.

A stream holds a slot from its first byte to its last; past a cap the request is refused with 429 and
``Retry-After`` (a WebSocket closes with 1013 "try again later"), so one key cannot starve everyone else.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from roadmap_agent.errors import RateLimited

RETRY_AFTER = 5


class StreamSlots:
    def __init__(self, per_key: int, total: int) -> None:
        self.per_key = per_key
        self.total = total
        self.open = 0
        self._by_key: Counter[str] = Counter()

    def acquire(self, key_id: str) -> None:
        if self._by_key[key_id] >= self.per_key:
            raise RateLimited(f"This API key already has {self.per_key} event streams open (the limit, "
                              "ROADMAP_AGENT_MAX_STREAMS_PER_KEY). Close one, or follow several tasks from one "
                              f"client, and retry in {RETRY_AFTER} s.", retry_after=RETRY_AFTER)
        if self.open >= self.total:
            raise RateLimited(f"This server has {self.total} event streams open (the limit, "
                              f"ROADMAP_AGENT_MAX_STREAMS). Retry in {RETRY_AFTER} s.", retry_after=RETRY_AFTER)
        self._by_key[key_id] += 1
        self.open += 1

    def release(self, key_id: str) -> None:
        self.open -= 1
        self._by_key[key_id] -= 1
        if self._by_key[key_id] <= 0:
            del self._by_key[key_id]

    @contextmanager
    def held(self, key_id: str) -> Iterator[None]:
        self.acquire(key_id)
        try:
            yield
        finally:
            self.release(key_id)


class SlotResponse(StreamingResponse):
    """A streaming response that gives its slot back however it ends (done, client gone, cancelled)."""

    def __init__(self, content: AsyncIterator[str], *, slots: StreamSlots, key_id: str,
                 headers: Mapping[str, str] | None = None, media_type: str | None = None) -> None:
        super().__init__(content, headers=headers, media_type=media_type)
        self._slots, self._key_id = slots, key_id

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._slots.release(self._key_id)
