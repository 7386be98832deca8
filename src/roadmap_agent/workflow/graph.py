"""The LangGraph workflow:

    intent_analysis -> curriculum_design -> structure_validation --invalid (<= N rounds)--> roadmap_edit --^
                                                  | valid (or rounds used up: flagged)
                                                  v
                                            human_review --reject + feedback--> roadmap_edit
                                                  | approve (or auto-approve)
                                                  v
                                               finalize

Nodes are pure functions of the state plus the ``Planner`` and ``StepHooks`` they are built with; the
hooks (implemented by the runner) report progress, honour cancellation and persist the final roadmap.
State holds plain JSON (model dumps) so any checkpointer can store it. Every message a node writes comes from
the message catalogue in the task's language (``language_of``).

An edit stores its ``EditReport`` (what it applied, what it did not understand, the diff) as ``edit_report``
next to ``changes`` (its sentences); the review ``interrupt()`` carries both, with the round and the most
rounds allowed, so the ``human_review_required`` event tells clients what changed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypedDict

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import interrupt

from roadmap_agent.domain.catalog import Catalog
from roadmap_agent.domain.lang import request_language
from roadmap_agent.domain.messages import join, text
from roadmap_agent.domain.models import Intent, Language, LearnerRequest, Roadmap
from roadmap_agent.domain.validation import auto_fix, validate_roadmap
from roadmap_agent.llm.base import Planner, PlannerNote, collect_notes
from roadmap_agent.steps import (
    CURRICULUM_DESIGN,
    FINALIZE,
    HUMAN_REVIEW,
    INTENT_ANALYSIS,
    ROADMAP_EDIT,
    STRUCTURE_VALIDATION,
)


class RoadmapState(TypedDict, total=False):
    task_id: str
    request: dict[str, Any]
    intent: dict[str, Any]
    roadmap: dict[str, Any]
    issues: list[str]
    fix_rounds: int
    review_round: int
    decision: dict[str, Any]
    changes: list[str]  # the last edit's sentences (EditReport.sentences()), kept for older clients
    edit_report: dict[str, Any] | None  # the last edit's EditReport
    artifacts: dict[str, str]
    planner_warnings: list[str]  # e.g. "the model failed; the offline planner did this step": shown on roadmaps


class StepHooks(Protocol):
    async def step_started(self, task_id: str, step: str, *, language: Language = "en",
                           announce: bool = True) -> None: ...
    async def step_completed(self, task_id: str, step: str, message: str, data: dict[str, Any]) -> None: ...
    async def finalize(self, task_id: str, roadmap: Roadmap) -> dict[str, str]: ...


StepResult = tuple[dict[str, Any], str, dict[str, Any]]  # state update, message, event data
Step = Callable[[RoadmapState], Awaitable[StepResult]]


class Node(Protocol):
    def __call__(self, state: RoadmapState) -> Awaitable[dict[str, Any]]: ...


def roadmap_id_for(task_id: str) -> str:
    return f"rm-{task_id}"


def language_of(state: RoadmapState) -> Language:
    intent = state.get("intent") or {}
    language = intent.get("language")
    return language if language in ("en", "zh") else request_language(state.get("request", {}))


class _Nodes:
    def __init__(self, planner: Planner, catalog: Catalog, max_fix_rounds: int, max_review_rounds: int) -> None:
        self.planner = planner
        self.catalog = catalog
        self.max_fix_rounds = max_fix_rounds
        self.max_review_rounds = max_review_rounds

    def _domain_names(self, domains: list[str], language: Language) -> str:
        known = self.catalog.domains
        return join((known[d].name.get(language) if d in known else d for d in domains), language)

    async def intent_analysis(self, state: RoadmapState) -> StepResult:
        request = LearnerRequest.model_validate(state["request"])
        intent = await self.planner.analyze_intent(request)
        lang = intent.language
        message = text("step.intent.done", lang, domains=self._domain_names(intent.domains, lang),
                       level=text(f"level.{intent.level}", lang), hours=intent.hours_per_week, weeks=intent.weeks)
        return {"intent": intent.model_dump()}, message, {"intent": intent.model_dump()}

    async def curriculum_design(self, state: RoadmapState) -> StepResult:
        intent = Intent.model_validate(state["intent"])
        roadmap = await self.planner.design_curriculum(intent, roadmap_id_for(state["task_id"]))
        message = text("step.design.done", intent.language, stages=len(roadmap.stages),
                       concepts=len(roadmap.concepts()), hours=f"{roadmap.total_hours:g}")
        return {"roadmap": roadmap.model_dump(), "fix_rounds": 0}, message, {"total_hours": roadmap.total_hours}

    async def structure_validation(self, state: RoadmapState) -> StepResult:
        lang = language_of(state)
        roadmap = Roadmap.model_validate(state["roadmap"])
        issues = [f"{i.code}: {i.message}" for i in validate_roadmap(roadmap)]
        if not issues:
            return {"issues": []}, text("step.validation.ok", lang), {"valid": True}
        if state.get("fix_rounds", 0) < self.max_fix_rounds:
            return ({"issues": issues}, text("step.validation.fixing", lang, count=len(issues)),
                    {"valid": False, "issues": issues})
        roadmap.warnings.append(text("step.validation.warning", lang, rounds=self.max_fix_rounds,
                                     issues="; ".join(issues[:5])))
        return ({"issues": [], "roadmap": roadmap.model_dump()}, text("step.validation.flagged", lang),
                {"valid": False, "flagged": True, "issues": issues})

    async def roadmap_edit(self, state: RoadmapState) -> StepResult:
        from roadmap_agent.domain.editing import keep_review_state  # only runs that are fixed or edited load it

        roadmap = Roadmap.model_validate(state["roadmap"])
        intent = Intent.model_validate(state["intent"])
        if state.get("issues"):
            fixed = keep_review_state(roadmap, auto_fix(roadmap, self.catalog, intent.domains, intent.level))
            rounds = state.get("fix_rounds", 0) + 1
            return ({"roadmap": fixed.model_dump(), "fix_rounds": rounds, "issues": []},
                    text("step.fix.done", intent.language, round=rounds), {"fix_round": rounds})
        feedback = str(state.get("decision", {}).get("feedback") or "")
        edited, report = await self.planner.edit_roadmap(roadmap, intent, feedback)
        changes = report.sentences() or [text("step.edit.nothing", intent.language)]
        body = report.model_dump(mode="json")
        return ({"roadmap": edited.model_dump(), "changes": changes, "edit_report": body, "fix_rounds": 0},
                text("list.sentences", intent.language).join(changes), {"changes": changes, "report": body})

    async def human_review(self, state: RoadmapState) -> dict[str, Any]:
        review_round = state.get("review_round", 0) + 1
        if state["request"].get("auto_approve"):
            decision: dict[str, Any] = {"approved": True, "feedback": None, "auto": True}
        else:
            decision = interrupt({"review_round": review_round, "max_review_rounds": self.max_review_rounds,
                                  "last_round": review_round >= self.max_review_rounds,
                                  "roadmap_id": state["roadmap"]["id"], "changes": state.get("changes", []),
                                  "report": state.get("edit_report")})
        return {"decision": decision, "review_round": review_round}


def _with_planner_notes(state: RoadmapState, update: dict[str, Any], data: dict[str, Any],
                        notes: list[PlannerNote]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Say in the event which planner answered; a planner's warning (a fallback) also goes on every roadmap
    the learner sees from then on (an edit or auto-fix rebuilds the roadmap's own warnings)."""
    if notes:
        data = {**data, **notes[-1].event_data()}
    warnings = list(state.get("planner_warnings", []))
    warnings += [n.warning for n in notes if n.warning and n.warning not in warnings]
    if not warnings:
        return update, data
    update = {**update, "planner_warnings": warnings}
    if "roadmap" in update:
        shown = update["roadmap"].get("warnings", [])
        update["roadmap"] = {**update["roadmap"], "warnings": shown + [w for w in warnings if w not in shown]}
    return update, data


