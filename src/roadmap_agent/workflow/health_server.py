"""A worker's own ``/health/live``, ``/health/ready`` and ``/metrics`` (``ROADMAP_AGENT_WORKER_HEALTH_PORT``).

Workers serve no API, but orchestrators need something to probe (Kubernetes liveness/readiness, Docker
``HEALTHCHECK``) and Prometheus needs the counters only workers move (``roadmap_runs_requeued_total``). This is
a minimal HTTP/1.0 server on the worker's event loop: GET only, one request per connection, no body read.
``/health/live`` answering at all proves the loop is not stuck; ``/health/ready`` is the prober's snapshot (503
while the database or checkpointer is down), exactly as on ``serve``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol

from roadmap_agent.health import Prober
from roadmap_agent.logging import get_logger
from roadmap_agent.metrics import CONTENT_TYPE, Metrics

log = get_logger(__name__)

READ_TIMEOUT = 5.0  # a client that sends nothing is dropped after this many seconds
MAX_HEAD_BYTES = 8192
REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 400: "Bad Request", 503: "Service Unavailable"}
JSON_TYPE = "application/json"


class Services(Protocol):
    """What the health server reads of a worker's ``services.Services`` (a protocol: workflow/ sits below it)."""

    prober: Prober
    metrics: Metrics

    @property
    def emergency(self) -> bool: ...


def respond(services: Services, method: str, path: str) -> tuple[int, str, bytes]:
    """(status, content type, body) for one request: the routing, kept pure for tests."""
    path = path.split("?", 1)[0]
    if method not in ("GET", "HEAD"):
        return 405, JSON_TYPE, _json({"error": {"code": "method_not_allowed", "message": "Only GET is served."}})
    if path == "/health/live":
        return 200, JSON_TYPE, _json({"status": "ok"})
    if path == "/health/ready":
        status, body = services.prober.readiness()
        body.update(role="worker", emergency=services.emergency)
        return status, JSON_TYPE, _json(body)
    if path == "/metrics":
        return 200, CONTENT_TYPE, services.metrics.render()
    return 404, JSON_TYPE, _json({"error": {"code": "not_found",
                                            "message": "A worker serves /health/live, /health/ready and /metrics."}})


def _json(body: object) -> bytes:
    return json.dumps(body, default=str).encode()


@asynccontextmanager
async def serve_health(services: Services, host: str, port: int) -> AsyncIterator[asyncio.Server]:
    """Listen on ``host:port`` while the block runs; close the listener after it."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        method = "GET"
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
            method, path, _ = head.decode("latin-1").split(" ", 2)
            status, content_type, body = respond(services, method, path)
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            status, content_type, body = 400, JSON_TYPE, b""
        except Exception as exc:  # a probe must never take the worker down
            log.warning("worker_health_request_failed", error=repr(exc))
            status, content_type, body = 503, JSON_TYPE, b""
        head_line = (f"HTTP/1.0 {status} {REASONS.get(status, 'Error')}\r\nContent-Type: {content_type}\r\n"
                     f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
        writer.write(head_line.encode() + (b"" if method == "HEAD" else body))
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()

    server = await asyncio.start_server(handle, host, port, limit=MAX_HEAD_BYTES)
    log.info("worker_health_listening", host=host, port=port)
    try:
        yield server
    finally:
        server.close()
        await server.wait_closed()

