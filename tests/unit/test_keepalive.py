"""A quiet event stream is marked (``with_keepalive`` yields None), so SSE sends a comment proxies see as traffic."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from typing import cast

from roadmap_agent.api.streams import with_keepalive


async def test_silence_is_marked_without_losing_or_reordering_items() -> None:
    release = asyncio.Event()

    async def source() -> AsyncIterator[int]:
        yield 1
        await release.wait()  # a long step: nothing to send
        yield 2

    seen: list[int | None] = []
    async for item in with_keepalive(source(), every=0.01):
        seen.append(item)
        if item is None and seen.count(None) == 3:
            release.set()
    assert seen[0] == 1 and seen[-1] == 2
    assert seen.count(None) >= 3 and [i for i in seen if i is not None] == [1, 2]


async def test_a_busy_stream_gets_no_keepalive_and_the_source_is_closed_when_the_reader_stops() -> None:
    closed = asyncio.Event()

    async def source() -> AsyncIterator[int]:
        try:
            for number in range(100):
                yield number
            await asyncio.Event().wait()  # then quiet forever
        finally:
            closed.set()

    stream = cast(AsyncGenerator[int | None, None], with_keepalive(source(), every=60.0))
    first = [await anext(stream) for _ in range(100)]
    assert first == list(range(100))
    await stream.aclose()
    assert closed.is_set()
