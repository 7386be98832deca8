"""A scripted OpenAI-compatible server for tests and demos: ``GET /v1/models``, ``POST /v1/chat/completions``.

Each chat request takes the next ``Reply`` from the script (first in, first out); with the script empty it gets
a good answer for the step it asks about (found from the answer schema's title in the prompt): an intent, a
small curriculum built from the catalog lines in the prompt (plus one concept the catalog does not have), or an
edit. Replies can also be malformed JSON, schema-invalid JSON, an HTTP error (429 with ``Retry-After``, 500,
...), slow, or a connection that is accepted and never answered. ``json_schema_supported = False`` makes it
refuse ``response_format: json_schema`` with a 400, as some hosted endpoints do. Every request is recorded.

    python scripts/fake_openai.py --port 8765 --script 500,500,500    # by hand: LLM_BASE_URL=http://127.0.0.1:8765/v1
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODELS = ("fake-small", "fake-large")


@dataclass
class Reply:
    status: int = 200
    content: str | None = None  # None: the good answer for the step
    delay: float = 0.0
    hang: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    finish_reason: str = "stop"


def good(delay: float = 0.0) -> Reply:
    return Reply(delay=delay)


def answer(value: dict[str, Any] | str) -> Reply:
    return Reply(content=value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))


def malformed() -> Reply:
    return Reply(content='{"domains": ["backend"], "level": "beginner", "known_skills": [')


def schema_invalid() -> Reply:
    return Reply(content='{"domains": "all of them", "level": "guru", "stages": "many"}')


def error(status: int, retry_after: float | None = None) -> Reply:
    return Reply(status=status, headers={"Retry-After": f"{retry_after:g}"} if retry_after is not None else {})


def slow(seconds: float) -> Reply:
    return Reply(delay=seconds)


def hang() -> Reply:
    return Reply(hang=True)


NAMED: dict[str, Callable[[], Any]] = {"good": good, "malformed": malformed, "invalid": schema_invalid, "hang": hang,
         "slow": lambda: slow(30), "429": lambda: error(429, 1), "500": lambda: error(500)}


# -- good answers ------------------------------------------------------------------------------------

LISTED = re.compile(r"^([a-z_]+\.[a-z0-9_]+) \| ([^|\n]+?) \| ([0-9.]+) \| (\w+) \| (.*)$", re.MULTILINE)
ROADMAP_LINE = re.compile(r"^([a-z_]+\.[a-z0-9_.-]+) \| ([^|\n]+?) \| ([0-9.]+)$", re.MULTILINE)
CJK = re.compile(r"[\u4e00-\u9fff]")


def _text(request: dict[str, Any]) -> str:
    return "\n".join(str(m.get("content", "")) for m in request.get("messages", []))


TECHNOLOGIES = {"golang": re.compile(r"\bgo\b|golang", re.IGNORECASE),
                "nodejs": re.compile(r"node\.?js|express", re.IGNORECASE)}


def good_intent(request: dict[str, Any]) -> dict[str, Any]:
    """Backend, with the technologies the goal names (Go, Node.js); Python known unless another is named."""
    goal = str(request.get("messages", [{}])[-1].get("content", ""))
    named = [t for t, pattern in TECHNOLOGIES.items() if pattern.search(goal)]
    return {"domains": ["backend"], "level": "beginner", "known_skills": [] if named else ["Python"],
            "hours_per_week": 10, "weeks": 13, "preferences": [], "technologies": named}


def good_curriculum(request: dict[str, Any]) -> dict[str, Any]:
    """Up to ten listed catalog concepts in prerequisite order, and one capstone the catalog does not have."""
    listed = LISTED.findall(_text(request))
    needs = {cid: {n.strip() for n in rest.split(",")} for cid, _, _, _, rest in listed}
    ordered: list[str] = []
    while len(ordered) < len(listed):
        ready = [cid for cid, *_ in listed if cid not in ordered and not (needs[cid] & set(needs)) - set(ordered)]
        if not ready:
            break
        ordered.append(ready[0])
    chosen = ordered[:10]
    zh = bool(CJK.search(_text(request)))
    capstone = {"name": "毕业项目：一个小型 REST 服务" if zh else "Capstone: a small REST service",
                "description": "Build and deploy one service end to end.", "hours": 6, "difficulty": "intermediate",
                "prerequisites": chosen[-1:]}
    half = max(1, len(chosen) // 2)
    first = [{"id": cid, "name": cid} for cid in chosen[:half]]
    second = [{"id": cid, "name": cid} for cid in chosen[half:]] + [capstone]
    extra = [cid for cid, *_ in listed if cid not in chosen and not needs[cid] - set(chosen) - {"-"}][:1]
    second += [{"id": cid, "name": cid, "optional": True} for cid in extra]  # beyond the core
    project = {"title": "期末项目：部署一个 API" if zh else "Stage project: deploy an API",
               "description": "Ship the service.", "hours": 4,
               "acceptance_criteria": ["It answers on a public URL", "Its README says how to run it"]}
    return {"title": "后端学习路线" if zh else "Backend roadmap", "summary": "Scripted by the fake server.",
            "stages": [{"name": "基础" if zh else "Foundations", "modules": [{"name": "Core", "concepts": first}]},
                       {"name": "进阶" if zh else "Going further",
                        "modules": [{"name": "Practice", "concepts": second}], "project": project}]}


def good_edit(request: dict[str, Any]) -> dict[str, Any]:
    present = ROADMAP_LINE.findall(_text(request))
    return {"skip": [present[0][0]] if present else [], "add": [], "more_time": [], "less_time": [],
            "weeks": None, "hours_per_week": None}


GOOD = {"IntentAnswer": good_intent, "CurriculumAnswer": good_curriculum, "EditAnswer": good_edit}


def step_of(request: dict[str, Any]) -> str:
    text = _text(request)
    return next((title for title in GOOD if title in text), "IntentAnswer")


# -- the server --------------------------------------------------------------------------------------


class FakeOpenAI:
    def __init__(self, api_key: str | None = None, port: int = 0) -> None:
        self.api_key = api_key
        self.script: list[Reply] = []
        self.requests: list[dict[str, Any]] = []
        self.json_schema_supported = True
        self.released = threading.Event()  # set at stop: hung handlers return
        self._lock = threading.Lock()
        self._connections: list[socket.socket] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Like the process dying: no more connections, and open ones (kept alive by clients) are cut."""
        self.released.set()
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            for connection in self._connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)

    def add(self, *replies: Reply) -> None:
        with self._lock:
            self.script.extend(replies)

    def next_reply(self, request: dict[str, Any]) -> Reply:
        with self._lock:
            self.requests.append(request)
            return self.script.pop(0) if self.script else good()

    def chat_requests(self, step: str | None = None) -> list[dict[str, Any]]:
        """Recorded chat requests, optionally only those for ``step`` (IntentAnswer, CurriculumAnswer, ...)."""
        return [r for r in self.requests if step is None or step_of(r) == step]


