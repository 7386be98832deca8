"""Many concurrent clients against one API process with a database pool of 10: requests, errors, p50/p99.

One ``roadmap-agent serve`` process (server mode on a throwaway PostgreSQL from scripts/devservices.py, a fresh
API per row) with ``DB_POOL_SIZE=10`` and ``DB_POOL_MAX_OVERFLOW=0``. Runs are queued and no worker runs, so
the figures measure the API alone (workers would share the same 2 cores). Each client is its own user with
its own API key (made through ``UserStore`` before the API starts), so authentication looks up 500 different
keys; the per-key rate limit on creation is lifted (``ROADMAP_AGENT_CREATE_BURST`` /
``..._PER_MINUTE``): the baseline's 10 clients would pass the stock 10 + 30/min in their first second and
measure 429s.

Every client loops, one request at a time: ``POST /api/v1/roadmaps`` (auth, task insert, first event, queue
job), ``GET /api/v1/tasks/{id}`` of the task it just created, ``GET /health/ready`` (no database: answered
from the background prober). All clients start together and keep going for ``--duration`` seconds; requests
in flight at the end are waited for. Each client has its own ``httpx.AsyncClient`` (one connection); the
open-files limit is raised first if needed.

Rows (``--rounds`` rounds over all rows, interleaved so load from elsewhere on the machine spreads evenly; a
fresh API for every row and round; figures pooled over the rounds):

* ``--baseline-clients`` (10 = the pool size): no queueing for connections; the baseline.
* ``--clients`` (500) with the stock admission limit: at most pool + overflow + ``DB_POOL_MAX_WAITING`` (100)
  database operations in flight; the rest are refused at once (503, "Database ... is overloaded").
* ``--clients`` (500) with ``DB_POOL_MAX_WAITING=100000``: nobody is refused; callers queue for a connection
  for up to ``DB_POOL_TIMEOUT`` (5 s), then get a 503.

Clients do not back off on a 503 (the API sends ``Retry-After: 5``): the worst case. Figures: requests,
errors by status or exception, p50/p99/max over all requests and over 2xx answers only, by endpoint (client
side), ratios against the baseline row, and the CPU of the API process and of this client process (cores
busy). Everything is stopped by its PID.

    .venv/bin/python bench/api_load.py [--clients 500 --baseline-clients 10 --duration 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import ssl
import time
from collections import Counter
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

import httpx
from harness import (
    GOALS,
    Processes,
    code_env,
    create_keys,
    percentile,
    processes,
    throwaway_servers,
    tree_cpu_seconds,
)

ENDPOINTS = ("POST /roadmaps", "GET /tasks/{id}", "GET /health/ready")
POOL = {"DB_POOL_SIZE": "10", "DB_POOL_MAX_OVERFLOW": "0"}
# The per-key creation limit is not what is measured: a baseline client alone would pass it in a second.
NO_RATE_LIMIT = {"ROADMAP_AGENT_CREATE_BURST": "1000000", "ROADMAP_AGENT_CREATE_PER_MINUTE": "1000000000"}


@dataclass
class Row:
    name: str
    clients: int
    env: dict[str, str]
    args: tuple[str, ...] = ()  # extra `serve` arguments (--workers N)
    latencies: dict[str, list[float]] = field(default_factory=lambda: {e: [] for e in ENDPOINTS})
    succeeded: list[float] = field(default_factory=list)  # latencies of 2xx answers only
    in_order: list[float] = field(default_factory=list)  # every latency, as they came (rounds are slices)
    errors: Counter[str] = field(default_factory=Counter)
    samples: dict[str, str] = field(default_factory=dict)  # one error message per kind of error
    wall: float = 0.0  # seconds of load, all rounds
    api_cpu: float = 0.0  # CPU seconds of the API processes during the load
    client_cpu: float = 0.0  # ... and of this process
    round_p99: list[float] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return len(self.in_order)

    def record(self, endpoint: str, seconds: float) -> None:
        self.latencies[endpoint].append(seconds)
        self.in_order.append(seconds)


async def call(client: httpx.AsyncClient, row: Row, endpoint: str, key: str, url: str,
               body: dict[str, object] | None = None) -> httpx.Response | None:
    headers = {"Authorization": f"Bearer {key}"}
    started = time.perf_counter()
    try:
        if body is None:
            response = await client.get(url, headers=headers)
        else:
            response = await client.post(url, json=body, headers=headers)
    except httpx.HTTPError as exc:
        row.record(endpoint, time.perf_counter() - started)
        row.errors[f"{endpoint}: {type(exc).__name__}"] += 1
        row.samples.setdefault(f"{endpoint}: {type(exc).__name__}", str(exc)[:200])
        return None
    row.record(endpoint, time.perf_counter() - started)
    if response.status_code >= 400:
        kind = f"{endpoint}: {response.status_code}"
        row.errors[kind] += 1
        if kind not in row.samples:
            row.samples[kind] = _message(response)
    else:
        row.succeeded.append(row.in_order[-1])
    return response


def _message(response: httpx.Response) -> str:
    """What an error answer says: the API's message, or for /health/ready the dependencies that are not ok."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if "dependencies" in body:
        unwell = [(name, dep) for name, dep in body["dependencies"].items() if dep["status"] != "ok"]
        return "; ".join(f"{name} {dep['status']}: {dep.get('last_error')}" for name, dep in unwell)[:300]
    return str(body.get("error", {}).get("message", body))[:300]


