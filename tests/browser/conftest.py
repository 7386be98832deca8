"""Fixtures of the browser tests: Playwright and the system Chromium (see browsing.py for the rules)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

INTEGRATION = Path(__file__).resolve().parents[1] / "integration"
SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
for folder in (INTEGRATION, SCRIPTS):  # serving.py (a real `serve`) and devservices.py (free ports)
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from browsing import chromium_path  # noqa: E402
from playwright.sync_api import Browser, Playwright, sync_playwright  # noqa: E402


# Module scope: a running sync Playwright blocks any other (tests/integration/test_web_server_mode.py starts its own).
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
    yield launched
    launched.close()
