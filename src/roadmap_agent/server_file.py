"""``server.json`` in ``ROADMAP_AGENT_HOME``: where the embedded ``serve`` of that home listens, so the CLI can
hand it a ``generate`` instead of loading the whole workflow itself (like ``ollama run`` and ``ollama serve``).

Written by the serving process once its services are open, removed when it stops; a file left by a process
that died is ignored (its pid is gone). Standard library only: the CLI reads it before it imports anything else.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

FILE_NAME = "server.json"
DEFAULT_HOME = Path("~/.roadmap-agent")  # settings.Settings.home's default


@dataclass(frozen=True)
class ServerInfo:
    url: str  # http://127.0.0.1:8000: an address a local client can connect to
    pid: int


def connect_url(bind: str, port: int) -> str:
    """The URL a client on this machine uses for a server bound to ``bind``: a wildcard address is loopback."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(bind, bind)  # noqa: S104 (read, not bound)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def announce(home: Path, url: str) -> Path:
    """Write ``server.json`` for this process (owner-only, atomically: a reader never sees half a file)."""
    path = home.expanduser() / FILE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{FILE_NAME}.{os.getpid()}")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump({"url": url, "pid": os.getpid()}, handle)
    os.replace(partial, path)
    return path


def withdraw(home: Path) -> None:
    """Remove ``server.json`` if this process wrote it (another ``serve`` of the home may have replaced it)."""
    path = home.expanduser() / FILE_NAME
    found = read(path)
    if found is not None and found.pid == os.getpid():
        path.unlink(missing_ok=True)


def read(path: Path) -> ServerInfo | None:
    """The file's contents, or None when it is missing or not ours (any other content)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        url, pid = data["url"], data["pid"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(url, str) or not url.startswith("http://") or not isinstance(pid, int) or pid <= 0:
        return None
    return ServerInfo(url, pid)


def running(home: Path) -> ServerInfo | None:
    """The ``serve`` announced in ``home`` if its process is alive, else None."""
    found = read(home.expanduser() / FILE_NAME)
    if found is None or found.pid == os.getpid():
        return None
    try:
        os.kill(found.pid, 0)  # signal 0: does it exist (and may we signal it)
    except ProcessLookupError:
        return None
    except PermissionError:  # another user's process: alive, but then its key file is not ours either
        pass
    return found
