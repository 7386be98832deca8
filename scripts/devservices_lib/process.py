"""Processes and ports: free ports, liveness read from /proc, signals sent to recorded PIDs only, bounded
waits, and commands run to completion with their output in the error."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

LOCALHOST = "127.0.0.1"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((LOCALHOST, 0))
        return int(sock.getsockname()[1])


def _port_is_free(port: int) -> bool:
    """Could a server listen on ``port``? SO_REUSEADDR, as servers set it: TIME_WAIT leftovers do not count."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOCALHOST, port))
        except OSError:
            return False
        return True


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a process, or None if there is none. The name may hold spaces: split after ')'."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[0], int(fields[1])


def alive(pid: int | None, name: str | None = None) -> bool:
    """True if ``pid`` runs (a zombie does not) and, if given, its command line mentions ``name``."""
    if not pid:
        return False
    stat = _stat(pid)
    if stat is None or stat[0] in "ZX":
        return False
    if name is None:
        return True
    with contextlib.suppress(OSError):
        return name in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    return False


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, grandchildren ...), found through the ppid in /proc/*/stat."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            parents.setdefault(stat[1], []).append(int(entry.name))
    found: list[int] = []
    queue = [pid]
    while queue:
        children = parents.get(queue.pop(), [])
        found.extend(children)
        queue.extend(children)
    return found


def _working_in(directory: Path) -> list[int]:
    """Live processes whose current directory is ``directory``."""
    target = str(directory.resolve())
    found = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if entry.name.isdigit() and os.readlink(entry / "cwd") == target and alive(int(entry.name)):
                found.append(int(entry.name))
    return found


def _signal(pids: Sequence[int], sig: signal.Signals) -> None:
    for pid in pids:
        if pid > 1:  # never 0 or -1: those would signal our own process group, or everything
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)


def _wait_for(check: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Poll ``check`` until it is true or ``timeout`` seconds passed; the last answer."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
    return True


def _tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return f"(no log at {path})"
    return f"last lines of {path}:\n" + "\n".join(f"    {line}" for line in text)


def _run(command: Sequence[str | Path], what: str, timeout: float = 60, **kwargs: Any) -> str:
    """Run a command to completion; RuntimeError with its output if it fails or takes longer than ``timeout``.
    Messages name ``what``, never the argv, which may hold a password (redis-server --requirepass)."""
    argv = [str(part) for part in command]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False, **kwargs)  # noqa: S603 - fixed argv built here, no shell
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"{what}: did not finish within {timeout:.0f} s") from exc
    except FileNotFoundError as exc:
        raise RuntimeError(f"{what}: {argv[0]} not found. Run `python3 scripts/devservices.py install`.") from exc
    if done.returncode != 0:
        output = (done.stderr or done.stdout).strip()
        raise RuntimeError(f"{what}: exit status {done.returncode}: {output}")
    return str(done.stdout)


def _is_root() -> bool:
    return os.geteuid() == 0


def _which(program: str) -> str | None:
    for directory in ("/usr/sbin", "/sbin", "/usr/bin"):
        if os.access(f"{directory}/{program}", os.X_OK):
            return f"{directory}/{program}"
    return shutil.which(program)
