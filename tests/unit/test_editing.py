"""Review feedback applied to a roadmap: what changes, what is said about it, and the invariants still hold."""

from __future__ import annotations

from datetime import date

import pytest

from roadmap_agent.domain.catalog import load_catalog
from roadmap_agent.domain.changes import EditReport
from roadmap_agent.domain.edit_refit import PAID_HOSTS
from roadmap_agent.domain.editing import edit_roadmap, keep_review_state
from roadmap_agent.domain.models import Intent, Roadmap
from roadmap_agent.domain.planning import design_curriculum
from roadmap_agent.domain.render import roadmap_to_markdown
from roadmap_agent.domain.schedule import round_hours, weeks_needed
from roadmap_agent.domain.validation import validate_roadmap

CATALOG = load_catalog()


DOCKER = ("devops.docker", "docker.dockerfile", "devops.docker_compose")  # what "Docker" names


TODAY = date(2026, 1, 1)


def _backend(language: str = "en", weeks: int = 13) -> Roadmap:
    intent = Intent(goal="backend", domains=["backend"], known_skills=["python"], hours_per_week=10, weeks=weeks,
                    language=language)
    return design_curriculum(intent, CATALOG, "rm-edit")


def _domain(domain: str, language: str = "en", weeks: int = 20) -> Roadmap:
    intent = Intent(goal=domain, domains=[domain], hours_per_week=10, weeks=weeks,
                    language=language)
    return design_curriculum(intent, CATALOG, "rm-edit")


def _edit(roadmap: Roadmap, feedback: str, domains: tuple[str, ...] = ("backend",)) -> tuple[Roadmap, EditReport]:
    edited, report = edit_roadmap(roadmap, feedback, CATALOG, list(domains), today=TODAY)
    assert validate_roadmap(edited) == [], feedback  # every edit keeps every invariant
    return edited, report


def _kinds(report: EditReport) -> list[str]:
    return [c.kind for c in report.applied]


def _first_index(roadmap: Roadmap, ids: tuple[str, ...] | list[str]) -> int:
    order = roadmap.concept_ids()
    return min(order.index(c) for c in ids if c in order)


def _hours(roadmap: Roadmap, concept_id: str) -> float:
    return next(c.hours for c in roadmap.concepts() if c.id == concept_id)


def _core_hours(roadmap: Roadmap) -> float:
    return sum(c.hours for c in roadmap.core_concepts() if c.core)


def _scheduled_stretch(roadmap: Roadmap) -> set[str]:
    return {c.id for c in roadmap.core_concepts() if not c.core}


def _optional(roadmap: Roadmap) -> set[str]:
    return {c.id for c in roadmap.concepts() if c.optional}


def test_skip_removes_the_concept_lists_it_as_skipped_not_known() -> None:
    roadmap = _backend()
    edited, report = _edit(roadmap, "skip Docker")
    assert not set(DOCKER) & set(edited.concept_ids())
    assert "devops.docker" in edited.skipped and not set(DOCKER) & set(edited.assumed_known)
    # the core loses exactly Docker's hours; the freed budget may schedule a stretch topic, never overrun
    assert _core_hours(edited) == pytest.approx(_core_hours(roadmap) - _hours(roadmap, "devops.docker"))
    assert edited.total_hours <= 10 * 13 and edited.weeks == 13
    docker = f"{CATALOG.concepts['devops.docker'].name.en} ({_hours(roadmap, 'devops.docker'):g} h)"
    assert report.applied[0].kind == "skipped" and docker in report.applied[0].message
    assert "devops.docker" in report.applied[0].concept_ids and not report.not_understood
    # what builds on Docker stays, and the report says so rather than hiding the gap
    assert any(c.kind == "skipped" and "backend.deployment" in c.concept_ids for c in report.applied[1:])
    assert [r.concept_id for r in report.diff.removed] == ["devops.docker"]


