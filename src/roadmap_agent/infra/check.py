"""``roadmap-agent check``: test every configured dependency step by step and say what is wrong and what to do.

For each dependency (the database always; the checkpointer; Redis, S3 and the LLM when configured) the steps
are: DNS resolution, TCP connect, then authentication plus a real round trip (``SELECT version()``, ``PING`` +
``INFO``, ``head_bucket`` + one listed key, ``GET /models``). Each step has its own short deadline and the run
as a whole a budget (``TOTAL_BUDGET``), so the command ends in bounded time even against a hung server.

The first failing step ends a dependency's sequence and is classified (``classify``): which step failed tells a
firewall (TCP connect times out) from a hung server (TCP connects, the protocol never answers); the error text
tells a wrong password from a missing database, a missing bucket or TLS trouble. Every text that reaches the
report goes through ``redact`` first: drivers may echo a DSN.

A PostgreSQL step that overruns its deadline is abandoned, not cancelled: cancelling a psycopg query makes it
send a cancel request and then wait for the (hung) server. ``run_check`` therefore owns its event loop and
closes it without awaiting leftovers, and blocking calls (``getaddrinfo``, boto3) run in daemon threads that
cannot hold up the exit. Steps whose cancellation never waits on the server (DNS, TCP, Redis, HTTP) are
cancelled. Dependencies start one after another (``staggered``) so that each latency is its own.

Exit rule (``CheckReport.exit_code``): 0 when every required dependency (database, checkpointer) is reachable
-- optional ones (Redis, storage, LLM) down only make the status "degraded" -- and, with ``--strict``, only
when every configured dependency is fully ok (no warning either).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import sqlite3
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx
import psycopg
from psycopg.rows import dict_row
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from rich.console import Console
from rich.markup import escape

from roadmap_agent.redaction import redact_text
from roadmap_agent.settings import API_QUEUE_POOL, DatabaseSettings, Settings, redact_url, url_password

T = TypeVar("T")
Status = Literal["ok", "degraded", "down"]

DNS_TIMEOUT = 2.0
TCP_TIMEOUT = 3.0
DEFAULT_STEP_TIMEOUT = 5.0
TOTAL_BUDGET = 10.0  # seconds for the whole run (every step ends by then): the command stays under ~15 s
STAGGER = 0.5  # a check that takes longer than this no longer holds the next one back
CLOSE_TIMEOUT = 1.0
LOW_DISK_BYTES = 100 * 1024 * 1024


@dataclass
class StepResult:
    name: str
    ok: bool
    latency_ms: float | None
    detail: str
    warning: bool = False


@dataclass
class DependencyReport:
    name: str
    required: bool
    target: str
    steps: list[StepResult] = field(default_factory=list)
    version: str | None = None
    diagnosis: str | None = None
    hint: str | None = None

    @property
    def status(self) -> Status:
        if not self.steps or not all(step.ok for step in self.steps):
            return "down"
        return "degraded" if any(step.warning for step in self.steps) else "ok"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "required": self.required, "status": self.status, "target": self.target,
                "steps": [asdict(step) for step in self.steps], "version": self.version,
                "diagnosis": self.diagnosis, "hint": self.hint}


def passes(report: DependencyReport, strict: bool) -> bool:
    """Required dependencies must be reachable (a warning is fine); ``--strict`` wants everything fully ok."""
    if strict:
        return report.status == "ok"
    return not report.required or report.status != "down"


@dataclass
class CheckReport:
    mode: str
    strict: bool
    dependencies: list[DependencyReport]

    @property
    def ok(self) -> bool:
        return all(passes(dependency, self.strict) for dependency in self.dependencies)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    @property
    def status(self) -> Status:
        if not self.ok:
            return "down"
        return "ok" if all(d.status == "ok" for d in self.dependencies) else "degraded"

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "status": self.status, "mode": self.mode, "strict": self.strict,
                "dependencies": [dependency.to_dict() for dependency in self.dependencies]}


# -- secrets ---------------------------------------------------------------------------------------

def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """``text`` without passwords (see ``roadmap_agent.redaction``)."""
    return redact_text(text, secrets)


def known_secrets(settings: Settings) -> tuple[str, ...]:
    urls = [settings.database.server_url(), settings.redis.server_url()]
    found = [url_password(url) or "" for url in urls if url]
    found += [settings.database.postgres_password.get_secret_value(), settings.redis.password.get_secret_value()]
    found += [s.get_secret_value() for s in (settings.storage.secret_access_key, settings.llm.api_key) if s]
    return tuple(secret for secret in found if secret)


# -- classification --------------------------------------------------------------------------------

# Order matters: the first matching rule wins. Network words come first (a refused connection message
# names a port, which must not be read as an HTTP status); "timeout" comes last.
RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple((kind, re.compile(pattern, re.I)) for kind, pattern in (
    ("refused", r"connection refused|error 111\b|errno 111\b|connect call failed|could not connect to the endpoint"),
    ("unreachable", r"no route to host|network is unreachable|host is unreachable|errno 11[03]\b"),
    ("resolve", r"name or service not known|temporary failure in name resolution|nodename nor servname|"
                r"failed to resolve host|could not translate host name|no address associated|gaierror"),
    ("tls_required", r"ssl connection is required|no pg_hba\.conf entry.*ssl off|ssl (is )?required by"),
    ("tls_unsupported", r"server does not support ssl|wrong version number|ssl.*handshake"),
    ("no_password", r"no password supplied|fe_sendauth|noauth|authentication required|"
                    r"hello must be called with the client already authenticated"),
    ("auth", r"password authentication failed|wrongpass|invalid username-password pair|invalidaccesskeyid|"
             r"signaturedoesnotmatch|accessdenied|invalid.{0,10}api.?key|incorrect api key|http 40[13]\b"),
    ("pg_hba", r"no pg_hba\.conf entry"),
    ("wrong_protocol", r"invalid response to ssl negotiation|expected authentication request from server|"
                       r"protocol error|lost synchronization with server"),
    ("no_database", r"database \".+\" does not exist"),
    ("pgbouncer_options", r"unsupported startup parameter"),
    ("too_many_clients", r"too many clients|remaining connection slots|max number of clients"),
    ("starting", r"the database system is (starting up|shutting down|in recovery)|loading the dataset"),
    ("redis_db", r"db index is out of range"),
    ("no_bucket", r"nosuchbucket|specified bucket does not exist"),
    ("not_found", r"http 404\b"),
    ("no_credentials", r"unable to locate credentials|nocredentialserror"),
    ("permission", r"permission denied|read-only file system|errno 13\b|errno 30\b|not writable"),
    ("corrupt", r"file is not a database|malformed"),
    ("timeout", r"timeout|timed out|no answer within"),
))

EXCEPTION_KINDS: tuple[tuple[type[BaseException], str], ...] = (
    (ConnectionRefusedError, "refused"), (socket.gaierror, "resolve"), (PermissionError, "permission"),
    (TimeoutError, "timeout"),
)

_AUTH_HINTS = {
    "postgres": "Check the password in DATABASE_URL (or POSTGRES_PASSWORD) and the user (POSTGRES_USER); "
                "special characters in a URL must be percent-encoded.",
    "redis": "Check REDIS_PASSWORD or the password in REDIS_URL (redis://:PASSWORD@host:port/0, or "
             "redis://USER:PASSWORD@... with ACL users) against the server's requirepass / ACL.",
    "s3": "Check AWS_ACCESS_KEY_ID (InvalidAccessKeyId: unknown key id) and AWS_SECRET_ACCESS_KEY "
          "(SignatureDoesNotMatch: wrong secret), and the bucket policy.",
    "llm": "Check LLM_API_KEY (sent in the Authorization header).",
}

HINTS: dict[str, tuple[str, str]] = {
    "refused": ("connection refused: nothing listens on {address} (port closed)",
                "Start {service}, or fix the host/port ({vars}). In Docker, publish the port; a server bound "
                "to 127.0.0.1 only is not reachable from other hosts."),
    "unreachable": ("no route to {address}: the host is down or the network is unreachable",
                    "Check the host name/IP in {vars}, the VPN or network, and that the host is up."),
    "filtered": ("the TCP connect to {address} got no answer within {timeout:g} s: host unreachable or the port is "
                 "filtered", "A firewall or security group is probably dropping packets: allow inbound TCP {port} "
                 "from this machine, and check the host/IP in {vars}."),
    "resolve": ("the host name {host} does not resolve",
                "Check the spelling of the host in {vars} and DNS (/etc/resolv.conf); in Docker Compose use the "
                "service name."),
    "dns_timeout": ("the DNS lookup of {host} did not finish within {timeout:g} s",
                    "The DNS server is slow or unreachable: check /etc/resolv.conf, or use an IP address."),
    "hung": ("the server accepted the connection but did not answer within {timeout:g} s: overloaded or stopped "
             "(e.g. SIGSTOP, swap, long GC)", "Look at {service} on {address}: process state, CPU, memory/swap "
             "and its log; restart it if it is stuck."),
    "tls_required": ("the server requires TLS (SSL) but the client connected without it",
                     "Add sslmode=require to DATABASE_URL (postgresql://...?sslmode=require), or verify-full with "
                     "sslrootcert=... for a certificate check."),
    "tls_unsupported": ("TLS mismatch: the client asked for TLS but the server does not offer it",
                        "Enable TLS on the server, or drop sslmode=require / use redis:// instead of rediss:// "
                        "on a trusted network."),
    "no_password": ("no password given, but the server requires one", "Set the password."),
    "auth": ("wrong password: {service} rejected the credentials", "Check the credentials ({vars})."),
    "wrong_protocol": ("something answers on {address}, but it does not speak the {service} protocol",
                       "Check the port ({vars}): another service, an HTTP proxy or a load balancer listens there."),
    "pg_hba": ("the server's pg_hba.conf has no entry allowing this client address, user and database",
               "Add a host line for this client to pg_hba.conf and reload PostgreSQL (SELECT pg_reload_conf())."),
    "no_database": ("the database {database} does not exist on {address}",
                    "Create it: createdb -h {host} -p {port} -U {user} {database} (or CREATE DATABASE "
                    "\"{database}\"), then run roadmap-agent migrate."),
    "pgbouncer_options": ("the server (pgbouncer?) rejects the startup parameter 'options' (statement_timeout)",
                          "In pgbouncer.ini set ignore_startup_parameters = options, and set DB_PGBOUNCER=true."),
    "too_many_clients": ("the server has no free connection slots (max_connections reached)",
                         "Lower DB_POOL_SIZE / DB_POOL_MAX_OVERFLOW / DB_CHECKPOINT_POOL_SIZE or the number of "
                         "processes, raise max_connections, or put pgbouncer in front (DB_PGBOUNCER=true)."),
    "starting": ("the server is starting up, shutting down or loading its data", "Wait a moment and run the check "
                 "again."),
    "redis_db": ("the Redis database number is out of range",
                 "Use a database below the server's `databases` setting (16 by default): REDIS_DB or the /N in "
                 "REDIS_URL."),
    "no_bucket": ("the bucket {database} does not exist", "Create it (aws s3 mb s3://{database} --endpoint-url "
                  "...) or fix S3_BUCKET."),
    "not_found": ("{address} answered 404: wrong URL", "Check {vars}."),
    "no_credentials": ("no S3 credentials found", "Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY."),
    "permission": ("permission denied on {address}",
                   "Make the folder writable by this user, or point {vars} at another folder."),
    "corrupt": ("{address} is not a readable SQLite database", "Restore it from a backup or move it away."),
    "unknown": ("{service} failed: see the step detail", "Run with LOG_LEVEL=DEBUG for more detail."),
}

_OVERRIDES: dict[tuple[str, str], tuple[str, str]] = {
    ("s3", "auth"): ("wrong access key or secret: S3 rejected the credentials", _AUTH_HINTS["s3"]),
    ("s3", "not_found"): HINTS["no_bucket"],
    ("llm", "not_found"): ("{address} answered 404 Not Found: the base URL is probably missing /v1",
                           "LLM_BASE_URL is the API root, e.g. https://api.openai.com/v1 or http://host:11434/v1."),
    ("llm", "auth"): ("wrong API key: the LLM server rejected it", _AUTH_HINTS["llm"]),
    ("local", "hung"): ("{address} did not answer within {timeout:g} s", "A network file system may be hanging: "
                        "check the mount, or point {vars} at a local folder."),
}


def error_kind(error: BaseException | str) -> str:
    if isinstance(error, BaseException):
        for exc_type, kind in EXCEPTION_KINDS:
            if isinstance(error, exc_type):
                return kind
        error = error_text(error)
    return next((kind for kind, pattern in RULES if pattern.search(error)), "unknown")


def classify(error: BaseException | str, *, step: str, service: str, **context: Any) -> tuple[str, str]:
    """(diagnosis, hint) for a failed step. ``service`` is postgres | redis | s3 | llm | local."""
    kind = error_kind(error)
    if kind == "timeout":
        kind = {"dns": "dns_timeout", "tcp": "filtered"}.get(step, "hung")
    diagnosis, hint = _OVERRIDES.get((service, kind)) or HINTS[kind]
    if kind in ("auth", "no_password") and service in _AUTH_HINTS:
        hint = _AUTH_HINTS[service]
    values = {"address": "the server", "host": "the host", "port": "the port", "timeout": 0.0, "vars": "the settings",
              "database": "?", "user": "<user>", "service": _SERVICE_NAMES.get(service, service), **context}
    return diagnosis.format(**values), hint.format(**values)


_SERVICE_NAMES = {"postgres": "PostgreSQL", "redis": "Redis", "s3": "S3", "llm": "the LLM server",
                  "local": "the file system"}


def error_text(exc: BaseException) -> str:
    """One line describing ``exc`` (not yet redacted)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:  # botocore ClientError
        code = str(response["Error"].get("Code", "error"))
        message = str(response["Error"].get("Message") or "")
        if code.isdigit():
            return f"HTTP {code} {message or HTTPStatus(int(code)).phrase}"
        return f"{code}: {message}".rstrip(": ")
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# -- running steps ---------------------------------------------------------------------------------


