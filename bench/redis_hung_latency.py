"""API latency while Redis is hung (SIGSTOPped), ours vs the API configured like the old deployment.

One ``roadmap-agent serve`` process (server mode: PostgreSQL + Redis from scripts/devservices.py), a fresh one
per row. Runs are queued and no worker runs, so the API only does its own work: ``POST /api/v1/roadmaps``
(authenticate, insert the task, append its first event -- which is published to Redis -- and queue the job)
and ``GET /api/v1/tasks/{id}``. Workflow runs would only add CPU noise on the same cores; they never publish
from the API process. This process is the client (httpx): ``--posters`` loops creating roadmaps and
``--readers`` loops reading tasks (ids from a warm-up and from the posters), each one request at a time,
for ``--duration`` seconds. Redis is healthy during the warm-up (the clients have their connections), then
SIGSTOPped (the kernel still accepts and ACKs; nothing answers) for the timed load, then resumed.

Rows (the rate limit on creation is lifted for the one API key of this bench):

* ours, Redis healthy -- the reference.
* ours, Redis hung -- the product's defaults (2 s socket timeouts, 2 retries, 0.25 s publish deadline,
  breaker after 3 failures; events are published by a background task after the durable append).
* old settings, Redis hung -- ``REDIS_SOCKET_TIMEOUT=30``, ``REDIS_SOCKET_CONNECT_TIMEOUT=30``,
  ``REDIS_RETRIES=10`` (retries on), and as far as settings go no publish deadline or breaker
  (``REDIS_PUBLISH_TIMEOUT=3600``, ``REDIS_BREAKER_FAILURES=1000000``). No setting makes the API publish
  inline: publishing stays on the background task, so requests still do not wait on Redis.
* old settings + inline publish (emulated), Redis hung -- the old code path: the same settings, and the event
  published inside the request, as the old deployment did. Emulated by this bench only: the API is started
  through a launcher that builds ``EventLog(background=False)``; nothing in the product can do this.

Each round runs every row once (a fresh API each time), so load from other processes on the machine spreads
over all rows; latencies are pooled over the rounds. Latencies are per request, client side
(``--client-timeout`` ends a request that hangs: counted as an error, its latency shown as "> timeout").
Ratios are ours / old, p99 over p99 (below 1 means ours is faster).
Everything is stopped by its PID; Redis is resumed before it is stopped.

    .venv/bin/python bench/redis_hung_latency.py [--duration 15 --posters 4 --readers 4 --client-timeout 60]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
from harness import (
    GOALS,
    Processes,
    Servers,
    code_env,
    cpu_seconds,
    create_keys,
    percentile,
    processes,
    throwaway_servers,
)

# Starts `roadmap-agent serve` with the event log publishing inside emit() (the request), like the old code.
INLINE_PUBLISH_LAUNCHER = """\
from roadmap_agent import cli, services
from roadmap_agent.events.bus import EventLog

class InlineEventLog(EventLog):
    def __init__(self, *args, **kwargs):
        kwargs["background"] = False
        super().__init__(*args, **kwargs)

