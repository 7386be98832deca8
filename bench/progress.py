"""Progress updates per second and progress-summary latency with 1,000 roadmaps of 60 concepts on PostgreSQL.

This process opens the services (``open_services``) against a throwaway PostgreSQL (scripts/devservices.py,
stopped by its PID), seeds 1,000 final roadmaps of 60 concepts (100 users, 10 each) with half of their concepts
already tracked (30,000 progress rows), then measures, through the service layer the HTTP routes call:

* updates: ``Learning.update`` (ownership check, the atomic row update, the review card on ``done``, the durable
  event) from ``--writers`` concurrent writers on random concepts; baseline: the bare one-statement
  ``UPDATE concept_progress SET hours = hours + 0.5`` with the same writers, same pool, same run.
* summary: ``Learning.open`` + ``Learning.summary`` (the learning row, the current version, every progress row,
  the standing) for random roadmaps, one at a time; baseline: ``TaskStore.get_roadmap`` (the existing
  ``GET /api/v1/roadmaps/{id}`` read of one roadmap body).

Figures are medians over ``--runs`` runs; ratios are against the baselines measured in the same run.

    .venv/bin/python bench/progress.py [--roadmaps 1000 --updates 2000 --writers 16 --summaries 300 --runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
import uuid
from datetime import date
from typing import Any

import sqlalchemy as sa
from harness import clean_environ, throwaway_servers

from roadmap_agent.domain.models import Concept, Module, Roadmap, Stage
from roadmap_agent.domain.schedule import build_schedule
from roadmap_agent.logging import configure_logging
from roadmap_agent.services import Services, open_services
from roadmap_agent.settings import Settings, WorkerSettings
from roadmap_agent.store.learning import ProgressChange
from roadmap_agent.store.records import TaskStatus, utcnow
from roadmap_agent.store.tables import concept_progress, tasks

CONCEPTS = 60
OWNERS = 100
STATES = ("learning", "done", "skipped", "todo")


def synthetic_roadmap(roadmap_id: str) -> Roadmap:
    concepts = [Concept(id=f"c{i:02d}", name=f"Concept {i}", description="-", hours=2.0, difficulty="beginner",
                        prerequisites=[f"c{i - 1:02d}"] if i % 10 else []) for i in range(CONCEPTS)]
    modules = [Module(id=f"m{m}", name=f"Module {m}", concepts=concepts[m * 10:(m + 1) * 10]) for m in range(6)]
    return Roadmap(id=roadmap_id, title="Bench roadmap", summary="-", language="en", total_hours=120, weeks=12,
                   hours_per_week=10, stages=[Stage(id="s1", name="Stage", order=1, modules=modules)],
                   schedule=build_schedule(concepts, 10))


async def seed(services: Services, count: int) -> list[tuple[str, str]]:
    """``count`` final roadmaps (owner, roadmap id), learning started, half of their concepts tracked."""
    pairs: list[tuple[str, str]] = []
    for i in range(count):
        owner = f"user-{i % OWNERS}"
        task, _ = await services.store.create_task(owner, {"goal": "bench", "start_date": "2025-01-06"})
        roadmap_id = f"rm-{task.task_id}"
        await services.store.save_roadmap(task.task_id, synthetic_roadmap(roadmap_id).model_dump(mode="json"))
        await services.store.update_task(task.task_id, status=TaskStatus.COMPLETED.value, roadmap_id=roadmap_id,
                                         intent={"domains": ["backend"], "level": "beginner"})
        await services.learning.open(roadmap_id, owner)
        pairs.append((owner, roadmap_id))
    now = utcnow()
    rows = [{"roadmap_id": rid, "concept_id": f"c{c:02d}", "owner": owner, "state": STATES[c % 4],
             "hours": 1.0, "note": "", "revision": 1, "updated_at": now}
            for owner, rid in pairs for c in range(0, CONCEPTS, 2)]
    for start in range(0, len(rows), 5000):
        chunk = rows[start:start + 5000]
        await services.database.run(lambda conn, chunk=chunk: conn.execute(concept_progress.insert(), chunk),
                                    write=True)
    return pairs


async def timed_concurrently(calls: list[Any], writers: int) -> tuple[float, list[float]]:
    """(operations per second, per-operation latencies) of ``calls`` run by ``writers`` workers."""
    queue = list(calls)
    latencies: list[float] = []

    async def writer() -> None:
        while queue:
            call = queue.pop()
            started = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(writers)))
    return len(calls) / (time.perf_counter() - started), latencies


async def measure(services: Services, pairs: list[tuple[str, str]], args: argparse.Namespace,
                  rng: random.Random) -> dict[str, float]:
    def pick() -> tuple[str, str, str]:
        owner, roadmap_id = rng.choice(pairs)
        return owner, roadmap_id, f"c{rng.randrange(CONCEPTS):02d}"

    def full(owner: str, roadmap_id: str, concept_id: str) -> Any:
        change = ProgressChange(state=rng.choice(STATES), add_hours=0.5)
        return lambda: services.learning.update(roadmap_id, owner, concept_id, change, today=date(2025, 2, 1))

    def bare(_owner: str, roadmap_id: str, concept_id: str) -> Any:
        statement = (concept_progress.update().where(concept_progress.c.roadmap_id == roadmap_id,
                                                     concept_progress.c.concept_id == concept_id)
                     .values(hours=concept_progress.c.hours + 0.5))
        return lambda: services.database.run(lambda conn: conn.execute(statement), write=True)

    figures: dict[str, float] = {}
    order = [("update", full), ("update_baseline", bare)]
    for name, make in order if rng.random() < 0.5 else order[::-1]:
        rate, latencies = await timed_concurrently([make(*pick()) for _ in range(args.updates)], args.writers)
        figures[f"{name}_per_s"] = rate
        figures[f"{name}_ms"] = statistics.median(latencies) * 1000
    figures["summary_ms"], figures["summary_baseline_ms"] = await summary_latency(services, pairs, args, rng)
    return figures


async def summary_latency(services: Services, pairs: list[tuple[str, str]], args: argparse.Namespace,
                          rng: random.Random) -> tuple[float, float]:
    summary: list[float] = []
    baseline: list[float] = []
    for _ in range(args.summaries):
        owner, roadmap_id = rng.choice(pairs)
        started = time.perf_counter()
        opened = await services.learning.open(roadmap_id, owner)
        await services.learning.summary(opened, date(2025, 2, 1))
        summary.append(time.perf_counter() - started)
        started = time.perf_counter()
        await services.store.get_roadmap(roadmap_id, owner)
        baseline.append(time.perf_counter() - started)
    return statistics.median(summary) * 1000, statistics.median(baseline) * 1000


async def main(args: argparse.Namespace) -> None:
    configure_logging("WARNING", "console")
    rng = random.Random(args.seed)
    with throwaway_servers("progress") as servers:
        environment = clean_environ()
        os.environ.clear()
        os.environ.update(environment, DATABASE_URL=servers.database_url, ROADMAP_AGENT_HOME=str(servers.root / "home"))
        settings = Settings.load(env_file=None, worker=WorkerSettings(execution="inprocess"))
        async with open_services(settings, role="bench") as services:
            started = time.perf_counter()
            pairs = await seed(services, args.roadmaps)
            count = await services.database.run(lambda c: c.execute(sa.select(sa.func.count()).select_from(tasks)))
            print(f"seeded {count.scalar_one()} roadmaps x {CONCEPTS} concepts "
                  f"({args.roadmaps * CONCEPTS // 2} progress rows) in {time.perf_counter() - started:.0f} s")
            runs = [await measure(services, pairs, args, rng) for _ in range(args.runs)]
    report(runs, args)


def report(runs: list[dict[str, float]], args: argparse.Namespace) -> None:
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    print(f"\n{args.roadmaps} roadmaps x {CONCEPTS} concepts on PostgreSQL, {args.writers} writers, "
          f"medians of {args.runs} runs")
    print(f"{'':34}{'figure':>12}{'baseline':>12}{'ratio':>9}")
    print(f"{'progress updates per second':34}{med['update_per_s']:>12.0f}{med['update_baseline_per_s']:>12.0f}"
          f"{med['update_per_s'] / med['update_baseline_per_s']:>9.2f}")
    print(f"{'update latency, median (ms)':34}{med['update_ms']:>12.1f}{med['update_baseline_ms']:>12.1f}"
          f"{med['update_ms'] / med['update_baseline_ms']:>9.2f}")
    print(f"{'progress summary, median (ms)':34}{med['summary_ms']:>12.1f}{med['summary_baseline_ms']:>12.1f}"
          f"{med['summary_ms'] / med['summary_baseline_ms']:>9.2f}")
    print("baselines: bare one-statement UPDATE of a progress row; GET roadmap read (TaskStore.get_roadmap)")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--roadmaps", type=int, default=1000)
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--writers", type=int, default=16)
    parser.add_argument("--summaries", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=int(uuid.uuid4().int % 1000))
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse()))
