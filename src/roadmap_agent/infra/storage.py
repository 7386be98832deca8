"""Artifact storage for exported roadmaps (JSON + Markdown): a local folder by default.

``ArtifactStore`` is the interface an S3 backend implements in server mode; keys look like
``roadmaps/<roadmap_id>.json``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Protocol

from roadmap_agent.errors import StorageUnavailable


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
