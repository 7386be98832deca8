"""The one interface the workflow plans through; the offline planner and model-backed planners implement it."""

from __future__ import annotations

from typing import Protocol

from roadmap_agent.domain.models import Intent, LearnerRequest, Roadmap


class Planner(Protocol):
    name: str

    async def analyze_intent(self, request: LearnerRequest) -> Intent: ...

    async def design_curriculum(self, intent: Intent, roadmap_id: str) -> Roadmap: ...

    async def edit_roadmap(self, roadmap: Roadmap, intent: Intent, feedback: str) -> tuple[Roadmap, list[str]]:
        """The edited roadmap and one sentence per change (empty when nothing in the feedback was understood)."""
        ...
