"""The CLI's pure parts: its option types match the domain's, id prefixes resolve like git's, usage errors are
one line, and a task whose process is gone counts as interrupted."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import UTC, datetime
from typing import get_args

import pytest
import typer

from roadmap_agent import cli_learning
from roadmap_agent.cli import ids, tasks
from roadmap_agent.cli.app import app, one_line
from roadmap_agent.cli.common import LanguageChoice, LevelChoice
from roadmap_agent.domain import calendar, models, progress, reviews
from roadmap_agent.store.records import TaskRecord, TaskStatus


def test_the_cli_types_are_the_domains() -> None:
    assert get_args(LanguageChoice) == get_args(models.Language)
    assert get_args(LevelChoice) == get_args(models.Level)
    assert tasks.MAX_GOAL_CHARS == models.MAX_GOAL_CHARS
    assert cli_learning.STATES == progress.STATES and cli_learning.RATINGS == reviews.RATINGS
    assert cli_learning.DEFAULT_DAYS == calendar.DEFAULT_DAYS


def test_a_unique_prefix_names_its_id_and_an_exact_id_wins() -> None:
    known = ["ab12", "ab34", "cd56", "ab"]
    assert ids.match("cd", known, "task") == "cd56"
    assert ids.match("ab", known, "task") == "ab"  # an id that is also a prefix of others
    assert ids.match("zz", known, "task") is None


def test_an_ambiguous_prefix_exits_2_naming_the_candidates(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit) as raised:
        ids.match("ab", ["ab12", "ab34", "cd56"], "task")
    assert raised.value.exit_code == 2
    message = capsys.readouterr().err
    assert "ab12" in message and "ab34" in message and "cd56" not in message
    assert len(message.strip().splitlines()) == 1


def test_a_usage_error_is_one_line() -> None:
    command = typer.main.get_command(app)
    with pytest.raises(Exception) as raised:  # the vendored click's UsageError
        command.main(["generate", "--weeks", "many", "a goal"], prog_name="roadmap-agent", standalone_mode=False)
    line = one_line(raised.value)  # type: ignore[arg-type]
    assert line.count("\n") == 1 and line.startswith("roadmap-agent generate: ") and "--weeks" in line


def _task(status: TaskStatus, worker: str | None) -> TaskRecord:
    now = datetime.now(UTC)
    return TaskRecord(task_id="t" * 32, owner="local", status=status, request={"goal": "g"}, worker=worker,
                      created_at=now, updated_at=now)


def test_a_running_task_whose_process_is_gone_is_interrupted() -> None:
    host = socket.gethostname()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    dead = f"cli:{host}:{int(gone.stdout)}"
    assert ids.interrupted(_task(TaskStatus.RUNNING, dead), queued=False)
    assert not ids.interrupted(_task(TaskStatus.RUNNING, f"cli:{host}:{os.getpid()}"), queued=False)
    assert not ids.interrupted(_task(TaskStatus.RUNNING, "worker:elsewhere:1"), queued=True)  # can't tell
    assert not ids.interrupted(_task(TaskStatus.COMPLETED, dead), queued=False)
    assert ids.interrupted(_task(TaskStatus.RUNNING, None), queued=False)
    assert not ids.interrupted(_task(TaskStatus.PENDING, None), queued=True)  # waiting in the queue