async def client_loop(client: httpx.AsyncClient, row: Row, key: str, number: int, go: asyncio.Event,
                      stop_at: list[float]) -> None:
    await go.wait()
    iteration = 0
    while time.monotonic() < stop_at[0]:
        body = {"goal": GOALS[(number + iteration) % len(GOALS)], "auto_approve": True}
        created = await call(client, row, "POST /roadmaps", key, "/api/v1/roadmaps", body)
        if created is not None and created.status_code == 202:
            await call(client, row, "GET /tasks/{id}", key, f"/api/v1/tasks/{created.json()['task_id']}")
        await call(client, row, "GET /health/ready", key, "/health/ready")
        iteration += 1


async def load(url: str, row: Row, keys: list[str], args: argparse.Namespace) -> None:
    # One client (one connection) per simulated user: a single AsyncClient sharing 500 connections spends its
    # time in httpcore's pool bookkeeping (~100 req/s here, encode/httpx#3215) and would measure httpx instead.
    tls = ssl.create_default_context()  # shared: each client would otherwise load the CA bundle (~20 ms)
    async with AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(httpx.AsyncClient(base_url=url, timeout=args.client_timeout,
                                                                     verify=tls)) for _ in range(row.clients)]
        go, stop_at = asyncio.Event(), [0.0]
        loops = [asyncio.create_task(client_loop(client, row, keys[n], n, go, stop_at))
                 for n, client in enumerate(clients)]
        await asyncio.sleep(0.1)  # every loop is waiting at the gate
        began = time.monotonic()
        stop_at[0] = began + args.duration
        go.set()
        await asyncio.gather(*loops)
        row.wall += time.monotonic() - began


def measure(group: Processes, row: Row, keys: list[str], args: argparse.Namespace, number: int) -> None:
    """One round of this row on a fresh API; figures pile up in ``row``."""
    api = group.api(row.env, f"api-{row.clients}", args=row.args)
    first, errors, wall = len(row.in_order), sum(row.errors.values()), row.wall
    try:
        api_cpu, own = tree_cpu_seconds(api.pid), os.times()  # with --workers: the API processes below it too
        asyncio.run(load(api.url, row, keys, args))
        row.api_cpu += tree_cpu_seconds(api.pid) - api_cpu
        after = os.times()
        row.client_cpu += after.user + after.system - own.user - own.system
    finally:
        api.stop()
    mine = row.in_order[first:]
    row.round_p99.append(percentile(mine, 0.99))
    print(f"  round {number + 1} {row.name:<40} {len(mine):6} requests ({len(mine) / (row.wall - wall):4.0f}/s), "
          f"{sum(row.errors.values()) - errors:5} errors, p50 {percentile(mine, 0.5) * 1000:7.1f} ms, "
          f"p99 {row.round_p99[-1] * 1000:7.1f} ms; load average {os.getloadavg()[0]:.1f}", flush=True)


def raise_open_files(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        target = hard if hard == resource.RLIM_INFINITY else max(soft, min(hard, needed))
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))  # the API process inherits it


def ms(values: list[float], fraction: float) -> str:
    return f"{percentile(values, fraction) * 1000:.1f}" if values else "-"


