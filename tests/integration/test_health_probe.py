"""The database health probe reports the database, not this process's pool (real PostgreSQL)."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from devservices import PostgresServer

from roadmap_agent.errors import DatabaseUnavailable
from roadmap_agent.health import Prober
from roadmap_agent.infra.database import Database
from roadmap_agent.settings import DatabaseSettings

pytestmark = pytest.mark.integration


def _prober(database: Database) -> Prober:
    prober = Prober(interval=1.0, timeout=1.0)
    prober.add("database", database.probe, required=True, target=database.display_url)
    return prober


async def test_a_saturated_pool_is_not_a_database_outage(pg_server: Any) -> None:
    url = pg_server.create_database(f"probe_{uuid.uuid4().hex[:8]}")
    settings = DatabaseSettings(pool_size=1, pool_max_overflow=0, pool_max_waiting=0)
    async with Database.from_settings(url, settings) as database:
        holding = asyncio.Event()

        async def busy(conn: Any) -> None:
            holding.set()
            await conn.execute(sa.text("SELECT pg_sleep(1.5)"))

        holder = asyncio.create_task(database.run(busy))
        await asyncio.wait_for(holding.wait(), 5)
        with pytest.raises(DatabaseUnavailable, match="overloaded"):
            await database.ping()  # what requests get: refused at once
        prober = _prober(database)
        await prober.probe_all()
        [health] = prober.dependencies()
        assert health.status in ("ok", "degraded"), health.last_error
        assert not holder.done(), "the pool was free during the probe: the test proved nothing"
        await holder
        await prober.stop()


async def test_a_hung_database_is_down_then_ok_again(dev_services_installed: None) -> None:
    server = PostgresServer(Path(f"/tmp/roadmap-probe-pg-{uuid.uuid4().hex[:8]}"))
    server.start()
    try:
        async with Database.from_settings(server.url(), DatabaseSettings()) as database:
            prober = _prober(database)
            await prober.probe_all()
            [health] = prober.dependencies()
            assert health.status in ("ok", "degraded"), health.last_error
            server.pause()
            try:
                for _ in range(2):  # the second probe finds the first still waiting on the hung server
                    started = time.monotonic()
                    await prober.probe_all()
                    assert health.status == "down"  # type: ignore[comparison-overlap]  # probe_all changed it
                    assert time.monotonic() - started < 1.5
            finally:
                server.resume()
            deadline = time.monotonic() + 10
            while health.status == "down" and time.monotonic() < deadline:  # type: ignore[comparison-overlap]
                await asyncio.sleep(0.2)
                await prober.probe_all()
            assert health.status in ("ok", "degraded"), f"still down after the server resumed: {health.last_error}"
            await prober.stop()
    finally:
        server.resume()
        server.stop()
