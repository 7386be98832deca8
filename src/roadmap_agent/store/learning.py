"""Storage of learning with a roadmap: its dates and versions, progress per concept, review cards, share links.

Every read and write is scoped to an owner: a roadmap of someone else's is ``RoadmapNotFound`` (404), like a
missing one. A roadmap's learning row and version 1 are made on first use (``open``), from the final roadmap.

Progress updates never lose one another: each is one atomic ``UPDATE`` of the given columns of one row
(``revision = revision + 1``, hours added in SQL), an insert when the row is new (a racing insert retries as an
update), and with ``If-Match`` the update only lands while the row still has that revision.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from roadmap_agent.domain.progress import ItemProgress
from roadmap_agent.errors import AlreadyExists, Conflict, PreconditionFailed, RoadmapNotFound
from roadmap_agent.infra.database import Database
from roadmap_agent.store.records import as_utc, utcnow
from roadmap_agent.store.tables import (
    concept_progress,
    learning_roadmaps,
    review_cards,
    roadmap_versions,
    roadmaps,
    tasks,
)


class _Changed(Exception):
    """The row changed between the read and the update of one attempt: the next attempt sees it."""


NOT_FOUND = "No roadmap with id {roadmap_id!r} among yours. GET /api/v1/roadmaps lists them."


@dataclass(frozen=True)
class LearningRecord:
    roadmap_id: str
    task_id: str
    owner: str
    start_date: date
    timezone: str
    deadline: date
    current_version: int
    shared: bool
    share_progress: bool


@dataclass(frozen=True)
class FinalRoadmap:
    """One of the owner's final roadmaps as the workflow left it, with the task's request and intent."""

    body: dict[str, Any]
    request: dict[str, Any]
    intent: dict[str, Any]
    finalized_at: datetime


@dataclass(frozen=True)
class VersionRecord:
    version: int
    body: dict[str, Any]
    starts_on: date
    reason: str
    created_at: datetime


@dataclass(frozen=True)
class Defaults:
    """What a roadmap's learning row starts with (the service works them out from the task's request)."""

    start_date: date
    timezone: str
    deadline: date


@dataclass(frozen=True)
class ProgressChange:
    state: str | None = None
    hours: float | None = None  # set to this
    add_hours: float | None = None  # or add this
    note: str | None = None


@dataclass(frozen=True)
class CardRecord:
    roadmap_id: str
    concept_id: str
    name: str
    card: dict[str, Any]
    due: date
    reviews: int
    last_rating: str | None


def _not_found(roadmap_id: str) -> RoadmapNotFound:
    return RoadmapNotFound(NOT_FOUND.format(roadmap_id=roadmap_id))


_LEARNING = [learning_roadmaps.c.roadmap_id, roadmaps.c.task_id, learning_roadmaps.c.owner,
             learning_roadmaps.c.start_date, learning_roadmaps.c.timezone, learning_roadmaps.c.deadline,
             learning_roadmaps.c.current_version, learning_roadmaps.c.share_hash, learning_roadmaps.c.share_progress]


def _learning(row: sa.Row[Any]) -> LearningRecord:
    return LearningRecord(roadmap_id=row.roadmap_id, task_id=row.task_id, owner=row.owner,
                          start_date=row.start_date, timezone=row.timezone, deadline=row.deadline,
                          current_version=row.current_version, shared=row.share_hash is not None,
                          share_progress=bool(row.share_progress))


def _progress(row: sa.Row[Any]) -> ItemProgress:
    return ItemProgress(concept_id=row.concept_id, state=row.state, hours=row.hours, note=row.note,
                        updated_at=as_utc(row.updated_at), revision=row.revision)


def _card(row: sa.Row[Any]) -> CardRecord:
    return CardRecord(roadmap_id=row.roadmap_id, concept_id=row.concept_id, name=row.name, card=dict(row.card),
                      due=row.due, reviews=row.reviews, last_rating=row.last_rating)


# The skill profile's two reads, built once. Only the roadmaps' ``assumed_known`` lists travel, not their bodies.
_DONE = sa.select(concept_progress.c.concept_id).where(concept_progress.c.owner == sa.bindparam("owner"),
                                                       concept_progress.c.state == "done")
_ASSUMED_KNOWN = (sa.select(roadmaps.c.body["assumed_known"]).join(tasks, tasks.c.id == roadmaps.c.task_id)
                  .where(tasks.c.owner == sa.bindparam("owner")))


class LearningStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    # -- roadmaps and their learning rows ------------------------------------------------------------

    async def final_roadmap(self, roadmap_id: str, owner: str) -> FinalRoadmap:
        query = (sa.select(roadmaps.c.body, tasks.c.request, tasks.c.intent, roadmaps.c.created_at)
                 .join(tasks, tasks.c.id == roadmaps.c.task_id)
                 .where(roadmaps.c.id == roadmap_id, tasks.c.owner == owner))
        row = (await self._db.run(lambda conn: conn.execute(query))).one_or_none()
        if row is None:
            raise _not_found(roadmap_id)
        return FinalRoadmap(body=dict(row.body), request=dict(row.request), intent=dict(row.intent or {}),
                            finalized_at=as_utc(row.created_at))

    async def learning(self, roadmap_id: str, owner: str) -> LearningRecord | None:
        query = (sa.select(*_LEARNING).join(roadmaps, roadmaps.c.id == learning_roadmaps.c.roadmap_id)
                 .where(learning_roadmaps.c.roadmap_id == roadmap_id, learning_roadmaps.c.owner == owner))
        row = (await self._db.run(lambda conn: conn.execute(query))).one_or_none()
        return _learning(row) if row is not None else None

    async def start(self, roadmap_id: str, owner: str, body: dict[str, Any], defaults: Defaults) -> LearningRecord:
        """The learning row and version 1 of a roadmap (made once; a racing start gets the first one's)."""
        now = utcnow()

        async def insert(conn: AsyncConnection) -> None:
            await conn.execute(learning_roadmaps.insert().values(
                roadmap_id=roadmap_id, owner=owner, start_date=defaults.start_date, timezone=defaults.timezone,
                deadline=defaults.deadline, current_version=1, created_at=now))
            await conn.execute(roadmap_versions.insert().values(
                roadmap_id=roadmap_id, version=1, body=body, starts_on=defaults.start_date, reason="final",
                created_at=now))

        try:
            await self._db.run(insert, write=True)
        except AlreadyExists:
            pass  # started by a concurrent request
        record = await self.learning(roadmap_id, owner)
        if record is None:
            raise _not_found(roadmap_id)
        return record

    async def list_roadmaps(self, owner: str, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        """``owner``'s final roadmaps, newest first, with their current version when learning started."""
        base = (sa.select(roadmaps.c.id, roadmaps.c.task_id, roadmaps.c.title, roadmaps.c.language,
                          roadmaps.c.created_at, learning_roadmaps.c.current_version, learning_roadmaps.c.start_date)
                .join(tasks, tasks.c.id == roadmaps.c.task_id)
                .outerjoin(learning_roadmaps, learning_roadmaps.c.roadmap_id == roadmaps.c.id)
                .where(tasks.c.owner == owner))
        count = sa.select(sa.func.count()).select_from(base.subquery())
        page = base.order_by(roadmaps.c.created_at.desc(), roadmaps.c.id).limit(limit).offset(offset)

        async def work(conn: AsyncConnection) -> tuple[list[dict[str, Any]], int]:
            rows = (await conn.execute(page)).all()
            items = [{"roadmap_id": r.id, "task_id": r.task_id, "title": r.title, "language": r.language,
                      "created_at": as_utc(r.created_at), "version": r.current_version or 1,
                      "start_date": r.start_date} for r in rows]
            return items, int((await conn.execute(count)).scalar_one())

        return await self._db.run(work)

    async def set_dates(self, roadmap_id: str, owner: str, *, start_date: date | None = None,
                        timezone: str | None = None, deadline: date | None = None) -> None:
        values = {k: v for k, v in {"start_date": start_date, "timezone": timezone, "deadline": deadline}.items()
                  if v is not None}
        if not values:
            return
        statement = learning_roadmaps.update().where(learning_roadmaps.c.roadmap_id == roadmap_id,
                                                     learning_roadmaps.c.owner == owner).values(**values)

        async def work(conn: AsyncConnection) -> None:
            if (await conn.execute(statement)).rowcount == 0:
                raise _not_found(roadmap_id)
            if start_date is not None:  # version 1's week 1 is the start date
                await conn.execute(roadmap_versions.update().where(
                    roadmap_versions.c.roadmap_id == roadmap_id, roadmap_versions.c.version == 1)
                    .values(starts_on=start_date))

        await self._db.run(work, write=True)

    # -- versions --------------------------------------------------------------------------------------

    async def version(self, roadmap_id: str, version: int) -> VersionRecord | None:
        query = sa.select(roadmap_versions).where(roadmap_versions.c.roadmap_id == roadmap_id,
                                                  roadmap_versions.c.version == version)
        row = (await self._db.run(lambda conn: conn.execute(query))).one_or_none()
        if row is None:
            return None
        return VersionRecord(version=row.version, body=dict(row.body), starts_on=row.starts_on, reason=row.reason,
                             created_at=as_utc(row.created_at))

    async def versions(self, roadmap_id: str) -> list[VersionRecord]:
        query = (sa.select(roadmap_versions.c.version, roadmap_versions.c.starts_on, roadmap_versions.c.reason,
                           roadmap_versions.c.created_at)
                 .where(roadmap_versions.c.roadmap_id == roadmap_id).order_by(roadmap_versions.c.version))
        rows = (await self._db.run(lambda conn: conn.execute(query))).all()
        return [VersionRecord(version=r.version, body={}, starts_on=r.starts_on, reason=r.reason,
                              created_at=as_utc(r.created_at)) for r in rows]

    async def add_version(self, roadmap_id: str, owner: str, after: int, body: dict[str, Any], starts_on: date,
                          reason: str, deadline: date) -> int:
        """Version ``after + 1``, made current, if ``after`` is still the current one (else Conflict)."""
        bump = (learning_roadmaps.update()
                .where(learning_roadmaps.c.roadmap_id == roadmap_id, learning_roadmaps.c.owner == owner,
                       learning_roadmaps.c.current_version == after)
                .values(current_version=after + 1, deadline=deadline))

        async def work(conn: AsyncConnection) -> int:
            if (await conn.execute(bump)).rowcount == 0:
                raise Conflict(f"Roadmap {roadmap_id} was re-planned meanwhile (version {after} is no longer the "
                               "current one). Fetch it again, then re-plan if you still need to.")
            await conn.execute(roadmap_versions.insert().values(
                roadmap_id=roadmap_id, version=after + 1, body=body, starts_on=starts_on, reason=reason,
                created_at=utcnow()))
            return after + 1

        return await self._db.run(work, write=True)

    # -- progress -------------------------------------------------------------------------------------

    async def progress(self, roadmap_id: str) -> dict[str, ItemProgress]:
        query = sa.select(concept_progress).where(concept_progress.c.roadmap_id == roadmap_id)
        rows = (await self._db.run(lambda conn: conn.execute(query))).all()
        return {r.concept_id: _progress(r) for r in rows}

    async def update_progress(self, roadmap_id: str, owner: str, concept_id: str, change: ProgressChange,
                              if_match: int | None = None) -> tuple[ItemProgress, str | None]:
        """The row after the change, and the state it had before (None when it was new)."""
        for _attempt in range(3):
            try:
                return await self._db.run(lambda conn: self._update(conn, roadmap_id, owner, concept_id, change,
                                                                    if_match), write=True)
            except (AlreadyExists, _Changed):
                continue  # a concurrent first update inserted the row: update it instead
        raise Conflict(f"Progress of {concept_id} kept changing under this update; retry it.")

    @staticmethod
    async def _update(conn: AsyncConnection, roadmap_id: str, owner: str, concept_id: str, change: ProgressChange,
                      if_match: int | None) -> tuple[ItemProgress, str | None]:
        key = (concept_progress.c.roadmap_id == roadmap_id, concept_progress.c.concept_id == concept_id)
        before = (await conn.execute(sa.select(concept_progress.c.state).where(*key))).scalar_one_or_none()
        values: dict[str, Any] = {"updated_at": utcnow(), "revision": concept_progress.c.revision + 1}
        if change.state is not None:
            values["state"] = change.state
        if change.note is not None:
            values["note"] = change.note
        if change.hours is not None:
            values["hours"] = change.hours
        elif change.add_hours is not None:
            values["hours"] = concept_progress.c.hours + change.add_hours
        statement = concept_progress.update().where(*key)
        if if_match is not None:
            statement = statement.where(concept_progress.c.revision == if_match)
        result = await conn.execute(statement.values(**values).returning(*concept_progress.c))
        row = result.one_or_none()
        if row is not None:
            return _progress(row), before
        if if_match is not None and (before is not None or if_match != 0):
            raise PreconditionFailed(f"Progress of {concept_id} has changed since revision {if_match} (If-Match); "
                                     "GET it again and send its current revision.")
        if before is not None:  # changed between our read and update: the caller retries
            raise _Changed
        await conn.execute(concept_progress.insert().values(
            roadmap_id=roadmap_id, concept_id=concept_id, owner=owner, state=change.state or "todo",
            hours=change.hours if change.hours is not None else change.add_hours or 0.0, note=change.note or "",
            revision=1, updated_at=values["updated_at"]))
        row = (await conn.execute(sa.select(concept_progress).where(*key))).one()
        return _progress(row), None

    async def known_concepts(self, owner: str, conn: AsyncConnection | None = None) -> set[str]:
        """The skill profile: concepts ``owner`` marked done in any roadmap, or said they knew (on ``conn``, in
        the caller's transaction, when given)."""

        async def work(conn: AsyncConnection) -> set[str]:
            known = {str(r[0]) for r in (await conn.execute(_DONE, {"owner": owner})).all()}
            for (assumed,) in (await conn.execute(_ASSUMED_KNOWN, {"owner": owner})).all():
                if isinstance(assumed, list):
                    known.update(str(c) for c in assumed)
            return known

        return await work(conn) if conn is not None else await self._db.run(work)

    # -- review cards ---------------------------------------------------------------------------------

    async def add_card(self, roadmap_id: str, owner: str, concept_id: str, name: str, card: dict[str, Any],
                       due: date) -> bool:
        """A card for a newly finished concept; False when it has one already (its schedule is kept)."""
        try:
            await self._db.run(lambda conn: conn.execute(review_cards.insert().values(
                roadmap_id=roadmap_id, concept_id=concept_id, owner=owner, name=name, card=card, due=due,
                reviews=0, updated_at=utcnow())), write=True)
        except AlreadyExists:
            return False
        return True

    async def card(self, roadmap_id: str, concept_id: str) -> CardRecord | None:
        query = sa.select(review_cards).where(review_cards.c.roadmap_id == roadmap_id,
                                              review_cards.c.concept_id == concept_id)
        row = (await self._db.run(lambda conn: conn.execute(query))).one_or_none()
        return _card(row) if row is not None else None

    async def save_review(self, before: CardRecord, card: dict[str, Any], due: date, rating: str) -> bool:
        """Store a review unless another one landed first (compare-and-set on the review count)."""
        statement = (review_cards.update()
                     .where(review_cards.c.roadmap_id == before.roadmap_id,
                            review_cards.c.concept_id == before.concept_id, review_cards.c.reviews == before.reviews)
                     .values(card=card, due=due, reviews=before.reviews + 1, last_rating=rating, updated_at=utcnow()))
        return bool((await self._db.run(lambda conn: conn.execute(statement), write=True)).rowcount)

    async def cards(self, roadmap_id: str) -> list[CardRecord]:
        query = (sa.select(review_cards).where(review_cards.c.roadmap_id == roadmap_id)
                 .order_by(review_cards.c.due, review_cards.c.concept_id))
        return [_card(r) for r in (await self._db.run(lambda conn: conn.execute(query))).all()]

    async def due_cards(self, owner: str, on: date, limit: int = 500) -> list[CardRecord]:
        query = (sa.select(review_cards).where(review_cards.c.owner == owner, review_cards.c.due <= on)
                 .order_by(review_cards.c.due, review_cards.c.roadmap_id, review_cards.c.concept_id).limit(limit))
        return [_card(r) for r in (await self._db.run(lambda conn: conn.execute(query))).all()]

    # -- share links ----------------------------------------------------------------------------------

    async def set_share(self, roadmap_id: str, owner: str, token_hash: str | None, show_progress: bool) -> None:
        statement = (learning_roadmaps.update().where(learning_roadmaps.c.roadmap_id == roadmap_id,
                                                      learning_roadmaps.c.owner == owner)
                     .values(share_hash=token_hash, share_progress=show_progress,
                             shared_at=utcnow() if token_hash else None))
        if (await self._db.run(lambda conn: conn.execute(statement), write=True)).rowcount == 0:
            raise _not_found(roadmap_id)

    async def shared(self, token_hash: str) -> LearningRecord | None:
        query = (sa.select(*_LEARNING).join(roadmaps, roadmaps.c.id == learning_roadmaps.c.roadmap_id)
                 .where(learning_roadmaps.c.share_hash == token_hash))
        row = (await self._db.run(lambda conn: conn.execute(query))).one_or_none()
        return _learning(row) if row is not None else None
