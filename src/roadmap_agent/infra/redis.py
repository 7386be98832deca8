"""Redis pub/sub: the fast, best-effort fan-out of live messages across processes (the only module importing redis).

It moves plain payloads on channels it names (``TASK_CHANNEL``); ``events/redis_bus.py`` gives them meaning.
The event log is the truth; Redis only makes live events arrive sooner, so nothing here may make a caller wait:

- ``RedisConnection`` opens a client with short socket timeouts, TCP keepalive, a pub/sub health check and a
  small jittered retry budget (``open_client``, also used by ``check``). Redis being down at startup is a
  warning, not an error: the process starts degraded and the client reconnects by itself when Redis comes back.
- ``RedisPubSub.send`` runs under ``publish_timeout`` and through a ``CircuitBreaker``: after
  ``breaker_failures`` consecutive failures it stops touching Redis for ``breaker_reset`` seconds (publishes
  are skipped and counted), then lets one trial publish through. Failures are raised as ``BrokerUnavailable``
  so ``EventLog`` logs and counts them.
- ``RedisPubSub.listen`` feeds a queue from a background reader that never dies on a quiet channel (bounded
  ``get_message`` reads plus its own PING liveness check, which also catches a hung or blackholed server) and
  resubscribes with jittered backoff after any connection loss. While Redis is away the queue just stays
  empty and ``stream_events`` tails the log instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Generic, Literal, Self, TypeVar
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_never, wait_exponential_jitter

from roadmap_agent.breaker import CircuitBreaker
from roadmap_agent.errors import BrokerUnavailable, ConfigurationError
from roadmap_agent.logging import get_logger
from roadmap_agent.redaction import redact_url
from roadmap_agent.settings import RedisSettings

# Everything a lost, refused, reset or hung connection can raise (asyncio's TimeoutError is an OSError).
TRANSIENT_ERRORS = (RedisError, OSError, BrokerUnavailable)
# redis-py's own retries between attempts inside one command: 25 ms, 50 ms ... (jittered), never above 0.5 s.
RETRY_BACKOFF = ExponentialWithJitterBackoff(base=0.025, cap=0.5)
# A subscriber reconnects after 0.1 s, 0.2 s ... 2 s (+ up to 0.1 s jitter), forever, until it is closed.
RESUBSCRIBE_WAIT = wait_exponential_jitter(multiplier=0.1, max=2.0, jitter=0.1)
RESUBSCRIBE_PAUSE = 0.1  # after losing a live subscription: a server that accepts then drops cannot spin us
LIVENESS_DEFAULT = 15.0  # PING after this much silence when health_check_interval is 0
READ_TIMEOUT = 1.0  # one bounded pub/sub read; a quiet channel just loops
CLOSE_TIMEOUT = 1.0  # closing never waits longer than this on a hung server
LIVENESS_PING = "roadmap-agent-liveness"
QUEUE_LIMIT = 1000
TASK_CHANNEL = "roadmap:task:{task_id}"  # one channel per task: its live events
M = TypeVar("M")  # what a payload carries (an Event, for events/redis_bus.py)
DEFAULT_PORT = 6379

log = get_logger(__name__)


class RedisConnection:
    """One redis-py client (and its connection pool) for the process."""

    def __init__(self, client: Redis, url: str, settings: RedisSettings) -> None:
        self.client = client
        self.settings = settings
        self.display_url = redact_url(url)
        parts = urlsplit(url)
        self.address = f"{parts.hostname}:{parts.port or DEFAULT_PORT}" if parts.hostname else parts.path  # unix://

    @classmethod
    @asynccontextmanager
    async def from_settings(cls, settings: RedisSettings, url: str) -> AsyncIterator[RedisConnection]:
        """Open the client and ping once; Redis being down is logged and tolerated (start degraded)."""
        connection = cls(open_client(url, settings), url, settings)
        try:
            latency = await connection.ping()
        except BrokerUnavailable as exc:
            log.warning("redis_unavailable_at_startup", address=connection.address, redis=connection.display_url,
                        error=exc.message, mode="degraded: live events fall back to the event log")
        else:
            log.info("redis_connection_verified", address=connection.address, latency_ms=round(latency * 1000, 1))
        try:
            yield connection
        finally:
            await connection.close()

    async def ping(self) -> float:
        """Round-trip time in seconds; ``BrokerUnavailable`` if Redis does not answer in time."""
        deadline = self.settings.socket_connect_timeout + self.settings.socket_timeout
        started = time.perf_counter()
        try:
            async with asyncio.timeout(deadline):
                await self.client.ping()
        except TRANSIENT_ERRORS as exc:
            raise self.unavailable("ping", exc, deadline) from exc
        return time.perf_counter() - started

    async def close(self) -> None:
        with contextlib.suppress(*TRANSIENT_ERRORS):
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await self.client.aclose()

    async def server_version(self) -> str:
        """``PING`` then ``INFO server``: the server's version (``check``'s round trip, driver errors unmapped
        so that its diagnosis table reads redis-py's own words)."""
        await self.client.ping()
        info = await self.client.info("server")
        return str(info.get("redis_version", "?"))

    def unavailable(self, action: str, exc: BaseException, deadline: float) -> BrokerUnavailable:
        if isinstance(exc, BrokerUnavailable):
            return exc
        detail = str(exc).rstrip(". ")
        cause = detail if detail and not isinstance(exc, TimeoutError) else f"no answer within {deadline:g} s"
        return BrokerUnavailable(f"Redis at {self.address} is unavailable for {action} ({cause}). Live events "
                                 "fall back to the event log; check that Redis is running and reachable.")


