"""The embedded data folder: private (0700, its SQLite files 0600), and writable, checked at once at start.

A read-only folder, one owned by someone else or a full disk is said in one sentence naming the folder and
what to do, before anything opens a file in it, instead of a database wait that ends "Is it running?" or a raw
``PermissionError``. ``free_space_problem`` feeds the readiness probe of the disk during a run.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from roadmap_agent.errors import ConfigurationError, StorageUnavailable

FOLDER_MODE, FILE_MODE = 0o700, 0o600
PROBE_BYTES = 64 * 1024  # what a first run writes at least (schema, WAL): a disk without this much is full
SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")
FULL = (errno.ENOSPC, errno.EDQUOT)
READ_ONLY = (errno.EROFS, errno.EACCES, errno.EPERM)


def prepare(folder: Path, sqlite_file: Path | None = None) -> None:
    """Create ``folder`` (0700) and ``sqlite_file`` (0600, before SQLite creates it 0644), or refuse at once."""
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=FOLDER_MODE)
        if folder.stat().st_uid == os.geteuid():
            folder.chmod(FOLDER_MODE)
        _write_probe(folder)
        if sqlite_file is not None:
            _private_file(sqlite_file)
    except OSError as exc:
        raise ConfigurationError(_explain(folder, exc)) from None


def _write_probe(folder: Path) -> None:
    probe = folder / f".write-test-{os.getpid()}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        try:
            os.write(fd, b"\0" * PROBE_BYTES)
            os.fsync(fd)
        finally:
            os.close(fd)
    finally:
        probe.unlink(missing_ok=True)


def _private_file(path: Path) -> None:
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE))  # SQLite's -wal/-shm copy this mode
    for suffix in SQLITE_COMPANIONS:
        companion = path.with_name(path.name + suffix)
        if companion.exists() and companion.stat().st_uid == os.geteuid():
            companion.chmod(FILE_MODE)


def _explain(folder: Path, exc: OSError) -> str:
    where = f"The data folder {folder} (ROADMAP_AGENT_HOME)"
    if exc.errno in FULL:
        return (f"{where} is on a full disk ({_free_mb(folder)} MB free). Free some space, or point "
                "ROADMAP_AGENT_HOME at a disk with room, then start again.")
    if exc.errno in READ_ONLY:
        return (f"{where} is not writable ({exc.strerror}): it is read-only or belongs to another user. Make it "
                "writable by this user, or point ROADMAP_AGENT_HOME at a writable folder.")
    return f"{where} cannot be used ({exc.strerror or exc}). Point ROADMAP_AGENT_HOME at a writable folder."


# A "disk I/O error" from SQLite with this little room left is the full disk (SQLite reports a write that ran out
# of space either way, depending on which file it was extending).
LOW_SPACE_MB = 64


def disk_full(folder: Path, detail: str) -> str:
    """The one sentence for a write the full disk under the data folder refused (database, checkpoints,
    artifacts); ``detail`` is the driver's words. Names no path: it reaches clients in the task's error."""
    return (f"The disk holding the data folder is full ({_free_mb(folder)} MB free; {detail}). Free some space; "
            "runs continue or can be retried after that.")


def sqlite_disk_error(file: Path, cause: str) -> str | None:
    """:func:`disk_full`'s sentence when an SQLite error on ``file`` comes from a full disk, else None."""
    if "disk is full" in cause or ("disk I/O error" in cause and _free_mb(file.parent) < LOW_SPACE_MB):
        return disk_full(file.parent, f"SQLite: {cause}")
    return None


def is_full(exc: OSError) -> bool:
    return exc.errno in FULL


def _free_mb(folder: Path) -> int:
    existing = next((p for p in (folder, *folder.parents) if p.exists()), Path("/"))
    return shutil.disk_usage(existing).free // (1024 * 1024)


def check_free_space(folder: Path, minimum_mb: int) -> None:
    """Readiness of the embedded disk: ``StorageUnavailable`` under ``minimum_mb`` free (runs cannot save)."""
    free = _free_mb(folder)
    if free < minimum_mb:
        raise StorageUnavailable(f"The data folder's disk has {free} MB free, under ROADMAP_AGENT_MIN_FREE_MB="
                                 f"{minimum_mb}: runs cannot save their progress. Free some space.")
