"""scripts/devservices.py against real servers: round trips, a hang (pause), a crash (kill), a clean stop, the CLI.

The destructive tests run on servers of their own (module scope), never on the shared session fixtures.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
import devservices
import devservices_lib.base
import devservices_lib.s3
import psycopg
import pytest
import redis
from botocore.config import Config
from redis.backoff import NoBackoff
from redis.retry import Retry

pytestmark = pytest.mark.integration

SCRIPT = Path(devservices.__file__).resolve()
HANG_TIMEOUT = 1.0  # client-side deadline used against a paused server
HANG_BOUND = 5.0  # a request to a paused server must give up well within this


@pytest.fixture(scope="module")
def pg(dev_services_installed: None) -> Iterator[devservices.PostgresServer]:
    root = Path(tempfile.mkdtemp(prefix="roadmap-agent-pg-test-", dir="/tmp"))
    server = devservices.PostgresServer(root)
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def redis_srv(dev_services_installed: None, tmp_path_factory: pytest.TempPathFactory,
              ) -> Iterator[devservices.RedisServer]:
    server = devservices.RedisServer(tmp_path_factory.mktemp("redis-test"), password=secrets.token_urlsafe(12))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def s3(dev_services_installed: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[devservices.S3Server]:
    server = devservices.S3Server(tmp_path_factory.mktemp("s3-test"), buckets=("test-bucket",))
    yield server
    server.stop()


def _pg_connect(server: devservices.PostgresServer, password: str | None = None,
                connect_timeout: int = 3) -> psycopg.Connection[Any]:
    url = server.url(driver="postgresql")
    if password is not None:
        url = url.replace(f":{server.password}@", f":{password}@")
    return psycopg.connect(url, connect_timeout=connect_timeout, autocommit=True)


def _redis(server: devservices.RedisServer, timeout: float = 2.0, url: str | None = None) -> redis.Redis:
    return redis.Redis.from_url(url or server.url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                retry=Retry(NoBackoff(), 0))


def _s3_client(server: devservices.S3Server, secret: str | None = None, timeout: float = 5.0) -> Any:
    config = Config(connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 1},
                    s3={"addressing_style": "path"})
    return boto3.client("s3", endpoint_url=server.endpoint_url, aws_access_key_id=server.access_key,
                        aws_secret_access_key=secret or server.secret_key, region_name=server.region, config=config)


def _elapsed(started: float) -> float:
    return time.monotonic() - started


def test_free_port_can_be_bound() -> None:
    port = devservices.free_port()
    assert 1024 < port < 65536
    assert devservices._port_is_free(port)


# --- PostgreSQL ----------------------------------------------------------------------------------------------

def test_postgres_serves_the_roadmap_role_with_password_auth(pg: devservices.PostgresServer) -> None:
    pg.start()
    assert pg.started_in is not None and pg.started_in < 30
    assert pg.psql("select 1").strip() == "1"
    assert pg.url() == f"postgresql+psycopg://roadmap:roadmap-dev@127.0.0.1:{pg.port}/roadmap_agent"
    with _pg_connect(pg) as conn:
        assert conn.execute("select current_user, current_database()").fetchone() == ("roadmap", "roadmap_agent")
        assert conn.execute("show max_connections").fetchone() == ("200",)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        _pg_connect(pg, password=secrets.token_hex(8))


def test_postgres_create_database_returns_a_url_owned_by_roadmap(pg: devservices.PostgresServer) -> None:
    pg.start()
    url = pg.create_database("devservices_extra")
    assert url == pg.url("devservices_extra")
    with psycopg.connect(pg.url("devservices_extra", driver="postgresql"), connect_timeout=3) as conn:
        conn.execute("create table t (x int)")
        owner = conn.execute("select pg_get_userbyid(datdba) from pg_database where datname = current_database()")
        assert owner.fetchone() == ("roadmap",)
    with pytest.raises(RuntimeError, match="already exists"):
        pg.create_database("devservices_extra")


def test_postgres_pause_makes_requests_time_out_and_resume_restores(pg: devservices.PostgresServer) -> None:
    pg.start()
    with _pg_connect(pg) as before:
        pg.pause()
        try:
            started = time.monotonic()
            with pytest.raises(psycopg.OperationalError):
                _pg_connect(pg, connect_timeout=int(HANG_TIMEOUT))
            assert _elapsed(started) < HANG_BOUND
        finally:
            pg.resume()
        assert before.execute("select 1").fetchone() == (1,)  # the connection from before the hang lives on
    with _pg_connect(pg) as after:
        assert after.execute("select 2").fetchone() == (2,)


def test_postgres_kill_then_start_recovers_committed_rows(pg: devservices.PostgresServer) -> None:
    pg.start()
    with _pg_connect(pg) as conn:
        conn.execute("create table if not exists survivors (name text)")
        conn.execute("insert into survivors values ('kept')")
    crashed = pg.pid
    pg.kill()
    assert not devservices.alive(crashed)
    with pytest.raises(psycopg.OperationalError):
        _pg_connect(pg, connect_timeout=1)
    pg.start()
    assert pg.pid != crashed
    with _pg_connect(pg) as conn:
        assert conn.execute("select name from survivors").fetchall() == [("kept",)]


def test_postgres_stop_leaves_no_process(pg: devservices.PostgresServer) -> None:
    pg.start()
    postmaster = pg.pid
    assert postmaster is not None
    backends = devservices.descendants(postmaster)
    assert backends  # checkpointer, walwriter ...
    pg.stop()
    assert pg.pid is None
    assert not devservices.alive(postmaster)
    assert not any(devservices.alive(pid) for pid in backends)
    pg.stop()  # stopping a stopped server is fine


# --- Redis ---------------------------------------------------------------------------------------------------

def test_redis_round_trip_with_password(redis_srv: devservices.RedisServer) -> None:
    redis_srv.start()
    assert redis_srv.url == f"redis://:{redis_srv.password}@127.0.0.1:{redis_srv.port}/0"
    with _redis(redis_srv) as client:
        assert client.ping()
        client.set("greeting", "hello")
        assert client.get("greeting") == b"hello"
        assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "allkeys-lru"}
    with _redis(redis_srv, url=f"redis://127.0.0.1:{redis_srv.port}/0") as anonymous, \
            pytest.raises(redis.AuthenticationError):
        anonymous.get("greeting")


def test_redis_pause_makes_requests_time_out_and_resume_restores(redis_srv: devservices.RedisServer) -> None:
    redis_srv.start()
    with _redis(redis_srv, timeout=HANG_TIMEOUT) as client:
        assert client.ping()
        redis_srv.pause()
        try:
            started = time.monotonic()
            with pytest.raises(redis.TimeoutError):
                client.get("greeting")
            assert _elapsed(started) < HANG_BOUND
        finally:
            redis_srv.resume()
    with _redis(redis_srv) as client:
        assert client.ping()


def test_redis_kill_then_start_keeps_keys_from_the_append_only_file(redis_srv: devservices.RedisServer) -> None:
    redis_srv.start()
    with _redis(redis_srv) as client:
        client.set("durable", "yes")
    crashed = redis_srv.pid
    redis_srv.kill()
    assert not devservices.alive(crashed)
    assert not redis_srv.ping(timeout=0.5)
    redis_srv.start()
    with _redis(redis_srv) as client:
        assert client.get("durable") == b"yes"


def test_redis_stop_leaves_no_process(redis_srv: devservices.RedisServer) -> None:
    redis_srv.start()
    pid = redis_srv.pid
    redis_srv.stop()
    assert redis_srv.pid is None
    assert not devservices.alive(pid)
    redis_srv.stop()


# --- S3 (SeaweedFS) ------------------------------------------------------------------------------------------

def test_s3_put_get_and_credentials_are_checked(s3: devservices.S3Server) -> None:
    s3.start()
    client = _s3_client(s3)
    try:
        assert "test-bucket" in [bucket["Name"] for bucket in client.list_buckets()["Buckets"]]
        client.put_object(Bucket="test-bucket", Key="roadmaps/a.json", Body=b'{"ok": true}')
        assert client.get_object(Bucket="test-bucket", Key="roadmaps/a.json")["Body"].read() == b'{"ok": true}'
        s3.create_bucket("second-bucket")
        s3.create_bucket("second-bucket")  # idempotent
        client.head_bucket(Bucket="second-bucket")
    finally:
        client.close()
    intruder = _s3_client(s3, secret=secrets.token_hex(8))
    try:
        with pytest.raises(botocore.exceptions.ClientError, match=r"SignatureDoesNotMatch|AccessDenied"):
            intruder.list_buckets()
    finally:
        intruder.close()


def test_s3_pause_makes_requests_time_out_and_resume_restores(s3: devservices.S3Server) -> None:
    s3.start()
    client = _s3_client(s3, timeout=HANG_TIMEOUT)
    try:
        client.put_object(Bucket="test-bucket", Key="hang", Body=b"x")
        s3.pause()
        try:
            started = time.monotonic()
            with pytest.raises((botocore.exceptions.ReadTimeoutError, botocore.exceptions.ConnectTimeoutError)):
                client.get_object(Bucket="test-bucket", Key="hang")
            assert _elapsed(started) < HANG_BOUND
        finally:
            s3.resume()
        assert client.get_object(Bucket="test-bucket", Key="hang")["Body"].read() == b"x"
    finally:
        client.close()


def test_s3_kill_then_start_keeps_objects(s3: devservices.S3Server) -> None:
    s3.start()
    client = _s3_client(s3)
    try:
        client.put_object(Bucket="test-bucket", Key="durable.md", Body=b"# kept")
    finally:
        client.close()
    crashed = s3.pid
    s3.kill()
    assert not devservices.alive(crashed)
    s3.start()
    client = _s3_client(s3)
    try:
        assert client.get_object(Bucket="test-bucket", Key="durable.md")["Body"].read() == b"# kept"
    finally:
        client.close()


def test_s3_stop_leaves_no_process(s3: devservices.S3Server) -> None:
    s3.start()
    pid = s3.pid
    s3.stop()
    assert s3.pid is None
    assert not devservices.alive(pid)
    s3.stop()


# --- the session fixtures other tests use ----------------------------------------------------------------------

def test_session_servers_answer(pg_server: devservices.PostgresServer, redis_server: devservices.RedisServer,
                                s3_server: devservices.S3Server) -> None:
    with _pg_connect(pg_server) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
    with _redis(redis_server) as client:
        assert client.ping()
    client = _s3_client(s3_server)
    try:
        client.head_bucket(Bucket=devservices.BUCKET)
    finally:
        client.close()


# --- the CLI ----------------------------------------------------------------------------------------------------

def _cli(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, devservices.SERVICES_DIR_VARIABLE: str(directory)}
    return subprocess.run([sys.executable, str(SCRIPT), *args], env=env, capture_output=True, text=True,
                          timeout=90, check=False)


def _exports(stdout: str) -> dict[str, str]:
    """``export NAME=value`` lines (shell-quoted) as a dict."""
    words = (shlex.split(line) for line in stdout.splitlines() if line.startswith("export "))
    return dict(word[1].split("=", 1) for word in words)


def test_cli_up_status_env_down(dev_services_installed: None) -> None:
    parent = Path(tempfile.mkdtemp(prefix="roadmap-agent-services-test-", dir="/tmp"))
    parent.chmod(0o711)  # mkdtemp makes it private; PostgreSQL runs as the postgres user
    directory = parent / "services"  # `up` creates it
    try:
        up = _cli(directory, "up")
        assert up.returncode == 0, up.stderr
        variables = _exports(up.stdout)
        assert set(variables) == {"DATABASE_URL", "REDIS_URL", "S3_ENDPOINT_URL", "S3_BUCKET", "S3_PREFIX",
                                  "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"}
        assert (directory / "env").read_text() == up.stdout
        assert oct((directory / "state.json").stat().st_mode & 0o777) == "0o600"
        libpq_url = variables["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(libpq_url, connect_timeout=3) as conn:
            assert conn.execute("select current_user").fetchone() == ("roadmap",)
        with redis.Redis.from_url(variables["REDIS_URL"], socket_timeout=2) as client:
            assert client.ping()

        again = _cli(directory, "up")
        assert again.returncode == 0, again.stderr
        assert again.stdout == up.stdout
        assert again.stderr.count("already running") == 3
        status = _cli(directory, "status")
        assert status.returncode == 0, status.stdout
        assert status.stdout.count("answering") == 3
        assert _cli(directory, "env").stdout == up.stdout

        pids = [entry["pid"] for entry in json.loads((directory / "state.json").read_text()).values()]
        down = _cli(directory, "down")
        assert down.returncode == 0, down.stderr
        assert not any(devservices.alive(pid) for pid in pids)
        assert _cli(directory, "status").returncode == 3
    finally:
        _cli(directory, "down")
        shutil.rmtree(parent, ignore_errors=True)


def test_s3_start_survives_a_cmdline_that_is_not_set_yet(dev_services_installed: None, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Right after exec, /proc/<pid>/cmdline can read empty for a moment (seen: 272 of 300 reads right after
    Popen on a loaded machine). A weed we started must be judged by its Popen, not by that file: alive() is made
    to see no "weed" in any command line, the way it would inside that window."""
    real_alive = devservices.alive
    for module in (devservices_lib.base, devservices_lib.s3):  # where _Server and S3Server look alive() up
        monkeypatch.setattr(module, "alive", lambda pid, name=None: real_alive(pid) if name is None else False)
    server = devservices.S3Server(tmp_path / "s3", buckets=("race-bucket",))
    try:
        server.start()
        assert server.is_running() and server.pid is not None
        pid = server.pid
    finally:
        server.kill()
    assert not real_alive(pid), "kill() left the server running"
