"""The message catalogue: every sentence the planner writes for a learner, in English and Chinese.

The texts live in ``messages.json`` next to this module (content, not code); ``text(key, language, **values)``
formats one. A missing key or placeholder is a packaging bug and fails loudly in the schema test.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from roadmap_agent.domain.catalog import Catalog
    from roadmap_agent.domain.models import Language


@cache
def catalogue() -> dict[str, dict[str, str]]:
    raw = (resources.files("roadmap_agent.domain") / "messages.json").read_text(encoding="utf-8")
    data: dict[str, dict[str, str]] = json.loads(raw)
    return data


_SINGULAR = re.compile(r"(?<![\d.])1 (weeks|stages|projects|core concepts|optional concepts|concepts)\b")


def text(key: str, language: Language, **values: Any) -> str:
    formatted = catalogue()[key][language].format(**values)
    return _SINGULAR.sub(lambda m: "1 " + m[1][:-1], formatted) if language == "en" else formatted


def join(items: Iterable[str], language: Language) -> str:
    """"A, B and C" / "A、B和C"."""
    parts = list(items)
    if len(parts) <= 1:
        return "".join(parts)
    return text("list.sep", language).join(parts[:-1]) + text("list.and", language) + parts[-1]


MAX_LISTED = 6  # names in one sentence before "and N more"


def listed(items: Sequence[str], language: Language) -> str:
    """At most MAX_LISTED of ``items``, then "and N more": a sentence about many concepts stays readable."""
    shown = text("list.sep", language).join(items[:MAX_LISTED])
    rest = len(items) - MAX_LISTED
    return shown + text("list.more", language, count=rest) if rest > 0 else shown


def out_of_scope_message(goal: str, uncovered: list[str], catalog: Catalog, language: Language) -> str:
    shown = goal.strip()[:80] + ("..." if len(goal.strip()) > 80 else "")
    if uncovered:
        head = text("out_of_scope.uncovered", language, goal=shown, subjects=join(uncovered, language))
    else:
        head = text("out_of_scope.unknown", language, goal=shown)
    by_kind: dict[str, list[str]] = {"role": [], "technology": [], "subject": []}
    for domain in catalog.domains.values():
        by_kind.setdefault(domain.kind, []).append(domain.name.get(language))
    sep = text("list.sep", language)
    return head + text("out_of_scope.covered", language, roles=sep.join(by_kind["role"]),
                       technologies=sep.join(by_kind["technology"]), subjects=sep.join(by_kind["subject"]))
