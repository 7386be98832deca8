"""The Redis probe: DNS, TCP, then ``PING`` + ``INFO server`` over a client built like the service's own.

The client gets no retries and socket timeouts of one step: redis-py's defaults would hide a hung server for
~15 s. redis-py drops the connection on cancel and never waits for it, so the step is cancelled when late.
"""

from __future__ import annotations

from roadmap_agent.infra.check.report import DependencyReport
from roadmap_agent.infra.check.steps import TCP_TIMEOUT, Limits, Steps, endpoint_of, network_steps, stops
from roadmap_agent.infra.redis import DEFAULT_PORT, RedisConnection, open_client
from roadmap_agent.redaction import redact_url
from roadmap_agent.settings import RedisSettings


async def check_redis(url: str, settings: RedisSettings, limits: Limits) -> DependencyReport:
    report = DependencyReport("redis", False, redact_url(url))
    endpoint = endpoint_of(url, DEFAULT_PORT)
    steps = Steps(report, "redis", limits, address=endpoint.address, host=endpoint.host,
                  port=endpoint.port, vars="REDIS_URL (or REDIS_HOST / REDIS_PORT)")
    probing = settings.model_copy(update={"retries": 0, "socket_timeout": limits.step_timeout,
                                          "socket_connect_timeout": min(TCP_TIMEOUT, limits.step_timeout)})
    connection = RedisConnection(open_client(url, probing), url, probing)
    with stops():
        if not url.startswith("unix://"):
            await network_steps(steps, endpoint)
        version = await steps.run("ping", connection.server_version, lambda v: f"PONG; INFO server: Redis {v}",
                                  cancel=True)
        report.version = f"Redis {version}"
    await connection.close()
    return report
