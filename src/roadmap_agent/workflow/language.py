"""The language a task speaks (``en`` / ``zh``): its intent's once analysed, before that the request's.

No LangGraph here: the CLI and the task rules read it before (or without) loading the workflow.
"""

from __future__ import annotations

from roadmap_agent.domain.lang import request_language
from roadmap_agent.domain.models import Language
from roadmap_agent.store.records import TaskRecord


def task_language(task: TaskRecord) -> Language:
    """The language a task speaks: its intent's once analysed, before that the request's (or its goal's)."""
    language = (task.intent or {}).get("language")
    return language if language in ("en", "zh") else request_language(task.request)
