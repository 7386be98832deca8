"""The CLI as a user runs it (real subprocesses): generate, review in the terminal, Ctrl-C, crash + resume."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

CLI = str(Path(sys.executable).parent / "roadmap-agent")
GOAL = "I want to become a backend developer in 3 months, I know some Python, 10 hours a week"


def _env(home: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "ROADMAP_AGENT_HOME": str(home), "LOG_FORMAT": "json", **extra}


def _run(home: Path, *args: str, stdin: str | None = None, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], env=_env(home, **extra), input=stdin, capture_output=True, text=True,
                          timeout=90, check=False)


def _events(home: Path) -> list[tuple[str, int, str, str | None, str | None]]:
    with sqlite3.connect(home / "roadmap-agent.db") as db:
        return db.execute("SELECT task_id, seq, type, step, status FROM task_events ORDER BY task_id, seq").fetchall()


def _wait_for_event(home: Path, step: str, status: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (home / "roadmap-agent.db").exists():
            try:
                for task_id, _seq, _type, event_step, event_status in _events(home):
                    if (event_step, event_status) == (step, status):
                        return task_id
            except sqlite3.OperationalError:
                pass  # schema not created yet
        time.sleep(0.05)
    raise AssertionError(f"no {step} {status} event within {timeout}s")


def test_generate_json_prints_only_the_result_on_stdout(isolated_home: Path) -> None:
    started = time.monotonic()
    result = _run(isolated_home, "generate", GOAL, "--auto-approve", "--json")
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    payload: dict[str, Any] = json.loads(result.stdout)
    assert set(payload) >= {"task_id", "intent", "roadmap"}
    assert payload["intent"]["domains"] == ["backend"] and payload["intent"]["hours_per_week"] == 10
    assert payload["roadmap"]["weeks"] == 13 and payload["roadmap"]["schedule"]
    assert "Analysing your goal" in result.stderr
    assert elapsed < 30


def test_generate_shows_a_readable_tree_and_schedule(isolated_home: Path) -> None:
    result = _run(isolated_home, "generate", "我想三个月内学会 Python 后端开发，每周 10 小时", "--auto-approve")
    assert result.returncode == 0, result.stderr
    assert "学习路线" in result.stdout and "每周安排" in result.stdout


def test_review_in_the_terminal_rejects_then_approves(isolated_home: Path) -> None:
    result = _run(isolated_home, "generate", GOAL, "--json", stdin="skip Docker and make it 8 weeks\ny\n")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    concept_ids = [c["id"] for s in payload["roadmap"]["stages"] for m in s["modules"] for c in m["concepts"]]
    roadmap = payload["roadmap"]
    assert "devops.docker" not in concept_ids
    # re-fitted to 8 weeks, or honest that the core needs longer
    assert roadmap["weeks"] == 8 or (roadmap["requested_weeks"] == 8
                                     and any(w.startswith("Over budget:") for w in roadmap["warnings"]))
    assert "Approve this roadmap?" in result.stderr


def test_status_and_show(isolated_home: Path) -> None:
    task_id = json.loads(_run(isolated_home, "generate", "learn SQL", "--auto-approve", "--json").stdout)["task_id"]
    status = _run(isolated_home, "status", task_id)
    assert status.returncode == 0 and json.loads(status.stdout)["status"] == "completed"
    shown = _run(isolated_home, "show", task_id, "--markdown")
    assert shown.returncode == 0 and shown.stdout.startswith("# ")
    missing = _run(isolated_home, "status", "no-such-task")
    assert missing.returncode == 1 and "No task with id" in missing.stderr and "Traceback" not in missing.stderr


def test_crash_mid_run_resumes_from_the_checkpoint_in_a_new_process(isolated_home: Path) -> None:
    process = subprocess.Popen([CLI, "generate", GOAL, "--auto-approve", "--json"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=_env(isolated_home, ROADMAP_AGENT_STEP_DELAY="0.7"))
    try:
        task_id = _wait_for_event(isolated_home, "structure_validation", "started")
        process.send_signal(signal.SIGKILL)  # a crash: no cleanup, no goodbye
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()
    before = [e for e in _events(isolated_home) if e[0] == task_id]
    assert not any(e[2] == "completed" for e in before)

    result = _run(isolated_home, "resume", task_id, "--auto-approve", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["roadmap"]["id"] == f"rm-{task_id}"
    events = [e for e in _events(isolated_home) if e[0] == task_id]
    assert [e[1] for e in events] == list(range(1, len(events) + 1))
    started = [e[3] for e in events if e[4] == "started"]
    assert started.count("intent_analysis") == 1 and started.count("curriculum_design") == 1  # not redone
    assert any(e[2] == "task_recovering" for e in events) and events[-1][2] == "completed"


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT semantics")
def test_ctrl_c_leaves_a_resumable_task(isolated_home: Path) -> None:
    # A shell's background job starts with SIGINT ignored, and so would the CLI (Python keeps an inherited
    # SIG_IGN): give it the disposition a terminal gives, whatever started this test run.
    process = subprocess.Popen([CLI, "generate", GOAL, "--auto-approve"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True,
                               env=_env(isolated_home, ROADMAP_AGENT_STEP_DELAY="0.7"),
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    task_id = _wait_for_event(isolated_home, "intent_analysis", "completed")
    process.send_signal(signal.SIGINT)
    _out, err = process.communicate(timeout=20)
    assert process.returncode == 130
    assert f"roadmap-agent resume {task_id}" in err
    result = _run(isolated_home, "resume", task_id, "--auto-approve", "--json")
    assert result.returncode == 0 and json.loads(result.stdout)["status"] == "completed"