def test_skip_in_chinese() -> None:
    edited, report = _edit(_backend("zh"), "跳过 Docker")
    assert "devops.docker" not in edited.concept_ids() and "devops.docker" in edited.skipped
    assert "devops.docker" not in edited.assumed_known
    assert report.applied[0].kind == "skipped" and "跳过" in report.applied[0].message


@pytest.mark.parametrize(("language", "feedback"), [("en", "I already know Git"), ("zh", "我已经会 Git 了")])
def test_known_is_known_not_skipped(language: str, feedback: str) -> None:
    roadmap = _backend(language)
    edited, report = _edit(roadmap, feedback)
    assert "devops.git" in roadmap.concept_ids() and "devops.git" not in edited.concept_ids()
    assert "devops.git" in edited.assumed_known and "devops.git" not in edited.skipped
    assert _kinds(report) == ["known"] and "devops.git" in report.applied[0].concept_ids


@pytest.mark.parametrize(("language", "feedback"), [("en", "add Kubernetes"), ("zh", "加上 Kubernetes")])
def test_add_brings_missing_prerequisites_in_order(language: str, feedback: str) -> None:
    edited, report = _edit(_backend(language), feedback)
    ids = edited.concept_ids()
    assert "devops.kubernetes" in ids and ids.index("docker.dockerfile") < ids.index("devops.kubernetes")
    assert _kinds(report) == ["added"] and "devops.kubernetes" in {a.concept_id for a in report.diff.added}


@pytest.mark.parametrize(("language", "feedback", "factor"), [
    ("en", "more time on SQL basics", 1.5), ("zh", "SQL 基础查询多花点时间", 1.5),
    ("en", "less time on SQL basics", 0.6), ("zh", "SQL 基础查询少花点时间", 0.6)])
def test_more_or_less_time(language: str, feedback: str, factor: float) -> None:
    roadmap = _backend(language)
    edited, report = _edit(roadmap, feedback)
    assert _hours(edited, "databases.sql_basics") == round_hours(_hours(roadmap, "databases.sql_basics") * factor)
    assert "retimed" in _kinds(report)
    moved = {m.concept_id: m for m in report.diff.retimed}
    assert moved["databases.sql_basics"].hours_after == _hours(edited, "databases.sql_basics")


def test_more_time_and_a_new_duration_that_the_core_cannot_fit() -> None:
    roadmap = _backend()
    assert _scheduled_stretch(roadmap)  # 13 weeks leave room for a stretch topic
    edited, report = _edit(roadmap, "more time on SQL, make it 8 weeks")
    # 80 h cannot hold the core: nothing optional is scheduled, and the roadmap takes the weeks the core needs
    assert _scheduled_stretch(edited) == set() and _scheduled_stretch(roadmap) <= _optional(edited)
    assert edited.requested_weeks == 8 and edited.weeks == weeks_needed(edited.total_hours, 10) > 8
    assert edited.title.startswith("Backend") and f"({edited.weeks} weeks" in edited.title
    assert any(w.startswith("Over budget:") and "8 weeks" in w for w in edited.warnings)
    assert _kinds(report) == ["retimed", "duration"] and "8 weeks" in report.applied[1].message
    assert report.diff.weeks_before == 13 and report.diff.weeks_after == edited.weeks


@pytest.mark.parametrize(("language", "feedback"), [("en", "make it 14 weeks"), ("zh", "改成14周")])
def test_a_shorter_duration_refits_the_plan_core_first(language: str, feedback: str) -> None:
    roadmap = _backend(language, weeks=20)  # 200 h: the core and several stretch topics
    edited, report = _edit(roadmap, feedback)
    assert _kinds(report) == ["duration"] and "14" in report.applied[0].message
    assert edited.weeks == 14 and edited.requested_weeks is None and len(edited.schedule) <= 14
    assert _core_hours(edited) == _core_hours(roadmap) and edited.total_hours <= 10 * 14
    dropped = _scheduled_stretch(roadmap) - _scheduled_stretch(edited)
    assert dropped and dropped <= _optional(edited)  # stretch that no longer fits becomes optional
    assert {m.concept_id for m in report.diff.moved if m.optional_after} >= dropped
    longer, _ = _edit(edited, "make it 20 weeks")  # and comes back with time
    assert longer.weeks == 20 and _scheduled_stretch(longer) > _scheduled_stretch(edited)


