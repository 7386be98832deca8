"""Finding 16: `serve` closes connections that never finish their headers, and idle kept-alive ones."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from serving import serve

pytestmark = pytest.mark.integration


def closed_after(port: int, send: bytes, within: float) -> float | None:
    """Seconds until the server closed a connection that sent only ``send``; None if still open."""
    with socket.create_connection(("127.0.0.1", port), timeout=within) as conn:
        conn.sendall(send)
        started = time.monotonic()
        try:
            while conn.recv(4096):
                pass
        except TimeoutError:
            return None
        return time.monotonic() - started


def test_unfinished_headers_and_idle_connections_are_closed(isolated_home: Path) -> None:
    env = {"ROADMAP_AGENT_HEADER_TIMEOUT": "1", "ROADMAP_AGENT_IDLE_TIMEOUT": "1"}
    with serve(isolated_home, env) as api:
        port = int(str(api.client.base_url).rsplit(":", 1)[1])
        for partial in (b"", b"GET /health/live HTTP/1.1\r\nHost: x\r\n", b"GE"):
            elapsed = closed_after(port, partial, within=5)
            assert elapsed is not None and elapsed < 3, (partial, elapsed)
        # a whole request is answered, then the idle kept-alive connection is closed too
        elapsed = closed_after(port, b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n", within=5)
        assert elapsed is not None and elapsed < 3
        assert api.client.get("/health/live").status_code == 200
