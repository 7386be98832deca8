"""Redis 7 under a root folder: daemonized, append-only file, optional password; PING over a raw socket."""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path
from urllib.parse import quote

from .base import _Server, _stop_pid
from .process import START_TIMEOUT, _run, _wait_for, _which, alive


def _resp(*words: str) -> bytes:
    return f"*{len(words)}\r\n".encode() + b"".join(
        f"${len(word.encode())}\r\n".encode() + word.encode() + b"\r\n" for word in words)


class RedisServer(_Server):
    """Redis 7 with an append-only file, so a key written before kill() is there after start()."""

    name = "redis"
    process_name = "redis-server"

    def __init__(self, root: Path, port: int | None = None, password: str | None = None) -> None:
        super().__init__(root, port)
        self.password = password
        self.pidfile = self.root / "redis.pid"
        with contextlib.suppress(OSError, ValueError):
            pid = int(self.pidfile.read_text().strip())
            self.pid = pid if alive(pid, self.process_name) else None

    @property
    def url(self) -> str:
        auth = f":{quote(self.password, safe='')}@" if self.password else ""
        return f"redis://{auth}{self.host}:{self.port}/0"

    def ping(self, timeout: float = 1.0) -> bool:
        """PING over a raw socket (AUTH first if there is a password); True on +PONG."""
        request = (_resp("AUTH", self.password) if self.password else b"") + _resp("PING")
        try:
            with socket.create_connection((self.host, self.port), timeout=timeout) as conn:
                conn.sendall(request)
                reply = b""
                while b"PONG" not in reply and b"-" not in reply and len(reply) < 512:
                    chunk = conn.recv(512)
                    if not chunk:
                        break
                    reply += chunk
        except OSError:
            return False
        return b"+PONG" in reply

    def start(self) -> None:
        """Start daemonized, wait for PING to answer PONG (bounded)."""
        if self.is_running():
            return
        self._timed_start(self._start)

    def _start(self) -> None:
        binary = _which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server not found. Run `python3 scripts/devservices.py install`.")
        self.root.mkdir(parents=True, exist_ok=True)
        self.pidfile.unlink(missing_ok=True)
        command = [binary, "--bind", self.host, "--port", str(self.port), "--daemonize", "yes",
                   "--pidfile", str(self.pidfile), "--logfile", str(self.log_path), "--dir", str(self.root),
                   "--appendonly", "yes", "--maxmemory", "256mb", "--maxmemory-policy", "allkeys-lru",
                   "--save", ""]  # the AOF is the durability; no RDB snapshot that could block a SIGTERM
        if self.password:
            command += ["--requirepass", self.password]
        log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        try:
            _run(command, "redis-server", timeout=10)
        except RuntimeError as exc:
            raise self._fail(f"did not start ({exc})") from exc
        # The daemonized child writes its pidfile only once it listens; if it cannot, its log says "aborting".
        if not _wait_for(lambda: self._read_pidfile() or self._aborted(log_offset), timeout=10) \
                or not self.is_running():
            raise self._fail(f"no live PID in {self.pidfile}")
        if not _wait_for(lambda: self.ping() or not self.is_running(), timeout=START_TIMEOUT, interval=0.02) \
                or not self.is_running():
            raise self._fail(f"did not answer PING within {START_TIMEOUT:.0f} s")

    def _aborted(self, log_offset: int) -> bool:
        with contextlib.suppress(OSError), self.log_path.open("rb") as log:
            log.seek(log_offset)
            return b"aborting" in log.read() and not self.is_running()
        return False

    def _read_pidfile(self) -> bool:
        with contextlib.suppress(OSError, ValueError):
            self.pid = int(self.pidfile.read_text().strip())
        return self.is_running()

    def stop(self) -> None:
        """SIGTERM (Redis flushes the AOF and exits) and wait; SIGKILL if it takes longer than STOP_TIMEOUT."""
        if not self.is_running():
            self.pid = None
            return
        _stop_pid(self, self.pid)
