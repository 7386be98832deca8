"""The ``roadmap-agent`` command line: thin parsing -> Settings -> asyncio.run(...).

stdout carries only results (``--json`` output, the roadmap); progress, prompts and logs go to stderr.
Everything a task shows (progress, the review, prompts, errors) is in the task's language, from the message
catalogue. The review shows what the last edit changed first; the whole roadmap on request (``f``, ``--full``).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from functools import cache
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from roadmap_agent.domain.messages import text
from roadmap_agent.domain.models import MAX_GOAL_CHARS, Language, LearnerRequest, Level, ReviewDecision, Roadmap
from roadmap_agent.domain.render import roadmap_to_markdown
from roadmap_agent.errors import OutOfScope, RoadmapAgentError, Unauthorized
from roadmap_agent.events.stream import stream_events
from roadmap_agent.logging import configure_logging
from roadmap_agent.services import Services, open_services
from roadmap_agent.settings import Settings
from roadmap_agent.store.records import EventType, TaskStatus
from roadmap_agent.store.users import LOCAL_USER_ID, UserStore
from roadmap_agent.terminal import LineReader, print_roadmap, progress_line, review_view
from roadmap_agent.workflow.graph import request_language
from roadmap_agent.workflow.runner import task_language

EXIT_OUT_OF_SCOPE = 3  # the offline catalog does not cover the goal (README: exit codes)

app = typer.Typer(help="Personalised learning roadmaps from a goal, through a durable reviewed workflow.",
                  no_args_is_help=True, add_completion=False)
users_app = typer.Typer(help="Users and API keys: create (the key is shown once), list, revoke.",
                        no_args_is_help=True)
app.add_typer(users_app, name="users")
out = Console()
err = Console(stderr=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print {task_id, status, intent, roadmap} as JSON on stdout.")]
ApproveOption = Annotated[bool, typer.Option("--auto-approve", help="Approve the review without asking.")]
LangOption = Annotated[Language | None, typer.Option("--lang", help="Answer language (en|zh); default: the goal's.")]
FullOption = Annotated[bool, typer.Option("--full", help="Show the whole roadmap at each review, not only what "
                                                         "changed and an overview.")]
# Answers at the review prompt (compared lower-cased, without trailing punctuation).
APPROVE = frozenset({"", "y", "yes", "ok", "okay", "approve", "lgtm",
                     "好", "好的", "可以", "同意", "批准", "行", "没问题"})
REJECT = frozenset({"n", "no", "nope", "不", "不要", "不行", "不好", "否", "不同意", "拒绝"})
SHOW_FULL = frozenset({"f", "full", "完整", "全部"})


def _settings(default_level: str = "WARNING") -> Settings:
    try:
        settings = Settings.load()
    except ValidationError as exc:  # the input values are left out: they may be secrets
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors())
        raise _fail(f"invalid configuration ({problems})", 2) from None
    level = os.environ.get("LOG_LEVEL", default_level)
    configure_logging(level, settings.log_format)
    return settings


def _fail(message: str, code: int = 1, language: Language = "en") -> typer.Exit:
    err.print(f"[red]{text('cli.error', language)}[/] {escape(message)}")
    return typer.Exit(code)


@app.command()
def serve(host: Annotated[str | None, typer.Option(help="Bind address (ROADMAP_AGENT_HOST).")] = None,
          port: Annotated[int | None, typer.Option(help="Port (ROADMAP_AGENT_PORT).")] = None) -> None:
    """Run the HTTP API (OpenAPI docs at /docs)."""
    import uvicorn

    from roadmap_agent.api.app import create_app
    from roadmap_agent.api.server import uvicorn_options
    from roadmap_agent.web.mount import login_link

    settings = _settings("INFO")
    _run(_wait_for_database(settings))  # one clear sentence and exit 1 if it never comes up
    # The protocol-level cap on a WebSocket message; smaller oversize messages get our explanation (routes.py).
    ws_max_size = max(4 * settings.api.ws_max_message_bytes, 64 * 1024)
    application, bind, listen = create_app(settings), host or settings.api.host, port or settings.api.port
    link = login_link(application, bind, listen)
    if link:  # like Jupyter: one sign-in for the local user's browser (server mode: the API key form)
        err.print(f"Open the web app: {link} (one-time sign-in link)", soft_wrap=True, highlight=False, markup=False)
    uvicorn.run(application, host=bind, port=listen, log_level="warning", timeout_graceful_shutdown=10,
                ws_max_size=ws_max_size, **uvicorn_options(settings.api))  # header and idle timeouts (api/server.py)


async def _wait_for_database(settings: Settings) -> int:
    from roadmap_agent.infra.database import Database
    from roadmap_agent.startup import wait_for_database

    async with Database.from_settings(settings.database_url(), settings.database) as database:
        await wait_for_database(database, settings.resilience)
    return 0


@app.command()
def worker(concurrency: Annotated[int | None, typer.Option(
        min=1, max=256, help="Runs executed at once (ROADMAP_AGENT_WORKER_CONCURRENCY, default 4).")] = None,
           health_port: Annotated[int | None, typer.Option(
        min=1, max=65535, help="Serve /health/live, /health/ready and /metrics on this port "
                               "(ROADMAP_AGENT_WORKER_HEALTH_PORT; bound on ROADMAP_AGENT_HOST).")] = None) -> None:
    """Execute queued runs (server mode, PostgreSQL). Run as many as you like; SIGTERM drains gracefully."""
    from roadmap_agent.workflow.health_server import serve_health
    from roadmap_agent.workflow.worker import serve_queue

    settings = _settings("INFO")
    if not settings.uses_queue:
        raise _fail("`worker` takes runs from the queue in PostgreSQL: set DATABASE_URL (or POSTGRES_HOST ...). "
                    "On the embedded default, `serve` and `generate` run the workflow themselves.", 2)
    size = concurrency or settings.worker.concurrency
    _run(_wait_for_database(settings))

    async def main() -> int:
        async with open_services(settings, role="worker", queue_pool=size + 4) as services:
            assert services.queue is not None  # noqa: S101 - uses_queue was checked above
            async with AsyncExitStack() as stack:
                if port := health_port or settings.worker.health_port:
                    await stack.enter_async_context(serve_health(services, settings.api.host, port))
                await serve_queue(services.runner, services.queue, settings.worker, size)
        return 0

    raise typer.Exit(_run(main()))


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema (also done automatically at startup)."""
    from roadmap_agent.infra.database import Database
    from roadmap_agent.infra.database import migrate as run_migrations

    settings = _settings()
    _run(_wait_for_database(settings))  # a migrate Job started with its database waits for it, then migrates

    async def main() -> int:
        async with Database.from_settings(settings.database_url(), settings.database) as database:
            await run_migrations(database)
            err.print(f"[green]✓[/] schema is up to date at {database.display_url}")
        return 0

    raise typer.Exit(_run(main()))


