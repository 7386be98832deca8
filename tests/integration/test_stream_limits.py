"""Findings 5 and 7: caps on concurrent event streams (429 / close 1013), and sequence numbers and WebSocket
close codes that say what is wrong (the real app through TestClient, embedded)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect
from test_auth import GOAL, Api, _api

from roadmap_agent.errors import DatabaseUnavailable
from roadmap_agent.settings import ApiSettings, Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def api(isolated_home: Path) -> Iterator[Api]:
    limits = ApiSettings(_env_file=None, max_streams_per_key=2, max_streams=3)
    yield from _api(Settings.load(env_file=None, api=limits))


def waiting_task(api: Api, headers: dict[str, str] | None = None) -> str:
    """A task paused for review: its event stream stays open until the client leaves."""
    task_id: str = api.client.post("/api/v1/roadmaps", json={"goal": GOAL}, headers=headers).json()["task_id"]
    api.wait(task_id, "human_review_pending", headers)
    return task_id


def open_ws(stack: ExitStack, api: Api, task_id: str, headers: dict[str, str] | None = None) -> WebSocketTestSession:
    ws = stack.enter_context(api.client.websocket_connect(f"/api/v1/tasks/{task_id}/ws", headers=headers or {}))
    ws.receive_text()  # the replay's first event: the stream is being served
    return ws


def refused(ws: WebSocketTestSession) -> tuple[dict[str, Any], int, str]:
    error = json.loads(ws.receive_text())
    with pytest.raises(WebSocketDisconnect) as closed:
        ws.receive_text()
    return error, closed.value.code, closed.value.reason


def test_one_key_cannot_open_more_streams_than_its_cap(api: Api) -> None:
    task_id = waiting_task(api)
    with ExitStack() as stack:
        first = [open_ws(stack, api, task_id) for _ in range(2)]
        with api.client.websocket_connect(f"/api/v1/tasks/{task_id}/ws") as third:
            error, code, reason = refused(third)
        assert code == 1013 and error["error"]["code"] == "rate_limited"
        assert "ROADMAP_AGENT_MAX_STREAMS_PER_KEY" in error["error"]["message"] and reason
        sse = api.client.get(f"/api/v1/tasks/{task_id}/events")
        assert sse.status_code == 429 and sse.headers["retry-after"] == "5"
        bob = api.create_user("bob")
        open_ws(stack, api, waiting_task(api, bob), bob)  # other keys are not affected ...
        with api.client.websocket_connect(f"/api/v1/tasks/{waiting_task(api, bob)}/ws", headers=bob) as over:
            error, code, _ = refused(over)  # ... until the process cap (3)
        assert code == 1013 and "ROADMAP_AGENT_MAX_STREAMS)" in error["error"]["message"]
        first[0].close()
    with ExitStack() as stack:  # every slot came back when the clients left
        [open_ws(stack, api, task_id) for _ in range(2)]


@pytest.mark.parametrize("value", ["99999999999", "2147483648", "-1", "abc"])
def test_sequence_numbers_out_of_range_answer_400(api: Api, value: str) -> None:
    task_id = waiting_task(api)
    responses = [api.client.get(f"/api/v1/tasks/{task_id}/events", headers={"Last-Event-ID": value})]
    if value.isdigit():  # ?after=-1 or abc fails the schema (422, as before); past the range it is a 400
        responses.append(api.client.get(f"/api/v1/tasks/{task_id}/events", params={"after": value}))
    for response in responses:
        assert response.status_code == 400, response.text
        assert "sequence number" in response.json()["error"]["message"]


def test_a_bad_after_on_the_websocket_closes_1008_with_a_reason(api: Api) -> None:
    task_id = waiting_task(api)
    with api.client.websocket_connect(f"/api/v1/tasks/{task_id}/ws?after=abc") as ws:
        error, code, reason = refused(ws)
    assert code == 1008 and error["error"]["code"] == "invalid_request" and "sequence number" in reason


def test_a_database_away_during_websocket_setup_closes_1013(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    task_id = waiting_task(api)

    async def overloaded(*_args: object) -> None:
        raise DatabaseUnavailable("Database at the test is unavailable (too many connections). Retry later.")

    monkeypatch.setattr(api.services.store, "get_task", overloaded)
    with api.client.websocket_connect(f"/api/v1/tasks/{task_id}/ws") as ws:
        error, code, reason = refused(ws)
    assert code == 1013 and error["error"]["code"] == "database_unavailable" and "Retry" in reason
