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

from roadmap_agent.cli.app import app, main

__all__ = ["app", "main"]
