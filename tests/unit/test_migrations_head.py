"""``infra.database.SCHEMA_HEAD`` is the newest migration: ``migrate`` skips Alembic when a database records it,
so a migration added without moving it would never be applied to an existing database."""

from __future__ import annotations

from alembic.script import ScriptDirectory

from roadmap_agent.infra.database import SCHEMA_HEAD, _alembic_config


def test_schema_head_is_alembics_head() -> None:
    heads = ScriptDirectory.from_config(_alembic_config("sqlite://")).get_heads()
    assert heads == [SCHEMA_HEAD], f"set SCHEMA_HEAD in infra/database.py to {heads}"
