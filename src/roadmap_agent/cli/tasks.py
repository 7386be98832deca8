"""The commands a learner runs most: ``generate``, ``list``, ``show``, ``status``, ``resume``, ``retry``,
``cancel``. Task ids may be given by a unique prefix. Heavy modules are imported inside the commands.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from roadmap_agent.cli import ids
from roadmap_agent.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    Interrupt,
    LanguageChoice,
    LevelChoice,
    Store,
    err,
    fail,
    out,
    run_command,
    write,
)

if TYPE_CHECKING:
    from roadmap_agent.domain.models import LearnerRequest
    from roadmap_agent.services import Services
    from roadmap_agent.store.records import TaskRecord

TaskId = Annotated[str, typer.Argument(metavar="TASK_ID", help="A task id, or a unique prefix of one.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print {task_id, status, intent, roadmap} as JSON on stdout.")]
ApproveOption = Annotated[bool, typer.Option("--auto-approve", help="Approve the review without asking.")]
FullOption = Annotated[bool, typer.Option("--full", help="Show the whole roadmap at each review, not only what "
                                                         "changed and an overview.")]
ResourcesOption = Annotated[bool, typer.Option("--resources", help="List every resource of each concept "
                                                                   "(the tree shows the first).")]
MAX_GOAL_CHARS = 2000  # domain.models.MAX_GOAL_CHARS (checked by tests/unit/test_cli_units.py)
LIST_LIMIT = 20


def generate(
    goal: Annotated[str, typer.Argument(metavar="GOAL", help='What you want to learn, e.g. "become a backend '
                                                             'developer in 3 months".')],
    auto_approve: ApproveOption = False,
    as_json: JsonOption = False,
    known: Annotated[list[str] | None, typer.Option("--known", metavar="SKILL", help="A skill you already have "
                                                    "(repeat for several), e.g. --known git --known sql.")] = None,
    hours_per_week: Annotated[int | None, typer.Option(min=1, max=80, metavar="HOURS", help="Hours per week.")] = None,
    weeks: Annotated[int | None, typer.Option(min=1, max=156, metavar="WEEKS", help="Whole duration in weeks.")] = None,
    level: Annotated[LevelChoice | None, typer.Option(metavar="LEVEL",
                                                      help="beginner | intermediate | advanced.")] = None,
    lang: Annotated[LanguageChoice | None, typer.Option("--lang", metavar="en|zh",
                                                        help="Answer language; default: the goal's.")] = None,
    full: FullOption = False,
    resources: ResourcesOption = False,
    local: Annotated[bool, typer.Option("--local", help="Run it in this process. Without it, a `serve` running "
                                                        "for this home runs it (faster start).")] = False,
) -> None:
    """Plan a roadmap for GOAL; you approve it (or --auto-approve)."""
    from roadmap_agent.domain.lang import request_language
    from roadmap_agent.domain.messages import text

    language = request_language({"goal": goal, "language": lang})
    if not goal.strip():
        raise fail(text("cli.goal_empty", language), EXIT_USAGE, language)
    if len(goal.strip()) > MAX_GOAL_CHARS:
        raise fail(text("cli.goal_too_long", language, length=len(goal.strip()), limit=MAX_GOAL_CHARS), EXIT_USAGE,
                   language)
    if not local:
        from roadmap_agent.cli import remote

        server = remote.find()
        body = {"goal": goal.strip(), "auto_approve": auto_approve, "known_skills": known or [], "language": lang,
                "level": level, "hours_per_week": hours_per_week, "weeks": weeks}
        run = remote.Run(server, language, auto_approve, as_json, full, resources) if server else None
        code = run.start({k: v for k, v in body.items() if v is not None}) if run else None
        if code is not None:
            raise typer.Exit(code)
    interrupt = Interrupt(language=language)

    async def accept(store: Store, owner: str) -> None:
        """The task made durable and its id printed before the workflow's modules load (most of the start-up)."""
        from roadmap_agent.domain.models import LearnerRequest

        request = LearnerRequest(goal=goal.strip(), language=lang, auto_approve=auto_approve, level=level,
                                 hours_per_week=hours_per_week, weeks=weeks, known_skills=known or [])
        task = await _accept(store, owner, request)
        interrupt.task_id = task.task_id
        err().print(f"[dim]{text('cli.task', language, task_id=task.task_id)}[/]")

    async def work(services: Services, owner: str) -> int:
        from roadmap_agent.cli.follow import Follower

        task_id = interrupt.task_id or ""  # set by accept()
        await services.runner.resume(task_id)  # pending: run it here, or queue it for a worker
        return await Follower(services, task_id, as_json=as_json, auto_approve=auto_approve, full=full,
                              resources=resources).drive()

    run_command(work, interrupt=interrupt, prepare=accept)


