"""What the run queue retries, how long it waits, and what `check` says about workers (no IO)."""

from __future__ import annotations

import time

from procrastinate.jobs import Job

from roadmap_agent.errors import DatabaseUnavailable, StorageUnavailable
from roadmap_agent.infra.check import QueueState
from roadmap_agent.infra.queue import QUEUE, RUN_TASK, JitteredRetry


def _job(attempts: int) -> Job:
    return Job(id=1, queue=QUEUE, lock="t", queueing_lock="t", task_name=RUN_TASK, task_kwargs={"task_id": "t"},
               attempts=attempts)


def test_only_unavailable_dependencies_are_retried_and_only_so_often() -> None:
    policy = JitteredRetry(max_attempts=3, cap=30)
    assert policy.get_retry_decision(exception=DatabaseUnavailable("down"), job=_job(0)) is not None
    assert policy.get_retry_decision(exception=StorageUnavailable("down"), job=_job(1)) is not None
    assert policy.get_retry_decision(exception=DatabaseUnavailable("down"), job=_job(2)) is None  # third and last
    assert policy.get_retry_decision(exception=ValueError("a bug"), job=_job(0)) is None  # fails the task at once


def test_backoff_is_jittered_and_capped() -> None:
    policy = JitteredRetry(max_attempts=100, cap=2.0)
    delays = []
    for _ in range(200):
        decision = policy.get_retry_decision(exception=DatabaseUnavailable("down"), job=_job(20))
        assert decision is not None and decision.retry_at is not None
        delays.append(decision.retry_at.timestamp())
    assert max(delays) - min(delays) > 0.5  # spread out, so workers do not stampede a recovering database
    assert max(delays) - time.time() <= 2.0 + 0.5  # never past the cap
    first = policy.get_retry_decision(exception=DatabaseUnavailable("down"), job=_job(0))
    assert first is not None and first.retry_at is not None
    assert first.retry_at.timestamp() - time.time() <= 0.5 + 0.1  # the first retry comes quickly


def test_check_warns_without_workers_and_on_a_backlog() -> None:
    idle = QueueState(workers=0, stalled_after=4, todo=3, doing=0, oldest_todo_s=12)
    concern = idle.workers_concern()
    assert concern is not None and "no worker" in concern[0] and "roadmap-agent worker" in concern[1]
    assert idle.jobs_concern() is None
    busy = QueueState(workers=2, stalled_after=4, todo=40, doing=8, oldest_todo_s=95)
    assert busy.workers_concern() is None and busy.describe_workers().startswith("2 worker(s)")
    backlog = busy.jobs_concern()
    assert backlog is not None and "95 s" in backlog[0]
    assert "40 waiting, 8 running, oldest waiting 95 s" == busy.describe_jobs()
