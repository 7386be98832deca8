"""Running one dependency's steps: each under its own deadline, the first failure classified and redacted.

A PostgreSQL step that overruns its deadline is abandoned, not cancelled: cancelling a psycopg query makes it
send a cancel request and then wait for the (hung) server. ``run_check`` therefore owns its event loop and
closes it without awaiting leftovers, and blocking calls (``getaddrinfo``, boto3) run in daemon threads that
cannot hold up the exit. Steps whose cancellation never waits on the server (DNS, TCP, Redis, HTTP) are
cancelled. DNS and TCP steps are shared by every server.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from roadmap_agent.infra.check.diagnosis import classify, error_text
from roadmap_agent.infra.check.report import DependencyReport, StepResult
from roadmap_agent.redaction import redact_text
from roadmap_agent.settings import Settings, url_password

T = TypeVar("T")

DNS_TIMEOUT = 2.0
TCP_TIMEOUT = 3.0
DEFAULT_STEP_TIMEOUT = 5.0
TOTAL_BUDGET = 10.0  # seconds for the whole run (every step ends by then): the command stays under ~15 s
CLOSE_TIMEOUT = 1.0


def known_secrets(settings: Settings) -> tuple[str, ...]:
    """Every configured secret, so that no driver message can echo one into the report."""
    urls = [settings.database.server_url(), settings.redis.server_url()]
    found = [url_password(url) or "" for url in urls if url]
    found += [settings.database.postgres_password.get_secret_value(), settings.redis.password.get_secret_value()]
    found += [s.get_secret_value() for s in (settings.storage.secret_access_key, settings.llm.api_key) if s]
    return tuple(secret for secret in found if secret)


class Stop(Exception):
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
            task.add_done_callback(consume)
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
        raise Stop

    def _clean(self, text: str) -> str:
        return redact_text(text, self.secrets)[:400]


@contextmanager
def stops() -> Iterator[None]:
    try:
        yield
    except Stop:
        pass


def consume(task: asyncio.Future[Any]) -> None:
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
    task.add_done_callback(consume)
    await asyncio.wait({task}, timeout=CLOSE_TIMEOUT)

