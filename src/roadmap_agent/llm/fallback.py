"""The model first, the offline planner as the safety net: every step gets an answer, and says whose.

``FallbackPlanner`` gives each step to the model planner within ``LLM_STEP_TIMEOUT`` (repairs included; capped
below the workflow's step timeout so the offline planner always has time). When the model is unreachable,
times out, or keeps answering invalid JSON, the offline planner answers instead and the step's ``PlannerNote``
says ``planner: offline`` with the reason, plus a warning in the learner's language that goes on the roadmap.
A circuit breaker skips the model for ``LLM_BREAKER_RESET`` seconds after ``LLM_BREAKER_FAILURES`` steps in a
row found it unavailable, so a dead endpoint does not cost every run its timeouts.

``open_planner`` builds what the settings ask for: the offline planner alone, or the model behind this net.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import date
from typing import TYPE_CHECKING, TypeVar

from roadmap_agent.breaker import CircuitBreaker
from roadmap_agent.deadline import Deadline, DeadlineExceeded
from roadmap_agent.domain.catalog import Catalog
from roadmap_agent.domain.changes import EditReport
from roadmap_agent.domain.lang import detect_language
from roadmap_agent.domain.models import Intent, Language, LearnerRequest, Roadmap
from roadmap_agent.errors import InvalidModelOutput, LLMUnavailable
from roadmap_agent.llm.base import Planner, PlannerNote, collect_notes, record
from roadmap_agent.llm.offline import OfflinePlanner
from roadmap_agent.logging import get_logger
from roadmap_agent.settings import Settings
from roadmap_agent.steps import CURRICULUM_DESIGN, INTENT_ANALYSIS, ROADMAP_EDIT

if TYPE_CHECKING:
    from roadmap_agent.llm.client import LLMClient

log = get_logger(__name__)

T = TypeVar("T")
STEP_SHARE = 0.8  # of the workflow's step timeout the model may use; the rest is the offline planner's
MAX_REASON = 240
STEP_NAMES: dict[str, dict[Language, str]] = {
    INTENT_ANALYSIS: {"en": "goal analysis", "zh": "目标分析"},
    CURRICULUM_DESIGN: {"en": "curriculum design", "zh": "课程设计"},
    ROADMAP_EDIT: {"en": "the roadmap edit", "zh": "路线修改"},
}


def fallback_warning(step: str, language: Language) -> str:
    name = STEP_NAMES[step][language]
    if language == "zh":
        return f"AI 模型未能完成{name}，此步骤由离线规划器完成（基于内置技能目录）。"
    return f"The AI model could not do the {name}; the offline planner (bundled skill catalog) did it instead."


class FallbackPlanner:
    name = "llm+offline"

    def __init__(self, primary: Planner, offline: OfflinePlanner, *, step_timeout: float,
                 breaker: CircuitBreaker) -> None:
        self.primary = primary
        self.offline = offline
        self.step_timeout = step_timeout
        self.breaker = breaker
        self._deadline = Deadline(cancel_late=True)

    async def analyze_intent(self, request: LearnerRequest) -> Intent:
        language = request.language or detect_language(request.goal)
        return await self._run(INTENT_ANALYSIS, language, lambda: self.primary.analyze_intent(request),
                               lambda: self.offline.analyze_intent(request))

    async def design_curriculum(self, intent: Intent, roadmap_id: str) -> Roadmap:
        return await self._run(CURRICULUM_DESIGN, intent.language,
                               lambda: self.primary.design_curriculum(intent, roadmap_id),
                               lambda: self.offline.design_curriculum(intent, roadmap_id))

    async def edit_roadmap(self, roadmap: Roadmap, intent: Intent, feedback: str,
                           today: date | None = None) -> tuple[Roadmap, EditReport]:
        return await self._run(ROADMAP_EDIT, roadmap.language,
                               lambda: self.primary.edit_roadmap(roadmap, intent, feedback, today),
                               lambda: self.offline.edit_roadmap(roadmap, intent, feedback, today))

    async def _run(self, step: str, language: Language, primary: Callable[[], Awaitable[T]],
                   offline: Callable[[], Awaitable[T]]) -> T:
        if not self.breaker.allow():
            skipped = (f"skipped: the model was unavailable {self.breaker.failure_threshold} times in a row; "
                       f"trying it again {self.breaker.reset_after:g} s after the last failure")
            return await self._fall_back(step, language, skipped, offline, {})
        reason: str | None = None
        with collect_notes() as notes:  # the model planner's note (its token usage) is folded into ours
            try:
                result = await self._deadline.run(primary(), self.step_timeout)
            except (LLMUnavailable, DeadlineExceeded) as exc:
                self.breaker.record_failure()
                reason = exc.message if isinstance(exc, LLMUnavailable) else (
                    f"no usable answer within {self.step_timeout:g} s (LLM_STEP_TIMEOUT)")
            except InvalidModelOutput as exc:
                self.breaker.record_success()  # the endpoint works; this answer did not
                reason = exc.message
            except Exception as exc:  # a bug must not cost the learner the run: log it loudly, answer offline
                self.breaker.release()
                log.exception("planner_error", step=step)
                reason = f"unexpected {type(exc).__name__} in the model planner"
            else:
                self.breaker.record_success()
        if reason is None:
            record(PlannerNote("llm", usage=_usage(notes)))
            return result
        return await self._fall_back(step, language, reason, offline, _usage(notes))

    async def _fall_back(self, step: str, language: Language, reason: str, offline: Callable[[], Awaitable[T]],
                         usage: dict[str, object]) -> T:
        reason = reason if len(reason) <= MAX_REASON else reason[: MAX_REASON - 1] + "…"
        log.warning("planner_fallback", step=step, planner="offline", reason=reason)
        with collect_notes():  # the offline planner's own note is replaced by ours
            result = await offline()
        record(PlannerNote("offline", fallback_reason=reason, warning=fallback_warning(step, language),
                           usage=usage))
        return result


def _usage(notes: list[PlannerNote]) -> dict[str, object]:
    """The model planner's token usage, when it got as far as a call."""
    return dict(notes[-1].usage) if notes and notes[-1].usage.get("calls") else {}


@asynccontextmanager
async def open_planner(settings: Settings, catalog: Catalog) -> AsyncIterator[tuple[Planner, LLMClient | None]]:
    """The planner for ``settings``, and the LLM client (for the health probe) when a model is configured."""
    offline = OfflinePlanner(catalog)
    llm = settings.llm
    if not llm.enabled:
        if llm.base_url:
            log.warning("llm_not_configured", message="LLM_BASE_URL is set but LLM_MODEL is not: using the "
                        "offline planner. Set LLM_MODEL to the model to use.")
        yield offline, None
        return
    from roadmap_agent.llm.client import LLMClient  # openai costs ~0.4 s to import: only with a model
    from roadmap_agent.llm.openai_planner import LLMPlanner

    async with AsyncExitStack() as stack:
        client = await stack.enter_async_context(LLMClient.from_settings(llm))
        budget = min(llm.step_timeout, settings.resilience.step_timeout * STEP_SHARE)
        planner = FallbackPlanner(LLMPlanner(client, catalog, llm), offline, step_timeout=budget,
                                  breaker=CircuitBreaker(llm.breaker_failures, llm.breaker_reset))
        log.info("llm_planner_enabled", base_url=client.target, model=llm.model, step_budget_s=budget,
                 response_format=llm.response_format)
        yield planner, client
