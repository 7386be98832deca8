"""Review feedback in English or Chinese becomes a list of edit operations (parsing only, no applying).

"skip Docker and Git, more time on SQL, make it 8 weeks" -> ``SkipConcepts``, ``ScaleHours``, ``SetWeeks``;
"跳过 Docker, SQL 多一些时间, 每周只有5小时" likewise. The operations are defined in ``edit_ops.py`` and
``editing.py`` applies them.

``read_feedback`` also returns what it could not read (``Unclear``): nothing the learner said is dropped in
silence. Whole phrases are read first and blanked (``feedback_phrases.py``: a date to finish by, weekly hours, a
duration, a resource preference such as "no videos", "easier", "more projects"); then each clause is read, here,
for an order ("start with X", "X before Y") or for verbs with the concepts they name. A clause that is left with
words that are neither filler nor praise ("banana purple", "no" alone) is unclear; a verb whose concepts the
catalog does not have ("skip banana") is unclear with the name it could not find.

How a sentence is read: it is split into clauses at commas, "and", "but", "然后", ...; in each clause the
verbs ("skip", "加上", "more time on") are found longest first, and each verb takes the concepts named after it
(up to the next verb) - the first verb also those before it, as in "SQL 多一些时间". A clause that names concepts
but has no verb ("skip docker and git" -> "git") borrows the last verb of its sentence. Feedback with nothing
recognisable gives ``[]`` and the caller says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from roadmap_agent.domain.amounts import Span, blank, normalise
from roadmap_agent.domain.catalog import Catalog
from roadmap_agent.domain.edit_ops import (
    LESS,
    MORE,
    MUCH_LESS,
    MUCH_MORE,
    AddConcepts,
    ChangeLevel,
    EditOp,
    KnowConcepts,
    MoreProjects,
    OrderBefore,
    OrderFirst,
    PreferResources,
    ScaleHours,
    SkipConcepts,
    Unclear,
)
from roadmap_agent.domain.feedback_phrases import (
    Placed,
    PlacedUnclear,
    budget_operations,
    date_operation,
    phrase_operations,
)


@dataclass
class Reading:
    """What ``read_feedback`` made of the feedback: the operations, and every part it could not read."""

    ops: list[EditOp] = field(default_factory=list)
    unclear: list[Unclear] = field(default_factory=list)


_QUANTITY = r"(?:一)?(?:点|些|一些|一点|点儿)?的?(?:学习)?"
# (kind, factor, pattern). "keep" verbs make no operation; they stop "skip docker but keep git" from skipping git.
# A pattern with an ``obj`` group names its concepts inside itself: "增加 SQL 的时间".
_VERB_TABLE: tuple[tuple[str, float, str], ...] = (
    ("skip", 0, r"\bskip(?:ping)?\b|\bremove\b|\bdrop\b|\bomit\b|\bexclude\b|\bleave out\b|\btake out\b"
                r"|\bget rid of\b|\bcut(?: out)?\b|\b(?:don't|do not|dont) (?:need|want)(?: to (?:learn|study))?\b"
                r"|\bno need (?:for|to learn)\b|\bnot interested in\b|\b(?:is |are )?not (?:needed|necessary)\b"
                r"|\b(?:isn't|aren't) (?:needed|necessary)\b|\bunnecessary\b|\bwithout\b|\bno\b"
                r"|跳过|不需要|不用学?|不要|不想学|不学|去掉|去除|删掉|删除|删了|移除|拿掉|省略|略过|省掉|不感兴趣"),
    ("known", 0, r"\balready (?:know|learned|learnt|familiar with)\b|\bi (?:also |already |do )?know\b"
                 r"|\bfamiliar with\b|\b(?:i've|i have) (?:already )?(?:used|learned|learnt)\b"
                 r"|\bi(?:'m| am) (?:already )?(?:good|fluent|comfortable|experienced) (?:at|in|with)\b"
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
    if verb.kind == "known":
        return KnowConcepts(ids)
    if verb.kind == "add":
        return AddConcepts(ids)
    return ScaleHours(ids, verb.factor)


# -- what is not a request: filler, praise ----------------------------------------------------------

_FILLER_EN = frozenset("""
a an the and but also so then just maybe please thanks thank you ok okay yes sure well hmm hm um uh oh i me my
we it its it's this that these those is are was be looks look seems seem think roadmap plan part parts rest
everything else all of to in on for with at as by very really pretty quite overall otherwise more some bit lot
much stuff thing things one ones too can could would should will do does did have has had now here there
make change set turn give want like need i'd i'm let's instead please resources ones
""".split())
_PRAISE_EN = re.compile(r"\b(?:great|good|nice|love|lovely|perfect|excellent|awesome|fine|cool|thanks|thank|lgtm"
                        r"|interesting|helpful|useful|amazing|solid|neat)\b")
_NEGATION_EN = re.compile(r"\b(?:not|no|never|but)\b|n't\b")
_PRAISE_ZH = re.compile(r"(?<!不)(?<!不太)(?<!不够)(?:不错|很好|挺好|满意|谢谢|好的|棒|完美|喜欢)")
_FILLER_ZH = re.compile(r"请|谢谢|吧|了|的|呢|啊|呀|嗯|哦|好的|这个|那个|路线图?|计划|整体|其他|一下|还|也|就|都|我|你"
                        r"|把|和|再|很|太长|太短|太多|太少|有点|一点|一些|可以|吗|么|嘛|看看|觉得|完成|改成|改为|变成|调整|要|想|给")
_WORDS = re.compile(r"[a-z0-9+#][a-z0-9+#.'-]*|[\u4e00-\u9fff]+")


def _leftover(text: str) -> str:
    """What in ``text`` is neither filler nor a verb (empty when it says nothing we should have read)."""
    for verb in _find_verbs(text):
        text = text[:verb.start] + " " * (verb.end - verb.start) + text[verb.end:]
    words: list[str] = []
    for word in _WORDS.findall(text):
        if word[0] >= "\u4e00":
            word = _FILLER_ZH.sub("", word)
        elif word in _FILLER_EN:
            word = ""
        if word:
            words.append(word)
    return " ".join(words)


def _is_remark(text: str) -> bool:
    """Praise or thanks ("the SQL part looks great", "不错"): not a request, nothing to apply."""
    if _PRAISE_ZH.search(text):
        return True
    return bool(_PRAISE_EN.search(text)) and not _NEGATION_EN.search(text)


# -- clauses: an order, or verbs with their concepts -----------------------------------------------

_BEFORE = (
    (re.compile(r"^(?P<a>.+?)\b(?:before|ahead of|prior to)\b(?P<b>.+)$"), False),
    (re.compile(r"^(?P<b>.+?)\bafter\b(?P<a>.+)$"), False),
    (re.compile(r"先(?:学习?)?(?P<a>.+?)(?:再|然后|之后|后)(?:学习?)?(?P<b>.+)"), False),
    (re.compile(r"(?P<a>.+?)(?:放在|放到|排在|安排在|要在|在)(?P<b>.+?)(?:之前|前面|以前|前)"), False),
    (re.compile(r"在(?P<b>.+?)(?:之前|以前|前)(?:先)?(?:学习?)?(?P<a>.+)"), False),
    (re.compile(r"(?P<b>.+?)(?:放在|放到|排在|安排在|在)(?P<a>.+?)(?:之后|后面|以后|后)"), False),
)
_FIRST = re.compile(r"\b(?:start|begin)(?:ning|s)?(?: off)? with\b|\bfirst\b|\bearlier\b|\bup front\b"
                    r"|\bupfront\b|\bat the (?:start|beginning)\b|\bto the (?:front|start|beginning|top)\b"
                    r"|\bprioriti[sz]e\b|先学习?|从|开始|提前|放在前面|放到前面|放在最前|优先|首先|先")


def _order_operation(clause: str, catalog: Catalog) -> EditOp | None:
    for pattern, _ in _BEFORE:
        match = pattern.search(clause)
        if match:
            first = _concepts(match["a"], catalog, domains_too=True)
            then = _concepts(match["b"], catalog, domains_too=True)
            if first and then:
                return OrderBefore(first, tuple(c for c in then if c not in first))
    if _FIRST.search(clause):
        ids = _concepts(_FIRST.sub(" ", clause), catalog, domains_too=True)
        if ids:
            return OrderFirst(ids)
    return None


def _verb_operations(clause: str, offset: int, verbs: list[_Verb], catalog: Catalog,
                     touched: bool) -> tuple[list[Placed], list[PlacedUnclear]]:
    """Each verb with the concepts after it (the first verb also those before it)."""
    ops: list[Placed] = []
    unclear: list[PlacedUnclear] = []
    for index, verb in enumerate(verbs):
        end = verbs[index + 1].start if index + 1 < len(verbs) else len(clause)
        before = clause[:verb.start] if index == 0 else ""
        text = f"{before} {verb.obj} {clause[verb.end:end]}"
        operation = _operation(verb, _concepts(text, catalog, domains_too=True)) if text.strip() else None
        if operation:
            ops.append((offset + verb.start, operation))
        elif verb.kind != "keep" and (rest := _leftover(text)):
            unclear.append((offset + verb.start, Unclear(rest, "not_found")))
    if not ops and not unclear and not touched and not any(v.kind == "keep" for v in verbs):
        unclear.append((offset, Unclear(clause.strip())))  # "no", "skip" alone
    return ops, unclear


def _parse_clause(clause: str, offset: int, catalog: Catalog, carried: _Verb | None,
                  touched: bool) -> tuple[list[Placed], list[PlacedUnclear], _Verb | None]:
    """The operations in one clause, what in it was unclear, and the verb later verb-less clauses borrow."""
    if not clause.strip():
        return [], [], carried
    order = _order_operation(clause, catalog)
    if order is not None:
        return [(offset, order)], [], None
    verbs = _find_verbs(clause)
    if verbs:
        ops, unclear = _verb_operations(clause, offset, verbs, catalog, touched)
        return ops, unclear, verbs[-1]
    # A bare name borrows the verb ("skip html, css and javascript"); a longer remark only lends its concepts.
    short = len(clause.split()) <= 3 and len(clause.strip()) <= 24
    borrowed = _operation(carried, _concepts(clause, catalog, domains_too=short)) if carried else None
    if borrowed:
        return [(offset, borrowed)], [], carried
    if not touched and (rest := _leftover(clause)) and not _is_remark(clause):
        return [], [(offset, Unclear(clause.strip() if len(rest) > 1 else rest))], carried
    return [], [], carried


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
        if isinstance(op, SkipConcepts | KnowConcepts | AddConcepts | OrderFirst) and type(op) is type(last):
            ids = tuple(dict.fromkeys(last.concept_ids + op.concept_ids))
            merged[-1] = type(op)(ids)
        elif isinstance(op, ScaleHours) and isinstance(last, ScaleHours) and op.factor == last.factor:
            merged[-1] = ScaleHours(tuple(dict.fromkeys(last.concept_ids + op.concept_ids)), op.factor)
        elif op != last or not isinstance(op, PreferResources | ChangeLevel | MoreProjects):
            merged.append(op)
    return merged


def _pieces(pattern: re.Pattern[str], text: str) -> list[tuple[int, str]]:
    """``text`` split at ``pattern``, each piece with its offset."""
    cuts = [0, *(i for m in pattern.finditer(text) for i in m.span()), len(text)]
    return [(cuts[i], text[cuts[i]:cuts[i + 1]]) for i in range(0, len(cuts), 2)]


def _read_sentence(sentence: str, catalog: Catalog) -> tuple[list[Placed], list[PlacedUnclear]]:
    ops: list[Placed] = []
    spans: list[Span] = []
    dated = date_operation(sentence)
    if dated:
        ops.append(dated[0])
        spans.append(dated[1])
        sentence = blank(sentence, [dated[1]])
    budget, unclear, budget_spans = budget_operations(sentence)
    ops += budget
    spans += budget_spans
    sentence = blank(sentence, budget_spans)
    phrases, phrase_spans = phrase_operations(sentence, catalog)
    ops += phrases
    spans += phrase_spans
    sentence = blank(sentence, phrase_spans)
    carried: _Verb | None = None
    for offset, clause in _pieces(_CLAUSES, _protect_names(sentence, catalog)):
        touched = any(start < offset + len(clause) and offset < end for start, end in spans)
        clause_ops, clause_unclear, carried = _parse_clause(clause.replace(_AND_MARK, "and"), offset, catalog,
                                                            carried, touched)
        ops += clause_ops
        unclear += clause_unclear
    return sorted(ops, key=lambda placed: placed[0]), sorted(unclear, key=lambda placed: placed[0])


def read_feedback(text: str, catalog: Catalog) -> Reading:
    """The edits review feedback asks for, in the order it asks, and every part that could not be read."""
    reading = Reading()
    ops: list[EditOp] = []
    for _, sentence in _pieces(_SENTENCES, normalise(text)):
        sentence_ops, unclear = _read_sentence(sentence, catalog)
        ops += [op for _, op in sentence_ops]
        reading.unclear += [u for _, u in unclear]
    reading.ops = _merge(ops)
    return reading


def parse_feedback(text: str, catalog: Catalog) -> list[EditOp]:
    """The edits review feedback asks for, in the order it asks; ``[]`` if nothing was understood."""
    return read_feedback(text, catalog).ops
