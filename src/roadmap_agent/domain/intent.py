"""Intent analysis: a learner's free-text goal (English, Chinese or both) becomes an ``Intent``, offline.

"I want to become a backend developer in 3 months, I know some Python, 10 hours a week" and
"我想三个月内学会 Python 后端开发, 每周 10 小时" both give target domains, a level, known skills (catalog ids),
weekly hours, a duration in weeks and the language. Structured fields of the request win over the text.

What the learner already knows never counts as a target: "I know some Python, want to become a backend
developer" targets ``backend`` and records ``python`` as known. The number and time helpers
(``parse_number``, ``find_hours_per_week``, ``find_weeks``) are shared with the review-feedback parser.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from roadmap_agent.domain import messages
from roadmap_agent.domain.catalog import Catalog
from roadmap_agent.domain.messages import out_of_scope_message
from roadmap_agent.domain.models import (
    MAX_HOURS_PER_WEEK,
    MAX_WEEKS,
    MIN_HOURS_PER_WEEK,
    MIN_WEEKS,
    Intent,
    Language,
    LearnerRequest,
    Level,
)
from roadmap_agent.errors import OutOfScope

DEFAULT_HOURS_PER_WEEK = 10
DEFAULT_WEEKS = 12
WEEKS_PER_MONTH = 52 / 12

Span = tuple[int, int]

# -- numbers ---------------------------------------------------------------------------------------

_ZH_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
              "八": 8, "九": 9}
_ZH_UNITS = {"十": 10, "百": 100}
_EN_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40,
    "fifty": 50, "sixty": 60, "half a": 0.5, "half an": 0.5, "a couple of": 2, "couple of": 2, "a few": 3,
    "few": 3,
}
_EN_WORDS = "|".join(re.escape(w) for w in sorted(_EN_NUMBERS, key=len, reverse=True))
_ZH_NUMERAL = "零〇一二两三四五六七八九十百"
# Bounded runs, so a pathological "一一一..." costs linear time, not quadratic backtracking.
NUMBER = (rf"(?:(?<![0-9.])[0-9]{{1,6}}(?:\.[0-9]{{1,3}})?(?![0-9])|(?<![{_ZH_NUMERAL}])[{_ZH_NUMERAL}]{{1,8}}"
          rf"(?![{_ZH_NUMERAL}])|半|(?<![a-z])(?:{_EN_WORDS})(?![a-z]))")
_RANGE = rf"(?P<n>{NUMBER})(?:\s*(?:-|~|to|or|到|至)\s*(?P<n2>{NUMBER}))?"


def _compile(pattern: str) -> re.Pattern[str]:
    # ASCII word boundaries: in "想学习AI" the CJK "习" must count as a boundary before "AI".
    return re.compile(pattern, re.ASCII)


def parse_chinese_numeral(text: str) -> float | None:
    """A Chinese numeral from 0 to 999: "十五" 15, "两百零五" 205, "一百五" 150, "半" 0.5, "两三" 2.5."""
    body = text.removesuffix("半")
    extra = 0.5 if body != text else 0.0
    if not body:
        return extra or None
    if len(body) == 2 and all(ch in _ZH_DIGITS for ch in body):  # "两三个月": a colloquial range
        low, high = (_ZH_DIGITS[ch] for ch in body)
        return (low + high) / 2 + extra if high == low + 1 else None
    total, current, last_unit, previous = 0, 0, 1000, ""
    for char in body:
        if char in _ZH_DIGITS:
            if previous and previous in _ZH_DIGITS and _ZH_DIGITS[previous] != 0:
                return None
            current = _ZH_DIGITS[char]
        elif _ZH_UNITS.get(char, 1000) < last_unit:
            last_unit = _ZH_UNITS[char]
            total, current = total + (current or 1) * last_unit, 0
        else:
            return None
        previous = char
    if len(body) > 2 and body[-2] == "百" and body[-1] in _ZH_DIGITS:
        current *= 10  # "一百五" is 150
    return total + current + extra


def parse_number(token: str) -> float | None:
    """An amount written in digits, English words ("two", "half an") or Chinese numerals."""
    word = re.sub(r"\s+", " ", token.strip().lower())
    if re.fullmatch(r"[0-9]+(?:\.[0-9]+)?", word):
        return float(word)
    if word in _EN_NUMBERS:
        return float(_EN_NUMBERS[word])
    return parse_chinese_numeral(word)


def _amount(match: re.Match[str]) -> float | None:
    groups = match.groupdict()
    first = parse_number(groups["n"])
    second = parse_number(groups["n2"]) if groups.get("n2") else first
    if first is None or second is None:
        return None
    halves = sum(0.5 for name in ("half", "half2") if groups.get(name))
    return (first + second) / 2 + halves


def clamp(value: float, low: int, high: int) -> int:
    """``value`` rounded half up into ``[low, high]``."""
    return math.floor(min(max(value, low), high) + 0.5)


def normalise(text: str) -> str:
    """Full-width forms folded (NFKC), lower case, single spaces: the text every pattern here reads."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text).lower())


