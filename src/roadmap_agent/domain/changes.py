"""What a review edit did, as data: the changes it applied, what it could not understand, and the diff.

``EditReport`` is what editing returns and what the workflow stores with the draft (``changes`` on
``GET /api/v1/tasks/{id}/roadmap`` and in the ``human_review_required`` event); the CLI and the web page render
it. Every message is already in the roadmap's language.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

ChangeKind = Literal["skipped", "known", "added", "retimed", "duration", "pace", "level", "order", "resources",
                     "projects", "unchanged"]


class Change(BaseModel):
    kind: ChangeKind
    message: str  # one sentence for the learner, in the roadmap's language
    concept_ids: list[str] = Field(default_factory=list)


class NotUnderstood(BaseModel):
    text: str  # the part of the feedback that was not applied
    message: str  # why, with a hint of what can be said ("you can say: skip X, add X, ...")


class ConceptRef(BaseModel):
    concept_id: str
    name: str
    hours: float


class ConceptMove(BaseModel):
    concept_id: str
    name: str
    stage_before: int | None = None  # stage order, None when absent
    stage_after: int | None = None
    hours_before: float | None = None
    hours_after: float | None = None
    optional_before: bool = False  # outside the schedule before the edit
    optional_after: bool = False


class RoadmapDiff(BaseModel):
    added: list[ConceptRef] = Field(default_factory=list)
    removed: list[ConceptRef] = Field(default_factory=list)
    moved: list[ConceptMove] = Field(default_factory=list)  # to another stage, or between core and optional
    retimed: list[ConceptMove] = Field(default_factory=list)  # hours changed
    hours_before: float = 0
    hours_after: float = 0
    weeks_before: int = 0
    weeks_after: int = 0
    resources_filtered: int = 0  # resources removed by a preference (e.g. "prefer reading": no videos)
    projects_before: int = 0
    projects_after: int = 0


class EditReport(BaseModel):
    applied: list[Change] = Field(default_factory=list)
    not_understood: list[NotUnderstood] = Field(default_factory=list)
    diff: RoadmapDiff = Field(default_factory=RoadmapDiff)

    def sentences(self) -> list[str]:
        """Every applied change and every part not understood, one sentence each (the old ``changes`` list)."""
        return [c.message for c in self.applied] + [n.message for n in self.not_understood]
