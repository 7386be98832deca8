"""A write the full disk refused reads the same wherever it happened: database, checkpoints or artifacts."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from roadmap_agent.errors import StorageUnavailable
from roadmap_agent.infra import datadir
from roadmap_agent.infra.storage import LocalArtifactStore


def test_sqlite_full_is_the_disk_full_sentence(tmp_path: Path) -> None:
    sentence = datadir.sqlite_disk_error(tmp_path / "x.db", "database or disk is full")
    assert sentence is not None and "disk holding the data folder is full" in sentence
    assert str(tmp_path) not in sentence  # it reaches clients in the task's error


def test_an_io_error_is_the_full_disk_only_when_the_disk_is_nearly_full(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(datadir, "_free_mb", lambda folder: 10_000)
    assert datadir.sqlite_disk_error(tmp_path / "x.db", "disk I/O error") is None  # a failing disk, not a full one
    monkeypatch.setattr(datadir, "_free_mb", lambda folder: 0)
    sentence = datadir.sqlite_disk_error(tmp_path / "x.db", "disk I/O error")
    assert sentence is not None and "0 MB free" in sentence
    assert datadir.sqlite_disk_error(tmp_path / "x.db", "no such table: tasks") is None


async def test_an_artifact_the_full_disk_refused_says_the_disk_is_full(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(path: Path, data: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("roadmap_agent.infra.storage._atomic_write", refuse)
    store = LocalArtifactStore(tmp_path / "artifacts")
    with pytest.raises(StorageUnavailable, match="disk holding the data folder is full"):
        await store.put("roadmaps/r1.json", b"{}", "application/json")