services.EventLog = InlineEventLog
cli.main()
"""
OLD_SETTINGS = {"REDIS_SOCKET_TIMEOUT": "30", "REDIS_SOCKET_CONNECT_TIMEOUT": "30", "REDIS_RETRIES": "10",
                "REDIS_PUBLISH_TIMEOUT": "3600", "REDIS_BREAKER_FAILURES": "1000000"}
NO_RATE_LIMIT = {"ROADMAP_AGENT_CREATE_BURST": "1000000", "ROADMAP_AGENT_CREATE_PER_MINUTE": "1000000000"}
WARM_UP = 20


@dataclass
class Row:
    name: str
    env: dict[str, str]
    hung: bool
    client_timeout: float
    inline: bool = False
    old_code: bool = False  # --baseline-src: the same row with the API run from the older source tree
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"POST": [], "GET": []})
    timed_out: dict[str, int] = field(default_factory=lambda: {"POST": 0, "GET": 0})
    errors: Counter[str] = field(default_factory=Counter)
    round_p99: dict[str, list[float]] = field(default_factory=lambda: {"POST": [], "GET": []})
    api_cpu: float = 0.0  # CPU seconds the API process used during the timed load, all rounds


async def call(client: httpx.AsyncClient, row: Row, kind: str, url: str,
               body: dict[str, object] | None = None) -> httpx.Response | None:
    started = time.perf_counter()
    try:
        response = await (client.get(url) if body is None else client.post(url, json=body))
    except httpx.TimeoutException:
        row.latencies[kind].append(time.perf_counter() - started)
        row.timed_out[kind] += 1
        row.errors[f"{kind} client timeout"] += 1
        return None
    except httpx.TransportError as exc:
        row.latencies[kind].append(time.perf_counter() - started)
        row.errors[f"{kind} {type(exc).__name__}"] += 1
        return None
    row.latencies[kind].append(time.perf_counter() - started)
    if response.status_code >= 400:
        row.errors[f"{kind} {response.status_code}"] += 1
    return response


async def load(client: httpx.AsyncClient, row: Row, ids: list[str], args: argparse.Namespace) -> None:
    stop_at = time.monotonic() + args.duration

    async def poster(number: int) -> None:
        while time.monotonic() < stop_at:
            body = {"goal": GOALS[number % len(GOALS)], "auto_approve": True}
            response = await call(client, row, "POST", "/api/v1/roadmaps", body)
            if response is not None and response.status_code == 202:
                ids.append(response.json()["task_id"])

    async def reader() -> None:
        while time.monotonic() < stop_at:
            await call(client, row, "GET", f"/api/v1/tasks/{random.choice(ids)}")

    await asyncio.gather(*(poster(n) for n in range(args.posters)), *(reader() for _ in range(args.readers)))


async def warm_up(client: httpx.AsyncClient) -> list[str]:
    ids = []
    for number in range(WARM_UP):
        response = await client.post("/api/v1/roadmaps", json={"goal": GOALS[number % len(GOALS)]})
        response.raise_for_status()
        ids.append(response.json()["task_id"])
        (await client.get(f"/api/v1/tasks/{ids[-1]}")).raise_for_status()
    return ids


def measure(group: Processes, servers: Servers, row: Row, key: str, args: argparse.Namespace, number: int) -> None:
    redis = servers.redis
    if redis is None:
        raise SystemExit("this bench needs Redis")
    argv = [sys.executable, "-c", INLINE_PUBLISH_LAUNCHER] if row.inline else None
    api = group.api(row.env, row.name.split()[0], argv=argv)

    async def go() -> None:
        limits = httpx.Limits(max_connections=args.posters + args.readers + 2)
        async with httpx.AsyncClient(base_url=api.url, headers={"Authorization": f"Bearer {key}"}, limits=limits,
                                     timeout=args.client_timeout) as client:
            ids = await warm_up(client)
            if row.hung:
                redis.pause()
                if redis.ping(timeout=0.5):
                    raise SystemExit("Redis still answers after SIGSTOP")
            before = cpu_seconds(api.pid)
            try:
                await load(client, row, ids, args)
            finally:
                row.api_cpu += cpu_seconds(api.pid) - before
                if row.hung:
                    redis.resume()

    counts = {kind: len(values) for kind, values in row.latencies.items()}
    try:
        asyncio.run(go())
    finally:
        api.stop()
    for kind, values in row.latencies.items():
        if len(values) > counts[kind]:
            row.round_p99[kind].append(percentile(values[counts[kind]:], 0.99))
    print(f"  round {number + 1} {row.name:<48} POST n={len(row.latencies['POST']) - counts['POST']} "
          f"p99 {row.round_p99['POST'][-1] * 1000:.1f} ms   GET n={len(row.latencies['GET']) - counts['GET']} "
          f"p99 {row.round_p99['GET'][-1] * 1000:.1f} ms", flush=True)


def cell(row: Row, kind: str, fraction: float | None) -> str:
    values = row.latencies[kind]
    if not values:
        return "-"
    value = max(values) if fraction is None else percentile(values, fraction)
    if row.timed_out[kind] and value >= row.client_timeout:
        return f">{row.client_timeout:.0f} s"
    return f"{value * 1000:.1f}"


def report(rows: list[Row], args: argparse.Namespace) -> None:
    print()
    print(f"API latency, ms (client side), {args.posters} posters + {args.readers} readers, one request at a time "
          f"each, {args.duration:g} s per row and round, {args.rounds} rounds pooled (the emulated row: one); "
          f"client timeout {args.client_timeout:g} s")
    header = "".join(f"{f'{kind} {stat}':>12}" for kind in ("POST", "GET") for stat in ("n", "p50", "p99", "max"))
    print(f"{'row':<46}{header}{'API CPU ms/req':>16}   errors")
    for row in rows:
        cells = "".join(f"{value:>12}" for kind in ("POST", "GET") for value in (
            str(len(row.latencies[kind])), cell(row, kind, 0.5), cell(row, kind, 0.99), cell(row, kind, None)))
        errors = ", ".join(f"{name}: {count}" for name, count in sorted(row.errors.items())) or "none"
        print(f"{row.name:<46}{cells}{_cpu_ms(row):>16.2f}   {errors}")
    for row in rows:
        if len(row.round_p99["POST"]) > 1:
            print(f"{row.name}: p99 by round, POST {_ms(row.round_p99['POST'])}, GET {_ms(row.round_p99['GET'])}")
    ours = rows[1]
    for row in rows:
        if row.old_code and (new := next((r for r in rows if r.name == row.name.removesuffix(" [old code]")), None)):
            print(f"API CPU per request, {new.name}: {_cpu_ms(new):.2f} ms vs {_cpu_ms(row):.2f} ms with the old code "
                  f"(new / old {_cpu_ms(new) / max(_cpu_ms(row), 1e-9):.2f})")
    for old in (row for row in rows[2:] if not row.old_code):
        for kind in ("POST", "GET"):
            if not old.latencies[kind] or not ours.latencies[kind]:
                continue
            ratio = percentile(ours.latencies[kind], 0.99) / percentile(old.latencies[kind], 0.99)
            bound = "<= " if old.timed_out[kind] else ""
            print(f"{kind} p99 ours hung / {old.name}: {bound}{ratio:.3f}")


def _cpu_ms(row: Row) -> float:
    return row.api_cpu * 1000 / max(1, sum(len(values) for values in row.latencies.values()))


def _ms(values: list[float]) -> str:
    return " / ".join(f"{value * 1000:.0f}" for value in values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=15.0, help="seconds of load per row")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds over the rows (interleaved, a fresh API each time; the emulated row runs once)")
    parser.add_argument("--posters", type=int, default=4, help="client loops creating roadmaps")
    parser.add_argument("--readers", type=int, default=4, help="client loops reading tasks")
    parser.add_argument("--client-timeout", type=float, default=60.0, help="seconds before a request is given up")
    parser.add_argument("--skip-inline", action="store_true", help="leave out the emulated inline-publish row")
    parser.add_argument("--baseline-src", metavar="DIR",
                        help="add the two 'ours' rows again with the API run from this source tree (a git worktree "
                             "of an older commit): old and new code measured in the same rounds")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; PostgreSQL and Redis started by "
          "scripts/devservices.py", flush=True)
    with throwaway_servers("redis-hung", redis=True) as servers, processes(servers.root / "logs") as group:
        base = servers.base_env(ROADMAP_AGENT_EXECUTION="queue", **NO_RATE_LIMIT)
        old = {**base, **OLD_SETTINGS}
        limit = args.client_timeout
        rows = [Row("ours, Redis healthy", base, False, limit), Row("ours, Redis hung", base, True, limit),
                Row("old settings, Redis hung", old, True, limit)]
        if not args.skip_inline:
            rows.append(Row("old settings + inline publish (emulated), hung", old, True, limit, inline=True))
        if args.baseline_src:
            rows += [Row(f"{row.name} [old code]", code_env(row.env, args.baseline_src), row.hung, limit,
                         old_code=True) for row in rows[:2]]
        key = asyncio.run(create_keys(servers.database_url, 1))[0]
        for number in range(args.rounds):
            for row in rows:
                if not row.inline or number == 0:
                    measure(group, servers, row, key, args, number)
        print(f"load average at the end {os.getloadavg()[0]:.1f}")
    report(rows, args)


if __name__ == "__main__":
    main()
