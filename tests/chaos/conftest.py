"""Fixtures for the chaos suite: real PostgreSQL and Redis of each test's own (faults are injected into them),
the integration suite's secret scan, and the per-scenario summary printed at the end of the run.

The servers come from scripts/devservices.py and the process helpers from tests/integration/serving.py; both
folders are put on ``sys.path`` here, and the integration conftest is loaded under its own name so its session
fixtures and its secret-leak scan apply to these tests too (pytest only shares conftests down a folder tree).

``CHAOS_WORKER_ENV`` (a JSON object) adds variables to every worker process the suite starts. It exists to
prove the suite can fail: ``CHAOS_WORKER_ENV='{"ROADMAP_AGENT_WORKER_HEARTBEAT": "30"}'`` is a worker that
never heartbeats in time, and the suite must go red.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

TESTS_DIR = Path(__file__).resolve().parents[1]
for folder in (TESTS_DIR.parent / "scripts", TESTS_DIR / "integration", Path(__file__).parent):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))


def _load_integration_conftest() -> Any:
    spec = importlib.util.spec_from_file_location("integration_conftest", TESTS_DIR / "integration" / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_integration = _load_integration_conftest()
devservices: Any = _integration.devservices
secret = _integration.secret
# Re-exported: pytest finds fixtures and hooks by the names a conftest module holds.
dev_services_installed = _integration.dev_services_installed
pg_server = _integration.pg_server
redis_server = _integration.redis_server
pytest_runtest_logreport = _integration.pytest_runtest_logreport

from invariants import SUMMARIES  # noqa: E402 - importable only once tests/chaos is on sys.path (above)

WORKER_ENV_VARIABLE = "CHAOS_WORKER_ENV"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The integration scan covers serve-*.log; worker logs hold the same secrets if anything leaks."""
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is not None:
        for log in Path(factory.getbasetemp()).rglob("worker-*.log"):
            _integration._scan(str(log), log.read_text(errors="replace"))
    _integration.pytest_sessionfinish(session, exitstatus)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if SUMMARIES:
        terminalreporter.section("chaos scenarios")
        for line in SUMMARIES:
            terminalreporter.line(line)


@pytest.fixture(scope="session")
def worker_env_override() -> dict[str, str]:
    """Extra variables for every worker (``CHAOS_WORKER_ENV``), e.g. a broken heartbeat to see the suite fail."""
    raw = os.environ.get(WORKER_ENV_VARIABLE, "").strip()
    if not raw:
        return {}
    values = json.loads(raw)
    assert isinstance(values, dict), f"{WORKER_ENV_VARIABLE} must be a JSON object of variable names to values"
    return {str(name): str(value) for name, value in values.items()}


class Env(dict[str, str]):
    """Variables for the processes; shown without values, so a failing test's report holds no password."""

    def __repr__(self) -> str:
        return f"Env({', '.join(self)})"


@pytest.fixture
def shared_env(pg_server: Any, redis_server: Any) -> Env:
    """A fresh database on the session's PostgreSQL and the session's Redis: for scenarios that leave the
    servers alone (they kill our own processes)."""
    return Env(DATABASE_URL=pg_server.create_database(f"chaos_{uuid.uuid4().hex[:10]}"), REDIS_URL=redis_server.url)


@pytest.fixture
def redis_env(pg_server: Any, redis: Any) -> Env:
    """A fresh database on the session's PostgreSQL and a Redis of the test's own (to kill or pause)."""
    return Env(DATABASE_URL=pg_server.create_database(f"chaos_{uuid.uuid4().hex[:10]}"), REDIS_URL=redis.url)


@pytest.fixture
def own_env(postgres: Any, redis: Any) -> Env:
    """PostgreSQL and Redis of the test's own (to stop, pause, reset or firewall)."""
    return Env(DATABASE_URL=postgres.url(), REDIS_URL=redis.url)


@pytest.fixture
def postgres(dev_services_installed: None) -> Iterator[Any]:
    """A PostgreSQL of the test's own (it will be stopped, paused or restarted), random password.

    Its folder is under /tmp, not pytest's private tmp: the server runs as the postgres user."""
    root = Path(tempfile.mkdtemp(prefix="roadmap-agent-chaos-pg-", dir="/tmp"))
    server = devservices.PostgresServer(root, password=secret("pg"))
    server.start()
    try:
        yield server
    finally:
        server.resume()
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def redis(dev_services_installed: None, tmp_path: Path) -> Iterator[Any]:
    """A Redis of the test's own, with a random password."""
    server = devservices.RedisServer(tmp_path / "redis", password=secret("redis"))
    server.start()
    try:
        yield server
    finally:
        server.resume()
        server.stop()
