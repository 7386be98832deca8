"""A log line that cannot be written is dropped and counted, never raised into the code that logged it."""

from __future__ import annotations

import errno
import io

import pytest

from roadmap_agent.logging import configure_logging, dropped_log_lines, get_logger


class FullDisk(io.StringIO):
    def write(self, s: str) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")


def test_a_log_line_on_a_full_disk_is_dropped_and_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stderr", FullDisk())
    configure_logging("INFO", "json")
    before = dropped_log_lines()
    get_logger("test").error("final_state_not_saved", task_id="t1")  # raised OSError before the fix
    get_logger("test").info("another")
    assert dropped_log_lines() == before + 2


def test_a_writable_stderr_gets_the_line(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr("sys.stderr", out)
    configure_logging("INFO", "json")
    before = dropped_log_lines()
    get_logger("test").info("written", n=1)
    assert '"event": "written"' in out.getvalue()
    assert dropped_log_lines() == before
