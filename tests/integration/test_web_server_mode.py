"""The web app in server mode, in a real browser: PostgreSQL and Redis, one `serve`, one `worker`; no sign-in link
is printed, the learner signs in with an API key, creates a roadmap that the worker builds, approves it, sees
the graph, ticks a concept off (kept in PostgreSQL across a reload) and opens a share link without a cookie.
Console errors, foreign requests and serious axe-core violations fail it (tests/browser/browsing.py)."""

from __future__ import annotations

import re
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from devservices import PostgresServer, RedisServer
from serving import create_user_key, serve, work

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "browser"))
from browsing import Watch, chromium_path, look
from playwright.sync_api import Browser, expect, sync_playwright

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(240)]
GOAL = "become a data analyst in 6 months, 8 hours a week"


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        yield launched
        launched.close()


def test_sign_in_with_a_key_create_and_approve_with_a_worker(pg_server: PostgresServer, redis_server: RedisServer,
                                                             browser: Browser, isolated_home: Path) -> None:
    env = {"DATABASE_URL": pg_server.create_database(f"web_{uuid.uuid4().hex[:10]}"), "REDIS_URL": redis_server.url,
           "ROADMAP_AGENT_STEP_DELAY": "0.3"}
    key = create_user_key(env, "learner")
    with serve(isolated_home / "api", env, api_key=key) as api, work(isolated_home / "worker", env):
        assert "login?token=" not in api.log(), "server mode has no local user to sign in with a link"
        origin = str(api.client.base_url).rstrip("/")
        watch = Watch(origin)
        context = browser.new_context(base_url=origin, locale="en-US")
        page = watch.attach(context.new_page())
        page.goto("/")
        expect(page).to_have_url(re.compile("/login"))
        look(page, "server-login")
        page.get_by_label("API key").fill(key)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="My roadmaps")).to_be_visible()

        page.get_by_role("link", name="New roadmap").first.click()
        page.get_by_label("Goal").fill(GOAL)
        page.get_by_role("button", name="Create roadmap").click()
        page.get_by_role("link", name="Review the draft").click(timeout=60_000)
        page.get_by_role("button", name="Approve").click()
        page.get_by_role("link", name="Open the roadmap").click(timeout=60_000)
        expect(page.get_by_role("img", name=re.compile("prerequisite", re.IGNORECASE))).to_be_visible()
        look(page, "server-roadmap")

        name = page.locator("li.concept .concept-name").first.inner_text()
        page.get_by_role("checkbox", name=name, exact=True).check()
        expect(page.get_by_role("region", name="Your progress")).to_contain_text("1 of")
        page.reload()
        expect(page.get_by_role("checkbox", name=name, exact=True)).to_be_checked()
        share = page.get_by_role("region", name="Share")
        share.get_by_role("button", name="Create share link").click()
        shared_url = share.get_by_label("Share link").input_value()
        stranger = browser.new_context(base_url=origin, locale="en-US")
        other = watch.attach(stranger.new_page())
        other.goto(shared_url)
        expect(other.get_by_text("read-only")).to_be_visible()
        expect(other.get_by_role("img", name=re.compile("prerequisite", re.IGNORECASE))).to_be_visible()
        expect(other.get_by_role("checkbox")).to_have_count(0)
        look(other, "server-shared")
        stranger.close()
        watch.assert_clean()
        context.close()
