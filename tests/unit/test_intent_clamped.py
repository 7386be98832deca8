"""A value the goal states outside what a plan assumes is brought into range and said, in the goal's language."""

from __future__ import annotations

from roadmap_agent.domain.catalog import load_catalog
from roadmap_agent.domain.intent import analyze_intent
from roadmap_agent.domain.models import LearnerRequest


def test_too_many_hours_and_weeks_are_clamped_with_a_warning() -> None:
    intent = analyze_intent(LearnerRequest(goal="learn SQL in 10 years, 1000 hours a week"), load_catalog())
    assert (intent.hours_per_week, intent.weeks) == (80, 156)
    assert intent.clamped == ["80 h/week is the most a plan will assume; you asked 1000.",
                              "156 weeks is the longest a plan will last; you asked 520."]


def test_chinese_goal_gets_a_chinese_warning_and_values_in_range_none() -> None:
    catalog = load_catalog()
    assert analyze_intent(LearnerRequest(goal="学习 SQL，每周 1000 小时"), catalog).clamped == [
        "计划最多按每周 80 小时安排；你要求的是 1000 小时。"]
    assert analyze_intent(LearnerRequest(goal="learn SQL in 3 months, 10 hours a week"), catalog).clamped == []


def test_the_request_fields_override_the_text_so_nothing_is_clamped() -> None:
    request = LearnerRequest(goal="learn SQL, 1000 hours a week", hours_per_week=12)
    assert analyze_intent(request, load_catalog()).clamped == []
