"""The bundled catalog is complete and consistent: every prerequisite resolves and the graph is acyclic."""

from __future__ import annotations

import importlib.util
import json
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from roadmap_agent.domain.catalog import Catalog, CatalogError, build_catalog, load_catalog

REQUIRED_DOMAINS = {  # issue 12: what learners ask for most
    "frontend", "react", "vue", "angular", "backend", "python", "nodejs", "java_spring", "golang", "dotnet",
    "fullstack", "typescript", "rust", "cpp", "git", "linux", "databases", "postgresql", "devops", "docker",
    "kubernetes", "cloud", "aws", "azure", "gcp", "data_analysis", "data_engineering", "machine_learning", "mlops",
    "llm_apps", "android", "ios", "flutter", "react_native", "security", "qa_testing", "playwright", "selenium",
    "game_dev", "unity", "godot", "ux_design", "product_management", "system_design", "dsa", "cs_fundamentals",
}
LINT = Path(__file__).resolve().parents[2] / "scripts" / "catalog_lint.py"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def test_has_the_domains_learners_ask_for(catalog: Catalog) -> None:
    assert REQUIRED_DOMAINS <= set(catalog.domains), sorted(REQUIRED_DOMAINS - set(catalog.domains))
    for domain in catalog.domains.values():
        assert len(domain.concept_ids) >= 5, domain.id


def test_the_catalog_lint_finds_no_problem() -> None:
    """scripts/catalog_lint.py: schema, ids, references, cycles (concepts and modules), clashes, neutrality."""
    spec = importlib.util.spec_from_file_location("catalog_lint", LINT)
    assert spec is not None and spec.loader is not None
    lint = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lint)
    problems, _, _ = lint.check(lint.load())
    assert problems == []


def test_every_prerequisite_resolves(catalog: Catalog) -> None:
    missing = [(c.id, p) for c in catalog.concepts.values() for p in c.prerequisites if p not in catalog.concepts]
    assert missing == []


def test_prerequisite_graph_is_acyclic(catalog: Catalog) -> None:
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        if state.get(node) == 2:
            return
        assert state.get(node) != 1, "cycle: " + " -> ".join([*path, node])
        state[node] = 1
        for prerequisite in catalog.concepts[node].prerequisites:
            visit(prerequisite, [*path, node])
        state[node] = 2

    for concept_id in catalog.concepts:
        visit(concept_id, [])


def test_concepts_carry_bilingual_text_hours_difficulty_and_resources(catalog: Catalog) -> None:
    for concept in catalog.concepts.values():
        assert concept.name.en and concept.name.zh and concept.description.en and concept.description.zh, concept.id
        assert any("\u4e00" <= ch <= "\u9fff" for ch in concept.name.zh + concept.description.zh), concept.id
        assert 0 < concept.hours <= 40, concept.id
        assert concept.difficulty in ("beginner", "intermediate", "advanced"), concept.id
        assert 1 <= len(concept.resources) <= 3, concept.id
        for resource in concept.resources:
            assert urlsplit(resource.url).scheme in ("http", "https") and urlsplit(resource.url).netloc, resource.url
        assert concept.module in catalog.modules and catalog.modules[concept.module].domain == concept.domain


def test_every_core_fits_a_plan(catalog: Catalog) -> None:
    for domain in catalog.domains.values():
        assert domain.goal_concepts, domain.id
        hours = sum(catalog.concepts[c].hours for c in catalog.closure(domain.goal_concepts))
        assert 8 <= hours <= 200, (domain.id, hours)


def test_aliases_and_names_point_at_one_concept_only(catalog: Catalog) -> None:
    owners: dict[str, set[str]] = {}
    for concept in catalog.concepts.values():
        for term in (concept.name.en, concept.name.zh, *concept.aliases):
            owners.setdefault(term.strip().lower(), set()).add(concept.id)
    shared = {term: ids for term, ids in owners.items() if len(ids) > 1}
    assert shared == {}


def test_text_matching_finds_concepts_and_domains(catalog: Catalog) -> None:
    assert catalog.match_targets("please skip Docker") == (["docker"], [])
    assert catalog.match_targets("加上 K8s") == (["kubernetes"], [])
    assert catalog.match_targets("learn Go concurrency")[1] != []
    assert catalog.match_targets("more time on SQL joins")[1] == ["databases.sql_joins"]
    assert catalog.match_domains("I want to learn machine learning") == ["machine_learning"]
    assert "backend" in catalog.match_domains("我想学后端开发")


def test_order_file_lists_every_shipped_domain() -> None:
    folder = resources.files("roadmap_agent.domain") / "catalog_data"
    order = json.loads((folder / "_order.json").read_text(encoding="utf-8"))
    shipped = {p.name.removesuffix(".json") for p in folder.iterdir() if p.name.endswith(".json")}
    shipped -= {"_order", "_uncovered"}
    assert sorted(order) == sorted(shipped)


def _domain(concepts: list[dict[str, object]]) -> dict[str, object]:
    return {"id": "x", "name": {"en": "X", "zh": "X"}, "keywords": {"en": ["x"], "zh": []},
            "goal_concepts": [], "modules": [{"id": "x.m", "name": {"en": "M", "zh": "M"}}], "concepts": concepts}


def _concept(concept_id: str) -> dict[str, object]:
    return {"id": concept_id, "module": "x.m", "name": {"en": concept_id, "zh": concept_id},
            "description": {"en": "d", "zh": "d"}, "hours": 1, "difficulty": "beginner", "resources": []}


def test_a_concept_defined_twice_is_refused() -> None:
    with pytest.raises(CatalogError, match="defined twice"):
        build_catalog([_domain([_concept("x.a"), _concept("x.a")])])