def blank(text: str, spans: Iterable[Span]) -> str:
    """``text`` with ``spans`` replaced by spaces, so positions stay valid and matched parts are not reread."""
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


@dataclass(frozen=True)
class Found:
    """A value read from text, and the spans it was read from."""

    value: int
    spans: tuple[Span, ...]
    asked: float | None = None  # what the text said, when ``value`` is it clamped into range


# -- hours per week --------------------------------------------------------------------------------

_STOP = r"0-9,.;!?。\n"
_EN_RATE = _compile(
    _RANGE + r"\s*\+?\s*(?P<unit>hours?|hrs?|h|minutes?|mins?)(?![a-z])(?P<half>\s+and\s+a\s+half)?"
    r"(?:\s+(?:of\s+)?(?:study(?:ing)?|learning|practice|coding|free time|spare time))?\s*"
    r"(?P<per>(?:(?:a|an|per|each|every|on|/)\s*)?(?:weekdays?|weekend days?|weekends?|weeks?|wk|days?|"
    r"nights?|evenings?)(?![a-z])|weekly|daily|nightly|pw|p/w)"
)
_ZH_PER = r"周一(?:到|至)周五|(?:每个?|一个?)(?:周末|工作日|星期|礼拜|周|天|日|晚上?)|周末|工作日|天天|平日"
_ZH_UNIT = r"(?P<unit>小时|钟头|h|hours?|hrs?|分钟)"
_ZH_RATE = _compile(
    rf"(?P<per>{_ZH_PER})[^{_STOP}]{{0,8}}?{_RANGE}\s*个?\s*(?P<half>半)?\s*个?\s*{_ZH_UNIT}"
)
_ZH_RATE_AFTER = _compile(
    rf"{_RANGE}\s*个?\s*(?P<half>半)?\s*个?\s*{_ZH_UNIT}\s*(?:/|每|一)\s*个?(?P<per>周|星期|礼拜|天|日|晚)"
)
_DAYS_PER_WEEK = (
    _compile(rf"{_RANGE}\s*(?:days?|evenings?|nights?)\s*(?:a|per|each|every|/)\s*(?:week|wk)"),
    _compile(rf"(?:每个?|一个?)(?:周|星期|礼拜)[^{_STOP}]{{0,4}}?{_RANGE}\s*个?\s*(?:天|日|晚上?)"),
)


def _days_per_week(period: str) -> float:
    """How many study days a week the words before or after an amount of hours mean."""
    if ("周末" in period and re.search("每天|每日|各|day", period)) or "weekend day" in period:
        return 2
    if re.search("工作日|周一|平日|weekday", period):
        return 5
    if "周末" not in period and re.search("每天|每日|一天|晚|天天|日|天|day|daily|night|evening", period):
        return 7
    return 1


def _period(match: re.Match[str], text: str) -> str:
    """The words that say how often ("a day", "每天"), with any words between them and the amount."""
    if match.start("per") < match.start("n"):
        return text[match.start("per"):match.start("n")]
    return str(match["per"])


def _weekly_hours(match: re.Match[str], text: str, study_days: float | None) -> float | None:
    amount = _amount(match)
    if amount is None:
        return None
    hours = amount / 60 if str(match["unit"]).startswith(("min", "分")) else amount
    days = _days_per_week(_period(match, text))
    return hours * (study_days if study_days is not None and days == 7 else days)


def _study_days(text: str) -> tuple[float, Span] | None:
    """"3 days a week" / "每周三天": turns a daily amount into a weekly one."""
    for pattern in _DAYS_PER_WEEK:
        for match in pattern.finditer(text):
            days = _amount(match)
            if days is not None:
                return days, match.span()
    return None


