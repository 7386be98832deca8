"""``roadmap-agent check`` as a user runs it, against real PostgreSQL, Redis and S3 (scripts/devservices.py).

Faults that would disturb the shared servers (a hung server) use dedicated instances; every case also checks
that no password or key ever reaches the terminal.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from serving import work

pytestmark = pytest.mark.integration
devservices: Any = importlib.import_module("devservices")  # scripts/ is put on sys.path by conftest.py

CLI = str(Path(sys.executable).parent / "roadmap-agent")
SERVER_PREFIXES = ("DATABASE_", "DB_", "POSTGRES_", "REDIS_", "S3_", "AWS_", "LLM_", "ROADMAP_AGENT_")
LLM_KEY = "sk-test-llm-key-0123456789"


def _check(home: Path, *args: str, **variables: str) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run the real CLI with only ``variables`` configured; (the finished process, seconds it took)."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(SERVER_PREFIXES)}
    env.update(ROADMAP_AGENT_HOME=str(home), LOG_FORMAT="json", **variables)
    started = time.monotonic()
    done = subprocess.run([CLI, "check", *args], env=env, capture_output=True, text=True, timeout=60,
                          check=False)
    return done, time.monotonic() - started


def _json(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(done.stdout)  # stdout holds the document and nothing else
    return document


def _dependency(document: dict[str, Any], name: str) -> dict[str, Any]:
    return next(d for d in document["dependencies"] if d["name"] == name)


def _assert_no_secret(done: subprocess.CompletedProcess[str], *secrets: str) -> None:
    output = done.stdout + done.stderr
    for secret in secrets:
        assert secret not in output, f"a secret leaked into the output: {output}"


class _ModelsHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.headers.get("Authorization") != f"Bearer {LLM_KEY}":
            self._answer(401, {"error": {"message": "Incorrect API key provided"}})
        elif self.path == "/v1/models":
            self._answer(200, {"object": "list", "data": [{"id": "planner-small"}, {"id": "planner-large"}]})
        else:
            self._answer(404, {"error": "not found"})

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(body).encode())

    def log_message(self, format: str, *args: Any) -> None:  # quiet: no access log on stderr
        pass


@pytest.fixture
def llm_url() -> Iterator[str]:
    """A tiny OpenAI-compatible ``GET /v1/models`` that wants the bearer key."""
    server = HTTPServer(("127.0.0.1", 0), _ModelsHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


@pytest.fixture
def server_env(pg_server: Any, redis_server: Any, s3_server: Any) -> dict[str, str]:
    suffix = uuid.uuid4().hex[:10]
    bucket = f"check-{suffix}"
    s3_server.create_bucket(bucket)
    return {"DATABASE_URL": pg_server.create_database(f"check_{suffix}"), "REDIS_URL": redis_server.url,
            "S3_ENDPOINT_URL": s3_server.endpoint_url, "S3_BUCKET": bucket,
            "AWS_ACCESS_KEY_ID": s3_server.access_key, "AWS_SECRET_ACCESS_KEY": s3_server.secret_key,
            "AWS_DEFAULT_REGION": s3_server.region}


@pytest.fixture
def private_root() -> Iterator[Path]:
    """A folder the postgres user can reach (pytest's tmp_path is private to root); the server chowns it."""
    root = Path(tempfile.mkdtemp(prefix="roadmap-agent-check-", dir="/tmp"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_everything_reachable_exits_0_with_versions(isolated_home: Path, server_env: dict[str, str],
                                                    pg_server: Any, s3_server: Any, llm_url: str) -> None:
    variables = {**server_env, "LLM_BASE_URL": llm_url, "LLM_API_KEY": LLM_KEY, "LLM_MODEL": "planner-small"}
    done, _ = _check(isolated_home, "--json", **variables)
    document = _json(done)
    assert done.returncode == 0, done.stdout + done.stderr
    assert document["ok"] is True and document["mode"] == "server"
    names = [d["name"] for d in document["dependencies"]]
    assert names == ["database", "checkpointer", "workers", "redis", "storage", "llm"]
    assert all(d["status"] == "ok" for d in document["dependencies"] if d["name"] != "workers"), document
    # No worker runs in this test (and the database is not migrated yet): optional, so still exit 0.
    assert _dependency(document, "workers")["status"] == "degraded"
    assert _dependency(document, "database")["version"].startswith("PostgreSQL 15")
    assert _dependency(document, "redis")["version"].startswith("Redis ")
    assert [s["name"] for s in _dependency(document, "database")["steps"]] == ["dns", "tcp", "login", "pool",
                                                                                 "schema"]
    assert all(s["latency_ms"] is not None for s in _dependency(document, "storage")["steps"])
    assert "***" in _dependency(document, "database")["target"]
    _assert_no_secret(done, pg_server.password, s3_server.secret_key, LLM_KEY)

    pretty, _ = _check(isolated_home, **variables)
    assert pretty.returncode == 0
    assert "✓ database (required)" in pretty.stdout and "SELECT version()" in pretty.stdout
    _assert_no_secret(pretty, pg_server.password, s3_server.secret_key, LLM_KEY)


def test_workers_are_reported_absent_then_alive(isolated_home: Path, server_env: dict[str, str]) -> None:
    migrated = subprocess.run([CLI, "migrate"], env={**os.environ, **server_env}, capture_output=True, timeout=60,
                              check=False)
    assert migrated.returncode == 0, migrated.stderr
    done, _ = _check(isolated_home, "--json", **server_env)
    workers = _dependency(_json(done), "workers")
    assert done.returncode == 0 and workers["status"] == "degraded"
    assert "no worker is running" in workers["diagnosis"] and "roadmap-agent worker" in workers["hint"]
    with work(isolated_home / "w", server_env) as worker:
        def alive() -> dict[str, Any] | None:
            report = _dependency(_json(_check(isolated_home, "--json", **server_env)[0]), "workers")
            return report if report["status"] == "ok" else None

        deadline = time.monotonic() + 30
        while (report := alive()) is None and worker.process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        assert report is not None, worker.log()[-2000:]
        assert "1 worker(s) heartbeating" in report["steps"][2]["detail"]
    strict, _ = _check(isolated_home, "--json", "--strict", **server_env)  # stopped: not ok any more under --strict
    assert strict.returncode == 1


def test_wrong_postgres_password_exits_1_and_says_so(isolated_home: Path, server_env: dict[str, str],
                                                     pg_server: Any) -> None:
    wrong = "Wrong-Pa55-" + uuid.uuid4().hex[:8]
    url = server_env["DATABASE_URL"].replace(f":{pg_server.password}@", f":{wrong}@")
    done, _ = _check(isolated_home, "--json", **{**server_env, "DATABASE_URL": url})
    pretty, _ = _check(isolated_home, **{**server_env, "DATABASE_URL": url})
    for run in (done, pretty):
        assert run.returncode == 1
        _assert_no_secret(run, wrong, pg_server.password)
    assert "diagnosis: wrong password" in pretty.stdout
    database = _dependency(_json(done), "database")
    assert database["status"] == "down"
    assert "password" in database["diagnosis"]
    assert "DATABASE_URL" in database["hint"]
    assert [s["ok"] for s in database["steps"]] == [True, True, False]  # reached the server, refused the login


def test_wrong_redis_password_is_down_but_optional_unless_strict(isolated_home: Path, tmp_path: Path) -> None:
    password = "Redis-Pa55-" + uuid.uuid4().hex[:8]
    wrong = "Wrong-Redis-" + uuid.uuid4().hex[:8]
    server = devservices.RedisServer(tmp_path / "redis", password=password)
    server.start()
    try:
        url = server.url.replace(password, wrong)
        done, _ = _check(isolated_home, "--json", REDIS_URL=url)
        strict, _ = _check(isolated_home, "--json", "--strict", REDIS_URL=url)
        right, _ = _check(isolated_home, "--json", REDIS_URL=server.url)
    finally:
        server.stop()
    redis = _dependency(_json(done), "redis")
    assert done.returncode == 0 and _json(done)["status"] == "degraded"
    assert redis["status"] == "down" and not redis["required"]
    assert "password" in redis["diagnosis"]
    assert "REDIS_PASSWORD" in redis["hint"]
    assert strict.returncode == 1
    assert right.returncode == 0 and _dependency(_json(right), "redis")["status"] == "ok"
    for run in (done, strict, right):
        _assert_no_secret(run, password, wrong)


def test_closed_port_is_refused_quickly(isolated_home: Path, pg_server: Any) -> None:
    url = pg_server.url().replace(f":{pg_server.port}/", f":{devservices.free_port()}/")
    done, elapsed = _check(isolated_home, "--json", DATABASE_URL=url)
    database = _dependency(_json(done), "database")
    assert done.returncode == 1
    assert "refused" in database["diagnosis"] and "port closed" in database["diagnosis"]
    assert "Start PostgreSQL" in database["hint"]
    assert [s["name"] for s in database["steps"]] == ["dns", "tcp"]
    assert _dependency(_json(done), "checkpointer")["status"] == "down"
    assert elapsed < 10
    _assert_no_secret(done, pg_server.password)


@pytest.fixture
def firewalled_namespace() -> Iterator[str]:
    """A network namespace whose loopback silently drops TCP 5999, like a security group without the rule."""
    if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("iptables"):
        pytest.skip("needs root, ip and iptables")
    name = f"check-{uuid.uuid4().hex[:8]}"
    commands = [["ip", "netns", "add", name], ["ip", "-n", name, "link", "set", "lo", "up"],
                ["ip", "netns", "exec", name, "iptables", "-A", "INPUT", "-p", "tcp", "--dport", "5999", "-j", "DROP"]]
    try:
        for command in commands:
            if subprocess.run(command, capture_output=True, check=False, timeout=10).returncode != 0:
                pytest.skip(f"cannot set up a network namespace here ({' '.join(command[:3])} failed)")
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False, timeout=10)


def test_a_firewalled_port_is_told_apart_from_a_closed_one(isolated_home: Path, firewalled_namespace: str) -> None:
    secret = "Fw-Pa55-" + uuid.uuid4().hex[:8]
    env = {name: value for name, value in os.environ.items() if not name.startswith(SERVER_PREFIXES)}
    env.update(ROADMAP_AGENT_HOME=str(isolated_home), DATABASE_URL=f"postgresql://app:{secret}@127.0.0.1:5999/app")
    started = time.monotonic()
    done = subprocess.run(["ip", "netns", "exec", firewalled_namespace, CLI, "check", "--json"], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    elapsed = time.monotonic() - started
    database = _dependency(_json(done), "database")
    assert done.returncode == 1
    assert "port is filtered" in database["diagnosis"]
    assert "security group" in database["hint"]
    assert [s["ok"] for s in database["steps"]] == [True, False]
    assert elapsed < 15
    _assert_no_secret(done, secret)


def test_hung_servers_are_diagnosed_within_15_seconds(isolated_home: Path, private_root: Path,
                                                      tmp_path: Path) -> None:
    postgres = devservices.PostgresServer(private_root, password="Hung-Pa55-" + uuid.uuid4().hex[:8])
    redis = devservices.RedisServer(tmp_path / "redis", password="Hung-Redis-" + uuid.uuid4().hex[:8])
    postgres.start()
    redis.start()
    try:
        postgres.pause()
        redis.pause()
        done, elapsed = _check(isolated_home, "--json", DATABASE_URL=postgres.url(),
                               REDIS_URL=redis.url)
    finally:
        for server in (postgres, redis):
            server.resume()
            server.stop()
    document = _json(done)
    assert done.returncode == 1
    assert elapsed < 15
    for name in ("database", "redis"):
        dependency = _dependency(document, name)
        assert "accepted the connection but did not answer within" in dependency["diagnosis"], dependency
        assert [s["ok"] for s in dependency["steps"]] == [True, True, False]
    _assert_no_secret(done, postgres.password, redis.password or "")


def test_embedded_mode_with_nothing_configured_exits_0(isolated_home: Path) -> None:
    done, _ = _check(isolated_home, "--json")
    document = _json(done)
    assert done.returncode == 0, done.stdout + done.stderr
    assert document["mode"] == "embedded" and document["ok"] is True
    assert [d["name"] for d in document["dependencies"]] == ["database", "checkpointer", "storage"]
    assert _dependency(document, "database")["version"].startswith("SQLite")
    pretty, _ = _check(isolated_home)
    assert pretty.returncode == 0 and "embedded mode" in pretty.stdout
