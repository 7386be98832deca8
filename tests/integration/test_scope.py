"""Honest scope, as a user meets it: a goal the offline catalog does not cover ends ``out_of_scope`` (CLI exit 3,
API ``error_code``), a partly covered one gets a warning; named technologies are what is planned."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

pytestmark = pytest.mark.integration

CLI = str(Path(sys.executable).parent / "roadmap-agent")


def _generate(home: Path, goal: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ROADMAP_AGENT_HOME": str(home), "NO_COLOR": "1"}
    return subprocess.run([CLI, "generate", goal, "--auto-approve", "--json"], env=env, capture_output=True,
                          text=True, timeout=90, check=False)


@pytest.mark.parametrize("goal", ["learn Spanish in 6 months", "我想学弹钢琴", "learn Elixir and Phoenix"])
def test_cli_says_out_of_scope_and_exits_3(isolated_home: Path, goal: str) -> None:
    result = _generate(isolated_home, goal)
    assert result.returncode == 3, result.stderr
    payload = json.loads(result.stdout)
    assert payload["status"] == "failed" and payload["error_code"] == "out_of_scope" and payload["roadmap"] is None
    assert "LLM_BASE_URL" in payload["error"] and "LLM_BASE_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_plans_the_named_technology_and_a_partly_covered_goal_warns(isolated_home: Path) -> None:
    result = _generate(isolated_home, "learn iOS development with Swift and SwiftUI, and also Elixir")
    assert result.returncode == 0, result.stderr
    roadmap = json.loads(result.stdout)["roadmap"]
    ids = [c["id"] for s in roadmap["stages"] for m in s["modules"] for c in m["concepts"]]
    assert "mobile.swiftui" in ids and not any(i.startswith(("mobile.kotlin", "mobile.jetpack")) for i in ids)
    assert any("Elixir" in w for w in roadmap["warnings"])


def _final(client: TestClient, task_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        task: dict[str, Any] = client.get(f"/api/v1/tasks/{task_id}").json()
        if task["status"] in ("completed", "failed"):
            return task
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} did not finish")


def test_api_reports_out_of_scope_in_the_task(client: TestClient) -> None:
    created = client.post("/api/v1/roadmaps", json={"goal": "learn guitar", "auto_approve": True})
    assert created.status_code == 202
    task = _final(client, created.json()["task_id"])
    assert task["status"] == "failed" and task["error_code"] == "out_of_scope"
    assert "LLM_BASE_URL" in task["error"]
