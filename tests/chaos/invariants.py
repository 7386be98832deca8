"""What must hold after any chaos scenario, read from the durable state (PostgreSQL) and from what clients saw.

- Every task reached a terminal state: every task in the database (those a client got a 202 for, and any
  an API process created before dying mid-request), and each ran to ``completed``.
- No task ran steps twice at once: each run's events carry the epoch of its claim, so per task the epochs in
  sequence order never go down, and a takeover (``task_recovering``) opens a strictly newer epoch.
- The event log is gap-free (seq 1..N), ends in exactly one terminal event and logs nothing twice; every
  client's stream, after dropping duplicates from reconnects, is exactly that log: nothing skipped or reordered.
- No roadmap is duplicated: exactly one roadmap row (``rm-<task id>``) per completed task, none for others.

``check_invariants`` asserts all of that and returns a ``Report`` with the figures a scenario asserts on
(takeovers, how long they took); its one-line summary is printed and shown at the end of the pytest run.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from cluster import TERMINAL, Follower, query

SUMMARIES: list[str] = []


@dataclass
class Scenario:
    """A scenario's name, its start, and when each fault began and ended (wall-clock seconds)."""

    name: str
    started: float = field(default_factory=time.time)
    faults: list[tuple[str, float, float]] = field(default_factory=list)

    @contextlib.contextmanager
    def fault(self, what: str) -> Iterator[None]:
        began = time.time()
        try:
            yield
        finally:
            self.faults.append((what, began, time.time()))

    def instant(self, what: str) -> None:
        """A fault with no duration (kill -9)."""
        now = time.time()
        self.faults.append((what, now, now))


@dataclass
class Report:
    scenario: str
    tasks: int
    statuses: dict[str, int]
    takeovers: int  # task_recovering events
    tasks_taken_over: set[str]
    takeover_delays: dict[str, float]  # task -> its slowest takeover, seconds after the start of the fault before it
    max_recovery: float  # the longest an unfinished task waited for its next event once a fault ended
    longest_stall: float  # the longest gap between two events of one task
    clients: int
    reconnects: int
    duplicates: int
    duration: float

    @property
    def takeover_after(self) -> float:
        """The slowest takeover, seconds after the start of the fault before it."""
        return max(self.takeover_delays.values(), default=0.0)

    def line(self) -> str:
        statuses = ", ".join(f"{n} {s}" for s, n in sorted(self.statuses.items()))
        return (f"{self.scenario}: {self.tasks} tasks ({statuses}); {self.takeovers} takeovers of "
                f"{len(self.tasks_taken_over)} tasks, slowest {self.takeover_after:.1f} s after its fault; "
                f"max recovery {self.max_recovery:.1f} s after a fault ended; longest stall "
                f"{self.longest_stall:.1f} s; {self.clients} clients, {self.reconnects} reconnects, "
                f"{self.duplicates} duplicates dropped; {self.duration:.0f} s")


def check_invariants(db_url: str, task_ids: Sequence[str], client_streams: Sequence[Follower], *,
                     scenario: Scenario) -> Report:
    tasks = {str(r["id"]): r for r in query(db_url, "SELECT id, status, roadmap_id, worker, created_at FROM tasks")}
    missing = set(task_ids) - set(tasks)
    assert not missing, f"accepted tasks missing from the database: {sorted(missing)}"
    not_done = {t: r["status"] for t, r in tasks.items() if r["status"] != "completed"}
    assert not not_done, f"tasks that did not complete: {not_done}"
    held = {t: r["worker"] for t, r in tasks.items() if r["worker"] is not None}
    assert not held, f"finished tasks still held by a worker: {held}"

    _check_roadmaps(db_url, tasks)
    events = _events(db_url)
    takeovers: list[tuple[str, float]] = []
    for task_id in tasks:
        takeovers.extend((task_id, ts) for ts in _check_log(task_id, events.get(task_id, [])))
    duplicates = sum(_check_stream(follower, events.get(follower.task_id, [])) for follower in client_streams)

    report = Report(
        scenario=scenario.name, tasks=len(tasks), statuses=dict(Counter(r["status"] for r in tasks.values())),
        takeovers=len(takeovers), tasks_taken_over={t for t, _ in takeovers},
        takeover_delays=_takeover_delays(scenario, takeovers),
        max_recovery=_max_recovery(scenario, events), longest_stall=_longest_stall(events),
        clients=len(client_streams), reconnects=sum(f.connects - 1 for f in client_streams),
        duplicates=duplicates, duration=time.time() - scenario.started)
    print(report.line())
    SUMMARIES.append(report.line())
    return report


def _events(db_url: str) -> dict[str, list[dict[str, Any]]]:
    rows = query(db_url, "SELECT task_id, seq, type, step, status, data, created_at FROM task_events "
                         "ORDER BY task_id, seq")
    by_task: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_task.setdefault(str(row["task_id"]), []).append({**row, "ts": row["created_at"].timestamp()})
    return by_task