def open_client(url: str, settings: RedisSettings) -> Redis:
    """The one way a redis-py client is built (the service's and ``check``'s)."""
    try:
        return Redis.from_url(url, **client_options(settings))
    except ValueError as exc:  # the URL itself, which may hold a password, stays out of the message
        raise ConfigurationError(f"REDIS_URL (or REDIS_HOST/REDIS_PORT) is not a usable Redis URL: {exc}. "
                                 "Expected redis://[:password@]host:port/db.") from exc


def client_options(settings: RedisSettings) -> dict[str, Any]:
    """redis-py client keyword arguments (all real ``redis.asyncio.Redis`` options)."""
    return {
        "socket_connect_timeout": settings.socket_connect_timeout,
        "socket_timeout": settings.socket_timeout,
        "socket_keepalive": True,
        "health_check_interval": settings.health_check_interval,
        # Replaces redis-py's default policy entirely, so only these two error classes are retried.
        "retry": Retry(RETRY_BACKOFF, settings.retries, supported_errors=(RedisConnectionError, RedisTimeoutError)),
    }


class RedisPubSub(Generic[M]):
    """Fan-out of plain payloads over Redis pub/sub, one channel per task (``TASK_CHANNEL``).

    What a payload means is the subclass's business (``events/redis_bus.py``): it says how one is read back
    (``decode``), once per process whatever the number of local subscribers.
    """

    def __init__(self, connection: RedisConnection, clock: Callable[[], float] = time.monotonic) -> None:
        self.connection = connection
        self.settings = connection.settings
        self.breaker = CircuitBreaker(self.settings.breaker_failures, self.settings.breaker_reset, clock)
        self.published = 0
        self.failed = 0
        self.skipped_open = 0
        self.fanout: _Fanout[M] = _Fanout(self)

    @classmethod
    @asynccontextmanager
    async def from_settings(cls, settings: RedisSettings, url: str) -> AsyncIterator[Self]:
        async with RedisConnection.from_settings(settings, url) as connection:
            bus = cls(connection)
            try:
                yield bus
            finally:
                await bus.close()

    def decode(self, data: bytes) -> M:
        """A received payload as the message it carries; ``ValueError`` when it is not one."""
        raise NotImplementedError

    async def send(self, task_id: str, payload: str, action: str) -> bool:
        """Publish within ``publish_timeout``; skipped at once (False) while the breaker is open. ``action`` says
        what was being published when it fails (``BrokerUnavailable``)."""
        if not self.breaker.allow():
            self.skipped_open += 1
            return False
        try:
            async with asyncio.timeout(self.settings.publish_timeout):
                await self.connection.client.publish(TASK_CHANNEL.format(task_id=task_id), payload)
        except TRANSIENT_ERRORS as exc:
            self.failed += 1
            self._record_failure()
            raise self.connection.unavailable(action, exc, self.settings.publish_timeout) from exc
        except asyncio.CancelledError:
            self.breaker.release()
            raise
        self.published += 1
        if self.breaker.state != "closed":
            log.info("redis_publish_recovered", address=self.connection.address)
        self.breaker.record_success()
        return True

    def _record_failure(self) -> None:
        was_open = self.breaker.state != "closed"
        self.breaker.record_failure()
        if self.breaker.state == "open" and not was_open:
            log.warning("redis_publish_suspended", address=self.connection.address,
                        failures=self.breaker.consecutive_failures, retry_in_s=self.settings.breaker_reset)

    @asynccontextmanager
    async def listen(self, task_id: str) -> AsyncIterator[asyncio.Queue[M]]:
        """A queue of this task's live messages, fed until the context exits (empty while Redis is away)."""
        queue: asyncio.Queue[M] = asyncio.Queue(maxsize=QUEUE_LIMIT)
        channel = TASK_CHANNEL.format(task_id=task_id)
        confirmed = await self.fanout.add(channel, queue)
        try:
            # Yield once subscribed, so messages published during the caller's log replay are not missed;
            # don't wait when Redis is known to be down (the log covers it).
            if self.breaker.state != "open" and not self.fanout.failing:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.settings.socket_connect_timeout):
                        await confirmed.wait()
            yield queue
        finally:
            self.fanout.remove(channel, queue)

    def is_live(self) -> bool:
        """The shared subscription is up: live messages arrive without reading the log."""
        return self.fanout.connected

    @property
    def resubscribes(self) -> int:
        return self.fanout.resubscribes

    async def ping(self) -> float:
        return await self.connection.ping()

    async def close(self) -> None:
        await self.fanout.close()


