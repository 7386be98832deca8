"""The application database (SQLAlchemy async): embedded SQLite by default, PostgreSQL (psycopg 3) in server mode.

Every operation goes through ``Database.run(work)``, which gives it a connection (a transaction when it writes)
and a client-side deadline (``operation_timeout``). The deadline is the only defence against a *hung* server
(SIGSTOPped: the kernel still ACKs, so keepalive and ``tcp_user_timeout`` see nothing): the caller gets a
``DatabaseUnavailable`` in bounded time while the stuck operation is left to finish in the background (when the
server comes back, or when TCP or ``statement_timeout`` give up); a caller that goes away (client disconnect)
leaves its operation to finish the same way, so no connection is ever cancelled half-way. Admission is bounded:
``pool_size + pool_max_overflow + pool_max_waiting`` operations in flight, the rest are refused at once.

Connection-level driver errors are translated here into ``DatabaseUnavailable`` with a message that says where
and what to check; schema changes go through Alembic (``migrate``), serialised across processes on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import fcntl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import IO, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from roadmap_agent.errors import AlreadyExists, DatabaseUnavailable, DependencyUnavailable
from roadmap_agent.infra import datadir, postgres
from roadmap_agent.logging import get_logger
from roadmap_agent.redaction import redact_url
from roadmap_agent.settings import DatabaseSettings

T = TypeVar("T")
Work = Callable[[AsyncConnection], Awaitable[T]]

# Any 64-bit constant will do: every roadmap-agent process takes the same lock while migrating.
MIGRATION_LOCK_ID = 0x726F61646D6170  # "roadmap"
# The newest migration (migrations/versions/): a database already there needs no Alembic, which costs ~0.2 s to
# import on every start. tests/unit/test_migrations_head.py checks it is Alembic's head.
SCHEMA_HEAD = "0005"
VERSION_TABLE = "alembic_version"

log = get_logger(__name__)


class Database:
    def __init__(self, engine: AsyncEngine, url: str, settings: DatabaseSettings) -> None:
        self.engine = engine
        self.url = url
        self.display_url = redact_url(url)
        self.is_sqlite = engine.dialect.name == "sqlite"
        self.settings = settings
        self.where = self._where(url)
        self._capacity = settings.pool_size + settings.pool_max_overflow + settings.pool_max_waiting
        self._in_flight = 0
        # Late operations are left to finish, never cancelled half-way; driver errors are mapped in _execute.
        self._boundary = postgres.Boundary("Database", self.where, settings.operation_timeout, cancel_late=False,
                                           driver_errors=())
        self._probe_engine: AsyncEngine | None = None  # PostgreSQL: one connection of its own for health probes
        # PostgreSQL reads run in autocommit (same pool): no BEGIN and ROLLBACK round trips around a SELECT. Under
        # READ COMMITTED every statement takes its own snapshot anyway, so a read transaction bought nothing.
        self._reader = engine if self.is_sqlite else engine.execution_options(isolation_level="AUTOCOMMIT")

    @classmethod
    @asynccontextmanager
    async def from_settings(cls, url: str, settings: DatabaseSettings) -> AsyncIterator[Database]:
        database = cls(_create_engine(url, settings), url, settings)
        try:
            yield database
        finally:
            await database.close()

    async def run(self, work: Work[T], *, write: bool = False, deadline: float | None = None) -> T:
        """``work(conn)`` on a pooled connection (in a transaction if ``write``), within the deadline."""
        if self._in_flight >= self._capacity:
            raise DatabaseUnavailable(f"Database at {self.where} is overloaded: {self._in_flight} operations in "
                                      f"flight, the limit is {self._capacity} (a pool of "
                                      f"{self.settings.pool_size + self.settings.pool_max_overflow} connections "
                                      f"+ {self.settings.pool_max_waiting} waiting). Retry shortly, or raise "
                                      "DB_POOL_MAX_WAITING.")
        # A parameter, not the caller's asyncio.timeout(): cancelling from outside would wait for the clean-up.
        self._in_flight += 1
        try:
            return await self._boundary.call(self._execute(work, write), deadline or self.settings.operation_timeout)
        finally:
            self._in_flight -= 1

    async def _execute(self, work: Work[T], write: bool, engine: AsyncEngine | None = None) -> T:
        try:
            context = (engine or self.engine).begin() if write else (engine or self._reader).connect()
            async with context as conn:
                return await work(conn)
        except PoolTimeout as exc:
            raise DatabaseUnavailable(f"No free database connection to {self.where} within "
                                      f"{self.settings.pool_timeout:g} s (DB_POOL_TIMEOUT); the pool of "
                                      f"{(engine or self.engine).pool.size()} is busy.") from exc  # type: ignore[attr-defined]
        except IntegrityError as exc:  # not the server failing: the store decides what a duplicate means
            raise AlreadyExists(f"A row with that key exists already ({postgres.first_line(exc)}).") from exc
        except (OperationalError, InterfaceError) as exc:
            raise self._unavailable(exc) from exc

    async def ping(self) -> None:
        await self.run(_select_one)

    async def probe(self) -> None:
        """``SELECT 1`` for health checks, on PostgreSQL over a connection of its own (outside the pool and the
        admission limit): readiness then says whether the database answers, not how busy this process is (a
        saturated pool shows in ``roadmap_db_pool_connections`` and in fast 503s). The caller bounds the wait."""
        if self.is_sqlite:
            await self.ping()
            return
        if self._probe_engine is None:
            self._probe_engine = _create_engine(self.url, self.settings.model_copy(
                update={"pool_size": 1, "pool_max_overflow": 0}))
        await self._execute(_select_one, write=False, engine=self._probe_engine)

    def pool_stats(self) -> dict[str, float]:
        """Connections in use / idle / overflow, and operations in flight (for metrics)."""
        pool: Any = self.engine.pool
        stats = {"in_flight": float(self._in_flight), "abandoned": float(self._boundary.pending)}
        if hasattr(pool, "checkedout"):
            in_use = float(pool.checkedout())
            stats.update(in_use=in_use, idle=float(pool.checkedin()), overflow=float(max(0, pool.overflow())),
                         waiting=max(0.0, self._in_flight - in_use))
        return stats

    async def close(self) -> None:
        # Give abandoned operations a moment to unwind; connections stuck on a hung server are not
        # closed (that would wait on the server too), only dropped from the pool.
        # SQLite operations end within the busy timeout; a PostgreSQL one may wait on a hung server: 1 s.
        await self._boundary.deadline.drain(self.settings.sqlite_busy_timeout + 1 if self.is_sqlite else 1.0)
        await self.engine.dispose(close=not self._boundary.pending)
        if self._probe_engine is not None:  # a probe still out on a hung server keeps its connection
            await self._probe_engine.dispose(close=not self._probe_engine.pool.checkedout())  # type: ignore[attr-defined]

    def _unavailable(self, exc: DBAPIError) -> DependencyUnavailable:
        if self.is_sqlite and (full := datadir.sqlite_disk_error(Path(self.where), postgres.first_line(exc))):
            return DatabaseUnavailable(full)
        return self._boundary.unavailable(exc)

    @staticmethod
    def _where(url: str) -> str:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            return parsed.database or ":memory:"
        return postgres.host_port(url)


async def _select_one(conn: AsyncConnection) -> None:
    await conn.execute(sa.text("SELECT 1"))


def _create_engine(url: str, settings: DatabaseSettings) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            file = Path(parsed.database).expanduser()
            datadir.prepare(file.parent, file)  # 0700 / 0600, or one clear sentence at once
        engine = create_async_engine(url, connect_args={"timeout": settings.sqlite_busy_timeout})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    connect_args = postgres.connection_options(settings)
    return create_async_engine(
        url, pool_size=settings.pool_size, max_overflow=settings.pool_max_overflow,
        pool_timeout=settings.pool_timeout, pool_recycle=settings.pool_recycle, pool_pre_ping=True,
        connect_args=connect_args,
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the API read while a run writes; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _alembic_config(url: str) -> Any:
    from alembic.config import Config  # alembic is only needed when migrating

    config = Config()
    config.set_main_option("script_location", str(resources.files("roadmap_agent") / "migrations"))
    config.attributes["database_url"] = url
    return config


async def schema_version(database: Database) -> list[str]:
    """The revisions recorded in the version table (none on a new database)."""

    def read(sync_connection: sa.Connection) -> list[str]:
        if not sa.inspect(sync_connection).has_table(VERSION_TABLE):
            return []
        return list(sync_connection.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars())  # noqa: S608 - a constant

    async def work(conn: AsyncConnection) -> list[str]:
        return await conn.run_sync(read)

    return await database.run(work)


async def migrate(database: Database, deadline: float = 120.0) -> None:
    """Apply every Alembic migration not applied yet (idempotent; one process at a time on PostgreSQL).

    A database already at ``SCHEMA_HEAD`` is left as it is without loading Alembic (one read of its version).
    """
    if await schema_version(database) == [SCHEMA_HEAD]:
        return
    from alembic import command

    config = _alembic_config(database.url)

    async def upgrade(conn: AsyncConnection) -> None:
        if not database.is_sqlite:
            await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})

        def run_alembic(sync_connection: sa.Connection) -> None:
            config.attributes["connection"] = sync_connection
            command.upgrade(config, "head")

        await conn.run_sync(run_alembic)

    if not database.is_sqlite:
        await database.run(upgrade, write=True, deadline=deadline)
        return
    # SQLite has no advisory locks: serialise processes on a lock file next to the database.
    lock = await asyncio.to_thread(_lock_file, make_url(database.url).database or "roadmap-agent.db")
    try:
        await database.run(upgrade, write=True, deadline=deadline)
    finally:
        lock.close()  # closing the file releases the flock


def _lock_file(database_file: str) -> IO[bytes]:
    """Open ``<db>.migrate.lock`` and take an exclusive flock on it (blocks while another process migrates)."""
    lock = Path(database_file).expanduser().with_suffix(".migrate.lock").open("a+b")
    fcntl.flock(lock, fcntl.LOCK_EX)
    return lock
