"""The bundled skill catalog: domains, modules and concepts with prerequisites, in English and Chinese.

The data lives in ``catalog_data/<domain>.json`` inside the package (read with importlib.resources, so it
works from a wheel). ``Catalog`` answers the questions the planner asks: which concepts does a domain need,
what is the prerequisite closure of a set, how do we order it, and which concepts does a piece of free text
mention ("docker", "机器学习").
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from roadmap_agent.domain.models import Concept, Difficulty, Language, Resource


@dataclass(frozen=True)
class Text:
    en: str
    zh: str

    def get(self, language: Language) -> str:
        return self.zh if language == "zh" else self.en


@dataclass(frozen=True)
class CatalogConcept:
    id: str
    domain: str
    module: str
    name: Text
    description: Text
    hours: float
    difficulty: Difficulty
    prerequisites: tuple[str, ...]
    resources: tuple[Resource, ...]
    aliases: tuple[str, ...] = ()

    def to_concept(self, language: Language, hours: float | None = None, *, core: bool = True) -> Concept:
        return Concept(
            id=self.id,
            name=self.name.get(language),
            description=self.description.get(language),
            hours=self.hours if hours is None else hours,
            difficulty=self.difficulty,
            prerequisites=list(self.prerequisites),
            resources=resources_for(self.resources, language),
            core=core,
        )


def resources_for(resources: Iterable[Resource], language: Language) -> list[Resource]:
    """Chinese resources first for a Chinese learner; only English ones for an English learner (unless that
    leaves none)."""
    items = list(resources)
    if language == "zh":
        return sorted(items, key=lambda r: r.language != "zh")
    english = [r for r in items if r.language != "zh"]
    return english or items


@dataclass(frozen=True)
class CatalogModule:
    id: str
    domain: str
    name: Text
    order: int
    outcome: Text | None = None  # what the learner can do after it: stage names are made of these


@dataclass(frozen=True)
class Choice:
    """Alternatives a role offers ("backend language": python | nodejs | ...), each with the goals it adds."""

    id: str
    name: Text
    default: str
    options: dict[str, tuple[str, ...]]  # technology domain id -> goals ((): that domain's goal concepts)


@dataclass(frozen=True)
class CatalogProject:
    id: str
    domain: str
    title: Text
    brief: Text
    criteria: tuple[Text, ...]
    uses: tuple[str, ...]


@dataclass(frozen=True)
class Domain:
    id: str
    name: Text
    keywords_en: tuple[str, ...]
    keywords_zh: tuple[str, ...]
    goal_concepts: tuple[str, ...]
    modules: tuple[CatalogModule, ...]
    concept_ids: tuple[str, ...]  # the concepts this domain's file defines
    kind: str = "subject"  # role | technology | subject
    stretch_concepts: tuple[str, ...] = ()
    choices: tuple[Choice, ...] = ()
    projects: tuple[CatalogProject, ...] = ()


@dataclass(frozen=True)
class Subject:
    """A subject learners ask for that the offline catalog does not cover ("Elixir", "钢琴")."""

    name: Text
    terms: tuple[str, ...]
    stack: bool = False  # a language, framework or platform (it makes a goal's role mean "in that stack")


_Term = tuple[str, str, bool]  # normalised term, target id, ASCII (word-boundary) term


class CatalogError(ValueError):
    """The bundled catalog data is inconsistent (a packaging bug, never a user error)."""


@dataclass
class Catalog:
    domains: dict[str, Domain]
    concepts: dict[str, CatalogConcept]
    modules: dict[str, CatalogModule]
    uncovered: tuple[Subject, ...] = ()
    _rank: dict[str, int] = field(default_factory=dict, init=False)
    _module_rank: dict[str, int] = field(default_factory=dict, init=False)
    _concept_terms: list[_Term] = field(default_factory=list, init=False)
    _domain_terms: list[_Term] = field(default_factory=list, init=False)
    _subject_terms: list[_Term] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        # A stable global rank: domain file order, then concept order inside the domain.
        for index, concept_id in enumerate(c for d in self.domains.values() for c in d.concept_ids):
            self._rank[concept_id] = index
        for index, module in enumerate(m for d in self.domains.values() for m in d.modules):
            self._module_rank[module.id] = index
        concept_pairs: list[tuple[str, str]] = []
        for concept in self.concepts.values():
            concept_pairs += [(concept.name.en, concept.id), (concept.name.zh, concept.id)]
            concept_pairs += [(alias, concept.id) for alias in concept.aliases]
        self._concept_terms = _sorted_terms(concept_pairs)
        self._domain_terms = _sorted_terms(
            (k, d.id) for d in self.domains.values() for k in (*d.keywords_en, *d.keywords_zh)
        )
        self._subject_terms = _sorted_terms((t, str(i)) for i, s in enumerate(self.uncovered) for t in s.terms)

    # -- graph questions ---------------------------------------------------------------------------

    def rank(self, concept_id: str) -> int:
        return self._rank[concept_id]

    def module_rank(self, module_id: str) -> int:
        return self._module_rank.get(module_id, len(self._module_rank))

    def domain_of(self, concept_id: str) -> str | None:
        concept = self.concepts.get(concept_id)
        return concept.domain if concept else None

    def relevant_known(self, known: Iterable[str], concept_ids: Iterable[str]) -> list[str]:
        """The known concepts a roadmap of ``concept_ids`` is about: what they build on, or of their domains.

        A skill profile holds more (SQL known from a data plan, for a frontend plan); saying a roadmap skipped
        those would be noise. The roadmap still keeps them all in ``assumed_known`` (the profile reads it).
        """
        ids = list(concept_ids)
        needed = self.closure(c for c in ids if c in self.concepts)
        domains = {self.domain_of(c) for c in ids} - {None}
        return [k for k in known if k in needed or self.domain_of(k) in domains]

    def goals_of(self, domain_id: str) -> tuple[str, ...]:
        return self.domains[domain_id].goal_concepts if domain_id in self.domains else ()

    def option_goals(self, choice: Choice, option: str) -> tuple[str, ...]:
        return choice.options.get(option) or self.goals_of(option)

    def closure(self, concept_ids: Iterable[str], stop_at: Iterable[str] = ()) -> set[str]:
        """``concept_ids`` plus everything they transitively need, not walking through ``stop_at``."""
        stop = set(stop_at)
        seen: set[str] = set()
        pending = [c for c in concept_ids if c not in stop]
        while pending:
            current = pending.pop()
            if current in seen:
                continue
            seen.add(current)
            pending.extend(p for p in self.concepts[current].prerequisites if p not in stop)
        return seen

    def dependents(self, concept_id: str, within: Iterable[str]) -> set[str]:
        """Concepts in ``within`` that transitively need ``concept_id``."""
        pool = set(within)
        return {c for c in pool if c != concept_id and concept_id in self.closure([c])}

    def expand_known(self, known: Iterable[str]) -> set[str]:
        """Known catalog ids as concept ids: a domain id means its beginner concepts ("some Python")."""
        result: set[str] = set()
        for item in known:
            if item in self.concepts:
                result |= self.closure([item])
            elif item in self.domains:
                beginner = [c for c in self.domains[item].concept_ids
                            if self.concepts[c].difficulty == "beginner"]
                result |= self.closure(beginner)
        return result

    # -- text questions ----------------------------------------------------------------------------

    def match_concepts(self, text: str) -> list[str]:
        """Concept ids whose name or alias appears in ``text`` (longest names first, no overlaps)."""
        return _match(text, self._concept_terms)

    def match_domains(self, text: str) -> list[str]:
        """Domain ids whose keywords appear in ``text``, in order of first appearance."""
        return _match(text, self._domain_terms)

    def match_targets(self, text: str) -> tuple[list[str], list[str]]:
        """(domain ids, concept ids) named in ``text``: keywords and concept names compete, longest first, so
        "go concurrency" names the concept and "go" alone the domain."""
        tagged = [(t, f"d:{target}", a) for t, target, a in self._domain_terms]
        tagged += [(t, f"c:{target}", a) for t, target, a in self._concept_terms]
        tagged.sort(key=lambda term: (-len(term[0]), term[1].startswith("c:"), term))
        hits = _match(text, tagged)
        return [h[2:] for h in hits if h.startswith("d:")], [h[2:] for h in hits if h.startswith("c:")]

    def matched_spans(self, text: str) -> list[tuple[int, int]]:
        """Where keywords and concept names occur in ``text`` (normalised the same way: lower case, single
        spaces), so other readers of the text can leave those parts alone."""
        tagged = sorted([*self._domain_terms, *self._concept_terms], key=lambda term: (-len(term[0]), term))
        return [(start, end) for start, end, _ in _match_spans(text, tagged)]

    def match_uncovered(self, text: str) -> list[Subject]:
        """Subjects the catalog does not cover that ``text`` names."""
        return [self.uncovered[int(i)] for i in _match(text, self._subject_terms)]


def _normalise(text: str) -> str:
    return " " + re.sub(r"\s+", " ", text.lower()) + " "


_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789+#")


def _occurrences(haystack: str, term: str, is_ascii: bool) -> Iterable[tuple[int, int]]:
    """Spans of ``term`` in ``haystack``; ASCII terms only on word boundaries ("go" is not in "google").

    Plain ``str.find`` instead of ~2000 compiled regexes: loading the catalog stays fast.
    """
    start = haystack.find(term)
    while start != -1:
        end = start + len(term)
        if not is_ascii or (haystack[start - 1] not in _WORD_CHARS and haystack[end] not in _WORD_CHARS):
            yield start, end
        start = haystack.find(term, start + 1)


def _match(text: str, terms: list[_Term]) -> list[str]:
    ordered: list[str] = []
    for _, _, target in _match_spans(text, terms):
        if target not in ordered:
            ordered.append(target)
    return ordered


def _match_spans(text: str, terms: list[_Term]) -> list[tuple[int, int, str]]:
    """(start, end, target) of each non-overlapping match in ``text`` (spans of ``text`` itself), by start."""
    haystack = _normalise(text)
    taken: list[tuple[int, int]] = []
    hits: list[tuple[int, int, str]] = []
    for term, target, is_ascii in terms:  # longest first
        for span in _occurrences(haystack, term, is_ascii):
            if any(span[0] < end and start < span[1] for start, end in taken):
                continue
            taken.append(span)
            hits.append((span[0] - 1, span[1] - 1, target))  # _normalise pads one space in front
    return sorted(hits)


def _sorted_terms(pairs: Iterable[tuple[str, str]]) -> list[_Term]:
    unique = {(_normalise(term).strip(), target) for term, target in pairs if term.strip()}
    return [(t, target, t.isascii()) for t, target in sorted(unique, key=lambda p: (-len(p[0]), p))]


# -- loading ---------------------------------------------------------------------------------------


def _text(raw: dict[str, str]) -> Text:
    return Text(en=raw["en"], zh=raw["zh"])


def _parse_choice(raw: dict[str, Any]) -> Choice:
    return Choice(id=str(raw["id"]), name=_text(raw["name"]), default=str(raw["default"]),
                  options={k: tuple(v or ()) for k, v in raw["options"].items()})


def _parse_project(raw: dict[str, Any], domain_id: str) -> CatalogProject:
    return CatalogProject(id=str(raw["id"]), domain=domain_id, title=_text(raw["title"]), brief=_text(raw["brief"]),
                          criteria=tuple(_text(c) for c in raw["criteria"]), uses=tuple(raw["uses"]))


def _parse_domain(raw: dict[str, Any]) -> tuple[Domain, list[CatalogModule], list[CatalogConcept]]:
    domain_id = str(raw["id"])
    keywords = raw["keywords"]
    modules = [
        CatalogModule(id=str(m["id"]), domain=domain_id, name=_text(m["name"]), order=i,
                      outcome=_text(m["outcome"]) if m.get("outcome") else None)
        for i, m in enumerate(raw["modules"])
    ]
    concepts = [
        CatalogConcept(
            id=c["id"], domain=domain_id, module=c["module"], name=_text(c["name"]),
            description=_text(c["description"]), hours=float(c["hours"]), difficulty=c["difficulty"],
            prerequisites=tuple(c.get("prerequisites", ())),
            resources=tuple(Resource(**r) for r in c.get("resources", ())),
            aliases=tuple(c.get("aliases", ())),
        )
        for c in raw["concepts"]
    ]
    domain = Domain(
        id=domain_id, name=_text(raw["name"]),
        keywords_en=tuple(keywords.get("en", ())), keywords_zh=tuple(keywords.get("zh", ())),
        goal_concepts=tuple(raw.get("goal_concepts", ())),
        modules=tuple(modules), concept_ids=tuple(c.id for c in concepts),
        kind=str(raw.get("kind", "subject")), stretch_concepts=tuple(raw.get("stretch_concepts", ())),
        choices=tuple(_parse_choice(c) for c in raw.get("choices", ())),
        projects=tuple(_parse_project(p, domain_id) for p in raw.get("projects", ())),
    )
    return domain, modules, concepts


def _parse_subjects(raw: dict[str, Any]) -> tuple[Subject, ...]:
    return tuple(Subject(name=_text(s["name"]), terms=tuple(s["terms"]), stack=bool(s.get("stack")))
                 for s in raw.get("subjects", ()))


def build_catalog(raw_domains: Iterable[dict[str, Any]], uncovered: dict[str, Any] | None = None) -> Catalog:
    domains: dict[str, Domain] = {}
    modules: dict[str, CatalogModule] = {}
    concepts: dict[str, CatalogConcept] = {}
    for raw in raw_domains:
        domain, domain_modules, domain_concepts = _parse_domain(raw)
        if domain.id in domains:
            raise CatalogError(f"domain {domain.id!r} is defined twice")
        domains[domain.id] = domain
        modules.update((m.id, m) for m in domain_modules)
        for concept in domain_concepts:
            if concept.id in concepts:
                raise CatalogError(f"concept {concept.id!r} is defined twice")
            concepts[concept.id] = concept
    return Catalog(domains=domains, concepts=concepts, modules=modules, uncovered=_parse_subjects(uncovered or {}))


DOMAIN_ORDER_FILE = "_order.json"
UNCOVERED_FILE = "_uncovered.json"


@cache
def load_catalog() -> Catalog:
    """The catalog shipped in the package (parsed once per process)."""
    folder = resources.files("roadmap_agent.domain") / "catalog_data"
    listed: list[str] = json.loads((folder / DOMAIN_ORDER_FILE).read_text(encoding="utf-8"))
    files = {f.name.removesuffix(".json") for f in folder.iterdir() if f.name.endswith(".json")}
    order = [name for name in listed if name in files]  # the order file may run ahead of the data
    uncovered_file = folder / UNCOVERED_FILE
    uncovered = json.loads(uncovered_file.read_text(encoding="utf-8")) if uncovered_file.is_file() else {}
    return build_catalog((json.loads((folder / f"{name}.json").read_text(encoding="utf-8")) for name in order),
                         uncovered)
