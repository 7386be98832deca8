"""The roadmap as an iCalendar file (RFC 5545, built with the ``icalendar`` library).

One event per study session: on the week days and at the time the learner picks (default: three evening
sessions, Monday, Wednesday and Friday at 19:00), each a share of that week's scheduled hours, titled with the
week's concepts and linking their resources; plus an all-day reminder on each review's due date.

Every ``UID`` says what the event *is*, not which version made it: a session is its roadmap, day and slot, a
reminder its roadmap and concept. Re-importing after a re-plan therefore updates the events in place
(``SEQUENCE`` is the version) instead of adding copies. Times carry the learner's time zone (``TZID`` with its
``VTIMEZONE``), so a session stays at 19:00 local time across daylight-saving changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event

from roadmap_agent.domain.messages import text
from roadmap_agent.domain.models import Roadmap
from roadmap_agent.domain.progress import week_dates

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_DAYS = ("mon", "wed", "fri")
DEFAULT_TIME = time(19, 0)
MIN_SESSION_MINUTES = 15
PRODID = "-//roadmap-agent//learning roadmap//EN"
UID_DOMAIN = "roadmap-agent"


@dataclass(frozen=True)
class CalendarOptions:
    timezone: str = "UTC"
    days: tuple[str, ...] = DEFAULT_DAYS
    at: time = DEFAULT_TIME


@dataclass(frozen=True)
class Reminder:
    concept_id: str
    name: str
    due: date


@dataclass(frozen=True)
class CalendarInput:
    roadmap: Roadmap
    starts_on: date  # the first day of the version's week 1
    version: int
    options: CalendarOptions = CalendarOptions()
    reminders: list[Reminder] = field(default_factory=list)
    skip_before: date | None = None  # no sessions before this day (e.g. today after a re-plan)


def session_uid(roadmap_id: str, day: date, slot: int) -> str:
    return f"session-{roadmap_id}-{day.isoformat()}-{slot}@{UID_DOMAIN}"


def review_uid(roadmap_id: str, concept_id: str) -> str:
    return f"review-{roadmap_id}-{concept_id}@{UID_DOMAIN}"


def session_days(first: date, days: tuple[str, ...]) -> list[date]:
    """The week's days (first .. first + 6) that fall on the chosen week days, in order."""
    wanted = {WEEKDAYS.index(d) for d in days}
    return [d for d in (first + timedelta(days=i) for i in range(7)) if d.weekday() in wanted]


def build_calendar(source: CalendarInput, stamp: datetime) -> bytes:
    roadmap, options = source.roadmap, source.options
    zone = ZoneInfo(options.timezone)
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", roadmap.title)
    calendar.add("x-wr-timezone", options.timezone)
    names = {c.id: c.name for c in roadmap.concepts()}
    names.update({p.id: p.title for p in roadmap.projects()})
    links = {c.id: [r.url for r in c.resources] for c in roadmap.concepts()}
    for week in roadmap.schedule:
        first, _last = week_dates(source.starts_on, week.week)
        days = [d for d in session_days(first, options.days) if source.skip_before is None or d >= source.skip_before]
        if not days:
            continue
        minutes = max(MIN_SESSION_MINUTES, round(week.hours * 60 / len(days) / MIN_SESSION_MINUTES)
                      * MIN_SESSION_MINUTES)
        topics = [names.get(i, i) for i in [*week.concept_ids, *week.project_ids]]
        title = text("calendar.session", roadmap.language, week=week.week, topics=", ".join(topics))
        urls = list(dict.fromkeys(u for i in week.concept_ids for u in links.get(i, [])))
        for slot, day in enumerate(days, start=1):
            start = datetime.combine(day, options.at, tzinfo=zone)
            event = _event(session_uid(roadmap.id, day, slot), title, stamp, source.version)
            event.add("dtstart", start)
            event.add("dtend", start + timedelta(minutes=minutes))
            event.add("description", "\n".join([title, *urls]))
            if urls:
                event.add("url", urls[0])
            calendar.add_component(event)
    for reminder in source.reminders:
        event = _event(review_uid(roadmap.id, reminder.concept_id),
                       text("calendar.review", roadmap.language, name=reminder.name), stamp, source.version)
        event.add("dtstart", reminder.due)
        event.add("dtend", reminder.due + timedelta(days=1))
        event.add("transp", "TRANSPARENT")
        calendar.add_component(event)
    calendar.add_missing_timezones()
    return calendar.to_ical()  # type: ignore[no-any-return]


def _event(uid: str, summary: str, stamp: datetime, sequence: int) -> Event:
    event = Event()
    event.add("uid", uid)
    event.add("summary", summary)
    event.add("dtstamp", stamp)
    event.add("sequence", sequence)
    return event
