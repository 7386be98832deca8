"""LangGraph checkpoints: the SQLite saver in embedded mode, PostgreSQL over one connection pool in server mode.

``Checkpointer.from_settings`` (or ``sqlite`` / ``postgres``) yields an object whose ``saver`` is handed to
``graph.compile``; ``setup()`` runs once when it opens, never per request.

In server mode the saver is ``PooledPostgresSaver`` (``checkpointer_postgres.py``, imported only then: psycopg
and its pool cost a quarter of a second to load): LangGraph's ``AsyncPostgresSaver`` without its instance-wide
lock, each call bounded by ``DB_OPERATION_TIMEOUT``, its driver errors mapped to ``CheckpointerUnavailable``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import aiosqlite
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
)
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from roadmap_agent.errors import CheckpointerUnavailable
from roadmap_agent.infra import datadir
from roadmap_agent.redaction import redact_url
from roadmap_agent.settings import DatabaseSettings, Settings

if TYPE_CHECKING:
    from roadmap_agent.infra.checkpointer_postgres import PooledPostgresSaver

T = TypeVar("T")


class Checkpointer:
    def __init__(self, saver: BaseCheckpointSaver[str], location: str, *,
                 pooled: PooledPostgresSaver | None = None) -> None:
        self.saver = saver
        self.location = location
        self.pooled = pooled  # the same saver, in server mode: its pool is pinged and measured

    @classmethod
    @asynccontextmanager
    async def from_settings(cls, settings: Settings) -> AsyncIterator[Checkpointer]:
        """SQLite under ``ROADMAP_AGENT_HOME`` when embedded, else the PostgreSQL of ``DATABASE_URL``."""
        url = settings.database.server_url()
        context = cls.sqlite(settings.checkpoint_path()) if url is None else cls.postgres(url, settings.database)
        async with context as checkpointer:
            yield checkpointer

    @classmethod
    @asynccontextmanager
    async def sqlite(cls, path: Path) -> AsyncIterator[Checkpointer]:
        datadir.prepare(path.parent, path)
        try:
            conn = await aiosqlite.connect(str(path), timeout=10)
            await conn.execute("PRAGMA journal_mode=WAL")
        except (OSError, aiosqlite.Error) as exc:
            raise CheckpointerUnavailable(f"Cannot open the checkpoint file {path} ({exc}). "
                                          "Check ROADMAP_AGENT_HOME points at a writable folder.") from exc
        saver = DiskAwareSqliteSaver(conn, path)
        try:
            await saver.setup()
            yield cls(saver, str(path))
        finally:
            await conn.close()

    @classmethod
    @asynccontextmanager
    async def postgres(cls, url: str, settings: DatabaseSettings) -> AsyncIterator[Checkpointer]:
        """One bounded, checked pool for this process; the tables are created (or migrated) once."""
        from roadmap_agent.infra.checkpointer_postgres import open_pooled_saver  # psycopg: server mode only

        async with open_pooled_saver(url, settings) as saver:
            yield cls(saver, redact_url(url), pooled=saver)

    async def ping(self) -> None:
        if self.pooled is not None:
            await self.pooled.ping()
        elif isinstance(self.saver, AsyncSqliteSaver):
            await self.saver.conn.execute("SELECT 1")

    def pool_stats(self) -> dict[str, float]:
        """Pool connections in use / idle, callers waiting, calls abandoned after a timeout (for metrics)."""
        return self.pooled.pool_stats() if self.pooled is not None else {}


class DiskAwareSqliteSaver(AsyncSqliteSaver):
    """LangGraph's SQLite saver whose writes refused by a full disk raise ``CheckpointerUnavailable`` with the
    data folder's disk-full sentence, instead of a bare ``OperationalError: disk I/O error``."""

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        super().__init__(conn)
        self.path = path

    async def aput(self, config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata,
                   new_versions: ChannelVersions) -> RunnableConfig:
        return await self._mapped(super().aput(config, checkpoint, metadata, new_versions))

    async def aput_writes(self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str,
                          task_path: str = "") -> None:
        await self._mapped(super().aput_writes(config, writes, task_id, task_path))

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return await self._mapped(super().aget_tuple(config))

    async def _mapped(self, call: Awaitable[T]) -> T:
        try:
            return await call
        except aiosqlite.OperationalError as exc:
            if (full := datadir.sqlite_disk_error(self.path, str(exc))) is not None:
                raise CheckpointerUnavailable(full) from exc
            raise
