"""PostgreSQL misbehaving under a running deployment: restarted, hung (SIGSTOP), connections reset, and a
kernel-level blackhole between one worker and the database (network namespace + iptables).

Every process keeps running through the fault: none is restarted by the test.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cluster import Cluster, until
from faultproxy import FaultProxy, ThreadedFaultProxy
from invariants import Scenario, check_invariants

pytestmark = [pytest.mark.chaos, pytest.mark.integration, pytest.mark.slow]

# Every connection of our processes (libpq application_name), not the test's own observer.
TERMINATE_APP_CONNECTIONS = """
SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
 WHERE application_name = 'roadmap-agent' AND pid <> pg_backend_pid()
"""
# A fault: it runs in Scenario.fault() blocks against the test's PostgreSQL (and the proxy, if the processes go
# through one); it returns how many connections the server terminated.
Inject = Callable[[Scenario, Any, ThreadedFaultProxy | None], int]


@dataclass(frozen=True)
class PostgresFault:
    """One way PostgreSQL misbehaves under the usual load (2 APIs, 2 workers x 12, 24 runs of 0.8 s steps), with
    what it takes and what must hold afterwards."""

    id: str
    name: str  # the scenario, as its summary line names it
    inject: Inject
    at_least: int = 12  # runs past their first checkpoint and inside ``step`` when the fault comes
    step: str = "curriculum_design"
    proxied: bool = False  # every process reaches PostgreSQL through a FaultProxy (the test reads it directly)
    came_back: str = "PostgreSQL came back"  # in the message if calm runs are still taken over
    terminates: bool = False  # expected: the server terminated at least one connection of ours


def outage(what: str, down: str, up: str, seconds: float) -> Inject:
    """``postgres.<down>()``, ``seconds`` later ``postgres.<up>()``: one fault."""
    def inject(scenario: Scenario, postgres: Any, _proxy: ThreadedFaultProxy | None) -> int:
        with scenario.fault(what):
            getattr(postgres, down)()
            time.sleep(seconds)
            getattr(postgres, up)()
        return 0
    return inject


def reset_connections(scenario: Scenario, postgres: Any, proxy: ThreadedFaultProxy | None) -> int:
    """The proxy resets every connection (and refuses new ones for half a second) three times, 1.5 s apart; then
    the server itself terminates every app connection, twice."""
    assert proxy is not None, "connection resets need the processes behind the fault proxy"
    for _ in range(3):
        with scenario.fault("every connection reset"):
            proxy.reset()
            time.sleep(0.5)
            proxy.normal()
        time.sleep(1.5)
    terminated = 0
    for _ in range(2):
        with scenario.fault("pg_terminate_backend of every app connection"):
            terminated += int(postgres.psql(TERMINATE_APP_CONNECTIONS, database=postgres.database))
        time.sleep(1.5)
    return terminated


POSTGRES_FAULTS = [
    PostgresFault("restart", "PostgreSQL restart (down 3 s)",
                  outage("PostgreSQL stopped, started 3 s later", "stop", "start", seconds=3)),
    PostgresFault("hung-10s", "PostgreSQL hung 10 s (SIGSTOP)",
                  outage("PostgreSQL SIGSTOPped for 10 s", "pause", "resume", seconds=10)),
    PostgresFault("connections-reset", "connections reset (proxy RST x3, pg_terminate_backend x2)", reset_connections,
                  at_least=8, step="intent_analysis", proxied=True, came_back="the connections came back",
                  terminates=True),
]


@contextlib.contextmanager
def routed(own_env: dict[str, str], postgres: Any, proxied: bool,
           ) -> Iterator[tuple[dict[str, str], ThreadedFaultProxy | None]]:
    """The processes' variables: straight to PostgreSQL, or through a fault proxy stopped at the end."""
    if not proxied:
        yield own_env, None
        return
    proxy = FaultProxy(0, "127.0.0.1", postgres.port).run_in_thread()
    try:
        proxied_url = own_env["DATABASE_URL"].replace(f":{postgres.port}/", f":{proxy.port}/")
        yield {**own_env, "DATABASE_URL": proxied_url}, proxy
    finally:
        proxy.stop()


@pytest.mark.timeout(200)
@pytest.mark.parametrize("fault", POSTGRES_FAULTS, ids=lambda fault: fault.id)
def test_postgres_fault(fault: PostgresFault, own_env: dict[str, str], postgres: Any, tmp_path: Path,
                        worker_env_override: dict[str, str]) -> None:
    """Every process keeps running through the fault; afterwards the deployment is back to steady state."""
    scenario = Scenario(fault.name)
    with routed(own_env, postgres, fault.proxied) as (env, proxy), \
            Cluster(tmp_path, {**env, "ROADMAP_AGENT_STEP_DELAY": "0.8"}, worker_env=worker_env_override,
                    observe_url=own_env["DATABASE_URL"]) as cluster:
        cluster.start(apis=2, workers=2, concurrency=12)
        cluster.wait_for_workers()
        ids, followers = cluster.load(24)
        cluster.mid_run(ids, at_least=fault.at_least, step=fault.step)
        terminated = fault.inject(scenario, postgres, proxy)
        calm = cluster.after_recovery()  # the APIs take requests again without a restart
        cluster.finish(ids + calm, followers)
    report = check_invariants(cluster.db_url, ids + calm, followers, scenario=scenario)
    limping = sorted(report.tasks_taken_over & set(calm))
    assert not limping, f"runs are still taken over after {fault.came_back}:\n{cluster.lines_about(limping)}"
    if fault.terminates:
        assert terminated > 0, "pg_terminate_backend found no connection of ours"
        print(f"connections terminated by the server: {terminated}")


