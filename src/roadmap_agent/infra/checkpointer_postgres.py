"""The checkpointer of server mode: ``PooledPostgresSaver`` over one ``psycopg_pool`` pool.

Imported by ``Checkpointer.postgres`` only (the embedded default never loads psycopg). Connection-level driver
errors become ``CheckpointerUnavailable`` here, with a message naming ``host:port`` (never the password) and
what to check.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import psycopg
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import ChannelVersions, Checkpoint, CheckpointMetadata, CheckpointTuple
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.serde.base import SerializerProtocol
from psycopg import AsyncConnection, AsyncCursor
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout, TooManyRequests
from tenacity import retry, retry_if_result, wait_random

from roadmap_agent.errors import CheckpointerUnavailable
from roadmap_agent.infra import postgres
from roadmap_agent.infra.postgres import host_port, libpq_url
from roadmap_agent.redaction import redact_text
from roadmap_agent.settings import DatabaseSettings

T = TypeVar("T")
Pool = AsyncConnectionPool[AsyncConnection[DictRow]]

# Any 64-bit constant will do: every roadmap-agent process takes it while creating the checkpoint tables.
SETUP_LOCK_ID = 0x726D6170636B7074  # "rmapckpt"
# setup() runs on the connection holding the advisory lock; every other call takes its own from the pool.
_PINNED: ContextVar[AsyncConnection[DictRow] | None] = ContextVar("checkpoint_setup_connection", default=None)


@asynccontextmanager
async def open_pooled_saver(url: str, settings: DatabaseSettings) -> AsyncIterator[PooledPostgresSaver]:
    """One bounded, checked pool for this process; the tables are created (or migrated) once."""
    conninfo, where = libpq_url(url), host_port(url)
    pool: Pool = AsyncConnectionPool(
        conninfo, min_size=1, max_size=settings.checkpoint_pool_size, open=False, name="checkpointer",
        check=AsyncConnectionPool.check_connection, timeout=settings.pool_timeout,
        max_waiting=settings.pool_max_waiting, max_lifetime=settings.pool_recycle,
        max_idle=settings.pool_recycle, kwargs=postgres.connection_options(settings, autocommit=True,
                                                                           dict_rows=True),
    )
    saver = PooledPostgresSaver(pool, where=where, operation_timeout=settings.operation_timeout)
    try:
        await _open(pool, url, settings)
        await saver.setup()
    except BaseException as exc:
        await saver.aclose()
        if isinstance(exc, psycopg.Error | OSError | TimeoutError):
            raise _unreachable(where, url, exc) from exc
        raise
    try:
        yield saver
    finally:
        await saver.aclose()


class PooledPostgresSaver(AsyncPostgresSaver):
    """``AsyncPostgresSaver`` over a pool, minus the lock that made the pool pointless.

    What the lock protects in the stock saver (langgraph-checkpoint-postgres 3.2): ``_cursor()`` takes one
    instance-wide ``asyncio.Lock`` around *every* call, whatever ``conn`` is. That is needed when ``conn`` is a
    single ``AsyncConnection`` (or a shared ``AsyncPipeline``): a libpq connection runs one conversation at a
    time, and two coroutines interleaving there would mix one call's ``pipeline()``/``transaction()`` block with
    another's statements, or read each other's results. Over a pool it protects nothing: each call already
    gets a connection of its own from ``pool.connection()`` and gives it back at the end, so it only
    serialises the process onto one connection at a time (and makes every caller queue behind the slowest).

    Why dropping it is safe here: this class only accepts a pool, and ``_cursor()`` keeps the stock semantics
    per call (the same ``pipeline()`` -- or ``transaction()`` where libpq has no pipeline -- for writes, a
    plain cursor for reads); only the global ordering of *different* calls is gone. Nothing relied on it:
    checkpoint rows are keyed by their id, blobs by (channel, version) with ``DO NOTHING``, writes by
    (checkpoint, task, idx), so concurrent calls touch different rows or idempotent ones; and LangGraph itself
    waits for a thread's previous ``aput`` before the next, while it already saves writes in the background
    where they may commit before their checkpoint (the stock pruning code says so).

    Also: the calls a graph makes (``aget_tuple``, ``alist``, ``aput``, ``aput_writes``, ``adelete_thread``,
    ``setup``, ``ping``) each run in their own task under ``operation_timeout``, so a hung server (SIGSTOPped)
    or a caller's own ``asyncio.timeout`` ends the wait at once; the stuck call is cancelled in the background,
    where psycopg's cancel-and-drain may take 10 s more. (``aprune`` and ``aget_delta_channel_history`` are
    lock-free too, but run in the caller's task.) ``alist`` reads its page before yielding, so a consumer never
    holds a pooled connection while it iterates. ``setup()`` is serialised across processes with an advisory
    lock: the stock one, run by several processes at once on a fresh database, fails with UniqueViolation.
    """

    def __init__(self, pool: Pool, *, where: str = "postgres", operation_timeout: float | None = None,
                 serde: SerializerProtocol | None = None) -> None:
        super().__init__(pool, serde=serde)
        self.pool = pool
        self.where = where
        self.operation_timeout = operation_timeout
        # Late calls are cancelled in the background: psycopg then sends the server a cancel request.
        self._boundary = postgres.Boundary(
            "Checkpoint database", where, operation_timeout, error=CheckpointerUnavailable, cancel_late=True,
            overload=((PoolTimeout, TooManyRequests), "DB_CHECKPOINT_POOL_SIZE (the server's max_connections "
                                                       "permitting) or DB_POOL_MAX_WAITING"))

    @asynccontextmanager
    async def _cursor(self, *, pipeline: bool = False) -> AsyncIterator[AsyncCursor[DictRow]]:
        pinned = _PINNED.get()
        async with _borrow(self.pool, pinned) as conn:
            if pipeline and self.supports_pipeline:
                async with conn.pipeline(), conn.cursor(binary=True, row_factory=dict_row) as cur:
                    yield cur
            elif pipeline:
                async with conn.transaction(), conn.cursor(binary=True, row_factory=dict_row) as cur:
                    yield cur
            else:
                async with conn.cursor(binary=True, row_factory=dict_row) as cur:
                    yield cur

    async def setup(self) -> None:
        await self._bounded(self._setup_locked())

    async def _setup_locked(self) -> None:
        async with self.pool.connection() as conn:
            await _take_setup_lock(conn)
            token = _PINNED.set(conn)
            try:
                await super().setup()
            finally:
                _PINNED.reset(token)
                with contextlib.suppress(psycopg.Error):  # a dead session has released the lock already
                    await conn.execute("SELECT pg_advisory_unlock(%s)", (SETUP_LOCK_ID,))

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return await self._bounded(super().aget_tuple(config))

    async def alist(self, config: RunnableConfig | None, *, filter: dict[str, Any] | None = None,
                    before: RunnableConfig | None = None, limit: int | None = None) -> AsyncIterator[CheckpointTuple]:
        page = super().alist(config, filter=filter, before=before, limit=limit)
        for item in await self._bounded(_collect(page)):
            yield item

    async def aput(self, config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata,
                   new_versions: ChannelVersions) -> RunnableConfig:
        return await self._bounded(super().aput(config, checkpoint, metadata, new_versions))

    async def aput_writes(self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str,
                          task_path: str = "") -> None:
        await self._bounded(super().aput_writes(config, writes, task_id, task_path))

    async def adelete_thread(self, thread_id: str) -> None:
        await self._bounded(super().adelete_thread(thread_id))

    async def ping(self) -> None:
        await self._bounded(self._select_one())

    async def _select_one(self) -> None:
        async with self.pool.connection() as conn:
            await conn.execute("SELECT 1")

    def pool_stats(self) -> dict[str, float]:
        stats = self.pool.get_stats()
        size, idle = stats.get("pool_size", 0), stats.get("pool_available", 0)
        return {"in_use": float(size - idle), "idle": float(idle), "waiting": float(stats.get("requests_waiting", 0)),
                "abandoned": float(self._boundary.pending)}

    async def aclose(self) -> None:
        """Cancel calls abandoned after a timeout, then close the pool (bounded)."""
        for late in list(self._boundary.deadline.pending):
            late.cancel()
        await self.pool.close(timeout=2)

    async def _bounded(self, operation: Awaitable[T]) -> T:
        # Its own task, so neither our deadline nor the caller's cancellation waits for psycopg's clean-up.
        return await self._boundary.call(operation, self.operation_timeout)  # read per call: tunable


@asynccontextmanager
async def _borrow(pool: Pool, pinned: AsyncConnection[DictRow] | None) -> AsyncIterator[AsyncConnection[DictRow]]:
    if pinned is not None:
        yield pinned
    else:
        async with pool.connection() as conn:
            yield conn


# Polled, never waited for: a session *waiting* in pg_advisory_lock() is an open transaction, which the holder's
# CREATE INDEX CONCURRENTLY waits for in turn -- a deadlock (measured with 4 processes starting at once).
# Unbounded here because setup() as a whole runs under operation_timeout.
@retry(retry=retry_if_result(lambda acquired: not acquired), wait=wait_random(0.05, 0.2))
async def _take_setup_lock(conn: AsyncConnection[DictRow]) -> bool:
    cursor = await conn.execute("SELECT pg_try_advisory_lock(%s) AS acquired", (SETUP_LOCK_ID,))
    row = await cursor.fetchone()
    return bool(row and row["acquired"])


async def _collect(items: AsyncIterator[T]) -> list[T]:
    return [item async for item in items]


async def _open(pool: Pool, url: str, settings: DatabaseSettings) -> None:
    # One direct connection first: it fails fast with libpq's reason ("Connection refused", "password
    # authentication failed"), where a pool that cannot fill itself only says it timed out. Checkpoint
    # connections need autocommit and dict rows: ``setup()`` fails without them.
    deadline = settings.connect_timeout + 1
    async with asyncio.timeout(deadline):
        probe = await postgres.connect(url, settings, autocommit=True, dict_rows=True)
    await probe.close()
    await pool.open(wait=True, timeout=deadline)


def _unreachable(where: str, url: str, exc: BaseException) -> CheckpointerUnavailable:
    password = urlsplit(libpq_url(url)).password
    cause = redact_text(postgres.first_line(exc), (password, unquote(password)) if password else ())
    return CheckpointerUnavailable(
        f"Cannot open the checkpoint database (PostgreSQL) at {where} ({cause}). Check that the server is "
        "running and reachable and that DATABASE_URL (or POSTGRES_HOST, POSTGRES_PORT and the credentials) "
        "is right.")
