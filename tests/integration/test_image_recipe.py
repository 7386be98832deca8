"""The Dockerfile's recipe, replayed without Docker so it cannot rot.

The build stage's own ARG, ENV, WORKDIR, COPY and RUN instructions run here, in order, with every absolute
container path moved under a temporary root: a fresh venv gets roadmap-agent installed exactly as in the image
(not editable: a file missing from the package data fails here). Then the final stage's ENV, ENTRYPOINT and CMD
start the service from that venv, its HEALTHCHECK command must pass, and STOPSIGNAL must stop it cleanly. Any
other instruction in the build stage fails the test, so the replay never silently skips a step.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from devservices import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
REPLAYED = {"ARG", "ENV", "WORKDIR", "COPY", "RUN"}
GOAL = "learn Python in 4 weeks, 6 hours a week"


@dataclass
class Stage:
    name: str
    steps: list[tuple[str, str]] = field(default_factory=list)


def stages() -> list[Stage]:
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    found: list[Stage] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, args = line.partition(" ")
        if instruction.upper() == "FROM":
            found.append(Stage(args.split(" AS ")[-1].strip() if " AS " in args else "final"))
        elif found:
            found[-1].steps.append((instruction.upper(), args.strip()))
    return found


class Replay:
    """Runs Dockerfile instructions on this machine, container paths mapped under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        # HOME kept: pip's cache there stands in for the image's cache mount; PIP_*: how pip reaches PyPI here.
        self.env = {"PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "HOME": os.environ["HOME"],
                    **{k: v for k, v in os.environ.items() if k.startswith("PIP_")}}
        self.workdir = root

    def path(self, container_path: str) -> Path:
        path = Path(self.expand(container_path))
        return self.root / path.relative_to("/") if path.is_absolute() else self.workdir / path

    def expand(self, value: str) -> str:
        return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: self.env.get(m[1] or m[2], ""), value)

    def assign(self, name: str, value: str) -> None:
        value = self.expand(value.strip('"'))
        self.env[name] = str(self.path(value)) if value.startswith("/") else value

    def step(self, instruction: str, args: str) -> None:
        if instruction == "ARG":
            name, _, default = args.partition("=")
            self.assign(name, default)
        elif instruction == "ENV":
            for pair in shlex.split(args):
                name, _, value = pair.partition("=")
                if name == "PATH":  # "${VENV}/bin:${PATH}": map each absolute entry
                    self.env[name] = ":".join(str(self.path(p)) if p.startswith("/") and "${" not in p
                                              else self.expand(p) for p in value.split(":"))
                else:
                    self.assign(name, value)
        elif instruction == "WORKDIR":
            self.workdir = self.path(args)
            self.workdir.mkdir(parents=True, exist_ok=True)
        elif instruction == "COPY":
            self.copy(args.split())
        elif instruction == "RUN":
            command = " ".join(word for word in shlex.split(args, posix=False) if not word.startswith("--mount="))
            subprocess.run(["/bin/sh", "-c", command], cwd=self.workdir, env=self.env, check=True, timeout=800)

    def copy(self, words: list[str]) -> None:
        *sources, target = words
        destination = self.path(target)
        for source in sources:
            origin = ROOT / source
            if origin.is_dir():
                shutil.copytree(origin, destination if not target.endswith("/") else destination / source,
                                ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
            else:
                destination.mkdir(parents=True, exist_ok=True) if target.endswith("/") else None
                shutil.copy2(origin, destination / origin.name if target.endswith("/") else destination)


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Replay:
    """The build stage replayed into a fresh root; the final stage's ENV applied on top."""
    build, final = stages()[0], stages()[-1]
    assert build.name == "build" and final.name == "final"
    replay = Replay(tmp_path_factory.mktemp("image"))
    for instruction, args in build.steps:
        assert instruction in REPLAYED, f"{instruction} in the build stage: teach {Path(__file__).name} to replay it"
        replay.step(instruction, args)
    for instruction, args in final.steps:
        if instruction in {"ARG", "ENV"}:
            replay.step(instruction, args)
    return replay


def _final(instruction: str) -> str:
    return dict(stages()[-1].steps)[instruction]


def test_the_build_stage_installs_a_self_contained_venv(image: Replay) -> None:
    venv = Path(image.env["VENV"])  # already under the temporary root
    python = venv / "bin" / "python"
    where = subprocess.run([str(python), "-c", "import roadmap_agent; print(roadmap_agent.__file__)"],
                           capture_output=True, text=True, check=True, cwd=image.root).stdout
    assert str(venv) in where and str(ROOT / "src") not in where, "not an editable install"


def test_the_installed_service_migrates_and_plans_from_its_packaged_data(image: Replay) -> None:
    env = {**image.env, "ROADMAP_AGENT_HOME": str(image.root / "plan-home")}
    cli = json.loads(_final("ENTRYPOINT"))[0]
    subprocess.run([cli, "migrate"], env=env, cwd=image.root, check=True, timeout=120, capture_output=True)
    result = subprocess.run([cli, "generate", GOAL, "--auto-approve", "--json"], env=env, cwd=image.root,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout)["roadmap"]["stages"], "catalog and migrations shipped in the package"


def test_the_default_command_passes_its_healthcheck_and_stops_on_its_stopsignal(image: Replay) -> None:
    port = free_port()
    env = {**image.env, "ROADMAP_AGENT_HOME": str(image.root / "serve-home"), "ROADMAP_AGENT_PORT": str(port),
           "ROADMAP_AGENT_HOST": "127.0.0.1"}  # the image binds 0.0.0.0: here only the loopback
    command = json.loads(_final("ENTRYPOINT")) + json.loads(_final("CMD"))
    healthcheck = json.loads(_final("HEALTHCHECK").split(" CMD ", 1)[1])
    log_path = image.root / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, cwd=image.root, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while subprocess.run(healthcheck, env=env, capture_output=True, check=False, timeout=10).returncode != 0:
            assert process.poll() is None, log_path.read_text()[-2000:]
            assert time.monotonic() < deadline, "HEALTHCHECK never passed"
            time.sleep(0.5)
        process.send_signal(getattr(signal, _final("STOPSIGNAL")))
        # uvicorn drains, then re-raises the signal (PID 1 in the image: cli.main turns it into exit 143)
        assert process.wait(timeout=20) in (0, -signal.SIGTERM)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
