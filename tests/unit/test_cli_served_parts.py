"""The pieces that let the CLI hand ``generate`` to a running ``serve`` before it loads pydantic: the server file,
finding the server (embedded only, with a key), and event lines from plain fields."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from roadmap_agent import server_file
from roadmap_agent.cli import remote
from roadmap_agent.event_lines import TERMINAL_KINDS, event_line
from roadmap_agent.settings import Settings
from roadmap_agent.store.records import TERMINAL_EVENTS, Event, EventType
from roadmap_agent.store.users import KEY_FILE_NAME
from roadmap_agent.terminal import progress_line


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_the_server_file_is_owner_only_and_names_a_live_process(tmp_path: Path) -> None:
    path = server_file.announce(tmp_path, "http://127.0.0.1:8000")
    assert path.stat().st_mode & 0o777 == 0o600
    assert server_file.read(path) == server_file.ServerInfo("http://127.0.0.1:8000", os.getpid())
    assert server_file.running(tmp_path) is None  # our own: a process never hands work to itself
    path.write_text(json.dumps({"url": "http://127.0.0.1:8000", "pid": _dead_pid()}))
    assert server_file.running(tmp_path) is None
    path.write_text(json.dumps({"url": "http://127.0.0.1:8000", "pid": os.getppid()}))
    assert server_file.running(tmp_path) == server_file.ServerInfo("http://127.0.0.1:8000", os.getppid())
    for junk in ("", "{", "[]", '{"url": "ftp://x", "pid": 1}', '{"url": "http://x", "pid": "1"}'):
        path.write_text(junk)
        assert server_file.read(path) is None, junk


def test_withdraw_removes_only_the_file_this_process_wrote(tmp_path: Path) -> None:
    path = tmp_path / server_file.FILE_NAME
    path.write_text(json.dumps({"url": "http://127.0.0.1:8001", "pid": os.getppid()}))  # another serve's
    server_file.withdraw(tmp_path)
    assert path.exists()
    server_file.announce(tmp_path, "http://127.0.0.1:8002")
    server_file.withdraw(tmp_path)
    assert not path.exists()


@pytest.mark.parametrize(("bind", "url"), [("0.0.0.0", "http://127.0.0.1:80"), ("::", "http://[::1]:80"),  # noqa: S104
                                           ("127.0.0.1", "http://127.0.0.1:80"), ("::1", "http://[::1]:80")])
def test_a_wildcard_bind_is_reached_on_loopback(bind: str, url: str) -> None:
    assert server_file.connect_url(bind, 80) == url


def test_the_default_home_and_key_file_are_the_settings_own(isolated_home: Path) -> None:
    assert Settings.model_fields["home"].default == server_file.DEFAULT_HOME
    assert Settings.load(env_file=None).api_key_file().name == KEY_FILE_NAME == remote.KEY_FILE_NAME


def _announced(home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / server_file.FILE_NAME).write_text(json.dumps({"url": "http://127.0.0.1:8003", "pid": os.getppid()}))


def test_find_uses_the_local_key_or_the_configured_one(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _announced(isolated_home)
    assert remote.find() is None  # no key yet: nothing to authenticate with
    (isolated_home / KEY_FILE_NAME).write_text("local-key\n")
    assert remote.find() == remote.Server("http://127.0.0.1:8003", os.getppid(), "local-key")
    monkeypatch.setenv("ROADMAP_AGENT_API_KEY", "user-key")
    found = remote.find()
    assert found is not None and found.key == "user-key"


@pytest.mark.parametrize("source", ["env", ".env"])
@pytest.mark.parametrize("name", ["DATABASE_URL", "POSTGRES_HOST", "database_url"])
def test_server_mode_keeps_the_cli_in_process(isolated_home: Path, monkeypatch: pytest.MonkeyPatch, source: str,
                                              name: str) -> None:
    _announced(isolated_home)
    (isolated_home / KEY_FILE_NAME).write_text("local-key\n")
    assert remote.find() is not None
    if source == "env":
        monkeypatch.setenv(name, "postgresql://db/x")
    else:
        Path(".env").write_text(f"{name}=postgresql://db/x\n")  # the test's working directory (conftest)
    assert remote.find() is None


def test_a_home_given_in_dot_env_is_the_one_looked_in(isolated_home: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / "other-home"
    _announced(other)
    (other / KEY_FILE_NAME).write_text("k\n")
    monkeypatch.delenv("ROADMAP_AGENT_HOME")
    Path(".env").write_text(f"ROADMAP_AGENT_HOME={other}\n")
    found = remote.find()
    assert found is not None and found.url == "http://127.0.0.1:8003"


def test_event_lines_know_the_event_types() -> None:
    assert TERMINAL_KINDS == {kind.value for kind in TERMINAL_EVENTS}
    for kind in EventType:
        event = Event(task_id="t", seq=1, type=kind, step="intent_analysis", status="completed", message="done",
                      timestamp="2026-12-02T00:00:00Z")
        assert progress_line(event) == event_line(kind.value, "completed", "intent_analysis", "done", {})
    assert event_line("progress", "started", "intent_analysis", "", {}, "zh") == "[cyan]…[/] 分析你的目标"
    assert event_line("progress_updated", None, None, "x", {}) is None
