"""What the templates show, shaped from the store's records: a task's steps, the last edit's changes, the
schedule with dates. Pure functions, no IO."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from roadmap_agent.domain.changes import EditReport, RoadmapDiff
from roadmap_agent.domain.models import Roadmap
from roadmap_agent.domain.versions import ConceptChange
from roadmap_agent.steps import STEPS
from roadmap_agent.store.records import Event, EventType


@dataclass
class StepRow:
    """One line of the task page: a step run (started, then done), a review, a failure, a retry."""

    key: str  # text.json key of its label: step.<name>, or event.<type>
    state: str  # running | done | waiting | failed | info
    seq: int
    message: str = ""
    planner: str | None = None
    fallback_reason: str | None = None
    duration_ms: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def step_rows(events: list[Event]) -> list[StepRow]:
    rows: list[StepRow] = []
    running: dict[str, StepRow] = {}
    for event in events:
        if event.type == EventType.PROGRESS and event.step in STEPS:
            step = str(event.step)
            if event.status == "started":
                running[step] = StepRow(f"step.{step}", "running", event.seq)
                rows.append(running[step])
                continue
            row = running.pop(step, None)
            if row is None:  # review decisions and replays without a "started"
                row = StepRow(f"step.{step}", "done", event.seq)
                rows.append(row)
            row.state, row.seq, row.message = "done", event.seq, event.message
            row.planner = event.data.get("planner")
            row.fallback_reason = event.data.get("fallback_reason")
            row.duration_ms = event.data.get("duration_ms")
            row.extra = {k: event.data[k] for k in ("review_round", "approved") if k in event.data}
        elif event.type == EventType.PROGRESS:  # accepted (the first event) or a retry
            rows.append(StepRow("event.retry" if rows else "event.accepted", "info", event.seq, event.message))
        elif event.type == EventType.HUMAN_REVIEW_REQUIRED:
            rows.append(StepRow("event.human_review_required", "waiting", event.seq,
                                extra={"review_round": event.data.get("review_round")}))
        else:
            state = {EventType.FAILED: "failed", EventType.COMPLETED: "done"}.get(event.type, "info")
            if event.type in (EventType.FAILED, EventType.CANCELLED):  # the step it stopped in did not finish
                for row in running.values():
                    row.state = "failed" if event.type == EventType.FAILED else "info"
                running.clear()
            rows.append(StepRow(f"event.{event.type.value}", state, event.seq, event.message))
    return rows


def change_sentences(changes: Any) -> list[str]:
    """The last edit's change list: today a list of sentences; an EditReport-like dict (``applied`` and
    ``not_understood``, each with ``message``) is read too."""
    if isinstance(changes, dict):
        items = list(changes.get("applied") or []) + list(changes.get("not_understood") or [])
    elif isinstance(changes, list):
        items = changes
    else:
        return []
    sentences = [item.get("message") if isinstance(item, dict) else item for item in items]
    return [str(s) for s in sentences if s]


def last_changes(events: list[Event]) -> list[str]:
    """The changes reported with the latest review request (empty for a first draft)."""
    for event in reversed(events):
        if event.type == EventType.HUMAN_REVIEW_REQUIRED:
            return change_sentences(event.data.get("changes"))
    return []


@dataclass(frozen=True)
class WeekRow:
    week: int
    starts: date
    ends: date
    hours: float
    concepts: list[tuple[str, str]]  # (id, name)
    projects: list[str]  # titles


def schedule_rows(roadmap: Roadmap, start: date) -> list[WeekRow]:
    names = {c.id: c.name for c in roadmap.concepts()}
    titles = {p.id: p.title for p in roadmap.projects()}
    rows = []
    for week in roadmap.schedule:
        first = start + timedelta(weeks=week.week - 1)
        rows.append(WeekRow(week.week, first, first + timedelta(days=6), week.hours,
                            [(c, names.get(c, c)) for c in week.concept_ids],
                            [titles.get(p, p) for p in week.project_ids]))
    return rows


def last_diff(events: list[Event]) -> RoadmapDiff | None:
    """The structured diff of the latest edit (``report.diff`` of the latest review request), None before one."""
    for event in reversed(events):
        if event.type == EventType.HUMAN_REVIEW_REQUIRED:
            report = event.data.get("report")
            return EditReport.model_validate(report).diff if isinstance(report, dict) else None
    return None


def version_change_values(change: ConceptChange) -> dict[str, Any]:
    """What a version change's sentence (``vchange.<kind>``) names: weeks and hours before and after."""
    return {"name": change.name, "before": change.before.week or "–", "after": change.after.week or "–",
            "hours_before": _hours(change.before.hours), "hours_after": _hours(change.after.hours)}


def _hours(value: float | None) -> str:
    return "–" if value is None else f"{value:g}"
