"""Scenarios where our own processes fail: none (the control), a worker killed -9 or frozen 8 s, an API
killed -9."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from cluster import Cluster, query, until
from invariants import Scenario, check_invariants

pytestmark = [pytest.mark.chaos, pytest.mark.integration, pytest.mark.slow]

# Runnable tasks with no job at all: accepted, but the API died before queueing the run.
NOT_QUEUED_SQL = """
SELECT t.id FROM tasks t
 WHERE t.status = 'pending'
   AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs j WHERE j.lock = t.id)
"""


@pytest.mark.timeout(180)
def test_control_without_faults_has_no_takeovers(shared_env: dict[str, str], tmp_path: Path,
                                                worker_env_override: dict[str, str]) -> None:
    """Runs far longer than STALLED_AFTER: a worker whose heartbeat lags would see its runs taken over."""
    scenario = Scenario("control (no faults, 1.2 s steps)")
    env = {**shared_env, "ROADMAP_AGENT_STEP_DELAY": "1.2"}
    with Cluster(tmp_path, env, worker_env=worker_env_override) as cluster:
        cluster.start(apis=1, workers=2, concurrency=12)
        cluster.wait_for_workers()
        ids = cluster.submit(22, review=2)
        cluster.approve_when_asked(ids[:2])
        followers = cluster.follow(ids[:5], websocket=2)
        cluster.finish(ids, followers)
    report = check_invariants(cluster.db_url, ids, followers, scenario=scenario)
    assert report.takeovers == 0, "runs were taken over although no worker failed: heartbeats are late"


@dataclass(frozen=True)
class WorkerFault:
    """The busiest of three workers (8 runs each, 24 runs of 0.8 s steps, 16 of them mid-way) is SIGSTOPped, so
    what it holds cannot change under us, and 0.3 s later either killed -9 or thawed ``thaw_after`` s after the
    SIGSTOP; with the figures that must hold afterwards."""

    id: str
    name: str  # the scenario, as its summary line names it
    fault: str
    thaw_after: float | None  # None: kill -9 instead
    victim: str  # "killed" or "frozen", for the messages
    each_taken_over_once: bool  # expected: exactly one takeover per run it held
    fenced: bool  # expected: a thawed run ran into the fence, and the runs after recovery are not taken over


WORKER_FAULTS = [
    WorkerFault("worker-kill-9", "worker kill -9", "kill -9 of the busiest worker", thaw_after=None,
                victim="killed", each_taken_over_once=True, fenced=False),
    WorkerFault("worker-frozen-8s", "worker frozen 8 s (SIGSTOP), then thawed", "SIGSTOP of the busiest worker for 8 s",
                thaw_after=8.0, victim="frozen", each_taken_over_once=False, fenced=True),
]


@pytest.mark.timeout(180)
@pytest.mark.parametrize("fault", WORKER_FAULTS, ids=lambda fault: fault.id)
def test_worker_fault_its_runs_are_taken_over_within_10_s(
        fault: WorkerFault, shared_env: dict[str, str], tmp_path: Path, worker_env_override: dict[str, str]) -> None:
    """Killed, or frozen past STALLED_AFTER (a VM freeze, a GC pause): its runs are taken over within 10 s. A
    thawed worker's runs carry on where they were, and only fencing stops them from running steps alongside the
    new runs."""
    scenario = Scenario(fault.name)
    env = {**shared_env, "ROADMAP_AGENT_STEP_DELAY": "0.8"}
    with Cluster(tmp_path, env, worker_env=worker_env_override) as cluster:
        cluster.start(apis=2, workers=3, concurrency=8)
        cluster.wait_for_workers()
        ids, followers = cluster.load(24)
        cluster.mid_run(ids, at_least=16)  # past their first step (a checkpoint to resume from), inside a later one
        with scenario.fault(fault.fault):
            holders = cluster.holders()
            busiest = Counter(holders.values()).most_common(1)[0][0]
            victim = cluster.worker_by_name(busiest)
            assert victim is not None, (busiest, holders)
            os.kill(victim.pid, signal.SIGSTOP)  # frozen first, so what it holds cannot change under us
            time.sleep(0.3)
            held = {task for task, holder in cluster.holders().items() if holder == busiest}
            if fault.thaw_after is None:
                victim.kill()
            else:
                time.sleep(fault.thaw_after - 0.3)
                os.kill(victim.pid, signal.SIGCONT)
        calm = cluster.after_recovery()
        cluster.finish(ids + calm, followers)
        fenced = {line["task_id"] for line in victim.logged("run_superseded")} & held
    report = check_invariants(cluster.db_url, ids + calm, followers, scenario=scenario)
    assert held, f"the {fault.victim} worker held no run: nothing was tested"
    assert report.tasks_taken_over == held, f"exactly the {fault.victim} worker's runs are taken over"
    if fault.each_taken_over_once:
        assert report.takeovers == len(held), "each of them once"
    assert report.takeover_after < 10, f"slow takeovers: {report.takeover_delays}"
    if fault.fenced:
        assert fenced, "no thawed run ran into the fence: the scenario did not test it"
        limping = sorted(report.tasks_taken_over & set(calm))
        assert not limping, f"runs are still taken over after the thaw:\n{cluster.lines_about(limping)}"


@pytest.mark.timeout(180)
def test_api_killed_clients_move_to_the_other_and_nothing_accepted_is_lost(
        shared_env: dict[str, str], tmp_path: Path, worker_env_override: dict[str, str]) -> None:
    """API 0 is killed while requests stream into it; nothing it accepted is lost. A task, its first event and its
    queue job are written in one transaction, so freezing the process at random moments never finds a task it
    accepted without a job (before issue 19 it did, and the workers' orphan sweep had to queue it)."""
    scenario = Scenario("API kill -9")
    env = {**shared_env, "ROADMAP_AGENT_STEP_DELAY": "0.6"}
    with Cluster(tmp_path, env, worker_env=worker_env_override) as cluster:
        cluster.start(apis=2, workers=2, concurrency=12)
        cluster.wait_for_workers()
        ids = cluster.submit(20, review=2)
        cluster.approve_when_asked(ids[:2])
        followers = cluster.follow(ids[:8], websocket=2)  # half of them on API 0
        until(lambda: sum(bool(f.received) for f in followers) == len(followers), 30, "every client to listen")

        victim = cluster.apis[0]
        burst: list[str] = []
        stop_burst = threading.Event()

        def keep_submitting() -> None:  # clients retry on API 1 with the same Idempotency-Key
            while not stop_burst.is_set() and len(burst) < 16:
                burst.append(cluster.submit_one(0))

        submitters = [threading.Thread(target=keep_submitting) for _ in range(4)]
        for submitter in submitters:
            submitter.start()
        with scenario.fault("kill -9 of an API process with requests in flight"):
            orphans = _freeze_with_an_unqueued_task(victim.proc.pid, cluster.db_url, attempts=100)
            victim.proc.kill()
        stop_burst.set()
        for submitter in submitters:
            submitter.join(60)
        ids += burst + cluster.after_recovery()
        cluster.finish(ids, followers)
    report = check_invariants(cluster.db_url, ids, followers, scenario=scenario)
    assert orphans == [], f"API 0 had accepted tasks without a queue job: {orphans}"
    assert report.takeovers == 0
    assert any(f.connects > 1 for f in followers[:8:2]), "no client of API 0 had to reconnect"
    print(f"tasks accepted during the kill: {len(burst)}, none without its queue job")


def _freeze_with_an_unqueued_task(pid: int, db_url: str, attempts: int = 300) -> list[str]:
    """SIGSTOP the API at random moments until a task it created has no job yet; leaves it stopped."""
    for _ in range(attempts):
        os.kill(pid, signal.SIGSTOP)
        found = [str(r["id"]) for r in query(db_url, NOT_QUEUED_SQL)]
        if found:
            return found
        os.kill(pid, signal.SIGCONT)
        time.sleep(random.uniform(0.002, 0.03))
    return []
