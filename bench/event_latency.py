"""Live events across processes: events per second and latency from append to a subscribed WebSocket client.

This process plays the worker ("API A"): it opens the services (``open_services``) against a throwaway
PostgreSQL and emits events with ``EventLog.emit`` (the durable insert, then the publish). A separate
``roadmap-agent serve`` process ("API B") serves ``WS /api/v1/tasks/{task_id}/ws?after=N`` to N clients, which
run here too and note the wall time each event arrives. Latency = arrival - ``event.timestamp`` (set at append;
one machine, one clock).

Two paths, alternating which goes first in each run:

* redis: A and B share Redis; B polls the log only every 30 s, so events reach clients through pub/sub.
* log poll (the baseline): no Redis anywhere; B tails the durable log every 0.1 s, as it does when Redis is away.

Each (run, path) starts its own B (one at a time), connects the clients with ``?after=`` the task's last
sequence, waits until every client has the first (untimed) event, then emits K progress events at full speed
and one ``completed`` event that ends the streams. Figures are medians over the runs; the ratios are log poll /
redis, measured in the same run. PostgreSQL, Redis (scripts/devservices.py) and each B are stopped by their PIDs.

    .venv/bin/python bench/event_latency.py [--events 500 --clients 4 --runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from websockets.asyncio.client import ClientConnection, connect

from roadmap_agent.domain.models import LearnerRequest
from roadmap_agent.logging import configure_logging
from roadmap_agent.services import Services, open_services
from roadmap_agent.settings import Settings
from roadmap_agent.store.records import Event, EventType

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from devservices import PostgresServer, RedisServer, free_port  # scripts/ is not a package: on sys.path above

CLI = str(Path(sys.executable).parent / "roadmap-agent")
HOST = "127.0.0.1"
GOAL = "I want to become a backend developer in 3 months, I know some Python, 10 hours a week"
# Inherited variables that would configure the service: dropped so each path runs on exactly its own env.
CONFIG_PREFIXES = ("DATABASE_URL", "DB_URL", "POSTGRES_", "REDIS_", "S3_", "AWS_", "LLM_", "ROADMAP_AGENT_", "LOG_")
START_TIMEOUT = 60.0
DRAIN_TIMEOUT = 60.0  # after the last emit, every client must have every event within this


@dataclass
class Route:
    name: str
    env: dict[str, str]
    emitted: list[float] = field(default_factory=list)
    delivered: list[float] = field(default_factory=list)
    p50: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)
    in_order: list[int] = field(default_factory=lambda: [0, 0])
    publish_failures: int = 0


@dataclass
class Round:
    emitted_per_s: float
    delivered_per_s: float
    latencies: list[float]
    in_order: int
    expected: int


def clean_environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(CONFIG_PREFIXES)}


@contextmanager
def environ(env: dict[str, str]) -> Iterator[None]:
    """os.environ is exactly ``env`` inside (Settings.load reads it), and restored after."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def backing_servers(root: Path) -> Iterator[tuple[PostgresServer, RedisServer]]:
    postgres, redis = PostgresServer(root / "postgres"), RedisServer(root / "redis")
    try:
        postgres.start()
        redis.start()
        yield postgres, redis
    finally:
        redis.stop()
        postgres.stop()


@asynccontextmanager
async def api_server(env: dict[str, str], log_path: Path) -> AsyncIterator[int]:
    """``roadmap-agent serve`` (B) on a free port with exactly ``env``; its port once /health/live answers.
    Stopped by its PID: SIGTERM, then SIGKILL after 15 s."""
    port = free_port()
    with log_path.open("ab") as log:
        process = await asyncio.create_subprocess_exec(CLI, "serve", "--host", HOST, "--port", str(port), env=env,
                                                       cwd=log_path.parent, stdout=log, stderr=log)
    try:
        await _wait_live(process, port, log_path)
        yield port
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), timeout=15)
            except TimeoutError:
                process.kill()
                await process.wait()


