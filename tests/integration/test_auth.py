"""API keys, isolation between users, rate and size limits, and hostile input (the real app through TestClient)."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from serving import CLI, local_key
from starlette.websockets import WebSocketDisconnect

from roadmap_agent.server import create_app
from roadmap_agent.services import Services
from roadmap_agent.settings import ApiSettings, Settings

pytestmark = pytest.mark.integration

GOAL = "I want to become a backend developer in 3 months, I know some Python, 10 hours a week"
WRONG_KEY = "rak_" + "A" * 43
TASK = "/api/v1/tasks/{task_id}"
ROADMAP = "/api/v1/roadmaps/{roadmap_id}"
CONCEPT = "devops.git"  # in every backend roadmap
# Every /api/v1 route: (method, path, JSON body). test_the_route_list_is_complete keeps it in step with the app.
ROUTES: list[tuple[str, str, Any]] = [
    ("POST", "/api/v1/roadmaps", {"goal": GOAL}),
    ("GET", "/api/v1/tasks", None),
    ("GET", TASK, None),
    ("GET", TASK + "/roadmap", None),
    ("POST", TASK + "/review", {"approved": True}),
    ("POST", TASK + "/cancel", None),
    ("POST", TASK + "/retry", None),
    ("GET", TASK + "/events", None),
    ("GET", "/api/v1/roadmaps/{roadmap_id}", None),
    # learning with a roadmap (issue 15): the same key rules and the same 404 for another user's roadmap
    ("GET", "/api/v1/roadmaps", None),
    ("GET", ROADMAP + "/progress", None),
    ("PUT", ROADMAP + "/progress", {"updates": [{"concept_id": CONCEPT, "state": "done"}]}),
    ("GET", ROADMAP + "/progress/{concept_id}", None),
    ("PUT", ROADMAP + "/progress/{concept_id}", {"state": "done"}),
    ("POST", ROADMAP + "/replan", {}),
    ("GET", ROADMAP + "/versions", None),
    ("GET", ROADMAP + "/versions/{version}", None),
    ("GET", ROADMAP + "/diff?from=1&to=1", None),
    ("POST", ROADMAP + "/reviews/{concept_id}", {"rating": "good"}),
    ("GET", "/api/v1/reviews/due", None),
    ("GET", ROADMAP + "/calendar.ics", None),
    ("POST", ROADMAP + "/share", {}),
    ("DELETE", ROADMAP + "/share", None),
    ("GET", ROADMAP + "/events", None),
]
LISTS = ("/api/v1/roadmaps", "/api/v1/tasks", "/api/v1/reviews/due")  # mine: never another user's 404


@dataclass
class Api:
    client: TestClient  # sends the local (admin) user's key
    services: Services

    def create_user(self, name: str, *, admin: bool = False) -> dict[str, str]:
        _, key = self.client.portal.call(lambda: self.services.users.create_user(name, is_admin=admin))  # type: ignore[union-attr]
        return {"Authorization": f"Bearer {key}"}

    def wait(self, task_id: str, status: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            task: dict[str, Any] = self.client.get(TASK.format(task_id=task_id), headers=headers).json()
            if task["status"] == status:
                return task
            time.sleep(0.05)
        raise AssertionError(f"task {task_id} never reached {status}")


def _api(settings: Settings) -> Iterator[Api]:
    with TestClient(create_app(settings)) as client:
        client.headers["Authorization"] = f"Bearer {local_key(settings)}"
        yield Api(client, client.app_state["services"])  # the lifespan state (api/state.py)


@pytest.fixture
def api(settings: Settings) -> Iterator[Api]:
    yield from _api(settings)


@pytest.fixture
def limited_api(isolated_home: Path) -> Iterator[Api]:
    limits = ApiSettings(_env_file=None, create_burst=2, create_per_minute=6, ws_max_message_bytes=100,
                         ws_max_messages_per_minute=3)
    yield from _api(Settings.load(env_file=None, api=limits))


def _paths(task_id: str, roadmap_id: str) -> list[tuple[str, str, Any]]:
    return [(m, p.format(task_id=task_id, roadmap_id=roadmap_id, concept_id=CONCEPT, version=1), b)
            for m, p, b in ROUTES]


def test_the_route_list_is_complete(api: Api) -> None:
    schema = api.client.get("/openapi.json").json()
    listed = {(m, p.split("?")[0]) for m, p, _ in ROUTES}
    for path, operations in schema["paths"].items():
        for method in operations:
            if path == "/api/v1/tasks/{task_id}/ws":  # documented only: a WebSocket, tested on its own below
                assert operations[method].get("security")
            elif path.startswith("/api/v1"):
                assert (method.upper(), path.replace("{task_id}", "{task_id}")) in listed, (method, path)
                assert operations[method].get("security"), f"{method} {path} does not declare the API key"


def test_every_route_refuses_missing_wrong_malformed_and_revoked_keys(api: Api) -> None:
    alice = api.create_user("alice")
    task_id = api.client.post("/api/v1/roadmaps", json={"goal": GOAL, "auto_approve": True},
                              headers=alice).json()["task_id"]
    roadmap_id = api.wait(task_id, "completed", alice)["roadmap_id"]
    prefix = alice["Authorization"].removeprefix("Bearer ")[:12]
    api.client.portal.call(api.services.users.revoke_key, prefix)  # type: ignore[union-attr]
    cases = {"missing": {"Authorization": ""}, "wrong": {"Authorization": f"Bearer {WRONG_KEY}"},
             "not bearer": {"Authorization": "Basic dXNlcjpwYXNz"}, "revoked": alice}
    for method, path, body in _paths(task_id, roadmap_id):
        for case, headers in cases.items():
            response = api.client.request(method, path, json=body, headers=headers)
            assert response.status_code == 401, (case, method, path, response.text)
            assert response.headers["www-authenticate"].startswith("Bearer")
            message = response.json()["error"]["message"]
            assert "Bearer" in message and "users create" in message, message
            assert WRONG_KEY not in response.text and prefix not in response.text
    assert api.client.get("/health/live").status_code == 200
    assert api.client.get("/health/ready", headers={"Authorization": ""}).status_code == 200
    assert api.client.get("/metrics", headers={"Authorization": ""}).status_code == 200
    assert api.client.get("/openapi.json", headers={"Authorization": ""}).status_code == 200


def test_another_users_ids_answer_404_and_change_nothing(api: Api) -> None:
    alice, bob = api.create_user("alice"), api.create_user("bob")
    done = api.client.post("/api/v1/roadmaps", json={"goal": GOAL, "auto_approve": True}, headers=alice).json()
    roadmap_id = api.wait(done["task_id"], "completed", alice)["roadmap_id"]
    review = api.client.post("/api/v1/roadmaps", json={"goal": GOAL}, headers=alice).json()["task_id"]
    api.wait(review, "human_review_pending", alice)
    for task_id in (done["task_id"], review):
        for method, path, body in _paths(task_id, roadmap_id):
            if path in LISTS:
                continue
            response = api.client.request(method, path, json=body, headers=bob)
            assert response.status_code == 404, (method, path, response.text)
            assert response.json()["error"]["message"]
    assert api.client.get("/api/v1/tasks", headers=bob).json()["total"] == 0
    assert api.client.get(TASK.format(task_id=review), headers=alice).json()["status"] == "human_review_pending"
    assert api.client.get(f"/api/v1/roadmaps/{roadmap_id}", headers=alice).status_code == 200
    mine = api.client.get("/api/v1/tasks", headers=alice).json()
    assert mine["total"] == 2 and {t["owner"] for t in mine["items"]} == {mine["items"][0]["owner"]}


def test_admin_keys_list_everything_and_others_may_not(api: Api) -> None:
    alice, bob = api.create_user("alice"), api.create_user("bob")
    for headers in (alice, bob):
        api.client.post("/api/v1/roadmaps", json={"goal": GOAL, "auto_approve": True}, headers=headers)
    everything = api.client.get("/api/v1/tasks", params={"all": "true"}).json()  # the local user is an admin
    assert everything["total"] == 2 and len({t["owner"] for t in everything["items"]}) == 2
    assert api.client.get("/api/v1/tasks").json()["total"] == 0  # without ?all=true: only the admin's own
    refused = api.client.get("/api/v1/tasks", params={"all": "true"}, headers=alice)
    assert refused.status_code == 403 and "admin" in refused.json()["error"]["message"]


def test_task_creation_is_rate_limited_per_key(limited_api: Api) -> None:
    api = limited_api
    alice = api.create_user("alice")
    statuses = [api.client.post("/api/v1/roadmaps", json={"goal": GOAL}, headers=alice).status_code
                for _ in range(3)]
    assert statuses == [202, 202, 429]
    limited = api.client.post("/api/v1/roadmaps", json={"goal": GOAL}, headers=alice)
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert "Retry in" in limited.json()["error"]["message"]
    assert api.client.post("/api/v1/roadmaps", json={"goal": GOAL}).status_code == 202  # another key is not


def _ws_error(client: TestClient, path: str, headers: dict[str, str] | None = None) -> tuple[dict[str, Any], int]:
    with client.websocket_connect(path, headers=headers) as ws:
        error = json.loads(ws.receive_text())
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    return error, closed.value.code


def test_websocket_takes_the_header_or_a_token(api: Api) -> None:
    alice, bob = api.create_user("alice"), api.create_user("bob")
    task_id = api.client.post("/api/v1/roadmaps", json={"goal": GOAL, "auto_approve": True},
                              headers=alice).json()["task_id"]
    api.wait(task_id, "completed", alice)
    path = f"/api/v1/tasks/{task_id}/ws"
    with api.client.websocket_connect(path, headers=alice) as ws:
        assert json.loads(ws.receive_text())["seq"] == 1
    token = alice["Authorization"].removeprefix("Bearer ")
    with api.client.websocket_connect(f"{path}?token={token}", headers={"Authorization": ""}) as ws:
        assert json.loads(ws.receive_text())["seq"] == 1
    error, code = _ws_error(api.client, path, {"Authorization": ""})
    assert code == 4401 and "Bearer" in error["error"]["message"]
    error, code = _ws_error(api.client, f"{path}?token={WRONG_KEY}", {"Authorization": ""})
    assert code == 4401 and WRONG_KEY not in json.dumps(error)
    error, code = _ws_error(api.client, path, bob)
    assert code == 4404 and error["error"]["code"] == "task_not_found"


@pytest.mark.parametrize(("messages", "code"), [(["x" * 101], 1009), (["hi"] * 4, 1008)])
def test_websocket_closes_clients_that_send_too_much(limited_api: Api, messages: list[str], code: int) -> None:
    api = limited_api
    task_id = api.client.post("/api/v1/roadmaps", json={"goal": GOAL}).json()["task_id"]
    api.wait(task_id, "human_review_pending")  # the stream stays open: only the limit can close it
    with api.client.websocket_connect(f"/api/v1/tasks/{task_id}/ws") as ws:
        for message in messages:
            ws.send_text(message)
        with pytest.raises(WebSocketDisconnect) as closed:
            while True:
                last = json.loads(ws.receive_text())
    assert closed.value.code == code and "only sends events" in last["error"]["message"]


def test_embedded_key_is_created_once_private_and_used_by_the_cli(isolated_home: Path, settings: Settings) -> None:
    env = {**os.environ, "ROADMAP_AGENT_HOME": str(isolated_home)}
    done = subprocess.run([CLI, "generate", "learn data analysis", "--auto-approve", "--json"], env=env,
                          capture_output=True, text=True, timeout=60, check=True)
    task_id = json.loads(done.stdout)["task_id"]
    key_file = isolated_home / "api-key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text()
    with TestClient(create_app(settings)) as client:
        client.headers["Authorization"] = f"Bearer {local_key(settings)}"
        assert client.get(TASK.format(task_id=task_id)).json()["status"] == "completed"
        assert client.get("/api/v1/tasks").json()["total"] == 1
    assert key_file.read_text() == key  # a second start keeps it
    created = subprocess.run([CLI, "users", "create", "carol"], env=env, capture_output=True, text=True,
                             timeout=60, check=True)
    carol = created.stdout.strip()
    assert carol.startswith("rak_") and "shown only this once" in created.stderr and carol not in created.stderr
    listed = subprocess.run([CLI, "users", "list"], env=env, capture_output=True, text=True, timeout=60, check=True)
    assert "carol" in listed.stdout and carol[:12] in listed.stdout and carol not in listed.stdout
    as_carol = subprocess.run([CLI, "status", task_id], env={**env, "ROADMAP_AGENT_API_KEY": carol},
                              capture_output=True, text=True, timeout=60, check=False)
    assert as_carol.returncode == 1 and "No task with id" in as_carol.stderr  # carol's CLI sees only hers
    subprocess.run([CLI, "users", "revoke-key", carol[:12]], env=env, capture_output=True, timeout=60, check=True)
    with TestClient(create_app(settings)) as client:
        response = client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {carol}"})
        assert response.status_code == 401


async def _database_at_0001_with_a_task(settings: Settings) -> str:
    from alembic import command

    from roadmap_agent.infra.database import Database, _alembic_config

    async with Database.from_settings(settings.database_url(), settings.database) as database:
        config = _alembic_config(database.url)

        def upgrade(sync_connection: Any) -> None:
            config.attributes["connection"] = sync_connection
            command.upgrade(config, "0001")

        await database.run(lambda conn: conn.run_sync(upgrade), write=True)
        # The row as the 0001 code wrote it (today's TaskStore reads columns added later).
        now = datetime.now(UTC)
        insert = sa.text("INSERT INTO tasks (id, owner, status, request, created_at, updated_at) "
                         "VALUES ('t0001', 'local', 'completed', :request, :now, :now)")
        await database.run(lambda conn: conn.execute(insert, {"request": json.dumps({"goal": GOAL}), "now": now}),
                           write=True)
        return "t0001"


def test_tasks_from_before_users_belong_to_the_local_user_after_upgrade(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True)
    task_id = asyncio.run(_database_at_0001_with_a_task(settings))
    with TestClient(create_app(settings)) as client:  # migrates to head, creates the local user and key
        client.headers["Authorization"] = f"Bearer {local_key(settings)}"
        assert client.get(TASK.format(task_id=task_id)).json()["owner"] == "local"
        assert client.get("/api/v1/tasks").json()["total"] == 1
