"""1,000 SSE clients on one API process, on the Redis fast path (server mode: PostgreSQL + Redis + one worker).

Each row opens N event streams (``GET /api/v1/tasks/{id}/events``) spread over 10 tasks paused for review, waits
until every client has its replay, approves the 10 tasks at once and measures, per client, the time from the
approval to its ``completed`` event. Baseline: the same with 10 clients, in the same run. Printed per row:
latency p50/p99, the ratio to the baseline, how the process delivered the events (``live`` = Redis fast path,
``log_fallback`` = a stream that had to read the log), Redis in ``/health/ready``, and the pub/sub connections
the API process holds in Redis (one, whatever N: before finding 4, one per stream, and the pool ran dry at ~100).

    python bench/streams.py [--clients 1000] [--tasks 10]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time

import httpx
import redis
from harness import HOST, create_keys, percentile, processes, throwaway_servers, wait_workers

GOAL = "I want to become a backend developer in 3 months, I know some Python, 10 hours a week"


def deliveries(client: httpx.Client) -> dict[str, float]:
    counts: dict[str, float] = {}
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("roadmap_event_deliveries_total{"):
            path = line.split('path="', 1)[1].split('"', 1)[0]
            counts[path] = float(line.rsplit(" ", 1)[1])
    return counts


async def stream(port: int, key: str, task_id: str, ready: asyncio.Event, counter: list[int]) -> float:
    """Open the stream, signal once the replay reached the review event; the monotonic time of ``completed``.

    A 503 (the database admission limit while hundreds of streams replay at once) is retried after a jittered
    second, the way an EventSource reconnects."""
    for _attempt in range(30):
        refused, completed = await _stream_once(port, key, task_id, ready, counter)
        if completed is not None:
            return completed
        await asyncio.sleep(0.5 + random.random())
    raise SystemExit(f"stream refused 30 times: {refused}")


async def _stream_once(port: int, key: str, task_id: str, ready: asyncio.Event,
                       counter: list[int]) -> tuple[str, float | None]:
    reader, writer = await asyncio.open_connection(HOST, port, limit=1 << 20)
    writer.write(f"GET /api/v1/tasks/{task_id}/events HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {key}\r\n"
                 "Accept: text/event-stream\r\n\r\n".encode())
    await writer.drain()
    try:
        status = (await reader.readline()).decode().strip()
        if not status.startswith("HTTP/1.1 200"):
            return status, None
        while line := await reader.readline():
            if line.startswith(b"event: human_review_required"):
                counter[0] += 1
                if counter[0] == counter[1]:
                    ready.set()
            elif line.startswith(b"event: completed"):
                return status, time.monotonic()
    finally:
        writer.close()
    raise SystemExit("a stream ended without its completed event")


def paused_tasks(client: httpx.Client, count: int) -> list[str]:
    ids = [client.post("/api/v1/roadmaps", json={"goal": GOAL}).json()["task_id"] for _ in range(count)]
    deadline = time.monotonic() + 120
    while any(client.get(f"/api/v1/tasks/{i}").json()["status"] != "human_review_pending" for i in ids):
        if time.monotonic() > deadline:
            raise SystemExit("tasks did not reach review within 120 s (is the worker running?)")
        time.sleep(0.2)
    return ids


async def row(port: int, key: str, client: httpx.AsyncClient, ids: list[str], clients: int) -> list[float]:
    ready, counter = asyncio.Event(), [0, clients]
    streams = [asyncio.create_task(stream(port, key, ids[n % len(ids)], ready, counter)) for n in range(clients)]
    try:
        await asyncio.wait_for(ready.wait(), 60)
    except TimeoutError:
        raise SystemExit(f"only {counter[0]} of {clients} streams got their replay within 60 s") from None
    approved_at = time.monotonic()
    await asyncio.gather(*(client.post(f"/api/v1/tasks/{i}/review", json={"approved": True}) for i in ids))
    received = await asyncio.wait_for(asyncio.gather(*streams), 120)
    return [(at - approved_at) * 1000 for at in received]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--tasks", type=int, default=10)
    args = parser.parse_args()
    with throwaway_servers("streams", redis=True) as servers, processes(servers.root / "logs") as group:
        if servers.redis is None:
            raise SystemExit("no Redis")
        env = servers.base_env(ROADMAP_AGENT_MAX_STREAMS_PER_KEY=str(args.clients + 10),
                               ROADMAP_AGENT_MAX_STREAMS=str(args.clients + 10),
                               ROADMAP_AGENT_CREATE_BURST="1000", ROADMAP_AGENT_CREATE_PER_MINUTE="100000")
        api = group.api(env)
        group.worker(env, concurrency=8)
        wait_workers(servers.libpq_url, 0, 1, group.started)
        key = asyncio.run(create_keys(servers.database_url, 1))[0]
        headers = {"Authorization": f"Bearer {key}"}
        pubsub = redis.Redis.from_url(servers.redis.url)
        print(f"one API process (pid {api.pid}), one worker, {args.tasks} tasks per row; latency = approval -> "
              "completed event at each client, ms\n")
        print(f"{'clients':>7} {'p50':>8} {'p99':>8} {'p99 x base':>10} {'live':>6} {'log_fallback':>12} "
              f"{'redis ready':>11} {'pubsub conns':>12}")
        baseline = None
        with httpx.Client(base_url=api.url, headers=headers, timeout=30) as client:
            for clients in (args.tasks, args.clients):
                ids = paused_tasks(client, args.tasks)
                print(f"  ({clients} clients: {len(ids)} tasks paused for review)", file=sys.stderr)
                before = deliveries(client)

                async def run(ids: list[str] = ids, clients: int = clients) -> tuple[list[float], str, int]:
                    async with httpx.AsyncClient(base_url=api.url, headers=headers, timeout=30) as aclient:
                        task = asyncio.create_task(row(api.port or 0, key, aclient, ids, clients))
                        ready, conns = "ok", 0
                        while not task.done():  # readiness and Redis pub/sub connections while streams are open
                            await asyncio.sleep(0.5)
                            status = (await aclient.get("/health/ready")).json()["dependencies"]["redis"]["status"]
                            ready = status if status != "ok" else ready  # the worst seen
                            conns = max(conns, len(pubsub.client_list(_type="pubsub")))
                        return await task, ready, conns

                latencies, ready, conns = asyncio.run(run())
                after = deliveries(client)
                live = after.get("live", 0) - before.get("live", 0)
                fallback = after.get("log_fallback", 0) - before.get("log_fallback", 0)
                p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
                baseline = baseline or p99
                print(f"{clients:>7} {p50:>8.1f} {p99:>8.1f} {p99 / baseline:>10.2f} {live:>6.0f} {fallback:>12.0f} "
                      f"{ready:>11} {conns:>12}")
        pubsub.close()


if __name__ == "__main__":
    main()