async def _accept(store: Store, owner: str, request: LearnerRequest) -> TaskRecord:
    """``TaskRules.submit`` without a run (the services start it): the task row, its ``accepted`` event, and
    the owner's skill profile in its known skills."""
    from roadmap_agent.domain.catalog import load_catalog
    from roadmap_agent.events.bus import EventLog, InProcessBus
    from roadmap_agent.learning import Learning
    from roadmap_agent.metrics import Metrics
    from roadmap_agent.store.learning import LearningStore
    from roadmap_agent.workflow.tasks import TaskRules

    metrics = Metrics()
    events = EventLog(store.store, InProcessBus(), metrics)  # nobody can follow a task not created yet

    async def not_here(task_id: str) -> None:
        raise AssertionError(f"task {task_id} is run once the services are open")

    rules = TaskRules(store.store, events, store.settings.resilience, metrics, not_here)
    rules.known_skills = Learning(LearningStore(store.database), events, metrics, load_catalog()).known_skills
    return await rules.submit(owner, request, background=False)


def list_tasks(limit: Annotated[int, typer.Option(min=1, max=500, help="How many, newest first.")] = LIST_LIMIT,
               as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False) -> None:
    """List my tasks and roadmaps, newest first, with progress."""

    async def work(services: Services, owner: str) -> int:
        tasks, _total = await services.store.list_tasks(owner, limit, 0)
        queued = services.queue is not None
        rows = [{"task_id": t.task_id, "status": "interrupted" if ids.interrupted(t, queued=queued)
                 else t.status.value, "created_at": t.created_at.isoformat(timespec="seconds"),
                 "goal": t.request.get("goal", ""), "roadmap_id": t.roadmap_id,
                 "progress": await _percent(services, owner, t.roadmap_id)} for t in tasks]
        if as_json:
            write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
            return EXIT_OK
        _print_list(rows)
        return EXIT_OK

    run_command(work)


async def _percent(services: Services, owner: str, roadmap_id: str | None) -> float | None:
    """Progress of a roadmap whose learning has started (issue 15's store); None otherwise."""
    if roadmap_id is None or await services.learning.store.learning(roadmap_id, owner) is None:
        return None
    summary, _records = await services.learning.summary(await services.learning.open(roadmap_id, owner), None)
    return float(summary.percent)


def _print_list(rows: list[dict[str, Any]]) -> None:
    from rich.table import Table

    if not rows:
        err().print("No tasks yet: roadmap-agent generate \"what you want to learn\"")
        return
    table = Table("task", "status", "created", "progress", "goal", box=None, pad_edge=False)
    for row in rows:
        progress = "-" if row["progress"] is None else f"{row['progress']:g}%"
        table.add_row(row["task_id"][:12], row["status"], row["created_at"][:16].replace("T", " "), progress,
                      row["goal"])
    out().print(table)


def show(task_id: TaskId,
         as_json: Annotated[bool, typer.Option("--json", help="The roadmap as JSON (the export's bytes).")] = False,
         markdown: Annotated[bool, typer.Option("--markdown", help="The roadmap as Markdown (the export's bytes).")]
         = False,
         resources: ResourcesOption = False) -> None:
    """Show a task's roadmap: final, or the draft under review."""

    async def work(store: Store, owner: str) -> int:
        from roadmap_agent.cli.follow import roadmap_of
        from roadmap_agent.domain.messages import text
        from roadmap_agent.domain.render import roadmap_to_markdown
        from roadmap_agent.terminal import print_roadmap

        task = await store.store.get_task(await ids.task_id(store.store, owner, task_id), owner)
        roadmap = await roadmap_of(store, task.task_id)
        if roadmap is None:
            from roadmap_agent.workflow.runner import task_language

            language = task_language(task)
            raise fail(text("cli.no_roadmap", language, task_id=task.task_id), 1, language)
        if as_json:
            write(roadmap.model_dump_json(indent=2) + "\n")
        elif markdown:
            write(roadmap_to_markdown(roadmap))
        else:
            print_roadmap(out(), roadmap, resources=resources)
        return EXIT_OK

    run_command(work, light=True)


