"""A whole deployment for a chaos scenario: N ``roadmap-agent serve`` and M ``roadmap-agent worker`` processes
on one PostgreSQL and one Redis, plus the clients a user would run against it.

Processes are started, killed (-9) and stopped by the PIDs recorded here, never by name. Clients behave as a
careful user's would: a request that fails on the network or with 5xx/429 is retried (on the next API process,
same ``Idempotency-Key``) until it gets an answer; event followers reconnect with ``Last-Event-ID`` (SSE) or
``?after=`` (WebSocket) and keep what they received, in order, for ``invariants.check_invariants``.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg.rows import dict_row
from serving import CLI, create_user_key, serve
from websockets.exceptions import WebSocketException
from websockets.sync.client import connect as ws_connect

GOAL = "I want to become a backend developer in 3 months, I know some Python, 10 hours a week"
TERMINAL = {"completed", "failed", "cancelled"}
# A request that blew up instead of answering (or a stream that broke mid-response) in an API log.
API_CRASHES = ('"unhandled_error"', "Exception in ASGI application")
# DB_POOL_TIMEOUT (5 s) + 1: how long after a worker's last loop restart the deployment counts as steady.
QUIET_AFTER_RESTART = 6.0
FRESH_HEARTBEATS = "SELECT count(*) AS n FROM procrastinate_workers WHERE last_heartbeat > now() - interval '2 seconds'"
DELIVERIES = re.compile(r'^roadmap_event_deliveries_total\{path="(?P<path>\w+)"\} (?P<n>[0-9.e+]+)$', re.MULTILINE)
# Tight recovery settings so each scenario fits in seconds (defaults: heartbeat 1 s, stalled after 4 s).
FAST = {
    "ROADMAP_AGENT_WORKER_HEARTBEAT": "0.5",
    "ROADMAP_AGENT_WORKER_STALLED_AFTER": "3",
    "ROADMAP_AGENT_WORKER_SWEEP_INTERVAL": "1",
    "ROADMAP_AGENT_WORKER_POLL_INTERVAL": "0.5",
    "ROADMAP_AGENT_WORKER_ORPHAN_AFTER": "3",
    "ROADMAP_AGENT_WORKER_MAX_BACKOFF": "4",
    "ROADMAP_AGENT_WORKER_GRACE": "2",
    "ROADMAP_AGENT_EVENT_POLL_INTERVAL": "0.5",
    "ROADMAP_AGENT_CREATE_BURST": "500",  # one API key submits every scenario's burst
    "ROADMAP_AGENT_CREATE_PER_MINUTE": "6000",
    "DB_OPERATION_TIMEOUT": "5",
    "DB_CONNECT_TIMEOUT": "3",
    "LOG_FORMAT": "json",
}


def libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def query(db_url: str, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Rows of ``sql`` on a fresh connection (the test's own view, independent of the processes' pools)."""
    with psycopg.connect(libpq(db_url), row_factory=dict_row, connect_timeout=3, autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()


def until(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(psycopg.Error):  # the database may be the thing that is down right now
            value = condition()
            if value:
                return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


# --- processes ---------------------------------------------------------------------------------------------

@dataclass
class Proc:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """kill -9, as a crash (or the OOM killer) would."""
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self, grace: float = 15) -> None:
        if not self.alive():
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGCONT)  # a paused process cannot act on SIGTERM
        self.process.terminate()
        try:
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def logged(self, event: str) -> list[dict[str, Any]]:
        """The JSON log lines of ``event`` (e.g. "run_superseded")."""
        needle = f'"event": "{event}"'
        return [json.loads(line) for line in self.log().splitlines() if line.startswith("{") and needle in line]


@dataclass
class Api:
    proc: Proc
    url: str


