"""The bundled catalog is complete and consistent: every prerequisite resolves and the graph is acyclic."""

from __future__ import annotations

import json
from importlib import resources
from urllib.parse import urlsplit

import pytest

from roadmap_agent.domain.catalog import Catalog, CatalogError, build_catalog, load_catalog

REQUIRED_DOMAINS = {
    "python", "backend", "frontend", "data_analysis", "machine_learning", "devops", "databases", "mobile",
    "cloud", "cs_fundamentals",
}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def test_has_the_common_domains_with_at_least_20_concepts_each(catalog: Catalog) -> None:
    assert REQUIRED_DOMAINS <= set(catalog.domains)
    for domain in catalog.domains.values():
        assert len(domain.concept_ids) >= 20, domain.id


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


def test_goal_concepts_belong_to_their_domain_and_fit_a_plan(catalog: Catalog) -> None:
    for domain in catalog.domains.values():
        assert domain.goal_concepts, domain.id
        assert all(catalog.concepts[g].domain == domain.id for g in domain.goal_concepts), domain.id
        hours = sum(catalog.concepts[c].hours for c in catalog.closure(domain.goal_concepts))
        assert 40 <= hours <= 300, (domain.id, hours)


def test_aliases_and_names_point_at_one_concept_only(catalog: Catalog) -> None:
    owners: dict[str, set[str]] = {}
    for concept in catalog.concepts.values():
        for term in (concept.name.en, concept.name.zh, *concept.aliases):
            owners.setdefault(term.strip().lower(), set()).add(concept.id)
    shared = {term: ids for term, ids in owners.items() if len(ids) > 1}
    assert shared == {}


def test_text_matching_finds_concepts_and_domains(catalog: Catalog) -> None:
    assert "devops.docker" in catalog.match_concepts("please skip Docker")
    assert "devops.kubernetes" in catalog.match_concepts("加上 K8s")
    assert "databases.sql_basics" in catalog.match_concepts("more time on SQL")
    assert catalog.match_domains("I want to learn machine learning") == ["machine_learning"]
    assert "backend" in catalog.match_domains("我想学后端开发")


def test_order_file_lists_every_shipped_domain() -> None:
    folder = resources.files("roadmap_agent.domain") / "catalog_data"
    order = json.loads((folder / "_order.json").read_text(encoding="utf-8"))
    shipped = {p.name.removesuffix(".json") for p in folder.iterdir() if p.name.endswith(".json")} - {"_order"}
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
