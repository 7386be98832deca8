"""Startup checks, readiness, emergency mode and metrics against real (dedicated) servers."""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from devservices import PostgresServer, RedisServer, free_port
from serving import Served, serve

pytestmark = pytest.mark.integration

CLI = str(Path(sys.executable).parent / "roadmap-agent")
GOAL = "I want to become a backend developer in 3 months, I know some Python, 10 hours a week"


def _wait_ready(served: Served, timeout: float) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert served.process.poll() is None, "the service exited"
        try:
            response = served.client.get("/health/ready")
            if response.status_code == 200:
                return response
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"not ready within {timeout} s")


@pytest.fixture
def dedicated_pg() -> Iterator[PostgresServer]:
    server = PostgresServer(Path(f"/tmp/roadmap-health-pg-{uuid.uuid4().hex[:8]}"))
    try:
        yield server
    finally:
        server.resume()
        server.stop()


def test_database_down_at_startup_then_up_becomes_ready_without_restart(dedicated_pg: PostgresServer,
                                                                         isolated_home: Path) -> None:
    env = {"DATABASE_URL": dedicated_pg.url(), "ROADMAP_AGENT_STARTUP_MAX_DELAY": "1"}
    with serve(isolated_home, env, wait_live=False) as served:
        process = served.process
        time.sleep(3)  # the service is retrying against a database that is not there yet
        assert process.poll() is None
        dedicated_pg.start()
        _wait_ready(served, timeout=20)
        log = served.log()
        assert log.count("database_connection_attempt_failed") >= 2
        assert f"127.0.0.1:{dedicated_pg.port}" in log
        names = ["application_startup", "database_connection_verified", "orchestrator_factory_initialized",
                 "application_startup_complete"]
        positions = [log.index(f'"event": "{name}"') for name in names]
        assert positions == sorted(positions)


def test_database_never_up_exits_non_zero_with_one_clear_sentence(isolated_home: Path) -> None:
    env = {"DATABASE_URL": f"postgresql+psycopg://roadmap:pw-never-shown@127.0.0.1:{free_port()}/x",
           "ROADMAP_AGENT_STARTUP_ATTEMPTS": "3", "ROADMAP_AGENT_STARTUP_BASE_DELAY": "0.2"}
    started = time.monotonic()
    with serve(isolated_home, env, wait_live=False) as served:
        assert served.process.wait(timeout=30) == 1
        output = served.log()
    elapsed = time.monotonic() - started
    assert elapsed < 20
    assert "Cannot reach PostgreSQL at 127.0.0.1:" in output and "after 3 attempts" in output
    assert "Traceback" not in output and "pw-never-shown" not in output


def test_redis_killed_and_restarted_shows_degraded_then_ok(dedicated_redis: RedisServer, isolated_home: Path) -> None:
    env = {"REDIS_URL": dedicated_redis.url}
    with serve(isolated_home, env, wait_live=False) as served:
        client = served.client
        body = _wait_ready(served, timeout=30).json()
        assert body["dependencies"]["redis"]["status"] == "ok"
        dedicated_redis.kill()
        assert _until(client, "redis", "down", 5) < 5
        response = client.get("/health/ready")
        assert response.status_code == 200 and response.json()["status"] == "degraded"
        created = client.post("/api/v1/roadmaps", json={"goal": GOAL, "auto_approve": True})
        assert created.status_code == 202
        task_id = created.json()["task_id"]
        _wait_status(client, task_id, "completed")  # runs go on without Redis; events come from the log
        events = _sse(client, task_id)
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1)) and events[-1]["type"] == "completed"
        dedicated_redis.start()
        assert _until(client, "redis", "ok", 5) < 5


def _sse(client: httpx.Client, task_id: str) -> list[dict[str, Any]]:
    with client.stream("GET", f"/api/v1/tasks/{task_id}/events", timeout=10) as response:
        return [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: ")]


def _until(client: httpx.Client, name: str, status: str, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout + 1:
        if client.get("/health/ready").json()["dependencies"][name]["status"] == status:
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"{name} never became {status}")


def test_ready_answers_fast_while_redis_is_hung(dedicated_redis: RedisServer, isolated_home: Path) -> None:
    with serve(isolated_home, {"REDIS_URL": dedicated_redis.url}, wait_live=False) as served:
        client = served.client
        _wait_ready(served, timeout=30)
        dedicated_redis.pause()
        try:
            timings = []
            for _ in range(30):
                started = time.perf_counter()
                assert client.get("/health/ready").status_code == 200
                timings.append(time.perf_counter() - started)
                time.sleep(0.05)
            timings.sort()
            assert timings[len(timings) // 2] < 0.1, f"median /health/ready {timings[15] * 1000:.0f} ms"
            assert max(timings) < 0.5
            assert _until(client, "redis", "down", 5) < 5
        finally:
            dedicated_redis.resume()


def test_emergency_mode_is_loud_and_refuses_review(isolated_home: Path) -> None:
    with serve(isolated_home, {"ROADMAP_AGENT_CHECKPOINTER": "none"}, wait_live=False) as served:
        client = served.client
        body = _wait_ready(served, timeout=30).json()
        assert body["emergency"] is True and body["status"] == "degraded"
        assert body["dependencies"]["checkpointer"]["status"] == "disabled"
        task_id = client.post("/api/v1/roadmaps", json={"goal": GOAL}).json()["task_id"]
        task = _wait_status(client, task_id, "completed")
        assert task["roadmap_id"]
        review = client.post(f"/api/v1/tasks/{task_id}/review", json={"approved": True})
        assert review.status_code == 503 and "emergency mode" in review.json()["error"]["message"]
        log = served.log()
        assert '"event": "emergency_mode"' in log and '"event": "emergency_mode_run"' in log
        metrics = client.get("/metrics").text
        assert "roadmap_emergency_mode 1.0" in metrics


def _wait_status(client: httpx.Client, task_id: str, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        task: dict[str, Any] = client.get(f"/api/v1/tasks/{task_id}").json()
        if task["status"] == status:
            return task
        time.sleep(0.05)
    raise AssertionError(f"task never {status}")


def test_metrics_count_runs_steps_and_dependencies(isolated_home: Path) -> None:
    with serve(isolated_home, {}, wait_live=False) as served:
        client = served.client
        _wait_ready(served, timeout=30)
        ids = [client.post("/api/v1/roadmaps", json={"goal": GOAL, "auto_approve": True}).json()["task_id"]
               for _ in range(2)]
        for task_id in ids:
            _wait_status(client, task_id, "completed")
        replayed = len(_sse(client, ids[0]))
        text = client.get("/metrics").text
        assert f'roadmap_event_deliveries_total{{path="replay"}} {float(replayed)}' in text
        assert "roadmap_runs_started_total 2.0" in text
        assert 'roadmap_runs_finished_total{status="completed"} 2.0' in text
        assert 'roadmap_step_duration_seconds_count{step="curriculum_design"} 2.0' in text
        assert 'roadmap_dependency_up{dependency="database"} 1.0' in text
        assert 'roadmap_db_pool_connections{state="in_flight"}' in text
        assert 'roadmap_event_publishes_total{result="ok"}' in text

