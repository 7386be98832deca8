"""Week-by-week scheduling: pour concepts, in roadmap order, into weeks of ``hours_per_week``.

A concept longer than what is left of a week continues into the next one, so a week is never overfilled and
every prerequisite finishes no later than the week its dependent starts (the order is the roadmap's).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from roadmap_agent.domain.models import Concept, ScheduleWeek

_EPSILON = 1e-6


def round_hours(hours: float) -> float:
    """Hours as users read them: to the half hour, never zero."""
    return max(0.5, round(hours * 2) / 2)


def build_schedule(concepts: Sequence[Concept], hours_per_week: int) -> list[ScheduleWeek]:
    weeks: list[ScheduleWeek] = []
    current_ids: list[str] = []
    current_hours = 0.0
    for concept in concepts:
        remaining = concept.hours
        while remaining > _EPSILON:
            room = hours_per_week - current_hours
            portion = min(room, remaining)
            current_ids.append(concept.id)
            current_hours += portion
            remaining -= portion
            if hours_per_week - current_hours <= _EPSILON:
                weeks.append(_week(len(weeks) + 1, current_ids, current_hours))
                current_ids, current_hours = [], 0.0
    if current_ids:
        weeks.append(_week(len(weeks) + 1, current_ids, current_hours))
    return weeks


def _week(number: int, concept_ids: list[str], hours: float) -> ScheduleWeek:
    return ScheduleWeek(week=number, concept_ids=list(dict.fromkeys(concept_ids)), hours=round(hours, 2))


def weeks_needed(total_hours: float, hours_per_week: int) -> int:
    return max(1, math.ceil(total_hours / hours_per_week - _EPSILON))
