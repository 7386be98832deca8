"""Recovery after a worker is killed with SIGKILL mid-run: kill -> ``task_recovering``, kill -> ``completed``.

Server mode on a throwaway PostgreSQL (scripts/devservices.py): one ``roadmap-agent serve`` (the API) and, per
trial, two ``roadmap-agent worker`` processes (concurrency 1 each):

1. the doomed worker starts with ``ROADMAP_AGENT_STEP_DELAY`` (each step sleeps that long first, so a run is
   slow enough to be caught mid-way); one task is submitted through the API with ``auto_approve``;
2. once the doomed worker holds the run, the rescuer starts (no step delay), so it cannot take the job first;
3. when the rescuer is registered (taking jobs, heartbeating, sweeping) and the run is inside
   ``curriculum_design`` (the first step checkpointed), the doomed worker gets ``kill -9``;
4. the rescuer's sweep finds the silent worker's job, puts it back in the queue and runs it from the last
   checkpoint. Times are read from the durable event log (``task_events.created_at`` of the ``task_recovering``
   and ``completed`` events; one machine, one clock) against the wall time the SIGKILL was sent.

The rescuer is then stopped (SIGTERM) and the next trial starts fresh. Two settings are compared, each in its
own trials: the product's defaults (heartbeat 1 s, a worker silent for 4 s is presumed dead) and procrastinate's
stock defaults (``update_heartbeat_interval`` 10 s, ``stalled_worker_timeout`` 30 s) set through
``ROADMAP_AGENT_WORKER_HEARTBEAT`` / ``ROADMAP_AGENT_WORKER_STALLED_AFTER``. Every process is stopped by its PID.

    .venv/bin/python bench/worker_recovery.py [--trials 20 --baseline-trials 3 --step-delay 1.5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import psycopg
from harness import (
    GOALS,
    Processes,
    Servers,
    create_keys,
    median,
    percentile,
    processes,
    registered_workers,
    throwaway_servers,
    wait_workers,
)

from roadmap_agent.settings import WorkerSettings

TRIAL_TIMEOUT = 120.0  # per wait inside a trial; the stock settings need ~30 s to notice a dead worker


@dataclass
class Config:
    name: str
    env: dict[str, str]
    trials: int
    recovering: list[float] = field(default_factory=list)
    completed: list[float] = field(default_factory=list)
    resumed: int = 0  # trials whose run continued from its checkpoint (intent_analysis ran once)
    steps: dict[str, int] = field(default_factory=dict)  # the step each kill landed in


@dataclass
class Trial:
    recovering: float
    completed: float
    resumed: bool
    killed_in: str


def events(libpq_url: str, task_id: str) -> list[tuple[str, str | None, str | None, datetime]]:
    with psycopg.connect(libpq_url, connect_timeout=5) as conn:
        rows = conn.execute("SELECT type, step, status, created_at FROM task_events WHERE task_id = %s ORDER BY seq",
                            (task_id,)).fetchall()
    return [(str(r[0]), r[1], r[2], r[3]) for r in rows]


def task_row(libpq_url: str, task_id: str) -> tuple[str, str | None, str | None]:
    with psycopg.connect(libpq_url, connect_timeout=5) as conn:
        row = conn.execute("SELECT status, worker, current_step FROM tasks WHERE id = %s", (task_id,)).fetchone()
    if row is None:
        raise SystemExit(f"task {task_id} is not in the tasks table")
    return str(row[0]), row[1], row[2]


def until(condition: Callable[[], Any], what: str, timeout: float = TRIAL_TIMEOUT, interval: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def started(evs: list[tuple[str, str | None, str | None, datetime]], step: str) -> int:
    return sum(1 for _, s, status, _ in evs if s == step and status == "started")


def trial(group: Processes, servers: Servers, api: httpx.Client, config: Config, delay: float,
          number: int) -> Trial:
    db = servers.libpq_url
    before = registered_workers(db)
    doomed = group.worker({**config.env, "ROADMAP_AGENT_STEP_DELAY": str(delay)}, f"doomed-{number}", 1)
    wait_workers(db, before, 1, [doomed])
    body = {"goal": GOALS[number % len(GOALS)], "auto_approve": True}
    response = api.post("/api/v1/roadmaps", json=body)
    response.raise_for_status()
    task_id = response.json()["task_id"]
    until(lambda: (task_row(db, task_id)[1] or "").endswith(f":{doomed.pid}"), "the doomed worker to claim the run")
    before = registered_workers(db)
    rescuer = group.worker(config.env, f"rescuer-{number}", 1)
    wait_workers(db, before, 1, [rescuer])
    until(lambda: started(events(db, task_id), "curriculum_design"), "the run to reach curriculum_design")
    status, _, step = task_row(db, task_id)
    if status != "running":
        raise SystemExit(f"the run was {status} before the kill: raise --step-delay")
    killed_at = doomed.kill9()
    until(lambda: any(t in ("completed", "failed") for t, *_ in events(db, task_id)), "the task to finish")
    evs = events(db, task_id)
    rescuer.stop()
    times = {t: at.timestamp() for t, _, _, at in evs if t in ("task_recovering", "completed")}
    if "completed" not in times or "task_recovering" not in times:
        raise SystemExit(f"trial {number}: events {[t for t, *_ in evs]}: expected task_recovering and completed")
    return Trial(times["task_recovering"] - killed_at, times["completed"] - killed_at,
                 started(evs, "intent_analysis") == 1, step or "?")


def run_config(group: Processes, servers: Servers, api: httpx.Client, config: Config, delay: float) -> None:
    for number in range(config.trials):
        result = trial(group, servers, api, config, delay, number)
        config.recovering.append(result.recovering)
        config.completed.append(result.completed)
        config.resumed += result.resumed
        config.steps[result.killed_in] = config.steps.get(result.killed_in, 0) + 1
        print(f"  {config.name:<34} trial {number + 1:2}/{config.trials}: kill -> task_recovering "
              f"{result.recovering:6.2f} s, -> completed {result.completed:6.2f} s (killed in {result.killed_in})",
              flush=True)


def report(configs: list[Config], delay: float) -> None:
    defaults = WorkerSettings(_env_file=None)
    print()
    print(f"kill -9 of the worker holding a run -> another worker resumes it; seconds; step delay {delay:g} s "
          f"(doomed worker only), sweep every {defaults.sweep_interval:g} s, queue poll {defaults.poll_interval:g} s "
          "(+ LISTEN/NOTIFY)")
    print(f"{'settings':<36}{'trials':>7}{'recovering p50':>16}{'p99':>8}{'max':>8}"
          f"{'completed p50':>15}{'p99':>8}{'max':>8}{'resumed':>9}")
    for config in configs:
        if not config.recovering:
            continue
        r, c = config.recovering, config.completed
        print(f"{config.name:<36}{len(r):>7}{median(r):>16.2f}{percentile(r, 0.99):>8.2f}{max(r):>8.2f}"
              f"{median(c):>15.2f}{percentile(c, 0.99):>8.2f}{max(c):>8.2f}{config.resumed:>6}/{len(r)}")
    ours, stock = configs
    if ours.recovering and stock.recovering:
        ratio = median(stock.recovering) / median(ours.recovering)
        print(f"stock / ours, median kill -> task_recovering: {ratio:.2f}x")
    for config in configs:
        if config.steps:
            print(f"{config.name}: killed in {config.steps}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=20, help="trials with the product's defaults")
    parser.add_argument("--baseline-trials", type=int, default=3,
                        help="trials with procrastinate's stock heartbeat 10 s / stalled 30 s (0 to skip)")
    parser.add_argument("--step-delay", type=float, default=1.5, help="ROADMAP_AGENT_STEP_DELAY of the doomed worker")
    parser.add_argument("--redis", action="store_true", help="also run Redis (events fan out through it)")
    args = parser.parse_args()
    defaults = WorkerSettings(_env_file=None)
    servers_started = "PostgreSQL and Redis" if args.redis else "PostgreSQL"
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; {servers_started} started by "
          "scripts/devservices.py", flush=True)
    with throwaway_servers("recovery", redis=args.redis) as servers, processes(servers.root / "logs") as group:
        base = servers.base_env(ROADMAP_AGENT_EXECUTION="queue")
        configs = [
            Config(f"ours (heartbeat {defaults.heartbeat:g} s, stalled {defaults.stalled_after:g} s)", base,
                   args.trials),
            Config("procrastinate stock (10 s, 30 s)", {**base, "ROADMAP_AGENT_WORKER_HEARTBEAT": "10",
                                                        "ROADMAP_AGENT_WORKER_STALLED_AFTER": "30"},
                   args.baseline_trials),
        ]
        key = asyncio.run(create_keys(servers.database_url, 1))[0]
        api_proc = group.api(base)
        with httpx.Client(base_url=api_proc.url, timeout=30, headers={"Authorization": f"Bearer {key}"}) as api:
            for config in configs:
                run_config(group, servers, api, config, args.step_delay)
        print(f"load average at the end {os.getloadavg()[0]:.1f}")
        report(configs, args.step_delay)


if __name__ == "__main__":
    main()