class _Fanout(Generic[M]):
    """One pub/sub connection per process, shared by every local subscriber.

    A channel is SUBSCRIBEd when its first local subscriber arrives and UNSUBSCRIBEd (in the background)
    after its last one leaves; one reader task parses each message once and hands it to every local queue of
    its channel. After any connection loss the reader reconnects with jittered backoff and subscribes to
    every current channel again. So 1,000 streams cost one Redis connection, not 1,000 pool connections.
    """

    def __init__(self, bus: RedisPubSub[M]) -> None:
        self.bus = bus
        self.settings = bus.settings
        self.queues: dict[str, set[asyncio.Queue[M]]] = {}
        self.confirmed: dict[str, asyncio.Event] = {}
        self.pubsub: PubSub | None = None
        self.connected = False
        self.failing = False  # the last (re)connection attempt failed: subscribers need not wait for it
        self.resubscribes = 0
        self._lock = asyncio.Lock()  # SUBSCRIBE/UNSUBSCRIBE sends and (re)connection, one at a time
        self._reader: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()

    async def add(self, channel: str, queue: asyncio.Queue[M]) -> asyncio.Event:
        first = channel not in self.queues
        self.queues.setdefault(channel, set()).add(queue)
        confirmed = self.confirmed.setdefault(channel, asyncio.Event())
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._run(), name="redis-subscriber")
            self._reader.add_done_callback(_report_crash)
        elif first:
            self._spawn(self._send("subscribe", channel))
        return confirmed

    def remove(self, channel: str, queue: asyncio.Queue[M]) -> None:
        queues = self.queues.get(channel)
        if queues is None:
            return
        queues.discard(queue)
        if not queues:
            del self.queues[channel]
            self.confirmed.pop(channel, None)
            self._spawn(self._send("unsubscribe", channel))  # the leaving client never waits on Redis

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _send(self, action: Literal["subscribe", "unsubscribe"], channel: str) -> None:
        async with self._lock:
            pubsub = self.pubsub
            if pubsub is None or not self.connected:
                return  # the reader subscribes every current channel when it (re)connects
            if (action == "subscribe") != (channel in self.queues):
                return  # changed its mind while waiting for the lock
            try:
                async with asyncio.timeout(self.settings.socket_timeout):
                    await (pubsub.subscribe(channel) if action == "subscribe" else pubsub.unsubscribe(channel))
            except TRANSIENT_ERRORS as exc:  # the reader will notice the connection and start over
                log.warning("redis_subscribe_failed", channel=channel, address=self.bus.connection.address,
                            error=str(exc) or type(exc).__name__, retrying=True)

    async def _run(self) -> None:
        while True:
            pubsub = await self._connect_with_retry()
            try:
                await self._pump(pubsub)
            except TRANSIENT_ERRORS as exc:
                self.resubscribes += 1
                log.warning("redis_subscription_lost", channels=len(self.queues),
                            address=self.bus.connection.address, error=str(exc) or type(exc).__name__)
            finally:
                self.connected = False
                self.pubsub = None
                await _close_quietly(pubsub)
            await asyncio.sleep(RESUBSCRIBE_PAUSE)

    async def _connect_with_retry(self) -> PubSub:
        retrying = AsyncRetrying(retry=retry_if_exception_type(TRANSIENT_ERRORS), wait=RESUBSCRIBE_WAIT,
                                 stop=stop_never, before_sleep=self._attempt_failed, reraise=True)
        pubsub: PubSub = await retrying(self._connect)
        self.failing = False
        return pubsub

    async def _connect(self) -> PubSub:
        """Connect and subscribe to every current channel, all within a connect + read deadline."""
        pubsub = self.bus.connection.client.pubsub()
        try:
            async with self._lock, asyncio.timeout(self.settings.socket_connect_timeout + self.settings.socket_timeout):
                channels = list(self.queues)
                if channels:
                    await pubsub.subscribe(*channels)
                else:
                    await pubsub.connect()  # type: ignore[no-untyped-call]  # unannotated in redis-py
                    await pubsub.ping(LIVENESS_PING)
                self.pubsub, self.connected = pubsub, True
        except BaseException:
            await _close_quietly(pubsub)
            raise
        return pubsub

    def _attempt_failed(self, state: RetryCallState) -> None:
        self.failing = True
        for confirmed in self.confirmed.values():
            confirmed.set()  # waiting subscribers stop waiting; retries go on in the background
        if state.attempt_number == 1 and state.outcome is not None:
            error = state.outcome.exception()
            log.warning("redis_subscribe_failed", channels=len(self.queues), address=self.bus.connection.address,
                        error=str(error) or type(error).__name__, retrying=True)

    async def _pump(self, pubsub: PubSub) -> None:
        """Read until the connection fails. Silence longer than the health-check interval sends a PING; no
        answer within ``socket_timeout`` means the server is hung or unreachable, so we reconnect."""
        loop = asyncio.get_running_loop()
        heard_at, pinged_at = loop.time(), None
        while True:
            message = await pubsub.get_message(timeout=READ_TIMEOUT)
            now = loop.time()
            if message is not None:
                heard_at, pinged_at = now, None
                self._handle(message)
            elif pinged_at is not None and now - pinged_at > self.settings.socket_timeout:
                raise BrokerUnavailable(f"no answer to PING within {self.settings.socket_timeout:g} s")
            elif pinged_at is None and now - heard_at >= (self.settings.health_check_interval or LIVENESS_DEFAULT):
                async with asyncio.timeout(self.settings.socket_timeout):
                    await pubsub.ping(LIVENESS_PING)
                pinged_at = now

    def _handle(self, message: dict[str, Any]) -> None:
        channel = message.get("channel")
        name = channel.decode() if isinstance(channel, bytes) else str(channel)
        if message["type"] == "subscribe":
            if name in self.confirmed:
                self.confirmed[name].set()
        elif message["type"] == "message" and self.queues.get(name):
            self._deliver(name, message["data"])

    def _deliver(self, channel: str, data: bytes) -> None:
        try:
            message = self.bus.decode(data)  # parsed once, whatever the number of local subscribers
        except ValueError as exc:  # pydantic's ValidationError included
            log.warning("redis_event_unreadable", channel=channel, error=str(exc))
            return
        for queue in list(self.queues.get(channel, ())):
            if not queue.full():  # a slow consumer misses live events; stream_events refills from the log
                queue.put_nowait(message)

    async def close(self) -> None:
        tasks = [task for task in (self._reader, *self._background) if task is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=CLOSE_TIMEOUT * 2)
        self._reader = None


def _report_crash(task: asyncio.Task[None]) -> None:
    """A reader only ends by being cancelled; anything else is a bug worth a loud line (the log still covers)."""
    if not task.cancelled() and (error := task.exception()) is not None:
        log.error("redis_subscriber_crashed", task=task.get_name(), error=repr(error), exc_info=error)


async def _close_quietly(pubsub: PubSub) -> None:
    """Drop the connection without UNSUBSCRIBE: closing it unsubscribes, and can't hang on a stopped server."""
    with contextlib.suppress(*TRANSIENT_ERRORS):
        async with asyncio.timeout(CLOSE_TIMEOUT):
            await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves PubSub.aclose unannotated
