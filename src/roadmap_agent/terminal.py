"""Terminal output for the CLI (rich): progress lines, the review view (what changed first), the roadmap tree,
the weekly schedule, and a line reader that Ctrl-C interrupts at once.

Every label comes from the message catalogue in the task's language.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.tree import Tree

from roadmap_agent.domain.changes import ConceptMove, EditReport
from roadmap_agent.domain.messages import join, text
from roadmap_agent.domain.models import Language, Roadmap
from roadmap_agent.event_lines import event_line
from roadmap_agent.store.records import Event


def progress_line(event: Event, language: Language = "en") -> str | None:
    """One line of progress for an event, or None for events not worth a line (``event_lines.event_line``)."""
    return event_line(event.type.value, event.status, event.step, event.message, event.data or {}, language)


def _panel(lines: list[str], title: str, style: str) -> Panel:
    # expand=False: a pipe's console is very wide (nothing wraps there), the box fits its text instead
    return Panel("\n".join(escape(line) for line in lines), title=title, border_style=style, expand=False)


def _header(roadmap: Roadmap) -> list[object]:
    lang = roadmap.language
    parts: list[object] = []
    if roadmap.warnings:
        parts.append(_panel(roadmap.warnings, text("view.warnings", lang), "yellow"))
    if roadmap.notes:
        parts.append(_panel(roadmap.notes, text("view.notes", lang), "blue"))
    return parts


def roadmap_view(roadmap: Roadmap, *, resources: bool = False) -> Group:
    """The tree (stages, modules, concepts with their first resource, or all with ``resources``), then the
    weekly schedule."""
    lang = roadmap.language
    tree = Tree(f"[bold]{escape(roadmap.title)}[/]\n[dim]{escape(roadmap.summary)}[/]")
    for stage in roadmap.stages:
        style = "dim magenta" if stage.optional else "bold magenta"
        stage_node = tree.add(f"[{style}]{stage.order}. {escape(stage.name)}[/]")
        for module in stage.modules:
            module_node = stage_node.add(f"[bold]{escape(module.name)}[/]")
            for concept in module.concepts:
                line = text("view.concept", lang, name=concept.name, hours=f"{concept.hours:g}",
                            difficulty=text(f"level.{concept.difficulty}", lang))
                concept_node = module_node.add(escape(line))
                for resource in concept.resources if resources else concept.resources[:1]:
                    shown = text("view.resource", lang, title=resource.title, url=resource.url)
                    concept_node.add(f"[dim]{escape(shown)}[/]")
        if stage.project is not None:
            project = stage_node.add("[bold green]" + escape(text("view.project", lang, title=stage.project.title,
                                                                  hours=f"{stage.project.hours:g}")) + "[/]")
            for criterion in stage.project.acceptance_criteria:
                project.add(f"[dim]✓ {escape(criterion)}[/]")
    schedule = Table(title=text("view.schedule", lang), show_lines=False)
    schedule.add_column(text("view.week", lang), justify="right")
    schedule.add_column(text("view.hours", lang), justify="right")
    schedule.add_column(text("view.topics", lang))
    names = {c.id: c.name for c in roadmap.concepts()}
    names.update({p.id: text("view.project_short", lang, title=p.title) for p in roadmap.projects()})
    sep = text("list.sep", lang)
    for week in roadmap.schedule:
        topics = [names.get(c, c) for c in [*week.concept_ids, *week.project_ids]]
        schedule.add_row(str(week.week), f"{week.hours:g}", escape(sep.join(topics)))
    return Group(*_header(roadmap), tree, schedule)  # type: ignore[arg-type]


def print_roadmap(console: Console, roadmap: Roadmap, *, resources: bool = False) -> None:
    console.print(roadmap_view(roadmap, resources=resources))


# -- the review: what changed first -----------------------------------------------------------------------------


SHOWN_PER_KIND = 6  # a diff line names this many concepts, then "and N more"


def _names(items: list[str], lang: Language) -> str:
    if len(items) <= SHOWN_PER_KIND:
        return join(items, lang)
    shown = text("list.sep", lang).join(items[:SHOWN_PER_KIND])
    return text("diff.more", lang, items=shown, count=len(items) - SHOWN_PER_KIND)


def _stage(order: int | None, lang: Language) -> str:
    return str(order) if order is not None else text("diff.optional", lang)


def _moves(moves: list[ConceptMove], lang: Language) -> str:
    return _names([text("diff.moved.item", lang, name=m.name, before=_stage(m.stage_before, lang),
                        after=_stage(m.stage_after, lang)) for m in moves], lang)


def _retimed(moves: list[ConceptMove], lang: Language) -> str:
    return _names([text("diff.retimed.item", lang, name=m.name, before=f"{m.hours_before or 0:g}",
                        after=f"{m.hours_after or 0:g}") for m in moves], lang)


def diff_lines(report: EditReport, lang: Language) -> list[str]:
    """The diff against the draft before, one line per kind of change, then the totals."""
    diff = report.diff
    lines = []
    if diff.added:
        lines.append(text("diff.added", lang, items=_names([a.name for a in diff.added], lang)))
    if diff.removed:
        lines.append(text("diff.removed", lang, items=_names([r.name for r in diff.removed], lang)))
    if diff.moved:
        lines.append(text("diff.moved", lang, items=_moves(diff.moved, lang)))
    if diff.retimed:
        lines.append(text("diff.retimed", lang, items=_retimed(diff.retimed, lang)))
    if diff.resources_filtered:
        lines.append(text("diff.resources", lang, count=diff.resources_filtered))
    if not lines:
        lines.append(text("diff.nothing", lang))
    lines.append(text("diff.totals", lang, hours_before=f"{diff.hours_before:g}", hours_after=f"{diff.hours_after:g}",
                      weeks_before=diff.weeks_before, weeks_after=diff.weeks_after))
    return lines


def overview_lines(roadmap: Roadmap) -> list[str]:
    """The roadmap in a few lines: title, summary, one line per stage."""
    lang = roadmap.language
    lines = [roadmap.title, roadmap.summary]
    for stage in roadmap.stages:
        concepts = [c for m in stage.modules for c in m.concepts]
        lines.append(text("view.stage", lang, order=stage.order, name=stage.name, concepts=len(concepts),
                          hours=f"{sum(c.hours for c in concepts):g}"))
    return lines


def review_view(roadmap: Roadmap, review: dict[str, Any], *, full: bool = False) -> Group:
    """What the learner reviews: the round, the last edit's changes and diff, the warnings, then the
    roadmap in a few lines (or whole, when ``full``)."""
    lang = roadmap.language
    parts: list[object] = []
    if review.get("review_round"):
        title = text("view.round", lang, round=review["review_round"], max=review.get("max_review_rounds", "?"))
        parts.append(f"[bold]{escape(title)}[/]")
    if review.get("report"):
        report = EditReport.model_validate(review["report"])
        applied = [c.message for c in report.applied] or [text("step.edit.nothing", lang)]
        parts.append(_panel([*applied, "", *diff_lines(report, lang)], text("view.changes", lang), "green"))
        if report.not_understood:
            parts.append(_panel([n.message for n in report.not_understood], text("view.not_applied", lang), "red"))
    if full:
        parts.append(roadmap_view(roadmap))
    else:
        parts += [*_header(roadmap), escape("\n".join(overview_lines(roadmap))),
                  f"[dim]{escape(text('view.full_hint', lang))}[/]"]
    return Group(*parts)  # type: ignore[arg-type]


# -- reading an answer ------------------------------------------------------------------------------------------


class LineReader:
    """Lines from a file descriptor without a thread: a blocked ``readline`` in a worker thread would keep
    Ctrl-C from ending the process until Enter is pressed (asyncio waits for its executor on the way out).

    Terminals and pipes are watched by the event loop; a regular file (``< answers.txt``) never blocks, so it
    is read directly.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._buffer = bytearray()
        self._eof = False

    def _take_line(self) -> str | None:
        end = self._buffer.find(b"\n")
        if end < 0 and not self._eof:
            return None
        end = len(self._buffer) if end < 0 else end + 1
        line, self._buffer = bytes(self._buffer[:end]), self._buffer[end:]
        return line.decode("utf-8", errors="replace")

    def _fill(self) -> None:
        chunk = os.read(self.fd, 65536)
        self._eof = not chunk
        self._buffer += chunk

    async def _readable(self) -> None:
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            if not ready.done():
                ready.set_result(None)

        try:
            loop.add_reader(self.fd, wake)
        except PermissionError:  # a regular file: epoll refuses it, and reading it never blocks
            return
        try:
            await ready
        finally:
            loop.remove_reader(self.fd)

    async def readline(self) -> str:
        """The next line with its newline, or "" at the end of input."""
        while (line := self._take_line()) is None:
            await self._readable()
            self._fill()
        return line
