"""Findings 10, 11, 13, 14 and 15: strict request bodies, idempotency keys that cannot be misused, messages
that say what to fix, and no redirect built from the Host header (the real app through TestClient)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

pytestmark = pytest.mark.integration

GOAL = "I want to become a backend developer in 3 months, I know some Python, 10 hours a week"


def test_an_empty_idempotency_key_is_refused(client: TestClient) -> None:
    for key in ("", "   "):
        response = client.post("/api/v1/roadmaps", json={"goal": GOAL}, headers={"Idempotency-Key": key})
        assert response.status_code == 422 and "idempotency" in response.text.lower()


def test_an_idempotency_key_reused_with_another_body_is_refused(client: TestClient) -> None:
    first = client.post("/api/v1/roadmaps", json={"goal": GOAL}, headers={"Idempotency-Key": "k1"})
    again = client.post("/api/v1/roadmaps", json={"goal": GOAL}, headers={"Idempotency-Key": "k1"})
    assert first.status_code == again.status_code == 202 and first.json()["task_id"] == again.json()["task_id"]
    other = client.post("/api/v1/roadmaps", json={"goal": "learn Go in 2 months"}, headers={"Idempotency-Key": "k1"})
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"


@pytest.mark.parametrize("body", [{"goal": GOAL, "hours_per_week": True}, {"goal": GOAL, "weeks": "8"},
                                  {"goal": GOAL, "auto_approve": "yes"}, {"goal": GOAL, "hours_per_week": 5.5}])
def test_loose_types_are_refused(client: TestClient, body: dict[str, object]) -> None:
    assert client.post("/api/v1/roadmaps", json=body).status_code == 422


def test_a_review_of_yes_is_not_an_approval(client: TestClient) -> None:
    task_id = client.post("/api/v1/roadmaps", json={"goal": GOAL}).json()["task_id"]
    response = client.post(f"/api/v1/tasks/{task_id}/review", json={"approved": "yes"})
    assert response.status_code == 422 and "approved" in response.json()["error"]["message"]


@pytest.mark.parametrize("goal", ["\u200b\u200b\u200b", "\ufeff \u2060\u200d", "\u202e\u200b"])
def test_an_invisible_goal_is_refused(client: TestClient, goal: str) -> None:
    response = client.post("/api/v1/roadmaps", json={"goal": goal})
    assert response.status_code == 422 and "invisible" in response.json()["error"]["message"]


@pytest.mark.parametrize("body", [b'{"goal": "\xff\xfe learn"}', b'{"goal": ' * 2000 + b'"x"' + b"}" * 2000])
def test_an_unreadable_body_says_to_send_utf8_json(client: TestClient, body: bytes) -> None:
    response = client.post("/api/v1/roadmaps", content=body, headers={"content-type": "application/json"})
    assert response.status_code in (400, 422)
    assert "UTF-8" in response.json()["error"]["message"] and "JSON" in response.json()["error"]["message"]


def test_a_wrong_content_type_says_to_send_json(client: TestClient) -> None:
    response = client.post("/api/v1/roadmaps", content=b'{"goal": "learn go"}', headers={"content-type": "text/plain"})
    assert response.status_code == 422
    assert "Content-Type: application/json" in response.json()["error"]["message"]


def test_no_redirect_is_built_from_the_host_header(client: TestClient) -> None:
    response = client.get("/api/v1/tasks/", headers={"Host": "evil.example"}, follow_redirects=False)
    assert "evil.example" not in response.headers.get("location", "") and response.status_code == 404
