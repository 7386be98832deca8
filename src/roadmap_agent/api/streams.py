"""Caps on concurrent event streams (SSE and WebSocket): per API key and per process, in memory.

A stream holds a slot from its first byte to its last; past a cap the request is refused with 429 and
``Retry-After`` (a WebSocket closes with 1013 "try again later"), so one key cannot starve everyone else.
``with_keepalive`` marks the silences of a stream, so that an SSE response sends a comment while it is quiet.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from typing import TypeVar

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from roadmap_agent.errors import RateLimited

RETRY_AFTER = 5
T = TypeVar("T")


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


async def with_keepalive(items: AsyncIterator[T], every: float) -> AsyncIterator[T | None]:
    """``items``, with a ``None`` after each ``every`` seconds without one: the caller sends a keep-alive then.

    Proxies and load balancers cut a response that stays silent past their idle timeout (often 60 s), and a
    workflow step may take longer. The next item is awaited in a task of its own, so a beat never cancels
    the source (cancelling an async generator's ``__anext__`` would close it).
    """
    iterator = aiter(items)
    pending: asyncio.Future[T] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(iterator))
            done, _ = await asyncio.wait({pending}, timeout=every)
            if not done:
                yield None
                continue
            try:
                item = pending.result()
            except StopAsyncIteration:
                return
            pending = None
            yield item
    finally:  # the reader stopped (client gone, stream over): stop the source too
        if pending is not None and not pending.done():
            pending.cancel()
            await asyncio.wait({pending})
        if pending is not None and not pending.cancelled():
            pending.exception()  # retrieved: a source that failed as it was abandoned is not logged
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()
