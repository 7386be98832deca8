"""Week-by-week scheduling: pour concepts, in roadmap order, into weeks of ``hours_per_week``.

A concept longer than what is left of a week continues into the next one, so a week is never overfilled and
every prerequisite finishes no later than the week its dependent starts (the order is the roadmap's).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from roadmap_agent.domain.models import Concept, Project, ScheduleWeek

_EPSILON = 1e-6


def round_hours(hours: float) -> float:
    """Hours as users read them: to the half hour, never zero."""
    return max(0.5, round(hours * 2) / 2)


def build_schedule(items: Sequence[Concept | Project], hours_per_week: int) -> list[ScheduleWeek]:
    """Weeks of ``hours_per_week`` holding ``items`` (concepts, and the project that ends each stage) in order."""
    weeks: list[ScheduleWeek] = []
    current: list[Concept | Project] = []
    current_hours = 0.0
    for item in items:
        remaining = item.hours
        while remaining > _EPSILON:
            room = hours_per_week - current_hours
            portion = min(room, remaining)
            current.append(item)
            current_hours += portion
            remaining -= portion
            if hours_per_week - current_hours <= _EPSILON:
                weeks.append(_week(len(weeks) + 1, current, current_hours))
                current, current_hours = [], 0.0
    if current:
        weeks.append(_week(len(weeks) + 1, current, current_hours))
    return weeks


def _week(number: int, items: list[Concept | Project], hours: float) -> ScheduleWeek:
    concept_ids = [i.id for i in items if isinstance(i, Concept)]
    project_ids = [i.id for i in items if isinstance(i, Project)]
    return ScheduleWeek(week=number, concept_ids=list(dict.fromkeys(concept_ids)),
                        project_ids=list(dict.fromkeys(project_ids)), hours=round(hours, 2))


def weeks_needed(total_hours: float, hours_per_week: int) -> int:
    return max(1, math.ceil(total_hours / hours_per_week - _EPSILON))
