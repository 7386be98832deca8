"""Intent analysis: a learner's free-text goal (English, Chinese or both) becomes an ``Intent``, offline.

"I want to become a backend developer in 3 months, I know some Python, 10 hours a week" and
"我想三个月内学会 Python 后端开发, 每周 10 小时" both give target domains, a level, known skills (catalog ids),
weekly hours, a duration in weeks and the language. Structured fields of the request win over the text.

What the learner already knows never counts as a target: "I know some Python, want to become a backend
developer" targets ``backend`` and records ``python`` as known. Numbers, weekly hours and the duration are read
by amounts.py (shared with the review-feedback parser); this module reads the level, the known skills and the
targets, and puts the ``Intent`` together.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from roadmap_agent.domain import messages
from roadmap_agent.domain.amounts import (
    Found,
    Span,
    ascii_pattern,
    blank,
    find_hours_per_week,
    find_weeks,
    normalise,
)
from roadmap_agent.domain.catalog import Catalog
from roadmap_agent.domain.lang import detect_language
from roadmap_agent.domain.messages import out_of_scope_message
from roadmap_agent.domain.models import Intent, Language, LearnerRequest, Level
from roadmap_agent.errors import OutOfScope

DEFAULT_HOURS_PER_WEEK = 10
DEFAULT_WEEKS = 12

# -- what was clamped ------------------------------------------------------------------------------


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
    ("beginner", ascii_pattern(
        r"\b(?:beginner|newbie|novice|noob)\b|from scratch|\bno (?:prior |programming |coding )?experience"
        r"|never (?:programmed|coded|written code)|new to (?:programming|coding)|零基础|新手|小白|初学|入门|从零"
        r"|没有?(?:任何)?基础|不会编程")),
    ("intermediate", ascii_pattern(
        r"\bintermediate\b|\b(?:some|a bit of|a little) experience|\bimprove\b|level up|get better"
        r"|有(?:一定|一些|一点|些)?的?基础|有(?:一定|一些|些)的?经验|进阶|中级|提高|提升")),
    ("advanced", ascii_pattern(
        r"\b(?:experienced|senior|expert|advanced|master)\b|years of experience|精通|熟练|资深|高级|多年经验")),
)
_PREFERENCES = (
    ("projects", ascii_pattern(r"\bprojects?\b|project-based|hands-on|项目|实战")),
    ("video", ascii_pattern(r"\bvideos?\b|youtube|视频|网课")),
    ("books", ascii_pattern(r"\bbooks?\b|书籍|(?<!证)书(?!法)")),
)


def find_level(text: str) -> Level | None:
    """The level the normalised ``text`` states; a beginner phrase wins over a higher one."""
    return next((level for level, pattern in _LEVELS if pattern.search(text)), None)


def find_preferences(text: str) -> list[str]:
    return [name for name, pattern in _PREFERENCES if pattern.search(text)]


# -- known skills ----------------------------------------------------------------------------------

_X = r"(?P<x>[^,.;!?。\n]{1,60})"
_KNOWN = tuple(ascii_pattern(p) for p in (
    rf"\b(?:i|we)\s+(?:already\s+|also\s+|kind of\s+|sort of\s+)?know\s+{_X}",
    rf"\balready\s+know\s+{_X}",
    rf"\b(?:familiar|comfortable|proficient|experienced|fluent|good)\s+(?:with|in|at)\s+{_X}",
    rf"\b(?:i|i've|ive|have)\s+(?:already\s+)?(?:used|learned|learnt|studied|worked with)\s+{_X}",
    rf"\b(?:experience|background)\s+(?:with|in|using)\s+{_X}",
    r"\bi(?:'m| am)\s+(?:an?\s+)?(?P<x>[a-z0-9+#. -]{1,30}?)\s+(?:developer|dev|engineer|programmer)\b",
    rf"(?:我|已经|也|还|都)会{_X}",
    rf"(?:^|[,;:、\s])会(?:一点儿?|一些|点儿?|些){_X}",  # subject dropped: "会一点 Excel" (not "学会")
    rf"(?:学过|用过|接触过|熟悉|精通|懂得?|掌握了|已经掌握|已掌握){_X}",
    r"有(?P<x>[^,.;!?。\n]{1,20}?)的?(?:基础|经验|背景)",
    r"我是(?:一名|一个|一位|名|个)?(?P<x>[^,.;!?。\n]{1,12}?)(?:开发者|开发工程师|开发|工程师|程序员)",
))
_NEGATED = ascii_pattern(r"(?:\bnot|n't|\bnever|\bno|\bwant to (?:be|get)|\bto become|[不没未想要])\s*$")
_KNOWN_STOP = ascii_pattern(
    r"\b(?:but|so|and (?:i|want|would|now|hope|need|plan)|want|wanna|would like|hoping|hope|now|to become"
    r"|need|trying|looking|plan|planning|however|though|because|since|while|then)\b"
    r"|想|要|希望|打算|准备|但|所以|现在|目标|然后|而且|如何|怎么|成为|因为|计划|可以|能不能|转行|转型|并且"
)
_NOT_A_SKILL = ascii_pattern(
    r"^\s*(?:(?:that|it|it's|its|what|why|when|where|who|how much|nothing|none|little|very little|no|not|i|"
    r"you|this|there)\b|在|去|每|认真|好好)|学会|学完|学好|努力|坚持|\blearn|\bbecome|\bmaster"
)
_ITEM_SPLIT = ascii_pattern(r"\s*(?:,|&|\band\b|\bor\b|和|、|与|以及|及|跟)\s*")
_FILLER = ascii_pattern(
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
_PHRASES = tuple((ascii_pattern(rf"(?<![a-z])(?:{p})(?![a-z])"), ids) for p, ids in _DOMAIN_PHRASES)
_PROGRAMMING = ascii_pattern(r"\b(?:programming|program|programmer|coding|code|coder|software)\b|编程|写代码|程序")
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
