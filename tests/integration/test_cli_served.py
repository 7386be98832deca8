"""``generate`` with ``serve`` running for the same home (embedded default): the CLI hands the run to the server
over HTTP (cli/remote.py) and loads no workflow, reviews go through the API, ``--local`` still runs here, and a
server that is gone or stops is handled (real processes: ``serve`` and the CLI)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from serving import serve
from test_cli import CLI, _env, _run

from roadmap_agent.server_file import FILE_NAME

pytestmark = pytest.mark.integration
GOAL = "learn Docker in 3 weeks, 5 hours a week"
SERVED = "run by the server at http://127.0.0.1:"
WORKFLOW = ("langgraph", "langchain_core", "sqlalchemy", "aiosqlite")


def _imports(home: Path, *args: str, stdin: str | None = None) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run the CLI under ``-X importtime``: the result (importtime lines removed from stderr), the modules."""
    run = "import sys\nsys.argv = ['roadmap-agent', *sys.argv[1:]]\nfrom roadmap_agent.cli import main\nmain()\n"
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", run, *args], env=_env(home), input=stdin,
                            capture_output=True, text=True, timeout=90, check=False)
    lines = result.stderr.splitlines()
    modules = [line.rsplit("|", 1)[1].strip() for line in lines if line.startswith("import time:")]
    result.stderr = "\n".join(line for line in lines if not line.startswith("import time:"))
    return result, modules


def test_generate_is_run_by_the_serve_of_its_home_without_loading_the_workflow(isolated_home: Path) -> None:
    with serve(isolated_home) as served:
        assert json.loads((isolated_home / FILE_NAME).read_text())["pid"] == served.process.pid
        result, modules = _imports(isolated_home, "generate", GOAL, "--auto-approve", "--json")
        assert result.returncode == 0, result.stderr
        payload = json.loads(result.stdout)
        assert payload["status"] == "completed" and payload["roadmap"]["title"].startswith("Docker")
        assert payload["intent"]["weeks"] == 3
        assert SERVED in result.stderr.splitlines()[0]
        assert "… Analysing your goal" in result.stderr and "Saved roadmap rm-" in result.stderr.splitlines()[-1]
        assert [m for m in modules if m.split(".")[0] in WORKFLOW] == []
        task = served.client.get(f"/api/v1/tasks/{payload['task_id']}").json()  # the server ran it
        assert task["status"] == "completed" and task["intent"]["weeks"] == 3

        local, modules = _imports(isolated_home, "generate", GOAL, "--auto-approve", "--json", "--local")
        assert local.returncode == 0 and SERVED not in local.stderr
        assert "langgraph" in modules
        same = json.loads(local.stdout)
        assert same["roadmap"]["stages"] == payload["roadmap"]["stages"]  # the same plan either way
    assert not (isolated_home / FILE_NAME).exists(), "serve left its server.json behind"


def test_review_in_the_terminal_goes_through_the_server_in_the_learners_language(isolated_home: Path) -> None:
    with serve(isolated_home) as served:
        result = _run(isolated_home, "generate", "我想在三周内学会 Docker，每周 5 小时", stdin="改成 4 周\n好\n")
        assert result.returncode == 0, result.stderr
        assert "由 http://127.0.0.1:" in result.stderr and "第 2 轮审阅" in result.stderr
        assert "改动" in result.stderr and "Review" not in result.stderr  # the change list, in Chinese
        task_id = result.stderr.split("任务 ", 1)[1].split("，", 1)[0]
        task = served.client.get(f"/api/v1/tasks/{task_id}").json()
        assert [d["approved"] for d in task["decisions"]] == [False, True]
        assert task["decisions"][0]["feedback"] == "改成 4 周"
        roadmap = served.client.get(f"/api/v1/roadmaps/{task['roadmap_id']}").json()
        assert roadmap["weeks"] == 4 and roadmap["language"] == "zh"


def test_ctrl_c_leaves_the_task_with_the_server_and_says_how_to_go_on(isolated_home: Path) -> None:
    # A shell's background job (CI) starts with SIGINT ignored, and the CLI would inherit that: restore it.
    with serve(isolated_home) as served, subprocess.Popen(
            [CLI, "generate", GOAL], env=_env(isolated_home), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    ) as process:
        assert process.stderr is not None
        seen = _read_until(process.stderr, "Approve this roadmap?")
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)  # stdin stays open: closing it now would race the signal with an end of input
        rest = process.stderr.read()
        assert process.returncode == 130, seen + rest
        task_id = seen.split("task ", 1)[1].split(",", 1)[0]
        assert f"The server goes on with task {task_id}" in rest and f"roadmap-agent resume {task_id}" in rest
        assert served.client.get(f"/api/v1/tasks/{task_id}").json()["status"] == "human_review_pending"


def test_a_server_that_stops_mid_review_is_said_plainly(isolated_home: Path) -> None:
    with serve(isolated_home) as served:
        process = subprocess.Popen([CLI, "generate", GOAL], env=_env(isolated_home), stdin=subprocess.PIPE,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        assert process.stderr is not None and process.stdin is not None
        seen = _read_until(process.stderr, "Approve this roadmap?")
        served.process.send_signal(signal.SIGTERM)
        served.process.wait(timeout=20)
        rest = process.communicate("y\n", timeout=30)[1]
    assert process.returncode == 1, seen + rest
    task_id = seen.split("task ", 1)[1].split(",", 1)[0]
    assert "stopped answering" in rest and f"roadmap-agent resume {task_id}" in rest and "Traceback" not in rest
    resumed = _run(isolated_home, "resume", task_id, "--auto-approve")  # nothing lost: it finishes here
    assert resumed.returncode == 0, resumed.stderr


def test_a_server_file_left_by_a_dead_process_is_ignored(isolated_home: Path) -> None:
    isolated_home.mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (isolated_home / FILE_NAME).write_text(json.dumps({"url": "http://127.0.0.1:9", "pid": dead.pid}))
    result = _run(isolated_home, "generate", GOAL, "--auto-approve", "--json")
    assert result.returncode == 0, result.stderr
    assert SERVED not in result.stderr and json.loads(result.stdout)["status"] == "completed"


def _read_until(stream: object, marker: str, timeout: float = 60) -> str:
    """Lines of ``stream`` (a text pipe) up to the one holding ``marker``."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = stream.readline()  # type: ignore[attr-defined]
        if not line:
            break
        seen.append(line)
        if marker in line:
            return "".join(seen)
    raise AssertionError(f"no {marker!r} in:\n{''.join(seen)}")
