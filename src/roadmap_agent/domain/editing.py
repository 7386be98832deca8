"""Apply review feedback to a roadmap and say, in the roadmap's language, what changed and what did not.

``read_feedback`` (feedback.py) turns "skip Docker, make it 8 weeks" / "跳过 Docker" into operations and the parts
it could not read; this module applies the operations and returns the roadmap with an ``EditReport``: one
``Change`` per applied request, one ``NotUnderstood`` (with a hint of what can be said) per part that was not
applied, and the diff against the previous draft.

- skip X: X leaves the roadmap and is listed in ``skipped`` (not ``assumed_known``: the learner may want it
  later); concepts that build on X stay, and the change says so. "I already know X": ``assumed_known``.
- add X brings its missing prerequisites; more/less time scales hours; weeks, hours a week or a date to finish
  by change the budget, and the plan is re-fitted (``planning.arrange``: the core first, stretch topics while
  they fit, the rest optional, an over-budget warning with ``requested_weeks`` when the core does not fit).
- easier/harder moves the level one step and scales the hours as the planner does for that level.
- "start with X" / "X before Y" become ordering rules: while arranging, X is made a prerequisite of what should
  follow it (only where no prerequisite says otherwise; when one does, the report says why), and the rules are
  kept in ``Roadmap.ordering`` so later edits keep the order.
- resource preferences ("prefer reading", "no videos", "free only") filter each concept's catalog resources;
  a concept with no resource of the preferred kind keeps what it has, and the report names it.
- "more projects" splits stages so that each part ends with its own project (``projects_per_stage``).

Everything a review asked for lives on the roadmap (``skipped``, ``level``, ``ordering``,
``resource_preferences``, ``projects_per_stage``), so every edit starts from the previous draft and keeps it.

The draft being edited is ``edit_draft.Draft``; each operation is applied by ``edit_apply.py``; the re-fitting
(order rules, ``planning.arrange``, more projects, resource filtering) is ``edit_refit.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date

from roadmap_agent.domain.catalog import Catalog
from roadmap_agent.domain.changes import EditReport
from roadmap_agent.domain.diff import diff_roadmaps
from roadmap_agent.domain.edit_apply import apply_op
from roadmap_agent.domain.edit_draft import Draft
from roadmap_agent.domain.edit_ops import EditOp, Unclear
from roadmap_agent.domain.edit_refit import arrange_draft
from roadmap_agent.domain.feedback import read_feedback
from roadmap_agent.domain.models import LEVELS, Concept, Level, Roadmap
from roadmap_agent.domain.planning import plan_of


def edit_roadmap(roadmap: Roadmap, feedback: str, catalog: Catalog, domains: list[str], level: str = "beginner",
                 *, today: date | None = None) -> tuple[Roadmap, EditReport]:
    """The roadmap with ``feedback`` applied, and the report of what changed and what was not understood."""
    reading = read_feedback(feedback, catalog)
    return apply_edits(roadmap, reading.ops, catalog, domains, level, unclear=reading.unclear, today=today)


def apply_edits(roadmap: Roadmap, ops: Sequence[EditOp], catalog: Catalog, domains: list[str],
                level: str = "beginner", *, unclear: Sequence[Unclear] = (),
                today: date | None = None) -> tuple[Roadmap, EditReport]:
    given: Level = next((v for v in LEVELS if v == level), "beginner")
    start_level: Level = roadmap.level if roadmap.level is not None else given
    base = plan_of(roadmap, domains, start_level)
    draft = Draft(concepts={c.id: _with_catalog_prerequisites(c, catalog) for c in roadmap.concepts()},
                  known=set(roadmap.assumed_known), skipped=set(roadmap.skipped),
                  hours_per_week=roadmap.hours_per_week, weeks=base.weeks, level=start_level,
                  ordering=list(roadmap.ordering), preferences=list(roadmap.resource_preferences),
                  projects_per_stage=roadmap.projects_per_stage, language=roadmap.language, catalog=catalog,
                  today=today or date.today(), level_start=start_level, level_given=roadmap.level is not None,
                  projects_before=len(roadmap.projects()))
    for op in ops:
        apply_op(op, draft)
    for part in unclear:
        key = "edit.not_found" if part.reason == "not_found" else "edit.not_understood"
        draft.cannot(part.text, key, text=part.text)
    if not ops and not unclear:
        draft.cannot("", "edit.nothing")
    plan = replace(base, concepts=list(draft.concepts.values()), assumed_known=sorted(draft.known),
                   hours_per_week=draft.hours_per_week, weeks=draft.weeks, level=draft.level,
                   weeks_stated=base.weeks_stated or draft.weeks_set)
    edited = arrange_draft(plan, draft)
    for finish in draft.after:
        finish(edited)
    return edited, EditReport(applied=draft.applied, not_understood=draft.not_understood,
                              diff=diff_roadmaps(roadmap, edited))


def keep_review_state(source: Roadmap, target: Roadmap) -> Roadmap:
    """``target`` (rebuilt by an auto-fix) with what review asked for on ``source``: skipped topics, level, order,
    resource preferences and projects per stage."""
    return target.model_copy(update={"skipped": list(source.skipped), "level": source.level,
                                     "ordering": list(source.ordering),
                                     "resource_preferences": list(source.resource_preferences),
                                     "projects_per_stage": source.projects_per_stage})


def _with_catalog_prerequisites(concept: Concept, catalog: Catalog) -> Concept:
    """A copy with its real prerequisites: the catalog's (an earlier edit dropped the skipped ones)."""
    copy = concept.model_copy(deep=True)
    if concept.id in catalog.concepts:
        copy.prerequisites = list(catalog.concepts[concept.id].prerequisites)
    return copy
