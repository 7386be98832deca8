"""How fast the CLI starts: median wall time of ``--help``, ``--version``, ``status ID`` and ``generate GOAL
--auto-approve --json`` up to its first progress line, each as a ratio to ``python -c "import typer"`` measured
in the same run (the least any Typer CLI can cost). Targets (issue 17): ``--help`` within 2x, ``generate``
start-up within 4x.

Each command runs as a subprocess of the installed entry point, on a throwaway ``ROADMAP_AGENT_HOME`` (embedded
default, offline planner); ``generate`` is timed until stderr shows the first step line ("… Analysing your goal")
and then left to finish, so the next run starts clean. Also prints the time to generate's first stderr line
(``task ID``: the task is durable) and to its end.

Then the same ``generate`` with ``roadmap-agent serve`` running for that home (started here, on a free port, and
stopped by its pid at the end): the CLI hands the run to the server over HTTP (cli/remote.py) and loads no
workflow; ``generate --local`` beside it is the in-process run measured in the same conditions.

    .venv/bin/python bench/cli_startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CLI = str(Path(sys.executable).parent / "roadmap-agent")
GOAL = "learn SQL in 4 weeks, 6 hours a week"
FIRST_STEP = "…"  # progress_line() of a step that started


def _timed(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def _generate(env: dict[str, str], *extra: str) -> tuple[float, float, float]:
    """Seconds to the first stderr line, to the first step line, and to the end."""
    started = time.perf_counter()
    process = subprocess.Popen([CLI, "generate", GOAL, "--auto-approve", "--json", *extra], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if process.stderr is None:  # for the type checker: stderr=PIPE was given
        raise RuntimeError("no stderr pipe")
    first_line = first_step = 0.0
    for line in process.stderr:
        now = time.perf_counter() - started
        first_line = first_line or now
        if line.startswith(FIRST_STEP):
            first_step = now
            break
    process.stderr.read()
    process.wait()
    if not first_step:
        raise SystemExit(f"generate printed no step line (exit {process.returncode})")
    return first_line, first_step, time.perf_counter() - started


@contextmanager
def _serving(env: dict[str, str]) -> Iterator[None]:
    """``roadmap-agent serve`` for ``env``'s home on a free port, until it answers; stopped by its pid."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([CLI, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/live", timeout=2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("serve did not start") from None
                time.sleep(0.2)
        # its server.json was written as its services opened, before it started to listen
        yield
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "ROADMAP_AGENT_HOME": home, "NO_COLOR": "1"}
        env.pop("LOG_LEVEL", None)
        made = subprocess.run([CLI, "generate", GOAL, "--auto-approve", "--json"], env=env, capture_output=True,
                              text=True, check=True)  # also creates the database: later runs do not migrate
        task_id = json.loads(made.stdout)["task_id"]
        figures: dict[str, list[float]] = {name: [] for name in
                                           ("import typer", "--help", "--version", "status", "generate: task line",
                                            "generate: first step", "generate: end")}
        for _ in range(runs):  # interleaved, so load from other processes hits every figure alike
            figures["import typer"].append(_timed([sys.executable, "-c", "import typer"], env))
            figures["--help"].append(_timed([CLI, "--help"], env))
            figures["--version"].append(_timed([CLI, "--version"], env))
            figures["status"].append(_timed([CLI, "status", task_id], env))
            line, step, end = _generate(env)
            figures["generate: task line"].append(line)
            figures["generate: first step"].append(step)
            figures["generate: end"].append(end)
        with _serving(env):
            served: dict[str, list[float]] = {name: [] for name in
                                              ("import typer", "served: task line", "served: first step",
                                               "served: end", "--local: first step", "--local: end")}
            for _ in range(runs):
                served["import typer"].append(_timed([sys.executable, "-c", "import typer"], env))
                line, step, end = _generate(env)
                served["served: task line"].append(line)
                served["served: first step"].append(step)
                served["served: end"].append(end)
                _line, step, end = _generate(env, "--local")
                served["--local: first step"].append(step)
                served["--local: end"].append(end)
    _print("Without a running serve (the CLI runs the task itself)", figures, runs)
    _print("With `roadmap-agent serve` running for the same home", served, runs)


def _print(title: str, figures: dict[str, list[float]], runs: int) -> None:
    baseline = statistics.median(figures["import typer"])
    print(f"{title}\n{'command':24} {'median s':>9} {'x import typer':>15}   ({runs} runs, {os.cpu_count()} cores)")
    for name, values in figures.items():
        median = statistics.median(values)
        print(f"{name:24} {median:9.3f} {median / baseline:15.2f}")
    print()


if __name__ == "__main__":
    main()
