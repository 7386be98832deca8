"""Open every dependency for one process in an ``AsyncExitStack`` and close them in reverse.

Shared by the API's lifespan and the CLI, so both run the same wiring: database (migrated), checkpointer,
artifact storage, event bus + durable log, planner, runner.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from roadmap_agent.domain.catalog import Catalog, load_catalog
from roadmap_agent.events.bus import EventBus, EventLog, InProcessBus
from roadmap_agent.infra.checkpointer import Checkpointer
from roadmap_agent.infra.database import Database, migrate
from roadmap_agent.infra.storage import ArtifactStore, LocalArtifactStore
from roadmap_agent.llm.base import Planner
from roadmap_agent.llm.offline import OfflinePlanner
from roadmap_agent.logging import get_logger
from roadmap_agent.settings import Settings
from roadmap_agent.store.repository import TaskStore
from roadmap_agent.workflow.runner import Runner

log = get_logger(__name__)


@dataclass
class Services:
    settings: Settings
    database: Database
    store: TaskStore
    bus: EventBus
    events: EventLog
    checkpointer: Checkpointer
    storage: ArtifactStore
    planner: Planner
    catalog: Catalog
    runner: Runner


@asynccontextmanager
async def open_services(settings: Settings, *, recover: bool = False) -> AsyncIterator[Services]:
    """Everything a process needs; ``recover`` continues runs a previous process left unfinished."""
    async with AsyncExitStack() as stack:
        log.info("application_startup", **settings.describe())
        database = await stack.enter_async_context(Database.from_settings(settings.database_url(),
                                                                          settings.database))
        await migrate(database)
        log.info("database_connection_verified", database=database.display_url)
        checkpointer = await stack.enter_async_context(Checkpointer.sqlite(settings.checkpoint_path()))
        storage = await stack.enter_async_context(LocalArtifactStore.from_settings(settings.artifacts_dir()))
        store = TaskStore(database)
        bus = InProcessBus()
        events = EventLog(store, bus)
        catalog = load_catalog()
        planner = OfflinePlanner(catalog)
        runner = Runner(store, events, storage, planner, catalog, checkpointer.saver, settings.resilience)
        stack.push_async_callback(runner.aclose)
        log.info("orchestrator_factory_initialized", planner=planner.name, checkpointer=checkpointer.location)
        services = Services(settings, database, store, bus, events, checkpointer, storage, planner, catalog,
                            runner)
        if recover:
            recovered = await runner.recover_unfinished()
            if recovered:
                log.info("tasks_recovered", count=len(recovered), task_ids=recovered)
        log.info("application_startup_complete")
        yield services
        log.info("application_shutdown_started")
    log.info("application_shutdown_complete")
