"""The HTTP API end to end (TestClient runs the real app with its lifespan): create, review, 409, events."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from serving import local_key

from roadmap_agent.server import create_app
from roadmap_agent.settings import Settings

pytestmark = pytest.mark.integration

GOAL = "I want to become a backend developer in 3 months, I know some Python, 10 hours a week"


def _wait_for(client: TestClient, task_id: str, *statuses: str, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task: dict[str, Any] = client.get(f"/api/v1/tasks/{task_id}").json()
        if task["status"] in statuses:
            return task
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} never reached {statuses}")


def test_create_review_reject_approve_and_second_decision_is_409(client: TestClient) -> None:
    created = client.post("/api/v1/roadmaps", json={"goal": GOAL})
    assert created.status_code == 202
    body = created.json()
    task_id = body["task_id"]
    assert body["links"]["events"] == f"/api/v1/tasks/{task_id}/events"
    task = _wait_for(client, task_id, "human_review_pending")
    assert task["review_round"] == 1 and task["intent"]["domains"] == ["backend"]
    draft = client.get(f"/api/v1/tasks/{task_id}/roadmap").json()
    assert draft["weeks"] == 13 and draft["stages"]

    rejected = client.post(f"/api/v1/tasks/{task_id}/review", json={"approved": False, "feedback": "skip Docker"})
    assert rejected.status_code == 202
    task = _wait_for(client, task_id, "human_review_pending")
    while task["review_round"] != 2:
        task = _wait_for(client, task_id, "human_review_pending")
    assert client.post(f"/api/v1/tasks/{task_id}/review", json={"approved": True}).status_code == 202
    second = client.post(f"/api/v1/tasks/{task_id}/review", json={"approved": True})
    assert second.status_code == 409
    message = second.json()["error"]["message"]
    assert "not waiting for a review" in message or "already" in message
    task = _wait_for(client, task_id, "completed")
    roadmap = client.get(f"/api/v1/roadmaps/{task['roadmap_id']}").json()
    concept_ids = [c["id"] for s in roadmap["stages"] for m in s["modules"] for c in m["concepts"]]
    assert "devops.docker" not in concept_ids
    markdown = client.get(f"/api/v1/roadmaps/{task['roadmap_id']}", params={"format": "markdown"})
    assert markdown.status_code == 200 and markdown.text.startswith("# ")
    listed = client.get("/api/v1/tasks").json()
    assert listed["total"] == 1 and listed["items"][0]["task_id"] == task_id


def test_websocket_replays_after_n_then_streams_to_the_end(client: TestClient) -> None:
    task_id = client.post("/api/v1/roadmaps", json={"goal": GOAL, "auto_approve": True}).json()["task_id"]
    _wait_for(client, task_id, "completed")
    with client.websocket_connect(f"/api/v1/tasks/{task_id}/ws") as ws:
        everything = _receive_all(ws)
    assert [e["seq"] for e in everything] == list(range(1, len(everything) + 1))
    assert everything[-1]["type"] == "completed"
    with client.websocket_connect(f"/api/v1/tasks/{task_id}/ws?after=3") as ws:
        replay = _receive_all(ws)
    assert replay == everything[3:]


def test_websocket_sees_a_live_run_without_gaps(client: TestClient) -> None:
    task_id = client.post("/api/v1/roadmaps", json={"goal": "learn data analysis", "auto_approve": True}).json()[
        "task_id"]
    with client.websocket_connect(f"/api/v1/tasks/{task_id}/ws?after=0") as ws:
        events = _receive_all(ws)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert {"task_id", "seq", "type", "step", "status", "message", "data", "timestamp"} <= set(events[0])


def _receive_all(ws: Any) -> list[dict[str, Any]]:
    events = []
    while True:
        event = json.loads(ws.receive_text())
        events.append(event)
        if event["type"] in ("completed", "failed", "cancelled"):
            return events


def test_sse_replays_after_last_event_id(client: TestClient) -> None:
    task_id = client.post("/api/v1/roadmaps", json={"goal": GOAL, "auto_approve": True}).json()["task_id"]
    _wait_for(client, task_id, "completed")
    with client.stream("GET", f"/api/v1/tasks/{task_id}/events", headers={"Last-Event-ID": "2"}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        ids = [int(line[4:]) for line in response.iter_lines() if line.startswith("id: ")]
    assert ids[0] == 3 and ids == list(range(3, ids[-1] + 1))


def test_cancel_during_review_and_idempotent(client: TestClient) -> None:
    task_id = client.post("/api/v1/roadmaps", json={"goal": GOAL}).json()["task_id"]
    _wait_for(client, task_id, "human_review_pending")
    assert client.post(f"/api/v1/tasks/{task_id}/cancel").json()["status"] == "cancelled"
    again = client.post(f"/api/v1/tasks/{task_id}/cancel")
    assert again.status_code == 202 and again.json()["status"] == "cancelled"
    assert client.post(f"/api/v1/tasks/{task_id}/review", json={"approved": True}).status_code == 409


def test_idempotency_key_header_returns_the_same_task(client: TestClient) -> None:
    headers = {"Idempotency-Key": "abc-123"}
    first = client.post("/api/v1/roadmaps", json={"goal": GOAL, "auto_approve": True}, headers=headers).json()
    second = client.post("/api/v1/roadmaps", json={"goal": GOAL, "auto_approve": True}, headers=headers).json()
    assert first["task_id"] == second["task_id"]


@pytest.mark.parametrize(
    ("send", "status", "fragment"),
    [
        ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 422, "not valid JSON"),
        ({"json": {"goal": ""}}, 422, "goal"),
        ({"json": {"goal": "   "}}, 422, "goal is empty"),
        ({"json": {}}, 422, "goal"),
        ({"json": {"goal": "x" * 2001}}, 422, "at most 2000 characters"),
        ({"json": {"goal": "x" * (10 * 1024 * 1024)}}, 413, "larger than"),
        ({"json": {"goal": "learn python", "hours_per_week": 0}}, 422, "hours_per_week"),
        ({"json": {"goal": "learn python", "weeks": 1000}}, 422, "weeks"),
        ({"json": {"goal": "learn python", "level": "guru"}}, 422, "level"),
        ({"json": {"goal": "learn python", "language": "fr"}}, 422, "language"),
        ({"json": {"goal": "learn python", "colour": "blue"}}, 422, "colour"),
        ({"json": ["goal"]}, 422, "body"),
    ],
)
def test_bad_input_gets_a_4xx_that_says_what_to_fix(client: TestClient, send: dict[str, Any], status: int,
                                                    fragment: str) -> None:
    response = client.post("/api/v1/roadmaps", **send)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert fragment in error["message"]
    assert "Traceback" not in response.text


def test_unknown_ids_and_wrong_states(client: TestClient) -> None:
    for path in ("/api/v1/tasks/nope", "/api/v1/tasks/nope/roadmap", "/api/v1/roadmaps/nope"):
        response = client.get(path)
        assert response.status_code == 404 and response.json()["error"]["message"]
    assert client.post("/api/v1/tasks/nope/review", json={"approved": True}).status_code == 404
    assert client.post("/api/v1/tasks/nope/cancel").status_code == 404
    task_id = client.post("/api/v1/roadmaps", json={"goal": GOAL, "auto_approve": True}).json()["task_id"]
    _wait_for(client, task_id, "completed")
    assert client.post(f"/api/v1/tasks/{task_id}/review", json={"approved": True}).status_code == 409
    assert client.post(f"/api/v1/tasks/{task_id}/retry").status_code == 409
    assert client.post(f"/api/v1/tasks/{task_id}/review", json={"approved": "maybe"}).status_code == 422
    assert client.get(f"/api/v1/tasks/{task_id}/events", params={"after": -1}).status_code == 422
    assert client.get("/api/v1/tasks", params={"limit": 0}).status_code == 422


def test_docs_and_health(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    assert "/api/v1/roadmaps" in client.get("/openapi.json").json()["paths"]
    assert client.get("/health/live").json() == {"status": "ok"}
    ready = client.get("/health/ready")
    assert ready.status_code == 200 and ready.json()["mode"] == "embedded"


def test_operators_can_tighten_text_and_page_limits(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROADMAP_AGENT_MAX_GOAL_CHARS", "40")
    monkeypatch.setenv("ROADMAP_AGENT_MAX_FEEDBACK_CHARS", "20")
    monkeypatch.setenv("ROADMAP_AGENT_MAX_PAGE_SIZE", "5")
    settings = Settings.load(env_file=None)
    with TestClient(create_app(settings)) as client:
        client.headers["Authorization"] = f"Bearer {local_key(settings)}"
        long_goal = client.post("/api/v1/roadmaps", json={"goal": "learn python " * 5})
        assert long_goal.status_code == 400 and "goal: at most 40 characters" in long_goal.json()["error"]["message"]
        assert client.get("/api/v1/tasks", params={"limit": 6}).status_code == 400
        task_id = client.post("/api/v1/roadmaps", json={"goal": "learn SQL"}).json()["task_id"]
        _wait_for(client, task_id, "human_review_pending")
        feedback = client.post(f"/api/v1/tasks/{task_id}/review", json={"approved": False, "feedback": "x" * 21})
        assert feedback.status_code == 400 and "feedback: at most 20" in feedback.json()["error"]["message"]
        assert client.get(f"/api/v1/tasks/{task_id}").json()["status"] == "human_review_pending"  # nothing decided


def _round(client: TestClient, task_id: str, review_round: int) -> dict[str, Any]:
    task = _wait_for(client, task_id, "human_review_pending")
    while task["review_round"] != review_round:
        task = _wait_for(client, task_id, "human_review_pending")
    return task


def test_the_draft_carries_the_last_edit_and_the_task_its_decisions(client: TestClient) -> None:
    task_id = client.post("/api/v1/roadmaps", json={"goal": GOAL}).json()["task_id"]
    _round(client, task_id, 1)
    first = client.get(f"/api/v1/tasks/{task_id}/roadmap").json()
    assert first["changes"] == [] and first["report"] is None  # no edit yet
    feedback = "skip Docker, banana purple"
    client.post(f"/api/v1/tasks/{task_id}/review", json={"approved": False, "feedback": feedback})
    task = _round(client, task_id, 2)
    assert [(d["round"], d["approved"], d["feedback"]) for d in task["decisions"]] == [(1, False, feedback)]
    assert task["decisions"][0]["decided_at"]
    draft = client.get(f"/api/v1/tasks/{task_id}/roadmap").json()
    assert any("Docker" in c or "containers" in c for c in draft["changes"])
    assert any("banana purple" in c for c in draft["changes"])  # said not understood, not dropped
    removed = [r["concept_id"] for r in draft["report"]["diff"]["removed"]]
    assert "devops.docker" in removed and draft["report"]["not_understood"][0]["text"]
    client.post(f"/api/v1/tasks/{task_id}/review", json={"approved": True})
    task = _wait_for(client, task_id, "completed")
    assert [d["approved"] for d in task["decisions"]] == [False, True]
    assert client.get("/api/v1/tasks").json()["items"][0]["decisions"] == task["decisions"]
    final = client.get(f"/api/v1/tasks/{task_id}/roadmap").json()
    assert final["changes"] == draft["changes"]  # the last edit, on the final roadmap too


def test_the_last_review_round_refuses_a_rejection_with_a_409_that_says_why(
        isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROADMAP_AGENT_MAX_REVIEW_ROUNDS", "1")
    settings = Settings.load(env_file=None)
    with TestClient(create_app(settings)) as client:
        client.headers["Authorization"] = f"Bearer {local_key(settings)}"
        task_id = client.post("/api/v1/roadmaps", json={"goal": GOAL}).json()["task_id"]
        _round(client, task_id, 1)
        refused = client.post(f"/api/v1/tasks/{task_id}/review", json={"approved": False, "feedback": "skip Git"})
        assert refused.status_code == 409
        assert "ROADMAP_AGENT_MAX_REVIEW_ROUNDS=1" in refused.json()["error"]["message"]
        assert client.get(f"/api/v1/tasks/{task_id}").json()["decisions"] == []
        assert client.post(f"/api/v1/tasks/{task_id}/review", json={"approved": True}).status_code == 202
        _wait_for(client, task_id, "completed")