class _Stop(Exception):
    """Ends a dependency's sequence after a failed step."""


Concern = tuple[str, str] | None  # a warning's (diagnosis, hint)


@dataclass(frozen=True)
class Limits:
    """What every dependency check shares: the secrets to redact, one step's deadline, the end of the whole run."""

    secrets: tuple[str, ...] = ()
    step_timeout: float = DEFAULT_STEP_TIMEOUT
    deadline: float = field(default_factory=lambda: time.monotonic() + TOTAL_BUDGET)


class Steps:
    """Runs one dependency's steps in order, each under a deadline; the first failure is classified."""

    def __init__(self, report: DependencyReport, service: str, limits: Limits, **context: Any) -> None:
        self.report = report
        self.service = service
        self.secrets = limits.secrets
        self.step_timeout = limits.step_timeout
        self.deadline = limits.deadline
        self.context = context
        self.abandoned = False

    async def run(self, name: str, work: Callable[[], Awaitable[T]], describe: Callable[[T], str], *,
                  within: float | None = None, concern: Callable[[T], Concern] | None = None,
                  cancel: bool = False) -> T:
        """``work()`` within its deadline; ``cancel`` only for work whose cancellation cannot wait on the server."""
        limit = max(0.1, min(within or self.step_timeout, self.deadline - time.monotonic()))
        started = time.perf_counter()
        task = asyncio.ensure_future(work())
        done, _ = await asyncio.wait({task}, timeout=limit)
        latency = round((time.perf_counter() - started) * 1000, 1)
        if not done:
            task.add_done_callback(_consume)
            if cancel:
                task.cancel()
            else:  # abandoned, not cancelled: see the module docstring
                self.abandoned = True
            self.fail(name, TimeoutError(), f"no answer within {limit:g} s", latency, limit)
        error = task.exception()
        if error is not None:
            detail = f"no answer within {limit:g} s" if isinstance(error, TimeoutError) else error_text(error)
            self.fail(name, error, detail, latency, limit)
        value = task.result()
        warning = concern(value) if concern else None
        self.report.steps.append(StepResult(name, True, latency, self._clean(describe(value)), warning is not None))
        if warning is not None and self.report.diagnosis is None:
            self.report.diagnosis, self.report.hint = (self._clean(text) for text in warning)
        return value

    def fail(self, name: str, error: BaseException | str, detail: str, latency: float | None = None,
             timeout: float = 0.0) -> None:
        self.report.steps.append(StepResult(name, False, latency, self._clean(detail)))
        diagnosis, hint = classify(error, step=name, service=self.service, timeout=timeout, **self.context)
        self.report.diagnosis, self.report.hint = self._clean(diagnosis), self._clean(hint)
        raise _Stop

    def _clean(self, text: str) -> str:
        return redact(text, self.secrets)[:400]


