"""Roadmaps generated per second end to end (auto-approve) on the embedded default.

Runs the full workflow (intent -> design -> validation -> auto-approved review -> finalize with SQLite
checkpoints, event log and JSON/Markdown export) in one process, for several rounds, and prints each
round's rate and the median. The baseline measured in the same run is the pure planner (no workflow, no
IO), so the ratio shows what durability costs.

    .venv/bin/python bench/generate_throughput.py --runs 5 --tasks 40 --concurrency 4
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from roadmap_agent.domain.catalog import load_catalog
from roadmap_agent.domain.intent import analyze_intent
from roadmap_agent.domain.models import LearnerRequest
from roadmap_agent.domain.planning import design_curriculum
from roadmap_agent.logging import configure_logging
from roadmap_agent.services import open_services
from roadmap_agent.settings import Settings

GOALS = [
    "I want to become a backend developer in 3 months, I know some Python, 10 hours a week",
    "我想三个月内学会 Python 后端开发，每周 10 小时",
    "learn machine learning in 6 months, 8 hours per week",
    "become a frontend developer, complete beginner, 2 hours a day",
    "我想半年内成为数据分析师，每周十小时",
    "DevOps engineer in 4 months, I know Linux and git",
]


async def workflow_round(tasks: int, concurrency: int) -> float:
    with tempfile.TemporaryDirectory() as home:
        settings = Settings.load(env_file=None, home=Path(home))
        async with open_services(settings) as services:
            limit = asyncio.Semaphore(concurrency)

            async def one(index: int) -> None:
                async with limit:
                    request = LearnerRequest(goal=GOALS[index % len(GOALS)], auto_approve=True)
                    task = await services.runner.submit("bench", request, background=False)
                    status = await services.runner.run(task.task_id)
                    if status.value != "completed":
                        raise SystemExit(f"task {task.task_id} ended {status.value}: the figures would be wrong")

            started = time.perf_counter()
            await asyncio.gather(*(one(i) for i in range(tasks)))
            return tasks / (time.perf_counter() - started)


def planner_round(tasks: int) -> float:
    catalog = load_catalog()
    started = time.perf_counter()
    for index in range(tasks):
        intent = analyze_intent(LearnerRequest(goal=GOALS[index % len(GOALS)]), catalog)
        design_curriculum(intent, catalog, f"rm-{index}")
    return tasks / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tasks", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    configure_logging("WARNING", "console")
    baseline = [planner_round(args.tasks) for _ in range(args.runs)]
    rates = []
    for run in range(1, args.runs + 1):
        rates.append(asyncio.run(workflow_round(args.tasks, args.concurrency)))
        print(f"run {run}: {rates[-1]:.1f} roadmaps/s end to end ({args.tasks} tasks, concurrency {args.concurrency})")
    median, base = statistics.median(rates), statistics.median(baseline)
    print(f"median end to end: {median:.1f} roadmaps/s")
    print(f"median planner only (baseline, no IO): {base:.1f} roadmaps/s")
    print(f"ratio end-to-end / planner-only: {median / base:.3f}")


if __name__ == "__main__":
    main()