@app.command()
def check(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Fail when any configured dependency is not ok, "
                                                          "optional ones (Redis, storage, LLM) included.")] = False,
    timeout: Annotated[float, typer.Option(min=0.5, max=10, help="Seconds each login/round-trip step may take.")] = 5.0,
) -> None:
    """Test each dependency (DNS, TCP, login, round trip) and diagnose failures; exit 1 if a required one is down."""
    from roadmap_agent.infra.check import print_report, run_check

    settings = _settings()
    report = run_check(settings, strict=strict, step_timeout=timeout)
    if as_json:
        sys.stdout.write(json.dumps(report.to_dict(), ensure_ascii=False, indent=2) + "\n")
    else:
        print_report(out, report)
    raise typer.Exit(report.exit_code)


@app.command()
def generate(
    goal: Annotated[str, typer.Argument(help='What you want to learn, e.g. "become a backend developer in 3 months".')],
    auto_approve: ApproveOption = False,
    as_json: JsonOption = False,
    lang: LangOption = None,
    hours_per_week: Annotated[int | None, typer.Option(min=1, max=80, help="Hours per week.")] = None,
    weeks: Annotated[int | None, typer.Option(min=1, max=156, help="Whole duration in weeks.")] = None,
    level: Annotated[Level | None, typer.Option(help="beginner | intermediate | advanced.")] = None,
    full: FullOption = False,
) -> None:
    """Build a roadmap for GOAL, showing progress; asks you to approve it unless --auto-approve."""
    settings = _settings()
    language = request_language({"goal": goal, "language": lang})
    if not goal.strip():
        raise _fail(text("cli.goal_empty", language), 2, language)
    if len(goal.strip()) > MAX_GOAL_CHARS:
        raise _fail(text("cli.goal_too_long", language, length=len(goal.strip()), limit=MAX_GOAL_CHARS), 2, language)
    request = LearnerRequest(goal=goal.strip(), language=lang, auto_approve=auto_approve,
                             hours_per_week=hours_per_week, weeks=weeks, level=level)
    holder: dict[str, str] = {"language": language}

    async def main() -> int:
        async with open_services(settings, role="cli") as services:
            task = await services.runner.submit(await _owner(services), request)
            holder["task_id"] = task.task_id
            err.print(f"[dim]{text('cli.task', language, task_id=task.task_id)}[/]")
            return await _drive(services, task.task_id, as_json=as_json, auto_approve=auto_approve, full=full)

    raise typer.Exit(_run(main(), holder))


