"""The S3 probe: DNS, TCP, ``head_bucket`` and one listed key, over a client built like the service's own.

boto3 blocks: its calls run in daemon threads (``in_daemon_thread``) so a hung endpoint cannot hold up the
exit. Importing boto3 and loading S3's model is done once before any clock runs (``warm_up``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import SecretStr

from roadmap_agent.infra.check.report import DependencyReport
from roadmap_agent.infra.check.steps import (
    TCP_TIMEOUT,
    Limits,
    Steps,
    consume,
    endpoint_of,
    in_daemon_thread,
    network_steps,
    stops,
)
from roadmap_agent.infra.storage import s3_client
from roadmap_agent.redaction import redact_url
from roadmap_agent.settings import Settings, StorageSettings


def _probe_client(storage: StorageSettings, timeout: float) -> Any:
    """The service's client with one attempt per call and timeouts of one step."""
    return s3_client(storage.model_copy(update={"connect_timeout": min(storage.connect_timeout, TCP_TIMEOUT),
                                                "read_timeout": timeout, "max_attempts": 1}))


def _head_bucket(settings: Settings, timeout: float) -> tuple[Any, str]:
    from botocore.exceptions import ClientError

    client, bucket = _probe_client(settings.storage, timeout), settings.storage.bucket
    try:
        response = client.head_bucket(Bucket=bucket)
    except ClientError as exc:
        if not str(exc.response.get("Error", {}).get("Code", "")).isdigit():
            raise
        client.list_objects_v2(Bucket=bucket, MaxKeys=1)  # a HEAD has no body: ask again for the precise code
        raise
    return client, str(response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("server", ""))


def _list_one(client: Any, bucket: str, prefix: str) -> str:
    response = client.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
    keys = [item["Key"] for item in response.get("Contents", [])]
    return f"listed s3://{bucket}/{prefix}: " + (f"first key {keys[0]}" if keys else "no objects yet")


async def check_s3(settings: Settings, limits: Limits) -> DependencyReport:
    storage = settings.storage
    bucket = storage.bucket or ""
    url = storage.endpoint_url or f"https://s3.{storage.region}.amazonaws.com"
    report = DependencyReport("storage", False, f"s3://{bucket}/{storage.prefix} at {redact_url(url)}")
    endpoint = endpoint_of(url, 443 if url.startswith("https") else 80)
    steps = Steps(report, "s3", limits, address=endpoint.address, host=endpoint.host,
                  port=endpoint.port, database=bucket, vars="S3_ENDPOINT_URL")
    with stops():
        await network_steps(steps, endpoint)
        head = lambda: _head_bucket(settings, limits.step_timeout)  # noqa: E731 - runs in a daemon thread
        client, server = await steps.run("bucket", lambda: in_daemon_thread(head),
                                         lambda _: f"head_bucket {bucket}: exists and the credentials work")
        report.version = server or None
        await steps.run("list", lambda: in_daemon_thread(lambda: _list_one(client, bucket, storage.prefix)), str)
    return report


async def warm_up(storage: StorageSettings) -> None:
    """Import boto3 and load S3's model and endpoint rules (~0.8 s of CPU, holding the GIL) before any clock runs,
    so the other dependencies' latencies stay true. Presigning needs no network; the dummy keys skip the lookup."""
    dummy = "warm-up"  # not a credential: nothing is sent anywhere
    offline = storage.model_copy(update={"access_key_id": dummy, "secret_access_key": SecretStr(dummy)})

    def load() -> None:
        s3_client(offline).generate_presigned_url("head_bucket", Params={"Bucket": "warm-up"})

    task = asyncio.ensure_future(in_daemon_thread(load))
    task.add_done_callback(consume)  # a failure shows again, classified, in the bucket step
    await asyncio.wait({task}, timeout=TCP_TIMEOUT)
