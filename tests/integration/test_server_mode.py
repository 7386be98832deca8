"""Server mode on real PostgreSQL, Redis and S3 (SeaweedFS) started by scripts/devservices.py."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from devservices import PostgresServer, RedisServer, S3Server
from serving import CLI, create_user_key, serve, work

from roadmap_agent.domain.models import LearnerRequest, ReviewDecision, Roadmap
from roadmap_agent.errors import DatabaseUnavailable
from roadmap_agent.infra.database import Database, migrate
from roadmap_agent.services import Services, open_services
from roadmap_agent.settings import DatabaseSettings, Settings, WorkerSettings
from roadmap_agent.store.records import TaskStatus

pytestmark = pytest.mark.integration

GOAL = "I want to become a backend developer in 3 months, I know some Python, 10 hours a week"
TABLES = {"tasks", "roadmaps", "review_decisions", "task_events", "users", "api_keys", "alembic_version",
          "learning_roadmaps", "roadmap_versions", "concept_progress", "review_cards"}
QUEUE_TABLES = {"procrastinate_jobs", "procrastinate_workers", "procrastinate_events"}  # PostgreSQL only


@pytest.fixture
def server_env(pg_server: PostgresServer, redis_server: RedisServer, s3_server: S3Server,
               monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A fresh database and bucket for this test, shared PostgreSQL/Redis/S3 servers."""
    suffix = uuid.uuid4().hex[:10]
    bucket = f"test-{suffix}"
    s3_server.create_bucket(bucket)
    env = {
        "DATABASE_URL": pg_server.create_database(f"test_{suffix}"),
        "REDIS_URL": redis_server.url,
        "S3_ENDPOINT_URL": s3_server.endpoint_url,
        "S3_BUCKET": bucket,
        "AWS_ACCESS_KEY_ID": s3_server.access_key,
        "AWS_SECRET_ACCESS_KEY": s3_server.secret_key,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
async def server_services(server_env: dict[str, str]) -> AsyncIterator[Services]:
    # Runs in this process (a valid single-box choice); test_worker.py covers the queue and workers.
    async with open_services(Settings.load(env_file=None, worker=WorkerSettings(execution="inprocess"))) as services:
        yield services


async def _tables(database: Database) -> set[str]:
    return set(await database.run(lambda conn: conn.run_sync(lambda sync: sa.inspect(sync).get_table_names())))


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migrations_run_from_empty_and_are_idempotent(backend: str, pg_server: PostgresServer,
                                                     tmp_path: Path) -> None:
    if backend == "sqlite":
        home = tmp_path / "home"
        env = {**os.environ, "ROADMAP_AGENT_HOME": str(home)}
        url = f"sqlite+aiosqlite:///{home / 'roadmap-agent.db'}"
    else:
        url = pg_server.create_database(f"empty_{uuid.uuid4().hex[:8]}")
        env = {**os.environ, "DATABASE_URL": url}
    # Three processes starting at once on an empty database (each migrates) must not collide.
    processes = [subprocess.Popen([CLI, "migrate"], env=env, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    try:
        errors = [p.communicate(timeout=60)[1] for p in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
    assert [p.returncode for p in processes] == [0, 0, 0], errors
    asyncio.run(_migrated_once_more(url))


async def _migrated_once_more(url: str) -> None:
    async with Database.from_settings(url, DatabaseSettings()) as database:
        tables = await _tables(database)
        assert TABLES <= tables
        assert (QUEUE_TABLES <= tables) == (not database.is_sqlite)
        await migrate(database)  # once more: nothing to do
        version = await database.run(lambda conn: conn.execute(sa.text("SELECT version_num FROM alembic_version")))
        assert version.scalar_one() == "0005"  # the head revision


async def test_full_workflow_with_review_on_postgres_and_s3(server_services: Services, server_env: dict[str, str],
                                                            s3_server: S3Server) -> None:
    assert not server_services.settings.embedded
    runner, store = server_services.runner, server_services.store
    task = await runner.submit("local", LearnerRequest(goal=GOAL))
    await runner.wait(task.task_id)
    assert (await store.get_task(task.task_id)).status == TaskStatus.HUMAN_REVIEW_PENDING
    await runner.review(task.task_id, ReviewDecision(approved=False, feedback="skip Docker, add Kubernetes"))
    await runner.wait(task.task_id)
    edited = Roadmap.model_validate(await store.draft_roadmap(task.task_id))
    assert "devops.kubernetes" in edited.concept_ids() and "devops.docker" not in edited.concept_ids()
    await runner.review(task.task_id, ReviewDecision(approved=True))
    await runner.wait(task.task_id)
    done = await store.get_task(task.task_id)
    assert done.status == TaskStatus.COMPLETED and done.roadmap_id
    exported = json.loads(await server_services.storage.get(f"roadmaps/{done.roadmap_id}.json"))
    assert exported["id"] == done.roadmap_id and exported == await store.get_roadmap(done.roadmap_id)
    checkpoints = await server_services.database.run(
        lambda conn: conn.execute(sa.text("SELECT count(*) FROM checkpoints WHERE thread_id = :t"),
                                  {"t": task.task_id}))
    assert checkpoints.scalar_one() > 3  # the LangGraph Postgres saver, not SQLite


async def test_hung_postgres_ends_a_query_with_a_clear_error_within_the_deadline(tmp_path: Path) -> None:
    server = PostgresServer(Path(f"/tmp/roadmap-hung-{uuid.uuid4().hex[:8]}"))
    server.start()
    try:
        settings = DatabaseSettings(operation_timeout=1.0)
        async with Database.from_settings(server.url(), settings) as database:
            await database.ping()
            server.pause()
            started = time.monotonic()
            with pytest.raises(DatabaseUnavailable, match=r"did not answer within 1 s") as caught:
                await database.ping()
            elapsed = time.monotonic() - started
            assert elapsed < 1.5, f"DB_OPERATION_TIMEOUT=1 s but the query took {elapsed:.2f} s"
            assert server.password not in str(caught.value) and f"127.0.0.1:{server.port}" in str(caught.value)
            server.resume()
            await asyncio.wait_for(_until_ok(database), 15)
    finally:
        server.resume()
        server.stop()


async def _until_ok(database: Database) -> None:
    while True:
        try:
            await database.ping()
            return
        except DatabaseUnavailable:
            await asyncio.sleep(0.2)


async def test_unreachable_postgres_fails_fast_without_leaking_the_password() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once we leave: nothing listens there
    url = f"postgresql+psycopg://roadmap:supersecret@127.0.0.1:{port}/roadmap_agent"
    started = time.monotonic()
    async with Database.from_settings(url, DatabaseSettings(connect_timeout=2)) as database:
        with pytest.raises(DatabaseUnavailable) as caught:
            await database.ping()
    assert time.monotonic() - started < 3
    assert f"127.0.0.1:{port}" in caught.value.message and "supersecret" not in caught.value.message


# -- two API processes ------------------------------------------------------------------------------


def _collect(client: httpx.Client, task_id: str, stop: str, timeout: float) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    with client.stream("GET", f"/api/v1/tasks/{task_id}/events", timeout=timeout) as response:
        for line in response.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
                if events[-1]["type"] == stop:
                    return events
    raise AssertionError(f"stream ended before {stop}")


def test_events_cross_two_api_processes_through_redis(server_env: dict[str, str], isolated_home: Path) -> None:
    # B re-reads the log only every 60 s: events reaching it within seconds came through Redis.
    key = create_user_key(server_env)
    with serve(isolated_home / "a", server_env, api_key=key) as served_a, \
         work(isolated_home / "w", {**server_env, "ROADMAP_AGENT_STEP_DELAY": "0.4"}), \
         serve(isolated_home / "b", {**server_env, "ROADMAP_AGENT_EVENT_POLL_INTERVAL": "60"},
               api_key=key) as served_b:
        api_a, api_b = served_a.client, served_b.client
        task_id = api_a.post("/api/v1/roadmaps", json={"goal": GOAL}).json()["task_id"]
        started = time.monotonic()
        first = _collect(api_b, task_id, "human_review_required", timeout=30)
        assert [e["seq"] for e in first] == list(range(1, len(first) + 1))
        assert api_b.post(f"/api/v1/tasks/{task_id}/review", json={"approved": True}).status_code == 202
        rest = _collect(api_a, task_id, "completed", timeout=30)
        assert [e["seq"] for e in rest] == list(range(1, len(rest) + 1))
        assert time.monotonic() - started < 20
        assert api_a.get(f"/api/v1/tasks/{task_id}").json()["status"] == "completed"
