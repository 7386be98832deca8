"""The offline planner: deterministic planning over the bundled catalog, no network, no API key."""

from __future__ import annotations

from datetime import date

from roadmap_agent.domain.catalog import Catalog, load_catalog
from roadmap_agent.domain.changes import EditReport
from roadmap_agent.domain.intent import analyze_intent
from roadmap_agent.domain.models import Intent, LearnerRequest, Roadmap
from roadmap_agent.domain.planning import design_curriculum
from roadmap_agent.llm.base import PlannerNote, record

_NOTE = PlannerNote("offline")


class OfflinePlanner:
    name = "offline"

    def __init__(self, catalog: Catalog | None = None) -> None:
        self.catalog = catalog or load_catalog()

    async def analyze_intent(self, request: LearnerRequest) -> Intent:
        record(_NOTE)
        return analyze_intent(request, self.catalog)

    async def design_curriculum(self, intent: Intent, roadmap_id: str) -> Roadmap:
        record(_NOTE)
        return design_curriculum(intent, self.catalog, roadmap_id)

    async def edit_roadmap(self, roadmap: Roadmap, intent: Intent, feedback: str,
                           today: date | None = None) -> tuple[Roadmap, EditReport]:
        from roadmap_agent.domain.editing import edit_roadmap  # with domain/feedback.py: only when asked to edit

        record(_NOTE)
        return edit_roadmap(roadmap, feedback, self.catalog, intent.domains, intent.level, today=today)
