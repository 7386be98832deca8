"""The learning commands of the CLI, run as a user would: mark, progress, replan, calendar, reviews."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from icalendar import Calendar
from serving import CLI

pytestmark = pytest.mark.integration

GOAL = "I want to become a backend developer in 3 months, I know some Python, 10 hours a week"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=60, check=False,
                          env={**os.environ, "LOG_LEVEL": "ERROR", "COLUMNS": "250"})


@pytest.mark.slow
@pytest.mark.timeout(400)  # a dozen CLI processes, each opening the service
def test_a_week_of_learning_from_the_terminal(tmp_path: Path) -> None:
    generated = cli("generate", GOAL, "--auto-approve", "--json")
    assert generated.returncode == 0, generated.stderr
    roadmap = json.loads(generated.stdout)["roadmap"]
    roadmap_id, first = roadmap["id"], roadmap["schedule"][0]["concept_ids"][0]
    assert roadmap_id in cli("roadmaps").stdout

    marked = cli("mark", roadmap_id, first, "--state", "done", "--add-hours", "3", "--today", "2030-01-02")
    assert marked.returncode == 0 and "done, 3 h" in marked.stderr
    wrong = cli("mark", roadmap_id, first, "--state", "finished")
    assert wrong.returncode == 1 and "todo, learning, done, skipped" in wrong.stderr
    unknown = cli("mark", roadmap_id, "no.such", "--state", "done")
    assert unknown.returncode == 1 and first in unknown.stderr

    shown = cli("progress", roadmap_id, "--today", "2030-01-02")
    assert shown.returncode == 0 and "█" in shown.stdout and "1 done" in shown.stdout
    summary = json.loads(cli("progress", roadmap_id, "--json").stdout)["summary"]
    assert summary["counts"]["done"] == 1

    replanned = cli("replan", roadmap_id, "--hours-per-week", "5")
    assert replanned.returncode == 0 and "version 2" in replanned.stderr and "finished:" in replanned.stderr

    ics = tmp_path / "plan.ics"
    exported = cli("calendar", roadmap_id, "-o", str(ics), "--days", "tue,sat", "--time", "07:30",
                   "--timezone", "Asia/Shanghai")
    assert exported.returncode == 0, exported.stderr
    events = [e for e in Calendar.from_ical(ics.read_bytes()).walk("VEVENT") if str(e["uid"]).startswith("session")]
    assert events and all(e.decoded("dtstart").strftime("%H:%M %a") in ("07:30 Tue", "07:30 Sat") for e in events)

    due = json.loads(cli("reviews", "--today", "2030-12-31", "--json").stdout)
    assert [d["concept_id"] for d in due] == [first]
    reviewed = cli("review", roadmap_id, first, "good", "--today", "2030-12-31")
    assert reviewed.returncode == 0 and "next review on 2031" in reviewed.stderr
    assert cli("review", roadmap_id, first, "meh").returncode == 1
