"""The embedded probes: the SQLite files (database, checkpoints) and the local folder for exported roadmaps."""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from contextlib import closing
from pathlib import Path

from roadmap_agent.infra.check.report import DependencyReport
from roadmap_agent.infra.check.steps import Limits, Steps, in_daemon_thread, stops

LOW_DISK_BYTES = 100 * 1024 * 1024


def _sqlite_probe(path: Path) -> str:
    if not path.exists():
        return f"not created yet: {_creatable(path.parent)}"
    with closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=2)) as db:
        tables = db.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
    return f"{path} readable, {tables} tables"


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _creatable(folder: Path) -> str:
    parent = _nearest_existing(folder)
    if not os.access(parent, os.W_OK):
        raise PermissionError(13, f"Permission denied: {parent} is not writable", str(parent))
    return f"{folder} will be created (under writable {parent})"


async def check_sqlite(name: str, path: Path, limits: Limits) -> DependencyReport:
    report = DependencyReport(name, True, str(path), version=f"SQLite {sqlite3.sqlite_version}")
    steps = Steps(report, "local", limits, address=str(path), vars="ROADMAP_AGENT_HOME")
    with stops():
        await steps.run("file", lambda: in_daemon_thread(lambda: _sqlite_probe(path)), str)
    return report


def _folder_probe(folder: Path) -> tuple[str, int]:
    if not folder.exists():
        return _creatable(folder), shutil.disk_usage(_nearest_existing(folder)).free
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".check-"):
        pass
    return f"{folder} is writable", shutil.disk_usage(folder).free


async def check_local_storage(folder: Path, limits: Limits) -> DependencyReport:
    report = DependencyReport("storage", False, str(folder))
    steps = Steps(report, "local", limits, address=str(folder), vars="ROADMAP_AGENT_ARTIFACTS_DIR")
    with stops():
        await steps.run("folder", lambda: in_daemon_thread(lambda: _folder_probe(folder)),
                        lambda found: f"{found[0]}; {found[1] / 1e9:.1f} GB free",
                        concern=lambda found: None if found[1] >= LOW_DISK_BYTES else
                        ("less than 100 MB free for exported roadmaps", "Free some disk space."))
    return report

