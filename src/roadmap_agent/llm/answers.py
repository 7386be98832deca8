"""What a model is asked to answer, as pydantic models: their JSON schema goes into the request (and the
prompt), and every answer is validated against them before ``grounding.py`` maps it onto the catalog.

Lenient on purpose where leniency is safe: unknown keys are ignored, most fields have defaults, and numbers
are clamped during grounding rather than refused here; what cannot be mapped is refused with a message the
model gets back in a repair round.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from roadmap_agent.domain.models import Difficulty, Level, ResourcePreference


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore")


class IntentAnswer(_Answer):
    """The learner's goal, understood: target domains (catalog ids), level, what they know, their time."""

    domains: list[str] = Field(min_length=1, max_length=6, description="Catalog domain ids to learn, in order.")
    level: Level = "beginner"
    known_skills: list[str] = Field(default_factory=list, max_length=50,
                                    description="What the learner already knows: catalog ids or plain names.")
    hours_per_week: int | None = Field(default=None, description="Hours per week, if the goal says so.")
    weeks: int | None = Field(default=None, description="Whole duration in weeks, if the goal says so.")
    preferences: list[str] = Field(default_factory=list, max_length=10)
    technologies: list[str] = Field(default_factory=list, max_length=10,
                                    description="Languages, frameworks and tools the goal names (domain ids).")


class ConceptAnswer(_Answer):
    id: str | None = Field(default=None, description="The catalog id when the concept is in the catalog.")
    name: str = Field(min_length=1)
    description: str = ""
    hours: float | None = None
    difficulty: Difficulty | None = None
    prerequisites: list[str] = Field(default_factory=list, description="Ids (or names) of concepts needed first.")
    optional: bool = Field(default=False, description="True for a concept beyond the core, outside the budget.")


class ModuleAnswer(_Answer):
    name: str = Field(min_length=1)
    concepts: list[ConceptAnswer] = Field(min_length=1)


class ProjectAnswer(_Answer):
    title: str = Field(min_length=1)
    description: str = ""
    acceptance_criteria: list[str] = Field(default_factory=list, max_length=6)
    hours: float | None = None


class StageAnswer(_Answer):
    name: str = Field(min_length=1)
    modules: list[ModuleAnswer] = Field(min_length=1)
    project: ProjectAnswer | None = Field(default=None, description="The small build that ends the stage.")


class CurriculumAnswer(_Answer):
    """A staged curriculum: stages of modules of concepts, in learning order."""

    title: str = Field(min_length=1)
    summary: str = ""
    stages: list[StageAnswer] = Field(min_length=1, max_length=8)


class OrderAnswer(_Answer):
    first: str = Field(min_length=1, description="The concept to learn first (id or name).")
    then: str = Field(min_length=1, description="The concept to learn after it (id or name).")


class EditAnswer(_Answer):
    """Review feedback as changes: concepts to skip, know, add, give more or less time; a new duration, pace or
    date to finish by; the level; an order; resource preferences; more projects; and what was not understood."""

    skip: list[str] = Field(default_factory=list, description="Concepts the learner does not want (ids or names).")
    known: list[str] = Field(default_factory=list, description="Concepts the learner already knows.")
    add: list[str] = Field(default_factory=list, description="Concepts to add (catalog ids or names).")
    more_time: list[str] = Field(default_factory=list)
    less_time: list[str] = Field(default_factory=list)
    weeks: int | None = None
    hours_per_week: int | None = None
    finish_by: str | None = Field(default=None, description="Date to finish by, YYYY-MM-DD.")
    level: Literal["easier", "harder"] | None = None
    start_with: list[str] = Field(default_factory=list, description="Concepts to move as early as possible.")
    before: list[OrderAnswer] = Field(default_factory=list, max_length=10)
    resources: list[ResourcePreference] = Field(default_factory=list, max_length=5)
    more_projects: bool = False
    not_understood: list[str] = Field(default_factory=list, max_length=10,
                                      description="Parts of the feedback that match none of the fields.")


def schema_of(answer: type[BaseModel]) -> dict[str, Any]:
    return answer.model_json_schema()


def schema_text(answer: type[BaseModel]) -> str:
    """The schema as compact JSON for a prompt (endpoints without JSON-schema support still see it)."""
    return json.dumps(schema_of(answer), ensure_ascii=False, separators=(",", ":"))