@dataclass
class Namespace:
    """A network namespace joined to the host by a veth pair: processes in it reach the host at ``host_ip``."""

    name: str
    host_ip: str
    inside_ip: str

    def exec_prefix(self) -> list[str]:
        return ["ip", "netns", "exec", self.name]

    def firewall(self, port: int, target: list[str]) -> None:
        """Replace the namespace's rules: packets to ``host_ip:port`` meet ``target`` (DROP, REJECT ...)."""
        self._iptables("-F", "OUTPUT")
        if target:
            self._iptables("-A", "OUTPUT", "-p", "tcp", "-d", self.host_ip, "--dport", str(port), "-j", *target)

    def _iptables(self, *args: str) -> None:
        subprocess.run([*self.exec_prefix(), "iptables", *args], check=True, capture_output=True, timeout=10)


@pytest.fixture
def namespace() -> Iterator[Namespace]:
    """``ip netns`` + veth pair on a random 10.x.y.0/30; removed (with its veth and rules) at the end."""
    if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("iptables"):
        pytest.skip("needs root, ip and iptables")
    tag = uuid.uuid4().hex[:6]
    name, host_if, inside_if = f"chaos-{tag}", f"vc{tag}h", f"vc{tag}n"
    subnet = f"10.{random.randint(200, 250)}.{random.randint(0, 255)}"
    host_ip, inside_ip = f"{subnet}.1", f"{subnet}.2"
    commands = [["ip", "netns", "add", name],
                ["ip", "link", "add", host_if, "type", "veth", "peer", "name", inside_if],
                ["ip", "link", "set", inside_if, "netns", name],
                ["ip", "addr", "add", f"{host_ip}/30", "dev", host_if],
                ["ip", "link", "set", host_if, "up"],
                ["ip", "-n", name, "addr", "add", f"{inside_ip}/30", "dev", inside_if],
                ["ip", "-n", name, "link", "set", inside_if, "up"],
                ["ip", "-n", name, "link", "set", "lo", "up"]]
    try:
        for command in commands:
            done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=10)
            if done.returncode != 0:
                pytest.skip(f"cannot build a network namespace here: {' '.join(command)}: {done.stderr.strip()}")
        yield Namespace(name, host_ip, inside_ip)
    finally:
        # Deleting the namespace deletes its end of the veth pair, which takes the host end with it.
        subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False, timeout=10)
        subprocess.run(["ip", "link", "del", host_if], capture_output=True, check=False, timeout=10)


@pytest.mark.timeout(200)
def test_kernel_blackhole_between_a_worker_and_postgres(own_env: dict[str, str], postgres: Any,
                                                        namespace: Namespace, tmp_path: Path,
                                                        worker_env_override: dict[str, str]) -> None:
    """One worker runs in a network namespace and reaches PostgreSQL over a veth pair. iptables there DROPs its
    packets for 8 s (a partition: no RST, no ACK; only tcp_user_timeout and deadlines notice), then REJECTs
    them with a TCP reset for 3 s. Its runs are taken over by the worker outside; when the network heals, the
    old runs are fenced off and the worker goes on."""
    scenario = Scenario("kernel blackhole: worker in a netns, iptables DROP 8 s then REJECT tcp-reset 3 s")
    postgres.psql(f"ALTER SYSTEM SET listen_addresses = '127.0.0.1,{namespace.host_ip}'")
    with (postgres.data_dir / "pg_hba.conf").open("a") as hba:
        hba.write(f"host all all {namespace.inside_ip}/32 scram-sha-256\n")
    postgres.stop()
    postgres.start()
    inside = {"DATABASE_URL": own_env["DATABASE_URL"].replace("@127.0.0.1:", f"@{namespace.host_ip}:"),
              "REDIS_URL": "",  # Redis listens on the host's loopback only: this worker goes without
              "DB_TCP_USER_TIMEOUT_MS": "4000"}
    with Cluster(tmp_path, {**own_env, "ROADMAP_AGENT_STEP_DELAY": "0.8"}, worker_env=worker_env_override) as cluster:
        cluster.start(apis=2, workers=1, concurrency=24)  # room to take over every run of the other
        partitioned = cluster.add_worker(concurrency=12, env=inside, prefix=namespace.exec_prefix())
        cluster.wait_for_workers()
        ids, followers = cluster.load(24)
        cluster.mid_run(ids, at_least=12)
        name = until(lambda: next((h for h in cluster.holders().values() if h.endswith(f":{partitioned.pid}")),
                                  None), 30, "the namespaced worker to hold a run")
        with scenario.fault("iptables DROP, then REJECT --reject-with tcp-reset"):
            namespace.firewall(postgres.port, ["DROP"])
            time.sleep(0.3)
            held = {task for task, holder in cluster.holders().items() if holder == name}
            time.sleep(7.7)
            namespace.firewall(postgres.port, ["REJECT", "--reject-with", "tcp-reset"])
            time.sleep(3)
            namespace.firewall(postgres.port, [])
        calm = cluster.after_recovery(12)
        cluster.finish(ids + calm, followers)
    report = check_invariants(cluster.db_url, ids + calm, followers, scenario=scenario)
    assert held, "the namespaced worker held no run when the network went"
    assert held <= report.tasks_taken_over, "every run of the cut-off worker is taken over"
    assert report.takeover_after < 10, f"slow takeovers: {report.takeover_delays} (held: {held})"
    limping = sorted(report.tasks_taken_over & set(calm))
    assert not limping, f"runs are still taken over after the network healed:\n{cluster.lines_about(limping)}"
