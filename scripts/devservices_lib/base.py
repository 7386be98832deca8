"""The base class of the three servers (root folder, recorded PID, log, pause/resume/kill by that PID) and the
stop by SIGTERM that Redis and S3 share."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

from .process import LOCALHOST, STOP_TIMEOUT, _signal, _tail, _wait_for, alive, descendants, free_port


class _Server:
    """What the three servers share: a root folder, a recorded PID, a log, and signals sent to that PID only."""

    name = "server"
    process_name = ""
    host = LOCALHOST

    def __init__(self, root: Path, port: int | None) -> None:
        self.root = Path(root)
        self.port = port or free_port()
        self.pid: int | None = None
        self.started_in: float | None = None  # seconds the last start() took
        self.log_path = self.root / f"{self.name}.log"
        self._paused: list[int] = []

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.host}:{self.port} pid={self.pid} root={self.root}>"

    def is_running(self) -> bool:
        return alive(self.pid, self.process_name)

    def _tree(self) -> list[int]:
        """The recorded PID and its descendants, if that PID still is our server."""
        return [self.pid, *descendants(self.pid)] if self.pid and self.is_running() else []

    def pause(self) -> None:
        """SIGSTOP the server (and its children): it keeps its sockets but answers nothing, like a hung host."""
        pid = self.pid
        if pid is None or not self.is_running():
            raise RuntimeError(f"cannot pause {self.name}: not running")
        os.kill(pid, signal.SIGSTOP)  # first, so it cannot fork a child we would miss
        self._paused = self._tree()
        _signal(self._paused, signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT whatever pause() stopped (and the current tree, in case)."""
        _signal(sorted({*self._paused, *self._tree()}), signal.SIGCONT)
        self._paused = []

    def kill(self) -> None:
        """SIGKILL the recorded PID, as a crash would; start() afterwards recovers from the data on disk."""
        pid, running = self.pid, self.is_running()
        self.pid = None
        if pid is None or not running:
            return
        _signal([pid], signal.SIGKILL)
        self._reap(pid, timeout=10)
        self._paused = []

    def _reap(self, pid: int, timeout: float) -> bool:
        return _wait_for(lambda: not alive(pid), timeout)

    def _fail(self, problem: str) -> RuntimeError:
        return RuntimeError(f"{self.name} on {self.host}:{self.port} (root {self.root}): {problem}\n"
                            f"{_tail(self.log_path)}")

    def _timed_start(self, start: Callable[[], None]) -> None:
        began = time.monotonic()
        start()
        self.started_in = time.monotonic() - began


def _stop_pid(server: _Server, pid: int | None) -> None:
    """SIGCONT + SIGTERM one recorded PID, wait, escalate to SIGKILL; RuntimeError if it still runs."""
    if pid is None:
        return
    server.resume()
    _signal([pid], signal.SIGTERM)
    if not server._reap(pid, timeout=STOP_TIMEOUT):
        print(f"devservices: {server.name} (pid {pid}) ignored SIGTERM for {STOP_TIMEOUT:.0f} s; SIGKILL",
              file=sys.stderr)
        _signal([pid], signal.SIGKILL)
        if not server._reap(pid, timeout=5):
            raise server._fail(f"pid {pid} survived SIGKILL")
    server.pid = None
