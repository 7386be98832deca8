"""The ``roadmap-agent`` command line: thin parsing -> Settings -> asyncio.run(...).

stdout carries only results (``--json`` output, the roadmap, tables); progress, prompts and logs go to stderr.
Everything a task shows is in the task's language, from the message catalogue. Modules:

- ``app``: the Typer app, command order, ``--version``, one-line usage errors, ``main``
- ``common``: consoles (no colour off a terminal or with NO_COLOR, no wrapping in pipes), Settings,
  ``run_command`` (open services, run, close, exit code), exit codes
- ``tasks``: generate, list, show, status, resume, retry, cancel; ``follow``: progress, review prompt, result
- ``ids``: unique id prefixes, interrupted tasks; ``admin``: serve, worker, check, migrate, users
- learning commands live in ``roadmap_agent.cli_learning``
"""

from __future__ import annotations

from typing import Any

__all__ = ["app", "main"]


def main() -> None:
    """The ``roadmap-agent`` entry point (pyproject.toml)."""
    from roadmap_agent.cli.app import main as run

    run()


def __getattr__(name: str) -> Any:
    # The app is built on first use, so importing a submodule (cli_learning imports cli.common) is no cycle.
    if name == "app":
        from roadmap_agent.cli.app import app

        return app
    raise AttributeError(name)