def _handler(fake: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            with fake._lock:
                fake._connections.append(self.connection)

        def do_GET(self) -> None:
            if not self._authorised():
                return
            if self.path.rstrip("/") == "/v1/models":
                self._json(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in MODELS]})
            else:
                self._json(404, {"error": {"message": "not found"}})

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if not self._authorised():
                return
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._json(404, {"error": {"message": "not found"}})
                return
            request = json.loads(body)
            reply = fake.next_reply(request)
            if reply.hang:
                fake.released.wait()
                return
            if reply.delay and fake.released.wait(reply.delay):
                return
            response_format = (request.get("response_format") or {}).get("type")
            if response_format == "json_schema" and not fake.json_schema_supported:
                self._json(400, {"error": {"message": "This response_format type is unavailable now",
                                           "type": "invalid_request_error"}})
                return
            if reply.status != 200:
                self._json(reply.status, {"error": {"message": f"scripted {reply.status}"}}, reply.headers)
                return
            content = reply.content
            if content is None:
                content = json.dumps(GOOD[step_of(request)](request), ensure_ascii=False)
            prompt_tokens = len(_text(request)) // 4
            self._json(200, {
                "id": f"chatcmpl-{len(fake.requests)}", "object": "chat.completion", "created": int(time.time()),
                "model": request.get("model"),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                             "finish_reason": reply.finish_reason}],
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": len(content) // 4,
                          "total_tokens": prompt_tokens + len(content) // 4}})

        def _authorised(self) -> bool:
            sent = self.headers.get("Authorization", "").removeprefix("Bearer ")
            if fake.api_key is None or sent == fake.api_key:
                return True
            # Echoes the key, as some servers do: the client must scrub it before it reaches a log.
            self._json(401, {"error": {"message": f"Incorrect API key provided: {sent}",
                                       "type": "invalid_request_error"}})
            return False

        def _json(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # quiet: no access log on stderr
            pass

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--script", default="", help=f"comma-separated replies: {', '.join(NAMED)}")
    parser.add_argument("--no-json-schema", action="store_true", help="answer 400 to json_schema response formats")
    options = parser.parse_args()
    fake = FakeOpenAI(options.api_key, options.port)
    fake.json_schema_supported = not options.no_json_schema
    fake.add(*(NAMED[name]() for name in options.script.split(",") if name))
    print(f"fake OpenAI-compatible server on {fake.base_url}", flush=True)
    fake.start()
    try:
        fake._thread.join()
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