class Cluster:
    """API and worker processes for one environment; everything it started is stopped by ``close()``."""

    def __init__(self, root: Path, env: dict[str, str], *, worker_env: dict[str, str] | None = None,
                 observe_url: str | None = None) -> None:
        self.root = root
        self.env = {**FAST, **env}
        self.worker_env = worker_env or {}
        # The test reads the database directly, not through any fault the processes are put behind.
        self.db_url = observe_url or env["DATABASE_URL"]
        self.key = create_user_key(self.env)
        self.apis: list[Api] = []
        self.workers: list[Proc] = []
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        for worker in self.workers:
            worker.stop()
        self._stack.close()

    # -- starting ---------------------------------------------------------------------------------------

    def start(self, apis: int, workers: int, concurrency: int = 8) -> Cluster:
        """Start the APIs (waits until live) and the workers (started in parallel, not waited for)."""
        for _ in range(workers):
            self.add_worker(concurrency=concurrency)
        for _ in range(apis):
            self.add_api()
        return self

    def add_api(self, env: dict[str, str] | None = None) -> Api:
        index = len(self.apis)
        served = self._stack.enter_context(serve(self.root / f"api-{index}", {**self.env, **(env or {})},
                                                 api_key=self.key, timeout=60))
        api = Api(Proc(f"api-{index}", served.process, served.log_path), str(served.client.base_url).rstrip("/"))
        self.apis.append(api)
        return api

    def add_worker(self, *, concurrency: int = 8, env: dict[str, str] | None = None,
                   prefix: Sequence[str] = ()) -> Proc:
        """Start ``roadmap-agent worker``; ``prefix`` runs it through e.g. ``ip netns exec NAME``."""
        index = len(self.workers)
        home = self.root / f"worker-{index}"
        home.mkdir(parents=True, exist_ok=True)
        log_path = self.root / f"worker-{index}.log"
        full_env = {**os.environ, **self.env, **(env or {}), **self.worker_env, "ROADMAP_AGENT_HOME": str(home)}
        with log_path.open("wb") as log:
            process = subprocess.Popen([*prefix, CLI, "worker", "--concurrency", str(concurrency)], env=full_env,
                                       stdout=log, stderr=subprocess.STDOUT)
        worker = Proc(f"worker-{index}", process, log_path)
        self.workers.append(worker)
        return worker

    def worker_by_name(self, holder: str) -> Proc | None:
        """The worker whose run-holder name ("worker:<host>:<pid>") is ``holder``."""
        pid = holder.rsplit(":", 1)[-1]
        return next((w for w in self.workers if str(w.pid) == pid), None)

    def wait_for_workers(self, timeout: float = 60) -> None:
        """Until every live worker has registered with the queue (so it can take jobs)."""
        def registered() -> bool:
            for worker in self.workers:
                if worker.alive() and '"worker_started"' not in worker.log():
                    return False
            return True
        for worker in self.workers:
            assert worker.alive(), f"{worker.name} exited:\n{worker.log()[-3000:]}"
        until(registered, timeout, "the workers to start")

    # -- clients ----------------------------------------------------------------------------------------

    def client(self, api: Api, timeout: float = 10) -> httpx.Client:
        return httpx.Client(base_url=api.url, timeout=timeout, headers={"Authorization": f"Bearer {self.key}"})

    def submit(self, count: int, *, review: int = 0, via: int | None = None, timeout: float = 60) -> list[str]:
        """``count`` roadmap requests at once, spread over the APIs (or first to API ``via``); the first
        ``review`` of them wait for a human.

        Each is retried until some API answers 202 (same Idempotency-Key, so a retry is never a second task).
        The task ids, in submission order: every one of them was accepted (got a 202)."""
        with ThreadPoolExecutor(max_workers=min(count, 16)) as pool:
            return list(pool.map(lambda i: self.submit_one(via if via is not None else i, auto_approve=i >= review,
                                                           timeout=timeout), range(count)))

    def submit_one(self, api: int = 0, *, auto_approve: bool = True, timeout: float = 60) -> str:
        headers = {"Idempotency-Key": f"chaos-{uuid.uuid4().hex}"}
        reply = self.request("POST", "/api/v1/roadmaps", api, json={"goal": GOAL, "auto_approve": auto_approve},
                             headers=headers, timeout=timeout)
        assert reply.status_code == 202, reply.text
        return str(reply.json()["task_id"])

    def request(self, method: str, path: str, start: int = 0, *, timeout: float = 60, **kwargs: Any) -> httpx.Response:
        """Retry on network errors, 5xx and 429, moving to the next API each time, until a definite answer."""
        deadline = time.monotonic() + timeout
        attempt = 0
        while True:
            api = self.apis[(start + attempt) % len(self.apis)]
            attempt += 1
            try:
                with self.client(api) as client:
                    reply = client.request(method, path, **kwargs)
                if reply.status_code < 500 and reply.status_code != 429:
                    return reply
                problem = f"{reply.status_code} {reply.text[:200]}"
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            if time.monotonic() > deadline:
                raise AssertionError(f"{method} {path}: no answer within {timeout} s (last: {problem})")
            time.sleep(random.uniform(0.1, 0.4))

    def approve_when_asked(self, task_ids: Sequence[str], timeout: float = 120) -> threading.Thread:
        """A reviewer in the background: approves each task once it waits for review (409 = already decided)."""
        def review() -> None:
            waiting = set(task_ids)
            deadline = time.monotonic() + timeout
            while waiting and time.monotonic() < deadline:
                with contextlib.suppress(psycopg.Error):
                    rows = query(self.db_url, "SELECT id, status FROM tasks WHERE id = ANY(%s)", [list(waiting)])
                    for row in rows:
                        if row["status"] == "human_review_pending":
                            reply = self.request("POST", f"/api/v1/tasks/{row['id']}/review",
                                                 json={"approved": True}, timeout=30)
                            assert reply.status_code in (202, 409), reply.text
                            waiting.discard(row["id"])
                        elif row["status"] in TERMINAL:
                            waiting.discard(row["id"])
                time.sleep(0.3)

        thread = threading.Thread(target=review, name="reviewer", daemon=True)
        thread.start()
        return thread

    def follow(self, task_ids: Sequence[str], *, websocket: int = 0, timeout: float = 150) -> list[Follower]:
        """Live followers of ``task_ids`` (SSE; the first ``websocket`` of them over WebSocket), spread over
        the APIs; each reconnects to the next API after any error."""
        followers = [Follower(task_id, [a.url for a in self.apis], self.key, kind="ws" if i < websocket else "sse",
                              first=i, timeout=timeout) for i, task_id in enumerate(task_ids)]
        for follower in followers:
            follower.start()
        return followers

    def load(self, count: int = 24, *, review: int = 2, follow: int = 6, websocket: int = 2,
             ) -> tuple[list[str], list[Follower]]:
        """The usual load: ``count`` concurrent runs (``review`` of them approved by a reviewer thread) and
        live clients on the first ``follow`` tasks."""
        ids = self.submit(count, review=review)
        self.approve_when_asked(ids[:review])
        return ids, self.follow(ids[:follow], websocket=websocket)

    def mid_run(self, task_ids: Sequence[str], at_least: int, step: str = "curriculum_design",
                timeout: float = 60) -> None:
        """Until ``at_least`` of the runs are past their first checkpoint and inside ``step`` or later."""
        until(lambda: len(self.steps_started(step) & set(task_ids)) >= at_least, timeout, f"{at_least} runs at {step}")

    def after_recovery(self, count: int = 8, timeout: float = 30) -> list[str]:
        """Once the fault is over: every live worker heartbeats again and none has restarted its loop (or had
        its runs re-queued) for QUIET_AFTER_RESTART s; then ``count`` new runs (longer than STALLED_AFTER) are
        submitted, and a test asserts none of them is taken over, i.e. the deployment is back to steady state
        instead of limping (a worker that lost its heartbeat has all its runs taken over).

        Fresh heartbeats alone came too early: a request that was waiting for a pooled connection when the
        last fault ended can still time out DB_POOL_TIMEOUT later and restart that worker's loop, which hands
        back the runs it had just taken -- the fault's tail, not a deployment that stays broken."""
        live = sum(w.alive() for w in self.workers)
        until(lambda: query(self.db_url, FRESH_HEARTBEATS)[0]["n"] >= live, timeout,
              f"{live} workers to heartbeat again")
        until(lambda: time.time() - self.last_restart() >= QUIET_AFTER_RESTART, timeout,
              f"the workers to run {QUIET_AFTER_RESTART:g} s without a restart")
        return self.submit(count)

    def last_restart(self) -> float:
        """When a worker last restarted its loop or had runs re-queued (epoch seconds; 0 if never)."""
        stamps = [datetime.fromisoformat(line["timestamp"]).timestamp() for worker in self.workers
                  for event in ("worker_loop_restarting", "runs_requeued") for line in worker.logged(event)]
        return max(stamps, default=0.0)

    def lines_about(self, task_ids: Sequence[str], limit: int = 40) -> str:
        """The workers' log lines that name one of ``task_ids``, or restart a loop: why a run was taken over."""
        needles = [*task_ids, '"worker_loop_restarting"', '"runs_requeued"', '"run_handed_back"']
        found = [f"{worker.name}: {line[:300]}" for worker in self.workers for line in worker.log().splitlines()
                 if any(needle in line for needle in needles)]
        return "\n".join(sorted(found, key=lambda line: line.rsplit('"timestamp": "', 1)[-1])[-limit:])

    def finish(self, task_ids: Sequence[str], followers: Sequence[Follower], timeout: float = 120) -> None:
        """Until every task has finished and every client has seen it finish; every process still runs."""
        self.wait_terminal(task_ids, timeout)
        for follower in followers:
            follower.join(20)
        for proc in [*(a.proc for a in self.apis), *self.workers]:
            assert proc.alive() or proc.process.returncode == -9, f"{proc.name} died:\n{proc.log()[-3000:]}"
        for api in self.apis:
            crashes = [line[:300] for line in api.proc.log().splitlines() if any(p in line for p in API_CRASHES)]
            assert not crashes, f"{api.proc.name} failed requests with an unhandled error: {crashes[:3]}"

    # -- waiting and reading ----------------------------------------------------------------------------

    def all_task_ids(self) -> list[str]:
        return [str(r["id"]) for r in query(self.db_url, "SELECT id FROM tasks ORDER BY created_at")]

    def wait_terminal(self, task_ids: Sequence[str], timeout: float) -> None:
        """Until every task (and every other task in the database) is completed, failed or cancelled."""
        def done() -> bool:
            rows = query(self.db_url, "SELECT id, status FROM tasks")
            known = {r["id"] for r in rows}
            return set(task_ids) <= known and all(r["status"] in TERMINAL for r in rows)

        try:
            until(done, timeout, "every task to finish", interval=0.5)
        except AssertionError as exc:
            rows = query(self.db_url, "SELECT id, status, current_step, worker, run_epoch FROM tasks "
                                      "WHERE status NOT IN ('completed', 'failed', 'cancelled')")
            jobs = query(self.db_url, "SELECT lock, status::text, attempts, worker_id FROM procrastinate_jobs "
                                      "WHERE status IN ('todo', 'doing')")
            raise AssertionError(f"unfinished after {timeout} s: {rows}\njobs: {jobs}\n{self.logs_tail()}") from exc

    def holders(self) -> dict[str, str]:
        """task id -> the worker holding its run right now."""
        rows = query(self.db_url, "SELECT id, worker FROM tasks WHERE worker IS NOT NULL")
        return {str(r["id"]): str(r["worker"]) for r in rows}

    def steps_started(self, step: str) -> set[str]:
        rows = query(self.db_url, "SELECT DISTINCT task_id FROM task_events WHERE step = %s AND status = 'started'",
                     [step])
        return {str(r["task_id"]) for r in rows}

    def deliveries(self) -> Counter[str]:
        """Events the live APIs sent to clients, by path (replay, live, log_fallback), from /metrics."""
        total: Counter[str] = Counter()
        for api in self.apis:
            if not api.proc.alive():
                continue
            with self.client(api) as client:
                text = client.get("/metrics").text
            for match in DELIVERIES.finditer(text):
                total[match["path"]] += int(float(match["n"]))
        return total

    def logs_tail(self, lines: int = 15) -> str:
        parts = []
        for proc in [*(a.proc for a in self.apis), *self.workers]:
            tail = proc.log().splitlines()[-lines:]
            parts.append(f"--- {proc.name} (pid {proc.pid}, {'alive' if proc.alive() else 'dead'}):\n"
                         + "\n".join(tail))
        return "\n".join(parts)


