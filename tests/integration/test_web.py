"""The web sign-in against a real `serve`: the cookie's flags, CSRF on every post made with it, the JSON API with
the cookie or a Bearer key, revocation, the one-time link, SSE resuming after Last-Event-ID, and /docs offline."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from serving import CLI, Served, serve

pytestmark = pytest.mark.integration

LINK = re.compile(r"http://127\.0\.0\.1:\d+(/login\?token=[A-Za-z0-9_-]+)")
GOAL = "I want to become a backend developer in 3 months, I know some Python, 10 hours a week"


def _link(served: Served) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = LINK.search(served.log())
        if found:
            return found.group(1)
        time.sleep(0.1)
    raise AssertionError("serve printed no sign-in link")


def _browser(served: Served) -> httpx.Client:
    """A client with no API key: only what a browser has (cookies)."""
    return httpx.Client(base_url=str(served.client.base_url), timeout=10)


def _csrf(page: httpx.Response) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, "the page has no CSRF token"
    return found.group(1)


def test_the_session_cookie_is_httponly_lax_expiring_and_secure_behind_https(isolated_home: Path) -> None:
    with serve(isolated_home) as served, _browser(served) as browser:
        signed_in = browser.get(_link(served))
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/"
        cookie = signed_in.headers["set-cookie"]
        assert cookie.startswith("ra_session=")
        flags = {part.strip().split("=")[0].lower(): part for part in cookie.split(";")[1:]}
        assert {"httponly", "samesite", "max-age", "path"} <= set(flags), cookie
        assert flags["samesite"].strip().lower() == "samesite=lax"
        assert int(flags["max-age"].split("=")[1]) == 12 * 3600
        assert "secure" not in flags, "plain http: a Secure cookie would never come back"

        proxied = {"X-Forwarded-Proto": "https"}  # uvicorn trusts it from 127.0.0.1, as from a local proxy
        form = browser.get("/login", headers=proxied)
        nonce = re.search(r'name="login_csrf" value="([^"]+)"', form.text)
        assert nonce
        key = (isolated_home / "api-key").read_text().strip()
        # the form's own cookie is Secure too now, so httpx (over plain http) would not send it back: we do
        headers = {**proxied, "Cookie": f"ra_login_csrf={form.cookies['ra_login_csrf']}"}
        answer = browser.post("/login", data={"api_key": key, "login_csrf": nonce.group(1), "next": "/"},
                              headers=headers)
        assert answer.status_code == 303
        assert "secure" in answer.headers["set-cookie"].lower()


def test_posts_with_the_cookie_need_the_csrf_token_and_bearer_keeps_working(isolated_home: Path) -> None:
    with serve(isolated_home) as served, _browser(served) as browser:
        browser.get(_link(served))
        token = _csrf(browser.get("/new"))

        refused = browser.post("/new", data={"goal": GOAL})
        assert refused.status_code == 403 and "CSRF" in refused.text
        forged = browser.post("/new", data={"goal": GOAL, "csrf_token": token},
                              headers={"Origin": "http://evil.example"})
        assert forged.status_code == 403
        api_refused = browser.post("/api/v1/roadmaps", json={"goal": GOAL})
        assert api_refused.status_code == 403
        assert api_refused.json()["error"]["code"] == "forbidden"
        assert served.client.get("/api/v1/tasks").json()["total"] == 0, "a refused post created a task"

        accepted = browser.post("/new", data={"goal": GOAL, "csrf_token": token})
        assert accepted.status_code == 303 and accepted.headers["location"].startswith("/tasks/")
        by_api = browser.post("/api/v1/roadmaps", json={"goal": GOAL}, headers={"X-CSRF-Token": token})
        assert by_api.status_code == 202
        assert browser.get(f"/api/v1/tasks/{by_api.json()['task_id']}").status_code == 200  # GET: no token needed
        assert served.client.post("/api/v1/roadmaps", json={"goal": GOAL}).status_code == 202  # Bearer, no cookie
        assert served.client.get("/api/v1/tasks").json()["total"] == 3


def test_revoking_the_key_ends_the_session_and_the_link_works_once(isolated_home: Path) -> None:
    with serve(isolated_home) as served, _browser(served) as browser:
        link = _link(served)
        assert browser.get(link).status_code == 303
        assert browser.get("/").status_code == 200
        with _browser(served) as second:
            assert second.get(link).status_code == 400, "a sign-in link works once"
        with httpx.Client(base_url=str(served.client.base_url), cookies={"ra_session": "e30.deadbeef"}) as forged:
            assert forged.get("/").status_code == 303
            assert forged.get("/api/v1/tasks").status_code == 401

        key = (isolated_home / "api-key").read_text().strip()
        env = {**os.environ, "ROADMAP_AGENT_HOME": str(isolated_home)}
        done = subprocess.run([CLI, "users", "revoke-key", key[:12]], env=env, capture_output=True, text=True,
                              timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        gone = browser.get("/")
        assert gone.status_code == 303 and gone.headers["location"].startswith("/login")
        assert browser.get("/api/v1/tasks").status_code == 401


def test_an_event_stream_resumes_after_last_event_id_even_with_after_in_the_url(isolated_home: Path) -> None:
    with serve(isolated_home) as served:
        client = served.client
        task_id = client.post("/api/v1/roadmaps", json={"goal": GOAL}).json()["task_id"]
        seqs = []
        # what a reconnecting EventSource sends: its original URL (?after=0) and the last id it saw
        with client.stream("GET", f"/api/v1/tasks/{task_id}/events?after=0", headers={"Last-Event-ID": "2"},
                           timeout=30) as response:
            for line in response.iter_lines():
                if line.startswith("data: "):
                    event = json.loads(line[6:])
                    seqs.append(event["seq"])
                    if event["type"] == "human_review_required":
                        break
        assert seqs[0] == 3 and seqs == list(range(3, 3 + len(seqs)))


def test_docs_load_their_assets_from_this_server(isolated_home: Path) -> None:
    with serve(isolated_home) as served:
        page = served.client.get("/docs")
        assert page.status_code == 200
        sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert sources and all(s.startswith("/") for s in sources), sources
        for source in sources:
            assert served.client.get(source).status_code == 200, source
        assert served.client.get("/redoc").headers["location"] == "/docs"
        home = served.client.get("/login")
        assert "default-src 'self'" in home.headers["content-security-policy"]
