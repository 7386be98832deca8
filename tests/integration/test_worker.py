"""Server mode with worker processes: API processes accept and read, `roadmap-agent worker` runs.

Real PostgreSQL and Redis (session servers, a fresh database per test), real `serve` and `worker` processes
started the way the README says, and real faults: kill -9 and SIGTERM.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from devservices import PostgresServer, RedisServer, free_port
from psycopg.rows import dict_row
from serving import CLI, create_user_key, serve, work

pytestmark = [pytest.mark.integration, pytest.mark.slow]

GOAL = "I want to become a backend developer in 3 months, I know some Python, 10 hours a week"
FAST_RECOVERY = {"ROADMAP_AGENT_WORKER_HEARTBEAT": "0.5", "ROADMAP_AGENT_WORKER_STALLED_AFTER": "3"}


@pytest.fixture
def queue_env(pg_server: PostgresServer, redis_server: RedisServer) -> dict[str, str]:
    """A fresh database on the shared PostgreSQL, the shared Redis; artifacts in each process's home."""
    return {"DATABASE_URL": pg_server.create_database(f"worker_{uuid.uuid4().hex[:10]}"),
            "REDIS_URL": redis_server.url}


def until(condition: Callable[..., Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def events(database_url: str, task_id: str) -> list[dict[str, Any]]:
    """Every event of the task so far, read straight from the durable log in PostgreSQL."""
    with psycopg.connect(database_url.replace("+psycopg", ""), row_factory=dict_row) as conn:
        rows = conn.execute("SELECT seq, type, step, status, data, created_at FROM task_events "
                            "WHERE task_id = %s ORDER BY seq", (task_id,)).fetchall()
    return [{**row, "timestamp": row.pop("created_at").timestamp()} for row in rows]


def holder(database_url: str, task_id: str) -> str | None:
    with psycopg.connect(database_url.replace("+psycopg", "")) as conn:
        row = conn.execute("SELECT worker FROM tasks WHERE id = %s", (task_id,)).fetchone()
    assert row is not None
    worker: str | None = row[0]
    return worker


def status(api: httpx.Client, task_id: str) -> str:
    return str(api.get(f"/api/v1/tasks/{task_id}").json()["status"])


def steps_started(evs: list[dict[str, Any]], step: str) -> int:
    return sum(1 for e in evs if e.get("step") == step and e.get("status") == "started")


def test_cli_generate_in_server_mode_queues_the_run_for_a_worker(queue_env: dict[str, str],
                                                               isolated_home: Path) -> None:
    """The CLI stores the task before its services open; resuming it there queues it like the API does."""
    with work(isolated_home / "worker", queue_env, concurrency=2) as worker:
        done = subprocess.run([CLI, "generate", GOAL, "--auto-approve", "--json"], capture_output=True, text=True,
                              env={**os.environ, "ROADMAP_AGENT_HOME": str(isolated_home / "cli"), **queue_env},
                              timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    task_id = json.loads(done.stdout)["task_id"]
    assert json.loads(done.stdout)["status"] == "completed" and f"task {task_id}" in done.stderr
    assert task_id in worker.log_path.read_text(encoding="utf-8")  # the worker ran it, not the CLI
    assert holder(queue_env["DATABASE_URL"], task_id) is None


def test_api_accepts_and_workers_run_the_workflow(queue_env: dict[str, str], isolated_home: Path) -> None:
    key = create_user_key(queue_env)
    slow = {**queue_env, "ROADMAP_AGENT_STEP_DELAY": "0.3"}  # 6 runs at once need both workers (2 each)
    with serve(isolated_home / "api", queue_env, api_key=key) as api, \
         work(isolated_home / "w1", slow, concurrency=2) as w1, \
         work(isolated_home / "w2", slow, concurrency=2) as w2:
        ids = [api.client.post("/api/v1/roadmaps", json={"goal": GOAL}).json()["task_id"] for _ in range(6)]
        for task_id in ids:
            until(lambda t=task_id: status(api.client, t) == "human_review_pending", 30, "review")
            assert api.client.post(f"/api/v1/tasks/{task_id}/review", json={"approved": True}).status_code == 202
        for task_id in ids:
            until(lambda t=task_id: status(api.client, t) == "completed", 30, "completion")
            task = api.client.get(f"/api/v1/tasks/{task_id}").json()
            assert task["roadmap_id"] and holder(queue_env["DATABASE_URL"], task_id) is None  # released cleanly
            assert api.client.get(f"/api/v1/roadmaps/{task['roadmap_id']}").status_code == 200
        # The API process never ran a step; the workers did (both of them took work).
        assert "intent_analysis_started" not in api.log()
        assert "intent_analysis_started" in w1.log() and "intent_analysis_started" in w2.log()


def test_worker_killed_mid_step_is_resumed_by_another_from_its_checkpoint(queue_env: dict[str, str],
                                                                           isolated_home: Path) -> None:
    db = queue_env["DATABASE_URL"]
    env = {**queue_env, **FAST_RECOVERY, "ROADMAP_AGENT_STEP_DELAY": "1.0"}
    key = create_user_key(queue_env)
    with serve(isolated_home / "api", queue_env, api_key=key) as api:
        with work(isolated_home / "doomed", env, concurrency=4) as doomed:
            ids = [api.client.post("/api/v1/roadmaps", json={"goal": GOAL, "auto_approve": True}).json()["task_id"]
                   for _ in range(4)]
            # Every run is past its first step (a checkpoint exists) and inside a later one.
            until(lambda: all(steps_started(events(db, t), "curriculum_design") for t in ids), 30,
                  "curriculum_design to start everywhere")
            os.kill(doomed.process.pid, signal.SIGKILL)
            killed_at = time.time()
            doomed.process.wait(timeout=5)
        with work(isolated_home / "rescuer", env, concurrency=4):
            for task_id in ids:
                until(lambda t=task_id: status(api.client, t) == "completed", 40, "completion after takeover")
        for task_id in ids:
            evs = events(db, task_id)
            recovering = [e for e in evs if e["type"] == "task_recovering"]
            assert len(recovering) == 1, [e["type"] for e in evs]
            recovered_after = recovering[0]["timestamp"] - killed_at
            assert recovered_after < 10, f"took {recovered_after:.1f} s"
            assert steps_started(evs, "intent_analysis") == 1  # resumed, not restarted from scratch
            assert [e["seq"] for e in evs] == list(range(1, len(evs) + 1))
            epochs = [e["data"]["epoch"] for e in evs if "epoch" in e["data"]]
            assert epochs == sorted(epochs) and len(set(epochs)) == 2  # the dead run, then the rescuer's


def test_a_stalled_run_superseded_by_a_waiting_job_is_ended_so_the_waiting_one_runs(queue_env: dict[str, str],
                                                                                     isolated_home: Path) -> None:
    """The chaos 'connections reset' race: a review decision queues the task's next job while the job of the
    run that reached the review is still 'doing' and its worker is gone. That job cannot be put back (a job for
    the task already waits) and the waiting one cannot start (the task's lock is held): before the fix the task
    stayed 'running' forever."""
    db = queue_env["DATABASE_URL"]
    key = create_user_key(queue_env)
    with serve(isolated_home / "api", queue_env, api_key=key) as api:
        with work(isolated_home / "w1", queue_env):
            task_id = api.client.post("/api/v1/roadmaps", json={"goal": GOAL}).json()["task_id"]
            until(lambda: status(api.client, task_id) == "human_review_pending", 30, "review")
        # The run that reached the review, stalled: 'doing' with no worker (its worker row pruned).
        with psycopg.connect(db.replace("+psycopg", "")) as conn:
            conn.execute("INSERT INTO procrastinate_jobs (queue_name, task_name, lock, queueing_lock, args, status) "
                         "VALUES ('roadmaps', 'run_roadmap', %s, %s, %s, 'doing')",
                         (task_id, task_id, json.dumps({"task_id": task_id})))
        assert api.client.post(f"/api/v1/tasks/{task_id}/review", json={"approved": True}).status_code == 202
        with work(isolated_home / "w2", {**queue_env, **FAST_RECOVERY}) as rescuer:
            until(lambda: status(api.client, task_id) == "completed", 40, "completion once the stalled job ended")
        assert "stalled_run_superseded" in rescuer.log()
        with psycopg.connect(db.replace("+psycopg", "")) as conn:
            left = conn.execute("SELECT status FROM procrastinate_jobs WHERE lock = %s AND status IN ('todo', 'doing')",
                                (task_id,)).fetchall()
        assert left == []


def test_sigterm_finishes_short_runs_and_hands_long_ones_back(queue_env: dict[str, str],
                                                              isolated_home: Path) -> None:
    db = queue_env["DATABASE_URL"]
    key = create_user_key(queue_env)
    with serve(isolated_home / "api", queue_env, api_key=key) as api:
        # Generous grace: the run in flight finishes, then the worker exits 0.
        with work(isolated_home / "patient", {**queue_env, "ROADMAP_AGENT_STEP_DELAY": "0.3",
                                              "ROADMAP_AGENT_WORKER_GRACE": "30"}) as patient:
            task_id = api.client.post("/api/v1/roadmaps", json={"goal": GOAL, "auto_approve": True}).json()["task_id"]
            until(lambda: steps_started(events(db, task_id), "intent_analysis"), 20, "the run to start")
            patient.process.send_signal(signal.SIGTERM)
            assert patient.process.wait(timeout=30) == 0
        assert status(api.client, task_id) == "completed"
        assert not [e for e in events(db, task_id) if e["type"] == "task_recovering"]

        # Short grace: the run is handed back at once and continues on the next worker from its checkpoint.
        slow = {**queue_env, **FAST_RECOVERY, "ROADMAP_AGENT_STEP_DELAY": "2", "ROADMAP_AGENT_WORKER_GRACE": "0.5"}
        with work(isolated_home / "hasty", slow) as hasty:
            task_id = api.client.post("/api/v1/roadmaps", json={"goal": GOAL, "auto_approve": True}).json()["task_id"]
            until(lambda: steps_started(events(db, task_id), "curriculum_design"), 20, "a later step")
            stopped = time.monotonic()
            hasty.process.send_signal(signal.SIGTERM)
            assert hasty.process.wait(timeout=15) == 0
            assert time.monotonic() - stopped < 5
            assert "run_handed_back" in hasty.log()
        with work(isolated_home / "next", {**slow, "ROADMAP_AGENT_STEP_DELAY": "0"}):
            until(lambda: status(api.client, task_id) == "completed", 30, "completion on the next worker")
        evs = events(db, task_id)
        assert steps_started(evs, "intent_analysis") == 1
        assert [e["type"] for e in evs].count("task_recovering") == 1


def test_concurrent_review_decisions_give_one_resume_and_one_409(queue_env: dict[str, str],
                                                                 isolated_home: Path) -> None:
    db = queue_env["DATABASE_URL"]
    key = create_user_key(queue_env)
    with serve(isolated_home / "a", queue_env, api_key=key) as api_a, \
         serve(isolated_home / "b", queue_env, api_key=key) as api_b, \
         work(isolated_home / "w", queue_env):
        ids = [api_a.client.post("/api/v1/roadmaps", json={"goal": GOAL}).json()["task_id"] for _ in range(5)]
        for task_id in ids:
            until(lambda t=task_id: status(api_a.client, t) == "human_review_pending", 30, "review")
            codes: list[int] = []
            barrier = threading.Barrier(2)

            def decide(client: httpx.Client, body: dict[str, Any], t: str = task_id,
                       barrier: threading.Barrier = barrier, codes: list[int] = codes) -> None:
                barrier.wait()
                codes.append(client.post(f"/api/v1/tasks/{t}/review", json=body).status_code)

            threads = [threading.Thread(target=decide, args=(api_a.client, {"approved": True})),
                       threading.Thread(target=decide, args=(api_b.client, {"approved": False,
                                                                            "feedback": "skip Docker"}))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert sorted(codes) == [202, 409], codes
        for task_id in ids:
            until(lambda t=task_id: status(api_a.client, t) in {"completed", "human_review_pending"}, 30, "resume")
            evs = events(db, task_id)
            decisions = [e for e in evs if e.get("step") == "human_review" and e.get("status") == "completed"]
            assert len(decisions) == 1  # exactly one resume


def test_same_idempotency_key_returns_the_same_task_across_api_processes(queue_env: dict[str, str],
                                                                         isolated_home: Path) -> None:
    key = create_user_key(queue_env)
    with serve(isolated_home / "a", queue_env, api_key=key) as api_a, \
         serve(isolated_home / "b", queue_env, api_key=key) as api_b:
        headers = {"Idempotency-Key": "order-42"}
        first = api_a.client.post("/api/v1/roadmaps", json={"goal": GOAL}, headers=headers).json()
        second = api_b.client.post("/api/v1/roadmaps", json={"goal": GOAL}, headers=headers).json()
        assert first["task_id"] == second["task_id"]
        assert api_a.client.get("/api/v1/tasks").json()["total"] == 1


def test_cancel_stops_a_running_task_while_redis_is_down(queue_env: dict[str, str], isolated_home: Path,
                                                        dedicated_redis: RedisServer) -> None:
    db = queue_env["DATABASE_URL"]
    env = {**queue_env, "REDIS_URL": dedicated_redis.url, "ROADMAP_AGENT_STEP_DELAY": "1.0"}
    key = create_user_key(env)
    with serve(isolated_home / "api", env, api_key=key) as api, work(isolated_home / "w", env):
        task_id = api.client.post("/api/v1/roadmaps", json={"goal": GOAL, "auto_approve": True}).json()["task_id"]
        until(lambda: steps_started(events(db, task_id), "intent_analysis"), 20, "the run to start")
        dedicated_redis.kill()
        for _ in range(2):  # idempotent
            assert api.client.post(f"/api/v1/tasks/{task_id}/cancel").status_code == 202
        until(lambda: status(api.client, task_id) == "cancelled", 10, "the cancel at the next step boundary")
        evs = events(db, task_id)
        assert [e["type"] for e in evs].count("cancelled") == 1
        assert "finalize" not in {e.get("step") for e in evs}


def test_failing_step_ends_failed_with_a_reason_and_retry_continues_from_the_checkpoint(
        queue_env: dict[str, str], isolated_home: Path, s3_server: Any) -> None:
    db = queue_env["DATABASE_URL"]
    bucket = f"retry-{uuid.uuid4().hex[:8]}"
    s3_server.create_bucket(bucket)
    good = {**queue_env, "S3_ENDPOINT_URL": s3_server.endpoint_url, "S3_BUCKET": bucket,
            "AWS_ACCESS_KEY_ID": s3_server.access_key, "AWS_SECRET_ACCESS_KEY": s3_server.secret_key,
            "ROADMAP_AGENT_WORKER_MAX_ATTEMPTS": "2", "ROADMAP_AGENT_WORKER_MAX_BACKOFF": "0.5"}
    broken = {**good, "S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}  # nothing listens: every export fails
    key = create_user_key(good)
    with serve(isolated_home / "api", good, api_key=key) as api:
        with work(isolated_home / "broken", broken):
            task_id = api.client.post("/api/v1/roadmaps", json={"goal": GOAL, "auto_approve": True}).json()["task_id"]
            until(lambda: status(api.client, task_id) == "failed", 60, "the task to fail")
        error = api.client.get(f"/api/v1/tasks/{task_id}").json()["error"]
        assert "gave up after 2 attempts" in error and "127.0.0.1" in error, error
        with work(isolated_home / "fixed", good):
            assert api.client.post(f"/api/v1/tasks/{task_id}/retry").status_code == 202
            until(lambda: status(api.client, task_id) == "completed", 30, "completion after retry")
        evs = events(db, task_id)
        assert steps_started(evs, "intent_analysis") == 1  # the finished steps were not run again
        assert steps_started(evs, "finalize") == 3  # two failed attempts, then the retry
