"""Startup checks: wait for the database with exponential backoff and jitter, one log line per attempt.

The database is the one dependency we cannot serve without, so the API and workers wait for it (bounded
attempts) and then give up with one clear sentence; Redis and storage being down only start us degraded.
"""

from __future__ import annotations

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from roadmap_agent.errors import DatabaseUnavailable
from roadmap_agent.infra.database import Database
from roadmap_agent.logging import get_logger
from roadmap_agent.settings import ResilienceSettings

log = get_logger(__name__)


async def wait_for_database(database: Database, settings: ResilienceSettings) -> None:
    attempts = settings.startup_attempts

    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        delay = state.next_action.sleep if state.next_action else 0.0
        log.warning("database_connection_attempt_failed", attempt=state.attempt_number, attempts=attempts,
                    where=database.where, cause=getattr(error, "message", str(error)), retry_in_s=round(delay, 2))

    retrying = AsyncRetrying(
        stop=stop_after_attempt(attempts),
        wait=wait_exponential_jitter(multiplier=settings.startup_base_delay, max=settings.startup_max_delay),
        retry=retry_if_exception_type(DatabaseUnavailable),
        before_sleep=before_sleep,
        reraise=True,
    )
    try:
        async for attempt in retrying:
            with attempt:
                await database.ping()
    except DatabaseUnavailable as exc:
        kind = "SQLite database" if database.is_sqlite else "PostgreSQL"
        raise DatabaseUnavailable(
            f"Cannot reach {kind} at {database.where} after {attempts} attempts ({_cause(exc.message)}). "
            "Is it running, and are DATABASE_URL / POSTGRES_* right? `roadmap-agent check` diagnoses it.") from exc


def _cause(message: str) -> str:
    inner = message.split("(", 1)[-1].rsplit(")", 1)[0] if "(" in message else message
    return inner.strip() or message
