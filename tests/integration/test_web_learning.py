"""Learning with a roadmap on its web page, over HTTP with only a browser's cookie: the done checkbox and the
state menu (plain form posts and htmx posts), notes kept private, re-plan into a new version, a review, the
calendar, and a share link whose page shows no notes and stops working once revoked. The review page shows the
structured diff of the last edit."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from icalendar import Calendar

from roadmap_agent.server import create_app
from roadmap_agent.settings import Settings, WorkerSettings

pytestmark = pytest.mark.integration
GOAL = "I want to become a backend developer in 3 months, I know some Python, 10 hours a week"
HTML = {"Accept": "text/html,application/xhtml+xml"}
HTMX = {"HX-Request": "true"}


@pytest.fixture
def browser(isolated_home: Path) -> Iterator[TestClient]:
    """A signed-in browser: the one-time link of the local user, then only its cookie."""
    settings = Settings.load(env_file=None, worker=WorkerSettings(execution="inprocess"))
    with TestClient(create_app(settings)) as client:
        token = client.app.state.web.login_links.issue()  # type: ignore[attr-defined]
        assert client.get(f"/login?token={token}", follow_redirects=False).status_code == 303
        yield client


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has no CSRF token"
    return found.group(1)


def _wait_for(client: TestClient, task_id: str, status: str) -> dict[str, object]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        task = client.get(f"/api/v1/tasks/{task_id}").json()
        if task["status"] == status:
            return dict(task)
        assert task["status"] not in ("failed", "cancelled"), task
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} never became {status}")


def _final(client: TestClient, token: str) -> str:
    created = client.post("/api/v1/roadmaps", json={"goal": GOAL, "auto_approve": True},
                          headers={"X-CSRF-Token": token})
    assert created.status_code == 202, created.text
    return str(_wait_for(client, created.json()["task_id"], "completed")["roadmap_id"])


def _concept_ids(page: str) -> list[str]:
    return re.findall(r'action="/roadmaps/[^/]+/progress/([^"]+)"\s+hx-post', page)


def _checked(page: str) -> set[str]:
    return set(re.findall(r'id="done-concept-([^"]+)" name="done" value="1" aria-labelledby="[^"]+" checked', page))


def test_ticking_concepts_off_keeps_them_and_moves_the_summary(browser: TestClient) -> None:
    token = _csrf(browser.get("/new").text)
    roadmap_id = _final(browser, token)
    page = browser.get(f"/roadmaps/{roadmap_id}").text
    concepts = _concept_ids(page)
    assert len(concepts) > 5 and _checked(page) == set()
    assert "Calendar (.ics)" in page and "Your progress" in page and "Due for review" in page

    refused = browser.post(f"/roadmaps/{roadmap_id}/progress/{concepts[0]}", data={"was": "todo", "done": "1"},
                           follow_redirects=False)
    assert refused.status_code == 403, "a progress post without the CSRF token must be refused"

    plain = browser.post(f"/roadmaps/{roadmap_id}/progress/{concepts[0]}", follow_redirects=False,
                         data={"csrf_token": token, "was": "todo", "state": "todo", "done": "1"})
    assert plain.status_code == 303
    fragment = browser.post(f"/roadmaps/{roadmap_id}/progress/{concepts[1]}", headers=HTMX,
                            data={"csrf_token": token, "was": "todo", "state": "todo", "done": "1"})
    assert fragment.status_code == 200
    assert 'hx-swap-oob="true"' in fragment.text and "2 of" in fragment.text, "the summary comes along"
    assert "<html" not in fragment.text
    browser.post(f"/roadmaps/{roadmap_id}/progress/{concepts[2]}", headers=HTMX,
                 data={"csrf_token": token, "was": "todo", "state": "learning"})  # the menu, box unchanged
    browser.post(f"/roadmaps/{roadmap_id}/progress/{concepts[2]}", headers=HTMX,
                 data={"csrf_token": token, "note": "my private note"})

    page = browser.get(f"/roadmaps/{roadmap_id}").text
    assert _checked(page) == {concepts[0], concepts[1]}
    assert '<option value="learning" selected>' in page and "my private note" in page
    api = browser.get(f"/api/v1/roadmaps/{roadmap_id}/progress").json()
    states = {i["concept_id"]: i["state"] for i in api["items"]}
    assert [states[c] for c in concepts[:3]] == ["done", "done", "learning"]

    unticked = browser.post(f"/roadmaps/{roadmap_id}/progress/{concepts[0]}", headers=HTMX,
                            data={"csrf_token": token, "was": "done", "state": "done"})  # box cleared
    assert unticked.status_code == 200
    assert browser.get(f"/api/v1/roadmaps/{roadmap_id}/progress/{concepts[0]}").json()["state"] == "todo"


def test_replan_review_calendar_and_a_share_link_that_hides_notes_and_can_be_revoked(browser: TestClient) -> None:
    token = _csrf(browser.get("/new").text)
    roadmap_id = _final(browser, token)
    concepts = _concept_ids(browser.get(f"/roadmaps/{roadmap_id}").text)
    browser.post(f"/roadmaps/{roadmap_id}/progress/{concepts[0]}",
                 data={"csrf_token": token, "was": "todo", "state": "todo", "done": "1", "note": "secret note"})

    replanned = browser.post(f"/roadmaps/{roadmap_id}/replan", data={"csrf_token": token, "weeks": "8"})
    assert replanned.status_code == 200 and "Version 2" in replanned.text
    assert "What changed in version 2" in replanned.text and "Finished before this version" in replanned.text

    later = (date.today() + timedelta(days=30)).isoformat()
    due = browser.get(f"/roadmaps/{roadmap_id}?today={later}").text
    assert f'/reviews/{concepts[0]}"' in due, "a concept done a month ago is due for review"
    rated = browser.post(f"/roadmaps/{roadmap_id}/reviews/{concepts[0]}", data={"csrf_token": token,
                                                                               "rating": "good"})
    assert rated.status_code == 200

    ics = browser.get(f"/roadmaps/{roadmap_id}/calendar.ics")
    assert ics.headers["content-type"].startswith("text/calendar")
    assert Calendar.from_ical(ics.content).walk("VEVENT"), "the calendar has study sessions"

    shared = browser.post(f"/roadmaps/{roadmap_id}/share", headers=HTMX,
                          data={"csrf_token": token, "show_progress": "1"})
    link = re.search(r'id="share-url" type="text" readonly value="http://testserver(/shared/[^"]+)"', shared.text)
    assert link, shared.text
    assert "Revoke share link" in shared.text
    with TestClient(browser.app) as stranger:  # no cookie
        page = stranger.get(link.group(1), headers=HTML)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "read-only" in page.text and "secret note" not in page.text
        assert 'type="checkbox"' not in page.text and "csrf_token" not in page.text
        assert ">Progress</h2>" in page.text and "Done</span>" in page.text, "the owner chose to show progress"
        assert page.headers["x-robots-tag"] == "noindex"
        assert stranger.get(link.group(1)).json()["roadmap"]["id"], "an API client still gets JSON"

        revoked = browser.post(f"/roadmaps/{roadmap_id}/share/revoke", data={"csrf_token": token},
                               follow_redirects=False)
        assert revoked.status_code == 303
        gone = stranger.get(link.group(1), headers=HTML)
        assert gone.status_code == 404 and "revoked" in gone.text and "<html" in gone.text


def test_the_review_page_shows_the_diff_of_the_last_edit(browser: TestClient) -> None:
    token = _csrf(browser.get("/new").text)
    created = browser.post("/api/v1/roadmaps", json={"goal": GOAL}, headers={"X-CSRF-Token": token}).json()
    task_id = created["task_id"]
    _wait_for(browser, task_id, "human_review_pending")
    assert 'id="edit-diff"' not in browser.get(f"/tasks/{task_id}/review").text, "no edit yet, no diff"
    asked = browser.post(f"/api/v1/tasks/{task_id}/review", headers={"X-CSRF-Token": token},
                         json={"approved": False, "feedback": "skip Docker, make it 8 weeks"})
    assert asked.status_code == 202
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        task = browser.get(f"/api/v1/tasks/{task_id}").json()
        if task["status"] == "human_review_pending" and task["review_round"] == 2:
            break
        time.sleep(0.05)
    page = browser.get(f"/tasks/{task_id}/review").text
    report = browser.get(f"/api/v1/tasks/{task_id}/roadmap").json()["report"]["diff"]
    assert 'id="edit-diff"' in page and "What the edit changed" in page
    assert f"{report['weeks_before']} → {report['weeks_after']}" in page
    for removed in report["removed"]:
        assert removed["name"] in page.split('id="edit-diff"')[1].split("</section>")[0]
