"""What the server-mode bench scripts share: throwaway servers, the service's own processes, figures.

* ``throwaway_servers``: PostgreSQL (and Redis if asked) from scripts/devservices.py under a fresh temporary
  folder, stopped by their PIDs and removed at the end.
* ``Processes``: ``roadmap-agent serve`` / ``worker`` processes started the way a user starts them, with exactly
  the environment given (inherited service variables are dropped); each is remembered by its ``Popen`` and
  stopped by its PID (SIGTERM, then SIGKILL) when the block ends, or killed with SIGKILL on purpose.
* ``create_keys``: users and API keys made straight through the package's ``UserStore`` (fast, many at once).
* ``percentile`` / ``median``: the figures every table prints.

Imported by the scripts next to it (``python bench/x.py`` puts ``bench/`` on ``sys.path``).
"""

from __future__ import annotations

import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg

from roadmap_agent.infra.database import Database, migrate
from roadmap_agent.settings import DatabaseSettings
from roadmap_agent.store.users import UserStore

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from devservices import (  # scripts/ is not a package: on sys.path above
    PostgresServer,
    RedisServer,
    descendants,
    free_port,
)

CLI = str(Path(sys.executable).parent / "roadmap-agent")
HOST = "127.0.0.1"
# Inherited variables that would configure the service: dropped so each process runs on exactly its own env.
CONFIG_PREFIXES = ("DATABASE_URL", "DB_", "POSTGRES_", "REDIS_", "S3_", "AWS_", "LLM_", "ROADMAP_AGENT_", "LOG_")
START_TIMEOUT = 60.0
GOALS = [
    "I want to become a backend developer in 3 months, I know some Python, 10 hours a week",
    "我想三个月内学会 Python 后端开发，每周 10 小时",
    "learn machine learning in 6 months, 8 hours per week",
    "become a frontend developer, complete beginner, 2 hours a day",
    "我想半年内成为数据分析师，每周十小时",
    "DevOps engineer in 4 months, I know Linux and git",
]


def clean_environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(CONFIG_PREFIXES)}


@dataclass
class Servers:
    root: Path
    postgres: PostgresServer
    redis: RedisServer | None
    database_url: str  # a fresh database on ``postgres`` (SQLAlchemy form, postgresql+psycopg://)

    @property
    def libpq_url(self) -> str:
        return self.database_url.replace("postgresql+psycopg://", "postgresql://", 1)

    def base_env(self, **extra: str) -> dict[str, str]:
        """The service's environment for this bench: server mode on these servers, quiet JSON logs."""
        env = {**clean_environ(), "DATABASE_URL": self.database_url, "ROADMAP_AGENT_HOME": str(self.root / "home"),
               "LOG_LEVEL": "WARNING", "LOG_FORMAT": "json"}
        if self.redis is not None:
            env["REDIS_URL"] = self.redis.url
        return {**env, **extra}


