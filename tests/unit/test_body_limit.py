"""Finding 1: a chunked body (no Content-Length) is counted as it arrives and refused at the limit, on any path."""

from __future__ import annotations

import json
from typing import Any

import pytest

from roadmap_agent.server import create_app
from roadmap_agent.settings import Settings

CHUNK = 64 * 1024
CHUNKS = 320  # a 20 MB upload


class ChunkedUpload:
    """An ASGI ``receive`` that hands out CHUNKS chunks of zeros and counts how many the app pulled."""

    def __init__(self) -> None:
        self.pulled = 0

    async def __call__(self) -> dict[str, Any]:
        self.pulled += 1
        return {"type": "http.request", "body": b"\0" * CHUNK, "more_body": self.pulled < CHUNKS}


async def post(path: str, headers: list[tuple[bytes, bytes]]) -> tuple[int, dict[str, Any], int]:
    app = create_app(Settings.load(env_file=None))
    upload = ChunkedUpload()
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "path": path,
             "raw_path": path.encode(), "query_string": b"", "root_path": "", "scheme": "http",
             "headers": [(b"host", b"127.0.0.1"), (b"transfer-encoding", b"chunked"), *headers],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": {}}
    await app(scope, upload, send)  # type: ignore[arg-type]  # a plain dict stands in for the ASGI message
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(body), upload.pulled


@pytest.mark.parametrize("path", ["/api/v1/roadmaps", "/api/v1/tasks/abc/review"])
async def test_a_chunked_body_over_the_limit_is_refused_before_it_is_read_whole(path: str) -> None:
    status, body, pulled = await post(path, [(b"content-type", b"application/json")])
    assert status == 413
    assert body["error"]["code"] == "payload_too_large" and "65536 bytes" in body["error"]["message"]
    assert pulled <= 65536 // CHUNK + 1  # stopped at the limit, not after 20 MB


async def test_a_path_without_a_route_never_reads_the_body() -> None:
    status, _body, pulled = await post("/x", [])
    assert status == 404 and pulled <= 1


async def test_a_declared_length_over_the_limit_is_refused_unread() -> None:
    status, body, pulled = await post("/x", [(b"content-length", b"209715200")])
    assert status == 413 and pulled == 0 and body["error"]["code"] == "payload_too_large"
