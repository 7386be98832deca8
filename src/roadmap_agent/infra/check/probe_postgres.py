"""The PostgreSQL probes: the database (login, pool fit, schema), the checkpointer and the run queue.

Connections are opened by ``infra/postgres.connect`` with the service's own options (keepalives, timeouts,
pgbouncer), the checkpointer's the way its pool opens them (autocommit, dict rows). The checkpointer and the
queue live in the same server as the database: when the database is down they are skipped, not tried again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from roadmap_agent.infra import postgres
from roadmap_agent.infra.check.report import DependencyReport, StepResult
from roadmap_agent.infra.check.steps import (
    Concern,
    Limits,
    Steps,
    Stop,
    close_quietly,
    endpoint_of,
    network_steps,
    stops,
)
from roadmap_agent.redaction import redact_url
from roadmap_agent.settings import API_QUEUE_POOL, DatabaseSettings, Settings

if TYPE_CHECKING:
    from psycopg import AsyncConnection

    Connection = AsyncConnection[Any]

@dataclass
class PoolFit:
    max_connections: int
    reserved: int
    in_use: int
    per_process: int
    parts: str

    def describe(self) -> str:
        room = (self.max_connections - self.reserved) // self.per_process
        return (f"max_connections {self.max_connections} ({self.reserved} reserved, {self.in_use} in use); one "
                f"roadmap-agent process opens up to {self.per_process} ({self.parts}): room for {room} processes")

    def concern(self) -> Concern:
        available = self.max_connections - self.reserved
        if self.per_process <= available:
            return None
        return (f"one process may open {self.per_process} connections but the server allows {available}",
                "Lower DB_POOL_SIZE / DB_POOL_MAX_OVERFLOW / DB_CHECKPOINT_POOL_SIZE, raise max_connections, or "
                "put pgbouncer in front (DB_PGBOUNCER=true).")


POOL_QUERY = ("SELECT current_setting('max_connections')::int, current_setting('superuser_reserved_connections')"
              "::int, (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int")
SCHEMA_QUERY = "SELECT to_regclass('alembic_version') IS NOT NULL"
CHECKPOINT_QUERY = "SELECT to_regclass('checkpoints') IS NOT NULL AND to_regclass('checkpoint_migrations') IS NOT NULL"


def pg_context(url: str) -> dict[str, Any]:
    endpoint = endpoint_of(url, postgres.DEFAULT_PORT)
    parts = urlsplit(url)
    return {"address": endpoint.address, "host": endpoint.host, "port": endpoint.port, "user": parts.username or
            "postgres", "database": parts.path.lstrip("/") or parts.username or "postgres",
            "vars": "DATABASE_URL (or POSTGRES_HOST / POSTGRES_PORT)"}


def _connect_timeout(settings: DatabaseSettings, limits: Limits) -> int:
    """The service's connect timeout, no longer than one step (libpq rounds anything below 2 s up to 2)."""
    return max(2, min(settings.connect_timeout, int(limits.step_timeout)))


async def _login(url: str, settings: DatabaseSettings, limits: Limits) -> tuple[Connection, str]:
    conn = await postgres.connect(url, settings, connect_timeout=_connect_timeout(settings, limits))
    row = await (await conn.execute("SELECT version()")).fetchone()
    return conn, str(row[0]) if row else "?"


def _short(version: str) -> str:
    return version.split(" on ")[0]  # "PostgreSQL 15.18 (Debian ...)" without the compiler and platform


async def _pool_fit(conn: Connection, settings: DatabaseSettings) -> PoolFit:
    row = await (await conn.execute(POOL_QUERY)).fetchone()
    max_connections, reserved, in_use = row if row else (0, 0, 0)
    parts = (f"DB_POOL_SIZE {settings.pool_size} + DB_POOL_MAX_OVERFLOW {settings.pool_max_overflow} + "
             f"DB_CHECKPOINT_POOL_SIZE {settings.checkpoint_pool_size} + {API_QUEUE_POOL} run queue + 1 health "
             "probe; a worker: run queue --concurrency + 4")
    per_process = (settings.pool_size + settings.pool_max_overflow + settings.checkpoint_pool_size
                   + API_QUEUE_POOL + 1)
    return PoolFit(int(max_connections), int(reserved), int(in_use), per_process, parts)


async def _scalar(conn: Connection, query: str) -> Any:
    row = await (await conn.execute(query)).fetchone()
    return next(iter(row.values())) if isinstance(row, dict) else (row[0] if row else None)


async def check_postgres(url: str, settings: DatabaseSettings, limits: Limits) -> DependencyReport:
    report = DependencyReport("database", True, redact_url(url))
    steps = Steps(report, "postgres", limits, **pg_context(url))
    conn: Connection | None = None
    with stops():
        await network_steps(steps, endpoint_of(postgres.libpq_url(url), postgres.DEFAULT_PORT))
        opened, version = await steps.run("login", lambda: _login(url, settings, limits),
                                          lambda found: f"authenticated; SELECT version(): {_short(found[1])}")
        conn, report.version = opened, _short(version)
        await steps.run("pool", lambda: _pool_fit(opened, settings), PoolFit.describe, concern=PoolFit.concern)
        await steps.run("schema", lambda: _scalar(opened, SCHEMA_QUERY), lambda migrated: "tables are migrated"
                        if migrated else "empty: roadmap-agent migrate creates the tables (serve does it at start)")
    await _close(conn, steps)
    return report


async def _close(conn: Connection | None, steps: Steps) -> None:
    if conn is not None and not steps.abandoned:  # an abandoned step's connection waits on the server
        await close_quietly(conn.close())


