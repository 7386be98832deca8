"""The learner's language end to end: a Chinese goal shows no English user-facing text (CLI, SSE, Markdown), an
English goal no Chinese. Each run goes through a rejection with feedback, so the edit's sentences count too.

What may stay in Latin letters in a Chinese run is listed here, explicitly: product and technology names,
code keywords that concept descriptions quote, command names and ids. Resource titles are the names of
published works (shown as published) and URLs are addresses: both are left out of the check.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from roadmap_agent.domain.catalog import load_catalog

pytestmark = pytest.mark.integration

CLI = str(Path(sys.executable).parent / "roadmap-agent")
ZH_GOAL = "我想三个月内学会 Python 后端开发，每周 10 小时"
EN_GOAL = "I want to become a backend developer in 3 months, I know some Python, 10 hours a week"

PRODUCT_NAMES = {
    "API", "APIs", "Actions", "Alembic", "Bash", "CPU", "DNS", "Docker", "Dockerfile", "FastAPI", "Git", "GitHub",
    "HTTP", "HTTPS", "IP", "JSON", "JWT", "Linux", "ORM", "PostgreSQL", "Pydantic", "Python", "REST", "RFC",
    "Redis", "SQL", "SQLAlchemy", "Shell", "ShellCheck", "TCP", "UDP", "URL", "Web", "N+1", "README", "CI", "CD",
    "Fork", "Pull", "Request",  # GitHub's names for its features ("Fork", "Pull Request"), used as is in Chinese
    "awk", "find", "grep", "mypy", "pip", "sed", "sort", "uniq", "venv", "pytest", "Ctrl-C",
}
CODE_KEYWORDS = {"SELECT", "WHERE", "ORDER", "BY", "GROUP", "LIMIT", "CREATE", "TABLE", "INSERT", "UPDATE", "DELETE",
                 "JOIN", "if", "elif", "else", "for", "while", "break", "continue", "match", "def", "class"}
WORD = re.compile(r"[A-Za-z][A-Za-z0-9+#]*(?:[-.][A-Za-z0-9+#]+)*")


def _catalog_zh_words() -> set[str]:
    """Latin words the Chinese catalog text itself uses (product names, HTTP verbs, CSV, Cookie...): content
    written for Chinese readers keeps them; what the test hunts is English UI text."""
    catalog = load_catalog()
    texts = [c.name.zh + " " + c.description.zh for c in catalog.concepts.values()]
    texts += [m.name.zh + " " + (m.outcome.zh if m.outcome else "") for m in catalog.modules.values()]
    texts += [d.name.zh for d in catalog.domains.values()]
    texts += [p.title.zh + " " + p.brief.zh + " " + " ".join(c.zh for c in p.criteria)
              for d in catalog.domains.values() for p in d.projects]
    return set(WORD.findall(" ".join(texts)))


ALLOWED = PRODUCT_NAMES | CODE_KEYWORDS | _catalog_zh_words()
IDS = [re.compile(p) for p in (
    r"\[[^\]\n]*\]\(\S+\)",  # Markdown links: a resource's published title and its URL
    r"(?:https?|file|s3)://\S+",  # addresses (web, and where the CLI says it saved the roadmap)
    r"\b(?:rm-)?[0-9a-f]{32}\b",  # task and roadmap ids
    r"roadmap-agent(?: (?:resume|retry|worker))?",  # the command and its subcommands
    r"--[a-z-]+",  # options (--full)
    r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b",  # environment variables (ROADMAP_AGENT_MAX_REVIEW_ROUNDS)
    r"\x1b\[[0-9;?]*[A-Za-z]",  # terminal escapes
)]
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")


def english_words(text: str) -> set[str]:
    """Latin-letter words of two letters or more that are not on the allow-list (single letters are keys)."""
    for pattern in IDS:
        text = pattern.sub(" ", text)
    return {w for w in WORD.findall(text) if len(w) >= 2 and w not in ALLOWED}


def chinese(text: str) -> list[str]:
    return CJK.findall(text)


def _cli(home: Path, *args: str, stdin: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ROADMAP_AGENT_HOME": str(home), "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run([CLI, *args], env=env, input=stdin, capture_output=True, text=True, timeout=120,
                          check=False)


def _markdown(home: Path) -> str:
    return "".join(p.read_text(encoding="utf-8") for p in (home / "artifacts" / "roadmaps").glob("*.md"))


def test_the_checks_can_fail() -> None:
    assert english_words("✓ 分析你的目标：Understood: Python") == {"Understood"}
    assert english_words("任务 0123456789abcdef0123456789abcdef；继续：roadmap-agent resume 1 --full") == set()
    assert chinese("Review round 1：") == ["："]


def test_a_chinese_goal_in_the_terminal_is_chinese_throughout(isolated_home: Path) -> None:
    # reject with feedback (one part understood, one not), look at the whole roadmap, then approve
    result = _cli(isolated_home, "generate", ZH_GOAL, stdin="跳过 Docker，香蕉紫色\nf\n好\n")
    assert result.returncode == 0, result.stderr
    shown = result.stderr + result.stdout
    assert "改动" in shown and "第 2 轮审阅" in shown and "每周安排" in shown
    assert english_words(shown) == set(), shown[-3000:]
    assert english_words(_markdown(isolated_home)) == set()


def test_an_english_goal_in_the_terminal_has_no_chinese(isolated_home: Path) -> None:
    result = _cli(isolated_home, "generate", EN_GOAL, stdin="skip Docker and banana purple\nf\ny\n")
    assert result.returncode == 0, result.stderr
    shown = result.stderr + result.stdout
    assert "What changed" in shown and "Review round 2" in shown
    assert chinese(shown) == [], shown[-3000:]
    assert chinese(_markdown(isolated_home)) == []


def _review_round(client: TestClient, task_id: str, round_: int, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task: dict[str, Any] = client.get(f"/api/v1/tasks/{task_id}").json()
        if task["status"] == "human_review_pending" and task["review_round"] == round_:
            return task
        assert task["status"] in ("pending", "running", "human_review_pending"), task
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} never reached review round {round_}")


def _run_over_the_api(client: TestClient, goal: str, feedback: str) -> tuple[list[dict[str, Any]], str]:
    """Create, reject with ``feedback``, approve; every SSE event, and the Markdown export."""
    task_id = client.post("/api/v1/roadmaps", json={"goal": goal}).json()["task_id"]
    _review_round(client, task_id, 1)
    assert client.post(f"/api/v1/tasks/{task_id}/review", json={"approved": False, "feedback": feedback}
                       ).status_code == 202
    _review_round(client, task_id, 2)
    assert client.post(f"/api/v1/tasks/{task_id}/review", json={"approved": True}).status_code == 202
    with client.stream("GET", f"/api/v1/tasks/{task_id}/events") as response:
        events = [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: ")]
    assert events[-1]["type"] == "completed"
    roadmap_id = events[-1]["data"]["roadmap_id"]
    markdown = client.get(f"/api/v1/roadmaps/{roadmap_id}", params={"format": "markdown"}).text
    return events, markdown


def test_a_chinese_goal_over_sse_is_chinese_throughout(client: TestClient) -> None:
    events, markdown = _run_over_the_api(client, ZH_GOAL, "跳过 Docker，香蕉紫色")
    messages = "\n".join(e["message"] for e in events)
    assert english_words(messages) == set(), messages
    review = [e for e in events if e["type"] == "human_review_required"]
    assert len(review) == 2 and review[1]["data"]["report"]["applied"]
    sentences = "\n".join(review[1]["data"]["changes"])
    assert english_words(sentences) == set() and "香蕉紫色" in sentences  # said not understood, in Chinese
    assert english_words(markdown) == set() and "## 每周安排" in markdown


def test_an_english_goal_over_sse_has_no_chinese(client: TestClient) -> None:
    events, markdown = _run_over_the_api(client, EN_GOAL, "skip Docker and banana purple")
    messages = "\n".join(e["message"] for e in events) + "\n".join(
        c for e in events if e["type"] == "human_review_required" for c in e["data"]["changes"])
    assert chinese(messages) == [] and chinese(markdown) == []
    assert "## Weekly schedule" in markdown