@pytest.mark.parametrize(("language", "feedback"), [("en", "I only have 20 hours a week"), ("zh", "每周只有20小时")])
def test_hours_a_week_refit(language: str, feedback: str) -> None:
    edited, report = _edit(_backend(language, weeks=20), feedback)
    assert edited.hours_per_week == 20 and all(w.hours <= 20 for w in edited.schedule)
    assert _kinds(report) == ["pace"] and len(edited.schedule) <= edited.weeks


@pytest.mark.parametrize(("language", "feedback"), [("en", "finish by March 31"), ("zh", "3月31日前完成")])
def test_finish_by_a_date(language: str, feedback: str) -> None:
    edited, report = _edit(_backend(language, weeks=30), feedback)  # 2026-01-01 to 03-31: 89 days, 13 weeks
    assert (edited.weeks == 13 and len(edited.schedule) <= 13) or edited.requested_weeks == 13
    assert _kinds(report) == ["duration"] and "2026-03-31" in report.applied[0].message


def test_a_date_in_the_past_is_reported() -> None:
    roadmap = _backend()
    edited, report = _edit(roadmap, "finish by 2025-06-01")
    assert edited.weeks == roadmap.weeks and not report.applied and "2025-06-01" in report.not_understood[0].text


@pytest.mark.parametrize(("language", "harder", "easier"), [("en", "make it harder", "a bit easier please"),
                                                            ("zh", "难一点", "简单一点")])
def test_level_moves_one_step_and_back(language: str, harder: str, easier: str) -> None:
    roadmap = _backend(language)
    edited, report = _edit(roadmap, harder)
    assert edited.level == "intermediate" and _kinds(report) == ["level"]
    assert _hours(edited, "databases.sql_basics") < _hours(roadmap, "databases.sql_basics")
    assert report.diff.retimed
    back, _ = _edit(edited, easier)
    assert back.level == "beginner"
    again, report = _edit(back, easier)  # already the easiest: said, nothing changed
    assert not report.applied and report.not_understood and again.concept_ids() == back.concept_ids()


@pytest.mark.parametrize(("language", "feedback"), [("en", "start with SQL joins"), ("zh", "先学 SQL 多表连接")])
def test_start_with_moves_a_concept_as_early_as_its_prerequisites_allow(language: str, feedback: str) -> None:
    roadmap = _backend(language)
    joins = "databases.sql_joins"
    edited, report = _edit(roadmap, feedback)
    assert _first_index(edited, [joins]) < _first_index(roadmap, [joins])
    before = set(edited.concept_ids()[:edited.concept_ids().index(joins)])
    assert before <= CATALOG.closure([joins])  # only what it needs comes before it
    assert "order" in _kinds(report) and edited.ordering
    kept, _ = _edit(edited, "skip Docker")  # a later edit keeps the order
    assert kept.concept_ids().index(joins) == edited.concept_ids().index(joins)
    # the added prerequisites only order the arrangement: the concepts keep their real ones
    assert {c.id: c.prerequisites for c in edited.concepts()} == {
        c.id: list(CATALOG.concepts[c.id].prerequisites) for c in edited.concepts()}


@pytest.mark.parametrize(("language", "feedback"), [("en", "Docker basics before SQL joins"),
                                                    ("zh", "把运行容器放在 SQL 多表连接前面")])
def test_x_before_y(language: str, feedback: str) -> None:
    roadmap = _backend(language)
    assert _first_index(roadmap, ["databases.sql_joins"]) < _first_index(roadmap, ["devops.docker"])
    edited, report = _edit(roadmap, feedback)
    assert _first_index(edited, ["devops.docker"]) < _first_index(edited, ["databases.sql_joins"])
    assert _kinds(report) == ["order"]


