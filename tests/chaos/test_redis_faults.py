"""Redis misbehaving under a running deployment: killed for 30 s, then hung (SIGSTOP) for 10 s.

Redis is only the fast path for live events: runs must go on untouched (no takeover, nothing failed), new
requests are accepted, and clients get every event from the durable log meanwhile.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cluster import Cluster, query
from invariants import Scenario, check_invariants

pytestmark = [pytest.mark.chaos, pytest.mark.integration, pytest.mark.slow]

COMPLETED_BETWEEN = ("SELECT count(*) AS n FROM task_events WHERE type = 'completed' "
                     "AND created_at BETWEEN to_timestamp(%s) AND to_timestamp(%s)")


@dataclass(frozen=True)
class Burst:
    """Requests submitted ``at`` seconds into the fault: ``count`` runs, ``review`` of them reviewed, live
    clients on the first ``follow`` (``websocket`` of those over WebSocket)."""

    at: float
    count: int
    review: int
    follow: int
    websocket: int


@dataclass(frozen=True)
class RedisFault:
    """Redis killed -9 (then started) or SIGSTOPped (then SIGCONTed) for ``seconds`` under a load of ``runs`` runs,
    with requests arriving meanwhile; with the figures that must hold afterwards."""

    id: str
    name: str  # the scenario, as its summary line names it
    fault: str
    killed: bool  # kill -9 and start again; else SIGSTOP and SIGCONT
    seconds: float
    step_delay: str
    runs: int
    bursts: tuple[Burst, ...]
    who: str  # "Redis going away", "a hung Redis": in the takeover message
    meanwhile: str  # "while Redis was down": in the messages
    finished_at_least: int | None = None  # expected: runs completed while Redis was away (None: not asserted)
    log_fallback: bool = False  # expected: clients got events from the log tail while Redis was away
    accepted_within: float | None = None  # expected: the first burst was accepted within this many seconds


REDIS_FAULTS = [
    RedisFault("killed-30s", "Redis killed for 30 s", "Redis killed -9, started again 30 s later", killed=True,
               seconds=30, step_delay="1.0", runs=12,
               bursts=(Burst(0, 12, review=1, follow=4, websocket=1),  # accepted while it is down
                       Burst(26, 4, review=0, follow=2, websocket=0)),  # running when it comes back
               who="Redis going away", meanwhile="while Redis was down", finished_at_least=12, log_fallback=True),
    RedisFault("hung-10s", "Redis hung 10 s (SIGSTOP)", "Redis SIGSTOPped for 10 s", killed=False,
               seconds=10, step_delay="0.8", runs=16, bursts=(Burst(0, 8, review=0, follow=3, websocket=1),),
               who="a hung Redis", meanwhile="while Redis hung", accepted_within=5),
]


@pytest.mark.timeout(200)
@pytest.mark.parametrize("fault", REDIS_FAULTS, ids=lambda fault: fault.id)
def test_redis_fault(fault: RedisFault, redis_env: dict[str, str], redis: Any, tmp_path: Path,
                     worker_env_override: dict[str, str]) -> None:
    scenario = Scenario(fault.name)
    env = {**redis_env, "ROADMAP_AGENT_STEP_DELAY": fault.step_delay}
    with Cluster(tmp_path, env, worker_env=worker_env_override) as cluster:
        cluster.start(apis=2, workers=2, concurrency=12)
        cluster.wait_for_workers()
        ids, followers = cluster.load(fault.runs)
        cluster.mid_run(ids, at_least=6, step="intent_analysis")
        before = cluster.deliveries() if fault.log_fallback else Counter[str]()
        accepted_in: list[float] = []
        with scenario.fault(fault.fault):
            if fault.killed:
                redis.kill()
            else:
                redis.pause()
            began, wall_began = time.monotonic(), time.time()
            for burst in fault.bursts:
                time.sleep(max(0.0, burst.at - (time.monotonic() - began)))
                submitted = time.monotonic()
                more, more_followers = cluster.load(burst.count, review=burst.review, follow=burst.follow,
                                                    websocket=burst.websocket)
                accepted_in.append(time.monotonic() - submitted)
                ids += more
                followers += more_followers
            time.sleep(max(0.0, fault.seconds - (time.monotonic() - began)))
            wall_ended = time.time()
            during = cluster.deliveries() - before if fault.log_fallback else Counter[str]()
            if fault.killed:
                redis.start()
            else:
                redis.resume()
        ids += cluster.after_recovery()
        cluster.finish(ids, followers)
    report = check_invariants(cluster.db_url, ids, followers, scenario=scenario)
    assert report.takeovers == 0, f"{fault.who} must not disturb a run"
    if fault.finished_at_least is not None:
        finished_meanwhile = query(cluster.db_url, COMPLETED_BETWEEN, [wall_began, wall_ended])[0]["n"]
        assert finished_meanwhile >= fault.finished_at_least, \
            f"only {finished_meanwhile} runs finished {fault.meanwhile}"
    if fault.log_fallback:
        assert during["log_fallback"] > 0, f"no event reached a client from the log tail: {dict(during)}"
        print(f"events sent to clients {fault.meanwhile}: {dict(during)}")
    if fault.accepted_within is not None:
        assert accepted_in[0] < fault.accepted_within, \
            f"accepting {fault.bursts[0].count} requests took {accepted_in[0]:.1f} s {fault.meanwhile}"
