"""``serve --workers N``: N API processes on one socket, under uvicorn's process supervisor.

The parent binds the address once and starts N worker processes (``spawn``: each imports the app afresh and
opens its own services, database pool and Redis connection, exactly like a single ``serve``); it restarts a
worker that dies, and on SIGTERM or Ctrl-C stops them all (each drains for up to 10 s) before it exits. A
worker also gets SIGTERM if the parent itself is killed (``PR_SET_PDEATHSIG``), so none is left orphaned.

Only in server mode with the run queue: the embedded default (SQLite) keeps in-process runs, their live events
and the one-time sign-in link in one process, and SQLite takes one writer at a time; in-process execution on
PostgreSQL would have every API process run and recover workflows itself. Both are refused with a sentence
that says what to set. Web sign-ins need one session secret for all workers: when
``ROADMAP_AGENT_SESSION_SECRET`` is unset the parent picks one for this run and hands it to them.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import secrets
import signal
import sys
from typing import TYPE_CHECKING, Any

from roadmap_agent.cli.common import EXIT_FAILED, err, fail, load_settings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from roadmap_agent.settings import Settings

APP_FACTORY = "roadmap_agent.cli.workers:worker_app"
PROTOCOL = "roadmap_agent.api.server:HeaderTimeoutProtocol"
SESSION_SECRET_ENV = "ROADMAP_AGENT_SESSION_SECRET"  # noqa: S105 - the variable's name, not a secret
PR_SET_PDEATHSIG = 1  # prctl(2)

EMBEDDED_REFUSED = ("`serve --workers {n}` needs server mode: the embedded default runs workflows, their live "
                    "events and the one-time sign-in link inside one process, and SQLite takes one writer at a "
                    "time. Run `serve` without --workers, or set DATABASE_URL (PostgreSQL) and start "
                    "`roadmap-agent worker` processes for the runs.")
INPROCESS_REFUSED = ("`serve --workers {n}` needs the run queue: with ROADMAP_AGENT_EXECUTION=inprocess every API "
                     "process would run and recover workflows itself. Set ROADMAP_AGENT_EXECUTION=auto (or queue) "
                     "and start `roadmap-agent worker` processes, or run `serve` without --workers.")


def refusal(settings: Settings, workers: int) -> str | None:
    """Why ``workers`` API processes cannot share this configuration, or None."""
    if workers <= 1:
        return None
    if settings.embedded:
        return EMBEDDED_REFUSED.format(n=workers)
    if not settings.uses_queue:
        return INPROCESS_REFUSED.format(n=workers)
    return None


def serve_workers(settings: Settings, host: str, port: int, workers: int, options: dict[str, Any]) -> None:
    """Run ``workers`` API processes on ``host:port`` until SIGTERM / Ctrl-C; exit 1 if one cannot start.

    The caller has checked ``refusal`` first (before waiting for the database)."""
    from uvicorn import Config
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors import Multiprocess

    if settings.api.session_secret is None:
        os.environ[SESSION_SECRET_ENV] = secrets.token_urlsafe(32)  # inherited by the workers, this run only
        err().print(f"{SESSION_SECRET_ENV} is not set: the {workers} workers share one made for this run, so web "
                    "sign-ins end when `serve` restarts. Set it to keep them.", markup=False, highlight=False)
    config = Config(APP_FACTORY, factory=True, host=host, port=port, workers=workers, http=PROTOCOL,
                    **options)
    supervisor = Multiprocess(config, sockets=[config.bind_socket()])
    supervisor.run()
    if any(process.exitcode == STARTUP_FAILURE for process in supervisor.processes):
        raise fail(f"An API worker process could not start; its log lines above say why. All {workers} were "
                   "stopped.", EXIT_FAILED)


def worker_app() -> FastAPI:
    """The app of one worker process (uvicorn's factory): settings from the same environment as the parent."""
    _die_with_parent()
    from roadmap_agent.api.server import HeaderTimeoutProtocol
    from roadmap_agent.server import create_app

    settings = load_settings("INFO")
    HeaderTimeoutProtocol.header_timeout = settings.api.header_timeout  # this process's own copy of the class
    return create_app(settings)


def _die_with_parent() -> None:
    """SIGTERM this process when its parent dies (Linux), so a killed supervisor leaves no orphan serving."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    parent = multiprocessing.parent_process()
    if parent is not None and os.getppid() != parent.pid:  # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)
