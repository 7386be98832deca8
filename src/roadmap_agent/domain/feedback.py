"""Review feedback in English or Chinese becomes a list of edit operations (parsing only, no applying).

"skip Docker and Git, more time on SQL, make it 8 weeks" -> ``SkipConcepts``, ``ScaleHours``, ``SetWeeks``;
"跳过 Docker, SQL 多一些时间, 每周只有5小时" likewise. ``editing.py`` applies the operations.

How a sentence is read: it is split into clauses at commas, "and", "but", "然后", ...; in each clause the
verbs ("skip", "加上", "more time on") are found longest first, and each verb takes the concepts named after it
(up to the next verb) - the first verb also those before it, as in "SQL 多一些时间". A clause that names concepts
but has no verb ("skip docker and git" -> "git") borrows the last verb of its sentence. Feedback with nothing
recognisable gives ``[]`` and the caller says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from roadmap_agent.domain.catalog import Catalog
from roadmap_agent.domain.intent import blank, find_hours_per_week, find_weeks, normalise


@dataclass(frozen=True)
class SkipConcepts:
    """Leave these out: the learner knows them or does not want them."""

    concept_ids: tuple[str, ...]


@dataclass(frozen=True)
class AddConcepts:
    """Teach these too (with whatever they need first)."""

    concept_ids: tuple[str, ...]


@dataclass(frozen=True)
class ScaleHours:
    """Spend ``factor`` times the hours on these (1.5 "more time", 2.0 "much more", 0.6 "less")."""

    concept_ids: tuple[str, ...]
    factor: float


@dataclass(frozen=True)
class SetWeeks:
    weeks: int


@dataclass(frozen=True)
class SetHoursPerWeek:
    hours: int


EditOp = SkipConcepts | AddConcepts | ScaleHours | SetWeeks | SetHoursPerWeek

MORE = 1.5
MUCH_MORE = 2.0
LESS = 0.6
MUCH_LESS = 0.4

_QUANTITY = r"(?:一)?(?:点|些|一些|一点|点儿)?的?(?:学习)?"
# (kind, factor, pattern). "keep" verbs make no operation; they stop "skip docker but keep git" from skipping git.
# A pattern with an ``obj`` group names its concepts inside itself: "增加 SQL 的时间".
_VERB_TABLE: tuple[tuple[str, float, str], ...] = (
    ("skip", 0, r"\bskip(?:ping)?\b|\bremove\b|\bdrop\b|\bomit\b|\bexclude\b|\bleave out\b|\btake out\b"
                r"|\bget rid of\b|\bcut(?: out)?\b|\b(?:don't|do not|dont) (?:need|want)(?: to (?:learn|study))?\b"
                r"|\bno need (?:for|to learn)\b|\bnot interested in\b|\b(?:is |are )?not (?:needed|necessary)\b"
                r"|\b(?:isn't|aren't) (?:needed|necessary)\b|\bunnecessary\b|\bwithout\b|\bno\b"
                r"|\balready (?:know|learned|learnt|familiar with)\b|\bi (?:also |already |do )?know\b"
                r"|\bfamiliar with\b"
                r"|\b(?:i've|i have) (?:already )?(?:used|learned|learnt)\b"
                r"|跳过|不需要|不用学?|不要|不想学|不学|去掉|去除|删掉|删除|删了|移除|拿掉|省略|略过|省掉|不感兴趣"
                r"|已经会|我会|已经学过|学过|已经掌握|掌握了|已经熟悉|熟悉|已经懂|我懂|用过"),
    ("add", 0, r"\badd\b|\binclude\b|\balso teach me\b|\bteach me\b|\balso cover\b|\bcover\b"
               r"|\b(?:i'd|i would|i) (?:also )?(?:want|like|love) to learn\b|\bwant to learn\b|\balso learn\b"
               r"|\blearn\b|\bput in\b|\bplus\b|\balso\b|\bwhat about\b|\bhow about\b|\bneed\b|\bmissing\b"
               r"|加上|增加|添加|加入|还想学|也想学|想学|还要学|要学|需要学|补充|包括|包含|再加|加个|加一个|学一下|也学"),
    ("keep", 0, r"\bkeep\b|\bretain\b|\bnot\b|\bdon't (?:skip|remove|drop)\b|\bdon't know\b"
                r"|保留|留着|别跳过|不要跳过|不要去掉|不要删|不会|不懂|没学过"),
    ("scale", MUCH_MORE, r"\b(?:much|a lot|way|far|significantly) more (?:time|hours|focus|depth|practice)\b"
                         r"|\bdouble the (?:time|hours)\b|\btwice as much(?: time)?\b"
                         r"|(?:多花|多用|多给|多)(?:很多|大量|好多)的?(?:学习)?时间|时间(?:加倍|翻倍)|加倍|翻倍"),
    ("scale", MORE, r"\bmore (?:time|hours|focus|depth|practice|emphasis|detail)\b|\bmore on\b"
                    r"|\bfocus (?:more )?on\b|\bgo deeper\b|\bdeeper\b|\bincrease (?:the )?(?:time|hours|focus)\b"
                    rf"|(?:多花|多用|多给|多留|多安排|花更多|更多|多){_QUANTITY}时间|时间多{_QUANTITY}"
                    r"|多学(?:一)?(?:点|些)?|重点(?:学|讲)?|深入(?:学习|讲解|一些|一点)?|加强|多练|多讲"),
    ("scale", MORE, r"(?:增加|加大|延长)(?P<obj>[^,.;!?。]{1,20}?)的?(?:学习)?(?:时间|比重|篇幅|课时)"),
    ("scale", MUCH_LESS, r"\b(?:much|a lot|way|far) less (?:time|hours|focus|depth)\b"),
    ("scale", LESS, r"\bless (?:time|hours|focus|depth|emphasis|detail)\b|\bless on\b|\bfewer hours\b"
                    r"|\b(?:reduce|decrease|cut down|shorten)(?: the)?(?: time| hours)?(?: spent)?(?: on| for)?\b"
                    r"|\bjust the basics of\b|\blighter on\b|\bbriefly\b|\bspeed through\b"
                    rf"|(?:少花|少用|少给|少留|少安排|少){_QUANTITY}时间|时间少{_QUANTITY}|少学(?:一)?(?:点|些)?"
                    r"|简单(?:过一下|过|带过|了解)|快速过|粗略"),
    ("scale", LESS, r"(?:减少|缩短|压缩)(?P<obj>[^,.;!?。]{1,20}?)的?(?:学习)?(?:时间|比重|篇幅|课时)"),
)
_VERBS = tuple((kind, factor, re.compile(pattern, re.ASCII)) for kind, factor, pattern in _VERB_TABLE)
_SENTENCES = re.compile(r"[;!?。；！？\n]+|\.(?=\s|$)")
_CLAUSES = re.compile(r",|，|、|\band\b|\bbut\b|\bthen\b|并且|然后|而且|但是|不过|另外|同时", re.ASCII)
_AND_MARK = "\x00\x00\x00"  # as long as "and", so offsets stay valid


@dataclass(frozen=True)
class _Verb:
    kind: str
    factor: float
    start: int
    end: int
    obj: str = ""


def _find_verbs(clause: str) -> list[_Verb]:
    """Verbs in ``clause``, longest first where they overlap ("don't want to learn" over "want to learn")."""
    found = [
        _Verb(kind, factor, m.start(), m.end(), m.groupdict().get("obj") or "")
        for kind, factor, pattern in _VERBS for m in pattern.finditer(clause)
    ]
    chosen: list[_Verb] = []
    for verb in sorted(found, key=lambda v: (v.start - v.end, v.start)):
        if not any(verb.start < other.end and other.start < verb.end for other in chosen):
            chosen.append(verb)
    return sorted(chosen, key=lambda v: v.start)


def _concepts(text: str, catalog: Catalog, *, domains_too: bool) -> tuple[str, ...]:
    """Concepts ``text`` names; with ``domains_too`` a named domain stands for all its concepts."""
    domains, ids = catalog.match_targets(text)
    if domains_too:  # "skip Docker": the technology's core concepts
        ids += [c for d in domains for c in _domain_concepts(d, catalog)]
    return tuple(dict.fromkeys(ids))


def _domain_concepts(domain_id: str, catalog: Catalog) -> list[str]:
    """What naming a domain means: its goal concepts with what they need from the same domain ("I already
    know SQL" includes SQL basics, not only the advanced goals), never other domains' concepts a role's goals
    list ("skip the frontend part" keeps Git)."""
    domain = catalog.domains[domain_id]
    own = set(domain.concept_ids)
    needed = catalog.closure(domain.goal_concepts) & own
    return sorted(needed, key=catalog.rank) or list(domain.goal_concepts)


def _operation(verb: _Verb, ids: tuple[str, ...]) -> EditOp | None:
    if not ids or verb.kind == "keep":
        return None
    if verb.kind == "skip":
        return SkipConcepts(ids)
    if verb.kind == "add":
        return AddConcepts(ids)
    return ScaleHours(ids, verb.factor)


_Placed = tuple[int, EditOp]  # an operation and where the feedback asked for it, to keep the reader's order


def _verb_operations(clause: str, offset: int, verbs: list[_Verb], catalog: Catalog) -> list[_Placed]:
    """Each verb with the concepts after it (the first verb also those before it)."""
    ops: list[_Placed] = []
    for index, verb in enumerate(verbs):
        end = verbs[index + 1].start if index + 1 < len(verbs) else len(clause)
        before = clause[:verb.start] if index == 0 else ""
        text = f"{before} {verb.obj} {clause[verb.end:end]}"
        operation = _operation(verb, _concepts(text, catalog, domains_too=True)) if text.strip() else None
        if operation:
            ops.append((offset + verb.start, operation))
    return ops


def _parse_clause(clause: str, offset: int, catalog: Catalog,
                  carried: _Verb | None) -> tuple[list[_Placed], _Verb | None]:
    """The operations in one clause, and the verb later verb-less clauses of the sentence borrow."""
    verbs = _find_verbs(clause)
    if verbs:
        return _verb_operations(clause, offset, verbs, catalog), verbs[-1]
    if carried is None or not clause.strip():
        return [], carried
    # A bare name borrows the verb ("skip html, css and javascript"); a longer remark only lends its concepts.
    short = len(clause.split()) <= 3 and len(clause.strip()) <= 24
    borrowed = _operation(carried, _concepts(clause, catalog, domains_too=short))
    return ([(offset, borrowed)] if borrowed else []), carried


_RELATIVE = re.compile(r"(?:\b(?:add|another|extra|more|plus)|多|再|延长|增加)\s*$", re.ASCII)


def _budget_operations(sentence: str) -> tuple[list[_Placed], str]:
    """Weekly hours and duration anywhere in ``sentence`` ("3 days a week, 2 hours each day"), then blanked."""
    ops: list[_Placed] = []
    hours = find_hours_per_week(sentence)
    if hours:
        ops.append((hours.spans[0][0], SetHoursPerWeek(hours.value)))
        sentence = blank(sentence, hours.spans)
    weeks = find_weeks(sentence)
    if weeks:
        start = weeks.spans[0][0]
        if not _RELATIVE.search(sentence[:start]):  # "add 2 weeks" is relative; we only set totals
            ops.append((start, SetWeeks(weeks.value)))
        sentence = blank(sentence, weeks.spans)
    return ops, sentence


def _names_with_and(catalog: Catalog) -> list[str]:
    concept_names = [n for c in catalog.concepts.values() for n in (c.name.en, *c.aliases)]
    domain_names = [n for d in catalog.domains.values() for n in (d.name.en, *d.keywords_en)]
    return [n.lower() for n in (*concept_names, *domain_names) if " and " in n.lower()]


def _protect_names(sentence: str, catalog: Catalog) -> str:
    """Hide the "and" inside names ("Data structures and algorithms") from the clause splitter."""
    for name in _names_with_and(catalog):
        if name in sentence:
            sentence = sentence.replace(name, name.replace(" and ", f" {_AND_MARK} "))
    return sentence


def _merge(ops: list[EditOp]) -> list[EditOp]:
    """Adjacent operations of one kind become one: "skip docker and git" is one ``SkipConcepts``."""
    merged: list[EditOp] = []
    for op in ops:
        last = merged[-1] if merged else None
        if isinstance(op, SkipConcepts) and isinstance(last, SkipConcepts):
            merged[-1] = SkipConcepts(tuple(dict.fromkeys(last.concept_ids + op.concept_ids)))
        elif isinstance(op, AddConcepts) and isinstance(last, AddConcepts):
            merged[-1] = AddConcepts(tuple(dict.fromkeys(last.concept_ids + op.concept_ids)))
        elif isinstance(op, ScaleHours) and isinstance(last, ScaleHours) and op.factor == last.factor:
            merged[-1] = ScaleHours(tuple(dict.fromkeys(last.concept_ids + op.concept_ids)), op.factor)
        else:
            merged.append(op)
    return merged


def _pieces(pattern: re.Pattern[str], text: str) -> list[tuple[int, str]]:
    """``text`` split at ``pattern``, each piece with its offset."""
    cuts = [0, *(i for m in pattern.finditer(text) for i in m.span()), len(text)]
    return [(cuts[i], text[cuts[i]:cuts[i + 1]]) for i in range(0, len(cuts), 2)]


def _sentence_operations(sentence: str, catalog: Catalog) -> list[_Placed]:
    ops, sentence = _budget_operations(sentence)
    carried: _Verb | None = None
    for offset, clause in _pieces(_CLAUSES, _protect_names(sentence, catalog)):
        clause_ops, carried = _parse_clause(clause.replace(_AND_MARK, "and"), offset, catalog, carried)
        ops += clause_ops
    return sorted(ops, key=lambda placed: placed[0])


def parse_feedback(text: str, catalog: Catalog) -> list[EditOp]:
    """The edits review feedback asks for, in the order it asks; ``[]`` if nothing was understood."""
    ops: list[EditOp] = []
    for _, sentence in _pieces(_SENTENCES, normalise(text)):
        ops += [op for _, op in _sentence_operations(sentence, catalog)]
    return _merge(ops)
