"""CLI commands for learning with a final roadmap: ``roadmaps``, ``progress``, ``mark``, ``replan``, ``calendar``,
``reviews`` and ``review``. Registered on the main app in cli/app.py; they go through the same service layer as
the HTTP routes (learning.py), acting as the CLI's user (``ROADMAP_AGENT_API_KEY`` or local). Roadmap ids may
be given by a unique prefix, with or without ``rm-``. Nothing heavy is imported before a command runs.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import date, time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from roadmap_agent.cli import ids
from roadmap_agent.cli.common import err, out, run_command, write

if TYPE_CHECKING:
    from roadmap_agent.services import Services

BAR_WIDTH = 24
# domain.progress.STATES, domain.reviews.RATINGS, domain.calendar.DEFAULT_DAYS (tests/unit/test_cli_units.py)
STATES = ("todo", "learning", "done", "skipped")
RATINGS = ("again", "hard", "good", "easy")
DEFAULT_DAYS = ("mon", "wed", "fri")
RoadmapId = Annotated[str, typer.Argument(metavar="ROADMAP_ID", help="A roadmap id, or a unique prefix of one.")]
ConceptId = Annotated[str, typer.Argument(metavar="CONCEPT_ID", help="A concept id, e.g. devops.git.")]

TodayOption = Annotated[str | None, typer.Option("--today", metavar="YYYY-MM-DD", help="Compute for this day.")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]


def _day(value: str | None) -> date | None:
    from roadmap_agent.errors import InvalidRequest

    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidRequest(f"--today: {value!r} is not a date; use YYYY-MM-DD.") from None


def bar(percent: float, width: int = BAR_WIDTH) -> str:
    filled = round(width * max(0.0, min(100.0, percent)) / 100)
    return "█" * filled + "░" * (width - filled)


def _call(work: Callable[[Services, str, str], Awaitable[int]], roadmap_id: str | None = None) -> None:
    """Run ``work(services, owner, full roadmap id)`` (the id resolved from a unique prefix)."""

    async def resolved(services: Services, owner: str) -> int:
        full = ""
        if roadmap_id is not None:
            async def page(limit: int, offset: int) -> list[str]:
                items, _total = await services.learning.store.list_roadmaps(owner, limit, offset)
                return [item["roadmap_id"] for item in items]

            full = await ids.roadmap_id(page, roadmap_id)
        return await work(services, owner, full)

    run_command(resolved)


def roadmaps(as_json: JsonFlag = False) -> None:
    """List my final roadmaps, newest first."""

    async def work(services: Services, owner: str, _id: str) -> int:
        from rich.table import Table

        items, _total = await services.learning.store.list_roadmaps(owner, 100, 0)
        if as_json:
            write(json.dumps(items, default=str, ensure_ascii=False, indent=2) + "\n")
            return 0
        table = Table("title", "version", "created")
        table.add_column("roadmap id", no_wrap=True)
        for item in items:
            table.add_row(item["title"], str(item["version"]), item["created_at"].strftime("%Y-%m-%d"),
                          item["roadmap_id"])
        out().print(table)
        return 0

    _call(work)


def progress(roadmap_id: RoadmapId, today: TodayOption = None, as_json: JsonFlag = False) -> None:
    """Show a roadmap's progress against its schedule."""

    async def work(services: Services, owner: str, full_id: str) -> int:
        from rich.table import Table

        from roadmap_agent.api.learning_schemas import ProgressView

        opened = await services.learning.open(full_id, owner)
        summary, records = await services.learning.summary(opened, _day(today))
        view = ProgressView.of(opened, summary, records)
        if as_json:
            write(view.model_dump_json(indent=2) + "\n")
            return 0
        table = Table("week", "id", "concept", "state", "hours", title=opened.roadmap.title)
        for item in view.items:
            week = str(item.week) if item.week else ("done" if item.kind == "finished" else "-")
            table.add_row(week, item.concept_id, item.name, item.state, f"{item.hours:g}/{item.planned_hours:g}")
        out().print(table)
        gap = f"{abs(summary.hours_ahead):g} h {'ahead of' if summary.hours_ahead >= 0 else 'behind'} the plan"
        out().print(f"{bar(summary.percent)} {summary.percent:g}%  ({summary.counts['done']} done, "
                    f"{summary.counts['skipped']} skipped, {summary.counts['learning']} learning of {summary.total})")
        out().print(f"{summary.standing.replace('_', ' ')}: {gap} on {summary.today}"
                    f"; planned finish {summary.planned_finish}, projected "
                    f"{summary.projected_finish or 'when you start'}  (version {view.version})")
        return 0

    _call(work, roadmap_id)


