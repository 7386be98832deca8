"""The review in a real terminal (a pty the CLI has as its controlling terminal): what changed comes first,
the whole roadmap only on request, `no` asks what to change, and Ctrl-C at the prompt exits at once with
the resume hint, leaving a task that `resume` brings back to the prompt."""

from __future__ import annotations

import fcntl
import os
import re
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

CLI = str(Path(sys.executable).parent / "roadmap-agent")
GOAL = "I want to become a backend developer in 3 months, I know some Python, 10 hours a week"
PROMPT = "Approve this roadmap?"
ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r")

pytestmark = [pytest.mark.integration, pytest.mark.skipif(sys.platform == "win32", reason="needs a pty")]


class Terminal:
    """The CLI on a pty: ``expect`` reads its output until a text shows, ``type`` sends keys."""

    def __init__(self, home: Path, *args: str) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 160, 0, 0))
        env = {**os.environ, "ROADMAP_AGENT_HOME": str(home), "NO_COLOR": "1", "TERM": "xterm"}

        def controlling_terminal() -> None:  # a session of its own with the pty, as a terminal gives
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)
            signal.signal(signal.SIGINT, signal.SIG_DFL)

        self.process = subprocess.Popen([CLI, *args], stdin=slave, stdout=slave, stderr=slave, env=env,
                                        start_new_session=True, preexec_fn=controlling_terminal)
        os.close(slave)
        self.output = ""

    def _read(self, timeout: float) -> bool:
        import select

        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return True
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # the other side closed: the process ended
            return False
        self.output += ESCAPES.sub("", chunk.decode("utf-8", errors="replace"))
        return bool(chunk)

    def expect(self, text: str, timeout: float = 60, after: int = 0) -> int:
        """Read until ``text`` shows after position ``after``; its position."""
        deadline = time.monotonic() + timeout
        while (found := self.output.find(text, after)) < 0:
            if time.monotonic() > deadline or not self._read(0.2):
                if (found := self.output.find(text, after)) >= 0:
                    break
                raise AssertionError(f"{text!r} not shown within {timeout}s; the terminal shows:\n"
                                     + self.output[-3000:])
        return found

    def type(self, keys: str | bytes) -> None:
        os.write(self.master, keys if isinstance(keys, bytes) else keys.encode())

    def wait(self, timeout: float = 20) -> int:
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            self._read(0.1)
        return self.process.wait(timeout=1)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        os.close(self.master)


def test_review_shows_the_diff_first_and_the_roadmap_on_request(isolated_home: Path) -> None:
    terminal = Terminal(isolated_home, "generate", GOAL)
    try:
        first = terminal.expect(PROMPT)
        assert "Weekly schedule" not in terminal.output  # an overview, not the whole roadmap
        assert "Press f at the prompt" in terminal.output[:first]
        terminal.type("skip Docker\n")
        second = terminal.expect(PROMPT, after=first + 1)
        review = terminal.output[first:second]
        changes = review.index("What changed")
        assert changes < review.index("roadmap (")  # what changed, then the overview of the roadmap
        assert "Skipped" in review[changes:] and "Removed: " in review[changes:]
        assert re.search(r"Hours [\d.]+ → [\d.]+, weeks \d+ → \d+", review)
        assert "Review round 2 (at most 10)" in review and "Weekly schedule" not in review
        terminal.type("f\n")
        full = terminal.expect("Weekly schedule", after=second)
        terminal.expect(PROMPT, after=full)
        terminal.type("\n")  # Enter approves
        assert terminal.wait() == 0
        assert "Roadmap ready" in terminal.output
    finally:
        terminal.close()


def test_no_asks_what_to_change_and_ctrl_c_exits_at_once_leaving_it_resumable(isolated_home: Path) -> None:
    terminal = Terminal(isolated_home, "generate", GOAL)
    try:
        first = terminal.expect(PROMPT)
        task_id = re.search(r"task ([0-9a-f]{32})", terminal.output)
        assert task_id is not None
        terminal.type("no\n")
        terminal.expect("What should change?", after=first)
        assert "Review round 2" not in terminal.output  # "no" was not applied as feedback
        pressed = time.monotonic()
        terminal.type(b"\x03")  # Ctrl-C, through the terminal's line discipline
        assert terminal.wait(timeout=10) == 130
        assert time.monotonic() - pressed < 5  # at once, not at the next Enter
        assert f"Resume with: roadmap-agent resume {task_id[1]}" in terminal.output
    finally:
        terminal.close()

    again = Terminal(isolated_home, "resume", task_id[1])
    try:
        again.expect(PROMPT)
        again.type("yes\n")
        assert again.wait() == 0 and "Roadmap ready" in again.output
    finally:
        again.close()
