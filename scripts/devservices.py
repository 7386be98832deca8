#!/usr/bin/env python3
"""Local PostgreSQL, Redis and S3 (SeaweedFS) for development and tests, without Docker.

Standard library only: it has to run before the virtualenv holds anything. Two faces:

* a module (tests put ``scripts/`` on ``sys.path``): ``PostgresServer``, ``RedisServer`` and ``S3Server`` each
  start a real server under a root folder on free 127.0.0.1 ports, and can ``stop()``, ``kill()`` (a crash),
  ``pause()`` / ``resume()`` (SIGSTOP / SIGCONT: a hung server) it. Every wait is bounded; a server that does
  not come up raises ``RuntimeError`` naming what, where, and the tail of its log.
* a CLI: ``python3 scripts/devservices.py up|down|status|env|install`` keeps its state (ports, PIDs, folders,
  credentials) in ``$ROADMAP_AGENT_SERVICES_DIR/state.json`` (default ``/var/tmp/roadmap-agent-services``).

Processes are only ever signalled by the PIDs recorded here (and, for PostgreSQL, the children of the recorded
postmaster), never by name.

The code lives in ``scripts/devservices_lib/``, one module per part: ``process`` (ports, /proc, signals, bounded
waits), ``install`` (apt and pip), ``base`` (what the servers share), ``postgres``, ``redis``, ``s3`` and ``cli``.
This file is the entry point and the one name callers import.
"""

from __future__ import annotations

import sys

from devservices_lib.cli import (
    BUCKET,
    COMMANDS,
    DEFAULT_SERVICES_DIR,
    DESCRIPTION,
    HELP,
    S3_PREFIX,
    SERVICES_DIR_VARIABLE,
    command_down,
    command_env,
    command_install,
    command_status,
    command_up,
    environment,
    main,
    services_dir,
)
from devservices_lib.install import APT_PACKAGES, PG_BIN_DIRS, ensure_installed, pg_bin_dir, weed_binary
from devservices_lib.postgres import BOOTSTRAP_SQL, PostgresServer
from devservices_lib.process import (
    LOCALHOST,
    START_TIMEOUT,
    STOP_TIMEOUT,
    _port_is_free,
    alive,
    descendants,
    free_port,
)
from devservices_lib.redis import RedisServer
from devservices_lib.s3 import REGION, S3Server

__all__ = [
    "APT_PACKAGES", "BOOTSTRAP_SQL", "BUCKET", "COMMANDS", "DEFAULT_SERVICES_DIR", "DESCRIPTION", "HELP", "LOCALHOST",
    "PG_BIN_DIRS", "REGION", "S3_PREFIX", "SERVICES_DIR_VARIABLE", "START_TIMEOUT", "STOP_TIMEOUT", "PostgresServer",
    "RedisServer", "S3Server", "_port_is_free", "alive", "command_down", "command_env", "command_install",
    "command_status", "command_up", "descendants", "ensure_installed", "environment", "free_port", "main",
    "pg_bin_dir", "services_dir", "weed_binary",
]

if __name__ == "__main__":
    sys.exit(main())