def find_hours_per_week(text: str) -> Found | None:
    """Weekly hours in normalised ``text``: "10h/week", "2 hours a day" (x7), "每周十小时", "周末每天5小时" (x2)."""
    study_days = _study_days(text)
    candidates = [m for p in (_ZH_RATE, _ZH_RATE_AFTER, _EN_RATE) for m in p.finditer(text)]
    for match in sorted(candidates, key=lambda m: m.start()):
        hours = _weekly_hours(match, text, study_days[0] if study_days else None)
        if hours is not None:
            spans = (match.span(), study_days[1]) if study_days else (match.span(),)
            return _clamped(hours, MIN_HOURS_PER_WEEK, MAX_HOURS_PER_WEEK, spans)
    return None


# -- duration in weeks -----------------------------------------------------------------------------

_EN_DURATION = _compile(
    r"(?:\b(?P<mark>in the next|in about|in around|in under|within|in|over|during|under)\s+)?"
    + _RANGE + r"[\s-]*(?P<unit>weeks?|wks?|months?|mos?|years?|yrs?|days?)(?![a-z])(?P<half>\s+and\s+a\s+half)?"
)
_ZH_DURATION = _compile(
    rf"(?P<mark>在|用|花)?\s*{_RANGE}\s*(?P<half>个?半)?\s*(?P<unit>个月|个星期|个礼拜|星期|礼拜|周|年|天|月)"
    r"(?P<half2>半)?(?P<post>之内|以内|内|里|时间|完成|学会)?"
)
_UNIT_WEEKS = {"w": 1.0, "m": WEEKS_PER_MONTH, "y": 52.0, "d": 1 / 7, "周": 1.0, "星": 1.0, "礼": 1.0,
               "月": WEEKS_PER_MONTH, "年": 52.0, "天": 1 / 7}
_NOT_A_DURATION = _compile(r"\s*(?:of\s+)?(?:experience|exp|ago|old)\b|\s*(?:的)?(?:工作)?(?:经验|前(?!端)|级|多前)")


def _is_marked(match: re.Match[str]) -> bool:
    """"in 3 months", "三个月内": the text says this is the time to reach the goal."""
    return bool(match["mark"] or match.groupdict().get("post"))


def _duration(match: re.Match[str], text: str) -> float | None:
    unit = match["unit"].removeprefix("个")
    vague = match["n"] in ("a", "an", "few", "a few") or unit.startswith("d") or unit == "天"
    if (vague and not _is_marked(match)) or _NOT_A_DURATION.match(text, match.end()):
        return None  # "twice a week", "3 days a week", "2 years of experience"
    if unit == "月" and match["n"] != "半" and not match["half"] and "个" not in match["unit"]:
        return None  # "三月" is March; "三个月" is three months
    if match.start() > 0 and text[match.start() - 1] in "第每":
        return None
    amount = _amount(match)
    return None if amount is None else amount * _UNIT_WEEKS[unit[0]]


def find_weeks(text: str) -> Found | None:
    """The duration in normalised ``text``: "in 3 months" 13, "6 weeks", "半年" 26, "一年" 52, "两周" 2.

    A duration with a marker ("in", "within", "...内") wins over a bare one.
    """
    found: list[tuple[bool, int, float, Span]] = []
    for pattern in (_EN_DURATION, _ZH_DURATION):
        for match in pattern.finditer(text):
            weeks = _duration(match, text)
            if weeks is not None:
                found.append((not _is_marked(match), match.start(), weeks, match.span()))
    if not found:
        return None
    _, _, weeks, span = min(found)
    return _clamped(weeks, MIN_WEEKS, MAX_WEEKS, (span,))


def _clamped(value: float, low: int, high: int, spans: tuple[Span, ...]) -> Found:
    kept = clamp(value, low, high)
    return Found(kept, spans, None if low <= value <= high else value)


def _clamp_warnings(hours: Found | None, weeks: Found | None, request: LearnerRequest, language: Language) -> list[str]:
    """"80 h/week is the most a plan will assume; you asked 1000": said, not silently reinterpreted."""
    warnings = []
    for found, given, name in ((hours, request.hours_per_week, "hours"), (weeks, request.weeks, "weeks")):
        if found is None or found.asked is None or given is not None:
            continue  # not clamped, or the request's own field overrides the text
        key = f"intent.clamped.{name}" + ("_low" if found.asked < found.value else "")
        warnings.append(messages.text(key, language, limit=found.value, asked=f"{found.asked:g}"))
    return warnings


