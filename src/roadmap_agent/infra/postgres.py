"""The one PostgreSQL boundary: how every client of ours reaches the server, and how its failures read.

Three clients talk to PostgreSQL -- the application database (SQLAlchemy over psycopg), the checkpointer
(a ``psycopg_pool`` pool) and the run queue (procrastinate's psycopg connector) -- and ``check`` opens the
same connections to test them. They all take their connection options from ``connection_options`` (the libpq
keepalive / timeout options of ``DatabaseSettings`` plus the pgbouncer rule) and name the server with
``host_port``, so a new option is added once and ``check`` tests what the service runs.

``Boundary.call`` is the shared "bounded call": the operation runs under a client-side deadline (the only
defence against a *hung* server, see ``deadline.py``) and a deadline or a connection-level driver error comes
back as our ``DatabaseUnavailable`` (or ``CheckpointerUnavailable``) with one wording:

    <subject> at <host:port> did not answer within N s (DB_OPERATION_TIMEOUT). Is the server overloaded or stopped?
    <subject> at <host:port> is unavailable (<first line of the driver's error>). Check that it is running ...

A unique-constraint violation is not a failure of the server: ``Database`` maps it to ``AlreadyExists``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from roadmap_agent.deadline import Deadline, DeadlineExceeded
from roadmap_agent.errors import DatabaseUnavailable, DependencyUnavailable
from roadmap_agent.redaction import redact_text
from roadmap_agent.settings import DatabaseSettings

if TYPE_CHECKING:
    import psycopg

T = TypeVar("T")

DEFAULT_PORT = 5432
_DRIVER_SUFFIX = re.compile(r"^(postgres(?:ql)?)\+\w+://")


# psycopg is imported when a PostgreSQL client is built, not with this module: the embedded default (SQLite)
# reads ``first_line`` and ``Boundary`` without loading the driver (bench/cli_startup.py).
def psycopg_errors() -> tuple[type[BaseException], ...]:
    """What a lost, refused, reset or stalled connection raises from psycopg and its pool (asyncio's
    TimeoutError is an OSError)."""
    import psycopg

    return psycopg.OperationalError, psycopg.InterfaceError, OSError


def connection_options(settings: DatabaseSettings, *, autocommit: bool = False, dict_rows: bool = False,
                       connect_timeout: int | None = None) -> dict[str, Any]:
    """psycopg connection keyword arguments (all real libpq parameters, plus psycopg's own)."""
    options: dict[str, Any] = {
        "connect_timeout": connect_timeout or settings.connect_timeout,  # psycopg's default is 130 s
        "keepalives": 1,
        "keepalives_idle": settings.keepalives_idle,
        "keepalives_interval": settings.keepalives_interval,
        "keepalives_count": settings.keepalives_count,
        "tcp_user_timeout": settings.tcp_user_timeout_ms,
        "application_name": settings.application_name,
        "options": f"-c statement_timeout={settings.statement_timeout_ms} "
                   f"-c idle_in_transaction_session_timeout={settings.idle_in_transaction_timeout_ms}",
    }
    if settings.pgbouncer:
        options["prepare_threshold"] = None  # None = never prepare (0 would mean "always")
    if autocommit:
        options["autocommit"] = True
    if dict_rows:
        from psycopg.rows import dict_row

        options["row_factory"] = dict_row
    return options


def libpq_url(url: str) -> str:
    """``postgresql+psycopg://...`` (SQLAlchemy style) -> ``postgresql://...`` for libpq."""
    return _DRIVER_SUFFIX.sub(r"\1://", url, count=1)


def host_port(url: str) -> str:
    """``host:port`` of a PostgreSQL URL, with the default port when it names none (never the password)."""
    parts = urlsplit(libpq_url(url))
    return f"{parts.hostname or 'localhost'}:{parts.port or DEFAULT_PORT}"


async def connect(url: str, settings: DatabaseSettings, **options: Any) -> psycopg.AsyncConnection[Any]:
    """One direct connection, opened as the service opens its own (``options`` as for ``connection_options``)."""
    import psycopg

    return await psycopg.AsyncConnection.connect(libpq_url(url), **connection_options(settings, **options))


def first_line(exc: BaseException) -> str:
    """The first line of a driver's message (libpq adds hints on further lines), or the exception's name.

    A wrapper (SQLAlchemy's ``DBAPIError``, procrastinate's ``ConnectorException``) is read through to the
    driver's error it wraps."""
    inner = getattr(exc, "orig", None) or exc.__cause__
    if inner is not None and not isinstance(exc, _driver_error_types()):
        exc = inner
    text = str(exc).strip()
    if text:
        return text.splitlines()[0]
    return "timed out" if isinstance(exc, TimeoutError) else type(exc).__name__


def _driver_error_types() -> tuple[type[BaseException], ...]:
    """psycopg's base error once the driver is loaded (no psycopg error exists before that), and OSError."""
    driver = sys.modules.get("psycopg")
    return (driver.Error, OSError) if driver is not None else (OSError,)


class Boundary:
    """Bounded calls to one PostgreSQL client, and the errors they end in (one wording for all clients)."""

    def __init__(self, subject: str, where: str, timeout: float | None, *,
                 error: type[DependencyUnavailable] = DatabaseUnavailable, cancel_late: bool = True,
                 driver_errors: tuple[type[BaseException], ...] | None = None,
                 passthrough: tuple[type[BaseException], ...] = (),
                 overload: tuple[tuple[type[BaseException], ...], str] = ((), "")) -> None:
        """``passthrough``: driver errors that are answers, not failures (raised as they are); ``overload``: the
        errors that mean "too busy", and the settings to raise then; ``driver_errors``: psycopg's by default."""
        self.subject = subject
        self.where = where
        self.timeout = timeout
        self.error = error
        self.driver_errors = driver_errors if driver_errors is not None else psycopg_errors()
        self.passthrough = passthrough
        self.overload_errors, self.overload_hint = overload
        # cancel_late: psycopg sends the server a cancel request; SQLAlchemy's connections are left to finish.
        self.deadline = Deadline(cancel_late=cancel_late)

    async def call(self, operation: Awaitable[T], seconds: float | None = None) -> T:
        """``operation`` within ``seconds`` (default: the operation timeout), its failures mapped."""
        seconds = seconds or self.timeout
        try:
            return await self.deadline.run(operation, seconds)
        except DeadlineExceeded:
            raise self.late(seconds) from None
        except self.passthrough:
            raise
        except self.overload_errors as exc:
            raise self.overloaded(first_line(exc)) from exc
        except self.driver_errors as exc:
            raise self.unavailable(exc) from exc

    def late(self, seconds: float | None) -> DependencyUnavailable:
        return self.error(f"{self.subject} at {self.where} did not answer within {seconds:g} s "
                          "(DB_OPERATION_TIMEOUT). Is the server overloaded or stopped?")

    def unavailable(self, exc: BaseException | str) -> DependencyUnavailable:
        cause = exc if isinstance(exc, str) else first_line(exc)
        return self.error(f"{self.subject} at {self.where} is unavailable ({redact_text(cause)}). "
                          "Check that it is running and reachable, then retry.")

    def overloaded(self, cause: str) -> DependencyUnavailable:
        return self.error(f"{self.subject} at {self.where} is overloaded ({cause}). Retry shortly, or raise "
                          f"{self.overload_hint}.")

    @property
    def pending(self) -> int:
        """Calls abandoned after their deadline and still running in the background."""
        return len(self.deadline.pending)
