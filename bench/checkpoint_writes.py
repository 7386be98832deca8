"""Checkpoint writes per second on PostgreSQL: LangGraph's stock AsyncPostgresSaver vs our PooledPostgresSaver.

Both run over the same ``psycopg_pool.AsyncConnectionPool`` (opened by ``Checkpointer.postgres``, so the same
checks, timeouts and libpq options): the stock saver as ``AsyncPostgresSaver(conn=pool)``, ours as the saver that
takes a pooled connection per call instead of one instance-wide lock. Many concurrent writers; a "write" is one
``aput`` of a checkpoint shaped like our workflow's state (the roadmap the offline planner designs for a real goal,
21-36 KB of JSON, plus request, intent, issues and counters) and one ``aput_writes``, each on its own thread id.

Two paths: straight to the server, and through scripts/faultproxy.py adding latency each way (a database one
network hop away, where holding a lock across round trips costs the most). Every path runs both savers several
times, alternating which goes first; figures are medians with the range, and the ratio is ours / stock measured
in the same run. After each timed round (untimed) every checkpoint written is read back with ``aget_tuple`` and
compared; the tables are then emptied so every round starts alike.

It starts a throwaway PostgreSQL (scripts/devservices.py) and the proxy, and stops both by their PIDs at the end.

    .venv/bin/python bench/checkpoint_writes.py [--writers 200 --pool 10 --runs 5 --latency 0.002]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from langgraph.checkpoint.base import BaseCheckpointSaver, Checkpoint, empty_checkpoint
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

from roadmap_agent.domain.catalog import load_catalog
from roadmap_agent.domain.intent import analyze_intent
from roadmap_agent.domain.models import LearnerRequest
from roadmap_agent.domain.planning import design_curriculum
from roadmap_agent.infra.checkpointer import Checkpointer
from roadmap_agent.infra.checkpointer_postgres import PooledPostgresSaver
from roadmap_agent.infra.postgres import libpq_url
from roadmap_agent.settings import DatabaseSettings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from devservices import PostgresServer  # scripts/ is not a package: its folder is put on sys.path just above

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"

GOALS = [
    "I want to become a backend developer in 3 months, I know some Python, 10 hours a week",
    "我想三个月内学会 Python 后端开发，每周 10 小时",
    "learn machine learning in 6 months, 8 hours per week",
    "become a frontend developer, complete beginner, 2 hours a day",
]
TABLES = "checkpoints, checkpoint_blobs, checkpoint_writes"


@dataclass
class Route:
    name: str
    url: str
    rates: dict[str, list[float]] = field(default_factory=lambda: {"stock": [], "ours": []})


def workflow_states() -> list[dict[str, Any]]:
    """Channel values like the workflow's after curriculum_design: real roadmaps from the offline planner."""
    catalog = load_catalog()
    states = []
    for index, goal in enumerate(GOALS):
        request = LearnerRequest(goal=goal)
        intent = analyze_intent(request, catalog)
        roadmap = design_curriculum(intent, catalog, f"rm-bench-{index}")
        states.append({"task_id": f"task-{index}", "request": request.model_dump(mode="json"),
                       "intent": intent.model_dump(mode="json"), "roadmap": roadmap.model_dump(mode="json"),
                       "issues": [], "fix_rounds": 0, "review_round": 1})
    return states


def checkpoint_for(state: dict[str, Any]) -> Checkpoint:
    checkpoint = empty_checkpoint()
    checkpoint["channel_values"] = dict(state)
    checkpoint["channel_versions"] = dict.fromkeys(state, "00000000000000000000000000000002.0")
    return checkpoint


async def write_round(saver: BaseCheckpointSaver[str], states: list[dict[str, Any]], writers: int,
                      per_writer: int, tag: str) -> tuple[float, list[tuple[dict[str, Any], str]]]:
    """``writers`` concurrent writers, ``per_writer`` writes each; writes/s and what was written (for checking)."""
    written: list[tuple[dict[str, Any], str]] = []

    async def writer(number: int) -> None:
        for sequence in range(per_writer):
            thread_id = f"{tag}-{number}-{sequence}"
            state = states[(number + sequence) % len(states)]
            config: Any = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
            checkpoint = checkpoint_for(state)
            saved = await saver.aput(config, checkpoint, {"source": "loop", "step": 2, "parents": {}},
                                     checkpoint["channel_versions"])
            await saver.aput_writes(saved, [("issues", []), ("review_round", 1)], task_id=str(uuid.uuid4()))
            written.append((dict(saved), state["roadmap"]["id"]))

    started = time.perf_counter()
    await asyncio.gather(*(writer(n) for n in range(writers)))
    return len(written) / (time.perf_counter() - started), written


async def read_back(saver: PooledPostgresSaver, written: list[tuple[dict[str, Any], str]], readers: int) -> int:
    """How many written checkpoints read back intact (thread, roadmap, both pending writes)."""
    limit = asyncio.Semaphore(readers)

    async def intact(config: dict[str, Any], roadmap_id: str) -> bool:
        async with limit:
            loaded = await saver.aget_tuple(config)  # type: ignore[arg-type]
        return (loaded is not None
                and loaded.config["configurable"]["thread_id"] == config["configurable"]["thread_id"]
                and loaded.checkpoint["channel_values"]["roadmap"]["id"] == roadmap_id
                and sorted(channel for _, channel, _ in loaded.pending_writes or []) == ["issues", "review_round"])

    results = await asyncio.gather(*(intact(config, roadmap_id) for config, roadmap_id in written))
    return sum(results)


