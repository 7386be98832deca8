"""Browser tests: Playwright drives the system Chromium (apt `chromium`, installed by scripts/devservices.py;
never a downloaded browser) against a real `roadmap-agent serve`.

Every page a test opens is watched: a console error, an uncaught exception or a request to another origin fails
the test, and ``look(page, name)`` runs the vendored axe-core (serious or critical violations fail) and writes
screenshots at 1280 and 390 px, light and dark, to tests/browser/screenshots/ (git-ignored).
"""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import ConsoleMessage, Locator, Page, Request
from serving import Served

SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
WIDTHS = (1280, 390)
SCHEMES: tuple[Literal["light", "dark"], ...] = ("light", "dark")
LINK = re.compile(r"http://127\.0\.0\.1:\d+/login\?token=[A-Za-z0-9_-]+")


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("The browser tests need the apt package chromium: run scripts/test.sh (it installs it) or "
                    "`apt-get install -y chromium`.")
    return found



@dataclass
class Watch:
    """What went wrong on the pages of one origin: console errors, page errors, requests elsewhere."""

    origin: str
    problems: list[str] = field(default_factory=list)
    expected: list[tuple[str, int]] = field(default_factory=list)  # (path, status) a test asks for on purpose

    def expect_status(self, path: str, status: int) -> None:
        """A page answered with this error status on purpose (the browser logs it as a console error)."""
        self.expected.append((path, status))

    def attach(self, page: Page) -> Page:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("request", self._request)
        return page

    def _console(self, message: ConsoleMessage) -> None:
        url = str(message.location.get("url") or "")
        if any(urlsplit(url).path == path and f"status of {status}" in message.text for path, status in self.expected):
            return
        if message.type == "error":
            self.problems.append(f"console error on {message.location.get('url')}: {message.text}")

    def _request(self, request: Request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in ("data", "blob", "about"):
            return
        if f"{parts.scheme}://{parts.netloc}" != self.origin:
            self.problems.append(f"request to another origin: {request.url}")

    def assert_clean(self) -> None:
        assert self.problems == [], "\n".join(self.problems)


def axe_violations(page: Page) -> list[dict[str, Any]]:
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(url="/static/vendor/axe.min.js")  # same origin: allowed by the pages' CSP
    result: dict[str, Any] = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [v for v in result["violations"] if v.get("impact") in ("serious", "critical")]


def look(page: Page, name: str, *, axe: bool = True) -> None:
    """Screenshots of the page at both widths in both schemes, and axe-core in each scheme."""
    SCREENSHOTS.mkdir(exist_ok=True)
    size = page.viewport_size or {"width": 1280, "height": 900}
    problems = []
    for scheme in SCHEMES:
        page.emulate_media(color_scheme=scheme)
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}-{scheme}.png"), full_page=True)
        if axe:
            problems += [f"{scheme}: {v['id']} ({v['impact']}): {v['help']} -> "
                         f"{[n['target'] for n in v['nodes']][:5]}" for v in axe_violations(page)]
    page.emulate_media(color_scheme="light")
    page.set_viewport_size(size)
    assert problems == [], f"axe-core on {name}:\n" + "\n".join(problems)


def look_at(page: Page, name: str, part: Locator) -> None:
    """Screenshots of one part of the page (a section, a form) at both widths in both schemes."""
    SCREENSHOTS.mkdir(exist_ok=True)
    size = page.viewport_size or {"width": 1280, "height": 900}
    for scheme in SCHEMES:
        page.emulate_media(color_scheme=scheme)
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            part.screenshot(path=str(SCREENSHOTS / f"{name}-{width}-{scheme}.png"))
    page.emulate_media(color_scheme="light")
    page.set_viewport_size(size)


def sign_in_link(served: Served, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = LINK.search(served.log())
        if found:
            return found.group(0)
        time.sleep(0.1)
    raise AssertionError(f"serve printed no sign-in link:\n{served.log()[-2000:]}")
