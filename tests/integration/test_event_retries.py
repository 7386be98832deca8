"""A run retries a database write that failed; when the commit went through but its answer was lost (the
connection reset mid-commit), the retried event must not be logged a second time.

Found by the chaos suite (connections reset under 24 concurrent runs): a ``task_recovering`` event logged
twice, under two sequence numbers, so clients saw it twice.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from roadmap_agent.domain.models import LearnerRequest
from roadmap_agent.errors import DatabaseUnavailable
from roadmap_agent.infra.database import Database, migrate
from roadmap_agent.services import Services
from roadmap_agent.settings import DatabaseSettings
from roadmap_agent.store.records import EventType
from roadmap_agent.store.repository import TaskStore

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[TaskStore]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'events.db'}"
    else:
        url = request.getfixturevalue("pg_server").create_database(f"events_{uuid.uuid4().hex[:8]}")
    async with Database.from_settings(url, DatabaseSettings()) as database:
        await migrate(database)
        yield TaskStore(database)


async def test_an_event_appended_again_with_its_id_is_logged_once(store: TaskStore) -> None:
    task, _ = await store.create_task("local", {"goal": "learn SQL in 4 weeks"})
    data = {"epoch": None, "event_id": "e-1"}
    first = await store.append_event(task.task_id, EventType.PROGRESS, "intent_analysis started", data=data)
    again = await store.append_event(task.task_id, EventType.PROGRESS, "intent_analysis started", data=data)
    assert again.seq == first.seq == 1
    assert again.data == first.data
    following = await store.append_event(task.task_id, EventType.PROGRESS, "next", data={"event_id": "e-2"})
    assert following.seq == 2  # the retry used no sequence number: the log stays gap-free
    assert [e.seq for e in await store.events_after(task.task_id, 0)] == [1, 2]


async def test_a_run_whose_commit_answer_is_lost_logs_each_event_once(services: Services,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    real_run = services.database.run
    writes = 0

    async def commit_then_fail(work: Any, *, write: bool = False, deadline: float | None = None) -> Any:
        nonlocal writes
        result = await real_run(work, write=write, deadline=deadline)
        writes += write
        if write and writes % 4 == 0:  # every 4th write commits, then the caller hears a reset connection
            raise DatabaseUnavailable("Database at test is unavailable (connection reset after commit).")
        return result

    monkeypatch.setattr(services.database, "run", commit_then_fail)
    task = await services.runner.submit("local", LearnerRequest(goal="learn SQL in 4 weeks", auto_approve=True))
    finished = await services.runner.wait(task.task_id)
    events = await services.store.events_after(task.task_id, 0)
    assert finished.status.value == "completed", finished.error
    assert writes >= 8, "the run made too few writes to test anything"
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    ids = [e.data["event_id"] for e in events if "event_id" in e.data]
    assert len(ids) == len(set(ids)), [(e.seq, e.type.value, e.step, e.status) for e in events]
    assert [e.type.value for e in events].count("completed") == 1