@contextmanager
def throwaway_servers(name: str, *, redis: bool = False) -> Iterator[Servers]:
    """PostgreSQL (+ Redis) on free ports under /tmp/roadmap-bench-<name>-*, stopped by PID and removed after."""
    root = Path(tempfile.gettempdir()) / f"roadmap-bench-{name}-{uuid.uuid4().hex[:8]}"
    postgres = PostgresServer(root / "postgres")
    redis_server = RedisServer(root / "redis") if redis else None
    try:
        postgres.start()
        if redis_server is not None:
            redis_server.start()
        database = postgres.create_database(f"bench_{uuid.uuid4().hex[:8]}")
        yield Servers(root, postgres, redis_server, database)
    finally:
        if redis_server is not None:
            redis_server.stop()
        postgres.stop()
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class Proc:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    port: int | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return f"(no log at {self.log_path})"

    def kill9(self) -> float:
        """SIGKILL this process (a crash); the wall time it was sent at."""
        os.kill(self.pid, signal.SIGKILL)
        killed_at = time.time()
        self.process.wait(timeout=10)
        return killed_at

    def stop(self, grace: float = 15.0) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds; fine if it already exited."""
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


@dataclass
class Processes:
    """Every process this bench started; ``close()`` stops the ones still running, by PID."""

    log_dir: Path
    started: list[Proc] = field(default_factory=list)

    def api(self, env: dict[str, str], name: str = "api", argv: Sequence[str] | None = None,
            args: Sequence[str] = ()) -> Proc:
        """``roadmap-agent serve`` on a free port (or ``argv`` + serve arguments, then ``args``, e.g.
        ``--workers 2``); returns once /health/live answers."""
        port = free_port()
        command = [*(argv or [CLI]), "serve", "--host", HOST, "--port", str(port), *args]
        proc = self._spawn(name, command, env, port)
        deadline = time.monotonic() + START_TIMEOUT
        with httpx.Client(base_url=proc.url, timeout=2) as client:
            while True:
                try:
                    if client.get("/health/live").status_code == 200:
                        if "--workers" in args:  # the first process answers; the others may still be starting
                            _settle(proc.pid, deadline)
                        return proc
                except httpx.TransportError:
                    pass
                if proc.process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"{name} (pid {proc.pid}) did not come up on port {port}:\n{proc.tail()}")
                time.sleep(0.1)

    def worker(self, env: dict[str, str], name: str = "worker", concurrency: int = 4) -> Proc:
        """``roadmap-agent worker`` (not waited for: see ``wait_workers``)."""
        return self._spawn(name, [CLI, "worker", "--concurrency", str(concurrency)], env)

    def _spawn(self, name: str, command: list[str], env: dict[str, str], port: int | None = None) -> Proc:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}-{len(self.started)}.log"
        with log_path.open("ab") as log:
            process = subprocess.Popen(command, env=env, cwd=self.log_dir, stdout=log, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL)
        proc = Proc(name, process, log_path, port)
        self.started.append(proc)
        return proc

    def close(self) -> None:
        for proc in reversed(self.started):
            proc.stop()


@contextmanager
def processes(log_dir: Path) -> Iterator[Processes]:
    group = Processes(log_dir)
    try:
        yield group
    finally:
        group.close()


def registered_workers(libpq_url: str) -> int:
    """The highest procrastinate worker id so far (0 before any): a worker registers when its loop starts."""
    with psycopg.connect(libpq_url, connect_timeout=5) as conn:
        exists = conn.execute("SELECT to_regclass('procrastinate_workers') IS NOT NULL").fetchone()
        if not exists or not exists[0]:
            return 0
        row = conn.execute("SELECT coalesce(max(id), 0) FROM procrastinate_workers").fetchone()
    return int(row[0]) if row else 0


def wait_workers(libpq_url: str, after_id: int, count: int, procs: Sequence[Proc]) -> None:
    """Until ``count`` workers registered past ``after_id`` (each is then taking jobs)."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        with psycopg.connect(libpq_url, connect_timeout=5) as conn:
            row = conn.execute("SELECT count(*) FROM procrastinate_workers WHERE id > %s", (after_id,)).fetchone()
        if row and row[0] >= count:
            return
        dead = [p for p in procs if p.process.poll() is not None]
        if dead or time.monotonic() > deadline:
            culprit = dead[0] if dead else procs[-1]
            raise SystemExit(f"worker {culprit.name} (pid {culprit.pid}) did not start:\n{culprit.tail()}")
        time.sleep(0.05)


async def create_keys(database_url: str, count: int, name: str = "bench") -> list[str]:
    """``count`` users with one API key each (the schema is migrated first, as the service would)."""
    async with Database.from_settings(database_url, DatabaseSettings()) as database:
        await migrate(database)
        store = UserStore(database)
        return [(await store.create_user(f"{name}-{number}"))[1] for number in range(count)]


def _settle(pid: int, deadline: float, busy: float = 0.1) -> None:
    """Until ``pid`` and the processes below it use under ``busy`` of a core (every API process has started)."""
    before = tree_cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = tree_cpu_seconds(pid)
        if now - before < busy:
            return
        before = now


def code_env(env: dict[str, str], src: str | None) -> dict[str, str]:
    """``env`` running the package from another source tree (``--baseline-src``: e.g. a ``git worktree`` of an
    older commit, its ``src/`` first on PYTHONPATH), or ``env`` itself."""
    if src is None:
        return env
    return {**env, "PYTHONPATH": str(Path(src).resolve() / "src")}


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) ``pid`` has used so far, its reaped children included; 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    # After the ")": state is fields[0], so utime, stime, cutime, cstime (stat fields 14-17) are fields[11:15].
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of ``pid`` and everything below it, live or already reaped (PostgreSQL's backends)."""
    return cpu_seconds(pid) + sum(cpu_seconds(child) for child in descendants(pid))


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest rank: the smallest value with at least ``fraction`` of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)