async def _wait_live(process: asyncio.subprocess.Process, port: int, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{port}", timeout=2) as client:
        while True:
            try:
                if (await client.get("/health/live")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if process.returncode is not None or time.monotonic() > deadline:
                raise SystemExit(f"roadmap-agent serve (pid {process.pid}) did not come up on port {port}:\n"
                                 f"{_tail(log_path)}")
            await asyncio.sleep(0.1)


def _tail(path: Path, lines: int = 20) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


async def read_stream(connection: ClientConnection, arrivals: list[tuple[float, str]], first: asyncio.Event) -> None:
    """Note each frame's arrival time, parse later: the timed loop does nothing else. Ends when B closes."""
    async for frame in connection:
        arrivals.append((time.time(), str(frame)))
        first.set()


async def measure_round(services: Services, port: int, clients: int, events: int) -> Round:
    user, key = await services.users.create_user("bench")  # B only streams tasks its caller owns
    task = await services.runner.submit(user.id, LearnerRequest(goal=GOAL), background=False)  # no run starts
    after = (await services.store.events_after(task.task_id, 0))[-1].seq
    url = f"ws://{HOST}:{port}/api/v1/tasks/{task.task_id}/ws?after={after}&token={key}"
    arrivals: list[list[tuple[float, str]]] = [[] for _ in range(clients)]
    firsts = [asyncio.Event() for _ in range(clients)]
    async with AsyncExitStack() as stack:
        connections = [await stack.enter_async_context(connect(url)) for _ in range(clients)]
        readers = [asyncio.create_task(read_stream(c, a, f)) for c, a, f in zip(connections, arrivals, firsts,
                                                                                  strict=True)]
        # Subscribed for sure once the first event arrived (B subscribes before it replays the log).
        warm = await services.events.emit(task.task_id, EventType.PROGRESS, "bench warm-up", status="running")
        await asyncio.wait_for(asyncio.gather(*(f.wait() for f in firsts)), timeout=DRAIN_TIMEOUT)
        started = time.time()
        for number in range(events):
            await services.events.emit(task.task_id, EventType.PROGRESS, f"bench event {number + 1} of {events}",
                                       step="bench", status="running", data={"number": number})
        emitted_in = time.time() - started
        await services.events.emit(task.task_id, EventType.COMPLETED, "bench done", status="completed")
        try:
            await asyncio.wait_for(asyncio.gather(*readers), timeout=DRAIN_TIMEOUT)
        except TimeoutError:
            raise SystemExit(f"clients did not receive all events within {DRAIN_TIMEOUT:g} s "
                             f"(got {[len(a) for a in arrivals]})") from None
    return summarize(arrivals, range(warm.seq + 1, warm.seq + 1 + events), started, emitted_in)


def summarize(arrivals: list[list[tuple[float, str]]], timed: range, started: float, emitted_in: float) -> Round:
    latencies: list[float] = []
    last_arrival = started
    in_order = 0
    for client in arrivals:
        received = [(at, Event.model_validate_json(raw)) for at, raw in client]
        mine = [(at, event) for at, event in received if event.seq in timed]
        in_order += sum(event.seq == seq for (_, event), seq in zip(mine, timed, strict=False))
        latencies.extend(at - event.timestamp.timestamp() for at, event in mine)
        last_arrival = max([last_arrival, *(at for at, _ in mine)])
    count = len(timed)
    return Round(count / emitted_in, len(latencies) / (last_arrival - started), latencies, in_order,
                 count * len(arrivals))


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def run_bench(routes: list[Route], root: Path, args: argparse.Namespace) -> None:
    async with AsyncExitStack() as stack:
        services: dict[str, Services] = {}
        for route in routes:  # A, once per path, with exactly the env its B gets
            with environ(route.env):
                settings = Settings.load(env_file=None)
            services[route.name] = await stack.enter_async_context(open_services(settings))
        for run in range(args.runs):
            for route in routes if run % 2 == 0 else routes[::-1]:
                async with api_server(route.env, root / f"serve-{run}-{route.name.split()[0]}.log") as port:
                    await measure_round(services[route.name], port, args.clients, min(args.events, 50))  # warm-up
                    result = await measure_round(services[route.name], port, args.clients, args.events)
                record(route, result, run)
        for route in routes:
            route.publish_failures = services[route.name].events.publish_failures


def record(route: Route, result: Round, run: int) -> None:
    p50, p99 = percentile(result.latencies, 0.50) * 1000, percentile(result.latencies, 0.99) * 1000
    route.emitted.append(result.emitted_per_s)
    route.delivered.append(result.delivered_per_s)
    route.p50.append(p50)
    route.p99.append(p99)
    route.in_order[0] += result.in_order
    route.in_order[1] += result.expected
    print(f"  run {run + 1} {route.name:<16} emitted {result.emitted_per_s:7.0f}/s  delivered "
          f"{result.delivered_per_s:7.0f}/s  p50 {p50:7.1f} ms  p99 {p99:7.1f} ms", flush=True)


def report(routes: list[Route], args: argparse.Namespace) -> None:
    print()
    print(f"{args.events} events emitted one after another by one emitter, {args.clients} WebSocket clients on B, "
          f"{args.runs} runs; median [min - max]")
    print(f"{'path':<16}{'emitted/s':>22}{'delivered/s (all)':>22}{'p50 ms':>22}{'p99 ms':>22}")
    for route in routes:
        print(f"{route.name:<16}{_cell(route.emitted):>22}{_cell(route.delivered):>22}"
              f"{_cell(route.p50, 1):>22}{_cell(route.p99, 1):>22}")
    redis, poll = routes
    print(f"log poll / redis: p50 {_ratio(poll.p50, redis.p50)}, p99 {_ratio(poll.p99, redis.p99)}, "
          f"delivered/s {_ratio(poll.delivered, redis.delivered)}, emitted/s {_ratio(poll.emitted, redis.emitted)}")
    for route in routes:
        print(f"{route.name}: delivered exactly once and in order {route.in_order[0]}/{route.in_order[1]}, "
              f"failed publishes on A {route.publish_failures}")


def _cell(values: list[float], digits: int = 0) -> str:
    return f"{statistics.median(values):.{digits}f} [{min(values):.{digits}f} - {max(values):.{digits}f}]"


def _ratio(numerator: list[float], denominator: list[float]) -> str:
    return f"{statistics.median(numerator) / statistics.median(denominator):.2f}x"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=500, help="timed progress events per run")
    parser.add_argument("--clients", type=int, default=4, help="WebSocket clients subscribed to the task")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    configure_logging("WARNING", "console")
    root = Path(tempfile.gettempdir()) / f"roadmap-bench-events-{uuid.uuid4().hex[:8]}"  # removed at the end
    print(f"{os.cpu_count()} CPUs; PostgreSQL and Redis started by scripts/devservices.py in {root}", flush=True)
    try:
        with backing_servers(root) as (postgres, redis):
            database = postgres.create_database(f"bench_{uuid.uuid4().hex[:8]}")
            base = {**clean_environ(), "DATABASE_URL": database, "ROADMAP_AGENT_HOME": str(root / "home"),
                    "LOG_LEVEL": "WARNING", "LOG_FORMAT": "json"}
            routes = [Route("redis", {**base, "REDIS_URL": redis.url, "ROADMAP_AGENT_EVENT_POLL_INTERVAL": "30"}),
                      Route("log poll 0.1 s", {**base, "ROADMAP_AGENT_EVENT_POLL_INTERVAL": "0.1"})]
            asyncio.run(run_bench(routes, root, args))
        report(routes, args)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
