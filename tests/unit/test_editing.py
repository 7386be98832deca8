"""Review feedback applied to a roadmap: what changes, what is said about it, and the invariants still hold."""

from __future__ import annotations

import pytest

from roadmap_agent.domain.catalog import load_catalog
from roadmap_agent.domain.editing import edit_roadmap
from roadmap_agent.domain.models import Intent, Roadmap
from roadmap_agent.domain.planning import design_curriculum
from roadmap_agent.domain.render import roadmap_to_markdown
from roadmap_agent.domain.schedule import weeks_needed
from roadmap_agent.domain.validation import validate_roadmap

CATALOG = load_catalog()


DOCKER = ("devops.docker", "docker.dockerfile", "devops.docker_compose")  # what "Docker" names


def _backend(language: str = "en", weeks: int = 13) -> Roadmap:
    intent = Intent(goal="backend", domains=["backend"], known_skills=["python"], hours_per_week=10, weeks=weeks,
                    language=language)  # type: ignore[arg-type]
    return design_curriculum(intent, CATALOG, "rm-edit")


def _hours(roadmap: Roadmap, concept_id: str) -> float:
    return next(c.hours for c in roadmap.concepts() if c.id == concept_id)


def _core_hours(roadmap: Roadmap) -> float:
    return sum(c.hours for c in roadmap.core_concepts() if c.core)


def _scheduled_stretch(roadmap: Roadmap) -> set[str]:
    return {c.id for c in roadmap.core_concepts() if not c.core}


def _optional(roadmap: Roadmap) -> set[str]:
    return {c.id for c in roadmap.concepts() if c.optional}


def test_skip_removes_the_concept_and_keeps_dependents_valid() -> None:
    roadmap = _backend()
    edited, changes = edit_roadmap(roadmap, "skip Docker", CATALOG, ["backend"])
    assert not set(DOCKER) & set(edited.concept_ids()) and set(DOCKER) <= set(edited.assumed_known)
    # the core loses exactly Docker's hours; the freed budget may schedule a stretch topic, never overrun
    assert _core_hours(edited) == pytest.approx(_core_hours(roadmap) - _hours(roadmap, "devops.docker"))
    assert edited.total_hours <= 10 * 13 and edited.weeks == 13
    assert validate_roadmap(edited) == []
    # one sentence for the one request, naming what was removed (not the Docker concepts that were not there)
    present = [c for c in roadmap.concepts() if c.id in DOCKER]
    removed = ", ".join(f"{CATALOG.concepts[c.id].name.en} ({c.hours:g} h)" for c in present)
    assert changes == [f"Removed {removed}; treated as already known."]


def test_add_brings_missing_prerequisites_in_order() -> None:
    edited, changes = edit_roadmap(_backend(), "add Kubernetes", CATALOG, ["backend"])
    ids = edited.concept_ids()
    assert "devops.kubernetes" in ids and ids.index("devops.docker") < ids.index("devops.kubernetes")
    assert validate_roadmap(edited) == [] and any("Kubernetes" in c for c in changes)


def test_more_time_and_a_new_duration_that_the_core_cannot_fit() -> None:
    roadmap = _backend()
    assert _scheduled_stretch(roadmap)  # 13 weeks leave room for a stretch topic
    edited, changes = edit_roadmap(roadmap, "more time on SQL, make it 8 weeks", CATALOG, ["backend"])
    assert _hours(edited, "databases.sql_basics") == 1.5 * _hours(roadmap, "databases.sql_basics")
    # 80 h cannot hold the core: nothing optional is scheduled, and the roadmap takes the weeks the core needs
    assert _scheduled_stretch(edited) == set() and _scheduled_stretch(roadmap) <= _optional(edited)
    assert edited.requested_weeks == 8 and edited.weeks == weeks_needed(edited.total_hours, 10) > 8
    assert edited.title.startswith("Backend") and f"({edited.weeks} weeks" in edited.title
    assert any(w.startswith("Over budget:") and "8 weeks" in w for w in edited.warnings)
    assert validate_roadmap(edited) == [] and len(changes) == 2


def test_a_shorter_duration_refits_the_plan_core_first() -> None:
    roadmap = _backend(weeks=20)  # 200 h: the core and several stretch topics
    edited, changes = edit_roadmap(roadmap, "make it 14 weeks", CATALOG, ["backend"])
    assert changes == ["Set the duration to 14 weeks."]
    assert edited.weeks == 14 and edited.requested_weeks is None and "(14 weeks" in edited.title
    assert not any(w.startswith("Over budget:") for w in edited.warnings)
    assert _core_hours(edited) == _core_hours(roadmap) and edited.total_hours <= 10 * 14
    dropped = _scheduled_stretch(roadmap) - _scheduled_stretch(edited)
    assert dropped and dropped <= _optional(edited)  # stretch that no longer fits becomes optional
    assert validate_roadmap(edited) == []
    longer, _ = edit_roadmap(edited, "make it 20 weeks", CATALOG, ["backend"])  # and comes back with time
    assert longer.weeks == 20 and _scheduled_stretch(longer) > _scheduled_stretch(edited)


@pytest.mark.parametrize("feedback", [
    "skip Docker", "add Kubernetes", "I already know SQL", "more time on SQL, make it 8 weeks",
    "less time on SQL", "skip git", "make it 6 weeks", "I only have 4 hours a week", "make it 40 weeks",
    "skip docker, add k8s and more time on SQL. Make it 8 weeks",
])
def test_an_edit_keeps_every_invariant(feedback: str) -> None:
    roadmap = _backend()
    edited, changes = edit_roadmap(roadmap, feedback, CATALOG, ["backend"])
    assert changes and validate_roadmap(edited) == []
    scheduled = sum(w.hours for w in edited.schedule)
    assert edited.total_hours == pytest.approx(scheduled)
    assert edited.total_hours == pytest.approx(_core_hours(edited) + _scheduled_stretch_hours(edited)
                                               + sum(p.hours for p in edited.projects()))
    over = edited.total_hours > edited.hours_per_week * edited.weeks
    assert not over  # the duration always holds the plan: the asked weeks, or what the core needs (with a warning)
    assert (edited.requested_weeks is not None) == any(w.startswith("Over budget:") for w in edited.warnings)


def _scheduled_stretch_hours(roadmap: Roadmap) -> float:
    return sum(c.hours for c in roadmap.core_concepts() if not c.core)


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