@contextmanager
def stops() -> Iterator[None]:
    try:
        yield
    except _Stop:
        pass


def _consume(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not log "exception was never retrieved"


async def in_daemon_thread(work: Callable[[], T]) -> T:
    """``work()`` in a daemon thread: unlike the default executor, a hung call cannot block the exit."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: list[T], error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result[0])

    def target() -> None:
        result: list[T] = []
        error: BaseException | None = None
        try:
            result.append(work())
        except BaseException as exc:  # handed to the awaiting coroutine
            error = exc
        try:
            loop.call_soon_threadsafe(settle, result, error)
        except RuntimeError:
            pass  # the loop is closed: nobody waits any more

    threading.Thread(target=target, name="check-worker", daemon=True).start()
    return await future


# -- network steps shared by every server ------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def endpoint_of(url: str, default_port: int) -> Endpoint:
    parts = urlsplit(url)
    netloc_host = parts.netloc.rsplit("@", 1)[-1].split(",")[0]  # libpq allows host1:5432,host2:5432
    host_port = urlsplit(f"//{netloc_host}")
    host = host_port.hostname or parse_qs(parts.query).get("host", [""])[0] or "localhost"
    try:
        port = host_port.port or default_port
    except ValueError:
        port = default_port
    return Endpoint(host, port)


async def resolve(endpoint: Endpoint) -> list[str]:
    infos = await in_daemon_thread(lambda: socket.getaddrinfo(endpoint.host, endpoint.port, type=socket.SOCK_STREAM))
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def tcp_connect(address: str, port: int) -> str:
    _, writer = await asyncio.open_connection(address, port)
    writer.close()
    return f"{address}:{port} accepts connections"


async def network_steps(steps: Steps, endpoint: Endpoint) -> None:
    """DNS then TCP; a unix socket path skips both."""
    if endpoint.host.startswith("/"):
        return
    addresses = await steps.run("dns", lambda: resolve(endpoint), ", ".join, within=DNS_TIMEOUT, cancel=True)
    await steps.run("tcp", lambda: tcp_connect(addresses[0], endpoint.port), str, within=TCP_TIMEOUT, cancel=True)


async def close_quietly(closing: Awaitable[object]) -> None:
    task = asyncio.ensure_future(closing)
    task.add_done_callback(_consume)
    await asyncio.wait({task}, timeout=CLOSE_TIMEOUT)


# -- PostgreSQL --------------------------------------------------------------------------------------

_DRIVER_SUFFIX = re.compile(r"^(postgres(?:ql)?)\+\w+://")


def pg_options(settings: DatabaseSettings, timeout: float, **extra: Any) -> dict[str, Any]:
    """The app's libpq options, with a connect timeout no longer than this step's."""
    options = {**settings.libpq_options(), **extra}
    options["connect_timeout"] = max(2, min(settings.connect_timeout, int(timeout)))  # libpq rounds up to 2
    if settings.pgbouncer:
        options["prepare_threshold"] = None
    return options


def pg_context(url: str) -> dict[str, Any]:
    endpoint = endpoint_of(url, 5432)
    parts = urlsplit(url)
    return {"address": endpoint.address, "host": endpoint.host, "port": endpoint.port, "user": parts.username or
            "postgres", "database": parts.path.lstrip("/") or parts.username or "postgres",
            "vars": "DATABASE_URL (or POSTGRES_HOST / POSTGRES_PORT)"}


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


async def _pg_login(conninfo: str, options: dict[str, Any]) -> tuple[psycopg.AsyncConnection[Any], str]:
    conn = await psycopg.AsyncConnection.connect(conninfo, **options)
    row = await (await conn.execute("SELECT version()")).fetchone()
    return conn, str(row[0]) if row else "?"


def _short(version: str) -> str:
    return version.split(" on ")[0]  # "PostgreSQL 15.18 (Debian ...)" without the compiler and platform


async def _pool_fit(conn: psycopg.AsyncConnection[Any], settings: DatabaseSettings) -> PoolFit:
    row = await (await conn.execute(POOL_QUERY)).fetchone()
    max_connections, reserved, in_use = row if row else (0, 0, 0)
    parts = (f"DB_POOL_SIZE {settings.pool_size} + DB_POOL_MAX_OVERFLOW {settings.pool_max_overflow} + "
             f"DB_CHECKPOINT_POOL_SIZE {settings.checkpoint_pool_size} + {API_QUEUE_POOL} run queue + 1 health "
             "probe; a worker: run queue --concurrency + 4")
    per_process = (settings.pool_size + settings.pool_max_overflow + settings.checkpoint_pool_size
                   + API_QUEUE_POOL + 1)
    return PoolFit(int(max_connections), int(reserved), int(in_use), per_process, parts)


async def _scalar(conn: psycopg.AsyncConnection[Any], query: str) -> Any:
    row = await (await conn.execute(query)).fetchone()
    return next(iter(row.values())) if isinstance(row, dict) else (row[0] if row else None)


async def check_postgres(url: str, settings: DatabaseSettings, limits: Limits) -> DependencyReport:
    report = DependencyReport("database", True, redact_url(url))
    steps = Steps(report, "postgres", limits, **pg_context(url))
    conninfo = _DRIVER_SUFFIX.sub(r"\1://", url, count=1)
    conn: psycopg.AsyncConnection[Any] | None = None
    with stops():
        await network_steps(steps, endpoint_of(conninfo, 5432))
        options = pg_options(settings, limits.step_timeout)
        opened, version = await steps.run("login", lambda: _pg_login(conninfo, options),
                                          lambda found: f"authenticated; SELECT version(): {_short(found[1])}")
        conn, report.version = opened, _short(version)
        await steps.run("pool", lambda: _pool_fit(opened, settings), PoolFit.describe, concern=PoolFit.concern)
        await steps.run("schema", lambda: _scalar(opened, SCHEMA_QUERY), lambda migrated: "tables are migrated"
                        if migrated else "empty: roadmap-agent migrate creates the tables (serve does it at start)")
    if conn is not None and not steps.abandoned:
        await close_quietly(conn.close())
    return report


async def check_pg_checkpointer(url: str, settings: DatabaseSettings, limits: Limits,
                                database: Awaitable[DependencyReport]) -> DependencyReport:
    """The same server as the database, opened the way the checkpoint pool opens its connections."""
    report = DependencyReport("checkpointer", True, redact_url(url))
    steps = Steps(report, "postgres", limits, **pg_context(url))
    conninfo = _DRIVER_SUFFIX.sub(r"\1://", url, count=1)
    conn: psycopg.AsyncConnection[Any] | None = None
    with stops():
        if (await database).status == "down":
            report.steps.append(StepResult("connect", False, None, "skipped: same PostgreSQL server as the database"))
            report.diagnosis = "the checkpointer lives in the same PostgreSQL server as the database, which is down"
            report.hint = "Fix the database first (see above)."
            raise _Stop
        options = pg_options(settings, limits.step_timeout, autocommit=True, row_factory=dict_row)
        opened = await steps.run("connect", lambda: psycopg.AsyncConnection.connect(conninfo, **options),
                                 lambda _: "autocommit connection with dict rows, as the checkpoint pool opens")
        conn, report.version = opened, (await database).version
        await steps.run("tables", lambda: _scalar(opened, CHECKPOINT_QUERY), lambda present: "checkpoint tables "
                        "present" if present else "not created yet: the first serve, migrate or generate creates them")
    if conn is not None and not steps.abandoned:
        await close_quietly(conn.close())
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


async def _queue_state(conn: psycopg.AsyncConnection[Any], stalled_after: float) -> QueueState:
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
    conninfo = _DRIVER_SUFFIX.sub(r"\1://", url, count=1)
    conn: psycopg.AsyncConnection[Any] | None = None
    with stops():
        if (await database).status == "down":
            report.steps.append(StepResult("connect", False, None, "skipped: the queue lives in the database"))
            report.diagnosis, report.hint = "the run queue is in the database, which is down", "Fix the database first."
            raise _Stop
        options = pg_options(settings.database, limits.step_timeout, autocommit=True, row_factory=dict_row)
        opened = await steps.run("connect", lambda: psycopg.AsyncConnection.connect(conninfo, **options),
                                 lambda _: "connected to the run queue")
        conn = opened
        present = await steps.run("tables", lambda: _scalar(opened, QUEUE_TABLES_QUERY),
                                  lambda found: "queue tables present" if found else "not created yet",
                                  concern=lambda found: None if found else (
                                      "the run queue is not created yet",
                                      "Run `roadmap-agent migrate` (serve and worker do it at start)."))
        if not present:
            raise _Stop
        state = await steps.run("workers", lambda: _queue_state(opened, settings.worker.stalled_after),
                                QueueState.describe_workers, concern=QueueState.workers_concern)
        report.steps.append(StepResult("jobs", True, None, state.describe_jobs(), state.jobs_concern() is not None))
        if report.diagnosis is None and (concern := state.jobs_concern()) is not None:
            report.diagnosis, report.hint = concern
    if conn is not None and not steps.abandoned:
        await close_quietly(conn.close())
    return report


QUEUE_TABLES_QUERY = "SELECT to_regclass('procrastinate_jobs') IS NOT NULL"


# -- embedded files ----------------------------------------------------------------------------------


def _sqlite_probe(path: Path) -> str:
    if not path.exists():
        return f"not created yet: {_creatable(path.parent)}"
    with closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=2)) as db:
        tables = db.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
    return f"{path} readable, {tables} tables"


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _creatable(folder: Path) -> str:
    parent = _nearest_existing(folder)
    if not os.access(parent, os.W_OK):
        raise PermissionError(13, f"Permission denied: {parent} is not writable", str(parent))
    return f"{folder} will be created (under writable {parent})"


async def check_sqlite(name: str, path: Path, limits: Limits) -> DependencyReport:
    report = DependencyReport(name, True, str(path), version=f"SQLite {sqlite3.sqlite_version}")
    steps = Steps(report, "local", limits, address=str(path), vars="ROADMAP_AGENT_HOME")
    with stops():
        await steps.run("file", lambda: in_daemon_thread(lambda: _sqlite_probe(path)), str)
    return report


def _folder_probe(folder: Path) -> tuple[str, int]:
    if not folder.exists():
        return _creatable(folder), shutil.disk_usage(_nearest_existing(folder)).free
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".check-"):
        pass
    return f"{folder} is writable", shutil.disk_usage(folder).free


async def check_local_storage(folder: Path, limits: Limits) -> DependencyReport:
    report = DependencyReport("storage", False, str(folder))
    steps = Steps(report, "local", limits, address=str(folder), vars="ROADMAP_AGENT_ARTIFACTS_DIR")
    with stops():
        await steps.run("folder", lambda: in_daemon_thread(lambda: _folder_probe(folder)),
                        lambda found: f"{found[0]}; {found[1] / 1e9:.1f} GB free",
                        concern=lambda found: None if found[1] >= LOW_DISK_BYTES else
                        ("less than 100 MB free for exported roadmaps", "Free some disk space."))
    return report


# -- Redis ---------------------------------------------------------------------------------------------


async def _redis_ping(client: Redis) -> str:
    await client.ping()
    info = await client.info("server")
    return str(info.get("redis_version", "?"))


async def check_redis(url: str, limits: Limits) -> DependencyReport:
    report = DependencyReport("redis", False, redact_url(url))
    endpoint = endpoint_of(url, 6379)
    steps = Steps(report, "redis", limits, address=endpoint.address, host=endpoint.host,
                  port=endpoint.port, vars="REDIS_URL (or REDIS_HOST / REDIS_PORT)")
    # No retries and short socket timeouts: redis-py's defaults would hide a hung server for ~15 s.
    client = Redis.from_url(url, socket_connect_timeout=min(TCP_TIMEOUT, limits.step_timeout),
                            socket_timeout=limits.step_timeout, retry=Retry(NoBackoff(), 0))
    with stops():
        if not url.startswith("unix://"):
            await network_steps(steps, endpoint)
        version = await steps.run("ping", lambda: _redis_ping(client), lambda v: f"PONG; INFO server: Redis {v}",
                                  cancel=True)  # redis-py drops the connection on cancel, never waits for it
        report.version = f"Redis {version}"
    await close_quietly(client.aclose())
    return report


# -- S3 -------------------------------------------------------------------------------------------------


def _s3_client(settings: Settings, timeout: float) -> Any:
    import boto3
    from botocore.config import Config

    storage = settings.storage
    config = Config(connect_timeout=min(storage.connect_timeout, TCP_TIMEOUT), read_timeout=timeout,
                    retries={"max_attempts": 1, "mode": "standard"}, s3={"addressing_style": "path"})
    secret = storage.secret_access_key.get_secret_value() if storage.secret_access_key else None
    return boto3.client("s3", endpoint_url=storage.endpoint_url, region_name=storage.region, config=config,
                        aws_access_key_id=storage.access_key_id, aws_secret_access_key=secret)


def _head_bucket(settings: Settings, timeout: float) -> tuple[Any, str]:
    from botocore.exceptions import ClientError

    client, bucket = _s3_client(settings, timeout), settings.storage.bucket
    try:
        response = client.head_bucket(Bucket=bucket)
    except ClientError as exc:
        if not str(exc.response.get("Error", {}).get("Code", "")).isdigit():
            raise
        client.list_objects_v2(Bucket=bucket, MaxKeys=1)  # a HEAD has no body: ask again for the precise code
        raise
    return client, str(response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("server", ""))


def _list_one(client: Any, bucket: str, prefix: str) -> str:
    response = client.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
    keys = [item["Key"] for item in response.get("Contents", [])]
    return f"listed s3://{bucket}/{prefix}: " + (f"first key {keys[0]}" if keys else "no objects yet")


async def check_s3(settings: Settings, limits: Limits) -> DependencyReport:
    storage = settings.storage
    bucket = storage.bucket or ""
    url = storage.endpoint_url or f"https://s3.{storage.region}.amazonaws.com"
    report = DependencyReport("storage", False, f"s3://{bucket}/{storage.prefix} at {redact_url(url)}")
    endpoint = endpoint_of(url, 443 if url.startswith("https") else 80)
    steps = Steps(report, "s3", limits, address=endpoint.address, host=endpoint.host,
                  port=endpoint.port, database=bucket, vars="S3_ENDPOINT_URL")
    with stops():
        await network_steps(steps, endpoint)
        head = lambda: _head_bucket(settings, limits.step_timeout)  # noqa: E731 - runs in a daemon thread
        client, server = await steps.run("bucket", lambda: in_daemon_thread(head),
                                         lambda _: f"head_bucket {bucket}: exists and the credentials work")
        report.version = server or None
        await steps.run("list", lambda: in_daemon_thread(lambda: _list_one(client, bucket, storage.prefix)), str)
    return report


# -- LLM ------------------------------------------------------------------------------------------------


class HttpStatusError(Exception):
    pass


async def _list_models(client: httpx.AsyncClient, url: str, api_key: str | None) -> tuple[list[str], str | None]:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    response = await client.get(url, headers=headers)
    if response.status_code != 200:
        raise HttpStatusError(f"HTTP {response.status_code} {response.reason_phrase}: {response.text[:200]}")
    models = [str(item.get("id")) for item in response.json().get("data", []) if isinstance(item, dict)]
    return models, response.headers.get("server")


async def check_llm(settings: Settings, limits: Limits) -> DependencyReport:
    base_url = (settings.llm.base_url or "").rstrip("/")
    report = DependencyReport("llm", False, redact(redact_url(base_url), limits.secrets))
    endpoint = endpoint_of(base_url, 443 if base_url.startswith("https") else 80)
    steps = Steps(report, "llm", limits, address=f"{base_url}/models", host=endpoint.host,
                  port=endpoint.port, vars="LLM_BASE_URL")
    key = settings.llm.api_key.get_secret_value() if settings.llm.api_key else None
    llm = settings.llm
    wanted = {"LLM_MODEL": llm.model, "LLM_MODEL_INTENT": llm.model_intent,
              "LLM_MODEL_CURRICULUM": llm.model_curriculum, "LLM_MODEL_EDIT": llm.model_edit}

    def concern(found: tuple[list[str], str | None]) -> Concern:
        missing = [f"{name} {model}" for name, model in wanted.items() if model and model not in found[0]]
        if not found[0] or not missing:
            return None
        return f"{', '.join(missing)}: not offered by this server", f"Pick one of: {', '.join(found[0][:10])}."

    timeout = httpx.Timeout(limits.step_timeout, connect=min(TCP_TIMEOUT, limits.step_timeout))
    # Made before any step: loading the TLS context (CA bundle) costs ~0.1 s of CPU that is no server's latency.
    async with httpx.AsyncClient(timeout=timeout) as client:
        with stops():
            await network_steps(steps, endpoint)
            _, report.version = await steps.run(
                "models", lambda: _list_models(client, f"{base_url}/models", key),
                lambda found: f"GET /models: {len(found[0])} models", concern=concern, cancel=True)
    return report


# -- the whole check ---------------------------------------------------------------------------------


async def check_all(settings: Settings, *, strict: bool = False,
                    step_timeout: float = DEFAULT_STEP_TIMEOUT) -> CheckReport:
    limits = Limits(known_secrets(settings), step_timeout)
    if settings.storage.bucket:
        await _warm_up_boto3(settings.storage.region)
    url = settings.database.server_url()
    database: Awaitable[DependencyReport]
    if url is None:
        sqlite_file = Path(settings.database_url().split(":///", 1)[1])
        database = check_sqlite("database", sqlite_file, limits)
    else:
        database = asyncio.ensure_future(check_postgres(url, settings.database, limits))
    checks: list[Awaitable[DependencyReport]] = [database]
    if settings.resilience.checkpointer == "none":
        checks.append(_disabled_checkpointer())
    elif url is None:
        checks.append(check_sqlite("checkpointer", settings.checkpoint_path(), limits))
    else:
        checks.append(check_pg_checkpointer(url, settings.database, limits, database))
    if url is not None and settings.uses_queue:
        checks.append(check_pg_queue(url, settings, limits, database))
    if redis_url := settings.redis.server_url():
        checks.append(check_redis(redis_url, limits))
    checks.append(check_s3(settings, limits) if settings.storage.bucket
                  else check_local_storage(settings.artifacts_dir(), limits))
    if settings.llm.base_url:
        checks.append(check_llm(settings, limits))
    return CheckReport(str(settings.describe()["mode"]), strict, await staggered(checks))


async def staggered(checks: list[Awaitable[DependencyReport]]) -> list[DependencyReport]:
    """Start each check alone and the next one once it finished or after ``STAGGER`` s, whichever comes first.

    Healthy dependencies then run one at a time, so a step's latency is its own and not the CPU time of the
    others (psycopg, redis-py, botocore and httpx all do some on first use); a slow or hung one overlaps with the
    rest, so the whole run stays within ``TOTAL_BUDGET``.
    """
    tasks = []
    for check in checks:
        tasks.append(asyncio.ensure_future(check))
        await asyncio.wait({tasks[-1]}, timeout=STAGGER)
    return list(await asyncio.gather(*tasks))


async def _warm_up_boto3(region: str) -> None:
    """Import boto3 and load S3's model and endpoint rules (~0.8 s of CPU, holding the GIL) before any clock runs,
    so the other dependencies' latencies stay true. Presigning needs no network; the dummy keys skip the lookup."""
    def load() -> None:
        import boto3

        dummy = "warm-up"  # not a credential: nothing is sent anywhere
        client = boto3.client("s3", region_name=region, aws_access_key_id=dummy, aws_secret_access_key=dummy)
        client.generate_presigned_url("head_bucket", Params={"Bucket": "warm-up"})

    task = asyncio.ensure_future(in_daemon_thread(load))
    task.add_done_callback(_consume)  # a failure shows again, classified, in the bucket step
    await asyncio.wait({task}, timeout=TCP_TIMEOUT)


async def _disabled_checkpointer() -> DependencyReport:
    """Emergency mode is a choice, not a failure, but it must be loud: a warning, so --strict fails."""
    report = DependencyReport("checkpointer", False, "disabled (ROADMAP_AGENT_CHECKPOINTER=none)")
    report.steps.append(StepResult("mode", True, None, "emergency mode: runs are not checkpointed", warning=True))
    report.diagnosis = "emergency mode: no human review, no resume after a crash, no retry from a checkpoint"
    report.hint = "Unset ROADMAP_AGENT_CHECKPOINTER (or set it to auto) once the database is healthy again."
    return report


def run_check(settings: Settings, *, strict: bool = False, step_timeout: float = DEFAULT_STEP_TIMEOUT) -> CheckReport:
    """Run ``check_all`` on a private loop that is closed without waiting for abandoned (hung) work."""
    loop = asyncio.new_event_loop()
    loop.set_exception_handler(lambda _loop, _context: None)  # leftovers of a hung server are expected
    try:
        return loop.run_until_complete(check_all(settings, strict=strict, step_timeout=step_timeout))
    finally:
        loop.close()


# -- output ------------------------------------------------------------------------------------------

_MARKS = {"ok": "[green]✓[/]", "degraded": "[yellow]![/]", "down": "[red]✗[/]"}


def print_report(console: Console, report: CheckReport) -> None:
    def say(line: str) -> None:
        console.print(line, soft_wrap=True, highlight=False)  # one line per step, even in a pipe

    say(f"[bold]roadmap-agent check[/] · {report.mode} mode" + (" · strict" if report.strict else ""))
    for dependency in report.dependencies:
        role = "required" if dependency.required else "optional"
        version = f"  [cyan]{escape(dependency.version)}[/]" if dependency.version else ""
        say(f"\n{_MARKS[dependency.status]} [bold]{dependency.name}[/] [dim]({role})[/] "
            f"{escape(dependency.target)}{version}")
        for step in dependency.steps:
            mark = _MARKS["degraded" if step.warning else "ok" if step.ok else "down"]
            latency = f"{step.latency_ms:>8.1f} ms" if step.latency_ms is not None else " " * 11
            say(f"    {mark} {step.name:<7} [dim]{latency}[/]  {escape(step.detail)}")
        if dependency.diagnosis:
            say(f"    [bold]diagnosis:[/] {escape(dependency.diagnosis)}")
        if dependency.hint:
            say(f"    [bold]hint:[/] {escape(dependency.hint)}")
    say("")
    say(_summary(report))


def _summary(report: CheckReport) -> str:
    failing = [d for d in report.dependencies if not passes(d, report.strict)]
    if failing:
        return f"[red]✗ not ready:[/] {_names(failing)}. Exit code 1."
    if report.status == "degraded":
        return (f"[yellow]! degraded:[/] {_names([d for d in report.dependencies if d.status != 'ok'])}. "
                "Optional dependencies only degrade the service; --strict makes this an error.")
    return "[green]✓ all dependencies ok.[/]"


def _names(dependencies: list[DependencyReport]) -> str:
    return "; ".join(f"{d.name} {d.status}" + (f" ({escape(d.diagnosis)})" if d.diagnosis else "")
                     for d in dependencies)
