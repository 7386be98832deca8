"""The run queue on PostgreSQL (procrastinate): API processes enqueue, ``roadmap-agent worker`` processes run.

One job per run of a task: ``run_roadmap(task_id)`` with ``lock`` = ``queueing_lock`` = the task id, so at
most one job per task waits and at most one runs at a time. What procrastinate does not do on its own, and
this module adds:

- **Takeover after a crash.** Workers heartbeat every ``ROADMAP_AGENT_WORKER_HEARTBEAT`` s; every worker
  sweeps each ``SWEEP_INTERVAL`` s for jobs whose worker has been silent for ``STALLED_AFTER`` s and puts them
  back in the queue (procrastinate only offers the query). The run continues from its last checkpoint.
- **Orphans.** A task accepted (or resumed by a review) whose job never made it into the queue -- the API
  process died in between, or the insert failed -- is queued by the sweep after ``ORPHAN_AFTER`` s.
- **A worker that outlives its database.** procrastinate stops a worker when its heartbeat or listener
  fails (PostgreSQL restarted); ``run_worker`` starts it again with jittered backoff until asked to stop.
- **Bounded calls.** Every call made on behalf of a request runs under the operation deadline, so a hung
  PostgreSQL answers 503 instead of hanging the API.

Nothing outside ``infra/`` imports procrastinate.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import procrastinate
import psycopg
from procrastinate import exceptions as pexc
from procrastinate.job_context import JobContext
from procrastinate.jobs import Job, Status
from procrastinate.retry import BaseRetryStrategy, RetryDecision
from procrastinate.worker import Worker
from sqlalchemy.ext.asyncio import AsyncConnection

from roadmap_agent.errors import DatabaseUnavailable, DependencyUnavailable
from roadmap_agent.infra import postgres
from roadmap_agent.logging import get_logger
from roadmap_agent.settings import DatabaseSettings, WorkerSettings

log = get_logger(__name__)

QUEUE = "roadmaps"
RUN_TASK = "run_roadmap"
_HEALTHY_RUN = 60.0  # seconds a worker loop must run before its restart backoff starts over
JobBody = Callable[[str, int], Awaitable[None]]  # (task_id, attempt) -> None

# Runnable tasks with no job waiting or running for them (procrastinate_jobs is the queue's own table).
ORPHANS_SQL = """
SELECT t.id FROM tasks t
 WHERE t.status IN ('pending', 'running')
   AND t.updated_at < NOW() - (%(seconds)s || ' SECOND')::INTERVAL
   AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs j
                    WHERE j.lock = t.id AND j.status IN ('todo', 'doing'))
 ORDER BY t.updated_at
 LIMIT 100
"""


def schema_sql() -> str:
    """The queue's own tables and functions, as the pinned procrastinate version creates them (migration 0003)."""
    from procrastinate.schema import SchemaManager

    return SchemaManager.get_schema()


class JitteredRetry(BaseRetryStrategy):
    """Retry a run that could not reach a dependency: full jitter over min(cap, 0.5 * 2^attempt) s, bounded."""

    def __init__(self, max_attempts: int, cap: float) -> None:
        self.max_attempts = max_attempts
        self.cap = cap

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if not isinstance(exception, DependencyUnavailable) or job.attempts + 1 >= self.max_attempts:
            return None
        delay = random.uniform(0, min(self.cap, 0.5 * 2 ** job.attempts))  # noqa: S311 - jitter, not crypto
        return RetryDecision(retry_at=datetime.now(UTC) + timedelta(seconds=delay))