def test_an_order_the_prerequisites_forbid_is_explained() -> None:
    roadmap = _backend()
    edited, report = _edit(roadmap, "SQL joins before SQL basics")
    assert edited.concept_ids() == roadmap.concept_ids() and not report.applied
    assert "needs" in report.not_understood[0].message


@pytest.mark.parametrize(("language", "feedback"), [("en", "I prefer reading"), ("zh", "我喜欢阅读")])
def test_prefer_reading_leaves_no_video_where_alternatives_exist(language: str, feedback: str) -> None:
    roadmap = _domain("machine_learning", language)
    videos = [c.id for c in roadmap.concepts() if any(r.kind == "video" for r in c.resources)]
    assert videos
    edited, report = _edit(roadmap, feedback, ("machine_learning",))
    for concept in edited.concepts():
        kinds = {r.kind for r in concept.resources}
        assert concept.resources and (kinds <= {"docs", "book", "article", "tutorial"}
                                      or not {"docs", "book", "article", "tutorial"} & kinds)
        assert "video" not in kinds or concept.id in report.applied[-1].concept_ids
    assert "resources" in _kinds(report) and report.diff.resources_filtered > 0
    assert edited.resource_preferences == ["reading"]


@pytest.mark.parametrize(("language", "feedback"), [("en", "videos please"), ("zh", "我喜欢看视频")])
def test_prefer_videos_keeps_videos_and_never_leaves_a_concept_bare(language: str, feedback: str) -> None:
    edited, report = _edit(_domain("machine_learning", language), feedback, ("machine_learning",))
    algebra = next(c for c in edited.concepts() if c.id == "machine_learning.linear_algebra")
    assert {r.kind for r in algebra.resources} == {"video"}
    assert all(c.resources for c in edited.concepts())
    bare = report.applied[-1]  # the concepts with no video keep theirs, and the report names them
    assert bare.kind == "resources" and bare.concept_ids


@pytest.mark.parametrize(("language", "feedback"), [("en", "no videos"), ("zh", "不要视频")])
def test_no_videos(language: str, feedback: str) -> None:
    edited, _ = _edit(_domain("machine_learning", language), feedback, ("machine_learning",))
    assert not any(r.kind == "video" for c in edited.concepts() for r in c.resources)


@pytest.mark.parametrize(("language", "feedback"), [("en", "free resources only"), ("zh", "只要免费资源")])
def test_free_only_removes_paid_resources_where_free_ones_exist(language: str, feedback: str) -> None:
    roadmap = _domain("system_design", language)
    assert any(r.url.split("/")[2] in PAID_HOSTS for c in roadmap.concepts() for r in c.resources)
    edited, report = _edit(roadmap, feedback, ("system_design",))
    for concept in edited.concepts():
        hosts = {r.url.split("/")[2] for r in concept.resources}
        assert concept.resources and (not hosts & PAID_HOSTS or hosts <= PAID_HOSTS)
    assert "resources" in _kinds(report) and report.diff.resources_filtered > 0


@pytest.mark.parametrize(("language", "feedback"), [("en", "more projects"), ("zh", "多一些项目")])
def test_more_projects(language: str, feedback: str) -> None:
    roadmap = _backend(language)
    edited, report = _edit(roadmap, feedback)
    assert len(edited.projects()) > len(roadmap.projects())
    assert all(s.project is not None for s in edited.stages if not s.optional)
    assert _kinds(report) == ["projects"] and report.diff.projects_after == len(edited.projects())
    assert edited.total_hours <= 10 * 13 and sorted(edited.concept_ids()) == sorted(roadmap.concept_ids())
    again, _ = _edit(edited, "make it 20 weeks")  # kept by later edits
    assert len(again.projects()) > len(_backend(language, weeks=20).projects())


@pytest.mark.parametrize(("language", "feedback", "unknown"), [
    ("en", "I already know Git and banana purple", "banana purple"),
    ("zh", "我已经会 Git，香蕉紫色", "香蕉紫色")])
