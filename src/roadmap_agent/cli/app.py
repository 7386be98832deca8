"""The Typer application: commands in the order a learner reaches for them, ``--version``, plain help (no rich
boxes: they cost a third of a second to import and wrap in pipes), one-line usage errors, exit codes.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Annotated

import typer
from typer._click.exceptions import ClickException, NoArgsIsHelpError  # typer 0.2x vendors click
from typer.core import TyperArgument

from roadmap_agent import __version__, cli_learning
from roadmap_agent.cli import admin, tasks
from roadmap_agent.cli.common import EXIT_CODES_HELP, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE

PROG = "roadmap-agent"

app = typer.Typer(help="Personalised learning roadmaps from a goal, through a durable reviewed workflow.",
                  epilog=EXIT_CODES_HELP, no_args_is_help=True, rich_markup_mode=None,
                  pretty_exceptions_enable=False, context_settings={"help_option_names": ["-h", "--help"]})


def _usage_name(self: TyperArgument) -> str:
    """``GOAL`` / ``[GOAL]`` in the usage line (typer writes ``{goal}`` for a required argument)."""
    name = self.display_name_raw if self.required else f"[{self.display_name_raw}]"
    return name + ("..." if self.nargs != 1 else "")


# Arguments carry their metavar already: no "<str>" after it in the help.
setattr(TyperArgument, "_usage_display_name", _usage_name)  # noqa: B010 - patching a method mypy calls read-only
setattr(TyperArgument, "display_type_rich", lambda self, ctx: None)  # noqa: B010


def _print_version(value: bool) -> None:
    if value:
        sys.stdout.write(f"{PROG} {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", is_eager=True, callback=_print_version,
                                                help="Print the version and exit.")] = False) -> None:
    """Personalised learning roadmaps from a goal, through a durable reviewed workflow."""


# By how often a learner uses them: plan, look, learn, recover, then running the service.
for name, command in (
    ("generate", tasks.generate), ("list", tasks.list_tasks), ("show", tasks.show), ("status", tasks.status),
    ("progress", cli_learning.progress), ("mark", cli_learning.mark), ("reviews", cli_learning.reviews),
    ("review", cli_learning.review), ("resume", tasks.resume), ("retry", tasks.retry), ("cancel", tasks.cancel),
    ("replan", cli_learning.replan), ("roadmaps", cli_learning.roadmaps), ("calendar", cli_learning.calendar),
    ("serve", admin.serve), ("worker", admin.worker), ("check", admin.check), ("migrate", admin.migrate),
):
    app.command(name, epilog=EXIT_CODES_HELP if name == "generate" else None)(command)
app.add_typer(admin.users_app, name="users")


def one_line(error: ClickException) -> str:
    """``roadmap-agent generate: Invalid value for '--weeks': ... (see roadmap-agent generate --help)``."""
    ctx = getattr(error, "ctx", None)
    where = ctx.command_path if ctx is not None else PROG
    message = " ".join(error.format_message().split())
    see = f" (see {where} --help)" if ctx is not None else ""
    return f"{where}: {message}{see}\n"


def main() -> None:
    if os.getpid() == 1:  # a container's first process: the kernel drops signals that have no handler
        signal.signal(signal.SIGTERM, _exit_on_sigterm)  # serve and worker install graceful ones later
    try:
        code = app(prog_name=PROG, standalone_mode=False)
    except NoArgsIsHelpError as exc:  # bare `roadmap-agent` (or `users`): the help itself
        sys.stderr.write(exc.format_message() + "\n")
        code = EXIT_USAGE
    except ClickException as exc:
        sys.stderr.write(one_line(exc))
        code = exc.exit_code
    except typer.Abort:  # end of input at a click prompt
        code = EXIT_FAILED
    except KeyboardInterrupt:  # before a command's own handling started
        code = EXIT_INTERRUPTED
    sys.exit(code if isinstance(code, int) else 0)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # the shell's convention for "ended by this signal"
