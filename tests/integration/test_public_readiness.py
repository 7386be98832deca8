"""Finding 8: public readiness says each dependency's status and nothing else; details need a key; no absolute
server path reaches an API client."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from serving import local_key

from roadmap_agent.errors import StorageUnavailable
from roadmap_agent.server import create_app
from roadmap_agent.settings import Settings

pytestmark = pytest.mark.integration


def test_public_readiness_shows_status_only_and_details_need_a_key(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        public = client.get("/health/ready").json()
        assert set(public["dependencies"]["database"]) == {"status"}
        assert str(settings.data_dir) not in json.dumps(public)
        wrong = client.get("/health/ready", headers={"Authorization": "Bearer rak_" + "A" * 43})
        assert wrong.status_code == 200 and set(wrong.json()["dependencies"]["database"]) == {"status"}
        detailed = client.get("/health/ready", headers={"Authorization": f"Bearer {local_key(settings)}"}).json()
        assert {"status", "latency_ms", "target", "last_error"} <= set(detailed["dependencies"]["database"])


def test_error_bodies_carry_no_absolute_server_path(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        client.headers["Authorization"] = f"Bearer {local_key(settings)}"
        services = client.app_state["services"]  # the lifespan state (api/state.py)

        async def broken(*_args: object) -> None:
            raise StorageUnavailable(f"Cannot create the artifacts folder {settings.data_dir}/artifacts (full).")

        services.store.list_tasks = broken
        response = client.get("/api/v1/tasks")
    assert response.status_code == 503
    message = response.json()["error"]["message"]
    assert str(settings.data_dir) not in message and ".../artifacts" in message
