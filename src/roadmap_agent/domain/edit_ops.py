"""The edit operations review feedback asks for: what to skip, add, retime, reorder, and what could not be read.

Data only: ``feedback.py`` reads them from the reviewer's text, the LLM grounding (``llm/grounding.py``) builds
them from a model's answer, and ``editing.py`` applies them to a roadmap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from roadmap_agent.domain.models import ResourcePreference

# The factors of ``ScaleHours``: "more time", "much more time", "less time", "much less time".
MORE = 1.5
MUCH_MORE = 2.0
LESS = 0.6
MUCH_LESS = 0.4


@dataclass(frozen=True)
class SkipConcepts:
    """Leave these out: the learner does not want them (now); they are not known."""

    concept_ids: tuple[str, ...]


@dataclass(frozen=True)
class KnowConcepts:
    """Leave these out because the learner already knows them."""

    concept_ids: tuple[str, ...]


@dataclass(frozen=True)
class AddConcepts:
    """Teach these too (with whatever they need first)."""

    concept_ids: tuple[str, ...]


@dataclass(frozen=True)
class ScaleHours:
    """Spend ``factor`` times the hours on these (1.5 "more time", 2.0 "much more", 0.6 "less")."""

    concept_ids: tuple[str, ...]
    factor: float


@dataclass(frozen=True)
class SetWeeks:
    weeks: int


@dataclass(frozen=True)
class SetHoursPerWeek:
    hours: int


@dataclass(frozen=True)
class FinishBy:
    """Finish by a date; the year (when not said) and the weeks are worked out against today when applied."""

    month: int
    day: int | None = None  # None: the start of the month, or its end with ``end_of_month``
    year: int | None = None
    end_of_month: bool = False


@dataclass(frozen=True)
class ChangeLevel:
    step: int  # -1 easier, +1 harder


@dataclass(frozen=True)
class OrderFirst:
    """These as early as their prerequisites allow."""

    concept_ids: tuple[str, ...]


@dataclass(frozen=True)
class OrderBefore:
    first: tuple[str, ...]
    then: tuple[str, ...]


@dataclass(frozen=True)
class PreferResources:
    preference: ResourcePreference


@dataclass(frozen=True)
class MoreProjects:
    pass


EditOp = (SkipConcepts | KnowConcepts | AddConcepts | ScaleHours | SetWeeks | SetHoursPerWeek | FinishBy
          | ChangeLevel | OrderFirst | OrderBefore | PreferResources | MoreProjects)


@dataclass(frozen=True)
class Unclear:
    """A part of the feedback that was not read: ``unknown`` words, or a name the catalog does not have."""

    text: str
    reason: Literal["unknown", "not_found"] = "unknown"
