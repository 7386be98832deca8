"""The roadmap domain: what a learner asks for, what we understood, and the roadmap we build.

Pure data (pydantic models) with no IO. Field names are the public JSON contract of the API and the
CLI's ``--json`` output (see DESIGN.md "API contract"), so rename nothing here without a deprecation.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Level = Literal["beginner", "intermediate", "advanced"]
Difficulty = Literal["beginner", "intermediate", "advanced"]
Language = Literal["en", "zh"]
ResourceKind = Literal["docs", "course", "book", "video", "tutorial", "article", "practice"]
# What a learner asked of the resources in review: "prefer reading", "no videos", "free resources only".
ResourcePreference = Literal["reading", "video", "interactive", "no_video", "free"]

LEVELS: tuple[Level, ...] = ("beginner", "intermediate", "advanced")
DIFFICULTY_RANK: dict[str, int] = {"beginner": 0, "intermediate": 1, "advanced": 2}

MAX_GOAL_CHARS = 2000
MIN_HOURS_PER_WEEK = 1
MAX_HOURS_PER_WEEK = 80
MIN_WEEKS = 1
MAX_WEEKS = 156
MAX_KNOWN_SKILLS = 2000  # what the learner named plus their skill profile


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class LearnerRequest(_Model):
    """What the learner typed, plus the optional structured hints that override the text."""

    goal: str = Field(min_length=1, max_length=MAX_GOAL_CHARS)
    hours_per_week: int | None = Field(default=None, ge=MIN_HOURS_PER_WEEK, le=MAX_HOURS_PER_WEEK)
    weeks: int | None = Field(default=None, ge=MIN_WEEKS, le=MAX_WEEKS)
    level: Level | None = None
    known_skills: list[str] = Field(default_factory=list, max_length=MAX_KNOWN_SKILLS)  # the API takes 100
    # what the learner's skill profile adds (done or known in earlier roadmaps), kept apart from what they sent:
    # an Idempotency-Key compares the request as sent
    profile_skills: list[str] = Field(default_factory=list, max_length=MAX_KNOWN_SKILLS)
    language: Language | None = None
    auto_approve: bool = False
    timezone: str | None = Field(default=None, max_length=64)  # IANA name; the start date's and calendar's zone
    start_date: date | None = None  # when learning starts (default: the day the roadmap is finalized)
    use_skill_profile: bool = True  # skip what the learner finished or knew in earlier roadmaps


class Intent(_Model):
    """The analysed request. ``known_skills`` holds catalog ids (concept or domain ids)."""

    goal: str
    domains: list[str] = Field(min_length=1)
    level: Level = "beginner"
    known_skills: list[str] = Field(default_factory=list)
    hours_per_week: int = Field(default=10, ge=MIN_HOURS_PER_WEEK, le=MAX_HOURS_PER_WEEK)
    weeks: int = Field(default=12, ge=MIN_WEEKS, le=MAX_WEEKS)
    language: Language = "en"
    preferences: list[str] = Field(default_factory=list)
    technologies: list[str] = Field(default_factory=list)  # technology domains the goal names
    defaulted: list[str] = Field(default_factory=list)  # technology domains chosen for a role by default
    topics: list[str] = Field(default_factory=list)  # concepts the goal names ("window functions")
    narrowed: list[str] = Field(default_factory=list)  # domains planned only for the topics the goal names
    uncovered: list[str] = Field(default_factory=list)  # subjects named that the offline catalog does not cover
    weeks_stated: bool = True  # False: the planner picks a realistic duration and says so
    clamped: list[str] = Field(default_factory=list)  # warnings: a value the goal stated, brought into range

    @property
    def budget_hours(self) -> int:
        return self.hours_per_week * self.weeks


class Resource(_Model):
    title: str
    url: str
    kind: ResourceKind = "docs"
    language: Language = "en"


class Concept(_Model):
    id: str
    name: str
    description: str
    hours: float = Field(gt=0)
    difficulty: Difficulty
    prerequisites: list[str] = Field(default_factory=list)
    resources: list[Resource] = Field(default_factory=list)
    core: bool = True  # the goal needs it; False: a stretch topic, scheduled only when the budget allows
    optional: bool = False  # outside the schedule: for when the learner has time (after the core)


class Project(_Model):
    """The small build that ends a stage: practice for the stage's concepts, with checkable criteria."""

    id: str
    title: str
    description: str
    hours: float = Field(gt=0)
    acceptance_criteria: list[str] = Field(default_factory=list)
    concept_ids: list[str] = Field(default_factory=list)


class Module(_Model):
    id: str
    name: str
    concepts: list[Concept] = Field(default_factory=list)


class Stage(_Model):
    id: str
    name: str
    order: int
    modules: list[Module] = Field(default_factory=list)
    project: Project | None = None
    optional: bool = False  # the stage of optional concepts, after the core and outside the schedule


class ScheduleWeek(_Model):
    week: int = Field(ge=1)
    concept_ids: list[str]
    hours: float
    project_ids: list[str] = Field(default_factory=list)


class OrderRule(_Model):
    """A learner's ordering wish from review: ``first`` as early as its prerequisites allow (``then`` None), or
    ``first`` before ``then``."""

    first: str
    then: str | None = None


class Roadmap(_Model):
    id: str
    title: str
    summary: str
    language: Language
    total_hours: float
    weeks: int
    hours_per_week: int
    warnings: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)  # choices made for the learner (a default stack, a duration)
    assumed_known: list[str] = Field(default_factory=list)
    requested_weeks: int | None = None  # what the learner asked for, when the core needs longer (or None)
    # What review edits asked for, kept so the next edit (and its re-fit) keeps it:
    skipped: list[str] = Field(default_factory=list)  # left out on request; not known (unlike assumed_known)
    level: Level | None = None  # set when review changed the level ("make it easier"); None: the intent's
    ordering: list[OrderRule] = Field(default_factory=list)  # "start with X", "X before Y"
    resource_preferences: list[ResourcePreference] = Field(default_factory=list)
    projects_per_stage: int = Field(default=1, ge=1, le=3)  # "more projects": stages split, one project each
    stages: list[Stage] = Field(default_factory=list)
    schedule: list[ScheduleWeek] = Field(default_factory=list)
    # Finished (done or skipped) before this version was re-planned: kept for the record, outside the schedule.
    completed: list[Concept] = Field(default_factory=list)

    def concepts(self) -> list[Concept]:
        """All concepts in roadmap order (stage, module, concept), optional ones last."""
        return [c for s in self.stages for m in s.modules for c in m.concepts]

    def core_concepts(self) -> list[Concept]:
        """The scheduled concepts (everything but the optional ones)."""
        return [c for c in self.concepts() if not c.optional]

    def projects(self) -> list[Project]:
        return [s.project for s in self.stages if s.project is not None]

    def concept_ids(self) -> list[str]:
        return [c.id for c in self.concepts()]


class ReviewDecision(_Model):
    approved: bool
    feedback: str | None = Field(default=None, max_length=MAX_GOAL_CHARS)