def _check_roadmaps(db_url: str, tasks: dict[str, dict[str, Any]]) -> None:
    rows = query(db_url, "SELECT id, task_id FROM roadmaps")
    per_task = Counter(str(r["task_id"]) for r in rows)
    duplicated = {t: n for t, n in per_task.items() if n > 1}
    assert not duplicated, f"roadmaps duplicated: {duplicated}"
    for row in rows:
        task = tasks.get(str(row["task_id"]))
        assert task is not None and task["status"] == "completed", f"roadmap {row['id']} of an unfinished task"
        assert row["id"] == f"rm-{row['task_id']}" == task["roadmap_id"], f"roadmap id {row['id']} vs {task}"
    without = [t for t, r in tasks.items() if r["status"] == "completed" and per_task[t] != 1]
    assert not without, f"completed tasks without their roadmap: {without}"


def _check_log(task_id: str, events: list[dict[str, Any]]) -> list[float]:
    """Assert the task's event log is whole and fenced; the times of its takeovers."""
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(1, len(events) + 1)), f"{task_id}: event sequence has gaps: {seqs}"
    terminal = [e["seq"] for e in events if e["type"] in TERMINAL]
    assert terminal == [len(events)], f"{task_id}: terminal events at {terminal} of {len(events)}\n{_describe(events)}"
    for before, after in itertools.pairwise(events):
        assert _what(before) != _what(after), f"{task_id}: event {after['seq']} repeats {before['seq']}" \
                                              f"\n{_describe(events)}"
    takeovers = []
    highest = 0
    for event in events:
        epoch = event["data"].get("epoch")
        if epoch is None:  # "Task accepted" (and other events outside a run) carry no epoch
            continue
        assert epoch >= highest, (f"{task_id}: event {event['seq']} ({event['type']} {event['step']} "
                                  f"{event['status']}) of epoch {epoch} after epoch {highest}: two runs interleaved"
                                  f"\n{_describe(events)}")
        if event["type"] == "task_recovering":
            assert epoch > highest, (f"{task_id}: takeover at {event['seq']} did not open a new epoch"
                                     f"\n{_describe(events)}")
            takeovers.append(event["ts"])
        highest = epoch
    return takeovers


def _what(event: dict[str, Any]) -> tuple[Any, ...]:
    """What an event says; a run never says the same thing twice in a row (a retried append logged twice would)."""
    return event["type"], event["step"], event["status"], event["data"].get("epoch"), event["data"].get("review_round")


def _check_stream(follower: Follower, events: list[dict[str, Any]]) -> int:
    """Assert a client saw the task's whole log in order; how many duplicates (from reconnects) it dropped."""
    logged = {e["seq"]: e["type"] for e in events}
    where = f"{follower.kind} client of {follower.task_id} ({follower.connects} connections, {follower.errors[-3:]})"
    assert follower.finished, f"{where} never saw a terminal event; got {follower.received}"
    last = 0
    duplicates = 0
    for seq, type_ in follower.received:
        assert logged.get(seq) == type_, f"{where}: event {seq} is {type_}, the log says {logged.get(seq)}"
        if seq <= last:
            duplicates += 1
            continue
        assert seq == last + 1, f"{where}: got event {seq} after {last} (a gap): {follower.received}"
        last = seq
    assert last == len(events), f"{where}: ended at {last} of {len(events)}"
    return duplicates


def _takeover_delays(scenario: Scenario, takeovers: list[tuple[str, float]]) -> dict[str, float]:
    delays: dict[str, float] = {}
    for task_id, ts in takeovers:
        began = max((began for _, began, _ in scenario.faults if began <= ts), default=scenario.started)
        delays[task_id] = round(max(delays.get(task_id, 0.0), ts - began), 2)
    return delays


def _max_recovery(scenario: Scenario, events: dict[str, list[dict[str, Any]]]) -> float:
    """After each fault ended: how long did the slowest task still in flight wait for its next event?"""
    worst = 0.0
    for _, _, ended in scenario.faults:
        for log in events.values():
            if not log or log[0]["ts"] > ended or log[-1]["ts"] < ended:
                continue  # started after the fault ended, or finished before
            following = next(e["ts"] for e in log if e["ts"] >= ended)
            worst = max(worst, following - ended)
    return worst


def _longest_stall(events: dict[str, list[dict[str, Any]]]) -> float:
    return max((b["ts"] - a["ts"] for log in events.values() for a, b in itertools.pairwise(log)),
               default=0.0)


def _describe(events: list[dict[str, Any]]) -> str:
    return "\n".join(f"  {e['seq']:3} {e['created_at']:%H:%M:%S.%f} {e['type']:16} {e['step'] or '':20} "
                     f"{e['status'] or '':10} epoch={e['data'].get('epoch')}" for e in events)
