"""``generate`` handed to the running ``serve`` of this home, over its HTTP API (like ``ollama run`` and
``ollama serve``): the CLI then loads neither LangGraph nor SQLAlchemy, so the first step line comes at about
Python's start-up plus one request, and the run shows up live on the web page too.

Only on the embedded default: ``serve`` announces itself in ``ROADMAP_AGENT_HOME/server.json``
(``server_file.py``) and the local API key is in the same home. In server mode the CLI runs as before (its runs
go to the queue's workers anyway). Everything before the first progress line uses the standard library, rich's
markup and the message catalogue only; the review prompt and the roadmap view load pydantic when they are
needed. ``generate --local`` runs in this process whatever is running.
"""

from __future__ import annotations

import http.client
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from rich.markup import escape

from roadmap_agent import server_file
from roadmap_agent.cli.common import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, err, fail
from roadmap_agent.domain.messages import text
from roadmap_agent.event_lines import TERMINAL_KINDS, event_line

if TYPE_CHECKING:
    from roadmap_agent.domain.models import Language, Roadmap

# Any of these (in the environment or .env) means server mode: settings.DatabaseSettings' names.
SERVER_MODE_VARIABLES = ("DATABASE_URL", "DB_URL", "POSTGRES_HOST")
CALL_TIMEOUT = 30.0
# Silence on the event stream before we count the server as gone: routes.SSE_KEEPALIVE_EVERY (15 s) x 4.
STREAM_TIMEOUT = 60.0
KEY_FILE_NAME = "api-key"  # store.users.KEY_FILE_NAME, settings.api_key_file() (that module loads SQLAlchemy)
RECONNECTS = 5  # stream connections that may fail in a row (a second apart) before we give up


class ServerGone(Exception):
    """The server did not answer: refused, reset, timed out, or the stream ended before the task did."""


class ServerRefused(Exception):
    """The server answered with an error (4xx/5xx); ``message`` is its sentence."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class Server:
    url: str
    pid: int
    key: str

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        parts = urlsplit(self.url)
        return http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=timeout)

    def _headers(self, accept: str = "application/json") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}", "Accept": accept}

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """One JSON request; its decoded answer. Raises ServerGone or ServerRefused."""
        connection = self._connection(CALL_TIMEOUT)
        headers = self._headers()
        payload = None if body is None else json.dumps(body).encode()
        if payload is not None:
            headers["Content-Type"] = "application/json"
        try:
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise ServerGone(type(exc).__name__) from None
        finally:
            connection.close()
        if response.status >= 400:
            raise _refused(response.status, raw)
        return json.loads(raw) if raw else None

    def events(self, task_id: str, after: int) -> Iterator[dict[str, Any]]:
        """The task's events after ``after`` as they happen (server-sent events), until the stream ends."""
        connection = self._connection(STREAM_TIMEOUT)
        try:
            connection.request("GET", f"/api/v1/tasks/{task_id}/events?after={after}",
                               headers=self._headers("text/event-stream"))
            response = connection.getresponse()
            if response.status >= 400:
                raise _refused(response.status, response.read())
            data: list[str] = []
            while line := response.readline():
                field = line.decode("utf-8", errors="replace").rstrip("\r\n")
                if field.startswith("data:"):
                    data.append(field[5:].removeprefix(" "))
                elif not field and data:  # a blank line ends an event; id:, event:, retry: and comments are not
                    yield json.loads("\n".join(data))  # needed: the JSON has the seq and type
                    data = []
        except (OSError, http.client.HTTPException) as exc:
            raise ServerGone(type(exc).__name__) from None
        finally:
            connection.close()


def _refused(status: int, raw: bytes) -> ServerRefused:
    try:
        error = json.loads(raw).get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    return ServerRefused(status, str(error.get("code", "")), str(error.get("message") or f"HTTP {status}"))


def find() -> Server | None:
    """The running ``serve`` of this home, with the key to use, or None (then the CLI runs the task itself)."""
    env = _environment()
    if any(env.get(name) for name in SERVER_MODE_VARIABLES):
        return None
    home = Path(env.get("ROADMAP_AGENT_HOME") or server_file.DEFAULT_HOME).expanduser()
    found = server_file.running(home)
    if found is None:
        return None
    key = env.get("ROADMAP_AGENT_API_KEY") or _read_key(home / KEY_FILE_NAME)
    return Server(found.url, found.pid, key) if key else None


def _environment() -> dict[str, str]:
    """What pydantic-settings reads, for the few names used here: ``.env`` in the working directory, then the
    environment (which wins), names compared upper-cased."""
    values: dict[str, str] = {}
    if Path(".env").is_file():
        from dotenv import dotenv_values  # pydantic-settings' own reader; small

        values = {name.upper(): value for name, value in dotenv_values(".env").items() if value is not None}
    values.update({name.upper(): value for name, value in os.environ.items()})
    return values


