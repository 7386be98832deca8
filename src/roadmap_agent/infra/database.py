"""The application database (SQLAlchemy async): embedded SQLite by default, PostgreSQL in server mode.

``Database.from_settings`` opens one engine per process; ``connect()`` / ``transaction()`` hand out
connections and translate connection-level driver errors into ``DatabaseUnavailable`` with a message that
says where and what to check. Schema changes go through Alembic (``migrate``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from roadmap_agent.errors import DatabaseUnavailable
from roadmap_agent.settings import DatabaseSettings, redact_url


class Database:
    def __init__(self, engine: AsyncEngine, url: str) -> None:
        self.engine = engine
        self.url = url
        self.display_url = redact_url(url)
        self.is_sqlite = engine.dialect.name == "sqlite"

    @classmethod
    @asynccontextmanager
    async def from_settings(cls, url: str, settings: DatabaseSettings) -> AsyncIterator[Database]:
        database = cls(_create_engine(url, settings), url)
        try:
            yield database
        finally:
            await database.close()

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncConnection]:
        try:
            async with self.engine.connect() as conn:
                yield conn
        except (OperationalError, InterfaceError) as exc:
            raise self._unavailable(exc) from exc

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        try:
            async with self.engine.begin() as conn:
                yield conn
        except (OperationalError, InterfaceError) as exc:
            raise self._unavailable(exc) from exc

    async def ping(self) -> None:
        async with self.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))

    async def close(self) -> None:
        await self.engine.dispose()

    def _unavailable(self, exc: DBAPIError) -> DatabaseUnavailable:
        cause = str(exc.orig).splitlines()[0] if exc.orig else type(exc).__name__
        return DatabaseUnavailable(f"Database at {self.display_url} is unavailable ({cause}). "
                                   "Check that it is running and reachable, then retry.")


def _create_engine(url: str, settings: DatabaseSettings) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database:
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": settings.sqlite_busy_timeout})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(
        url, pool_size=settings.pool_size, pool_timeout=settings.pool_timeout, pool_pre_ping=True,
        connect_args={"connect_timeout": max(1, int(settings.connect_timeout))},
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the API read while a run writes; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _alembic_config(url: str) -> Any:
    from alembic.config import Config  # alembic is only needed when migrating

    config = Config()
    config.set_main_option("script_location", str(resources.files("roadmap_agent") / "migrations"))
    config.attributes["database_url"] = url
    return config


async def migrate(database: Database) -> None:
    """Apply every Alembic migration not applied yet (idempotent)."""
    from alembic import command

    config = _alembic_config(database.url)

    def upgrade(sync_connection: sa.Connection) -> None:
        config.attributes["connection"] = sync_connection
        command.upgrade(config, "head")

    async with database.transaction() as conn:
        await conn.run_sync(upgrade)


def migrate_blocking(database: Database) -> None:
    asyncio.run(migrate(database))
