"""The PostgreSQL checkpointer on a real server: setup, concurrency, interrupt/resume, a hung server, a dead one."""

from __future__ import annotations

import asyncio
import shutil
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, TypedDict

import psycopg
import pytest
from langgraph.checkpoint.base import Checkpoint, empty_checkpoint
from langgraph.checkpoint.postgres.base import MIGRATIONS
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt

from roadmap_agent.errors import CheckpointerUnavailable
from roadmap_agent.infra.checkpointer import Checkpointer
from roadmap_agent.infra.checkpointer_postgres import PooledPostgresSaver
from roadmap_agent.infra.postgres import libpq_url
from roadmap_agent.settings import DatabaseSettings

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from devservices import PostgresServer, free_port  # scripts/ is not a package: its folder is put on sys.path just above
from faultproxy import FaultProxy

pytestmark = pytest.mark.integration

WRITERS = 200
# Room for every writer to queue for one of the 10 connections (the default sheds load past 100 waiting).
SETTINGS = DatabaseSettings(pool_max_waiting=WRITERS, pool_timeout=30)


@pytest.fixture(scope="module")
def pg_server() -> Iterator[PostgresServer]:
    """A dedicated server: one test here pauses it, which must not hang anyone else's tests."""
    root = Path(f"/tmp/roadmap-ckpt-pg-{uuid.uuid4().hex[:8]}")
    server = PostgresServer(root)
    server.start()
    try:
        yield server
    finally:
        server.stop()  # resumes it first if a test left it paused
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def module_db(pg_server: PostgresServer) -> str:
    """A fresh database for this module."""
    return pg_server.create_database(f"ckpt_{uuid.uuid4().hex[:10]}")


@pytest.fixture
async def checkpointer(module_db: str) -> AsyncIterator[Checkpointer]:
    async with Checkpointer.postgres(module_db, SETTINGS) as opened:
        yield opened


def _saver(checkpointer: Checkpointer) -> PooledPostgresSaver:
    assert isinstance(checkpointer.saver, PooledPostgresSaver)
    return checkpointer.saver


def _roadmap_checkpoint(writer: int) -> Checkpoint:
    checkpoint = empty_checkpoint()
    roadmap = {"id": f"r{writer}", "stages": [{"name": f"stage {writer}-{n}", "text": f"{writer}:" + "x" * 900}
                                              for n in range(30)]}
    checkpoint["channel_values"] = {"roadmap": roadmap, "step": "curriculum_design", "round": writer}
    checkpoint["channel_versions"] = {"roadmap": "1", "step": "1", "round": "1"}
    return checkpoint


async def test_setup_twice_is_harmless(checkpointer: Checkpointer, module_db: str) -> None:
    await _saver(checkpointer).setup()  # it already ran once when the checkpointer opened
    await _saver(checkpointer).setup()
    async with await psycopg.AsyncConnection.connect(libpq_url(module_db)) as conn:
        cursor = await conn.execute("SELECT count(*), max(v) FROM checkpoint_migrations")
        assert await cursor.fetchone() == (len(MIGRATIONS), len(MIGRATIONS) - 1)
    await checkpointer.ping()


async def test_processes_starting_together_both_set_up(pg_server: PostgresServer) -> None:
    fresh = pg_server.create_database(f"ckpt_{uuid.uuid4().hex[:10]}")

    async def open_one() -> None:
        async with Checkpointer.postgres(fresh, SETTINGS) as opened:
            await opened.ping()

    await asyncio.gather(*(open_one() for _ in range(4)))  # serialised by the advisory lock, none fails


async def test_concurrent_writes_all_read_back(checkpointer: Checkpointer) -> None:
    saver = _saver(checkpointer)
    run = uuid.uuid4().hex[:8]

    async def write(writer: int) -> dict[str, Any]:
        config: Any = {"configurable": {"thread_id": f"{run}-{writer}", "checkpoint_ns": ""}}
        checkpoint = _roadmap_checkpoint(writer)
        saved = await saver.aput(config, checkpoint, {"source": "loop", "step": writer}, {"roadmap": "1"})
        await saver.aput_writes(saved, [("feedback", f"note {writer}")], task_id=f"task-{writer}")
        return dict(saved)

    saved = await asyncio.gather(*(write(n) for n in range(WRITERS)))
    for writer, config in enumerate(saved):
        loaded = await saver.aget_tuple(config)  # type: ignore[arg-type]
        assert loaded is not None, f"writer {writer} lost its checkpoint"
        values = loaded.checkpoint["channel_values"]
        assert values["round"] == writer
        assert values["roadmap"] == _roadmap_checkpoint(writer)["channel_values"]["roadmap"]
        assert loaded.metadata["step"] == writer
        assert [(task, channel, value) for task, channel, value in loaded.pending_writes or []] == [
            (f"task-{writer}", "feedback", f"note {writer}")]