# -- level and preferences -------------------------------------------------------------------------

_LEVELS: tuple[tuple[Level, re.Pattern[str]], ...] = (
    ("beginner", _compile(
        r"\b(?:beginner|newbie|novice|noob)\b|from scratch|\bno (?:prior |programming |coding )?experience"
        r"|never (?:programmed|coded|written code)|new to (?:programming|coding)|零基础|新手|小白|初学|入门|从零"
        r"|没有?(?:任何)?基础|不会编程")),
    ("intermediate", _compile(
        r"\bintermediate\b|\b(?:some|a bit of|a little) experience|\bimprove\b|level up|get better"
        r"|有(?:一定|一些|一点|些)?的?基础|有(?:一定|一些|些)的?经验|进阶|中级|提高|提升")),
    ("advanced", _compile(
        r"\b(?:experienced|senior|expert|advanced|master)\b|years of experience|精通|熟练|资深|高级|多年经验")),
)
_PREFERENCES = (
    ("projects", _compile(r"\bprojects?\b|project-based|hands-on|项目|实战")),
    ("video", _compile(r"\bvideos?\b|youtube|视频|网课")),
    ("books", _compile(r"\bbooks?\b|书籍|(?<!证)书(?!法)")),
)


def find_level(text: str) -> Level | None:
    """The level the normalised ``text`` states; a beginner phrase wins over a higher one."""
    return next((level for level, pattern in _LEVELS if pattern.search(text)), None)


def find_preferences(text: str) -> list[str]:
    return [name for name, pattern in _PREFERENCES if pattern.search(text)]


# -- known skills ----------------------------------------------------------------------------------

_X = r"(?P<x>[^,.;!?。\n]{1,60})"
_KNOWN = tuple(_compile(p) for p in (
    rf"\b(?:i|we)\s+(?:already\s+|also\s+|kind of\s+|sort of\s+)?know\s+{_X}",
    rf"\balready\s+know\s+{_X}",
    rf"\b(?:familiar|comfortable|proficient|experienced|fluent|good)\s+(?:with|in|at)\s+{_X}",
    rf"\b(?:i|i've|ive|have)\s+(?:already\s+)?(?:used|learned|learnt|studied|worked with)\s+{_X}",
    rf"\b(?:experience|background)\s+(?:with|in|using)\s+{_X}",
    r"\bi(?:'m| am)\s+(?:an?\s+)?(?P<x>[a-z0-9+#. -]{1,30}?)\s+(?:developer|dev|engineer|programmer)\b",
    rf"(?:我|已经|也|还|都)会{_X}",
    rf"(?:学过|用过|接触过|熟悉|精通|懂得?|掌握了|已经掌握|已掌握){_X}",
    r"有(?P<x>[^,.;!?。\n]{1,20}?)的?(?:基础|经验|背景)",
    r"我是(?:一名|一个|一位|名|个)?(?P<x>[^,.;!?。\n]{1,12}?)(?:开发者|开发工程师|开发|工程师|程序员)",
))
_NEGATED = _compile(r"(?:\bnot|n't|\bnever|\bno|\bwant to (?:be|get)|\bto become|[不没未想要])\s*$")
_KNOWN_STOP = _compile(
    r"\b(?:but|so|and (?:i|want|would|now|hope|need|plan)|want|wanna|would like|hoping|hope|now|to become"
    r"|need|trying|looking|plan|planning|however|though|because|since|while|then)\b"
    r"|想|要|希望|打算|准备|但|所以|现在|目标|然后|而且|如何|怎么|成为|因为|计划|可以|能不能|转行|转型|并且"
)
_NOT_A_SKILL = _compile(
    r"^\s*(?:(?:that|it|it's|its|what|why|when|where|who|how much|nothing|none|little|very little|no|not|i|"
    r"you|this|there)\b|在|去|每|认真|好好)|学会|学完|学好|努力|坚持|\blearn|\bbecome|\bmaster"
)
_ITEM_SPLIT = _compile(r"\s*(?:,|&|\band\b|\bor\b|和|、|与|以及|及|跟)\s*")
_FILLER = _compile(
    r"^(?:\s|(?:some|a bit of|a little bit of|a little|a lot of|basic|the basics of|basics of|the|how to use"
    r"|how to)\b|一点点|一点|一些|一定的|一定|点|些|用|写|基本的|基础的|简单的|过|了)+"
    r"|(?:\s|\b(?:basics|a bit|a little|well|already)|了|的|基础|一点|一些)+$"
)