def _read_key(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


@dataclass
class Run:
    """One ``generate`` on the server, followed from the terminal."""

    server: Server
    language: Language
    auto_approve: bool
    as_json: bool
    full: bool
    resources: bool
    task_id: str = ""
    after: int = 0

    def start(self, body: dict[str, Any]) -> int | None:
        """Create the task on the server and follow it to its end: the exit code; None when the server is not
        there after all (a stale file, or it stopped): the caller then runs the task itself."""
        try:
            created = self.server.call("POST", "/api/v1/roadmaps", body)
        except ServerGone:
            return None
        except ServerRefused as exc:
            if exc.status == 401:  # ROADMAP_AGENT_API_KEY is not that server's: the local run says so properly
                return None
            raise fail(exc.message, EXIT_USAGE if exc.status in (400, 422) else EXIT_FAILED, self.language) from None
        self.task_id = str(created["task_id"])
        served = text("cli.task_served", self.language, task_id=self.task_id, url=self.server.url)
        err().print(f"[dim]{escape(served)}[/]", highlight=False)
        try:
            return self._follow()
        except KeyboardInterrupt:
            err().print(f"\n[yellow]{escape(text('cli.interrupted_served', self.language, task_id=self.task_id))}[/]")
            return EXIT_INTERRUPTED
        except ServerGone:
            raise fail(text("cli.server_gone", self.language, url=self.server.url, task_id=self.task_id),
                       EXIT_FAILED, self.language) from None
        except ServerRefused as exc:
            raise fail(exc.message, EXIT_FAILED, self.language) from None

    def _follow(self) -> int:
        failures = 0
        while True:
            try:
                stop = self._print_until_stop()
            except ServerGone:
                failures += 1
                if failures > RECONNECTS:
                    raise
                time.sleep(1.0)
                continue
            failures = 0
            if stop is None:  # the stream ended with the task still going (the server is stopping): reconnect
                continue
            kind, data = stop
            if kind != "human_review_required":
                return self._finish(data if kind == "completed" else {})
            if not self._review(data):
                err().print(text("cli.pending", self.language, task_id=self.task_id))
                return EXIT_OK

    def _print_until_stop(self) -> tuple[str, dict[str, Any]] | None:
        """Print progress lines until a review is asked or the task ends (that event's type and data)."""
        for event in self.server.events(self.task_id, self.after):
            self.after = int(event["seq"])
            kind, data = str(event["type"]), event.get("data") or {}
            line = event_line(kind, event.get("status"), event.get("step"), str(event.get("message", "")), data,
                              self.language)
            if line:
                err().print(line)
            if kind == "human_review_required" or kind in TERMINAL_KINDS:
                return kind, data
        return None

    def _review(self, review: dict[str, Any]) -> bool:
        """Ask the learner and send the decision; False when there is no answer (end of input)."""
        import asyncio

        from roadmap_agent.cli.dialog import ask_review

        if self.auto_approve:
            decision: dict[str, Any] = {"approved": True}
        else:
            answer = asyncio.run(ask_review(self._roadmap(), review, full=self.full, resources=self.resources))
            if answer is None:
                return False
            decision = answer.model_dump(include={"approved", "feedback"})
        try:
            self.server.call("POST", f"/api/v1/tasks/{self.task_id}/review", decision)
        except ServerRefused as exc:
            if exc.status != 409:
                raise
            err().print(f"[yellow]{escape(text('cli.decided_elsewhere', self.language))}[/]")
        return True

    def _roadmap(self) -> Roadmap | None:
        """The draft under review, or the final roadmap; None before there is one."""
        from roadmap_agent.domain.models import Roadmap

        try:
            body = self.server.call("GET", f"/api/v1/tasks/{self.task_id}/roadmap")
        except ServerRefused as exc:
            if exc.status == 404:
                return None
            raise
        body.pop("changes", None)  # the last edit's, beside the roadmap (the review event has them too)
        body.pop("report", None)
        return Roadmap.model_validate(body)

    def _finish(self, completed: dict[str, Any]) -> int:
        from roadmap_agent.cli.dialog import finish

        task = self.server.call("GET", f"/api/v1/tasks/{self.task_id}")
        intent = task.get("intent") or {}
        language: Language = "zh" if intent.get("language") == "zh" else "en" if intent else self.language
        return finish(self.task_id, str(task["status"]), task.get("intent"), task.get("error"), task.get("error_code"),
                      self._roadmap(), as_json=self.as_json, resources=self.resources, language=language,
                      completed=completed, where=self.server.url)
