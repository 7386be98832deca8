"""`roadmap-agent serve` as a real process: HTTP + SSE end to end, clean shutdown, recovery after kill -9."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

CLI = str(Path(sys.executable).parent / "roadmap-agent")
GOAL = "I want to become a backend developer in 3 months, I know some Python, 10 hours a week"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serving(home: Path, **extra: str) -> Iterator[tuple[httpx.Client, subprocess.Popen[bytes]]]:
    port = _free_port()
    env = {**os.environ, "ROADMAP_AGENT_HOME": str(home), "LOG_FORMAT": "json", **extra}
    log = (home.parent / f"serve-{port}.log").open("wb")
    process = subprocess.Popen([CLI, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if client.get("/health/live").status_code == 200:
                        break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "server did not start"
                    assert process.poll() is None, "server exited"
                    time.sleep(0.1)
            yield client, process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        log.close()


def _sse_until(client: httpx.Client, task_id: str, after: int, stop: str) -> list[dict[str, Any]]:
    events = []
    with client.stream("GET", f"/api/v1/tasks/{task_id}/events", params={"after": after}, timeout=30) as response:
        for line in response.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
                if events[-1]["type"] == stop:
                    break
    return events


def test_a_user_session_over_http_and_sse(isolated_home: Path) -> None:
    with serving(isolated_home) as (client, process):
        created = client.post("/api/v1/roadmaps", json={"goal": GOAL})
        assert created.status_code == 202
        task_id = created.json()["task_id"]
        first = _sse_until(client, task_id, 0, "human_review_required")
        assert [e["seq"] for e in first] == list(range(1, len(first) + 1))
        assert client.post(f"/api/v1/tasks/{task_id}/review", json={"approved": True}).status_code == 202
        rest = _sse_until(client, task_id, first[-1]["seq"], "completed")
        assert rest[0]["seq"] == first[-1]["seq"] + 1
        roadmap_id = rest[-1]["data"]["roadmap_id"]
        assert client.get(f"/api/v1/roadmaps/{roadmap_id}").json()["id"] == roadmap_id
        process.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal so supervisors see why it stopped
        assert process.wait(timeout=15) in (0, -signal.SIGTERM)
    assert "application_shutdown_complete" in next(isolated_home.parent.glob("serve-*.log")).read_text()


def test_runs_left_by_a_killed_server_finish_after_restart(isolated_home: Path) -> None:
    with serving(isolated_home, ROADMAP_AGENT_STEP_DELAY="0.5") as (client, process):
        task_ids = [client.post("/api/v1/roadmaps", json={"goal": GOAL, "auto_approve": True}).json()["task_id"]
                    for _ in range(3)]
        _sse_until_step(client, task_ids[0], "curriculum_design")
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    with serving(isolated_home) as (client, _process):
        for task_id in task_ids:
            events = _sse_until(client, task_id, 0, "completed")
            assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
            assert client.get(f"/api/v1/tasks/{task_id}").json()["status"] == "completed"
        recovering = [e for e in _sse_until(client, task_ids[0], 0, "completed") if e["type"] == "task_recovering"]
        assert len(recovering) == 1


def _sse_until_step(client: httpx.Client, task_id: str, step: str) -> None:
    with client.stream("GET", f"/api/v1/tasks/{task_id}/events", timeout=30) as response:
        for line in response.iter_lines():
            if line.startswith("data: ") and json.loads(line[6:]).get("step") == step:
                return
