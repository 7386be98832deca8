"""Whole phrases in one sentence of review feedback: a date to finish by, the budget, resources, level, projects.

"finish by March 1st" / "6月底前" -> ``FinishBy``; "5 hours a week", "make it 8 weeks" -> ``SetHoursPerWeek``,
``SetWeeks`` ("add 2 weeks" is relative and left ``Unclear``: only totals are set); "no videos", "free only",
"easier", "more projects" -> ``PreferResources``, ``ChangeLevel``, ``MoreProjects``. ``feedback.py`` reads these
first and blanks their spans, then reads what is left clause by clause.
"""

from __future__ import annotations

import re

from roadmap_agent.domain.amounts import Span, blank, find_hours_per_week, find_weeks
from roadmap_agent.domain.catalog import Catalog
from roadmap_agent.domain.edit_ops import (
    ChangeLevel,
    EditOp,
    FinishBy,
    MoreProjects,
    PreferResources,
    SetHoursPerWeek,
    SetWeeks,
    Unclear,
)

Placed = tuple[int, EditOp]  # an operation and where the feedback asked for it, to keep the reader's order
PlacedUnclear = tuple[int, Unclear]

# -- a date to finish by ---------------------------------------------------------------------------

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


def date_operation(sentence: str) -> tuple[Placed, Span] | None:
    """The first date to finish by in ``sentence`` ("by March 1st", "2026-06-30 之前", "6月底前"), and its span."""
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


# -- the budget: weekly hours, a duration ----------------------------------------------------------

_RELATIVE = re.compile(r"(?:\b(?:add|another|extra|more|plus)|多|再|延长|增加)\s*$", re.ASCII)


def budget_operations(sentence: str) -> tuple[list[Placed], list[PlacedUnclear], list[Span]]:
    """Weekly hours and duration anywhere in ``sentence`` ("3 days a week, 2 hours each day")."""
    ops: list[Placed] = []
    unclear: list[PlacedUnclear] = []
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


# -- resources, the level, projects ----------------------------------------------------------------

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


def phrase_operations(sentence: str, catalog: Catalog) -> tuple[list[Placed], list[Span]]:
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