class RunQueue:
    def __init__(self, app: procrastinate.App, settings: WorkerSettings, where: str, operation_timeout: float):
        self.app = app
        self.settings = settings
        self.where = where
        self.operation_timeout = operation_timeout
        self._boundary = postgres.Boundary(
            "The run queue on PostgreSQL", where, operation_timeout, cancel_late=True,
            driver_errors=(pexc.ConnectorException, psycopg.Error, OSError),
            passthrough=(pexc.AlreadyEnqueued, pexc.UniqueViolation))  # answers, not failures
        self._body: JobBody | None = None
        self.requeued_stalled = 0
        self.requeued_orphans = 0

    @classmethod
    @asynccontextmanager
    async def from_settings(cls, url: str, database: DatabaseSettings, settings: WorkerSettings, *,
                            pool_size: int = 2) -> AsyncIterator[RunQueue]:
        """A queue client with its own small pool (workers: concurrency + the listener, heartbeat, sweep)."""
        connector = procrastinate.PsycopgConnector(
            conninfo=postgres.libpq_url(url), min_size=1, max_size=pool_size,
            kwargs=postgres.connection_options(database), name="run-queue",
            timeout=database.pool_timeout, max_waiting=database.pool_max_waiting,
            max_lifetime=database.pool_recycle, max_idle=database.pool_recycle)
        queue = cls(procrastinate.App(connector=connector), settings, postgres.host_port(url),
                    database.operation_timeout)
        try:
            await queue._bounded(connector.open_async(), database.connect_timeout + 2)
        except DependencyUnavailable as exc:
            raise DatabaseUnavailable(f"Cannot open the run queue on PostgreSQL at {queue.where}: "
                                      f"{exc.message}") from None
        try:
            yield queue
        finally:
            await asyncio.shield(connector.close_async())

    def handle(self, body: JobBody) -> None:
        """Register what a worker does with a job: ``body(task_id, attempt)``."""
        self._body = body

        async def run_roadmap(context: JobContext, task_id: str) -> None:
            await body(task_id, context.job.attempts)

        self.app.task(name=RUN_TASK, queue=QUEUE, pass_context=True,
                      retry=JitteredRetry(self.settings.max_attempts, self.settings.max_backoff))(run_roadmap)

    # -- producers (API, CLI) ------------------------------------------------------------------------

    async def enqueue(self, task_id: str) -> None:
        """Queue a run of ``task_id``; a job already waiting for it is enough (no duplicate)."""
        try:
            await self._bounded(self._deferrer(task_id).defer_async(task_id=task_id))
        except pexc.AlreadyEnqueued:
            log.debug("run_already_queued", task_id=task_id)

    async def enqueue_within(self, conn: AsyncConnection, task_id: str) -> None:
        """Queue a run of a task being created, inside the transaction of ``conn`` (the application database's
        connection, on the same PostgreSQL): the job exists if and only if the task does. The caller's
        deadline bounds it; a task this new cannot have a job yet, so there is no duplicate to allow for."""
        job = self._deferrer(task_id).make_new_job(task_id=task_id)
        raw = (await conn.get_raw_connection()).driver_connection
        try:
            await self.app.job_manager.defer_job_async(job, connection=raw)
        except (pexc.ConnectorException, psycopg.Error) as exc:
            raise self._boundary.unavailable(exc) from exc

    def _deferrer(self, task_id: str) -> procrastinate.jobs.JobDeferrer:
        return procrastinate.tasks.configure_task(
            name=RUN_TASK, job_manager=self.app.job_manager, queue=QUEUE, lock=task_id, queueing_lock=task_id)

    async def ping(self) -> None:
        await self._bounded(self.app.connector.execute_query_one_async("SELECT 1 AS ok"))

    # -- recovery (every worker) ---------------------------------------------------------------------

    async def requeue_stalled(self) -> list[str]:
        """Put back the runs of workers silent for ``stalled_after`` s; their tasks continue elsewhere."""
        jobs = await self._bounded(self.app.job_manager.get_stalled_jobs(
            queue=QUEUE, seconds_since_heartbeat=self.settings.stalled_after))
        requeued = []
        for job in jobs:
            try:
                await self._bounded(self.app.job_manager.retry_job(job))
            except pexc.UniqueViolation:
                # A job for the same task already waits (a review decision queued it while this run was
                # stalled), and it cannot start while this one holds the task's lock: this stalled run is
                # superseded. End it, so the waiting job takes over (its run continues from the checkpoint).
                if not await self._end_superseded(job):
                    continue
            except pexc.ConnectorException:  # another worker's sweep got there first
                continue
            requeued.append(str(job.task_kwargs.get("task_id")))
        self.requeued_stalled += len(requeued)
        return requeued

    async def _end_superseded(self, job: Job) -> bool:
        try:
            await self._bounded(self.app.job_manager.finish_job(job, Status.ABORTED, delete_job=False))
        except pexc.ConnectorException:  # another worker's sweep got there first
            return False
        log.info("stalled_run_superseded", task_id=job.task_kwargs.get("task_id"), job_id=job.id)
        return True

    async def requeue_orphans(self) -> list[str]:
        """Queue runnable tasks that have no job (accepted, but the job insert never happened)."""
        rows = await self._bounded(self.app.connector.execute_query_all_async(
            ORPHANS_SQL, seconds=self.settings.orphan_after))
        for row in rows:
            await self.enqueue(row["id"])
        self.requeued_orphans += len(rows)
        return [str(r["id"]) for r in rows]

    async def sweep_forever(self) -> None:
        """Sweep every ``sweep_interval`` s -- except right after this process could not sweep for longer than
        ``stalled_after``: then PostgreSQL (or this process) was stalled, every worker's heartbeat is stale for
        the same reason, and judging them now would take over runs that are alive. One round later the
        heartbeats are fresh again."""
        loop = asyncio.get_running_loop()
        last_ok = loop.time()
        while True:
            await asyncio.sleep(self.settings.sweep_interval)
            if loop.time() - last_ok > self.settings.stalled_after + self.settings.sweep_interval:
                log.info("queue_sweep_skipped", reason="this process could not sweep for a while; "
                         "waiting one round for heartbeats to catch up")
                last_ok = loop.time()
                continue
            try:
                stalled = await self.requeue_stalled()
                orphans = await self.requeue_orphans()
            except DependencyUnavailable as exc:
                log.warning("queue_sweep_failed", error=exc.message)
                continue
            last_ok = loop.time()
            if stalled or orphans:
                log.warning("runs_requeued", stalled=stalled, orphans=orphans)

    # -- the worker loop -----------------------------------------------------------------------------

    async def run_worker(self, name: str, concurrency: int, stop: asyncio.Event) -> None:
        """Take and run jobs until ``stop`` is set; then drain for ``grace`` s and hand back the rest."""
        failures = 0
        sweeper = asyncio.create_task(self.sweep_forever(), name="queue-sweeper")
        try:
            while not stop.is_set():
                worker = _Worker(self.app, queues=[QUEUE], name=name, concurrency=concurrency, wait=True,
                                fetch_job_polling_interval=self.settings.poll_interval,
                                shutdown_graceful_timeout=self.settings.grace, listen_notify=True,
                                install_signal_handlers=False, update_heartbeat_interval=self.settings.heartbeat,
                                stalled_worker_timeout=self.settings.stalled_after)
                started = time.monotonic()
                error = await _run_until(worker, stop)
                if error is None:
                    break
                if time.monotonic() - started > _HEALTHY_RUN:
                    failures = 0  # it ran fine for a while: this is a new failure, not the same one again
                failures += 1
                delay = random.uniform(0, min(5.0, 0.25 * 2 ** failures))  # noqa: S311 - jitter
                log.warning("worker_loop_restarting", worker=name, error=_describe(error), in_seconds=round(delay, 2))
                await _sleep_unless(stop, delay)
        finally:
            sweeper.cancel()
            await asyncio.gather(sweeper, return_exceptions=True)

    async def _bounded(self, operation: Awaitable[Any], seconds: float | None = None) -> Any:
        return await self._boundary.call(operation, seconds or self.operation_timeout)


