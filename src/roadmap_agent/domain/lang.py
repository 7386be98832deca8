"""Which language a learner writes in (``en`` / ``zh``), from the standard library alone: the CLI tells it
before it loads anything else (the first line it prints is already in the learner's language).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from roadmap_agent.domain.models import Language

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def detect_language(text: str) -> Language:
    """``zh`` when ``text`` has any Chinese character, else ``en``."""
    return "zh" if _CJK.search(text) else "en"


def request_language(request: dict[str, Any]) -> Language:
    """The language a task speaks before its intent is known: the one asked for, else the goal's."""
    asked = request.get("language")
    return "zh" if asked == "zh" else "en" if asked == "en" else detect_language(str(request.get("goal", "")))
