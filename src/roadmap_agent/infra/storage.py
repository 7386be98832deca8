"""Artifact storage for exported roadmaps (JSON + Markdown): a local folder by default, S3-compatible when
``S3_BUCKET`` is set. Keys look like ``roadmaps/<roadmap_id>.json``; S3 keys get ``S3_PREFIX`` in front.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

from roadmap_agent.errors import StorageUnavailable
from roadmap_agent.infra import datadir
from roadmap_agent.logging import get_logger
from roadmap_agent.settings import StorageSettings

log = get_logger(__name__)


class ArtifactStore(Protocol):
    location: str

    async def put(self, key: str, data: bytes, content_type: str) -> str: ...
    async def get(self, key: str) -> bytes: ...
    async def ping(self) -> None: ...


class LocalArtifactStore:
    """Files under one folder, written atomically (temp file + rename) so readers never see half a file."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.location = str(root)

    @classmethod
    @asynccontextmanager
    async def from_settings(cls, root: Path) -> AsyncIterator[LocalArtifactStore]:
        store = cls(root)
        await store.ping()
        yield store

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"artifact key {key!r} escapes the storage folder")
        return path

    async def put(self, key: str, data: bytes, content_type: str) -> str:
        path = self._path(key)
        try:
            await asyncio.to_thread(_atomic_write, path, data)
        except OSError as exc:
            if datadir.is_full(exc):
                raise StorageUnavailable(datadir.disk_full(self.root, f"writing {key}: {exc.strerror}")) from exc
            raise StorageUnavailable(f"Cannot write {path} ({exc.strerror}). Check the folder is writable.") from exc
        return path.as_uri()

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self._path(key).read_bytes)

    async def ping(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageUnavailable(f"Cannot create the artifacts folder {self.root} ({exc.strerror}).") from exc


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


class S3ArtifactStore:
    """An S3-compatible bucket (AWS, MinIO, SeaweedFS). boto3 calls run in a thread with bounded timeouts.

    Opening never fails because S3 is down: exports fail with ``StorageUnavailable`` until it is back, and
    the roadmap itself is already safe in the database.
    """

    def __init__(self, client: Any, settings: StorageSettings) -> None:
        self._client = client
        self.bucket = settings.bucket or ""
        self.prefix = settings.prefix
        endpoint = settings.endpoint_url or f"s3.{settings.region}.amazonaws.com"
        self.location = f"s3://{self.bucket}/{self.prefix} at {endpoint}"

    @classmethod
    @asynccontextmanager
    async def from_settings(cls, settings: StorageSettings) -> AsyncIterator[S3ArtifactStore]:
        client = s3_client(settings)
        store = cls(client, settings)
        try:
            await store.ping()
        except StorageUnavailable as exc:
            log.warning("storage_degraded", storage=store.location, error=exc.message)
        try:
            yield store
        finally:
            client.close()

    async def put(self, key: str, data: bytes, content_type: str) -> str:
        full_key = self.prefix + key
        await self._call("write", full_key, self._client.put_object, Bucket=self.bucket, Key=full_key, Body=data,
                         ContentType=content_type)
        return f"s3://{self.bucket}/{full_key}"

    async def get(self, key: str) -> bytes:
        full_key = self.prefix + key
        response = await self._call("read", full_key, self._client.get_object, Bucket=self.bucket, Key=full_key)
        body: bytes = await asyncio.to_thread(response["Body"].read)
        return body

    async def ping(self) -> None:
        await self._call("reach", "", self._client.head_bucket, Bucket=self.bucket)

    async def _call(self, verb: str, key: str, method: Callable[..., Any], **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return await asyncio.to_thread(method, **kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "error")
            raise StorageUnavailable(f"Cannot {verb} s3://{self.bucket}/{key} ({code}). "
                                     f"{_S3_HINTS.get(code, 'Check S3_BUCKET and the credentials.')}") from exc
        except BotoCoreError as exc:
            raise StorageUnavailable(f"Cannot {verb} s3://{self.bucket}/{key} at {self.location} "
                                     f"({type(exc).__name__}). Is S3_ENDPOINT_URL reachable?") from exc


def s3_client(settings: StorageSettings) -> Any:
    """The one way a boto3 S3 client is built (the service's and ``check``'s): bounded timeouts and retries."""
    import boto3  # boto3 costs ~0.5 s to import: only when S3 is configured
    from botocore.config import Config

    config = Config(connect_timeout=settings.connect_timeout, read_timeout=settings.read_timeout,
                    retries={"max_attempts": settings.max_attempts, "mode": "standard"},
                    s3={"addressing_style": "path"})
    secret = settings.secret_access_key.get_secret_value() if settings.secret_access_key else None
    return boto3.client("s3", endpoint_url=settings.endpoint_url, region_name=settings.region,
                        aws_access_key_id=settings.access_key_id, aws_secret_access_key=secret, config=config)


_S3_HINTS = {
    "NoSuchBucket": "Create the bucket or fix S3_BUCKET.",
    "404": "Create the bucket or fix S3_BUCKET.",
    "403": "Check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and the bucket policy.",
    "AccessDenied": "Check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and the bucket policy.",
    "InvalidAccessKeyId": "Check AWS_ACCESS_KEY_ID.",
    "SignatureDoesNotMatch": "Check AWS_SECRET_ACCESS_KEY.",
}
