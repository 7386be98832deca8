"""End-to-end offline roadmaps per second on PostgreSQL: 1, 2 and 4 worker processes vs the in-process runner.

A roadmap is the whole workflow (intent analysis, curriculum design, validation, auto-approved review, finalize:
PostgreSQL checkpoints, the durable event log, the roadmap row and the JSON + Markdown export) with the offline
planner, on a throwaway PostgreSQL (scripts/devservices.py, fsync on).

* workers (N = 1, 2, 4): N ``roadmap-agent worker`` processes (``--concurrency`` runs each). This process
  submits K tasks with ``auto_approve`` the way the API does (``Runner.submit``: task row, first event, queue
  job); the clock runs from the first submit to the last ``completed`` event (``task_events.created_at``).
* in-process (the baseline): the runner inside this process on the same database, ``--concurrency`` runs at a
  time (``ROADMAP_AGENT_EXECUTION=inprocess``; what ``serve`` does without workers), timed the same way.

Each run measures every setting once, in a rotating order (the machine is shared: load from elsewhere then
spreads over all settings): fresh processes, an untimed warm-up round, one timed round of K tasks. Figures are
medians over the runs [min - max] and ratios against the in-process median measured in the same run, with the
CPU time each part used per roadmap (from /proc) and how many cores our processes kept busy on average. No
Redis: events fan out in process (publishing is off the run's path anyway). Worker processes are started per
setting and run, and stopped by PID.

    .venv/bin/python bench/worker_throughput.py [--tasks 60 --runs 5 --workers 1,2,4 --concurrency 4]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from harness import (
    GOALS,
    Servers,
    cpu_seconds,
    median,
    processes,
    registered_workers,
    throwaway_servers,
    tree_cpu_seconds,
    wait_workers,
)

from roadmap_agent.domain.models import LearnerRequest
from roadmap_agent.logging import configure_logging
from roadmap_agent.services import Services, open_services
from roadmap_agent.settings import Settings
from roadmap_agent.store.records import TaskStatus

FINISH_TIMEOUT = 300.0
FINISHED_SQL = "SELECT count(*) FROM tasks WHERE id = ANY(%s) AND status IN ('completed', 'failed', 'cancelled')"
OUTCOME_SQL = ("SELECT count(*) FILTER (WHERE status = 'completed'), "
               "(SELECT max(created_at) FROM task_events WHERE task_id = ANY(%s) AND type = 'completed') "
               "FROM tasks WHERE id = ANY(%s)")


CpuProbe = Callable[[], dict[str, float]]  # cumulative CPU seconds by part: runs, bench, postgres


@dataclass
class Setting:
    name: str
    rates: list[float] = field(default_factory=list)
    cpu_ms: dict[str, list[float]] = field(default_factory=dict)  # CPU ms per roadmap by part, per run
    busy: list[float] = field(default_factory=list)  # cores busy on average (all parts' CPU s / wall s)


def settings_for(env: dict[str, str]) -> Settings:
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        return Settings.load(env_file=None)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def opened(env: dict[str, str]) -> AbstractAsyncContextManager[Services]:
    return open_services(settings_for(env), role="bench")


async def wait_finished(libpq_url: str, ids: list[str]) -> float:
    """Until every task finished; the wall time of the last ``completed`` event. Fails on any other outcome."""
    deadline = time.monotonic() + FINISH_TIMEOUT
    async with await psycopg.AsyncConnection.connect(libpq_url, autocommit=True) as conn:
        while True:
            row = await (await conn.execute(FINISHED_SQL, (ids,))).fetchone()
            if row and row[0] == len(ids):
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"only {row[0] if row else 0}/{len(ids)} tasks finished in {FINISH_TIMEOUT:g} s")
            await asyncio.sleep(0.05)
        outcome = await (await conn.execute(OUTCOME_SQL, (ids, ids))).fetchone()
    assert outcome is not None  # noqa: S101 - an aggregate always returns a row
    if outcome[0] != len(ids):
        raise SystemExit(f"{len(ids) - outcome[0]} of {len(ids)} tasks did not complete: the figures would be wrong")
    return float(outcome[1].timestamp())


async def queued_round(services: Services, libpq_url: str, tasks: int) -> float:
    """Submit ``tasks`` runs to the queue; roadmaps per second until the last one completed."""
    started = time.time()
    ids = []
    for index in range(tasks):
        request = LearnerRequest(goal=GOALS[index % len(GOALS)], auto_approve=True)
        ids.append((await services.runner.submit("bench", request)).task_id)
    return tasks / (await wait_finished(libpq_url, ids) - started)


async def inprocess_round(services: Services, libpq_url: str, tasks: int, concurrency: int) -> float:
    limit = asyncio.Semaphore(concurrency)
    ids: list[str] = []

    async def one(index: int) -> None:
        async with limit:
            request = LearnerRequest(goal=GOALS[index % len(GOALS)], auto_approve=True)
            task = await services.runner.submit("bench", request, background=False)
            ids.append(task.task_id)
            if await services.runner.run(task.task_id) != TaskStatus.COMPLETED:
                raise SystemExit(f"task {task.task_id} did not complete: the figures would be wrong")

    started = time.time()
    await asyncio.gather(*(one(i) for i in range(tasks)))
    return tasks / (await wait_finished(libpq_url, ids) - started)


async def measure(setting: Setting, rounds: Callable[[int], Awaitable[float]], cpu: CpuProbe,
                  args: argparse.Namespace, warm: int, run: int) -> None:
    """An untimed warm-up round (imports, caches, pools), then one timed round of ``--tasks``."""
    await rounds(warm)
    before, began = cpu(), time.monotonic()
    rate = await rounds(args.tasks)
    after, wall = cpu(), time.monotonic() - began
    setting.rates.append(rate)
    used = {part: after[part] - before[part] for part in after}
    for part, seconds in used.items():
        setting.cpu_ms.setdefault(part, []).append(seconds * 1000 / args.tasks)
    setting.busy.append(sum(used.values()) / wall)
    parts = ", ".join(f"{part} {seconds * 1000 / args.tasks:.0f}" for part, seconds in used.items())
    print(f"  run {run + 1} {setting.name:<18} {rate:6.1f} roadmaps/s ({args.tasks} tasks); CPU ms per roadmap: "
          f"{parts}; load average {os.getloadavg()[0]:.1f}", flush=True)


def own_cpu() -> float:
    times = os.times()
    return times.user + times.system


def postgres_pid(servers: Servers) -> int:
    if servers.postgres.pid is None:
        raise SystemExit("PostgreSQL is not running")
    return int(servers.postgres.pid)


def bench_inprocess(servers: Servers, args: argparse.Namespace, setting: Setting, run: int) -> None:
    env = servers.base_env(ROADMAP_AGENT_EXECUTION="inprocess")

    def cpu() -> dict[str, float]:
        return {"runs": own_cpu(), "bench": 0.0, "postgres": tree_cpu_seconds(postgres_pid(servers))}

    async def go() -> None:
        async with opened(env) as services:
            await measure(setting, lambda n: inprocess_round(services, servers.libpq_url, n, args.concurrency),
                          cpu, args, args.concurrency * 2, run)

    asyncio.run(go())


def bench_workers(servers: Servers, args: argparse.Namespace, setting: Setting, count: int, run: int) -> None:
    env = servers.base_env(ROADMAP_AGENT_EXECUTION="queue")
    with processes(servers.root / "logs") as group:
        before = registered_workers(servers.libpq_url)
        workers = [group.worker(env, f"worker-{count}-{run}-{n}", args.concurrency) for n in range(count)]
        wait_workers(servers.libpq_url, before, count, workers)

        def cpu() -> dict[str, float]:
            return {"runs": sum(cpu_seconds(w.pid) for w in workers), "bench": own_cpu(),
                    "postgres": tree_cpu_seconds(postgres_pid(servers))}

        async def go() -> None:
            async with opened(env) as services:
                await measure(setting, lambda n: queued_round(services, servers.libpq_url, n), cpu, args,
                              count * args.concurrency * 2, run)

        asyncio.run(go())


def report(settings: list[Setting], args: argparse.Namespace) -> None:
    base = median(settings[0].rates)
    print()
    print(f"end-to-end offline roadmaps/s on PostgreSQL, {args.tasks} tasks per run, {args.runs} runs; "
          "median [min - max]; ratio to the in-process median")
    print(f"{'setting':<24}{'roadmaps/s':>26}{'ratio':>9}{'CPU ms/roadmap: runs':>23}{'bench':>7}{'postgres':>10}"
          f"{'cores busy':>12}")
    for setting in settings:
        rates, cpu = setting.rates, {part: median(values) for part, values in setting.cpu_ms.items()}
        cell = f"{median(rates):.1f} [{min(rates):.1f} - {max(rates):.1f}]"
        print(f"{setting.name:<24}{cell:>26}{median(rates) / base:>8.2f}x{cpu['runs']:>23.0f}{cpu['bench']:>7.0f}"
              f"{cpu['postgres']:>10.0f}{median(setting.busy):>12.2f}")
    print("runs: the worker processes (in-process: this process, submitting included); bench: this process "
          "submitting and polling; postgres: the server and its backends")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=60, help="tasks per timed run")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workers", default="1,2,4", help="worker process counts to measure")
    parser.add_argument("--concurrency", type=int, default=4,
                        help="runs at once per worker process (ROADMAP_AGENT_WORKER_CONCURRENCY) and in-process")
    args = parser.parse_args()
    configure_logging("WARNING", "console")
    counts = [int(part) for part in args.workers.split(",") if part.strip()]
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; PostgreSQL started by "
          "scripts/devservices.py", flush=True)
    with throwaway_servers("throughput") as servers:
        Path(servers.root / "home").mkdir(parents=True, exist_ok=True)
        results = [Setting(f"in-process (x{args.concurrency})"),
                   *(Setting(f"{count} worker{'s' if count > 1 else ''} (x{args.concurrency})") for count in counts)]
        pairs = list(zip(results, [0, *counts], strict=True))  # 0 workers: in-process
        for run in range(args.runs):
            turn = run % len(pairs)  # rotate the order, so drifting load from elsewhere spreads evenly
            for setting, count in pairs[turn:] + pairs[:turn]:
                if count == 0:
                    bench_inprocess(servers, args, setting, run)
                else:
                    bench_workers(servers, args, setting, count, run)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    report(results, args)


if __name__ == "__main__":
    main()
