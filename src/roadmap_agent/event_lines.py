"""One terminal line per task event (rich markup), from the event's plain fields.

Stdlib, rich's markup escaping and the message catalogue only: a CLI following a running ``serve`` prints the
first step line from the server's JSON before it has loaded pydantic, and ``terminal.progress_line`` renders
stored events the same way. ``kind`` is an ``EventType`` value (a ``StrEnum`` compares equal to it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.markup import escape

from roadmap_agent.domain.messages import text

if TYPE_CHECKING:
    from roadmap_agent.domain.models import Language

# EventType values (store/records.py; tests/unit/test_event_lines.py checks they match).
TERMINAL_KINDS = frozenset({"completed", "failed", "cancelled"})
_SUMMARY_KINDS = frozenset({*TERMINAL_KINDS, "human_review_required"})


def step_label(step: str | None, language: Language) -> str:
    return text(f"step.{step}", language) if step else ""


def event_line(kind: str, status: str | None, step: str | None, message: str, data: dict[str, Any],
               language: Language = "en") -> str | None:
    """The line for one event, or None for events not worth a line."""
    label = step_label(step, language)
    if kind == "progress" and status == "started":
        return f"[cyan]…[/] {label}"
    if kind == "progress" and status == "completed":
        return f"[green]✓[/] {label}{text('punct.colon', language)}{escape(message)}{_planner(data, language)}"
    if kind == "task_recovering":
        return f"[yellow]↻[/] {escape(message)}"
    if kind == "failed":
        return f"[red]✗[/] {escape(message)}"
    if kind in _SUMMARY_KINDS:
        return f"[bold]•[/] {escape(message)}"
    return None


def _planner(data: dict[str, Any], language: Language) -> str:
    """Which planner answered a step, when a model is configured: "(model gpt-4o)" or the fallback and why."""
    if data.get("fallback_reason"):
        note = text("view.planner.fallback", language, reason=data["fallback_reason"])
        return f" [yellow]({escape(note)})[/]"
    if data.get("planner") == "llm":
        note = text("view.planner.model", language, model=data.get("llm_usage", {}).get("model", ""))
        return f" [dim]({escape(note)})[/]"
    return ""
