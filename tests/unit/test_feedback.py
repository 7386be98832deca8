"""Review feedback parsing: what a reviewer's sentence (English or Chinese) asks the roadmap to change."""

from __future__ import annotations

import pytest

from roadmap_agent.domain.catalog import Catalog, build_catalog, load_catalog
from roadmap_agent.domain.feedback import (
    AddConcepts,
    EditOp,
    ScaleHours,
    SetHoursPerWeek,
    SetWeeks,
    SkipConcepts,
    parse_feedback,
)

# A named technology stands for its goal concepts and what they need from the same domain (catalog order).
DOCKER = ("devops.docker", "docker.dockerfile", "devops.docker_compose")
K8S = ("devops.kubernetes", "kubernetes.pods_deployments", "kubernetes.services_networking",
       "kubernetes.config_secrets", "kubernetes.probes_resources", "kubernetes.storage", "kubernetes.debugging",
       "devops.helm")
GIT = ("devops.git", "git.ignore_hygiene", "git.branching", "git.merge_conflicts", "git.undoing",
       "devops.github_workflow", "git.code_review", "git.rebasing")
# "SQL" names the databases domain: "I already know SQL" must take SQL basics too, not only the advanced goals.
SQL = ("databases.intro", "databases.relational_model", "databases.sql_basics", "databases.sql_modifying",
       "databases.sql_joins", "databases.sql_aggregation", "databases.subqueries_ctes", "databases.window_functions",
       "databases.sql_practice", "databases.constraints_keys", "databases.data_modeling", "databases.normalization",
       "databases.indexes", "databases.query_optimization", "databases.transactions", "databases.nosql_overview")
CSS = ("frontend.css",)  # a concept name (alias "css"), not a domain

CASES: list[tuple[str, list[EditOp]]] = [
    ("skip Docker", [SkipConcepts(DOCKER)]),
    ("I already know SQL", [SkipConcepts(SQL)]),
    ("remove kubernetes", [SkipConcepts(K8S)]),
    ("I don't want to learn docker", [SkipConcepts(DOCKER)]),
    ("docker is not needed", [SkipConcepts(DOCKER)]),
    ("跳过 Docker", [SkipConcepts(DOCKER)]),
    ("不需要 Docker", [SkipConcepts(DOCKER)]),
    ("去掉 K8s", [SkipConcepts(K8S)]),
    ("我已经会 SQL 了", [SkipConcepts(SQL)]),
    ("add Kubernetes", [AddConcepts(K8S)]),
    ("include k8s", [AddConcepts(K8S)]),
    ("also teach me docker", [AddConcepts(DOCKER)]),
    ("加上 Kubernetes", [AddConcepts(K8S)]),
    ("增加 Kubernetes", [AddConcepts(K8S)]),
    ("还想学 K8s", [AddConcepts(K8S)]),
    ("more time on SQL", [ScaleHours(SQL, 1.5)]),
    ("much more time on SQL", [ScaleHours(SQL, 2.0)]),
    ("less time on CSS", [ScaleHours(CSS, 0.6)]),
    ("多花时间在 SQL 上", [ScaleHours(SQL, 1.5)]),
    ("SQL 多一些时间", [ScaleHours(SQL, 1.5)]),
    ("CSS 少花点时间", [ScaleHours(CSS, 0.6)]),
    ("增加 SQL 的学习时间", [ScaleHours(SQL, 1.5)]),
    ("make it 8 weeks", [SetWeeks(8)]),
    ("in 2 months", [SetWeeks(9)]),
    ("改成8周", [SetWeeks(8)]),
    ("两个月内完成", [SetWeeks(9)]),
    ("I only have 5 hours a week", [SetHoursPerWeek(5)]),
    ("每周只有5小时", [SetHoursPerWeek(5)]),
    ("skip docker and git", [SkipConcepts(DOCKER + GIT)]),
    ("跳过 Docker 和 Git", [SkipConcepts(DOCKER + GIT)]),
    ("skip docker but keep git", [SkipConcepts(DOCKER)]),
    ("skip docker, add k8s and more time on SQL. Make it 8 weeks",
     [SkipConcepts(DOCKER), AddConcepts(K8S), ScaleHours(SQL, 1.5), SetWeeks(8)]),
    ("less time on CSS and more on SQL", [ScaleHours(CSS, 0.6), ScaleHours(SQL, 1.5)]),
    ("跳过 Docker，SQL 多一些时间，然后改成10周，每周只有6小时",
     [SkipConcepts(DOCKER), ScaleHours(SQL, 1.5), SetWeeks(10), SetHoursPerWeek(6)]),
    ("Skip docker. The SQL part looks great.", [SkipConcepts(DOCKER)]),
    ("skip docker, great roadmap for the backend", [SkipConcepts(DOCKER)]),
    ("I also know SQL", [SkipConcepts(SQL)]),
    ("don't skip git", []),
    ("把 Docker 去掉，加上 Kubernetes 和 Helm", [SkipConcepts(DOCKER), AddConcepts(("devops.helm", *K8S[:-1]))]),
    ("I have 3 days a week, 2 hours each day", [SetHoursPerWeek(6)]),
    ("每天只能学一个小时", [SetHoursPerWeek(7)]),
    ("这个计划太长了，一个半月吧", [SetWeeks(7)]),
    ("add 2 weeks", []),  # relative: not a total we could set
]


@pytest.mark.parametrize(("feedback", "expected"), CASES)
def test_feedback_becomes_edits(feedback: str, expected: list[EditOp]) -> None:
    assert parse_feedback(feedback, load_catalog()) == expected


@pytest.mark.parametrize("feedback", ["looks good, thanks", "不太满意", "hmm", "", "？？？"])
def test_nothing_understood(feedback: str) -> None:
    assert parse_feedback(feedback, load_catalog()) == []


def test_skipping_a_domain_skips_its_concepts() -> None:
    catalog = load_catalog()
    (op,) = parse_feedback("skip the frontend part", catalog)
    assert isinstance(op, SkipConcepts)
    frontend = catalog.domains["frontend"]
    assert set(op.concept_ids) <= set(frontend.concept_ids)  # a role's own concepts: not Git, which it lists
    assert {"frontend.html", "frontend.css", *(g for g in frontend.goal_concepts if g in frontend.concept_ids)} \
        <= set(op.concept_ids)


def test_a_bare_domain_name_borrows_the_verb() -> None:
    (op,) = parse_feedback("skip html, css and javascript", load_catalog())
    assert isinstance(op, SkipConcepts)
    assert {"frontend.html", "frontend.css", "javascript.syntax"} <= set(op.concept_ids)


def _small() -> Catalog:
    def concept(concept_id: str, name: str) -> dict[str, object]:
        return {"id": concept_id, "module": "cs.core", "name": {"en": name, "zh": name},
                "description": {"en": name, "zh": name}, "hours": 5, "difficulty": "beginner"}

    return build_catalog([{
        "id": "cs", "name": {"en": "CS", "zh": "计算机"}, "keywords": {"en": ["cs"], "zh": []},
        "modules": [{"id": "cs.core", "name": {"en": "Core", "zh": "核心"}}],
        "concepts": [concept("cs.dsa", "Data structures and algorithms"), concept("cs.git", "Git")],
    }])


def test_and_inside_a_concept_name_does_not_split_it() -> None:
    assert parse_feedback("skip data structures and algorithms and git", _small()) == [
        SkipConcepts(("cs.dsa", "cs.git"))]