# --- event followers ---------------------------------------------------------------------------------------

class Follower(threading.Thread):
    """One client following one task's events to the end, over SSE or WebSocket, reconnecting on errors."""

    def __init__(self, task_id: str, urls: list[str], key: str, *, kind: str = "sse", first: int = 0,
                 timeout: float = 150) -> None:
        super().__init__(name=f"follow-{kind}-{task_id[:8]}", daemon=True)
        self.task_id, self.urls, self.key, self.kind = task_id, urls, key, kind
        self.first, self.timeout = first, timeout
        self.received: list[tuple[int, str]] = []  # (seq, type) in arrival order, duplicates included
        self.connects = 0
        self.errors: list[str] = []
        self.finished = False

    @property
    def last(self) -> int:
        return self.received[-1][0] if self.received else 0

    def run(self) -> None:
        deadline = time.monotonic() + self.timeout
        attempt = self.first
        while not self.finished and time.monotonic() < deadline:
            url = self.urls[attempt % len(self.urls)]
            attempt += 1
            self.connects += 1
            try:
                (self._websocket if self.kind == "ws" else self._sse)(url)
            except (httpx.HTTPError, WebSocketException, OSError, ValueError) as exc:
                self.errors.append(f"{type(exc).__name__}: {str(exc)[:120]}")
            if not self.finished:
                time.sleep(random.uniform(0.1, 0.4))

    def _take(self, seq: int, type_: str) -> None:
        self.received.append((seq, type_))
        if type_ in TERMINAL:
            self.finished = True

    def _sse(self, url: str) -> None:
        headers = {"Authorization": f"Bearer {self.key}", "Accept": "text/event-stream"}
        if self.received:
            headers["Last-Event-ID"] = str(self.last)
        timeout = httpx.Timeout(5, read=20)
        with httpx.stream("GET", f"{url}/api/v1/tasks/{self.task_id}/events", headers=headers,
                          timeout=timeout) as reply:
            if reply.status_code != 200:
                raise ValueError(f"HTTP {reply.status_code}")
            data: list[str] = []
            for line in reply.iter_lines():
                if line.startswith("data:"):
                    data.append(line[5:].strip())
                elif not line and data:
                    event = json.loads("\n".join(data))
                    data = []
                    self._take(int(event["seq"]), str(event["type"]))
                    if self.finished:
                        return

    def _websocket(self, url: str) -> None:
        ws_url = url.replace("http://", "ws://") + f"/api/v1/tasks/{self.task_id}/ws?after={self.last}"
        with ws_connect(ws_url, additional_headers={"Authorization": f"Bearer {self.key}"}, open_timeout=5,
                        close_timeout=2) as socket:
            while True:
                message = json.loads(socket.recv(timeout=20))
                if "seq" not in message:
                    raise ValueError(f"not an event: {message}")
                self._take(int(message["seq"]), str(message["type"]))
                if self.finished:
                    return
