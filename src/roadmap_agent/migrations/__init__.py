"""Alembic migrations for SQLite and PostgreSQL (run by `roadmap-agent migrate` and at startup)."""
