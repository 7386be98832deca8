"""The roadmap being edited (``Draft``): what the edit operations change, and the report they write.

``editing.apply_edits`` builds a ``Draft`` from the previous roadmap, ``edit_apply.py`` changes it one operation at
a time (each adding a ``Change`` or a ``NotUnderstood`` in the roadmap's language, or a message to write once the
roadmap is arranged), and ``edit_refit.py`` arranges it into the edited roadmap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from roadmap_agent.domain.catalog import Catalog
from roadmap_agent.domain.changes import Change, ChangeKind, NotUnderstood
from roadmap_agent.domain.messages import listed, text
from roadmap_agent.domain.models import Concept, Language, Level, OrderRule, ResourcePreference


@dataclass
class Draft:
    """What the edits asked for so far, and what to report."""

    concepts: dict[str, Concept]
    known: set[str]
    skipped: set[str]
    hours_per_week: int
    weeks: int
    level: Level
    ordering: list[OrderRule]
    preferences: list[ResourcePreference]
    projects_per_stage: int
    language: Language
    catalog: Catalog
    today: date
    applied: list[Change] = field(default_factory=list)
    not_understood: list[NotUnderstood] = field(default_factory=list)
    weeks_set: bool = False
    level_start: Level = "beginner"
    level_given: bool = False  # the roadmap carries a level an earlier edit set
    projects_before: int = 0
    before_resources: dict[str, set[str]] = field(default_factory=dict)
    after: list[Any] = field(default_factory=list)  # messages that need the arranged roadmap (order, budget)

    def say(self, kind: ChangeKind, key: str, ids: Sequence[str] = (), **values: Any) -> None:
        self.applied.append(Change(kind=kind, message=text(key, self.language, **values), concept_ids=list(ids)))

    def cannot(self, said: str, key: str, **values: Any) -> None:
        self.not_understood.append(NotUnderstood(text=said, message=text(key, self.language, **values)))

    def name(self, concept_id: str) -> str:
        if concept_id in self.concepts:
            return self.concepts[concept_id].name
        entry = self.catalog.concepts.get(concept_id)
        return entry.name.get(self.language) if entry else concept_id

    def names(self, concept_ids: Sequence[str]) -> str:
        return listed([self.name(c) for c in concept_ids], self.language)

    def items(self, concepts: Sequence[Concept]) -> str:
        return listed([text("name_hours", self.language, name=c.name, hours=f"{c.hours:g}") for c in concepts],
                      self.language)
