"""What changed between two drafts of a roadmap: concepts added, removed, moved, re-timed; hours and weeks;
resources filtered. Pure data (``changes.RoadmapDiff``); the CLI and the API show it before the roadmap."""

from __future__ import annotations

from roadmap_agent.domain.changes import ConceptMove, ConceptRef, RoadmapDiff
from roadmap_agent.domain.models import Concept, Roadmap

_EPSILON = 1e-6


def _placed(roadmap: Roadmap) -> dict[str, tuple[Concept, int, bool]]:
    """Each concept with the order of its stage and whether it is optional."""
    return {c.id: (c, stage.order, c.optional) for stage in roadmap.stages for m in stage.modules
            for c in m.concepts}


def diff_roadmaps(before: Roadmap, after: Roadmap) -> RoadmapDiff:
    old, new = _placed(before), _placed(after)
    diff = RoadmapDiff(hours_before=before.total_hours, hours_after=after.total_hours, weeks_before=before.weeks,
                       weeks_after=after.weeks, projects_before=len(before.projects()),
                       projects_after=len(after.projects()))
    diff.added = [ConceptRef(concept_id=c.id, name=c.name, hours=c.hours) for c, _, _ in new.values()
                  if c.id not in old]
    diff.removed = [ConceptRef(concept_id=c.id, name=c.name, hours=c.hours) for c, _, _ in old.values()
                    if c.id not in new]
    for concept_id, (concept, stage, optional) in new.items():
        if concept_id not in old:
            continue
        was, was_stage, was_optional = old[concept_id]
        move = ConceptMove(concept_id=concept_id, name=concept.name, stage_before=was_stage, stage_after=stage,
                           hours_before=was.hours, hours_after=concept.hours, optional_before=was_optional,
                           optional_after=optional)
        if was_stage != stage or was_optional != optional:
            diff.moved.append(move)
        if abs(was.hours - concept.hours) > _EPSILON:
            diff.retimed.append(move)
        diff.resources_filtered += len({r.url for r in was.resources} - {r.url for r in concept.resources})
    return diff
