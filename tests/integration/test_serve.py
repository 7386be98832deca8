"""`roadmap-agent serve` as a real process: HTTP + SSE end to end, clean shutdown, recovery after kill -9."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from serving import serve

pytestmark = pytest.mark.integration

CLI = str(Path(sys.executable).parent / "roadmap-agent")
GOAL = "I want to become a backend developer in 3 months, I know some Python, 10 hours a week"


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
    with serve(isolated_home) as served:
        client, process = served.client, served.process
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
        assert "application_shutdown_complete" in served.log()


def test_runs_left_by_a_killed_server_finish_after_restart(isolated_home: Path) -> None:
    with serve(isolated_home, {"ROADMAP_AGENT_STEP_DELAY": "0.5"}) as served:
        client, process = served.client, served.process
        task_ids = [client.post("/api/v1/roadmaps", json={"goal": GOAL, "auto_approve": True}).json()["task_id"]
                    for _ in range(3)]
        _sse_until_step(client, task_ids[0], "curriculum_design")
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    with serve(isolated_home) as served:
        client = served.client
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
