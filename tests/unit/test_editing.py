"""Review feedback applied to a roadmap: what changes, what is said about it, and the invariants still hold."""

from __future__ import annotations

import pytest

from roadmap_agent.domain.catalog import load_catalog
from roadmap_agent.domain.editing import edit_roadmap
from roadmap_agent.domain.models import Intent, Roadmap
from roadmap_agent.domain.planning import design_curriculum
from roadmap_agent.domain.render import roadmap_to_markdown
from roadmap_agent.domain.validation import validate_roadmap

CATALOG = load_catalog()


def _backend(language: str = "en") -> Roadmap:
    intent = Intent(goal="backend", domains=["backend"], known_skills=["python"], hours_per_week=10, weeks=13,
                    language=language)  # type: ignore[arg-type]
    return design_curriculum(intent, CATALOG, "rm-edit")


def _hours(roadmap: Roadmap, concept_id: str) -> float:
    return next(c.hours for c in roadmap.concepts() if c.id == concept_id)


def test_skip_removes_the_concept_and_keeps_dependents_valid() -> None:
    roadmap = _backend()
    edited, changes = edit_roadmap(roadmap, "skip Docker", CATALOG, ["backend"])
    assert "devops.docker" not in edited.concept_ids() and "devops.docker" in edited.assumed_known
    assert edited.total_hours == pytest.approx(roadmap.total_hours - _hours(roadmap, "devops.docker"))
    assert validate_roadmap(edited) == [] and changes and "Docker" in changes[0]


def test_add_brings_missing_prerequisites_in_order() -> None:
    edited, changes = edit_roadmap(_backend(), "add Kubernetes", CATALOG, ["backend"])
    ids = edited.concept_ids()
    assert "devops.kubernetes" in ids and ids.index("devops.docker") < ids.index("devops.kubernetes")
    assert validate_roadmap(edited) == [] and any("Kubernetes" in c for c in changes)


def test_more_time_and_a_new_duration() -> None:
    roadmap = _backend()
    edited, changes = edit_roadmap(roadmap, "more time on SQL, make it 8 weeks", CATALOG, ["backend"])
    assert _hours(edited, "databases.sql_basics") > _hours(roadmap, "databases.sql_basics")
    assert edited.weeks == 8 and edited.title.startswith("Backend") and "8 weeks" in edited.title
    assert any(w.startswith("Over budget:") for w in edited.warnings)  # 80 h cannot hold this plan
    assert validate_roadmap(edited) == [] and len(changes) == 2


def test_chinese_feedback_and_chinese_change_notes() -> None:
    edited, changes = edit_roadmap(_backend("zh"), "跳过 Docker", CATALOG, ["backend"])
    assert "devops.docker" not in edited.concept_ids()
    assert changes and "已移除" in changes[0]


def test_feedback_that_says_nothing_actionable_changes_nothing() -> None:
    roadmap = _backend()
    edited, changes = edit_roadmap(roadmap, "looks interesting, thanks", CATALOG, ["backend"])
    assert changes == [] and edited.concept_ids() == roadmap.concept_ids()


def test_markdown_export_has_every_stage_concept_and_week() -> None:
    roadmap = _backend()
    markdown = roadmap_to_markdown(roadmap)
    assert markdown.startswith(f"# {roadmap.title}\n")
    for stage in roadmap.stages:
        assert f"## {stage.order}. {stage.name}" in markdown
    for concept in roadmap.concepts():
        assert f"**{concept.name}**" in markdown
    assert f"**Week {len(roadmap.schedule)}**" in markdown
    assert "第 1 周" in roadmap_to_markdown(_backend("zh"))
