"""Findings 9 and 18: the embedded data folder is private (0700, SQLite files 0600), and a folder that cannot
be written is said at once, in one sentence, instead of a ~35 s database wait or a raw PermissionError."""

from __future__ import annotations

import errno
import os
import stat
import time
from pathlib import Path

import pytest

from roadmap_agent.errors import ConfigurationError
from roadmap_agent.infra import datadir
from roadmap_agent.services import open_services
from roadmap_agent.settings import Settings

pytestmark = pytest.mark.integration


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_the_data_folder_is_0700_and_its_sqlite_files_0600(settings: Settings) -> None:
    async with open_services(settings):
        pass
    home = settings.data_dir
    assert mode(home) == 0o700
    files = [p for p in home.iterdir() if p.name.endswith((".db", ".db-wal", ".db-shm"))]
    assert {"roadmap-agent.db", "checkpoints.db"} <= {p.name for p in files}
    assert {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}


async def test_an_existing_loose_folder_is_tightened(settings: Settings) -> None:
    settings.data_dir.mkdir(mode=0o755)
    (settings.data_dir / "roadmap-agent.db").touch(mode=0o644)
    async with open_services(settings):
        pass
    assert mode(settings.data_dir) == 0o700 and mode(settings.data_dir / "roadmap-agent.db") == 0o600


@pytest.mark.parametrize(("error", "says"), [(errno.EROFS, "not writable"), (errno.EACCES, "not writable"),
                                             (errno.ENOSPC, "full disk")])
async def test_a_folder_that_cannot_be_written_is_said_at_once(settings: Settings, monkeypatch: pytest.MonkeyPatch,
                                                               error: int, says: str) -> None:
    real_write = os.write

    def failing_write(fd: int, data: bytes) -> int:
        if len(data) == datadir.PROBE_BYTES:
            raise OSError(error, os.strerror(error))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", failing_write)
    started = time.monotonic()
    with pytest.raises(ConfigurationError) as refused:
        async with open_services(settings):
            pass
    assert time.monotonic() - started < 2.0
    assert says in refused.value.message and "ROADMAP_AGENT_HOME" in refused.value.message
    assert "Is it running" not in refused.value.message
