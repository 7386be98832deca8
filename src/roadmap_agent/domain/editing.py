"""Apply review feedback to a roadmap and say, in the roadmap's language, what changed.

``parse_feedback`` (feedback.py) turns "skip Docker, make it 8 weeks" / "跳过 Docker" into operations; this
module applies them: skipped concepts become "assumed known" so their dependents stay valid, added concepts
bring their missing prerequisites, hours scale, and the budget changes; then the roadmap is re-arranged.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from roadmap_agent.domain.catalog import Catalog
from roadmap_agent.domain.feedback import (
    AddConcepts,
    EditOp,
    ScaleHours,
    SetHoursPerWeek,
    SetWeeks,
    SkipConcepts,
    parse_feedback,
)
from roadmap_agent.domain.models import MAX_HOURS_PER_WEEK, MAX_WEEKS, Concept, Language, Roadmap
from roadmap_agent.domain.planning import arrange, plan_of
from roadmap_agent.domain.schedule import round_hours


@dataclass
class _Draft:
    concepts: dict[str, Concept]
    known: set[str]
    hours_per_week: int
    weeks: int
    language: Language
    changes: list[str] = field(default_factory=list)

    def say(self, en: str, zh: str) -> None:
        self.changes.append(zh if self.language == "zh" else en)


def edit_roadmap(roadmap: Roadmap, feedback: str, catalog: Catalog, domains: list[str],
                 level: str = "beginner") -> tuple[Roadmap, list[str]]:
    """The roadmap with ``feedback`` applied, and one sentence per change (empty if nothing understood)."""
    return apply_edits(roadmap, parse_feedback(feedback, catalog), catalog, domains, level)


def apply_edits(roadmap: Roadmap, ops: list[EditOp], catalog: Catalog, domains: list[str],
                level: str = "beginner") -> tuple[Roadmap, list[str]]:
    draft = _Draft(concepts={c.id: c.model_copy(deep=True) for c in roadmap.concepts()},
                   known=set(roadmap.assumed_known), hours_per_week=roadmap.hours_per_week,
                   weeks=roadmap.weeks, language=roadmap.language)
    base = plan_of(roadmap, domains, level)
    draft.weeks = base.weeks
    weeks_before = draft.weeks
    for op in ops:
        _apply(op, draft, catalog)
    plan = replace(base, concepts=list(draft.concepts.values()), assumed_known=sorted(draft.known),
                   hours_per_week=draft.hours_per_week, weeks=draft.weeks,
                   weeks_stated=base.weeks_stated or draft.weeks != weeks_before)
    return arrange(plan, catalog), draft.changes


def _apply(op: EditOp, draft: _Draft, catalog: Catalog) -> None:
    match op:
        case SkipConcepts(concept_ids=ids):
            _skip(ids, draft, catalog)
        case AddConcepts(concept_ids=ids):
            _add(ids, draft, catalog)
        case ScaleHours(concept_ids=ids, factor=factor):
            _scale(ids, factor, draft, catalog)
        case SetWeeks(weeks=weeks):
            draft.weeks = max(1, min(MAX_WEEKS, weeks))
            draft.say(f"Set the duration to {draft.weeks} weeks.", f"学习周期改为 {draft.weeks} 周。")
        case SetHoursPerWeek(hours=hours):
            draft.hours_per_week = max(1, min(MAX_HOURS_PER_WEEK, hours))
            draft.say(f"Set the pace to {draft.hours_per_week} h/week.", f"每周投入改为 {draft.hours_per_week} 小时。")


def _name(concept_id: str, draft: _Draft, catalog: Catalog) -> str:
    if concept_id in catalog.concepts:
        return catalog.concepts[concept_id].name.get(draft.language)
    return draft.concepts[concept_id].name if concept_id in draft.concepts else concept_id


def _names(concept_ids: list[str], draft: _Draft, catalog: Catalog) -> tuple[str, str]:
    """The concepts' names as an English and a Chinese list."""
    names = [_name(c, draft, catalog) for c in concept_ids]
    return ", ".join(names), "、".join(names)


# One sentence per operation: a named domain ("skip Git") stands for many concepts, and the learner asked once.


def _skip(ids: tuple[str, ...], draft: _Draft, catalog: Catalog) -> None:
    removed: list[Concept] = []
    absent: list[str] = []
    for concept_id in ids:
        draft.known.add(concept_id)
        concept = draft.concepts.pop(concept_id, None)
        if concept is None:
            absent.append(concept_id)
        else:
            removed.append(concept)
    if removed:
        en = ", ".join(f"{c.name} ({c.hours:g} h)" for c in removed)
        zh = "、".join(f"{c.name}（{c.hours:g} 小时）" for c in removed)
        draft.say(f"Removed {en}; treated as already known.", f"已移除{zh}，视为已掌握。")
    elif absent:
        en, zh = _names(absent, draft, catalog)
        verb = "was" if len(absent) == 1 else "were"
        draft.say(f"{en} {verb} not in the roadmap; noted as already known.", f"路线中没有{zh}，已记为已掌握。")


def _add(ids: tuple[str, ...], draft: _Draft, catalog: Catalog) -> None:
    wanted = [c for c in ids if c not in draft.concepts]
    if not wanted:
        en, zh = _names(list(ids), draft, catalog)
        verb = "is" if len(ids) == 1 else "are"
        draft.say(f"{en} {verb} already in the roadmap.", f"{zh}已在路线中。")
        return
    draft.known.difference_update(wanted)
    new = catalog.closure(wanted, stop_at=draft.known) - draft.concepts.keys()
    for added in sorted(new, key=catalog.rank):
        draft.concepts[added] = catalog.concepts[added].to_concept(draft.language)
    hours = sum(draft.concepts[c].hours for c in new)
    name_en, name_zh = _names(wanted, draft, catalog)
    extra = sorted(new - set(wanted), key=catalog.rank)
    extra_en, extra_zh = _names(extra, draft, catalog)
    with_en = f" with its prerequisites {extra_en}" if extra else ""
    with_zh = f"及其前置知识{extra_zh}" if extra else ""
    draft.say(f"Added {name_en}{with_en} ({hours:g} h).", f"已添加{name_zh}{with_zh}（{hours:g} 小时）。")


def _scale(ids: tuple[str, ...], factor: float, draft: _Draft, catalog: Catalog) -> None:
    scaled: list[tuple[str, float, float]] = []
    for concept_id in ids:
        concept = draft.concepts.get(concept_id)
        if concept is None:
            continue
        before = concept.hours
        concept.hours = round_hours(before * factor)
        scaled.append((concept.name, before, concept.hours))
    if scaled:
        en = "; ".join(f"{name}: {before:g} h -> {after:g} h" for name, before, after in scaled)
        zh = "；".join(f"{name}：{before:g} 小时 -> {after:g} 小时" for name, before, after in scaled)
        draft.say(f"{en}.", f"{zh}。")
    else:  # say so rather than change nothing in silence
        en, zh = _names(list(ids), draft, catalog)
        draft.say(f"{en}: not in the roadmap; no hours changed.", f"路线中没有{zh}，学时未变。")
