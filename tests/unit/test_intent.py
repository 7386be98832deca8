"""Intent analysis: what a learner's free-text goal (English, Chinese, mixed) is understood to ask for."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roadmap_agent.domain.amounts import find_hours_per_week, find_weeks, normalise, parse_chinese_numeral, parse_number
from roadmap_agent.domain.catalog import Catalog, build_catalog, load_catalog
from roadmap_agent.domain.intent import analyze_intent
from roadmap_agent.domain.models import (
    MAX_HOURS_PER_WEEK,
    MAX_WEEKS,
    MIN_HOURS_PER_WEEK,
    MIN_WEEKS,
    Intent,
    LearnerRequest,
)
from roadmap_agent.errors import OutOfScope


def _analyze(goal: str, catalog: Catalog | None = None, **hints: object) -> Intent:
    return analyze_intent(LearnerRequest(goal=goal, **hints), catalog or load_catalog())


# goal, domains, level, known (subset), hours per week, weeks, language
GOALS: list[tuple[str, list[str], str, set[str], int, int, str]] = [
    ("I want to become a backend developer in 3 months, I know some Python, 10 hours a week",
     ["backend"], "beginner", {"python"}, 10, 13, "en"),
    ("Complete beginner here: teach me data analysis with pandas, 2 hours a day for 6 weeks",
     ["data_analysis"], "beginner", set(), 14, 6, "en"),
    ("I know SQL and Docker, I want to learn Kubernetes, 3 days a week 2 hours a day",
     ["kubernetes"], "beginner", {"databases", "docker"}, 6, 12, "en"),
    ("data scientist in 1 year, 2 hrs per day", ["machine_learning"], "beginner", set(), 14, 52,
     "en"),
    ("I want to build an iPhone app in 6 weeks", ["ios"], "beginner", set(), 10, 6, "en"),
    ("I'm a senior Java developer. I want to learn Kubernetes within 2 months, about 5-10 hours per week",
     ["kubernetes"], "advanced", set(), 8, 9, "en"),
    ("10 hours of study per week for 6 weeks, interested in cybersecurity", ["security"], "beginner", set(),
     10, 6, "en"),
    ("I am familiar with HTML and CSS and want to learn React in two months, 8h/week", ["react"], "beginner",
     {"frontend.html", "frontend.css"}, 8, 9, "en"),
    ("I want to get into cloud computing with AWS, I have used Linux, intermediate, 12 hrs/week, 4 months",
     ["cloud", "aws"], "intermediate", {"linux"}, 12, 17, "en"),
    ("Learn JavaScript from scratch, an hour a day, half a year", ["javascript"], "beginner", set(), 7, 26, "en"),
    ("Full stack web developer in a year, I have some experience, 20 hours a week",
     ["fullstack", "react", "nodejs"], "intermediate", set(), 20, 52, "en"),
    ("I want to learn programming", ["python"], "beginner", set(), 10, 12, "en"),
    ("我想三个月内学会 Python 后端开发，每周 10 小时", ["python", "backend"], "beginner", set(), 10, 13, "zh"),
    ("零基础想学数据分析，每天2小时，半年", ["data_analysis"], "beginner", set(), 14, 26, "zh"),
    ("周末每天 5 小时，一年内成为全栈工程师", ["fullstack", "react", "nodejs"], "beginner", set(), 10, 52, "zh"),
    ("我会 Docker，有一定基础，想学 k8s，一周 10 个小时，两周", ["kubernetes"], "intermediate", {"docker"},
     10, 2, "zh"),
    ("学爬虫 每周十小时 两个月", ["python"], "beginner", set(), 10, 9, "zh"),
    ("我是一名前端开发，想学后端，每周两个小时", ["backend", "python"], "beginner", {"frontend"}, 2, 12, "zh"),
    ("我有 Python 基础，想学机器学习，每天一个半小时，三个月之内", ["machine_learning"], "beginner", {"python"},
     11, 13, "zh"),
    ("想在100天内学会前端，每天半小时，喜欢看视频和做项目", ["frontend", "react"], "beginner", set(), 4, 14, "zh"),
    ("学过一点 SQL 和 pandas，想成为数据科学家，一年半", ["machine_learning"], "beginner",
     {"databases", "data_analysis.pandas"}, 10, 78, "zh"),
    ("想转行做运维，熟悉Linux，学过Git，每天晚上两个小时，三个月内", ["devops"], "beginner",
     {"linux", "git"}, 14, 13, "zh"),
    ("算法刷题准备面试，两周，每天四小时", ["dsa"], "beginner", set(), 28, 2, "zh"),
    ("我想学习编程", ["python"], "beginner", set(), 10, 12, "zh"),
    ("我想做一个安卓App，精通 Java", ["android"], "advanced", {"java_spring"}, 10, 12, "zh"),
    ("新手，想学网络安全，每周十五小时，半年内", ["security"], "beginner", set(), 15, 26, "zh"),
    ("想学 React, 懂 JavaScript, 每周 十五 小时, 两个半月", ["react"], "beginner", {"javascript"}, 15, 11, "zh"),
    ("I'd like to learn ethical hacking, 一周二十个小时, 半年", ["security"], "beginner", set(), 20, 26, "zh"),
    ("Machine learning engineer, 我会 pandas 和 numpy, 20 hours a week, 6 months", ["machine_learning"],
     "beginner", {"data_analysis.pandas", "data_analysis.numpy"}, 20, 26, "zh"),
]


@pytest.mark.parametrize(("goal", "domains", "level", "known", "hours", "weeks", "language"), GOALS)
def test_goal_is_understood(goal: str, domains: list[str], level: str, known: set[str], hours: int, weeks: int,
                            language: str) -> None:
    intent = _analyze(goal)
    assert intent.domains == domains
    assert intent.level == level
    assert known <= set(intent.known_skills)
    assert (intent.hours_per_week, intent.weeks, intent.language) == (hours, weeks, language)
    assert intent.goal == goal


def test_table_covers_both_languages() -> None:
    chinese = [g for g, *_ in GOALS if any("\u4e00" <= ch <= "\u9fff" for ch in g)]
    assert len(GOALS) >= 24 and len(chinese) >= 10


def test_known_skill_is_not_a_target() -> None:
    intent = _analyze("I know some Python, want to become a backend developer")
    assert intent.domains == ["backend"]
    assert "python" in intent.known_skills


def test_defaults_when_the_text_says_nothing() -> None:
    intent = _analyze("backend")
    assert (intent.level, intent.hours_per_week, intent.weeks, intent.language) == ("beginner", 10, 12, "en")


def test_request_fields_override_the_text() -> None:
    intent = _analyze("零基础学后端，每周 10 小时，三个月", level="advanced", hours_per_week=25, weeks=40,
                      language="en", known_skills=["SQL", "python", "devops.git"])
    assert (intent.level, intent.hours_per_week, intent.weeks, intent.language) == ("advanced", 25, 40, "en")
    assert {"databases", "python", "devops.git"} <= set(intent.known_skills)


def test_preferences_are_noted() -> None:
    assert _analyze("project-based backend course with videos and books").preferences == [
        "projects", "video", "books"]


def test_will_is_not_knowing() -> None:
    """"我会在..." means "I will ...", not "I can ..."."""
    assert _analyze("我会在三个月内学完Python").known_skills == []


def test_can_a_little_without_a_subject_is_known() -> None:
    """Chinese drops the subject: "会一点 Excel" is "I know a little Excel"; "学会" (to learn) is not knowing."""
    assert "data_analysis.spreadsheets" in _analyze("我想两个月内学会数据分析，会一点 Excel，每周 6 小时").known_skills
    assert _analyze("想学会数据分析，每周 6 小时").known_skills == []


def test_negated_skill_is_not_known() -> None:
    intent = _analyze("没有 Python 基础，也不熟悉 SQL，想学数据分析")
    assert intent.known_skills == []
    assert intent.level == "beginner"


# -- against a small hand-made catalog (independent of the bundled data) ---------------------------


def _concept(concept_id: str, name: str, aliases: tuple[str, ...] = ()) -> dict[str, object]:
    return {"id": concept_id, "module": concept_id.split(".")[0] + ".core", "name": {"en": name, "zh": name},
            "description": {"en": name, "zh": name}, "hours": 5, "difficulty": "beginner",
            "aliases": list(aliases)}


def _domain(domain_id: str, name: str, keywords: list[str], concepts: list[dict[str, object]]) -> dict[str, object]:
    return {"id": domain_id, "name": {"en": name, "zh": name}, "keywords": {"en": keywords, "zh": []},
            "modules": [{"id": domain_id + ".core", "name": {"en": name, "zh": name}}], "concepts": concepts}


@pytest.fixture
def small() -> Catalog:
    return build_catalog([
        _domain("python", "Python", ["python"], [_concept("python.syntax", "Python syntax", ("python",))]),
        _domain("databases", "Databases", ["database", "sql"], [_concept("databases.sql_basics", "SQL basics",
                                                                           ("sql",))]),
        _domain("backend", "Backend", ["backend"], [_concept("backend.http_basics", "HTTP basics")]),
        _domain("devops", "DevOps", ["devops"], [_concept("devops.kubernetes", "Kubernetes", ("k8s",))]),
    ])


def test_domain_name_gives_domain_and_specific_term_gives_concept(small: Catalog) -> None:
    intent = _analyze("I know some Python and SQL, want to learn backend", small)
    assert intent.known_skills == ["python", "databases.sql_basics"]
    assert intent.domains == ["backend"]


def test_a_named_concept_selects_its_domain(small: Catalog) -> None:
    assert _analyze("teach me k8s", small).domains == ["devops"]


@pytest.mark.parametrize("goal", ["hello there", "something unrelated", "learn Spanish", "我想学弹钢琴", "🎸🎹"])
def test_a_goal_the_catalog_does_not_cover_is_out_of_scope(goal: str) -> None:
    with pytest.raises(OutOfScope) as caught:
        _analyze(goal)
    assert "LLM_BASE_URL" in caught.value.message and caught.value.code == "out_of_scope"


def test_programming_without_a_language_gets_the_stated_default() -> None:
    intent = _analyze("I want to learn programming")
    assert intent.domains == ["python"] and intent.defaulted == ["python"]


# -- numbers and time ------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "value"), [
    ("零", 0), ("一", 1), ("两", 2), ("十", 10), ("十五", 15), ("二十", 20), ("二十五", 25), ("一百", 100),
    ("一百零五", 105), ("一百五", 150), ("三百二十", 320), ("九百九十九", 999), ("半", 0.5), ("两三", 2.5),
])
def test_chinese_numerals(text: str, value: float) -> None:
    assert parse_chinese_numeral(text) == value


@pytest.mark.parametrize("text", ["", "十十", "百十百", "一二三", "三五", "周"])
def test_not_a_chinese_numeral(text: str) -> None:
    assert parse_chinese_numeral(text) is None


@pytest.mark.parametrize(("text", "value"), [("12", 12), ("1.5", 1.5), ("two", 2), ("an", 1), ("half an", 0.5),
                                             ("十二", 12), ("dozen", None)])
def test_numbers(text: str, value: float | None) -> None:
    assert parse_number(text) == value


@pytest.mark.parametrize(("text", "hours"), [
    ("10 hours a week", 10), ("10h/week", 10), ("10 hrs per week", 10), ("2 hours a day", 14), ("每天2小时", 14),
    ("每周10小时", 10), ("一周 10 个小时", 10), ("周末每天 5 小时", 10), ("每周十小时", 10), ("每天两个小时", 14),
    ("2 hours on weekdays", 10), ("half an hour a day", 4), ("每天30分钟", 4), ("工作日每天一小时", 5),
    ("200 hours a week", 80), ("0 hours a week", 1), ("每周三天，每天两小时", 6),
])
def test_hours_per_week(text: str, hours: int) -> None:
    found = find_hours_per_week(normalise(text))
    assert found is not None and found.value == hours


@pytest.mark.parametrize(("text", "weeks"), [
    ("in 3 months", 13), ("6 weeks", 6), ("half a year", 26), ("1 year", 52), ("一年", 52), ("三个月", 13),
    ("两周", 2), ("半年", 26), ("in a month", 4), ("一年半", 78), ("within 30 days", 4), ("10 years", 156),
    ("2 years of experience, want to learn it in 6 weeks", 6),
])
def test_weeks(text: str, weeks: int) -> None:
    found = find_weeks(normalise(text))
    assert found is not None and found.value == weeks


@pytest.mark.parametrize("text", ["三月份开始", "every week", "twice a week", "第一周", "I am 20 years old"])
def test_not_a_duration(text: str) -> None:
    assert find_weeks(normalise(text)) is None


_GOAL_TEXT = st.text(min_size=1, max_size=300) | st.text(
    alphabet=st.sampled_from(list("每周天小时个月年半两十百一三零 0123456789hoursaweekinmonthsI know学过会有基础，, ")),
    min_size=1, max_size=120,
) | st.text(alphabet=st.characters(min_codepoint=0x3400, max_codepoint=0x9FFF), min_size=1, max_size=60)


@settings(deadline=None, max_examples=200)
@given(goal=_GOAL_TEXT)
def test_any_text_gives_a_valid_intent_or_says_it_is_out_of_scope(goal: str) -> None:
    try:
        intent = analyze_intent(LearnerRequest(goal=goal), load_catalog())
    except OutOfScope as exc:
        assert exc.message and exc.code == "out_of_scope"
        return
    catalog = load_catalog()
    assert intent.domains and all(d in catalog.domains for d in intent.domains)
    assert MIN_HOURS_PER_WEEK <= intent.hours_per_week <= MAX_HOURS_PER_WEEK
    assert MIN_WEEKS <= intent.weeks <= MAX_WEEKS
    assert all(k in catalog.domains or k in catalog.concepts for k in intent.known_skills)
    Intent.model_validate(intent.model_dump())