class _Worker(Worker):
    """procrastinate's worker with its side-task watchdog kept alive.

    procrastinate stops a worker whose heartbeat or listener task fails by waiting for the *first* side task
    to end; but with no periodic task registered (ours) its periodic deferrer ends at once, which ends that
    wait before anything failed. A heartbeat that then fails once (any database blip) stays dead while the
    worker keeps taking jobs, so every run it takes looks stalled and is taken over STALLED_AFTER seconds
    later, again and again. Parking the deferrer keeps the watchdog on the tasks that matter.
    """

    async def _periodic_deferrer(self) -> None:
        if not self.app.periodic_registry.periodic_tasks:
            await asyncio.Event().wait()  # until cancelled at shutdown, like the other side tasks
        await super()._periodic_deferrer()  # type: ignore[no-untyped-call]  # untyped upstream


async def _run_until(worker: Worker, stop: asyncio.Event) -> BaseException | None:
    """Run one procrastinate worker until ``stop`` (None) or until it dies on its own (the error)."""
    run = asyncio.create_task(worker.run(), name="procrastinate-worker")  # type: ignore[no-untyped-call]  # untyped upstream
    stopper = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({run, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    if not run.done():
        worker.stop()  # type: ignore[no-untyped-call]  # stop fetching; running jobs get the grace period, then are aborted (handed back)
    try:
        await run
    except Exception as exc:
        return None if stop.is_set() else exc
    return None if stop.is_set() else RuntimeError("the worker loop ended on its own")


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass


def _describe(exc: BaseException) -> str:
    cause = exc.__cause__ or exc
    return f"{type(cause).__name__}: {postgres.first_line(cause)}"