@app.command()
def resume(task_id: str, auto_approve: ApproveOption = False, as_json: JsonOption = False,
           full: FullOption = False) -> None:
    """Continue TASK_ID from its last checkpoint (after Ctrl-C or a crash), or answer its review."""
    settings = _settings()
    holder = {"task_id": task_id}

    async def main() -> int:
        async with open_services(settings, role="cli") as services:
            task = await services.store.get_task(task_id, await _owner(services))
            language = holder["language"] = task_language(task)
            if task.status.terminal:
                hint = text("cli.retry_hint", language, task_id=task_id) if task.status == TaskStatus.FAILED else ""
                status = text(f"status.{task.status.value}", language)
                err.print(text("cli.already", language, task_id=task_id, status=status) + hint)
                return await _result(services, task_id, as_json)
            await services.runner.resume(task_id)
            return await _drive(services, task_id, as_json=as_json, auto_approve=auto_approve, full=full)

    raise typer.Exit(_run(main(), holder))


@app.command()
def retry(task_id: str, auto_approve: ApproveOption = False, as_json: JsonOption = False,
          full: FullOption = False) -> None:
    """Retry a failed TASK_ID from its last checkpoint (the steps that finished are not run again)."""
    settings = _settings()
    holder = {"task_id": task_id}

    async def main() -> int:
        async with open_services(settings, role="cli") as services:
            holder["language"] = task_language(await services.store.get_task(task_id, await _owner(services)))
            await services.runner.retry(task_id, await _owner(services))
            return await _drive(services, task_id, as_json=as_json, auto_approve=auto_approve, full=full)

    raise typer.Exit(_run(main(), holder))


@app.command()
def status(task_id: str) -> None:
    """Show a task's state as JSON, with the history of its review decisions."""
    settings = _settings()

    async def main() -> int:
        async with open_services(settings) as services:
            task = await services.store.get_task(task_id, await _owner(services))
            decisions = (await services.store.decisions([task_id]))[task_id]
            view = {**task.model_dump(mode="json", exclude={"request"}),
                    "decisions": [d.model_dump(mode="json") for d in decisions]}
            out.print_json(json.dumps(view, ensure_ascii=False))
            return 0

    raise typer.Exit(_run(main()))


@app.command()
def show(task_id: str,
         as_json: Annotated[bool, typer.Option("--json", help="The roadmap as JSON.")] = False,
         markdown: Annotated[bool, typer.Option("--markdown", help="The roadmap as Markdown.")] = False) -> None:
    """Show a task's roadmap (final, or the draft under review)."""
    settings = _settings()

    async def main() -> int:
        async with open_services(settings) as services:
            task = await services.store.get_task(task_id, await _owner(services))
            roadmap = await _roadmap_of(services, task_id)
            if roadmap is None:
                raise _fail(text("cli.no_roadmap", task_language(task), task_id=task_id), 1, task_language(task))
            if as_json:
                out.print_json(roadmap.model_dump_json())
            elif markdown:
                out.print(roadmap_to_markdown(roadmap), markup=False, highlight=False)
            else:
                print_roadmap(out, roadmap)
            return 0

    raise typer.Exit(_run(main()))


@users_app.command("create")
def users_create(name: Annotated[str, typer.Argument(help="Who the key is for, e.g. alice.")],
                 admin: Annotated[bool, typer.Option("--admin", help="May list every user's tasks.")] = False) -> None:
    """Create a user and print their API key once, on stdout (only its hash is stored)."""
    settings = _settings()

    async def main() -> int:
        async with _user_store(settings) as store:
            user, key = await store.create_user(name, is_admin=admin)
        sys.stdout.write(key + "\n")
        err.print(f"Created user {user.name!r} (id {user.id}{', admin' if admin else ''}). The key above is shown "
                  "only this once: store it now, and send it as 'Authorization: Bearer <key>'.")
        return 0

    raise typer.Exit(_run(main()))


