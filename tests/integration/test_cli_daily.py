"""The CLI as a daily tool (real subprocesses): it starts without the workflow stack, lists, cancels and takes
id prefixes, pipes cleanly (exports byte for byte, no colour, no wrapping), says where a roadmap was saved,
reports interrupted tasks and clamped goals honestly, and fails usage in one line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_cli import CLI, _env, _run, _wait_for_event

pytestmark = pytest.mark.integration
HEAVY = ("langgraph", "sqlalchemy", "openai", "pydantic", "rich", "roadmap_agent.services", "asyncio")
ORDER = ["generate", "list", "show", "status", "progress", "mark", "reviews", "review", "resume", "retry",
         "cancel", "replan", "roadmaps", "calendar", "serve", "worker", "check", "migrate", "users"]


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["generate", "--help"]])
def test_help_and_version_import_nothing_heavy(isolated_home: Path, args: list[str]) -> None:
    # typer 0.2x itself converts a command's parameters with pydantic once that command is parsed
    heavy = [m for m in HEAVY if not (m == "pydantic" and args[0] != "--help" and args[0] != "--version")]
    probe = ("import sys\nsys.argv = ['roadmap-agent', *sys.argv[1:]]\nfrom roadmap_agent.cli import main\n"
             "try:\n    main()\nexcept SystemExit as exc:\n    code = exc.code\n"
             f"print('HEAVY', [m for m in {heavy!r} if m in sys.modules], code, file=sys.stderr)\n")
    result = subprocess.run([sys.executable, "-c", probe, *args], env=_env(isolated_home), capture_output=True,
                            text=True, timeout=30, check=False)
    assert "HEAVY [] 0" in result.stderr, result.stderr


def test_help_lists_commands_by_use_each_in_one_line_with_exit_codes(isolated_home: Path) -> None:
    shown = _run(isolated_home, "--help").stdout
    listed = [line.split()[0] for line in shown.split("Commands:")[1].splitlines() if line.startswith("  ")
              and not line.startswith("   ") and line.split()[0] in ORDER]
    assert listed == ORDER
    assert "..." not in shown.split("Commands:")[1]  # no summary cut short
    assert "0 ok, 1 failed, 2 usage, 3 out of scope, 130 interrupted" in shown
    assert "--install-completion" in shown and "--version" in shown
    generate = _run(isolated_home, "generate", "--help").stdout
    assert "<bool>" not in generate and "{goal}" not in generate.lower() and "--known SKILL" in generate
    assert "GOAL" in generate.splitlines()[0]
    assert _run(isolated_home, "--version").stdout.startswith("roadmap-agent ")


def test_shell_completion_completes_commands(isolated_home: Path) -> None:
    result = subprocess.run([CLI], env=_env(isolated_home, _ROADMAP_AGENT_COMPLETE="complete_bash",
                                            COMP_WORDS="roadmap-agent gen", COMP_CWORD="1"),
                            capture_output=True, text=True, timeout=30, check=False)
    assert "generate" in result.stdout


@pytest.mark.parametrize("args", [["generate", "--weeks", "many", "learn SQL"], ["generate"], ["nope"],
                                  ["generate", "learn SQL", "--level", "expert"]])
def test_usage_errors_are_one_line_and_exit_2(isolated_home: Path, args: list[str]) -> None:
    result = _run(isolated_home, *args)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith("roadmap-agent") and "--help" in result.stderr and "╭" not in result.stderr


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("daily") / "home"


@pytest.fixture(scope="module")
def made(home: Path) -> dict[str, object]:
    result = _run(home, "generate", "learn SQL, 1000 hours a week", "--auto-approve", "--json", "--known", "git",
                  "--known", "linux")
    assert result.returncode == 0, result.stderr
    payload: dict[str, object] = json.loads(result.stdout)
    payload["stderr"] = result.stderr
    return payload


# Drivers and server parts the embedded default (SQLite, in-process, offline planner) has no use for, and
# Alembic once the schema is current: each costs a tenth of a second or more at every start.
UNUSED_HERE = ("psycopg", "psycopg_pool", "redis", "boto3", "botocore", "openai", "procrastinate", "alembic",
               "fastapi", "uvicorn")


def _imported(home: Path, *args: str) -> tuple[list[str], list[str]]:
    """(modules imported before ``generate``'s task line -- all of them for other commands --, after it)."""
    run = "import sys\nsys.argv = ['roadmap-agent', *sys.argv[1:]]\nfrom roadmap_agent.cli import main\nmain()\n"
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", run, *args], env=_env(home),
                            capture_output=True, text=True, timeout=90, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    parts: list[list[str]] = [[]]
    for line in result.stderr.splitlines():
        if line.startswith("task "):
            parts.append([])
        elif line.startswith("import time:") and not line.endswith("imported package"):
            parts[-1].append(line.rsplit("|", 1)[1].strip())
    return parts[0], [m for part in parts[1:] for m in part]


def test_the_embedded_default_imports_no_driver_it_does_not_use(isolated_home: Path) -> None:
    first = _run(isolated_home, "generate", "learn SQL", "--auto-approve", "--json")  # creates the schema
    assert first.returncode == 0, first.stderr
    status, _ = _imported(isolated_home, "status", json.loads(first.stdout)["task_id"])
    before, after = _imported(isolated_home, "generate", "learn Git", "--auto-approve", "--json")
    assert [m for m in status + before + after if m.split(".")[0] in UNUSED_HERE] == []
    # the task is durable and its id printed before the workflow stack (LangGraph: most of the start-up) loads
    for light in (status, before):
        assert "sqlalchemy" in light and not [m for m in light if m.startswith(("langgraph", "langchain"))]
    assert "langgraph" in after


def test_generate_takes_known_skills_warns_of_clamping_and_says_where_it_saved(home: Path,
                                                                               made: dict[str, object]) -> None:
    intent, task_id = made["intent"], str(made["task_id"])
    assert isinstance(intent, dict)
    assert {"git", "linux"} & {s.split(".")[0] for s in intent["known_skills"]}
    assert intent["hours_per_week"] == 80
    assert intent["clamped"] == ["80 h/week is the most a plan will assume; you asked 1000."]
    lines = str(made["stderr"]).strip().splitlines()
    assert "80 h/week is the most a plan will assume; you asked 1000." in made["stderr"]  # type: ignore[operator]
    assert lines[-1].startswith(f"Saved roadmap rm-{task_id} (task {task_id}) to ") and lines[-1].endswith(".md")


def test_list_shows_tasks_newest_first_and_ids_take_a_unique_prefix(home: Path, made: dict[str, object]) -> None:
    task_id = str(made["task_id"])
    listed = json.loads(_run(home, "list", "--json").stdout)
    assert listed[0]["task_id"] == task_id and listed[0]["status"] == "completed"
    table = _run(home, "list").stdout
    assert task_id[:12] in table and "completed" in table and "learn SQL" in table
    status = _run(home, "status", task_id[:6])
    assert status.returncode == 0 and json.loads(status.stdout)["task_id"] == task_id
    missing = _run(home, "status", "zzzz")
    assert missing.returncode == 1 and "roadmap-agent list" in missing.stderr


def test_an_ambiguous_prefix_lists_the_candidates(home: Path, made: dict[str, object]) -> None:
    second = json.loads(_run(home, "generate", "learn Git", "--auto-approve", "--json").stdout)["task_id"]
    first = str(made["task_id"])
    result = _run(home, "progress", "rm-")  # a prefix of every roadmap id
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert f"rm-{first}" in result.stderr and f"rm-{second}" in result.stderr
    assert _run(home, "progress", first[:10]).returncode == 0  # a task's prefix names its roadmap


def test_show_in_a_pipe_is_the_export_byte_for_byte(home: Path, made: dict[str, object]) -> None:
    task_id = str(made["task_id"])
    exported = home / "artifacts" / "roadmaps" / f"rm-{task_id}"
    markdown = subprocess.run([CLI, "show", task_id, "--markdown"], env=_env(home), capture_output=True,
                              timeout=60, check=True).stdout
    assert markdown == exported.with_suffix(".md").read_bytes()
    as_json = subprocess.run([CLI, "show", task_id, "--json"], env=_env(home), capture_output=True, timeout=60,
                             check=True).stdout
    assert as_json == exported.with_suffix(".json").read_bytes() + b"\n"
    tree = _run(home, "show", task_id).stdout
    assert "\x1b[" not in tree and "↳ " in tree and "https://" in tree  # first resources, no colour
    longest = max(len(line) for line in tree.splitlines())
    assert longest > 120  # a pipe gets whole lines, not 80 columns
    assert tree.count("↳ ") < _run(home, "show", task_id, "--resources").stdout.count("↳ ")


def test_an_interrupted_task_shows_as_interrupted_and_cancel_ends_it(isolated_home: Path) -> None:
    process = subprocess.Popen([CLI, "generate", "learn SQL", "--auto-approve", "--json"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=_env(isolated_home, ROADMAP_AGENT_STEP_DELAY="0.7"))
    try:
        task_id = _wait_for_event(isolated_home, "curriculum_design", "started")
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()
    time.sleep(0.1)
    status = json.loads(_run(isolated_home, "status", task_id).stdout)
    assert status["status"] == "interrupted" and status["resumable"] is True
    assert status["resume_with"] == f"roadmap-agent resume {task_id}"
    assert json.loads(_run(isolated_home, "list", "--json").stdout)[0]["status"] == "interrupted"
    cancelled = _run(isolated_home, "cancel", task_id[:8])
    assert cancelled.returncode == 0 and f"Cancelled task {task_id}" in cancelled.stderr
    assert json.loads(_run(isolated_home, "status", task_id).stdout)["status"] == "cancelled"
    assert _run(isolated_home, "cancel", task_id).returncode == 0  # idempotent


def _on_pty(home: Path, args: list[str], **extra: str) -> str:
    """Everything ``roadmap-agent ARGS`` writes to a 100-column terminal, escape sequences included."""
    import fcntl
    import select
    import struct
    import termios

    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 100, 0, 0))
    env = {**_env(home), "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    env.update(extra)
    process = subprocess.Popen([CLI, *args], stdin=slave, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    output = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
        elif process.poll() is not None:
            break
    process.wait(timeout=10)
    os.close(master)
    return output.decode("utf-8", errors="replace")


def _colours(output: str) -> list[str]:
    """The SGR parameters that set a colour (30-38, 40-48, 90-107), from every escape in ``output``."""
    import re

    found = []
    for params in re.findall(r"\x1b\[([0-9;]*)m", output):
        found += [p for p in params.split(";") if p.isdigit() and (30 <= int(p) <= 48 or 90 <= int(p) <= 107)]
    return found


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pty")
def test_colour_and_wrapping_only_on_a_terminal(home: Path, made: dict[str, object]) -> None:
    task_id = str(made["task_id"])
    terminal = _on_pty(home, ["show", task_id])
    assert _colours(terminal), "a terminal gets colour"
    plain = [line for line in terminal.replace("\r", "").splitlines() if "\x1b" not in line]
    assert all(len(line) <= 100 for line in plain)  # wrapped to the terminal's width
    assert not _colours(_on_pty(home, ["show", task_id], NO_COLOR="1")), "NO_COLOR means no colour"
    piped = _run(home, "show", task_id).stdout
    assert "\x1b[" not in piped and max(len(line) for line in piped.splitlines()) > 100
