"""A learner's whole session in a real browser, on the embedded default: sign in with the printed link, create,
watch progress live, request a change, see the change list and the diff, approve (and meet a 409 in a second
tab), see the graph, download Markdown and JSON; tick concepts off (kept after a reload), write a note, download
the calendar and parse it, share the roadmap and open the link without a cookie (read-only, no notes), revoke it;
then a failure with its Retry button, the Chinese UI, the dark toggle, the
keyboard, and the offline /docs."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from browsing import Watch, look, look_at, sign_in_link
from icalendar import Calendar
from playwright.sync_api import Browser, Page, expect
from serving import serve

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]
GOAL = "I want to become a backend developer in 3 months, I know some Python, 10 hours a week"


def _step_count(page: Page) -> int:
    return page.locator("#steps li").count()


def _watch_live_progress(page: Page) -> list[int]:
    """Step counts seen without reloading until the review link appears: they must grow while we watch."""
    seen = [_step_count(page)]
    deadline = time.monotonic() + 60
    while not page.get_by_role("link", name="Review the draft").is_visible():
        assert time.monotonic() < deadline, "the draft never became ready"
        count = _step_count(page)
        if count != seen[-1]:
            seen.append(count)
        page.wait_for_timeout(50)
    seen.append(_step_count(page))
    return seen


def test_sign_in_create_watch_review_approve_and_see_the_graph(browser: Browser, isolated_home: Path) -> None:
    with serve(isolated_home, {"ROADMAP_AGENT_STEP_DELAY": "0.6"}) as served:
        link = sign_in_link(served)
        origin = link.split("/login")[0]
        watch = Watch(origin)
        context = browser.new_context(base_url=origin, accept_downloads=True, locale="en-US")
        page = watch.attach(context.new_page())

        page.goto(link)
        expect(page).to_have_url(f"{origin}/")
        expect(page.get_by_role("heading", name="My roadmaps")).to_be_visible()
        look(page, "home-empty")

        page.get_by_role("link", name="New roadmap").first.click()
        page.get_by_label("Goal").fill(GOAL)
        page.get_by_label("Hours per week").fill("10")
        page.get_by_label("Known skills").fill("Python")
        look(page, "create")
        page.get_by_role("button", name="Create roadmap").click()

        expect(page).to_have_url(re.compile(r"/tasks/[0-9a-f]+$"))
        task_url = page.url
        expect(page.locator("#steps li").first).to_be_visible()
        look(page, "task-running", axe=False)  # a moving page: axe runs on it once it has settled
        page.reload()  # a reconnect mid-run: the steps so far come back once each, then it goes on live
        counts = _watch_live_progress(page)
        assert len(set(counts)) >= 3, f"steps did not appear live: {counts}"
        seqs = page.locator("#steps li").evaluate_all("items => items.map(i => i.dataset.seq)")
        assert len(seqs) == len(set(seqs)), f"a step was shown twice after the reconnect: {seqs}"
        expect(page.locator("#steps")).to_contain_text("offline planner")
        look(page, "task-review-ready")

        page.get_by_role("link", name="Review the draft").click()
        expect(page.get_by_role("heading", name="Review the draft")).to_be_visible()
        look(page, "review")
        page.get_by_label("Feedback").fill("skip Docker, make it 8 weeks")
        page.get_by_role("button", name="Request changes").click()
        expect(page).to_have_url(task_url)
        expect(page.get_by_role("link", name="Review the draft")).to_be_visible(timeout=60_000)
        page.get_by_role("link", name="Review the draft").click()
        changes = page.locator("#change-list li")
        expect(changes.first).to_be_visible()
        assert any("8" in text for text in changes.all_inner_texts()), changes.all_inner_texts()
        diff = page.get_by_role("region", name="What the edit changed")
        expect(diff).to_contain_text(re.compile(r"Weeks\s*\d+ → \d+"))
        expect(diff.get_by_role("heading", name="Removed")).to_be_visible()
        look(page, "review-changes")
        look_at(page, "review-diff", page.locator(".edit-report"))

        other = watch.attach(context.new_page())  # the same review open in a second tab
        other.goto(page.url)
        other.get_by_role("button", name="Approve").click()
        watch.expect_status(urlsplit(page.url).path, 409)
        page.get_by_role("button", name="Approve").click()
        expect(page.get_by_role("alert")).to_contain_text("already decided")
        look(page, "review-conflict")
        other.close()

        page.goto(task_url)
        page.get_by_role("link", name="Open the roadmap").click(timeout=60_000)
        _check_roadmap_page(page)
        look(page, "roadmap")
        _check_downloads(page)
        _learn_and_share(page, browser, watch, origin)

        page.get_by_role("link", name="中文").click()  # the switch
        expect(page.get_by_role("img", name=re.compile("prerequisite"))).to_be_visible()
        expect(page.get_by_role("heading", name="每周安排")).to_be_visible()
        look(page, "roadmap-zh")
        page.goto("/new")  # the switch is remembered
        expect(page.get_by_label("目标")).to_be_visible()
        expect(page.get_by_role("button", name="生成路线")).to_be_visible()
        page.get_by_role("link", name="English").click()
        expect(page.get_by_label("Goal")).to_be_visible()

        page.goto("/")
        expect(page.get_by_role("table")).to_contain_text("Ready")
        look(page, "home")
        watch.assert_clean()
        context.close()


def _check_roadmap_page(page: Page) -> None:
    graph = page.get_by_role("img", name=re.compile("prerequisite", re.IGNORECASE))
    expect(graph).to_be_visible()
    concepts = page.locator("li.concept").count()
    assert concepts > 5
    assert page.locator("svg.prereq-graph .node:not(.project)").count() == concepts
    assert page.locator("svg.prereq-graph .node.project").count() >= 1
    assert page.locator("svg.graph-links a:not(.project)").count() == concepts
    assert page.locator("svg.prereq-graph path.edge").count() > 0
    expect(page.get_by_role("heading", name="Week by week")).to_be_visible()
    first_week = page.locator(".schedule tbody tr").first
    expect(first_week).to_contain_text("Week 1")
    node = page.locator("svg.graph-links a:not(.project)").nth(1)
    target = node.get_attribute("href")
    assert target and target.startswith("#concept-")
    node.click()
    assert page.url.endswith(target)
    expect(page.locator(f'[id="{target[1:]}"]')).to_be_in_viewport()
    project_fill = page.locator("svg.prereq-graph .node.project rect").first.evaluate("r => getComputedStyle(r).fill")
    core_fill = page.locator("svg.prereq-graph .node.core rect").first.evaluate("r => getComputedStyle(r).fill")
    assert project_fill != core_fill, "projects must look different from concepts"


def _check_downloads(page: Page) -> None:
    with page.expect_download() as markdown:
        page.get_by_role("link", name="Markdown", exact=True).click()
    text = Path(markdown.value.path()).read_text()
    assert text.startswith("# ")
    with page.expect_download() as body:
        page.get_by_role("link", name="JSON", exact=True).click()
    roadmap = json.loads(Path(body.value.path()).read_text())
    assert roadmap["stages"] and roadmap["schedule"]


def _learn_and_share(page: Page, browser: Browser, watch: Watch, origin: str) -> None:
    names = page.locator("li.concept .concept-name").all_inner_texts()[:3]
    summary = page.get_by_role("region", name="Your progress")
    expect(summary).to_contain_text("0 of")
    page.get_by_role("checkbox", name=names[0], exact=True).check()
    expect(summary).to_contain_text("1 of")
    box = page.get_by_role("checkbox", name=names[1], exact=True)
    box.focus()
    page.keyboard.press("Space")  # the keyboard works, and focus stays on the box its answer replaced
    expect(summary).to_contain_text("2 of")
    expect(page.get_by_role("checkbox", name=names[1], exact=True)).to_be_focused()
    page.get_by_role("combobox", name=f"State of {names[2]}").select_option("learning")
    expect(page.locator(".concept.state-learning")).to_have_count(1)
    expect(page.locator(".concept.state-done")).to_have_count(2)
    note = page.locator("li.concept").nth(0).locator("details.note")
    note.locator("summary").click()
    page.get_by_label(f"Your note on {names[0]}").fill("my private note about this")
    note.get_by_role("button", name="Save note").click()
    expect(page.locator("li.concept").nth(0).locator("details.note summary")).to_have_text("Note (saved)")

    page.reload()
    for name in names[:2]:
        expect(page.get_by_role("checkbox", name=name, exact=True)).to_be_checked()
    expect(page.get_by_role("checkbox", name=names[2], exact=True)).not_to_be_checked()
    expect(page.get_by_role("combobox", name=f"State of {names[2]}")).to_have_value("learning")
    expect(summary).to_contain_text("2 of")
    look(page, "roadmap-learning")
    look_at(page, "progress-summary", page.locator(".learn-top"))
    look_at(page, "concepts-ticked", page.locator(".module").first)

    with page.expect_download() as calendar:
        page.get_by_role("link", name="Calendar (.ics)", exact=True).click()
    events = Calendar.from_ical(Path(calendar.value.path()).read_bytes()).walk("VEVENT")
    assert events and all(str(e.get("UID")) for e in events), "the calendar has study sessions with UIDs"

    share = page.get_by_role("region", name="Share")
    share.get_by_label("Show my progress (never my notes)").check()
    share.get_by_role("button", name="Create share link").click()
    link = share.get_by_label("Share link")
    expect(link).to_have_value(re.compile(r"/shared/[A-Za-z0-9_-]+$"))
    shared_url = link.input_value()
    look_at(page, "share-made", page.locator(".learn-bottom"))

    stranger = browser.new_context(base_url=origin, locale="en-US")  # no cookie: someone the link was sent to
    assert stranger.cookies() == []
    other = watch.attach(stranger.new_page())
    other.goto(shared_url)
    expect(other.get_by_role("heading", level=1)).to_have_text(page.get_by_role("heading", level=1).inner_text())
    expect(other.get_by_text("read-only")).to_be_visible()
    expect(other.get_by_role("img", name=re.compile("prerequisite", re.IGNORECASE))).to_be_visible()
    expect(other.get_by_role("checkbox")).to_have_count(0)
    expect(other.get_by_role("button", name="Sign out")).to_have_count(0)
    expect(other.locator("textarea, form[method=post]")).to_have_count(0)
    assert "my private note" not in other.content()
    expect(other.locator("li.concept .badge.state-done")).to_have_count(2)  # the owner chose to show progress
    look(other, "shared")

    share.get_by_role("button", name="Revoke share link").click()
    expect(share).to_contain_text("revoked")
    watch.expect_status(urlsplit(shared_url).path, 404)
    other.reload()
    expect(other.get_by_role("heading", name="Error 404")).to_be_visible()
    expect(other.locator("main")).to_contain_text("revoked")
    look(other, "shared-revoked")
    stranger.close()


def test_failure_retry_keyboard_theme_and_offline_docs(browser: Browser, isolated_home: Path) -> None:
    with serve(isolated_home) as served:
        link = sign_in_link(served)
        origin = link.split("/login")[0]
        watch = Watch(origin)
        context = browser.new_context(base_url=origin, locale="en-US")
        page = watch.attach(context.new_page())
        page.goto(link)

        page.goto("/new")
        page.keyboard.press("Tab")
        skip = page.get_by_role("link", name="Skip to content")
        expect(skip).to_be_focused()
        expect(skip).to_be_in_viewport()
        assert skip.evaluate("e => getComputedStyle(e).outlineStyle") != "none", "focus must be visible"
        page.get_by_label("Goal").focus()
        page.keyboard.type("I want to learn Spanish")
        page.get_by_role("button", name="Create roadmap").focus()
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="This task failed")).to_be_visible(timeout=30_000)
        expect(page.locator(".failure")).to_contain_text("Spanish")
        look(page, "task-failed")
        page.get_by_role("button", name="Retry").click()
        expect(page.get_by_role("heading", name="This task failed")).to_be_visible(timeout=30_000)

        toggle = page.get_by_role("button", name="Dark mode")
        expect(toggle).to_have_attribute("aria-pressed", "false")
        toggle.click()
        expect(toggle).to_have_attribute("aria-pressed", "true")
        page.reload()  # the choice is kept (a cookie the server reads)
        expect(page.locator("html")).to_have_attribute("data-theme", "dark")
        background = page.locator("body").evaluate("b => getComputedStyle(b).backgroundColor")
        assert background not in ("rgb(255, 255, 255)", "rgba(0, 0, 0, 0)"), background

        page.goto("/docs")
        expect(page.get_by_text("/api/v1/roadmaps").first).to_be_visible(timeout=20_000)
        look(page, "docs", axe=False)  # third-party pages: checked for foreign requests, not for axe
        page.goto("/redoc")  # ReDoc's bundle always loads a logo from its CDN: /redoc is Swagger UI
        expect(page).to_have_url(f"{origin}/docs")
        watch.assert_clean()
        context.close()


def test_sign_in_with_an_api_key_and_a_used_link(browser: Browser, isolated_home: Path) -> None:
    with serve(isolated_home) as served:
        link = sign_in_link(served)
        origin = link.split("/login")[0]
        watch = Watch(origin)
        first = browser.new_context(base_url=origin)
        first.new_page().goto(link)
        first.close()

        context = browser.new_context(base_url=origin, locale="en-US")
        page = watch.attach(context.new_page())
        page.goto("/new")  # signed out: sent to the sign-in page, and back afterwards
        expect(page).to_have_url(re.compile(r"/login\?next="))
        watch.expect_status("/login", 400)
        watch.expect_status("/login", 401)
        page.goto(link + "&next=%2Fnew")  # used already: it says so, and offers the key form
        expect(page.get_by_role("alert")).to_contain_text("already used")
        look(page, "login")
        key = (isolated_home / "api-key").read_text().strip()
        page.get_by_label("API key").fill("rak_wrong")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_contain_text("not valid")
        page.get_by_label("API key").fill(key)
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(f"{origin}/new")
        page.get_by_role("button", name="Sign out").click()
        expect(page).to_have_url(re.compile("/login"))
        page.goto("/")
        expect(page).to_have_url(re.compile("/login"))
        watch.assert_clean()
        context.close()
