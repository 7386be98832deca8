"""Review feedback in English or Chinese becomes a list of edit operations (parsing only, no applying).

"skip Docker and Git, more time on SQL, make it 8 weeks" -> ``SkipConcepts``, ``ScaleHours``, ``SetWeeks``;
"跳过 Docker, SQL 多一些时间, 每周只有5小时" likewise. ``editing.py`` applies the operations.

``read_feedback`` also returns what it could not read (``Unclear``): nothing the learner said is dropped in
silence. Whole phrases are read first and blanked (a date to finish by, weekly hours, a duration, a resource
preference such as "no videos", "easier", "more projects"); then each clause is read for an order ("start with
X", "X before Y") or for verbs with the concepts they name. A clause that is left with words that are neither
filler nor praise ("banana purple", "no" alone) is unclear; a verb whose concepts the catalog does not have
("skip banana") is unclear with the name it could not find.

How a sentence is read: it is split into clauses at commas, "and", "but", "然后", ...; in each clause the
verbs ("skip", "加上", "more time on") are found longest first, and each verb takes the concepts named after it
(up to the next verb) - the first verb also those before it, as in "SQL 多一些时间". A clause that names concepts
but has no verb ("skip docker and git" -> "git") borrows the last verb of its sentence. Feedback with nothing
recognisable gives ``[]`` and the caller says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from roadmap_agent.domain.amounts import blank, find_hours_per_week, find_weeks, normalise
from roadmap_agent.domain.catalog import Catalog
from roadmap_agent.domain.models import ResourcePreference


@dataclass(frozen=True)
class SkipConcepts:
    """Leave these out: the learner does not want them (now); they are not known."""

    concept_ids: tuple[str, ...]


@dataclass(frozen=True)
class KnowConcepts:
    """Leave these out because the learner already knows them."""

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


@dataclass(frozen=True)
class FinishBy:
    """Finish by a date; the year (when not said) and the weeks are worked out against today when applied."""

    month: int
    day: int | None = None  # None: the start of the month, or its end with ``end_of_month``
    year: int | None = None
    end_of_month: bool = False


@dataclass(frozen=True)
class ChangeLevel:
    step: int  # -1 easier, +1 harder


@dataclass(frozen=True)
class OrderFirst:
    """These as early as their prerequisites allow."""

    concept_ids: tuple[str, ...]


@dataclass(frozen=True)
class OrderBefore:
    first: tuple[str, ...]
    then: tuple[str, ...]


@dataclass(frozen=True)
class PreferResources:
    preference: ResourcePreference


@dataclass(frozen=True)
class MoreProjects:
    pass


EditOp = (SkipConcepts | KnowConcepts | AddConcepts | ScaleHours | SetWeeks | SetHoursPerWeek | FinishBy
          | ChangeLevel | OrderFirst | OrderBefore | PreferResources | MoreProjects)


@dataclass(frozen=True)
class Unclear:
    """A part of the feedback that was not read: ``unknown`` words, or a name the catalog does not have."""

    text: str
    reason: Literal["unknown", "not_found"] = "unknown"


@dataclass
class Reading:
    ops: list[EditOp] = field(default_factory=list)
    unclear: list[Unclear] = field(default_factory=list)

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


_Placed = tuple[int, EditOp]  # an operation and where the feedback asked for it, to keep the reader's order
_PlacedUnclear = tuple[int, Unclear]
Span = tuple[int, int]

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


# -- whole phrases: a date, the budget, resources, the level, projects -----------------------------

_MONTHS = {name: index for index, names in enumerate((
    ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",), ("june", "jun"),
    ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"), ("october", "oct"),
    ("november", "nov"), ("december", "dec")), start=1) for name in names}
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR = r"(?:,?\s*(?P<year>20\d\d))?"
_EN_DATE = re.compile(
    r"\b(?:finish(?:ed)?|done|complete(?:d)?|ready|wrap(?:ped)? up|end(?:ing)?|deadline(?: is)?|due)?\s*"
    r"(?:\b(?:by|before|until|till|no later than)\b)\s+(?:the\s+)?"
    r"(?:(?P<iso>(?P<iy>20\d\d)-(?P<im>[01]?\d)-(?P<id>[0-3]?\d))"
    r"|(?P<end>end of\s+)?(?:" + _MONTH + r"(?:\s+" + _DAY + r")?" + _YEAR
    + r"|" + _DAY.replace("day", "day2") + r"(?:\s+of)?\s+" + _MONTH.replace("month", "month2")
    + _YEAR.replace("year", "year2") + r"))\b",
    re.ASCII)
_ZH_DATE = re.compile(
    r"(?:在|到|于)?(?:(?P<year>20\d\d)\s*年\s*)?(?P<month>1[0-2]|0?[1-9])\s*月\s*(?:(?P<day>[0-3]?\d)\s*[日号]"
    r"|(?P<end>底|末))?\s*(?:之前|以前|前|完成|结束|学完)")


def _date_operation(sentence: str) -> tuple[_Placed, Span] | None:
    for match in _EN_DATE.finditer(sentence):
        groups = match.groupdict()
        if groups["iso"]:
            op = FinishBy(int(groups["im"]), int(groups["id"]), int(groups["iy"]))
        else:
            month = _MONTHS[groups["month"] or groups["month2"]]
            day = groups["day"] or groups.get("day2")
            year = groups["year"] or groups["year2"]
            op = FinishBy(month, int(day) if day else None, int(year) if year else None,
                          end_of_month=bool(groups["end"]))
        if 1 <= op.month <= 12:
            return (match.start(), op), match.span()
    zh = _ZH_DATE.search(sentence)
    if zh:
        op = FinishBy(int(zh["month"]), int(zh["day"]) if zh["day"] else None,
                      int(zh["year"]) if zh["year"] else None, end_of_month=bool(zh["end"]))
        return (zh.start(), op), zh.span()
    return None


_RELATIVE = re.compile(r"(?:\b(?:add|another|extra|more|plus)|多|再|延长|增加)\s*$", re.ASCII)


def _budget_operations(sentence: str) -> tuple[list[_Placed], list[_PlacedUnclear], list[Span]]:
    """Weekly hours and duration anywhere in ``sentence`` ("3 days a week, 2 hours each day")."""
    ops: list[_Placed] = []
    unclear: list[_PlacedUnclear] = []
    spans: list[Span] = []
    hours = find_hours_per_week(sentence)
    if hours:
        ops.append((hours.spans[0][0], SetHoursPerWeek(hours.value)))
        spans += hours.spans
        sentence = blank(sentence, hours.spans)
    weeks = find_weeks(sentence)
    if weeks:
        start, end = weeks.spans[0]
        relative = _RELATIVE.search(sentence[:start])
        if relative:  # "add 2 weeks" is relative; we only set totals, and say so
            unclear.append((relative.start(), Unclear(sentence[relative.start():end].strip())))
            spans.append((relative.start(), end))
        else:
            ops.append((start, SetWeeks(weeks.value)))
            spans.append((start, end))
    return ops, unclear, spans


_NO = (r"(?:\bno\b|\bnot\b|\bnot many\b|\b(?:don't|do not|dont) (?:like|want|enjoy|need)\b|\bhate\b|\bdislike\b"
       r"|\bwithout\b|\bavoid\b|\bfewer\b|\bless\b|\bskip\b|\bremove\b|\bnot a fan of\b|\bcan't stand\b"
       r"|不要|不喜欢|讨厌|不看|不想看|别给|别|去掉|少一?些|少点|不用)")
_PHRASES: tuple[tuple[str, EditOp, str], ...] = (
    ("resources", PreferResources("no_video"),
     _NO + r"[^,.;!?。，]{0,16}?(?:\bvideos?\b(?: courses?| tutorials?| lectures?| content| resources?)?"
     r"|\byoutube\b|\bscreencasts?\b|视频(?:课程?|教程|资源)?|网课)"),
    ("resources", PreferResources("video"),
     r"(?:\b(?:prefer|like|love|enjoy|want|more|only|mostly|mainly)\b[^,.;!?]{0,16}?)?(?:\bvideos?\b"
     r"(?: courses?| tutorials?| lectures?| content| resources?)?|\byoutube\b|\bscreencasts?\b)"
     r"|(?:喜欢|偏好|更喜欢|只要|只看|多一?些|多点|主要)?(?:看)?视频(?:课程?|教程|资源)?|网课"),
    ("resources", PreferResources("reading"),
     r"(?:\b(?:prefer|like|love|enjoy|want|more|only|mostly|mainly)\b[^,.;!?]{0,16}?)?(?:\breading\b(?: material|"
     r" resources?)?|\b(?:to|and) read\b|\bbooks?\b|\barticles?\b|\btext(?:-based| based)?(?: resources?| material"
     r"| tutorials?)\b|\bwritten (?:material|resources?|tutorials?|guides?)\b|\bdocumentation\b|\bdocs\b)"
     r"|(?:喜欢|偏好|更喜欢|只要|只看|多一?些|多点|主要)?(?:阅读|看书|书籍|文字|文档|图文|文章)(?:类|资料|资源|材料)?"),
    ("resources", PreferResources("interactive"),
     r"(?:\b(?:prefer|like|love|enjoy|want|more|only|mostly|mainly)\b[^,.;!?]{0,16}?)?(?:\binteractive\b"
     r"(?: resources?| tutorials?| exercises?| courses?| material)?|\bhands[- ]on (?:resources?|exercises?|tutorials?"
     r"|material)\b|\bexercises\b)"
     r"|(?:喜欢|偏好|更喜欢|只要|多一?些|多点|主要)?(?:互动|交互式?|动手练习|练习题|在线练习)(?:类|资料|资源|教程)?"),
    ("resources", PreferResources("free"),
     r"\b(?:only )?free(?: resources?| material| stuff| content| ones| links)?(?: only)?\b|\bno paid\b"
     r"|\bnothing paid\b|\b(?:don't|do not|dont) want to pay\b|\bno cost\b"
     r"|(?:只要)?免费(?:的)?(?:资源|资料)?|不付费|不要付费|不花钱"),
    ("level", ChangeLevel(+1),
     r"\b(?:harder|tougher|more (?:difficult|advanced|challenging|in-depth)|too (?:easy|basic|simple))\b"
     r"|\bmore of a challenge\b|\bnot challenging enough\b"
     r"|难一?(?:点|些)|更难|太简单了?|太基础了?|提高难度|更有挑战性?|更高级|进阶一?(?:点|些)"),
    ("level", ChangeLevel(-1),
     r"\b(?:easier|simpler|gentler|more basic|less (?:difficult|advanced|challenging)|too (?:hard|difficult|advanced"
     r"|complex|complicated)|more beginner[- ]friendly|beginner[- ]friendly)\b|\bdumb it down\b"
     r"|简单一?(?:点|些)|容易一?(?:点|些)|更简单|更容易|太难了?|降低难度|难度(?:低|降低)一?(?:点|些)?|基础一?(?:点|些)"),
    ("projects", MoreProjects(),
     r"\bmore (?:hands[- ]on |practical |practice |real[- ]world |small |mini[- ]|portfolio )?projects?\b"
     r"|\b(?:add|include|give me|want|like) (?:more |some |a few |extra |additional )?(?:hands[- ]on |practical "
     r"|practice |portfolio )?projects\b|\b(?:extra|additional) projects?\b|\bmore things to build\b"
     r"|多(?:一些|一点|点|些|做|加)?(?:几个)?(?:实战|练手|实践)?项目|更多(?:的)?(?:实战|练手|实践)?项目"
     r"|增加(?:一些|几个)?(?:实战|练手|实践)?项目|项目多一?(?:点|些)"),
)
_PHRASE_PATTERNS = tuple((kind, op, re.compile(pattern)) for kind, op, pattern in _PHRASES)


def _phrase_operations(sentence: str, catalog: Catalog) -> tuple[list[_Placed], list[Span]]:
    """Resource preferences, level and projects, longest first; never inside a concept's name ("reading
    files")."""
    names = catalog.matched_spans(sentence)
    found = [(m.start(), m.end(), op) for _, op, pattern in _PHRASE_PATTERNS for m in pattern.finditer(sentence)
             if m.end() > m.start()]
    chosen: list[tuple[int, int, EditOp]] = []
    for start, end, op in sorted(found, key=lambda f: (f[0] - f[1], f[0])):
        if any(start < e and s < end for s, e, _ in chosen):
            continue
        if any(start < e and s < end for s, e in names):
            continue  # words of a concept's name
        chosen.append((start, end, op))
    return [(start, op) for start, _, op in chosen], [(start, end) for start, end, _ in chosen]


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
                     touched: bool) -> tuple[list[_Placed], list[_PlacedUnclear]]:
    """Each verb with the concepts after it (the first verb also those before it)."""
    ops: list[_Placed] = []
    unclear: list[_PlacedUnclear] = []
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
                  touched: bool) -> tuple[list[_Placed], list[_PlacedUnclear], _Verb | None]:
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


def _read_sentence(sentence: str, catalog: Catalog) -> tuple[list[_Placed], list[_PlacedUnclear]]:
    ops: list[_Placed] = []
    spans: list[Span] = []
    dated = _date_operation(sentence)
    if dated:
        ops.append(dated[0])
        spans.append(dated[1])
        sentence = blank(sentence, [dated[1]])
    budget, unclear, budget_spans = _budget_operations(sentence)
    ops += budget
    spans += budget_spans
    sentence = blank(sentence, budget_spans)
    phrases, phrase_spans = _phrase_operations(sentence, catalog)
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
