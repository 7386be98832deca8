"""Open every dependency for one process in an ``AsyncExitStack`` and close them in reverse.

Shared by the API's lifespan, the CLI and workers, so all run the same wiring: database (waited for, migrated),
checkpointer (SQLite, PostgreSQL, or none in emergency mode), artifact storage (folder or S3), event bus
(in-process or Redis) behind the durable log, planner, runner, health prober and metrics.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from roadmap_agent.domain.catalog import Catalog, load_catalog
from roadmap_agent.events.bus import EventBus, EventLog, InProcessBus
from roadmap_agent.health import Prober
from roadmap_agent.infra import datadir
from roadmap_agent.infra.checkpointer import Checkpointer
from roadmap_agent.infra.database import Database, migrate
from roadmap_agent.infra.storage import ArtifactStore, LocalArtifactStore, S3ArtifactStore
from roadmap_agent.learning import Learning
from roadmap_agent.llm.base import Planner
from roadmap_agent.llm.fallback import open_planner
from roadmap_agent.logging import dropped_log_lines, get_logger
from roadmap_agent.metrics import Metrics, counter, gauge
from roadmap_agent.redaction import redact_url
from roadmap_agent.settings import API_QUEUE_POOL, Settings
from roadmap_agent.startup import wait_for_database
from roadmap_agent.store.learning import LearningStore
from roadmap_agent.store.repository import TaskStore
from roadmap_agent.store.users import UserStore, ensure_local_key
from roadmap_agent.workflow.runner import Runner, default_worker_name

if TYPE_CHECKING:  # server-mode parts: imported when the settings select them (their drivers cost ~1 s)
    from prometheus_client.core import Metric

    from roadmap_agent.infra.queue import RunQueue
    from roadmap_agent.llm.client import LLMClient

log = get_logger(__name__)

EMERGENCY_WARNING = ("EMERGENCY MODE: running without a checkpointer (ROADMAP_AGENT_CHECKPOINTER=none). "
                     "Human review and crash recovery are unavailable; runs are auto-approved and lost on a crash.")
BREAKER_STATES = ("closed", "half_open", "open")
LLM_PROBE_TIMEOUT = 3.0  # the first probe runs at startup: a hung LLM endpoint delays it by this much at most


@dataclass
class Services:
    settings: Settings
    database: Database
    store: TaskStore
    bus: EventBus
    events: EventLog
    checkpointer: Checkpointer | None
    storage: ArtifactStore
    planner: Planner
    catalog: Catalog
    runner: Runner
    prober: Prober
    metrics: Metrics
    users: UserStore
    learning: Learning
    queue: RunQueue | None = None  # server mode: runs go to `roadmap-agent worker` processes through it

    @property
    def emergency(self) -> bool:
        return self.checkpointer is None


@asynccontextmanager
async def open_services(settings: Settings, *, recover: bool = False, role: str = "api",
                        queue_pool: int = API_QUEUE_POOL) -> AsyncIterator[Services]:
    """Everything a process needs; ``recover`` continues runs a previous process left unfinished.

    ``role`` names this process in task rows (``api``, ``cli``, ``worker``); ``queue_pool`` sizes its
    connection pool to the run queue (a worker needs its concurrency plus the listener, heartbeat and sweep).
    """
    async with AsyncExitStack() as stack:
        log.info("application_startup", **settings.describe())
        database = await stack.enter_async_context(Database.from_settings(settings.database_url(),
                                                                          settings.database))
        await wait_for_database(database, settings.resilience)
        await migrate(database)
        log.info("database_connection_verified", database=database.display_url)
        checkpointer = await _open_checkpointer(stack, settings)
        storage = await _open_storage(stack, settings)
        bus = await _open_bus(stack, settings)
        metrics = Metrics()
        store = TaskStore(database)
        users = UserStore(database, key_cache_ttl=settings.api.key_cache_ttl)
        if settings.embedded:  # zero setup: the local user and its key (in $ROADMAP_AGENT_HOME/api-key)
            await ensure_local_key(users, settings.api_key_file())
        events = EventLog(store, bus, metrics, background=bus.remote)
        stack.push_async_callback(events.aclose)
        catalog = load_catalog()
        planner, llm = await stack.enter_async_context(open_planner(settings, catalog))
        saver = checkpointer.saver if checkpointer else None
        queue = await _open_queue(stack, settings, queue_pool)
        runner = Runner(store, events, storage, planner, catalog, saver, settings.resilience, metrics,
                        dispatch=queue.enqueue if queue else None,
                        dispatch_within=queue.enqueue_within if queue else None,
                        worker_name=default_worker_name(role))
        stack.push_async_callback(runner.aclose)
        log.info("orchestrator_factory_initialized", planner=planner.name,
                 checkpointer=checkpointer.location if checkpointer else "none (emergency mode)",
                 execution="queue" if queue else "in-process")
        learning = Learning(LearningStore(database), events, metrics, catalog)
        runner.known_skills = learning.known_skills  # "know it once": new requests skip what the user knows
        prober = _prober(settings, database, checkpointer, storage, bus, llm)
        await prober.probe_all()
        prober.start()
        stack.push_async_callback(prober.stop)
        services = Services(settings, database, store, bus, events, checkpointer, storage, planner, catalog,
                            runner, prober, metrics, users, learning, queue)
        metrics.watch(lambda: live_metrics(services))
        if recover:
            recovered = await runner.recover_unfinished()
            if recovered:
                log.info("tasks_recovered", count=len(recovered), task_ids=recovered)
        log.info("application_startup_complete", degraded=[d.name for d in prober.dependencies()
                                                            if d.status != "ok"])
        yield services
        log.info("application_shutdown_started")
    log.info("application_shutdown_complete")


async def _open_checkpointer(stack: AsyncExitStack, settings: Settings) -> Checkpointer | None:
    if settings.resilience.checkpointer == "none":
        log.warning("emergency_mode", message=EMERGENCY_WARNING)
        return None
    return await stack.enter_async_context(Checkpointer.from_settings(settings))


async def _open_queue(stack: AsyncExitStack, settings: Settings, pool_size: int) -> RunQueue | None:
    url = settings.database.server_url()
    if not settings.uses_queue or url is None:
        return None
    from roadmap_agent.infra.queue import RunQueue

    return await stack.enter_async_context(RunQueue.from_settings(url, settings.database, settings.worker,
                                                                  pool_size=pool_size))


async def _open_storage(stack: AsyncExitStack, settings: Settings) -> ArtifactStore:
    if settings.storage.bucket:
        return await stack.enter_async_context(S3ArtifactStore.from_settings(settings.storage))
    return await stack.enter_async_context(LocalArtifactStore.from_settings(settings.artifacts_dir()))


async def _open_bus(stack: AsyncExitStack, settings: Settings) -> EventBus:
    url = settings.redis.server_url()
    if url is None:
        return InProcessBus()
    from roadmap_agent.events.redis_bus import RedisBus

    return await stack.enter_async_context(RedisBus.from_settings(settings.redis, url))


def _prober(settings: Settings, database: Database, checkpointer: Checkpointer | None, storage: ArtifactStore,
            bus: EventBus, llm: LLMClient | None = None) -> Prober:
    resilience = settings.resilience
    prober = Prober(resilience.probe_interval, resilience.probe_timeout)
    prober.add("database", database.probe, required=True, target=database.display_url)
    if checkpointer is None:
        prober.add_disabled("checkpointer", EMERGENCY_WARNING)
    else:
        prober.add("checkpointer", checkpointer.ping, required=True, target=redact_url(checkpointer.location))
    prober.add("storage", storage.ping, required=False, target=storage.location)
    if settings.embedded:  # the SQLite files live there: a full disk stops every run from saving
        folder, minimum = settings.data_dir, resilience.min_free_mb
        prober.add("disk", lambda: asyncio.to_thread(datadir.check_free_space, folder, minimum), required=True,
                   target="data folder")
    if bus.remote:
        prober.add("redis", bus.ping, required=False, target=bus.target)
    if llm is not None:  # optional: the offline planner answers while it is down; pinged sparingly (GET /models)
        prober.add("llm", llm.ping, required=False, target=llm.target, every=settings.llm.probe_interval,
                   timeout=min(settings.llm.connect_timeout, LLM_PROBE_TIMEOUT))
    return prober


def live_metrics(services: Services) -> Iterable[Metric]:
    deps = services.prober.dependencies()
    yield gauge("roadmap_dependency_up", "1 if the dependency answered the last probe (ok or degraded).",
                [({"dependency": d.name}, float(d.status in ("ok", "degraded"))) for d in deps])
    yield gauge("roadmap_dependency_latency_seconds", "Latency of the last successful probe.",
                [({"dependency": d.name}, (d.latency_ms or 0.0) / 1000) for d in deps])
    yield gauge("roadmap_db_pool_connections", "Application database pool connections by state.",
                [({"state": state}, value) for state, value in services.database.pool_stats().items()])
    yield gauge("roadmap_emergency_mode", "1 when running without a checkpointer.",
                [({}, float(services.emergency))])
    yield counter("roadmap_log_lines_dropped", "Log lines that could not be written (stderr on a full disk, "
                  "a closed pipe).", [({}, float(dropped_log_lines()))])
    if services.queue is not None:
        queue = services.queue
        yield counter("roadmap_runs_requeued", "Runs put back in the queue by this process's sweep, by cause.",
                      [({"cause": "stalled_worker"}, queue.requeued_stalled),
                       ({"cause": "orphaned"}, queue.requeued_orphans)])
    if services.checkpointer is not None:
        yield gauge("roadmap_checkpointer_pool_connections", "Checkpointer pool connections by state.",
                    [({"state": k}, v) for k, v in services.checkpointer.pool_stats().items()])
    if (bus := services.bus.stats()) is not None:
        yield gauge("roadmap_redis_breaker_state", "Circuit breaker on Redis publishes (1 = current state).",
                    [({"state": s}, float(s == bus.breaker_state)) for s in BREAKER_STATES])
        yield counter("roadmap_redis_publishes", "Redis publishes: published, failed, skipped (breaker open).",
                      [({"result": "published"}, bus.published), ({"result": "failed"}, bus.failed),
                       ({"result": "skipped_open"}, bus.skipped_open)])

