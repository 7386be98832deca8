"""Terminal output for the CLI (rich): progress lines, the roadmap tree, the weekly schedule."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.tree import Tree

from roadmap_agent.domain.models import Roadmap
from roadmap_agent.store.records import Event, EventType

STEP_LABELS = {
    "intent_analysis": "Analysing your goal",
    "curriculum_design": "Designing the curriculum",
    "structure_validation": "Checking the structure",
    "roadmap_edit": "Editing the roadmap",
    "human_review": "Review",
    "finalize": "Saving and exporting",
}


def progress_line(event: Event) -> str | None:
    """One line of progress for an event, or None for events not worth a line."""
    label = STEP_LABELS.get(event.step or "", event.step or "")
    if event.type == EventType.PROGRESS and event.status == "started":
        return f"[cyan]…[/] {label}"
    if event.type == EventType.PROGRESS and event.status == "completed":
        return f"[green]✓[/] {label}: {event.message}{_planner(event.data or {})}"
    if event.type == EventType.TASK_RECOVERING:
        return f"[yellow]↻[/] {event.message}"
    if event.type == EventType.FAILED:
        return f"[red]✗[/] {event.message}"
    if event.type in (EventType.COMPLETED, EventType.CANCELLED, EventType.HUMAN_REVIEW_REQUIRED):
        return f"[bold]•[/] {event.message}"
    return None


def _planner(data: dict[str, Any]) -> str:
    """Which planner answered a step, when a model is configured: "(model gpt-4o)" or the fallback and why."""
    if data.get("fallback_reason"):
        return f" [yellow](offline planner: {escape(str(data['fallback_reason']))})[/]"
    if data.get("planner") == "llm":
        return f" [dim](model {escape(str(data.get('llm_usage', {}).get('model', '')))})[/]"
    return ""


def roadmap_view(roadmap: Roadmap) -> Group:
    hours = "h" if roadmap.language == "en" else "小时"
    tree = Tree(f"[bold]{roadmap.title}[/]\n[dim]{roadmap.summary}[/]")
    project_label = "Project" if roadmap.language == "en" else "项目"
    for stage in roadmap.stages:
        style = "dim magenta" if stage.optional else "bold magenta"
        stage_node = tree.add(f"[{style}]{stage.order}. {escape(stage.name)}[/]")
        for module in stage.modules:
            module_node = stage_node.add(f"[bold]{escape(module.name)}[/]")
            for concept in module.concepts:
                module_node.add(f"{escape(concept.name)} [dim]({concept.hours:g} {hours}, {concept.difficulty})[/]")
        if stage.project is not None:
            project = stage_node.add(f"[bold green]{project_label}:[/] {escape(stage.project.title)} "
                                     f"[dim]({stage.project.hours:g} {hours})[/]")
            for criterion in stage.project.acceptance_criteria:
                project.add(f"[dim]✓ {escape(criterion)}[/]")
    schedule = Table(title="Weekly schedule" if roadmap.language == "en" else "每周安排", show_lines=False)
    schedule.add_column("Week" if roadmap.language == "en" else "周", justify="right")
    schedule.add_column(hours, justify="right")
    schedule.add_column("Topics" if roadmap.language == "en" else "内容")
    names = {c.id: c.name for c in roadmap.concepts()}
    projects = {p.id: f"{project_label}: {p.title}" for p in roadmap.projects()}
    for week in roadmap.schedule:
        topics = [names.get(c, c) for c in week.concept_ids] + [projects.get(p, p) for p in week.project_ids]
        schedule.add_row(str(week.week), f"{week.hours:g}", escape(", ".join(topics)))
    parts: list[object] = [tree, schedule]
    if roadmap.notes:
        parts.insert(0, Panel("\n".join(roadmap.notes), title="Notes" if roadmap.language == "en" else "说明",
                              border_style="cyan"))
    if roadmap.warnings:
        parts.insert(0, Panel("\n".join(roadmap.warnings), title="Warnings" if roadmap.language == "en" else "提醒",
                              border_style="yellow"))
    return Group(*parts)  # type: ignore[arg-type]


def print_roadmap(console: Console, roadmap: Roadmap) -> None:
    console.print(roadmap_view(roadmap))