def _domain_named(key: str, catalog: Catalog) -> str | None:
    for domain in catalog.domains.values():
        names = {domain.id, domain.id.replace("_", " "), domain.name.en.lower(), domain.name.zh.lower()}
        if key in names:
            return domain.id
    return None


def skill_ids(text: str, catalog: Catalog) -> list[str]:
    """Catalog ids a skill phrase names: a domain's own name gives the domain ("some Python" -> ``python``),
    anything more specific gives concepts ("SQL" -> ``databases.sql_basics``)."""
    if text in catalog.concepts or text in catalog.domains:
        return [text]
    ids: list[str] = []
    for item in _ITEM_SPLIT.split(normalise(text)):
        key = _FILLER.sub("", item).strip()
        if not key:
            continue
        domain = _domain_named(key, catalog)
        found = catalog.match_concepts(item) or catalog.match_domains(item)
        ids += [domain] if domain else (found or [d for _, d in _phrase_hits(item) if d in catalog.domains])
    return _unique(ids)


def find_known(text: str, catalog: Catalog) -> tuple[list[str], list[Span]]:
    """Skills normalised ``text`` says the learner has ("I know some Python", "学过 SQL"), and their spans."""
    ids: list[str] = []
    spans: list[Span] = []
    seen: dict[str, list[str]] = {}
    for pattern in _KNOWN:
        for match in pattern.finditer(text):
            if _NEGATED.search(text[max(0, match.start() - 14):match.start()]):
                continue
            stop = _KNOWN_STOP.search(match["x"])
            phrase = match["x"][:stop.start()] if stop else match["x"]
            if phrase not in seen:
                seen[phrase] = [] if _NOT_A_SKILL.search(phrase) else skill_ids(phrase, catalog)
            if found := seen[phrase]:
                ids += found
                spans.append((match.start("x"), match.start("x") + len(phrase)))
    return _unique(ids), spans


# -- target domains --------------------------------------------------------------------------------

# Job titles and phrasings the catalog keywords may miss; an empty tuple blocks a shorter phrase ("web app").
_DOMAIN_PHRASES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (r"full[- ]?stack", ("fullstack",)),
    (r"data scien(?:ce|tists?)|数据科学家?", ("machine_learning",)),
    (r"web (?:developer|development|design(?:er)?|apps?|applications?|pages?)|websites?|网页|网站",
     ("frontend",)),
    (r"爬虫|web scraping|scraping|crawlers?|automation scripts?|自动化脚本", ("python",)),
    (r"desktop apps?", ()),
    (r"手机应用|移动应用", ("mobile",)),
    (r"hack(?:ers?|ing)|pentest(?:ing|ers?)?|\bctf\b|黑客", ("security",)),
    (r"运维", ("devops",)),  # "做运维" is the job; "Kubernetes 运维" is Kubernetes (phrases yield to keywords)
)
_PHRASES = tuple((_compile(rf"(?<![a-z])(?:{p})(?![a-z])"), ids) for p, ids in _DOMAIN_PHRASES)
_PROGRAMMING = _compile(r"\b(?:programming|program|programmer|coding|code|coder|software)\b|编程|写代码|程序")
DEFAULT_LANGUAGE_DOMAIN = "python"  # "learn programming" names no language: a stated default


def _phrase_hits(text: str) -> list[tuple[int, str]]:
    matches = [(m, ids) for pattern, ids in _PHRASES for m in pattern.finditer(text)]
    taken: list[Span] = []
    hits: list[tuple[int, str]] = []
    for match, ids in sorted(matches, key=lambda p: (p[0].start() - p[0].end(), p[0].start())):  # longest first
        if not any(match.start() < end and start < match.end() for start, end in taken):
            taken.append(match.span())
            hits += [(match.start(), domain_id) for domain_id in ids]
    return hits


@dataclass(frozen=True)
class Targets:
    """What a goal asks to learn: domains it names, concepts it names, and the technologies among them."""

    domains: list[str]
    topics: list[str]
    technologies: list[str]
    defaulted: list[str]
    narrowed: list[str]


