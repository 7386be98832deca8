"""A worker's own health and metrics port (ROADMAP_AGENT_WORKER_HEALTH_PORT), probed like Kubernetes would."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
import pytest
from devservices import PostgresServer, RedisServer, free_port
from serving import work

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _wait_live(base: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health/live", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{base}/health/live never answered")


def test_worker_serves_live_ready_and_metrics_then_drains_on_sigterm(
        pg_server: PostgresServer, redis_server: RedisServer, isolated_home: Path) -> None:
    port = free_port()
    env = {"DATABASE_URL": pg_server.create_database(f"whealth_{uuid.uuid4().hex[:10]}"),
           "REDIS_URL": redis_server.url, "ROADMAP_AGENT_WORKER_HEALTH_PORT": str(port)}
    base = f"http://127.0.0.1:{port}"
    with work(isolated_home / "w", env) as worker:
        _wait_live(base)
        ready = httpx.get(f"{base}/health/ready", timeout=2)
        assert ready.status_code == 200
        body = ready.json()
        assert body["role"] == "worker" and body["dependencies"]["database"]["status"] == "ok"
        assert pg_server.password not in ready.text  # URLs are shown as user:***@host
        metrics = httpx.get(f"{base}/metrics", timeout=2)
        assert "roadmap_runs_requeued_total" in metrics.text
        assert metrics.headers["content-type"].startswith("text/plain")
        assert httpx.get(f"{base}/nope", timeout=2).status_code == 404
        assert httpx.post(f"{base}/health/live", timeout=2).status_code == 405
        worker.process.terminate()
        assert worker.process.wait(timeout=30) == 0
    with pytest.raises(httpx.TransportError):  # the listener went away with the worker
        httpx.get(f"{base}/health/live", timeout=2)
