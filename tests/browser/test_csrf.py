"""A cross-site form post in a real browser: a page of another origin that posts to /new with the learner's
cookie (SameSite=Lax lets it through between two ports of one host) is refused, and creates nothing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from browsing import sign_in_link
from devservices import free_port
from playwright.sync_api import Browser, expect
from serving import serve

pytestmark = [pytest.mark.browser, pytest.mark.integration]


@contextmanager
def attacker_site(target: str) -> Iterator[str]:
    """A page on another origin whose form posts a goal to ``target`` as soon as it loads."""
    page = (f'<!doctype html><title>free prizes</title><form id="f" method="post" action="{target}/new">'
            '<input name="goal" value="become a backend developer"></form>'
            "<script>document.getElementById('f').submit()</script>").encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *_args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_a_cross_site_form_post_is_refused(browser: Browser, isolated_home: Path) -> None:
    with serve(isolated_home) as served:
        link = sign_in_link(served)
        origin = link.split("/login")[0]
        context = browser.new_context()
        page = context.new_page()
        page.goto(link)
        expect(page.get_by_role("heading", name="My roadmaps")).to_be_visible()
        with attacker_site(origin) as evil, page.expect_response(f"{origin}/new") as answer:
            page.goto(evil)
        assert answer.value.status == 403
        expect(page.get_by_role("alert")).to_contain_text("another origin")
        assert served.client.get("/api/v1/tasks").json()["total"] == 0
        context.close()
