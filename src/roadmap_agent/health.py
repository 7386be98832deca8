"""Dependency health: a background prober that keeps a fresh snapshot, so ``/health/ready`` never waits on IO.

Each dependency is pinged every ``probe_interval`` seconds with its own ``probe_timeout``; a ping that does not
finish in time counts as "down" and is left to finish by itself (its clean-up may wait on the hung server).
Statuses: ``ok`` | ``degraded`` (slow, or a dependency the service can run without is down) | ``down`` |
``disabled`` (switched off on purpose, e.g. emergency mode without a checkpointer). Required dependencies
being down make the service not ready (HTTP 503); optional ones only make it degraded (HTTP 200).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from roadmap_agent.deadline import Deadline, DeadlineExceeded
from roadmap_agent.errors import RoadmapAgentError
from roadmap_agent.logging import get_logger
from roadmap_agent.redaction import redact_text

Status = Literal["ok", "degraded", "down", "disabled"]
Ping = Callable[[], Awaitable[object]]
SLOW_MS = 1000.0

log = get_logger(__name__)


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


@dataclass
class DependencyHealth:
    name: str
    required: bool
    target: str
    status: Status = "down"
    latency_ms: float | None = None
    last_error: str | None = None
    since: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    checked_at: str | None = None
    detail: str | None = None


@dataclass
class Probe:
    health: DependencyHealth
    ping: Ping | None  # None: disabled on purpose
    every: float | None = None  # seconds between pings when slower than the prober's interval (a paid API)
    timeout: float | None = None  # when this dependency may take longer than the prober's timeout
    last_run: float | None = None


class Prober:
    def __init__(self, interval: float, timeout: float) -> None:
        self.interval = interval
        self.timeout = timeout
        self._probes: dict[str, Probe] = {}
        self._task: asyncio.Task[None] | None = None
        self._deadline = Deadline()  # a late ping finishes by itself (each has its own deadline too)

    def add(self, name: str, ping: Ping, *, required: bool, target: str, every: float | None = None,
            timeout: float | None = None) -> None:
        self._probes[name] = Probe(DependencyHealth(name, required, target), ping, every, timeout)

    def add_disabled(self, name: str, detail: str, *, target: str = "-") -> None:
        self._probes[name] = Probe(DependencyHealth(name, False, target, status="disabled", detail=detail), None)

    async def probe_all(self) -> None:
        now = time.monotonic()
        due = [p for p in self._probes.values() if p.ping is not None
               and (p.every is None or p.last_run is None or now - p.last_run >= p.every)]
        for probe in due:
            probe.last_run = now
        await asyncio.gather(*(self._probe(p) for p in due))

    async def _probe(self, probe: Probe) -> None:
        assert probe.ping is not None  # noqa: S101 - filtered by probe_all
        started = time.perf_counter()
        timeout = probe.timeout or self.timeout
        try:
            await self._deadline.run(probe.ping(), timeout)
        except DeadlineExceeded:
            self._record(probe.health, "down", None, f"no answer within {timeout:g} s")
            return
        except Exception as error:  # any failure of a ping is the dependency's state, not ours
            message = error.message if isinstance(error, RoadmapAgentError) else f"{type(error).__name__}: {error}"
            self._record(probe.health, "down", _ms_since(started), redact_text(message))
            return
        latency = _ms_since(started)
        self._record(probe.health, "degraded" if latency > SLOW_MS else "ok", latency, None)

    def _record(self, health: DependencyHealth, status: Status, latency: float | None, error: str | None) -> None:
        health.latency_ms = latency
        health.checked_at = datetime.now(UTC).isoformat()
        if error is not None:
            health.last_error = error
        if status != health.status:
            health.status = status
            health.since = health.checked_at
            level = log.info if status == "ok" else log.warning
            level("dependency_status_changed", dependency=health.name, status=status, error=error)

    async def _loop(self) -> None:
        while True:
            await self.probe_all()
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="health-prober")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._deadline.drain(self.timeout)

    def dependencies(self) -> list[DependencyHealth]:
        return [p.health for p in self._probes.values()]

    def readiness(self) -> tuple[int, dict[str, Any]]:
        """HTTP status and body for /health/ready: 503 when a required dependency is down."""
        deps = self.dependencies()
        if any(d.required and d.status == "down" for d in deps):
            overall = "down"
        elif any(d.status != "ok" for d in deps):
            overall = "degraded"
        else:
            overall = "ok"
        body = {"status": overall, "dependencies": {d.name: asdict(d) for d in deps}}
        return (503 if overall == "down" else 200), body
