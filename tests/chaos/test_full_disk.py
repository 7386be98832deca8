"""Finding 6: the disk under the embedded data folder fills up during a run (a real 24 MB tmpfs).

Before: the task stayed ``running`` forever, no final event, retry answered 409 and readiness said ok. Now:
readiness shows the disk down at once, the run's outcome is saved as soon as there is room again (failed with
the reason, or finished), and retry continues a failed run to the end.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from serving import serve

pytestmark = [pytest.mark.chaos, pytest.mark.integration, pytest.mark.slow]
GOAL = "I want to become a backend developer in 3 months, I know some Python, 10 hours a week"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)], capture_output=True,
                          check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(folder: Path) -> Path:
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        with contextlib.suppress(OSError):  # until ENOSPC
            while True:
                os.write(fd, b"\0" * 65536)
    finally:
        os.close(fd)
    return filler


def wait_for(what: str, check: Any, within: float = 60) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"gave up after {within} s waiting for {what}")


def test_a_full_disk_during_a_run_fails_it_clearly_and_retry_finishes_it(small_disk: Path) -> None:
    home = small_disk / "home"
    env = {"ROADMAP_AGENT_STEP_DELAY": "1", "ROADMAP_AGENT_MIN_FREE_MB": "1", "ROADMAP_AGENT_PROBE_INTERVAL": "0.2"}
    with serve(home, env) as api:
        task_id = api.client.post("/api/v1/roadmaps", json={"goal": GOAL, "auto_approve": True}).json()["task_id"]
        filler = fill(small_disk)
        ready = wait_for("readiness to show the disk", lambda: (r := api.client.get("/health/ready")).status_code
                         == 503 and r)
        assert ready.json()["dependencies"]["disk"]["status"] == "down"
        public = api.client.get("/health/ready", headers={"Authorization": ""})
        assert public.json()["dependencies"]["disk"] == {"status": "down"}
        assert str(small_disk) not in public.text  # public readiness names no server path
        time.sleep(6)  # the run hits the full disk
        filler.unlink()
        task = wait_for("the run's outcome to be saved", lambda: (t := api.client.get(
            f"/api/v1/tasks/{task_id}").json())["status"] in ("failed", "completed") and t)
        if task["status"] == "failed":
            assert "full" in task["error"], task["error"]
            assert api.client.post(f"/api/v1/tasks/{task_id}/retry").status_code == 202
            task = wait_for("the retried run to finish", lambda: (t := api.client.get(
                f"/api/v1/tasks/{task_id}").json())["status"] == "completed" and t)
        events = api.client.get(f"/api/v1/tasks/{task_id}/events").text  # ends at the first terminal event
        assert ("event: failed" in events and "full" in events) or "event: completed" in events, events[-800:]
        assert wait_for("readiness to recover", lambda: api.client.get("/health/ready").status_code == 200)
