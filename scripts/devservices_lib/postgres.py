"""PostgreSQL 15 under a root folder: initdb on first start, the ``roadmap`` role and database, pg_ctl as the
postgres user when run as root."""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
from pathlib import Path
from urllib.parse import quote

from .base import _Server
from .install import pg_bin_dir
from .process import LOCALHOST, START_TIMEOUT, STOP_TIMEOUT, _is_root, _run, _signal, _wait_for, _working_in, alive

# psql script run on every PostgreSQL start: the role (password refreshed) and its database, made if missing.
BOOTSTRAP_SQL = """\
SELECT 'CREATE ROLE {user}' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{user}') \\gexec
ALTER ROLE {user} WITH LOGIN CREATEDB PASSWORD {password};
SELECT 'CREATE DATABASE {database} OWNER {user}'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '{database}') \\gexec
"""


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
