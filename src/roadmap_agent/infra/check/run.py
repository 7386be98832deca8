"""The whole ``check``: which dependencies are configured, each probed in turn, on a loop of its own.

Dependencies start one after another (``staggered``) so that each latency is its own, and the run as a whole
has a budget (``TOTAL_BUDGET``), so the command ends in bounded time even against a hung server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from pathlib import Path

from roadmap_agent.infra.check.probe_files import check_local_storage, check_sqlite
from roadmap_agent.infra.check.probe_llm import check_llm
from roadmap_agent.infra.check.probe_postgres import check_pg_checkpointer, check_pg_queue, check_postgres
from roadmap_agent.infra.check.probe_redis import check_redis
from roadmap_agent.infra.check.probe_s3 import check_s3, warm_up
from roadmap_agent.infra.check.report import CheckReport, DependencyReport, StepResult
from roadmap_agent.infra.check.steps import DEFAULT_STEP_TIMEOUT, Limits, known_secrets
from roadmap_agent.settings import Settings

STAGGER = 0.5  # a check that takes longer than this no longer holds the next one back


async def check_all(settings: Settings, *, strict: bool = False,
                    step_timeout: float = DEFAULT_STEP_TIMEOUT) -> CheckReport:
    limits = Limits(known_secrets(settings), step_timeout)
    if settings.storage.bucket:
        await warm_up(settings.storage)
    url = settings.database.server_url()
    database: Awaitable[DependencyReport]
    if url is None:
        sqlite_file = Path(settings.database_url().split(":///", 1)[1])
        database = check_sqlite("database", sqlite_file, limits)
    else:
        database = asyncio.ensure_future(check_postgres(url, settings.database, limits))
    checks: list[Awaitable[DependencyReport]] = [database]
    if settings.resilience.checkpointer == "none":
        checks.append(_disabled_checkpointer())
    elif url is None:
        checks.append(check_sqlite("checkpointer", settings.checkpoint_path(), limits))
    else:
        checks.append(check_pg_checkpointer(url, settings.database, limits, database))
    if url is not None and settings.uses_queue:
        checks.append(check_pg_queue(url, settings, limits, database))
    if redis_url := settings.redis.server_url():
        checks.append(check_redis(redis_url, settings.redis, limits))
    checks.append(check_s3(settings, limits) if settings.storage.bucket
                  else check_local_storage(settings.artifacts_dir(), limits))
    if settings.llm.base_url:
        checks.append(check_llm(settings, limits))
    return CheckReport(str(settings.describe()["mode"]), strict, await staggered(checks))


async def staggered(checks: list[Awaitable[DependencyReport]]) -> list[DependencyReport]:
    """Start each check alone and the next one once it finished or after ``STAGGER`` s, whichever comes first.

    Healthy dependencies then run one at a time, so a step's latency is its own and not the CPU time of the
    others (psycopg, redis-py, botocore and httpx all do some on first use); a slow or hung one overlaps with the
    rest, so the whole run stays within ``TOTAL_BUDGET``.
    """
    tasks = []
    for check in checks:
        tasks.append(asyncio.ensure_future(check))
        await asyncio.wait({tasks[-1]}, timeout=STAGGER)
    return list(await asyncio.gather(*tasks))


async def _disabled_checkpointer() -> DependencyReport:
    """Emergency mode is a choice, not a failure, but it must be loud: a warning, so --strict fails."""
    report = DependencyReport("checkpointer", False, "disabled (ROADMAP_AGENT_CHECKPOINTER=none)")
    report.steps.append(StepResult("mode", True, None, "emergency mode: runs are not checkpointed", warning=True))
    report.diagnosis = "emergency mode: no human review, no resume after a crash, no retry from a checkpoint"
    report.hint = "Unset ROADMAP_AGENT_CHECKPOINTER (or set it to auto) once the database is healthy again."
    return report


def run_check(settings: Settings, *, strict: bool = False, step_timeout: float = DEFAULT_STEP_TIMEOUT) -> CheckReport:
    """Run ``check_all`` on a private loop that is closed without waiting for abandoned (hung) work."""
    loop = asyncio.new_event_loop()
    loop.set_exception_handler(lambda _loop, _context: None)  # leftovers of a hung server are expected
    try:
        return loop.run_until_complete(check_all(settings, strict=strict, step_timeout=step_timeout))
    finally:
        loop.close()