def test_one_understood_part_is_applied_and_the_other_reported(language: str, feedback: str, unknown: str) -> None:
    edited, report = _edit(_backend(language), feedback)
    assert "devops.git" in edited.assumed_known and _kinds(report) == ["known"]
    (part,) = report.not_understood
    assert part.text == unknown and unknown in part.message
    hint = "you can say: skip X" if language == "en" else "你可以说：跳过 X"
    assert hint in part.message


def test_the_issue_sentence_applies_both_halves() -> None:
    edited, report = _edit(_domain("machine_learning"), "I already know Git and I hate video courses",
                           ("machine_learning",))
    assert _kinds(report)[-1] == "resources" and not report.not_understood
    assert not any(r.kind == "video" for c in edited.concepts() for r in c.resources)


@pytest.mark.parametrize("feedback", ["no", "banana purple", "looks interesting, thanks", ""])
def test_feedback_without_a_request_changes_nothing_and_says_so(feedback: str) -> None:
    roadmap = _backend()
    edited, report = _edit(roadmap, feedback)
    assert edited.concept_ids() == roadmap.concept_ids() and not report.applied
    assert not report.diff.added and not report.diff.removed and not report.diff.moved
    if feedback in ("no", "banana purple"):
        assert report.not_understood[0].text == feedback


@pytest.mark.parametrize("feedback", [
    "skip Docker", "add Kubernetes", "I already know SQL", "more time on SQL, make it 8 weeks",
    "less time on SQL", "skip git", "make it 6 weeks", "I only have 4 hours a week", "make it 40 weeks",
    "skip docker, add k8s and more time on SQL. Make it 8 weeks", "start with SQL", "harder", "more projects",
    "Linux before SQL", "prefer reading", "finish by June 30", "start with docker, more projects, make it 10 weeks",
])
def test_an_edit_keeps_every_invariant(feedback: str) -> None:
    roadmap = _backend()
    edited, report = _edit(roadmap, feedback)
    assert report.applied
    scheduled = sum(w.hours for w in edited.schedule)
    assert edited.total_hours == pytest.approx(scheduled)
    assert edited.total_hours == pytest.approx(_core_hours(edited) + _scheduled_stretch_hours(edited)
                                               + sum(p.hours for p in edited.projects()))
    over = edited.total_hours > edited.hours_per_week * edited.weeks
    assert not over  # the duration always holds the plan: the asked weeks, or what the core needs (with a warning)
    assert (edited.requested_weeks is not None) == any(w.startswith("Over budget:") for w in edited.warnings)
    assert report.diff.hours_before == roadmap.total_hours and report.diff.hours_after == edited.total_hours


def _scheduled_stretch_hours(roadmap: Roadmap) -> float:
    return sum(c.hours for c in roadmap.core_concepts() if not c.core)


def test_review_state_survives_later_edits_and_an_auto_fix() -> None:
    edited, _ = _edit(_backend(), "skip Docker, prefer reading")
    added, _ = _edit(edited, "add Kubernetes")
    assert "devops.docker" in added.skipped and added.resource_preferences == ["reading"]
    assert all(r.kind in {"docs", "book", "article", "tutorial"} for c in added.concepts() for r in c.resources
               if c.id.startswith("kubernetes."))
    rebuilt = keep_review_state(added, added.model_copy(update={"skipped": [], "resource_preferences": []}))
    assert rebuilt.skipped == added.skipped and rebuilt.resource_preferences == ["reading"]


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


def test_a_long_list_of_names_ends_with_how_many_more_not_dots() -> None:
    from roadmap_agent.domain.messages import MAX_LISTED as MAX_NAMED
    from roadmap_agent.domain.messages import listed

    names = [f"Topic {n}" for n in range(MAX_NAMED + 3)]
    assert listed(names, "en") == ", ".join(names[:MAX_NAMED]) + " and 3 more"
    assert listed(names[:2], "en") == "Topic 0, Topic 1"
    assert listed(names, "zh").endswith("等另外 3 项") and "..." not in listed(names, "zh")