async def _same_server(steps: Steps, database: Awaitable[DependencyReport], detail: str, diagnosis: str,
                       hint: str) -> None:
    """Skip (and end the sequence) when the database in the same server is down."""
    if (await database).status == "down":
        steps.report.steps.append(StepResult("connect", False, None, detail))
        steps.report.diagnosis, steps.report.hint = diagnosis, hint
        raise Stop


def _autocommit_connection(url: str, settings: DatabaseSettings,
                           limits: Limits) -> Callable[[], Awaitable[Connection]]:
    """A connection opened as the checkpoint pool opens its own (autocommit, dict rows)."""
    return lambda: postgres.connect(url, settings, autocommit=True, dict_rows=True,
                                    connect_timeout=_connect_timeout(settings, limits))


async def check_pg_checkpointer(url: str, settings: DatabaseSettings, limits: Limits,
                                database: Awaitable[DependencyReport]) -> DependencyReport:
    """The same server as the database, opened the way the checkpoint pool opens its connections."""
    report = DependencyReport("checkpointer", True, redact_url(url))
    steps = Steps(report, "postgres", limits, **pg_context(url))
    conn: Connection | None = None
    with stops():
        await _same_server(steps, database, "skipped: same PostgreSQL server as the database",
                           "the checkpointer lives in the same PostgreSQL server as the database, which is down",
                           "Fix the database first (see above).")
        opened = await steps.run("connect", _autocommit_connection(url, settings, limits),
                                 lambda _: "autocommit connection with dict rows, as the checkpoint pool opens")
        conn, report.version = opened, (await database).version
        await steps.run("tables", lambda: _scalar(opened, CHECKPOINT_QUERY), lambda present: "checkpoint tables "
                        "present" if present else "not created yet: the first serve, migrate or generate creates them")
    await _close(conn, steps)
    return report


@dataclass(frozen=True)
class QueueState:
    """The run queue as ``check`` sees it: live workers and waiting work (procrastinate's tables)."""

    workers: int
    stalled_after: float
    todo: int
    doing: int
    oldest_todo_s: float | None

    def describe_workers(self) -> str:
        return f"{self.workers} worker(s) heartbeating within {self.stalled_after:g} s"

    def workers_concern(self) -> Concern:
        if self.workers:
            return None
        return ("no worker is running: accepted runs wait in the queue",
                "Start one or more `roadmap-agent worker` processes with the same DATABASE_URL.")

    def describe_jobs(self) -> str:
        oldest = f", oldest waiting {self.oldest_todo_s:.0f} s" if self.oldest_todo_s is not None else ""
        return f"{self.todo} waiting, {self.doing} running{oldest}"

    def jobs_concern(self) -> Concern:
        if self.oldest_todo_s is None or self.oldest_todo_s < QUEUE_BACKLOG_WARNING_S:
            return None
        return (f"a run has waited {self.oldest_todo_s:.0f} s for a worker",
                "Workers are busy or absent: add workers or raise --concurrency.")


QUEUE_BACKLOG_WARNING_S = 60.0
QUEUE_QUERY = """
SELECT (SELECT count(*) FROM procrastinate_workers
         WHERE last_heartbeat > NOW() - make_interval(secs => %(stalled)s)) AS workers,
       count(*) FILTER (WHERE status = 'todo') AS todo,
       count(*) FILTER (WHERE status = 'doing') AS doing,
       EXTRACT(EPOCH FROM NOW() - min(scheduled_at) FILTER (WHERE status = 'todo')) AS oldest_todo_s
  FROM procrastinate_jobs
"""


async def _queue_state(conn: Connection, stalled_after: float) -> QueueState:
    cursor = await conn.execute(QUEUE_QUERY, {"stalled": stalled_after})
    row = await cursor.fetchone()
    assert row is not None  # noqa: S101 - an aggregate always returns a row
    oldest = row["oldest_todo_s"]
    return QueueState(int(row["workers"]), stalled_after, int(row["todo"]), int(row["doing"]),
                      float(oldest) if oldest is not None else None)


async def check_pg_queue(url: str, settings: Settings, limits: Limits,
                         database: Awaitable[DependencyReport]) -> DependencyReport:
    """Server mode: are workers alive, and is work waiting too long? (Optional: runs just wait meanwhile.)"""
    report = DependencyReport("workers", False, redact_url(url))
    steps = Steps(report, "postgres", limits, **pg_context(url))
    conn: Connection | None = None
    with stops():
        await _same_server(steps, database, "skipped: the queue lives in the database",
                           "the run queue is in the database, which is down", "Fix the database first.")
        opened = await steps.run("connect", _autocommit_connection(url, settings.database, limits),
                                 lambda _: "connected to the run queue")
        conn = opened
        present = await steps.run("tables", lambda: _scalar(opened, QUEUE_TABLES_QUERY),
                                  lambda found: "queue tables present" if found else "not created yet",
                                  concern=lambda found: None if found else (
                                      "the run queue is not created yet",
                                      "Run `roadmap-agent migrate` (serve and worker do it at start)."))
        if not present:
            raise Stop
        state = await steps.run("workers", lambda: _queue_state(opened, settings.worker.stalled_after),
                                QueueState.describe_workers, concern=QueueState.workers_concern)
        report.steps.append(StepResult("jobs", True, None, state.describe_jobs(), state.jobs_concern() is not None))
        if report.diagnosis is None and (concern := state.jobs_concern()) is not None:
            report.diagnosis, report.hint = concern
    await _close(conn, steps)
    return report


QUEUE_TABLES_QUERY = "SELECT to_regclass('procrastinate_jobs') IS NOT NULL"
