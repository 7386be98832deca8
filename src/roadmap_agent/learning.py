"""Learning with a final roadmap: the one place the API and the CLI go through (domain logic + store + events).

Everything is scoped to the caller (``owner``); dates default to today in the roadmap's time zone, and every
date-dependent call takes ``today`` so learners can plan ahead and tests can walk through weeks.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from roadmap_agent.domain.catalog import Catalog
from roadmap_agent.domain.messages import text
from roadmap_agent.domain.models import MAX_HOURS_PER_WEEK, MAX_WEEKS, Concept, Project, Roadmap
from roadmap_agent.domain.progress import FINISHED, STATES, ItemProgress, ProgressSummary, summarize, tracked_items
from roadmap_agent.domain.reviews import RATINGS, ReviewRating, due_on, first_card, review
from roadmap_agent.domain.versions import VersionDiff, aligned_start, diff, replan, weeks_until
from roadmap_agent.errors import Conflict, InvalidRequest, NotFound
from roadmap_agent.events.bus import EventLog
from roadmap_agent.metrics import Metrics
from roadmap_agent.store.learning import (
    CardRecord,
    Defaults,
    LearningRecord,
    LearningStore,
    ProgressChange,
    VersionRecord,
)
from roadmap_agent.store.records import EventType

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from roadmap_agent.domain.calendar import CalendarOptions

SHARE_TOKEN_BYTES = 24
VERSION_CACHE = 256  # parsed roadmap versions kept in memory (immutable once written)


def valid_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidRequest(f"timezone: {name!r} is not an IANA time zone name; use e.g. 'Europe/Berlin', "
                             "'Asia/Shanghai', 'America/New_York' or 'UTC'.") from None
    return name


def share_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Opened:
    """A roadmap being learnt: its learning row, current version and that version's roadmap."""

    record: LearningRecord
    version: VersionRecord
    roadmap: Roadmap

    def today(self, today: date | None) -> date:
        return today or datetime.now(ZoneInfo(self.record.timezone)).date()


@dataclass(frozen=True)
class ReviewResult:
    concept_id: str
    name: str
    rating: str
    due: date
    reviews: int