def report(rows: list[Row], args: argparse.Namespace) -> None:
    print()
    print(f"one API process unless the row says so, DB pool 10 (overflow 0) per process, no workers; every client "
          f"loops POST, GET task, GET "
          f"/health/ready; {args.duration:g} s x {args.rounds} rounds per row, pooled; latencies ms, client side")
    print(f"{'row':<42}{'requests':>9}{'req/s':>8}{'errors':>8}{'p50':>9}{'p99':>9}{'max':>9}"
          f"{'2xx p50':>9}{'2xx p99':>9}{'API cores':>11}{'client cores':>14}{'API CPU ms/req':>16}")
    for row in rows:
        values = row.in_order
        print(f"{row.name:<42}{row.requests:>9}{row.requests / row.wall:>8.0f}{sum(row.errors.values()):>8}"
              f"{ms(values, 0.5):>9}{ms(values, 0.99):>9}{max(values) * 1000:>9.1f}{ms(row.succeeded, 0.5):>9}"
              f"{ms(row.succeeded, 0.99):>9}{row.api_cpu / row.wall:>11.2f}{row.client_cpu / row.wall:>14.2f}"
              f"{row.api_cpu * 1000 / max(1, row.requests):>16.2f}")
    print()
    print(f"{'by endpoint: p50 / p99 ms':<42}" + "".join(f"{endpoint:>26}" for endpoint in ENDPOINTS))
    for row in rows:
        cells = "".join(f"{ms(row.latencies[e], 0.5) + ' / ' + ms(row.latencies[e], 0.99):>26}" for e in ENDPOINTS)
        print(f"{row.name:<42}{cells}")
    print()
    for row in rows:
        errors = ", ".join(f"{name} x{count}" for name, count in row.errors.most_common()) or "none"
        print(f"errors, {row.name}: {errors}")
        rounds = " / ".join(f"{value * 1000:.0f}" for value in row.round_p99)
        print(f"  p99 by round: {rounds} ms")
        for kind, message in sorted(row.samples.items()):
            print(f"  first {kind}: {message}")
    print()
    base = rows[0].in_order
    for row in rows[1:]:
        values = row.in_order
        print(f"{row.name} / {rows[0].name}: p50 {percentile(values, 0.5) / percentile(base, 0.5):.1f}x, "
              f"p99 {percentile(values, 0.99) / percentile(base, 0.99):.1f}x, "
              f"req/s {(row.requests / row.wall) / (rows[0].requests / rows[0].wall):.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--baseline-clients", type=int, default=10)
    parser.add_argument("--duration", type=float, default=15.0, help="seconds of load per row and round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds over the rows, interleaved; a fresh API each")
    parser.add_argument("--client-timeout", type=float, default=30.0)
    parser.add_argument("--skip-unbounded", action="store_true", help="leave out the DB_POOL_MAX_WAITING=100000 row")
    parser.add_argument("--api-workers", type=int, default=0, metavar="N",
                        help="add the baseline and stock rows again with `serve --workers N` (N API processes)")
    parser.add_argument("--baseline-src", metavar="DIR",
                        help="add the baseline and stock rows again with the API run from this source tree (a git "
                             "worktree of an older commit): old and new code measured in the same rounds")
    args = parser.parse_args()
    raise_open_files(4 * args.clients + 256)
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; PostgreSQL started by "
          f"scripts/devservices.py; open files limit {resource.getrlimit(resource.RLIMIT_NOFILE)[0]}", flush=True)
    with throwaway_servers("api-load") as servers, processes(servers.root / "logs") as group:
        base = servers.base_env(ROADMAP_AGENT_EXECUTION="queue", **POOL, **NO_RATE_LIMIT)
        rows = [Row(f"{args.baseline_clients} clients (baseline)", args.baseline_clients, base),
                Row(f"{args.clients} clients, stock waiting limit 100", args.clients, base)]
        if not args.skip_unbounded:
            rows.append(Row(f"{args.clients} clients, DB_POOL_MAX_WAITING=100000", args.clients,
                            {**base, "DB_POOL_MAX_WAITING": "100000"}))
        if args.api_workers > 1:
            rows += [Row(f"{row.name}, {args.api_workers} API processes", row.clients, row.env,
                         ("--workers", str(args.api_workers))) for row in rows[:2]]
        if args.baseline_src:
            rows += [Row(f"{row.name} [old code]", row.clients, code_env(row.env, args.baseline_src))
                     for row in rows[:2]]
        started = time.monotonic()
        keys = asyncio.run(create_keys(servers.database_url, max(row.clients for row in rows)))
        print(f"{len(keys)} users with one API key each, made in {time.monotonic() - started:.1f} s", flush=True)
        for number in range(args.rounds):
            for row in rows:
                measure(group, row, keys, args, number)
        print(f"load average at the end {os.getloadavg()[0]:.1f}")
    report(rows, args)


if __name__ == "__main__":
    main()
