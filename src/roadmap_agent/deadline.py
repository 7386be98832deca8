"""Deadlines that never wait on the thing that is late.

``asyncio.wait_for`` and ``asyncio.timeout`` cancel the late operation *and wait for its clean-up*; against a
hung server (SIGSTOPped: the kernel still ACKs) that clean-up waits on the same server, so the caller hangs
anyway. ``Deadline.run`` runs the operation in a task of its own and, when time is up (or the caller is
cancelled), returns control at once and leaves the task to finish in the background (optionally cancelled).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

T = TypeVar("T")


class DeadlineExceeded(TimeoutError):
    """The operation did not finish in time; it may still be running in the background."""


class Deadline:
    def __init__(self, *, cancel_late: bool = False) -> None:
        # cancel_late=False suits drivers where a cancelled operation leaks its connection (aiosqlite) or where
        # finishing late is harmless; True sends the driver's cancel (psycopg: a cancel request to the server).
        self.cancel_late = cancel_late
        self.pending: set[asyncio.Future[Any]] = set()

    async def run(self, operation: Awaitable[T], seconds: float | None) -> T:
        task = asyncio.ensure_future(operation)
        try:
            done, _ = await asyncio.wait({task}, timeout=seconds)
        except asyncio.CancelledError:
            self._leave(task)
            raise
        if not done:
            self._leave(task)
            raise DeadlineExceeded(f"no answer within {seconds:g} s")
        return task.result()

    async def drain(self, seconds: float) -> None:
        """Give operations left behind up to ``seconds`` to finish (at shutdown)."""
        if self.pending:
            await asyncio.wait(list(self.pending), timeout=seconds)

    def _leave(self, task: asyncio.Future[Any]) -> None:
        if self.cancel_late:
            task.cancel()
        self.pending.add(task)
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Future[Any]) -> None:
        self.pending.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved, so asyncio does not log "exception was never retrieved"