def mark(roadmap_id: RoadmapId, concept_id: ConceptId,
         state: Annotated[str | None, typer.Option(metavar="STATE", help=f"One of {', '.join(STATES)}.")] = None,
         hours: Annotated[float | None, typer.Option(min=0, max=1000, metavar="HOURS",
                                                     help="Hours spent, set to this.")] = None,
         add_hours: Annotated[float | None, typer.Option(min=0, max=1000, metavar="HOURS",
                                                         help="Add hours spent.")] = None,
         note: Annotated[str | None, typer.Option(metavar="TEXT", help="A note (Markdown).")] = None,
         today: TodayOption = None) -> None:
    """Set a concept's state, hours or note."""

    async def work(services: Services, owner: str, full_id: str) -> int:
        from roadmap_agent.store.learning import ProgressChange

        change = ProgressChange(state=state, hours=hours, add_hours=add_hours or None, note=note)
        saved = await services.learning.update(full_id, owner, concept_id, change, today=_day(today))
        err().print(f"{concept_id}: {saved.state}, {saved.hours:g} h (revision {saved.revision})", markup=False)
        return 0

    _call(work, roadmap_id)


def replan(roadmap_id: RoadmapId, today: TodayOption = None,
           weeks: Annotated[int | None, typer.Option(min=1, max=156, metavar="WEEKS", help="Weeks from today.")]
           = None,
           hours_per_week: Annotated[int | None, typer.Option(min=1, max=80, metavar="HOURS", help="New pace.")]
           = None) -> None:
    """Re-plan from today into a new version and say what changed."""

    async def work(services: Services, owner: str, full_id: str) -> int:
        opened, changes = await services.learning.replan(full_id, owner, today=_day(today), weeks=weeks,
                                                         hours_per_week=hours_per_week)
        err().print(f"version {changes.to_version}: {opened.roadmap.weeks} weeks at "
                    f"{opened.roadmap.hours_per_week} h/week, finish {changes.finish.before} -> "
                    f"{changes.finish.after}", markup=False)
        for change in changes.changes:
            if change.change != "moved":
                err().print(f"  {change.change}: {change.name}", markup=False)
        moved = sum(1 for c in changes.changes if c.change == "moved")
        if moved:
            err().print(f"  moved: {moved} concepts")
        for warning in opened.roadmap.warnings:
            err().print(f"! {warning}", markup=False)
        return 0

    _call(work, roadmap_id)


def calendar(roadmap_id: RoadmapId,
             output: Annotated[Path, typer.Option("-o", "--output", metavar="FILE",
                                                  help="Where to write the .ics file.")],
             days: Annotated[str, typer.Option(metavar="DAYS", help="Week days, e.g. mon,wed,fri.")]
             = ",".join(DEFAULT_DAYS),
             at: Annotated[str, typer.Option("--time", metavar="HH:MM", help="Session start.")] = "19:00",
             timezone: Annotated[str | None, typer.Option(metavar="ZONE", help="IANA zone (default: the "
                                                                               "roadmap's).")] = None) -> None:
    """Export study sessions and reviews as an iCalendar file."""

    async def work(services: Services, owner: str, full_id: str) -> int:
        from roadmap_agent.domain.calendar import WEEKDAYS, CalendarOptions
        from roadmap_agent.errors import InvalidRequest

        chosen = tuple(d.strip().lower()[:3] for d in days.split(",") if d.strip())
        if not chosen or any(d not in WEEKDAYS for d in chosen):
            raise InvalidRequest(f"--days: {days!r} must be week days of {', '.join(WEEKDAYS)}.")
        opened = await services.learning.open(full_id, owner)
        try:
            start = time.fromisoformat(at)
        except ValueError:
            raise InvalidRequest(f"--time: {at!r} is not a time of day; use HH:MM.") from None
        options = CalendarOptions(timezone=timezone or opened.record.timezone, days=chosen, at=start)
        output.write_bytes(await services.learning.calendar(full_id, owner, options))
        err().print(f"wrote {output} ({options.timezone}, {', '.join(chosen)} at {at})", markup=False)
        return 0

    _call(work, roadmap_id)


def reviews(today: TodayOption = None, as_json: JsonFlag = False) -> None:
    """What is due for review today, across my roadmaps."""

    async def work(services: Services, owner: str, _id: str) -> int:
        from rich.table import Table

        cards = await services.learning.due(owner, _day(today))
        rows: list[dict[str, Any]] = [{"roadmap_id": c.roadmap_id, "concept_id": c.concept_id, "name": c.name,
                                       "due": c.due.isoformat(), "reviews": c.reviews} for c in cards]
        if as_json:
            write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
            return 0
        table = Table("due", "roadmap id", "concept id", "concept")
        for row in rows:
            table.add_row(row["due"], row["roadmap_id"], row["concept_id"], row["name"])
        out().print(table if rows else "Nothing due.")
        return 0

    _call(work)


def review(roadmap_id: RoadmapId, concept_id: ConceptId,
           rating: Annotated[str, typer.Argument(metavar="RATING", help=f"One of {', '.join(RATINGS)}.")],
           today: TodayOption = None) -> None:
    """Record how a review went; prints the next review date."""

    async def work(services: Services, owner: str, full_id: str) -> int:
        result = await services.learning.review(full_id, owner, concept_id, rating, _day(today))
        err().print(f"{result.name}: next review on {result.due}", markup=False)
        return 0

    _call(work, roadmap_id)
