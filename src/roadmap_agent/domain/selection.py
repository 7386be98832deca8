"""What a plan teaches: the goal's core, the stretch topics around it, and the alternatives it leaves out.

Roles ("backend developer") bring their own goal concepts plus, for each of their choices, the goals of the
chosen option: the one the goal names, else one the learner knows, else the role's default (stated in a note).
Options not chosen, and whatever only they need, never enter the plan (Swift asked: no Kotlin). A technology
named with one of its own concepts is narrowed to that concept ("Go concurrency"). The core is the goals'
prerequisite closure minus what the learner knows; stretch is the rest of the targeted domains, used when the
budget allows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from roadmap_agent.domain.catalog import Catalog, Choice
from roadmap_agent.domain.messages import join, text
from roadmap_agent.domain.models import Intent


@dataclass
class Selection:
    core: set[str]
    stretch: list[str]  # in catalog order; each with its whole closure inside core | stretch | known
    known: set[str]
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def chosen_options(choice: Choice, domains: list[str], known: list[str]) -> tuple[list[str], str]:
    """The options a role's choice takes, and why: "named", "known" or "default"."""
    named = [o for o in choice.options if o in domains]
    if named:
        return named, "named"
    knows = [o for o in choice.options if o in known]
    if knows:
        return knows, "known"
    return [choice.default], "default"


def option_domains(domains: list[str], catalog: Catalog) -> set[str]:
    """Domains in ``domains`` that are options of a role in ``domains`` (they add the role's goals for them)."""
    return {o for d in domains if d in catalog.domains for c in catalog.domains[d].choices for o in c.options}


def select(intent: Intent, catalog: Catalog) -> Selection:
    known = catalog.expand_known(intent.known_skills)
    narrowed = set(intent.narrowed)
    options = option_domains(intent.domains, catalog) | in_service_of_a_role(intent.domains, catalog, narrowed)
    goals: list[str] = list(intent.topics)
    excluded: set[str] = set()
    notes: list[str] = list(intent.clamped)  # "80 h/week is the most a plan will assume; you asked 1000."
    for domain_id in intent.domains:
        domain = catalog.domains[domain_id]
        if domain_id in narrowed:
            continue  # planned only for the topics named in it
        if domain_id not in options:
            goals += domain.goal_concepts
        for choice in domain.choices:
            chosen, why = chosen_options(choice, intent.domains, intent.known_skills)
            for option in chosen:
                goals += catalog.option_goals(choice, option)
            for option in set(choice.options) - set(chosen):
                excluded |= catalog.closure(catalog.option_goals(choice, option))
                excluded |= set(catalog.goals_of(option))
                if option in catalog.domains:
                    excluded |= set(catalog.domains[option].concept_ids)
            notes += _choice_note(choice, chosen, why, catalog, intent)
    core = catalog.closure([g for g in goals if g in catalog.concepts]) - known
    excluded -= core
    return Selection(core=core, stretch=_stretch(intent, catalog, core, known, excluded, narrowed), known=known,
                     notes=notes, warnings=_partial_warning(intent, catalog))


def in_service_of_a_role(domains: list[str], catalog: Catalog, narrowed: set[str] | None = None) -> set[str]:
    """Technologies named with a role that already builds on them ("Python for data analysis"): they add what
    the role needs of them, not their whole course (the rest is stretch)."""
    skip = narrowed or set()
    roles = [d for d in domains if d in catalog.domains and catalog.domains[d].kind == "role" and d not in skip]
    needed = catalog.closure([g for r in roles for g in catalog.domains[r].goal_concepts])
    return {d for d in domains if d in catalog.domains and catalog.domains[d].kind == "technology"
            and d not in skip and needed & set(catalog.domains[d].concept_ids)}


def _stretch(intent: Intent, catalog: Catalog, core: set[str], known: set[str], excluded: set[str],
             narrowed: set[str]) -> list[str]:
    """Stretch concepts, most relevant first: the targeted domains' own concepts, then their suggested extras;
    each preceded by what it needs that is not core or known yet (so a prefix of the list is always valid)."""
    own: list[str] = []
    suggested: list[str] = []
    for domain_id in intent.domains:
        if domain_id in narrowed:  # only the rest of the named topics' modules
            modules = {catalog.concepts[t].module for t in intent.topics if catalog.domain_of(t) == domain_id}
            own += [c for c in catalog.domains[domain_id].concept_ids if catalog.concepts[c].module in modules]
            continue
        domain = catalog.domains[domain_id]
        own += domain.concept_ids
        suggested += domain.stretch_concepts
    stretch: list[str] = []
    for concept_id in [*own, *suggested]:
        if concept_id in core or concept_id in known or concept_id in excluded or concept_id not in catalog.concepts:
            continue
        extra = catalog.closure([concept_id]) - known - core
        if not extra & excluded:
            stretch += [c for c in _prerequisites_first(extra, catalog) if c not in stretch]
    return stretch


def _prerequisites_first(ids: set[str], catalog: Catalog) -> list[str]:
    ordered: list[str] = []

    def visit(concept_id: str) -> None:
        if concept_id in ordered:
            return
        for prerequisite in sorted(catalog.concepts[concept_id].prerequisites, key=catalog.rank):
            if prerequisite in ids:
                visit(prerequisite)
        ordered.append(concept_id)

    for concept_id in sorted(ids, key=catalog.rank):
        visit(concept_id)
    return ordered


def _choice_note(choice: Choice, chosen: list[str], why: str, catalog: Catalog, intent: Intent) -> list[str]:
    language = intent.language
    names = [catalog.domains[o].name.get(language) for o in chosen if o in catalog.domains]
    if why == "known":
        return [text("known_choice", language, option=join(names, language))]
    if why != "default":
        return []
    others = [catalog.domains[o].name.get(language) for o in choice.options if o not in chosen and o in catalog.domains]
    return [text("default_choice", language, choice=choice.name.get(language), option=join(names, language),
                 others=text("list.sep", language).join(others))]


def _partial_warning(intent: Intent, catalog: Catalog) -> list[str]:
    if not intent.uncovered:
        return []
    covered = [catalog.domains[d].name.get(intent.language) for d in intent.domains if d in catalog.domains]
    return [text("partial", intent.language, subjects=join(intent.uncovered, intent.language),
                 covered=join(covered, intent.language))]
