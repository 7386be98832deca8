"""LangGraph checkpoints: the SQLite saver in embedded mode (server mode adds PostgreSQL later).

``Checkpointer.from_settings`` yields an object whose ``saver`` is handed to ``graph.compile``; ``setup()``
runs once when it opens, never per request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from roadmap_agent.errors import CheckpointerUnavailable


class Checkpointer:
    def __init__(self, saver: BaseCheckpointSaver[str], location: str) -> None:
        self.saver = saver
        self.location = location

    @classmethod
    @asynccontextmanager
    async def sqlite(cls, path: Path) -> AsyncIterator[Checkpointer]:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = await aiosqlite.connect(str(path), timeout=10)
            await conn.execute("PRAGMA journal_mode=WAL")
        except (OSError, aiosqlite.Error) as exc:
            raise CheckpointerUnavailable(f"Cannot open the checkpoint file {path} ({exc}). "
                                          "Check ROADMAP_AGENT_HOME points at a writable folder.") from exc
        saver = AsyncSqliteSaver(conn)
        try:
            await saver.setup()
            yield cls(saver, str(path))
        finally:
            await conn.close()

    async def ping(self) -> None:
        if isinstance(self.saver, AsyncSqliteSaver):
            await self.saver.conn.execute("SELECT 1")
