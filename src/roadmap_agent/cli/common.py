"""What every command shares: the consoles, Settings, one-line failures, and ``run_command`` (open what the
command needs, run it, close, map our errors to an exit code).

Nothing heavy is imported at module level: ``--help`` and ``--version`` must not load the workflow stack
(bench/cli_startup.py measures it). Each command imports what it uses inside its body.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Literal, NoReturn

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from roadmap_agent.infra.database import Database
    from roadmap_agent.settings import Settings
    from roadmap_agent.store.repository import TaskStore
    from roadmap_agent.store.users import UserStore

# Exit codes (README "Exit codes", and the epilog of --help).
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_OUT_OF_SCOPE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
EXIT_CODES_HELP = "Exit codes: 0 ok, 1 failed, 2 usage, 3 out of scope, 130 interrupted."
# Consoles off a terminal: wide enough that nothing is wrapped (a pipe or a file gets whole lines).
PIPE_WIDTH = 100_000
# The CLI's option types; tests/unit/test_cli_units.py checks they equal domain.models' (importing that
# module here would load pydantic for --help).
LanguageChoice = Literal["en", "zh"]
LevelChoice = Literal["beginner", "intermediate", "advanced"]


def _console(stream: Any, *, stderr: bool = False) -> Console:
    from rich.console import Console

    tty = stream.isatty()
    no_color = bool(os.environ.get("NO_COLOR"))  # https://no-color.org: any non-empty value
    return Console(stderr=stderr, width=None if tty else PIPE_WIDTH, soft_wrap=not tty, no_color=no_color,
                   color_system="auto" if tty and not no_color else None, highlight=tty and not no_color)


@cache
def out() -> Console:
    """stdout: results only (the roadmap, tables, JSON)."""
    return _console(sys.stdout)


@cache
def err() -> Console:
    """stderr: progress, prompts, hints and errors."""
    return _console(sys.stderr, stderr=True)


def write(text: str) -> None:
    """Bytes for a pipe: exactly ``text`` on stdout (Markdown and JSON exports, keys)."""
    sys.stdout.write(text)
    sys.stdout.flush()


def fail(message: str, code: int = EXIT_FAILED, language: str = "en") -> typer.Exit:
    from rich.markup import escape

    from roadmap_agent.domain.messages import text

    err().print(f"[red]{text('cli.error', 'zh' if language == 'zh' else 'en')}[/] {escape(message)}")
    return typer.Exit(code)


def load_settings(default_level: str = "WARNING") -> Settings:
    """Settings from the environment and ``.env``; logging at ``LOG_LEVEL`` (either), else ``default_level``."""
    from pydantic import ValidationError

    from roadmap_agent.logging import configure_logging
    from roadmap_agent.settings import Settings

    try:
        settings = Settings.load()
    except ValidationError as exc:  # the input values are left out: they may be secrets
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors())
        raise fail(f"invalid configuration ({problems})", EXIT_USAGE) from None
    level = settings.log_level if "log_level" in settings.model_fields_set else default_level
    configure_logging(level, settings.log_format)
    return settings


@dataclass
class Interrupt:
    """What Ctrl-C should say: the task to resume and in which language (filled in as a command learns it)."""

    task_id: str | None = None
    language: str = "en"


@dataclass
class Store:
    """The light path for commands that only read tasks (``status``, ``show``): no workflow, no planner."""

    settings: Settings
    database: Database
    store: TaskStore
    users: UserStore


@asynccontextmanager
async def open_store(settings: Settings) -> AsyncIterator[Store]:
    from roadmap_agent.infra.database import Database, migrate
    from roadmap_agent.startup import wait_for_database
    from roadmap_agent.store.repository import TaskStore
    from roadmap_agent.store.users import UserStore

    async with Database.from_settings(settings.database_url(), settings.database) as database:
        await wait_for_database(database, settings.resilience)
        await migrate(database)
        yield Store(settings, database, TaskStore(database), UserStore(database))


Work = Callable[[Any, str], Awaitable[int]]
Prepare = Callable[[Store, str], Awaitable[None]]


def run_command(work: Work, *, light: bool = False, anonymous: bool = False, role: str = "cli",
                interrupt: Interrupt | None = None, prepare: Prepare | None = None) -> NoReturn:
    """Open the services (or only the task store when ``light``), call ``work(services, owner)``, close, and
    exit with its code: Ctrl-C is 130 with the resume hint, our errors one red line and 1.

    ``anonymous``: the work acts as nobody (user administration), so no API key is checked. ``prepare``: work
    done on the task store alone before the services (and the workflow's modules, most of the start-up) load.
    """
    settings = load_settings()

    async def main() -> int:
        if light:
            async with open_store(settings) as store:
                return await work(store, "" if anonymous else await owner(settings, store.users))
        if prepare is not None:
            async with open_store(settings) as store:
                await prepare(store, await owner(settings, store.users))
        from roadmap_agent.services import open_services

        async with open_services(settings, role=role) as services:
            return await work(services, await owner(settings, services.users))

    raise typer.Exit(run(main(), interrupt))


def run(coro: Coroutine[Any, Any, int], interrupt: Interrupt | None = None) -> int:
    import asyncio

    from roadmap_agent.errors import RoadmapAgentError

    interrupt = interrupt or Interrupt()
    try:
        return int(asyncio.run(coro))
    except KeyboardInterrupt:
        from rich.markup import escape

        from roadmap_agent.domain.messages import text

        lang: LanguageChoice = "zh" if interrupt.language == "zh" else "en"
        hint = text("cli.resume_hint", lang, task_id=interrupt.task_id) if interrupt.task_id else ""
        err().print(f"\n[yellow]{escape(text('cli.interrupted', lang) + hint)}[/]")
        return EXIT_INTERRUPTED
    except RoadmapAgentError as exc:
        raise fail(exc.message, EXIT_FAILED, interrupt.language) from None


async def owner(settings: Settings, users: UserStore) -> str:
    """Who this in-process CLI acts as: the user of ROADMAP_AGENT_API_KEY when set, else the local user."""
    from roadmap_agent.errors import Unauthorized
    from roadmap_agent.store.users import LOCAL_USER_ID

    key = settings.api.api_key
    if key is None or not key.get_secret_value():
        return LOCAL_USER_ID
    user = await users.authenticate(key.get_secret_value())
    if user is None:
        raise Unauthorized("ROADMAP_AGENT_API_KEY is not a valid key for this database (unknown or revoked); "
                           "unset it to act as the local user, or create one with `roadmap-agent users create`.")
    return user.id
