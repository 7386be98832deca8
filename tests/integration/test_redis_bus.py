"""RedisBus against real redis-server processes: fan-out, quiet channels, a hung server, a killed server, none.

Each test starts its own redis-server on a free port and stops it by the PID it recorded. (The project's
``scripts/devservices.py`` will replace the small ``RedisServer`` below.)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import pytest
from devservices import RedisServer, free_port
from structlog.testing import capture_logs

from roadmap_agent.errors import BrokerUnavailable
from roadmap_agent.events.bus import EventLog
from roadmap_agent.events.redis_bus import RedisBus
from roadmap_agent.events.stream import stream_events
from roadmap_agent.infra.database import Database, migrate
from roadmap_agent.infra.redis import TASK_CHANNEL, RedisConnection
from roadmap_agent.settings import RedisSettings, Settings
from roadmap_agent.store.records import Event, EventType, utcnow
from roadmap_agent.store.repository import TaskStore

pytestmark = pytest.mark.integration


@pytest.fixture
def redis_server(dedicated_redis: RedisServer) -> RedisServer:
    """Overrides the shared session server: these tests pause and kill theirs."""
    return dedicated_redis


def fast_settings(**overrides: float) -> RedisSettings:
    values: dict[str, float] = {"socket_connect_timeout": 1.0, "socket_timeout": 1.0, "health_check_interval": 2,
                                "retries": 2, "publish_timeout": 0.25, "breaker_failures": 3, "breaker_reset": 1.0}
    values.update(overrides)
    return RedisSettings(**values)  # type: ignore[arg-type]  # pydantic validates the numbers


@asynccontextmanager
async def redis_bus(url: str, settings: RedisSettings | None = None) -> AsyncIterator[RedisBus]:
    async with RedisBus.from_settings(settings or fast_settings(), url) as bus:
        yield bus


def event(task_id: str, seq: int, type_: EventType = EventType.PROGRESS) -> Event:
    return Event(task_id=task_id, seq=seq, type=type_, message=f"step {seq}", timestamp=utcnow())


async def next_event(queue: asyncio.Queue[Event], within: float = 2.0) -> Event:
    async with asyncio.timeout(within):
        return await queue.get()


async def timed_publish(bus: RedisBus, item: Event) -> tuple[float, BaseException | None]:
    started = time.perf_counter()
    try:
        await bus.publish(item)
    except BrokerUnavailable as exc:
        return time.perf_counter() - started, exc
    return time.perf_counter() - started, None


async def test_publish_reaches_subscribers_in_another_process(redis_server: RedisServer) -> None:
    async with redis_bus(redis_server.url) as api, redis_bus(redis_server.url) as worker:
        async with api.subscribe("t1") as api_queue, worker.subscribe("t1") as worker_queue:
            await worker.publish(event("t1", 1))
            assert (await next_event(api_queue)).seq == 1
            assert (await next_event(worker_queue)).seq == 1  # the publisher's own subscribers too
            await api.publish(event("t1", 2, EventType.COMPLETED))
            received = await next_event(worker_queue)
            assert (received.seq, received.type, received.message) == (2, EventType.COMPLETED, "step 2")
        async with worker.subscribe("t2") as other_task:
            await api.publish(event("t1", 3))
            await api.publish(event("t2", 1))
            assert (await next_event(other_task)).task_id == "t2"  # one channel per task
        assert (api.published, worker.published, api.failed, worker.failed) == (3, 1, 0, 0)


@pytest.mark.slow
async def test_a_subscriber_outlives_a_quiet_channel(redis_server: RedisServer) -> None:
    # socket_timeout 1 s and a 2 s health check: the old pub/sub died after ~10 s of silence; this one
    # must read through 13 s of it (several health checks and liveness pings) and still be subscribed.
    async with redis_bus(redis_server.url) as listener, redis_bus(redis_server.url) as publisher:
        async with listener.subscribe("quiet") as queue:
            await asyncio.sleep(13)
            sent = time.perf_counter()
            await publisher.publish(event("quiet", 1))
            assert (await next_event(queue, within=1.0)).seq == 1
            assert time.perf_counter() - sent < 0.5
        assert listener.resubscribes == 0, "the subscription was dropped and re-made during the silence"


async def test_a_hung_redis_costs_a_publisher_publish_timeout_then_nothing(redis_server: RedisServer) -> None:
    settings = fast_settings()
    deadline = settings.publish_timeout + 0.1
    async with redis_bus(redis_server.url, settings) as bus:
        await bus.publish(event("hung", 1))  # connections are open before the server stops
        async with bus.subscribe("hung"):
            redis_server.pause()
            failures = [await timed_publish(bus, event("hung", seq)) for seq in range(2, 2 + settings.breaker_failures)]
            closing_started = time.perf_counter()
        closing = time.perf_counter() - closing_started
        for elapsed, error in failures:
            assert isinstance(error, BrokerUnavailable) and "127.0.0.1" in str(error)
            assert elapsed < deadline, f"publish took {elapsed:.3f} s on a hung Redis (deadline {deadline:.3f} s)"
        assert not bus.breaker.allow(), "the breaker should be open"
        skipped = [await timed_publish(bus, event("hung", seq)) for seq in range(10, 20)]
        assert all(error is None for _, error in skipped)
        worst = max(elapsed for elapsed, _ in skipped)
        assert worst < 0.005, f"a publish with the breaker open took {worst * 1000:.2f} ms (deadline 5 ms)"
        assert (bus.failed, bus.skipped_open) == (settings.breaker_failures, 10)
        assert closing < 1.0, f"leaving a subscription on a hung Redis took {closing:.3f} s (deadline 1 s)"
        print(f"\nhung publish: {[round(e * 1000, 1) for e, _ in failures]} ms; "
              f"breaker-open publish: max {worst * 1e6:.0f} us; unsubscribe {closing * 1000:.1f} ms")

        redis_server.resume()
        await asyncio.sleep(settings.breaker_reset)
        async with bus.subscribe("hung") as queue:
            await bus.publish(event("hung", 20))  # the half-open trial
            assert bus.breaker.state == "closed"
            assert (await next_event(queue)).seq == 20


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[TaskStore]:
    """The embedded durable log (SQLite), without the rest of the service."""
    settings = Settings.load(env_file=None)
    async with Database.from_settings(settings.database_url(), settings.database) as database:
        await migrate(database)
        yield TaskStore(database)


async def test_a_subscriber_notices_a_hung_redis_and_recovers(redis_server: RedisServer) -> None:
    # Silence for health_check_interval (2 s) sends a PING; no PONG within socket_timeout (1 s) means the
    # server is hung (or the network blackholed): the reader drops the connection and resubscribes.
    async with redis_bus(redis_server.url) as listener, redis_bus(redis_server.url) as publisher:
        async with listener.subscribe("paused") as queue:
            redis_server.pause()
            await wait_for(lambda: resubscribed(listener), "the reader to notice the hung server", within=6.0)
            redis_server.resume()
            await wait_for(lambda: subscribers(publisher, TASK_CHANNEL.format(task_id="paused")),
                           "the reader to resubscribe", within=6.0)
            await publisher.publish(event("paused", 1))
            assert (await next_event(queue)).seq == 1


async def resubscribed(bus: RedisBus) -> bool:
    return bus.resubscribes >= 1


async def test_a_killed_and_restarted_redis_loses_no_event(redis_server: RedisServer, store: TaskStore) -> None:
    settings = fast_settings()
    task, _ = await store.create_task("tester", {"goal": "learn redis"})
    channel = TASK_CHANNEL.format(task_id=task.task_id)
    async with redis_bus(redis_server.url, settings) as emitter_bus, redis_bus(redis_server.url, settings) as reader:
        log = EventLog(store, emitter_bus)
        emitted_at: dict[int, float] = {}
        received: list[tuple[Event, float]] = []

        async def consume() -> None:
            async for item in stream_events(task.task_id, 0, store, reader, poll_interval=5.0):
                received.append((item, time.perf_counter()))

        async def emit(count: int, final: bool = False) -> None:
            for index in range(count):
                terminal = final and index == count - 1
                item = await log.emit(task.task_id, EventType.COMPLETED if terminal else EventType.PROGRESS,
                                      f"event {len(emitted_at) + 1}")
                emitted_at[item.seq] = time.perf_counter()
                await asyncio.sleep(0.05)

        consumer = asyncio.create_task(consume())
        await wait_for(lambda: subscribers(emitter_bus, channel), "the subscriber to subscribe")
        await emit(10)                          # before: through Redis
        redis_server.kill()
        await emit(10)                          # during: only in the durable log
        await asyncio.sleep(2.5)
        redis_server.start()                    # same port, ~3 s later, empty server
        await wait_for(lambda: subscribers(emitter_bus, channel), "the subscriber to resubscribe")
        await wait_for(lambda: ready(emitter_bus), "the publisher's breaker to allow a trial")
        await emit(10, final=True)              # after: through Redis again
        async with asyncio.timeout(10):
            await consumer

    seqs = [item.seq for item, _ in received]
    assert seqs == list(range(1, 31)), f"lost, duplicated or reordered events: {seqs}"
    before = [at - emitted_at[item.seq] for item, at in received if item.seq <= 10]
    after = [at - emitted_at[item.seq] for item, at in received if item.seq > 20]
    assert max(before) < 1.0, f"events before the outage took up to {max(before):.2f} s (poll interval 5 s)"
    assert max(after) < 1.0, f"events after the restart took up to {max(after):.2f} s: not the Redis fast path"
    assert log.publish_failures >= 1 and emitter_bus.published >= 20 and reader.resubscribes >= 1
    print(f"\nafter restart: max latency {max(after) * 1000:.1f} ms; publish failures {log.publish_failures}, "
          f"skipped while open {emitter_bus.skipped_open}")


async def subscribers(bus: RedisBus, channel: str) -> bool:
    try:
        counts = await bus.connection.client.pubsub_numsub(channel)
    except Exception:  # Redis may still be coming up (a redis-py error): just ask again
        return False
    return bool(counts and counts[0][1] >= 1)


async def ready(bus: RedisBus) -> bool:
    return bus.breaker.state != "open"


async def wait_for(check: Callable[[], Awaitable[bool]], what: str, within: float = 8.0) -> None:
    for _ in range(int(within / 0.05)):
        if await check():
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"gave up after {within} s waiting for {what}")


async def test_redis_down_at_startup_means_degraded_not_dead(tmp_path: Path) -> None:
    port = free_port()  # nothing listens here
    url = f"redis://:hunter2@127.0.0.1:{port}/0"
    settings = fast_settings()
    with capture_logs() as logs:
        started = time.perf_counter()
        async with RedisConnection.from_settings(settings, url) as connection:
            opened = time.perf_counter() - started
            bus = RedisBus(connection)
            async with bus.subscribe("nobody") as queue:
                elapsed, error = await timed_publish(bus, event("nobody", 1))
                assert queue.empty()
            with pytest.raises(BrokerUnavailable):
                await connection.ping()
            await bus.close()
    assert isinstance(error, BrokerUnavailable) and f"127.0.0.1:{port}" in str(error)
    assert elapsed < settings.publish_timeout + 0.1, f"publish took {elapsed:.3f} s with Redis down"
    assert opened < settings.socket_connect_timeout + settings.socket_timeout, f"opening took {opened:.3f} s"
    warning = next(entry for entry in logs if entry["event"] == "redis_unavailable_at_startup")
    assert warning["log_level"] == "warning" and warning["address"] == f"127.0.0.1:{port}"
    assert "hunter2" not in repr(logs) and ":***@" in warning["redis"]


async def pubsub_clients(bus: RedisBus) -> int:
    clients = await bus.connection.client.client_list(_type="pubsub")
    return len(clients)


async def test_many_subscribers_share_one_pubsub_connection(redis_server: RedisServer) -> None:
    # redis-py's pool holds 100 connections: one pub/sub connection per subscriber starved it at ~100 streams.
    async with redis_bus(redis_server.url) as api, redis_bus(redis_server.url) as worker, AsyncExitStack() as stack:
        queues = [await stack.enter_async_context(api.subscribe(f"t{n % 150}")) for n in range(300)]
        assert await pubsub_clients(api) == 1
        assert await api.ping() < 1.0  # the pool is not exhausted: health stays "ok"
        await worker.publish(event("t7", 1))
        await worker.publish(event("t149", 1))
        assert (await next_event(queues[7])).seq == 1 and (await next_event(queues[157])).seq == 1
        assert (await next_event(queues[149])).task_id == "t149"
        assert all(q.empty() for n, q in enumerate(queues) if n % 150 not in (7, 149))
    async with redis_bus(redis_server.url) as api:
        async with api.subscribe("again") as queue:  # channels come and go on the shared connection
            await api.publish(event("again", 1))
            assert (await next_event(queue)).seq == 1