@users_app.command("list")
def users_list() -> None:
    """Users and their keys (prefixes only; keys themselves are never stored)."""
    settings = _settings()

    async def main() -> int:
        async with _user_store(settings) as store:
            infos = await store.list_users()
        table = Table("user id", "name", "admin", "created", "keys (prefix, id, state)")
        for info in infos:
            keys = "\n".join(f"{k.prefix}… {k.id} {'revoked' if k.revoked_at else 'active'}" for k in info.keys)
            table.add_row(info.user.id, info.user.name, "yes" if info.user.is_admin else "",
                          info.created_at.strftime("%Y-%m-%d %H:%M"), keys or "-")
        out.print(table)
        return 0

    raise typer.Exit(_run(main()))


@users_app.command("revoke-key")
def users_revoke_key(key: Annotated[str, typer.Argument(help="The key's id or prefix, from `users list`.")]) -> None:
    """Revoke one API key: requests with it answer 401 from now on."""
    settings = _settings()

    async def main() -> int:
        async with _user_store(settings) as store:
            info = await store.revoke_key(key)
        err.print(f"Revoked key {info.prefix}… (id {info.id}) of user {info.user_id}.")
        return 0

    raise typer.Exit(_run(main()))


# -- helpers ---------------------------------------------------------------------------------------


@asynccontextmanager
async def _user_store(settings: Settings) -> AsyncIterator[UserStore]:
    from roadmap_agent.infra.database import Database
    from roadmap_agent.infra.database import migrate as run_migrations

    async with Database.from_settings(settings.database_url(), settings.database) as database:
        await run_migrations(database)
        yield UserStore(database)


async def _owner(services: Services) -> str:
    """Who this in-process CLI acts as: the user of ROADMAP_AGENT_API_KEY when set, else the local user."""
    key = services.settings.api.api_key
    if key is None or not key.get_secret_value():
        return LOCAL_USER_ID
    user = await services.users.authenticate(key.get_secret_value())
    if user is None:
        raise Unauthorized("ROADMAP_AGENT_API_KEY is not a valid key for this database (unknown or revoked); "
                           "unset it to act as the local user, or create one with `roadmap-agent users create`.")
    return user.id


def _run(coro: Any, holder: dict[str, str] | None = None) -> int:
    holder = holder or {}
    language: Language = "zh" if holder.get("language") == "zh" else "en"
    try:
        return int(asyncio.run(coro))
    except KeyboardInterrupt:
        task_id = holder.get("task_id")
        hint = text("cli.resume_hint", language, task_id=task_id) if task_id else ""
        err.print(f"\n[yellow]{text('cli.interrupted', language)}[/]{hint}")
        return 130
    except RoadmapAgentError as exc:
        raise _fail(exc.message, 1, language) from None


async def _roadmap_of(services: Services, task_id: str) -> Roadmap | None:
    task = await services.store.get_task(task_id)
    body = (await services.store.get_roadmap(task.roadmap_id) if task.roadmap_id
            else await services.store.draft_roadmap(task_id))
    return Roadmap.model_validate(body) if body else None


async def _drive(services: Services, task_id: str, *, as_json: bool, auto_approve: bool, full: bool = False) -> int:
    """Follow the task to the end, printing progress; answer reviews from the terminal (or auto-approve).

    In-process the run is an asyncio task of this process; in server mode a worker runs it and this only
    follows (Ctrl-C then leaves the run going on the workers).
    """
    printer = asyncio.create_task(_print_progress(services, task_id))
    hint = asyncio.create_task(_hint_if_no_worker(services, task_id)) if services.queue else None
    try:
        while True:
            task = await services.runner.wait(task_id)
            if task.status != TaskStatus.HUMAN_REVIEW_PENDING:
                break
            decision = await _ask_review(services, task_id, auto_approve, full)
            if decision is None:
                err.print(text("cli.pending", task_language(task), task_id=task_id))
                return 0
            await services.runner.review(task_id, decision)
    finally:
        await asyncio.sleep(0)  # let the printer catch the last events
        for helper in (printer, hint):
            if helper is not None:
                helper.cancel()
        await asyncio.gather(*(h for h in (printer, hint) if h is not None), return_exceptions=True)
    await _drain_progress(services, task_id)
    return await _result(services, task_id, as_json)


