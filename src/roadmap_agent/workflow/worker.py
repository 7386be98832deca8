"""``roadmap-agent worker``: take runs from the queue and execute them until SIGTERM/SIGINT.

On a stop signal the worker stops taking jobs, gives running runs ``ROADMAP_AGENT_WORKER_GRACE`` seconds to
finish, and hands the rest back to the queue (they continue elsewhere from their last checkpoint). A run that
cannot reach a dependency is retried by the queue with jittered backoff; when its attempts are used up the
task ends ``failed`` with the reason, and ``retry`` continues it later.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal

from roadmap_agent.errors import DependencyUnavailable
from roadmap_agent.infra.queue import JobBody, RunQueue
from roadmap_agent.logging import get_logger
from roadmap_agent.settings import WorkerSettings
from roadmap_agent.workflow.runner import Runner

log = get_logger(__name__)


def job_body(runner: Runner, queue: RunQueue, settings: WorkerSettings) -> JobBody:
    async def run_roadmap(task_id: str, attempt: int) -> None:
        try:
            await runner.run(task_id)
        except DependencyUnavailable as exc:
            if attempt + 1 < settings.max_attempts:
                raise  # the queue retries it (JitteredRetry)
            log.error("run_attempts_exhausted", task_id=task_id, attempts=attempt + 1, error=exc.message)
            reason = f"gave up after {attempt + 1} attempts: {exc.message}"
            with contextlib.suppress(DependencyUnavailable):  # still down: the sweep re-queues it later
                await runner.fail(task_id, reason)
        except asyncio.CancelledError:
            # Shutdown past the grace period: hand the run back so another worker continues it now.
            log.warning("run_handed_back", task_id=task_id, worker=runner.worker_name)
            with contextlib.suppress(Exception):
                await asyncio.shield(queue.enqueue(task_id))
            raise

    return run_roadmap


async def serve_queue(runner: Runner, queue: RunQueue, settings: WorkerSettings, concurrency: int) -> None:
    """Run jobs until SIGTERM or SIGINT, then drain (see the module docstring)."""
    queue.handle(job_body(runner, queue, settings))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, _on_signal, stop, sig)
    log.info("worker_started", worker=runner.worker_name, concurrency=concurrency, grace_seconds=settings.grace,
             heartbeat_seconds=settings.heartbeat, stalled_after_seconds=settings.stalled_after)
    try:
        await queue.run_worker(runner.worker_name, concurrency, stop)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    log.info("worker_stopped", worker=runner.worker_name)


def _on_signal(stop: asyncio.Event, sig: signal.Signals) -> None:
    if not stop.is_set():
        log.info("worker_draining", signal=sig.name)
    stop.set()
