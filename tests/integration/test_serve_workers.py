"""`roadmap-agent serve --workers N`: several API processes on one port, stopped together, none left behind.

Which process answered a request is read from /proc: the server side of each kept-alive client connection is a
socket that one of the worker processes holds open.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from devservices import descendants
from serving import CLI, create_user_key, serve

pytestmark = pytest.mark.integration

GOAL = "learn SQL in 4 weeks, 5 hours a week"


def _workers(parent: int, count: int, timeout: float = 60) -> list[int]:
    """The API processes below ``parent`` (multiprocessing's spawned children), once ``count`` exist."""
    deadline = time.monotonic() + timeout
    while True:
        found = [pid for pid in descendants(parent) if b"spawn_main" in _cmdline(pid)]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _holders(port: int, pids: list[int]) -> set[int]:
    """Which of ``pids`` hold an established connection accepted on ``port``."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 01 = ESTABLISHED
            inodes.add(f"socket:[{fields[9]}]")
    holders = set()
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) in inodes:
                    holders.add(pid)
            except OSError:
                continue
    return holders


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _left_running(pids: list[int], timeout: float) -> list[int]:
    """Which of ``pids`` (this test's own processes) still run after ``timeout`` s; those are then SIGKILLed."""
    deadline = time.monotonic() + timeout
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    running = [pid for pid in pids if _alive(pid)]
    for pid in running:
        os.kill(pid, signal.SIGKILL)
    return running


def test_two_api_processes_share_the_port_and_sigterm_stops_them_all(pg_server: Any, tmp_path: Path) -> None:
    env = {"DATABASE_URL": pg_server.create_database(f"workers_{uuid.uuid4().hex[:8]}"),
           "ROADMAP_AGENT_EXECUTION": "queue"}
    key = create_user_key(env)
    with serve(tmp_path / "home", env, api_key=key, args=["--workers", "2"], timeout=90) as served:
        workers = _workers(served.process.pid, 2)
        assert len(workers) == 2, f"expected 2 API processes under serve, found {workers}:\n{served.log()[-2000:]}"
        port = served.client.base_url.port
        assert port is not None
        assert served.client.post("/api/v1/roadmaps", json={"goal": GOAL}).status_code == 202
        seen: set[int] = set()
        for _ in range(20):  # keep-alive connections land on either process; both show up within a few rounds
            clients = [httpx.Client(base_url=str(served.client.base_url), timeout=10,
                                    headers={"Authorization": f"Bearer {key}"}) for _ in range(8)]
            try:
                # An authenticated read that touches the database; not POST /roadmaps, whose per-key bucket
                # (10 at once, per process) would answer 429 when the kernel hands most connections to one process.
                for client in clients:
                    listed = client.get("/api/v1/tasks")
                    assert listed.status_code == 200 and listed.json()["items"], listed.text
                seen |= _holders(port, workers)
            finally:
                for client in clients:
                    client.close()
            if seen == set(workers):
                break
        assert seen == set(workers), f"only {seen} of {workers} answered"
        assert served.log().count("Serving on") == 1

        everything = descendants(served.process.pid)  # the workers, and multiprocessing's resource tracker
        served.process.send_signal(signal.SIGTERM)
        assert served.process.wait(timeout=40) == 0
    assert _left_running(everything, 10) == [], "a process outlived serve"


def test_a_killed_supervisor_takes_its_workers_with_it(pg_server: Any, tmp_path: Path) -> None:
    env = {"DATABASE_URL": pg_server.create_database(f"workers_{uuid.uuid4().hex[:8]}"),
           "ROADMAP_AGENT_EXECUTION": "queue"}
    with serve(tmp_path / "home", env, args=["--workers", "2"], timeout=90) as served:
        workers = _workers(served.process.pid, 2)
        assert len(workers) == 2
        served.process.kill()  # SIGKILL: no chance to stop them itself
        served.process.wait(timeout=10)
    assert _left_running(workers, 20) == [], "orphaned API processes kept serving"


def test_the_embedded_default_refuses_several_workers_and_says_why(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "POSTGRES_", "REDIS_"))}
    done = subprocess.run([CLI, "serve", "--workers", "2"], env={**env, "ROADMAP_AGENT_HOME": str(tmp_path)},
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "needs server mode" in done.stderr and "DATABASE_URL" in done.stderr
