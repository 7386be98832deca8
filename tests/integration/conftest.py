"""Fixtures for tests that run the whole service on the embedded default (SQLite files in a temp folder)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from roadmap_agent.services import Services, open_services
from roadmap_agent.settings import Settings


@pytest.fixture
def settings(isolated_home: Path) -> Settings:
    return Settings.load(env_file=None)


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[Services]:
    async with open_services(settings) as opened:
        yield opened
