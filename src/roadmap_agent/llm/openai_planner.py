"""The model-backed planner: prompts in the request's language -> the model's JSON -> pydantic -> the catalog.

Each step renders its versioned prompt (``templates.py``), asks the model through ``LLMClient`` (JSON-schema
response format where the endpoint has it), validates the answer against ``answers.py`` and grounds it in the
catalog (``grounding.py``). An answer that is not JSON, breaks the schema or cannot be grounded is sent back
with the reason, up to ``LLM_REPAIR_ATTEMPTS`` times; then ``InvalidModelOutput``. Edits: the model reads the
feedback into operations and the domain applies them, so changes stay grounded and the change list is true.

Tokens and cost are logged per step (``llm_step_usage``) and recorded in the step's ``PlannerNote``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from roadmap_agent.domain.catalog import Catalog
from roadmap_agent.domain.changes import EditReport
from roadmap_agent.domain.lang import detect_language
from roadmap_agent.domain.models import Intent, Language, LearnerRequest, Roadmap
from roadmap_agent.domain.selection import chosen_options, select
from roadmap_agent.errors import InvalidModelOutput
from roadmap_agent.llm.answers import CurriculumAnswer, EditAnswer, IntentAnswer, schema_of, schema_text
from roadmap_agent.llm.base import PlannerNote, record
from roadmap_agent.llm.client import Completion, LLMClient, Message
from roadmap_agent.llm.grounding import Names, apply_answer, intent_from, roadmap_from
from roadmap_agent.llm.templates import PROMPT_VERSION, render
from roadmap_agent.logging import get_logger
from roadmap_agent.settings import LLMSettings
from roadmap_agent.steps import CURRICULUM_DESIGN, INTENT_ANALYSIS, ROADMAP_EDIT

log = get_logger(__name__)

MAX_ECHO = 4000  # characters of an invalid answer sent back in a repair round
MAX_LISTED = 120  # catalog lines in a prompt
THINKING = re.compile(r"<think>.*?</think>", re.DOTALL)  # reasoning models (DeepSeek-R1, Qwen3) think aloud first

A = TypeVar("A", bound=BaseModel)
R = TypeVar("R")


class LLMPlanner:
    name = "llm"

    def __init__(self, client: LLMClient, catalog: Catalog, settings: LLMSettings) -> None:
        self.client = client
        self.catalog = catalog
        self.settings = settings
        self.names = Names(catalog)

    async def analyze_intent(self, request: LearnerRequest) -> Intent:
        language = request.language or detect_language(request.goal)
        domains = "\n".join(f"{d.id}: {d.name.get(language)}" for d in self.catalog.domains.values())
        messages = render(INTENT_ANALYSIS, language, goal=request.goal, hints=_hints(request, language),
                          domains=domains, schema=schema_text(IntentAnswer))
        return await self._ask(INTENT_ANALYSIS, language, messages, IntentAnswer,
                               lambda answer: intent_from(answer, request, self.names, language))

    async def design_curriculum(self, intent: Intent, roadmap_id: str) -> Roadmap:
        language = intent.language
        selection = select(intent, self.catalog)
        known = selection.known
        listed = sorted(selection.core | set(selection.stretch), key=self.catalog.rank)[:MAX_LISTED]
        # A role's choices as the selection makes them (named, known, else the default), so the prompt never
        # forbids the option the plan is built on (a model's intent names "backend" alone, or knows Python).
        choices = [c for d in intent.domains for c in self.catalog.domains[d].choices]
        taken = {o for c in choices for o in chosen_options(c, intent.domains, intent.known_skills)[0]}
        chosen = [d for d in dict.fromkeys([*intent.technologies, *intent.defaulted,
                                            *(o for c in choices for o in c.options if o in taken)])
                  if d in self.catalog.domains]
        excluded = list(dict.fromkeys(o for c in choices for o in c.options
                                      if o not in taken and o in self.catalog.domains))
        messages = render(CURRICULUM_DESIGN, language, goal=intent.goal, level=intent.level,
                          technologies=", ".join(self.catalog.domains[t].name.get(language) for t in chosen) or "-",
                          excluded=", ".join(self.catalog.domains[o].name.get(language) for o in excluded) or "-",
                          domains=", ".join(intent.domains), hours_per_week=str(intent.hours_per_week),
                          weeks=str(intent.weeks), budget=str(intent.budget_hours),
                          known=", ".join(self._name(c, language) for c in sorted(known)) or "-",
                          catalog="\n".join(self._line(c, language) for c in listed),
                          schema=schema_text(CurriculumAnswer))
        return await self._ask(CURRICULUM_DESIGN, language, messages, CurriculumAnswer,
                               lambda answer: roadmap_from(answer, intent, self.names, roadmap_id))

    async def edit_roadmap(self, roadmap: Roadmap, intent: Intent, feedback: str,
                           today: date | None = None) -> tuple[Roadmap, EditReport]:
        language = roadmap.language
        today = today or date.today()
        present = set(roadmap.concept_ids())
        addable = [c for d in intent.domains for c in self.catalog.domains[d].concept_ids if c not in present]
        messages = render(ROADMAP_EDIT, language, feedback=feedback, weeks=str(roadmap.weeks),
                          hours_per_week=str(roadmap.hours_per_week), today=today.isoformat(),
                          roadmap="\n".join(f"{c.id} | {c.name} | {c.hours:g}" for c in roadmap.concepts()),
                          catalog="\n".join(f"{c} | {self._name(c, language)}" for c in addable[:MAX_LISTED]),
                          schema=schema_text(EditAnswer))
        return await self._ask(ROADMAP_EDIT, language, messages, EditAnswer,
                               lambda answer: apply_answer(answer, roadmap, intent, self.names, today=today))

    def _name(self, concept_id: str, language: Language) -> str:
        concept = self.catalog.concepts.get(concept_id)
        return concept.name.get(language) if concept else concept_id

    def _line(self, concept_id: str, language: Language) -> str:
        concept = self.catalog.concepts[concept_id]
        needs = ", ".join(concept.prerequisites) or "-"
        return f"{concept_id} | {concept.name.get(language)} | {concept.hours:g} | {concept.difficulty} | {needs}"

    async def _ask(self, step: str, language: Language, messages: list[Message], answer_type: type[A],
                   ground: Callable[[A], R]) -> R:
        """Ask, validate, ground; send the problem back up to ``repair_attempts`` times."""
        model = self.settings.model_for(step)
        usage: dict[str, Any] = {"model": model, "prompt_version": PROMPT_VERSION, "language": language,
                                 "calls": 0, "prompt_tokens": 0, "completion_tokens": 0}
        try:
            for attempt in range(1, self.settings.repair_attempts + 2):
                completion = await self.client.complete(step, model, messages, schema_of(answer_type))
                _count(usage, completion)
                try:
                    return ground(parse_answer(completion, answer_type))
                except ValueError as exc:  # not JSON, schema broken, or nothing groundable
                    problem = describe_problem(exc, completion)
                    log.warning("llm_answer_invalid", step=step, model=model, attempt=attempt, problem=problem)
                    messages = [*messages, {"role": "assistant", "content": completion.text[:MAX_ECHO]},
                                *render("repair", language, problem=problem)]
            raise InvalidModelOutput(f"The model's answer for {step} was still invalid after {attempt} attempts: "
                                     f"{problem}")
        finally:
            cost = self.client.cost(usage["prompt_tokens"], usage["completion_tokens"])
            if cost is not None:
                usage["cost"] = cost
            log.info("llm_step_usage", step=step, **usage)
            record(PlannerNote("llm", usage=usage))


def _count(usage: dict[str, Any], completion: Completion) -> None:
    usage["calls"] += 1
    usage["prompt_tokens"] += completion.prompt_tokens
    usage["completion_tokens"] += completion.completion_tokens
    usage["response_format"] = completion.response_format


def _hints(request: LearnerRequest, language: Language) -> str:
    """Structured fields of the request, which win over the text anyway (the model should know them)."""
    given = {"hours_per_week": request.hours_per_week, "weeks": request.weeks, "level": request.level,
             "known_skills": ", ".join(request.known_skills) or None}
    lines = [f"{name}: {value}" for name, value in given.items() if value]
    if not lines:
        return ""
    return ("已给定：" if language == "zh" else "Given: ") + "; ".join(lines)


def parse_answer(completion: Completion, answer_type: type[A]) -> A:
    """The JSON object in the answer (code fences, a leading <think> block or chatter around it are ignored)."""
    text = THINKING.sub("", completion.text)
    start, end = text.find("{"), text.rfind("}")
    if start == -1:
        raise ValueError("the answer contains no JSON object")
    return answer_type.model_validate(json.loads(text[start:end + 1] if end > start else text[start:]))


def describe_problem(error: ValueError, completion: Completion) -> str:
    """One short sentence for the model (and the log) on what was wrong."""
    cut = " The answer was cut off (too long): answer more briefly." if completion.truncated else ""
    if isinstance(error, json.JSONDecodeError):
        return f"not valid JSON ({error.msg} at line {error.lineno}, column {error.colno}).{cut}"
    if isinstance(error, ValidationError):
        details = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'answer'}: {e['msg']}"
                            for e in error.errors()[:5])
        return f"it does not follow the schema ({details}).{cut}"
    return f"{error}.{cut}"