async def measure(route: Route, settings: DatabaseSettings, states: list[dict[str, Any]], args: argparse.Namespace,
                  checks: dict[str, list[int]]) -> None:
    async with Checkpointer.postgres(route.url, settings) as checkpointer:
        ours = checkpointer.saver
        if not isinstance(ours, PooledPostgresSaver):
            raise SystemExit(f"Checkpointer.postgres gave a {type(ours).__name__}, not a PooledPostgresSaver")
        savers: dict[str, BaseCheckpointSaver[str]] = {"stock": AsyncPostgresSaver(conn=ours.pool), "ours": ours}
        await write_round(ours, states, args.pool, 1, f"warm-{route.name}")  # fill the pool before timing
        for run in range(args.runs):
            order = ["stock", "ours"] if run % 2 == 0 else ["ours", "stock"]
            for kind in order:
                rate, written = await write_round(savers[kind], states, args.writers, args.per_writer,
                                                  f"{route.name}-{kind}-{run}")
                route.rates[kind].append(rate)
                checks[kind][0] += await read_back(ours, written, args.writers)
                checks[kind][1] += len(written)
                async with await psycopg.AsyncConnection.connect(libpq_url(route.url), autocommit=True) as conn:
                    await conn.execute(f"TRUNCATE {TABLES}")
                print(f"  {route.name:>8} run {run + 1}: {kind:5} {rate:8.0f} writes/s", flush=True)


@contextmanager
def postgres() -> Iterator[PostgresServer]:
    root = Path(f"/tmp/roadmap-bench-pg-{uuid.uuid4().hex[:8]}")  # noqa: S108  (throwaway server, removed at the end)
    server = PostgresServer(root)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def fault_proxy(target_port: int, latency: float) -> Iterator[int]:
    """scripts/faultproxy.py in its own process (own CPU, not our event loop), stopped by its PID."""
    command = [sys.executable, str(SCRIPTS / "faultproxy.py"), "--target", f"127.0.0.1:{target_port}",
               "--latency", str(latency)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline() if process.stdout else ""
        if not line.startswith("listening on "):
            raise SystemExit(f"faultproxy did not start: {line!r}")
        yield int(line.split()[-1])
    finally:
        process.terminate()
        process.wait(timeout=10)


def report(routes: list[Route], checks: dict[str, list[int]], args: argparse.Namespace, payload: int) -> None:
    print()
    print(f"checkpoint writes/s (aput ~{payload // 1000} KB state + aput_writes), {args.writers} concurrent writers, "
          f"pool of {args.pool}, {args.runs} runs x {args.writers * args.per_writer} writes; median [min - max]")
    print(f"{'path':<28}{'stock AsyncPostgresSaver':>28}{'ours PooledPostgresSaver':>28}{'ours/stock':>12}")
    for route in routes:
        stock, ours = route.rates["stock"], route.rates["ours"]
        ratio = statistics.median(ours) / statistics.median(stock)
        print(f"{route.name:<28}{_cell(stock):>28}{_cell(ours):>28}{ratio:>11.2f}x")
    for kind, (intact, total) in checks.items():
        print(f"read back with aget_tuple ({kind}): {intact}/{total} intact")


def _cell(rates: list[float]) -> str:
    return f"{statistics.median(rates):.0f} [{min(rates):.0f} - {max(rates):.0f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--writers", type=int, default=200)
    parser.add_argument("--per-writer", type=int, default=3, help="writes per writer per run (new thread each)")
    parser.add_argument("--pool", type=int, default=10, help="checkpoint_pool_size")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--latency", type=float, default=0.002, help="seconds the proxy adds each way")
    args = parser.parse_args()
    states = workflow_states()
    payload = int(statistics.mean(len(json.dumps(state, ensure_ascii=False).encode()) for state in states))
    # Every writer may queue for a connection (the service default sheds load beyond 100 waiting).
    settings = DatabaseSettings(checkpoint_pool_size=args.pool, pool_max_waiting=args.writers * 2,
                                pool_timeout=120, operation_timeout=300, statement_timeout_ms=120_000)
    checks = {"stock": [0, 0], "ours": [0, 0]}
    print(f"{os.cpu_count()} CPUs; PostgreSQL 15 started by scripts/devservices.py; proxy adds "
          f"{args.latency * 1000:g} ms each way", flush=True)
    with postgres() as server, fault_proxy(server.port, args.latency) as proxy_port:
        database = server.create_database(f"bench_{uuid.uuid4().hex[:8]}")
        proxied = database.replace(f"127.0.0.1:{server.port}/", f"127.0.0.1:{proxy_port}/")
        routes = [Route("direct", database), Route(f"proxy +{args.latency * 1000:g} ms each way", proxied)]
        for route in routes:
            asyncio.run(measure(route, settings, states, args, checks))
    report(routes, checks, args, payload)


if __name__ == "__main__":
    main()
