"""Amounts of time read from text: numbers, weekly hours and a duration in weeks (English, Chinese or both).

"10 hours a week", "2 hours a day" (x7), "每周十小时", "周末每天5小时" give weekly hours; "in 3 months", "6 weeks",
"半年" give weeks. Numbers are digits, English words ("two", "half an") or Chinese numerals ("十五", "两三").
Each value comes with the spans it was read from, so callers can blank them (``blank``) and not reread them, and
with what the text asked when the value had to be clamped into range. ``normalise`` is the form of the text all
these patterns read. Shared by the goal analysis (intent.py) and the review-feedback parser (feedback.py).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from roadmap_agent.domain.models import MAX_HOURS_PER_WEEK, MAX_WEEKS, MIN_HOURS_PER_WEEK, MIN_WEEKS

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


def ascii_pattern(pattern: str) -> re.Pattern[str]:
    """``pattern`` with ASCII word boundaries: in "想学习AI" the CJK "习" must count as a boundary before "AI"."""
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
_EN_RATE = ascii_pattern(
    _RANGE + r"\s*\+?\s*(?P<unit>hours?|hrs?|h|minutes?|mins?)(?![a-z])(?P<half>\s+and\s+a\s+half)?"
    r"(?:\s+(?:of\s+)?(?:study(?:ing)?|learning|practice|coding|free time|spare time))?\s*"
    r"(?P<per>(?:(?:a|an|per|each|every|on|/)\s*)?(?:weekdays?|weekend days?|weekends?|weeks?|wk|days?|"
    r"nights?|evenings?)(?![a-z])|weekly|daily|nightly|pw|p/w)"
)
_ZH_PER = r"周一(?:到|至)周五|(?:每个?|一个?)(?:周末|工作日|星期|礼拜|周|天|日|晚上?)|周末|工作日|天天|平日"
_ZH_UNIT = r"(?P<unit>小时|钟头|h|hours?|hrs?|分钟)"
_ZH_RATE = ascii_pattern(
    rf"(?P<per>{_ZH_PER})[^{_STOP}]{{0,8}}?{_RANGE}\s*个?\s*(?P<half>半)?\s*个?\s*{_ZH_UNIT}"
)
_ZH_RATE_AFTER = ascii_pattern(
    rf"{_RANGE}\s*个?\s*(?P<half>半)?\s*个?\s*{_ZH_UNIT}\s*(?:/|每|一)\s*个?(?P<per>周|星期|礼拜|天|日|晚)"
)
_DAYS_PER_WEEK = (
    ascii_pattern(rf"{_RANGE}\s*(?:days?|evenings?|nights?)\s*(?:a|per|each|every|/)\s*(?:week|wk)"),
    ascii_pattern(rf"(?:每个?|一个?)(?:周|星期|礼拜)[^{_STOP}]{{0,4}}?{_RANGE}\s*个?\s*(?:天|日|晚上?)"),
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

_EN_DURATION = ascii_pattern(
    r"(?:\b(?P<mark>in the next|in about|in around|in under|within|in|over|during|under)\s+)?"
    + _RANGE + r"[\s-]*(?P<unit>weeks?|wks?|months?|mos?|years?|yrs?|days?)(?![a-z])(?P<half>\s+and\s+a\s+half)?"
)
_ZH_DURATION = ascii_pattern(
    rf"(?P<mark>在|用|花)?\s*{_RANGE}\s*(?P<half>个?半)?\s*(?P<unit>个月|个星期|个礼拜|星期|礼拜|周|年|天|月)"
    r"(?P<half2>半)?(?P<post>之内|以内|内|里|时间|完成|学会)?"
)
_UNIT_WEEKS = {"w": 1.0, "m": WEEKS_PER_MONTH, "y": 52.0, "d": 1 / 7, "周": 1.0, "星": 1.0, "礼": 1.0,
               "月": WEEKS_PER_MONTH, "年": 52.0, "天": 1 / 7}
_NOT_A_DURATION = ascii_pattern(
    r"\s*(?:of\s+)?(?:experience|exp|ago|old)\b|\s*(?:的)?(?:工作)?(?:经验|前(?!端)|级|多前)"
)


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