class Learning:
    def __init__(self, store: LearningStore, events: EventLog, metrics: Metrics, catalog: Catalog) -> None:
        self.store = store
        self.events = events
        self.metrics = metrics
        self.catalog = catalog
        self._versions: dict[tuple[str, int], tuple[VersionRecord, Roadmap]] = {}

    # -- opening a roadmap ----------------------------------------------------------------------------

    async def open(self, roadmap_id: str, owner: str) -> Opened:
        """The roadmap's learning row (made on first use) and current version; 404 for someone else's."""
        record = await self.store.learning(roadmap_id, owner)
        if record is None:
            final = await self.store.final_roadmap(roadmap_id, owner)
            record = await self.store.start(roadmap_id, owner, final.body,
                                            _defaults(final.body, final.request, final.finalized_at))
        version, roadmap = await self._version(roadmap_id, record.current_version)
        if version.version == 1 and version.starts_on != record.start_date:  # moved since it was cached
            version = replace(version, starts_on=record.start_date)
        return Opened(record, version, roadmap)

    async def _version(self, roadmap_id: str, number: int) -> tuple[VersionRecord, Roadmap]:
        """A version and its parsed roadmap; versions never change once written, so they are cached."""
        key = (roadmap_id, number)
        cached = self._versions.pop(key, None)
        if cached is None:
            found = await self.store.version(roadmap_id, number)
            if found is None:
                raise NotFound(f"Roadmap {roadmap_id} has no version {number}.")
            cached = (found, Roadmap.model_validate(found.body))
        self._versions[key] = cached  # most recently used last
        while len(self._versions) > VERSION_CACHE:
            self._versions.pop(next(iter(self._versions)))
        return cached

    async def set_dates(self, roadmap_id: str, owner: str, *, start_date: date | None,
                        timezone: str | None) -> Opened:
        opened = await self.open(roadmap_id, owner)
        if start_date is not None and opened.record.current_version != 1:
            raise Conflict("The start date can only move before the first re-plan; re-plan from today instead.")
        deadline = None
        if start_date is not None:
            deadline = start_date + (opened.record.deadline - opened.record.start_date)
        await self.store.set_dates(roadmap_id, owner, start_date=start_date,
                                   timezone=valid_timezone(timezone) if timezone else None, deadline=deadline)
        return await self.open(roadmap_id, owner)

    # -- progress -------------------------------------------------------------------------------------

    async def summary(self, opened: Opened, today: date | None) -> tuple[ProgressSummary, dict[str, ItemProgress]]:
        progress = await self.store.progress(opened.record.roadmap_id)
        day = opened.today(today)
        return summarize(opened.roadmap, progress, opened.version.starts_on, day, opened.record.start_date), progress

    async def update(self, roadmap_id: str, owner: str, concept_id: str, change: ProgressChange,
                     if_match: int | None = None, today: date | None = None) -> ItemProgress:
        opened = await self.open(roadmap_id, owner)
        item = _item(opened.roadmap, concept_id)
        if change.state is not None and change.state not in STATES:
            raise InvalidRequest(f"state: {change.state!r} is not a state; use one of {', '.join(STATES)}.")
        saved, before = await self.store.update_progress(roadmap_id, owner, concept_id, change, if_match)
        self.metrics.progress_updates.labels(state=saved.state).inc()
        if saved.state == "done" and before != "done" and isinstance(item, Concept):
            day = opened.today(today)
            card = first_card(day)
            await self.store.add_card(roadmap_id, owner, concept_id, item.name, card, due_on(card))
        language = opened.roadmap.language
        await self.events.emit(opened.record.task_id, EventType.PROGRESS_UPDATED,
                               text("learning.progress_updated", language, name=_name(item),
                                    state=text(f"state.{saved.state}", language)),
                               data={"roadmap_id": roadmap_id, "progress": saved.model_dump(mode="json")})
        return saved

    # -- versions -------------------------------------------------------------------------------------

    async def replan(self, roadmap_id: str, owner: str, *, today: date | None = None, weeks: int | None = None,
                     hours_per_week: int | None = None) -> tuple[Opened, VersionDiff]:
        opened = await self.open(roadmap_id, owner)
        day = opened.today(today)
        starts_on = aligned_start(opened.version.starts_on, day)
        deadline = starts_on + timedelta(days=7 * weeks - 1) if weeks else opened.record.deadline
        fit_weeks = weeks or weeks_until(starts_on, deadline + timedelta(days=1))
        pace = hours_per_week or opened.roadmap.hours_per_week
        progress = await self.store.progress(roadmap_id)
        intent = (await self.store.final_roadmap(roadmap_id, owner)).intent
        new = replan(opened.roadmap, progress, self.catalog, list(intent.get("domains", [])),
                     weeks=min(fit_weeks, MAX_WEEKS), hours_per_week=min(pace, MAX_HOURS_PER_WEEK),
                     level=str(intent.get("level", "beginner")))
        reason = f"replan on {day.isoformat()}"
        number = await self.store.add_version(roadmap_id, owner, opened.version.version,
                                              new.model_dump(mode="json"), starts_on, reason, deadline)
        self.metrics.replans.inc()
        reopened = await self.open(roadmap_id, owner)
        changes = diff(opened.roadmap, opened.version.starts_on, reopened.roadmap, starts_on,
                       from_version=opened.version.version, to_version=number)
        await self.events.emit(opened.record.task_id, EventType.REPLANNED, text(
            "learning.replanned", new.language, version=number, weeks=new.weeks, hours=new.hours_per_week,
            finish=changes.finish.after), data={"roadmap_id": roadmap_id, "version": number})
        return reopened, changes

    async def versions(self, roadmap_id: str, owner: str) -> list[VersionRecord]:
        await self.open(roadmap_id, owner)
        return await self.store.versions(roadmap_id)

    async def version(self, roadmap_id: str, owner: str, number: int) -> VersionRecord:
        opened = await self.open(roadmap_id, owner)
        if not 1 <= number <= opened.record.current_version:
            raise NotFound(f"Roadmap {roadmap_id} has no version {number}; it has versions 1 to "
                           f"{opened.record.current_version}.")
        return (await self._version(roadmap_id, number))[0]

    async def diff(self, roadmap_id: str, owner: str, before: int, after: int) -> VersionDiff:
        old, new = await self.version(roadmap_id, owner, before), await self.version(roadmap_id, owner, after)
        return diff(Roadmap.model_validate(old.body), old.starts_on, Roadmap.model_validate(new.body), new.starts_on,
                    from_version=before, to_version=after)

    # -- spaced review --------------------------------------------------------------------------------

    async def review(self, roadmap_id: str, owner: str, concept_id: str, rating: str,
                     today: date | None = None) -> ReviewResult:
        if rating not in RATINGS:
            raise InvalidRequest(f"rating: {rating!r} is not a review outcome; use one of {', '.join(RATINGS)}.")
        opened = await self.open(roadmap_id, owner)
        item = _item(opened.roadmap, concept_id)
        day = opened.today(today)
        for _attempt in range(3):
            card = await self.store.card(roadmap_id, concept_id)
            if card is None:
                raise Conflict(f"{_name(item)} has no review yet: mark it done first "
                               f"(PUT /api/v1/roadmaps/{roadmap_id}/progress/{concept_id} with state 'done').")
            reviewed = review(card.card, rating_of(rating), day)
            if await self.store.save_review(card, reviewed, due_on(reviewed), rating):
                break
        else:
            raise Conflict(f"{_name(item)} was reviewed concurrently; fetch the due list and retry.")
        self.metrics.reviews.labels(rating=rating).inc()
        result = ReviewResult(concept_id, card.name, rating, due_on(reviewed), card.reviews + 1)
        await self.events.emit(opened.record.task_id, EventType.REVIEWED, text(
            "learning.reviewed", opened.roadmap.language, name=card.name, rating=rating, due=result.due.isoformat()),
            data={"roadmap_id": roadmap_id, "concept_id": concept_id, "due": result.due.isoformat()})
        return result

    async def due(self, owner: str, today: date | None = None) -> list[CardRecord]:
        return await self.store.due_cards(owner, today or datetime.now(UTC).date())

    # -- calendar, share links, skill profile ------------------------------------------------------------

    async def calendar(self, roadmap_id: str, owner: str, options: CalendarOptions | None = None,
                       today: date | None = None) -> bytes:
        from roadmap_agent.domain.calendar import CalendarInput, CalendarOptions, Reminder, build_calendar  # icalendar

        opened = await self.open(roadmap_id, owner)
        options = options or CalendarOptions(timezone=opened.record.timezone)
        valid_timezone(options.timezone)
        reminders = [Reminder(c.concept_id, c.name, c.due) for c in await self.store.cards(roadmap_id)]
        source = CalendarInput(opened.roadmap, opened.version.starts_on, opened.version.version, options, reminders,
                               skip_before=today)
        return build_calendar(source, datetime.now(UTC))

    async def share(self, roadmap_id: str, owner: str, show_progress: bool) -> str:
        """A new share token (the old one, if any, stops working); only its hash is stored."""
        await self.open(roadmap_id, owner)
        token = secrets.token_urlsafe(SHARE_TOKEN_BYTES)
        await self.store.set_share(roadmap_id, owner, share_hash(token), show_progress)
        return token

    async def unshare(self, roadmap_id: str, owner: str) -> None:
        await self.open(roadmap_id, owner)
        await self.store.set_share(roadmap_id, owner, None, False)

    async def shared(self, token: str, today: date | None = None) -> tuple[Opened, ProgressSummary | None]:
        record = await self.store.shared(share_hash(token))
        if record is None:
            raise NotFound("This share link is unknown or has been revoked; ask the owner for a new one.")
        opened = await self.open(record.roadmap_id, record.owner)
        summary = (await self.summary(opened, today))[0] if record.share_progress else None
        return opened, summary

    async def known_skills(self, owner: str, conn: AsyncConnection | None = None) -> list[str]:
        """The skill profile: what ``owner`` finished or knew in earlier roadmaps (catalog ids); read on ``conn``
        (a transaction of the caller's) when given."""
        return sorted(c for c in await self.store.known_concepts(owner, conn) if c in self.catalog.concepts
                      or c in self.catalog.domains)


