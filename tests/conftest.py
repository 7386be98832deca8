"""Shared fixtures: every test runs against its own embedded data folder, never a developer's real one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

SERVER_VARIABLES = ("DATABASE_URL", "DB_URL", "POSTGRES_HOST", "REDIS_URL", "REDIS_HOST", "S3_BUCKET",
                    "S3_ENDPOINT_URL", "LLM_BASE_URL", "ROADMAP_AGENT_STEP_DELAY")


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    monkeypatch.setenv("ROADMAP_AGENT_HOME", str(home))
    monkeypatch.chdir(tmp_path)  # no stray .env from the checkout
    for name in SERVER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    yield home
