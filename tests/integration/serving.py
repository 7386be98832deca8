"""Run ``roadmap-agent serve`` as a real process for a test, the way a user starts it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Generator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from devservices import free_port

from roadmap_agent.settings import Settings
from roadmap_agent.store.users import KEY_FILE_NAME, read_key_file

CLI = str(Path(sys.executable).parent / "roadmap-agent")


class ApiKeyAuth(httpx.Auth):
    """Sends ``key``, or the embedded key the server writes to ``home/api-key`` on first run (read lazily)."""

    def __init__(self, home: Path, key: str | None) -> None:
        self.home, self.key = home, key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        key = self.key or read_key_file(self.home / KEY_FILE_NAME)
        if key and "authorization" not in request.headers:
            request.headers["Authorization"] = f"Bearer {key}"
        yield request


def local_key(settings: Settings) -> str:
    """The embedded local user's key, which the service writes on first start."""
    key = read_key_file(settings.api_key_file())
    assert key, "the service did not create the embedded API key"
    return key


def create_user_key(env: dict[str, str], name: str = "tester", *, admin: bool = False) -> str:
    """`roadmap-agent users create NAME` against ``env``'s database: the key it printed."""
    command = [CLI, "users", "create", name, *(["--admin"] if admin else [])]
    done = subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    client: httpx.Client
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text()


@contextmanager
def serve(home: Path, env: dict[str, str] | None = None, *, wait_live: bool = True,
          timeout: float = 30, api_key: str | None = None, args: Sequence[str] = ()) -> Iterator[Served]:
    """Start `serve` on a free port with ROADMAP_AGENT_HOME=home; stopped (SIGTERM, then SIGKILL) at the end.

    The client sends ``api_key``, or (embedded) the local key the server created in ``home``; ``args`` go on
    the command line after the port (e.g. ``--workers 2``)."""
    port = free_port()
    home.mkdir(parents=True, exist_ok=True)
    log_path = home.parent / f"serve-{port}.log"
    full_env = {**os.environ, "ROADMAP_AGENT_HOME": str(home), "LOG_FORMAT": "json", **(env or {})}
    with log_path.open("wb") as log, httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10,
                                           auth=ApiKeyAuth(home, api_key)) as client:
        process = subprocess.Popen([CLI, "serve", "--port", str(port), *args], env=full_env, stdout=log,
                                   stderr=subprocess.STDOUT)
        try:
            served = Served(process, client, log_path)
            if wait_live:
                _wait_live(served, timeout)
            yield served
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=5)


def _wait_live(served: Served, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if served.client.get("/health/live").status_code == 200:
                return
        except httpx.TransportError:
            pass
        if served.process.poll() is not None:
            raise AssertionError(f"serve exited with {served.process.returncode}:\n{served.log()[-2000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"serve did not start within {timeout} s:\n{served.log()[-2000:]}")
        time.sleep(0.1)


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text()


@contextmanager
def work(home: Path, env: dict[str, str] | None = None, *, concurrency: int = 4, name: str = "worker",
         grace: float = 15) -> Iterator[Worker]:
    """Start `roadmap-agent worker` (server mode); stopped with SIGTERM (drain), then SIGKILL, at the end."""
    home.mkdir(parents=True, exist_ok=True)
    log_path = home.parent / f"{name}-{time.monotonic_ns()}.log"
    full_env = {**os.environ, "ROADMAP_AGENT_HOME": str(home), "LOG_FORMAT": "json", **(env or {})}
    with log_path.open("wb") as log:
        process = subprocess.Popen([CLI, "worker", "--concurrency", str(concurrency)], env=full_env, stdout=log,
                                   stderr=subprocess.STDOUT)
        try:
            yield Worker(process, log_path)
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=grace + 10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=5)