def status(task_id: TaskId) -> None:
    """Show a task's state as JSON, with its review decisions."""

    async def work(store: Store, owner: str) -> int:
        task = await store.store.get_task(await ids.task_id(store.store, owner, task_id), owner)
        decisions = (await store.store.decisions([task.task_id]))[task.task_id]
        view = {**task.model_dump(mode="json", exclude={"request"}),
                "decisions": [d.model_dump(mode="json") for d in decisions]}
        if ids.interrupted(task, queued=store.settings.uses_queue):
            view |= {"status": "interrupted", "resumable": True,
                     "resume_with": f"roadmap-agent resume {task.task_id}"}
        text = json.dumps(view, ensure_ascii=False, indent=2)
        if out().is_terminal:
            out().print_json(text)
        else:
            write(text + "\n")
        return EXIT_OK

    run_command(work, light=True)


def resume(task_id: TaskId, auto_approve: ApproveOption = False, as_json: JsonOption = False,
           full: FullOption = False) -> None:
    """Continue an interrupted task, or answer its review."""
    interrupt = Interrupt()

    async def work(services: Services, owner: str) -> int:
        from roadmap_agent.cli.follow import Follower
        from roadmap_agent.domain.messages import text
        from roadmap_agent.store.records import TaskStatus
        from roadmap_agent.workflow.runner import task_language

        task = await services.store.get_task(await ids.task_id(services.store, owner, task_id), owner)
        interrupt.task_id, interrupt.language = task.task_id, task_language(task)
        follower = Follower(services, task.task_id, as_json=as_json, auto_approve=auto_approve, full=full)
        if task.status.terminal:
            language = task_language(task)
            hint = text("cli.retry_hint", language, task_id=task.task_id) if task.status == TaskStatus.FAILED else ""
            state = text(f"status.{task.status.value}", language)
            err().print(text("cli.already", language, task_id=task.task_id, status=state) + hint)
            return await follower.result()
        await services.runner.resume(task.task_id)
        return await follower.drive()

    run_command(work, interrupt=interrupt)


def retry(task_id: TaskId, auto_approve: ApproveOption = False, as_json: JsonOption = False,
          full: FullOption = False) -> None:
    """Retry a failed task from its last checkpoint."""
    interrupt = Interrupt()

    async def work(services: Services, owner: str) -> int:
        from roadmap_agent.cli.follow import Follower
        from roadmap_agent.workflow.runner import task_language

        task = await services.store.get_task(await ids.task_id(services.store, owner, task_id), owner)
        interrupt.task_id, interrupt.language = task.task_id, task_language(task)
        await services.runner.retry(task.task_id, owner)
        return await Follower(services, task.task_id, as_json=as_json, auto_approve=auto_approve, full=full).drive()

    run_command(work, interrupt=interrupt)


def cancel(task_id: TaskId) -> None:
    """Cancel a task (now if it waits, else at its next step)."""

    async def work(services: Services, owner: str) -> int:
        from roadmap_agent.domain.messages import text
        from roadmap_agent.workflow.runner import task_language

        task = await services.store.get_task(await ids.task_id(services.store, owner, task_id), owner)
        if ids.interrupted(task, queued=services.queue is not None):  # nobody runs it: no step boundary comes
            await _cancel_orphan(services, task.task_id, task_language(task))
        task = await services.runner.cancel(task.task_id, owner)
        key = "cli.cancelled" if task.status.value == "cancelled" else "cli.cancel_requested"
        err().print(text(key, task_language(task), task_id=task.task_id))
        return EXIT_OK

    run_command(work)


async def _cancel_orphan(services: Services, task_id: str, language: LanguageChoice) -> None:
    from roadmap_agent.domain.messages import text
    from roadmap_agent.store.records import EventType, TaskStatus

    orphaned = {TaskStatus.RUNNING, TaskStatus.PENDING}
    if await services.store.set_status_if(task_id, orphaned, TaskStatus.CANCELLED, current_step=None, worker=None):
        await services.events.emit(task_id, EventType.CANCELLED, text("event.cancelled", language),
                                   status="cancelled")