def _route_after_validation(state: RoadmapState) -> str:
    return ROADMAP_EDIT if state.get("issues") else HUMAN_REVIEW


def _route_after_review(state: RoadmapState) -> str:
    return FINALIZE if state["decision"].get("approved") else ROADMAP_EDIT


def build_graph(planner: Planner, catalog: Catalog, hooks: StepHooks, saver: BaseCheckpointSaver[Any] | None,
                *, max_fix_rounds: int = 3, max_review_rounds: int = 10,
                step_timeout: float = 120.0) -> CompiledStateGraph[Any, Any, Any, Any]:
    nodes = _Nodes(planner, catalog, max_fix_rounds, max_review_rounds)

    def step(name: str, body: Step) -> Node:
        async def node(state: RoadmapState) -> dict[str, Any]:
            await hooks.step_started(state["task_id"], name, language=language_of(state))
            with collect_notes() as notes:
                async with asyncio.timeout(step_timeout):
                    update, message, data = await body(state)
            update, data = _with_planner_notes(state, update, data, notes)
            await hooks.step_completed(state["task_id"], name, message, data)
            return update
        return node

    async def review(state: RoadmapState) -> dict[str, Any]:
        # No "started" event: this node runs again from the top when the decision resumes it.
        await hooks.step_started(state["task_id"], HUMAN_REVIEW, language=language_of(state), announce=False)
        update = await nodes.human_review(state)
        verdict = "step.review.approved" if update["decision"].get("approved") else "step.review.rejected"
        await hooks.step_completed(state["task_id"], HUMAN_REVIEW,
                                   text(verdict, language_of(state), round=update["review_round"]),
                                   {"review_round": update["review_round"], **update["decision"]})
        return update

    async def finalize(state: RoadmapState) -> dict[str, Any]:
        await hooks.step_started(state["task_id"], FINALIZE, language=language_of(state))
        artifacts = await hooks.finalize(state["task_id"], Roadmap.model_validate(state["roadmap"]))
        await hooks.step_completed(state["task_id"], FINALIZE, text("step.finalize.done", language_of(state)),
                                   {"artifacts": artifacts})
        return {"artifacts": artifacts}

    graph = StateGraph(RoadmapState)
    graph.add_node(INTENT_ANALYSIS, step(INTENT_ANALYSIS, nodes.intent_analysis))
    graph.add_node(CURRICULUM_DESIGN, step(CURRICULUM_DESIGN, nodes.curriculum_design))
    graph.add_node(STRUCTURE_VALIDATION, step(STRUCTURE_VALIDATION, nodes.structure_validation))
    graph.add_node(ROADMAP_EDIT, step(ROADMAP_EDIT, nodes.roadmap_edit))
    graph.add_node(HUMAN_REVIEW, review)
    graph.add_node(FINALIZE, finalize)
    graph.add_edge(START, INTENT_ANALYSIS)
    graph.add_edge(INTENT_ANALYSIS, CURRICULUM_DESIGN)
    graph.add_edge(CURRICULUM_DESIGN, STRUCTURE_VALIDATION)
    graph.add_conditional_edges(STRUCTURE_VALIDATION, _route_after_validation, [ROADMAP_EDIT, HUMAN_REVIEW])
    graph.add_conditional_edges(HUMAN_REVIEW, _route_after_review, [ROADMAP_EDIT, FINALIZE])
    graph.add_edge(ROADMAP_EDIT, STRUCTURE_VALIDATION)
    graph.add_edge(FINALIZE, END)
    return graph.compile(checkpointer=saver)
