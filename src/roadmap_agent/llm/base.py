"""The one interface the workflow plans through; the offline planner and model-backed planners implement it.

Planner methods return plain domain values. How a call was answered -- by the model or by the offline planner,
why it fell back, what it cost -- travels beside the value as a ``PlannerNote``: the workflow opens
``collect_notes()`` around a step and planners ``record()`` into it. A context variable holding a list keeps that
per task (concurrent runs share one planner) and reaches into tasks a planner starts (they copy the context,
hence the same list).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal, Protocol

from roadmap_agent.domain.changes import EditReport
from roadmap_agent.domain.models import Intent, LearnerRequest, Roadmap

PlannerKind = Literal["llm", "offline"]


class Planner(Protocol):
    name: str

    async def analyze_intent(self, request: LearnerRequest) -> Intent: ...

    async def design_curriculum(self, intent: Intent, roadmap_id: str) -> Roadmap: ...

    async def edit_roadmap(self, roadmap: Roadmap, intent: Intent, feedback: str,
                           today: date | None = None) -> tuple[Roadmap, EditReport]:
        """The edited roadmap and the report: what was applied, what was not understood (with a hint), the diff.
        ``today`` (default: the current date) turns "finish by June 30" into weeks."""
        ...


@dataclass(frozen=True)
class PlannerNote:
    """How one planner call was answered."""

    planner: PlannerKind
    fallback_reason: str | None = None
    warning: str | None = None  # for the learner, in the roadmap's language: shown with the roadmap
    usage: dict[str, Any] = field(default_factory=dict)  # model, calls, tokens, cost

    def event_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"planner": self.planner}
        if self.fallback_reason:
            data["fallback_reason"] = self.fallback_reason
        if self.usage:
            data["llm_usage"] = self.usage
        return data


_NOTES: ContextVar[list[PlannerNote] | None] = ContextVar("planner_notes", default=None)


@contextmanager
def collect_notes() -> Iterator[list[PlannerNote]]:
    """The notes planners record until the block ends (nested blocks collect separately)."""
    notes: list[PlannerNote] = []
    token = _NOTES.set(notes)
    try:
        yield notes
    finally:
        _NOTES.reset(token)


def record(note: PlannerNote) -> None:
    notes = _NOTES.get()
    if notes is not None:
        notes.append(note)