class ReviewState(TypedDict):
    draft: str
    decision: str


def _review_graph() -> StateGraph[ReviewState]:
    def design(state: ReviewState) -> dict[str, str]:
        return {"draft": "Python backend roadmap, 13 weeks"}

    def human_review(state: ReviewState) -> dict[str, str]:
        return {"decision": interrupt({"draft": state["draft"]})}

    graph = StateGraph(ReviewState)
    graph.add_node("design", design)
    graph.add_node("human_review", human_review)
    graph.add_edge(START, "design")
    graph.add_edge("design", "human_review")
    graph.add_edge("human_review", END)
    return graph


async def test_interrupt_then_resume_from_another_process(module_db: str) -> None:
    config: Any = {"configurable": {"thread_id": f"review-{uuid.uuid4().hex[:8]}"}}
    async with Checkpointer.postgres(module_db, SETTINGS) as first:
        graph = _review_graph().compile(checkpointer=first.saver)
        paused = await graph.ainvoke({"draft": "", "decision": ""}, config)
        assert paused["__interrupt__"][0].value == {"draft": "Python backend roadmap, 13 weeks"}
        assert (await graph.aget_state(config)).next == ("human_review",)
    async with Checkpointer.postgres(module_db, SETTINGS) as second:  # a new pool, as after a restart
        graph = _review_graph().compile(checkpointer=second.saver)
        done = await graph.ainvoke(Command(resume="approved"), config)
        assert done == {"draft": "Python backend roadmap, 13 weeks", "decision": "approved"}
        assert (await graph.aget_state(config)).next == ()


async def test_hung_server_ends_calls_in_bounded_time_and_pool_recovers(
        pg_server: PostgresServer, module_db: str) -> None:
    async with Checkpointer.postgres(module_db, SETTINGS) as checkpointer:
        saver = _saver(checkpointer)
        config: Any = {"configurable": {"thread_id": "hung", "checkpoint_ns": ""}}
        await saver.aput(config, _roadmap_checkpoint(1), {}, {})
        pg_server.pause()
        try:
            started = time.monotonic()
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(2):  # the caller's own deadline
                    await saver.aget_tuple(config)
            assert time.monotonic() - started < 3
            saver.operation_timeout = 1.5  # DB_OPERATION_TIMEOUT, shorter than its default for the test
            started = time.monotonic()
            with pytest.raises(CheckpointerUnavailable, match=r"did not answer within 1\.5 s"):
                await saver.aget_tuple(config)  # our DB_OPERATION_TIMEOUT
            assert time.monotonic() - started < 2.5
        finally:
            pg_server.resume()
        await _terminate_backends(module_db)  # idle pooled connections are now dead: the check must notice
        async with asyncio.timeout(10):
            loaded = await saver.aget_tuple(config)
        assert loaded is not None and loaded.checkpoint["channel_values"]["round"] == 1
        await checkpointer.ping()


async def _terminate_backends(url: str) -> None:
    async with await psycopg.AsyncConnection.connect(libpq_url(url), autocommit=True) as conn:
        await conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                           "WHERE application_name = %s AND pid <> pg_backend_pid()", (SETTINGS.application_name,))


async def test_unreachable_server_fails_fast_with_a_clear_message() -> None:
    port = free_port()  # nothing listens there
    settings = SETTINGS.model_copy(update={"connect_timeout": 2})
    started = time.monotonic()
    with pytest.raises(CheckpointerUnavailable) as raised:
        async with Checkpointer.postgres(f"postgresql+psycopg://roadmap:s3cret-pw@127.0.0.1:{port}/db", settings):
            pass
    assert time.monotonic() - started < settings.connect_timeout + 2
    assert f"127.0.0.1:{port}" in raised.value.message
    assert "s3cret-pw" not in raised.value.message


async def test_blackholed_server_fails_within_connect_timeout(pg_server: PostgresServer) -> None:
    proxy = await FaultProxy(0, "127.0.0.1", pg_server.port).start()
    proxy.blackhole()  # TCP connects, nothing ever answers
    settings = SETTINGS.model_copy(update={"connect_timeout": 1})
    try:
        started = time.monotonic()
        with pytest.raises(CheckpointerUnavailable) as raised:
            async with Checkpointer.postgres(f"postgresql://postgres:pw@127.0.0.1:{proxy.port}/postgres", settings):
                pass
        assert time.monotonic() - started < settings.connect_timeout + 2
        assert f"127.0.0.1:{proxy.port}" in raised.value.message
    finally:
        await proxy.stop()