def rating_of(value: str) -> ReviewRating:
    for rating in RATINGS:
        if rating == value:
            return rating
    raise InvalidRequest(f"rating: {value!r} is not a review outcome; use one of {', '.join(RATINGS)}.")


def _defaults(body: dict[str, Any], request: dict[str, Any], finalized_at: datetime) -> Defaults:
    zone = request.get("timezone") or "UTC"
    try:
        local = finalized_at.astimezone(ZoneInfo(zone))
    except (ZoneInfoNotFoundError, ValueError):
        zone, local = "UTC", finalized_at.astimezone(UTC)
    start = date.fromisoformat(request["start_date"]) if request.get("start_date") else local.date()
    weeks = int(body.get("requested_weeks") or body.get("weeks") or 1)
    return Defaults(start_date=start, timezone=zone, deadline=start + timedelta(days=7 * weeks - 1))


def _item(roadmap: Roadmap, concept_id: str) -> Concept | Project:
    items = {i.id: i for i in tracked_items(roadmap)}
    if concept_id not in items:
        shown = ", ".join(list(items)[:80]) + (", ..." if len(items) > 80 else "")
        raise InvalidRequest(f"Unknown concept id {concept_id!r} in roadmap {roadmap.id}; valid ids: {shown}.")
    return items[concept_id]


def _name(item: Concept | Project) -> str:
    return item.name if isinstance(item, Concept) else item.title


__all__ = ["FINISHED", "Learning", "Opened", "ReviewResult", "rating_of", "share_hash", "valid_timezone"]
