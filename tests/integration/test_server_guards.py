"""The server-side guards the service sets on every PostgreSQL session (real PostgreSQL)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from roadmap_agent.infra.database import Database
from roadmap_agent.infra.postgres import connection_options, libpq_url
from roadmap_agent.settings import DatabaseSettings

pytestmark = pytest.mark.integration


async def test_a_session_stuck_in_a_transaction_frees_its_row_locks_in_5_s(pg_server: Any) -> None:
    """A worker frozen or cut off mid-transaction holds the task's row lock; the takeover waits for it. The
    default idle_in_transaction_session_timeout (5 s) bounds that wait, inside the 10 s takeover promise."""
    url = pg_server.create_database(f"guards_{uuid.uuid4().hex[:8]}")
    settings = DatabaseSettings()
    async with Database.from_settings(url, settings) as database:
        async def setup(conn: Any) -> None:
            await conn.execute(sa.text("CREATE TABLE tasks_probe (id int PRIMARY KEY, epoch int NOT NULL)"))
            await conn.execute(sa.text("INSERT INTO tasks_probe VALUES (1, 0)"))

        await database.run(setup, write=True)

        async def show(conn: Any) -> str:
            return str((await conn.execute(sa.text("SHOW idle_in_transaction_session_timeout"))).scalar())

        assert await database.run(show) == "5s"
        frozen = await psycopg.AsyncConnection.connect(libpq_url(url), **connection_options(settings))
        try:
            await frozen.execute("BEGIN")
            await frozen.execute("UPDATE tasks_probe SET epoch = epoch + 1 WHERE id = 1")  # then nothing more

            async def take_over(conn: Any) -> int:
                result = await conn.execute(sa.text("UPDATE tasks_probe SET epoch = epoch + 1 WHERE id = 1 "
                                                    "RETURNING epoch"))
                return int(result.scalar_one())

            started = time.monotonic()
            epoch = await database.run(take_over, write=True, deadline=12)
            waited = time.monotonic() - started
        finally:
            await frozen.close()
    assert epoch == 1, "the frozen transaction's update must be rolled back, not kept"
    assert 4.0 < waited < 7.0, f"the row lock was held {waited:.1f} s (idle_in_transaction_session_timeout 5 s)"
