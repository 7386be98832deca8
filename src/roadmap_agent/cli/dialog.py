"""What a run says to the learner in the terminal, whoever runs it (this process, or a running ``serve`` that the
CLI follows over HTTP): the review prompt and the outcome (the roadmap or JSON, warnings, where it was saved,
and the exit code).
"""

from __future__ import annotations

import json
import sys
from functools import cache
from typing import Any

from rich.markup import escape

from roadmap_agent.cli.common import EXIT_FAILED, EXIT_OK, EXIT_OUT_OF_SCOPE, err, out, write
from roadmap_agent.domain.messages import text
from roadmap_agent.domain.models import Language, ReviewDecision, Roadmap
from roadmap_agent.errors import OutOfScope
from roadmap_agent.terminal import LineReader, print_roadmap, review_view

# Answers at the review prompt (compared lower-cased, without trailing punctuation).
APPROVE = frozenset({"", "y", "yes", "ok", "okay", "approve", "lgtm",
                     "好", "好的", "可以", "同意", "批准", "行", "没问题"})
REJECT = frozenset({"n", "no", "nope", "不", "不要", "不行", "不好", "否", "不同意", "拒绝"})
SHOW_FULL = frozenset({"f", "full", "完整", "全部"})


async def ask_review(roadmap: Roadmap | None, review: dict[str, Any], *, full: bool,
                     resources: bool) -> ReviewDecision | None:
    """Show what changed (the whole roadmap with ``full`` or on request) and ask; None: no answer (EOF).

    ``review`` is the ``human_review_required`` event's data (the round, the change list, the last round).
    """
    language: Language = roadmap.language if roadmap is not None else "en"
    if roadmap is not None:
        err().print(review_view(roadmap, review, full=full))
    while True:
        if review.get("last_round"):
            last = text("cli.prompt.last", language, round=review["review_round"], max=review.get("max_review_rounds"))
            err().print(f"[yellow]{escape(last)}[/]")
        err().print(f"[bold]{escape(text('cli.prompt', language))}[/]")
        answer = await read_answer()
        if answer is None:
            return None
        if normalised(answer) in APPROVE:
            return ReviewDecision(approved=True)
        if normalised(answer) in SHOW_FULL and roadmap is not None:
            print_roadmap(err(), roadmap, resources=resources)
            continue
        if normalised(answer) in REJECT:
            err().print(f"[bold]{escape(text('cli.ask_changes', language))}[/]")
            answer = await read_answer()
            if answer is None:
                return None
            if not answer:
                continue
        if review.get("last_round"):
            continue  # a rejection would be refused: say so again and ask for approval
        return ReviewDecision(approved=False, feedback=answer)


def finish(task_id: str, status: str, intent: dict[str, Any] | None, error: str | None, error_code: str | None,
           roadmap: Roadmap | None, *, as_json: bool, resources: bool, language: Language,
           completed: dict[str, Any], where: str) -> int:
    """Print the outcome of a task that ended (JSON, or the roadmap and where it was saved); the exit code.

    ``completed``: the ``completed`` event's data (the roadmap id and artifacts); ``where``: the storage's
    location, said when the event names no file.
    """
    if as_json:
        payload: dict[str, Any] = {"task_id": task_id, "status": status, "intent": intent,
                                   "roadmap": roadmap.model_dump(mode="json") if roadmap else None}
        if error:
            payload["error"] = error
            payload["error_code"] = error_code
        write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
    elif roadmap is not None and status == "completed":
        print_roadmap(out(), roadmap, resources=resources)
    for warning in (intent or {}).get("clamped", []):
        err().print(f"[yellow]![/] {escape(warning)}")
    if status == "failed" and error_code == OutOfScope.code:
        return EXIT_OUT_OF_SCOPE  # the progress line has shown the message
    if status == "failed":
        err().print(f"[red]{escape(text('event.failed', language, reason=error or ''))}[/]")
        return EXIT_FAILED
    if status != "completed":
        return EXIT_FAILED
    artifacts = completed.get("artifacts") or {}
    saved = artifacts.get("markdown") or artifacts.get("json") or where
    err().print(escape(text("cli.saved", language, roadmap_id=completed.get("roadmap_id", ""), task_id=task_id,
                            where=saved)), highlight=False)
    return EXIT_OK


@cache
def _stdin() -> LineReader:
    """One reader for the process: it keeps what it read past the current line (piped answers)."""
    return LineReader(sys.stdin.fileno())


async def read_answer() -> str | None:
    """One line from the terminal, stripped; None at the end of input. Ctrl-C interrupts it at once."""
    line = await _stdin().readline()
    return None if line == "" else line.strip()


def normalised(answer: str) -> str:
    return answer.lower().rstrip(".!。！~ ")