async def _hint_if_no_worker(services: Services, task_id: str, after: float = 5.0) -> None:
    await asyncio.sleep(after)
    task = await services.store.get_task(task_id)
    if task.status == TaskStatus.PENDING:
        err.print(f"[yellow]{escape(text('cli.still_queued', task_language(task)))}[/]")


_printed: dict[str, int] = {}


async def _print_progress(services: Services, task_id: str) -> None:
    language = request_language((await services.store.get_task(task_id)).request)
    async for event in stream_events(task_id, _printed.get(task_id, 0), services.store, services.bus, 0.5):
        _show_event(task_id, event, language)


async def _drain_progress(services: Services, task_id: str) -> None:
    language = task_language(await services.store.get_task(task_id))
    for event in await services.store.events_after(task_id, _printed.get(task_id, 0)):
        _show_event(task_id, event, language)


def _show_event(task_id: str, event: Any, language: Language) -> None:
    if event.seq <= _printed.get(task_id, 0):
        return
    _printed[task_id] = event.seq
    line = progress_line(event, language)
    if line:
        err.print(line)


@cache
def _stdin() -> LineReader:
    """One reader for the process: it keeps what it read past the current line (piped answers)."""
    return LineReader(sys.stdin.fileno())


async def _read_answer() -> str | None:
    """One line from the terminal, stripped; None at the end of input. Ctrl-C interrupts it at once."""
    line = await _stdin().readline()
    return None if line == "" else line.strip()


def _normalised(answer: str) -> str:
    return answer.lower().rstrip(".!。！~ ")


async def _ask_review(services: Services, task_id: str, auto_approve: bool, full: bool) -> ReviewDecision | None:
    """Show what changed (the whole roadmap with ``full`` or on request) and ask; None: no answer (EOF)."""
    if auto_approve:
        return ReviewDecision(approved=True)
    await _drain_progress(services, task_id)
    roadmap = await _roadmap_of(services, task_id)
    requested = await services.store.last_event(task_id, EventType.HUMAN_REVIEW_REQUIRED)
    review = requested.data if requested is not None else {}
    language = roadmap.language if roadmap is not None else "en"
    if roadmap is not None:
        err.print(review_view(roadmap, review, full=full))
    while True:
        if review.get("last_round"):
            last = text("cli.prompt.last", language, round=review["review_round"], max=review.get("max_review_rounds"))
            err.print(f"[yellow]{escape(last)}[/]")
        err.print(f"[bold]{escape(text('cli.prompt', language))}[/]")
        answer = await _read_answer()
        if answer is None:
            return None
        if _normalised(answer) in APPROVE:
            return ReviewDecision(approved=True)
        if _normalised(answer) in SHOW_FULL and roadmap is not None:
            print_roadmap(err, roadmap)
            continue
        if _normalised(answer) in REJECT:
            err.print(f"[bold]{escape(text('cli.ask_changes', language))}[/]")
            answer = await _read_answer()
            if answer is None:
                return None
            if not answer:
                continue
        if review.get("last_round"):
            continue  # a rejection would be refused: say so again and ask for approval
        return ReviewDecision(approved=False, feedback=answer)


async def _result(services: Services, task_id: str, as_json: bool) -> int:
    task = await services.store.get_task(task_id)
    roadmap = await _roadmap_of(services, task_id)
    if as_json:
        payload = {"task_id": task_id, "status": task.status.value, "intent": task.intent,
                   "roadmap": roadmap.model_dump(mode="json") if roadmap else None}
        if task.error:
            payload["error"] = task.error
            payload["error_code"] = task.error_code
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
    elif roadmap is not None and task.status == TaskStatus.COMPLETED:
        print_roadmap(out, roadmap)
    if task.status == TaskStatus.FAILED and task.error_code == OutOfScope.code:
        return EXIT_OUT_OF_SCOPE  # the progress line has shown the message
    if task.status == TaskStatus.FAILED:
        err.print(f"[red]{escape(text('event.failed', task_language(task), reason=task.error or ''))}[/]")
        return 1
    return 0 if task.status == TaskStatus.COMPLETED else 1


def main() -> None:
    if os.getpid() == 1:  # a container's first process: the kernel drops signals that have no handler
        signal.signal(signal.SIGTERM, _exit_on_sigterm)  # serve and worker install graceful ones later
    app()


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # the shell's convention for "ended by this signal"


from roadmap_agent.cli_learning import register as _register_learning  # noqa: E402 - needs `app` defined above

_register_learning(app)