def find_targets(text: str, catalog: Catalog, known: set[str]) -> Targets:
    """Domains and concepts named in normalised ``text`` (minus known ones), with each role's choices made.

    A technology or subject named together with one of its own concepts is narrowed to that concept ("learn Go
    concurrency" plans concurrency and what it needs, not all of Go); a role never is.
    """
    named, topics = catalog.match_targets(text)  # ``text`` has the known parts blanked: what is left is asked for
    if not named:  # job phrases ("web apps", "爬虫") only when no keyword says more
        rest = blank(text, catalog.matched_spans(text))
        named = _unique(d for _, d in sorted(_phrase_hits(rest)) if d in catalog.domains)
    topics = [c for c in topics if c not in known]
    topic_domains = _unique(d for c in topics if (d := catalog.domain_of(c)))
    # a topic narrows its technology or subject ("Go concurrency"); a role only when the role itself is unnamed
    narrowed = [d for d in topic_domains if catalog.domains[d].kind != "role" or d not in named]
    domains = _unique([*named, *topic_domains])
    technologies = [d for d in domains if catalog.domains[d].kind == "technology"]
    defaulted: list[str] = []
    for domain_id in [d for d in domains if d not in narrowed]:
        for choice in catalog.domains[domain_id].choices:
            if not any(option in domains or option in known for option in choice.options):
                defaulted.append(choice.default)  # none named, none known: the role's default, stated
    defaulted = [d for d in _unique(defaulted) if d in catalog.domains and d not in domains]
    return Targets(domains=domains + defaulted, topics=topics, technologies=technologies, defaulted=defaulted,
                   narrowed=narrowed)


def uncovered_subjects(text: str, catalog: Catalog, language: Language) -> list[str]:
    return _unique(subject.name.get(language) for subject in catalog.match_uncovered(text))


# -- the whole request -----------------------------------------------------------------------------

_CJK = _compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def detect_language(text: str) -> Language:
    """``zh`` when ``text`` has any Chinese character, else ``en``."""
    return "zh" if _CJK.search(text) else "en"


def analyze_intent(request: LearnerRequest, catalog: Catalog) -> Intent:
    """What ``request`` asks for; its structured fields override what the goal text says.

    Raises ``OutOfScope`` when the goal names nothing the catalog covers (the message says what it covers).
    """
    text = normalise(request.goal)
    language = request.language or detect_language(request.goal)
    known, known_spans = find_known(text, catalog)
    stated = [*request.known_skills, *request.profile_skills]
    known = _unique([*known, *(i for s in stated for i in skill_ids(s, catalog))])
    target_text = blank(text, known_spans)
    targets = find_targets(target_text, catalog, set(known))
    uncovered = uncovered_subjects(target_text, catalog, language)
    uncovered_stack = any(s.stack for s in catalog.match_uncovered(target_text))
    domains, defaulted = targets.domains, targets.defaulted
    if not domains and not uncovered and _PROGRAMMING.search(text) and DEFAULT_LANGUAGE_DOMAIN in catalog.domains:
        domains, defaulted = [DEFAULT_LANGUAGE_DOMAIN], [DEFAULT_LANGUAGE_DOMAIN]
    if not domains or (uncovered_stack and not targets.technologies and not targets.topics):
        # nothing covered, or an uncovered stack with only a role around it ("Elixir web development")
        raise OutOfScope(out_of_scope_message(request.goal, uncovered, catalog, language), uncovered)
    hours = find_hours_per_week(text)
    weeks = find_weeks(blank(text, hours.spans) if hours else text)
    return Intent(
        goal=request.goal.strip(),
        domains=domains,
        level=request.level or find_level(text) or "beginner",
        known_skills=known,
        hours_per_week=request.hours_per_week or (hours.value if hours else DEFAULT_HOURS_PER_WEEK),
        weeks=request.weeks or (weeks.value if weeks else DEFAULT_WEEKS),
        language=language,
        preferences=find_preferences(text),
        technologies=targets.technologies,
        defaulted=defaulted,
        topics=targets.topics,
        narrowed=targets.narrowed,
        uncovered=uncovered,
        weeks_stated=bool(request.weeks or weeks),
        clamped=_clamp_warnings(hours, weeks, request, language),
    )


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
