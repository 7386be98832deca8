"""Ids as people type them: a unique prefix names a task or a roadmap (like git's abbreviated hashes), and a
task whose process died shows as interrupted, not running.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING

from roadmap_agent.cli.common import EXIT_USAGE, fail

if TYPE_CHECKING:
    from roadmap_agent.store.records import TaskRecord
    from roadmap_agent.store.repository import TaskStore

PAGE = 500
SHOWN_CANDIDATES = 5
ROADMAP_PREFIX = "rm-"
Page = Callable[[int, int], Awaitable[list[str]]]  # (limit, offset) -> ids, newest first


def _message(key: str, language: str = "en", **values: object) -> str:
    from roadmap_agent.domain.messages import text

    return text(key, "zh" if language == "zh" else "en", **values)


def match(given: str, ids: Iterable[str], kind: str) -> str | None:
    """The one id ``given`` names (itself, or the only id it starts); exit 2 naming the candidates if several."""
    candidates = [i for i in dict.fromkeys(ids) if i.startswith(given)]
    if given in candidates:
        return given
    if len(candidates) > 1:
        shown = ", ".join(candidates[:SHOWN_CANDIDATES]) + (", ..." if len(candidates) > SHOWN_CANDIDATES else "")
        raise fail(_message("cli.ambiguous", kind=kind, given=given, count=len(candidates), candidates=shown),
                   EXIT_USAGE)
    return candidates[0] if candidates else None


async def _resolve(given: str, page: Page, kind: str) -> str | None:
    ids: list[str] = []
    offset = 0
    while batch := await page(PAGE, offset):
        ids += batch
        offset += len(batch)
        if len(batch) < PAGE:
            break
    return match(given, ids, kind)


async def task_id(store: TaskStore, owner: str, given: str) -> str:
    """The full id of ``owner``'s task ``given`` (a full id or a unique prefix); TaskNotFound otherwise."""
    from roadmap_agent.errors import NotFound

    given = given.strip()

    async def page(limit: int, offset: int) -> list[str]:
        return [t.task_id for t in (await store.list_tasks(owner, limit, offset))[0]]

    found = await _resolve(given, page, "task") if given else None
    if found is None:
        raise NotFound(_message("cli.no_such_task", given=given))
    return found


async def roadmap_id(page: Page, given: str) -> str:
    """The full id of a final roadmap from a unique prefix, with or without ``rm-``."""
    from roadmap_agent.errors import RoadmapNotFound

    given = given.strip()
    wanted = given if given.startswith(ROADMAP_PREFIX) or not given else ROADMAP_PREFIX + given
    found = await _resolve(wanted, page, "roadmap") if given else None
    if found is None:
        raise RoadmapNotFound(_message("cli.no_such_roadmap", given=given))
    return found


def interrupted(task: TaskRecord, *, queued: bool) -> bool:
    """Running (or pending) on paper, but the process that ran it here is gone (Ctrl-C, kill, crash).

    Only runs this machine started can be checked; in server mode a pending task waits for a worker.
    """
    from roadmap_agent.store.records import TaskStatus

    if task.status not in (TaskStatus.RUNNING, TaskStatus.PENDING):
        return False
    if task.worker is None:
        return task.status == TaskStatus.RUNNING and not queued
    _role, _, rest = task.worker.partition(":")
    host, _, pid = rest.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    return not _alive(int(pid))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True
