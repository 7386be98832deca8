"""The repository: every read and write of tasks, roadmaps, decisions and events, in short transactions.

Writes made by a run carry the ``epoch`` its claim got (``claim_run``); they land only while
``tasks.run_epoch`` still equals it, in the same statement or transaction, so a run another worker has taken
over raises ``RunSuperseded`` at its next write instead of interleaving with the new run.

Works unchanged on SQLite and PostgreSQL. Sequence numbers come from ``tasks.last_seq`` incremented in the
same transaction as the event insert, so they are gap-free and ordered per task even across processes (the
row lock on PostgreSQL, the database lock on SQLite, serialise concurrent appends for one task).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from roadmap_agent.errors import (
    AlreadyExists,
    DecisionAlreadyMade,
    NotAwaitingReview,
    RoadmapNotFound,
    RunSuperseded,
    TaskNotFound,
)
from roadmap_agent.infra.database import Database
from roadmap_agent.store.records import Decision, Event, EventType, TaskRecord, TaskStatus, as_utc, utcnow
from roadmap_agent.store.tables import review_decisions, roadmaps, task_events, tasks

_TASK_COLUMNS = [c for c in tasks.c if c.name not in ("draft_roadmap", "last_seq", "idempotency_key")]
# More work for the transaction that creates a task, given its id (server mode: the run's queue job).
InTransaction = Callable[[AsyncConnection, str], Awaitable[None]]
# A new task's request, or what reads it inside the creating transaction (e.g. with the owner's skill profile).
RequestValues = dict[str, Any] | Callable[[AsyncConnection], Awaitable[dict[str, Any]]]


# Built once: a statement object caches its compiled form, so each use skips building and cache-key work.
_INSERT_TASK = tasks.insert().returning(*_TASK_COLUMNS)
_INSERT_EVENT = task_events.insert()
_GET_TASK = sa.select(*_TASK_COLUMNS).where(tasks.c.id == sa.bindparam("id"))
_GET_OWN_TASK = _GET_TASK.where(tasks.c.owner == sa.bindparam("owner"))


@dataclass(frozen=True)
class FirstEvent:
    """The event a new task starts its log with (seq 1), written in the task's own insert transaction."""

    type: EventType
    message: str
    status: str | None = None


def _task(row: sa.Row[Any]) -> TaskRecord:
    values = dict(row._mapping)
    values["task_id"] = values.pop("id")
    values["created_at"] = as_utc(values["created_at"])
    values["updated_at"] = as_utc(values["updated_at"])
    return TaskRecord.model_validate(values)


def _event(row: sa.Row[Any]) -> Event:
    values = dict(row._mapping)
    values["timestamp"] = as_utc(values.pop("created_at"))
    return Event.model_validate(values)


class _AlreadyAppended(Exception):
    """Raised inside append_event to roll back when the event is in the log already."""

    def __init__(self, seq: int) -> None:
        self.seq = seq


async def _seq_of(conn: AsyncConnection, task_id: str, event_id: str) -> int | None:
    query = sa.select(task_events.c.seq).where(task_events.c.task_id == task_id,
                                               task_events.c.data["event_id"].as_string() == event_id)
    seq = (await conn.execute(query)).scalar()
    return int(seq) if seq is not None else None


def _fenced(statement: sa.Update, epoch: int | None) -> sa.Update:
    return statement if epoch is None else statement.where(tasks.c.run_epoch == epoch)


def _lost(task_id: str, epoch: int | None) -> Exception:
    """Why a task-row write matched nothing: the run lost its claim, or there is no such task."""
    if epoch is not None:
        return RunSuperseded(f"Task {task_id}: another worker took this run over (epoch {epoch} is stale).")
    return TaskNotFound(task_id)


class TaskStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    # -- tasks -------------------------------------------------------------------------------------

    async def create_task(self, owner: str, request: RequestValues, idempotency_key: str | None = None, *,
                          first: FirstEvent | None = None,
                          within: InTransaction | None = None) -> tuple[TaskRecord, Event | None]:
        """The new task and its ``first`` event, written in one transaction with ``within``'s work (None when no
        ``first`` is given); or the task created earlier with the same idempotency key and None (nothing is
        written then)."""
        now = utcnow()
        task_id = uuid.uuid4().hex
        values: dict[str, Any] = {"id": task_id, "owner": owner, "status": TaskStatus.PENDING.value,
                                  "idempotency_key": idempotency_key, "created_at": now, "updated_at": now,
                                  "last_seq": 1 if first else 0}

        async def insert(conn: AsyncConnection) -> TaskRecord:
            values["request"] = request if isinstance(request, dict) else await request(conn)
            task = _task((await conn.execute(_INSERT_TASK, values)).one())
            if first is not None:
                await conn.execute(_INSERT_EVENT, {"task_id": task_id, "seq": 1, "type": first.type.value,
                                                   "step": None, "status": first.status, "message": first.message,
                                                   "data": {}, "created_at": now})
            if within is not None:
                await within(conn, task_id)
            return task

        try:
            task = await self._db.run(insert, write=True)
        except AlreadyExists:
            if idempotency_key is None:
                raise
            return await self._by_idempotency_key(owner, idempotency_key), None
        event = None if first is None else Event(task_id=task_id, seq=1, type=first.type, status=first.status,
                                                 message=first.message, data={}, timestamp=now)
        return task, event

    async def _by_idempotency_key(self, owner: str, key: str) -> TaskRecord:
        query = sa.select(*_TASK_COLUMNS).where(tasks.c.owner == owner, tasks.c.idempotency_key == key)
        return _task((await self._db.run(lambda conn: conn.execute(query))).one())

    async def get_task(self, task_id: str, owner: str | None = None) -> TaskRecord:
        query = _GET_TASK if owner is None else _GET_OWN_TASK
        params = {"id": task_id} if owner is None else {"id": task_id, "owner": owner}
        row = (await self._db.run(lambda conn: conn.execute(query, params))).one_or_none()
        if row is None:
            raise TaskNotFound(task_id)
        return _task(row)

    async def list_tasks(self, owner: str | None, limit: int, offset: int) -> tuple[list[TaskRecord], int]:
        """One owner's tasks, newest first (every owner's when ``owner`` is None: admins only)."""
        query = (sa.select(*_TASK_COLUMNS).order_by(tasks.c.created_at.desc(), tasks.c.id).limit(limit)
                 .offset(offset))
        count = sa.select(sa.func.count()).select_from(tasks)
        if owner is not None:
            query, count = query.where(tasks.c.owner == owner), count.where(tasks.c.owner == owner)

        async def work(conn: AsyncConnection) -> tuple[list[TaskRecord], int]:
            rows = (await conn.execute(query)).all()
            return [_task(r) for r in rows], int((await conn.execute(count)).scalar_one())

        return await self._db.run(work)

    async def update_task(self, task_id: str, *, epoch: int | None = None, **values: Any) -> None:
        values["updated_at"] = utcnow()
        statement = _fenced(tasks.update().where(tasks.c.id == task_id), epoch).values(**values)
        result = await self._db.run(lambda conn: conn.execute(statement), write=True)
        if result.rowcount == 0:
            raise _lost(task_id, epoch)

    async def set_status_if(self, task_id: str, expected: set[TaskStatus], status: TaskStatus, *,
                            epoch: int | None = None, **values: Any) -> bool:
        """Compare-and-set on the status: True if this call made the transition."""
        values.update(status=status.value, updated_at=utcnow())
        statement = _fenced(tasks.update().where(
            tasks.c.id == task_id, tasks.c.status.in_([s.value for s in expected])), epoch).values(**values)
        result = await self._db.run(lambda conn: conn.execute(statement), write=True)
        return bool(result.rowcount)

    # -- run claims (fencing) ----------------------------------------------------------------------

    async def claim_run(self, task_id: str, worker: str) -> tuple[int, str | None] | None:
        """Take the run of a pending/running task: (new epoch, the previous holder if it never let go).

        None when the task is not runnable (finished, cancelled, or waiting for review). A previous holder
        that is still set means that run died (crash, kill -9, hang) rather than stopping cleanly.
        """
        runnable = [TaskStatus.PENDING.value, TaskStatus.RUNNING.value]

        async def claim(conn: AsyncConnection) -> tuple[int, str | None] | None:
            query = sa.select(tasks.c.worker).where(tasks.c.id == task_id, tasks.c.status.in_(runnable))
            previous = (await conn.execute(query.with_for_update())).one_or_none()
            if previous is None:
                return None
            result = await conn.execute(
                tasks.update().where(tasks.c.id == task_id)
                .values(run_epoch=tasks.c.run_epoch + 1, worker=worker, status=TaskStatus.RUNNING.value,
                        updated_at=utcnow()).returning(tasks.c.run_epoch))
            return int(result.scalar_one()), previous.worker

        return await self._db.run(claim, write=True)

    async def draft_roadmap(self, task_id: str) -> dict[str, Any] | None:
        query = sa.select(tasks.c.draft_roadmap).where(tasks.c.id == task_id)
        value = (await self._db.run(lambda conn: conn.execute(query))).scalar()
        return value if isinstance(value, dict) else None

    async def tasks_in(self, statuses: set[TaskStatus]) -> list[TaskRecord]:
        query = (sa.select(*_TASK_COLUMNS).where(tasks.c.status.in_([s.value for s in statuses]))
                 .order_by(tasks.c.created_at))
        return [_task(r) for r in (await self._db.run(lambda conn: conn.execute(query))).all()]

    # -- review decisions --------------------------------------------------------------------------

    async def decide(self, task_id: str, review_round: int, approved: bool, feedback: str | None) -> None:
        """Record the one decision of a review round and make the task runnable again, atomically.

        A second decision for the round raises DecisionAlreadyMade; a task that stopped waiting (cancelled)
        raises NotAwaitingReview. Either way nothing is written, so exactly one decision resumes the run.
        """
        now = utcnow()
        insert = review_decisions.insert().values(task_id=task_id, review_round=review_round, approved=approved,
                                                  feedback=feedback, created_at=now)
        resume = tasks.update().where(
            tasks.c.id == task_id, tasks.c.status == TaskStatus.HUMAN_REVIEW_PENDING.value,
            tasks.c.review_round == review_round).values(status=TaskStatus.RUNNING.value, updated_at=now)

        async def work(conn: AsyncConnection) -> None:
            await conn.execute(insert)
            if (await conn.execute(resume)).rowcount == 0:
                raise NotAwaitingReview(f"Task {task_id} stopped waiting for review round {review_round}.")

        try:
            await self._db.run(work, write=True)
        except AlreadyExists as exc:
            raise DecisionAlreadyMade(
                f"Review round {review_round} of task {task_id} has already been decided. "
                "Wait for the edited roadmap and review that one.") from exc

    async def decision(self, task_id: str, review_round: int) -> dict[str, Any] | None:
        """The recorded decision of a review round: {approved, feedback}, or None."""
        query = sa.select(review_decisions.c.approved, review_decisions.c.feedback).where(
            review_decisions.c.task_id == task_id, review_decisions.c.review_round == review_round)
        row = (await self._db.run(lambda conn: conn.execute(query))).one_or_none()
        return {"approved": bool(row.approved), "feedback": row.feedback} if row is not None else None

    async def decisions(self, task_ids: list[str]) -> dict[str, list[Decision]]:
        """Every recorded decision of these tasks, by task, in round order (the history of a review)."""
        if not task_ids:
            return {}
        query = (sa.select(review_decisions).where(review_decisions.c.task_id.in_(task_ids))
                 .order_by(review_decisions.c.task_id, review_decisions.c.review_round))
        history: dict[str, list[Decision]] = {task_id: [] for task_id in task_ids}
        for row in (await self._db.run(lambda conn: conn.execute(query))).all():
            history[row.task_id].append(Decision(round=row.review_round, approved=bool(row.approved),
                                                 feedback=row.feedback, decided_at=as_utc(row.created_at)))
        return history

    # -- roadmaps ----------------------------------------------------------------------------------

    async def save_roadmap(self, task_id: str, roadmap: dict[str, Any], *, epoch: int | None = None) -> None:
        """Insert the final roadmap, or replace it (finalize may run again after a crash)."""
        values = {"task_id": task_id, "title": roadmap["title"], "language": roadmap["language"],
                  "body": roadmap, "created_at": utcnow()}

        async def upsert(conn: AsyncConnection) -> None:
            if epoch is not None:  # locks the task row, so a claim cannot slip in before the commit
                touch = _fenced(tasks.update().where(tasks.c.id == task_id), epoch).values(run_epoch=epoch)
                if (await conn.execute(touch)).rowcount == 0:
                    raise RunSuperseded(f"Task {task_id}: another worker took this run over.")
            updated = await conn.execute(roadmaps.update().where(roadmaps.c.id == roadmap["id"]).values(**values))
            if updated.rowcount == 0:
                await conn.execute(roadmaps.insert().values(id=roadmap["id"], **values))

        await self._db.run(upsert, write=True)

    async def get_roadmap(self, roadmap_id: str, owner: str | None = None) -> dict[str, Any]:
        query = sa.select(roadmaps.c.body).where(roadmaps.c.id == roadmap_id)
        if owner is not None:
            query = query.join(tasks, tasks.c.id == roadmaps.c.task_id).where(tasks.c.owner == owner)
        body = (await self._db.run(lambda conn: conn.execute(query))).scalar_one_or_none()
        if body is None:
            raise RoadmapNotFound(f"No roadmap with id {roadmap_id!r}. A task's roadmap id is in "
                                  "GET /api/v1/tasks/{task_id} once it has completed.")
        return dict(body)

    # -- events ------------------------------------------------------------------------------------

    async def append_event(self, task_id: str, type_: EventType, message: str, *, step: str | None = None,
                           status: str | None = None, data: dict[str, Any] | None = None,
                           task_values: dict[str, Any] | None = None, epoch: int | None = None) -> Event:
        """Append one event; ``task_values`` update the task row in the same transaction.

        An event whose ``data["event_id"]`` is in the log already is not appended twice: a retry after a
        commit whose answer was lost (connection reset mid-commit) gets the event the first attempt wrote.
        """
        now = utcnow()
        event_id = (data or {}).get("event_id")

        async def append(conn: AsyncConnection) -> int:
            seq = await self._next_seq(conn, task_id, {**(task_values or {}), "updated_at": now}, epoch)
            # After _next_seq, which locks the task row: an earlier attempt has committed or rolled back.
            if event_id is not None and (earlier := await _seq_of(conn, task_id, event_id)) is not None:
                raise _AlreadyAppended(earlier)  # rolls back the sequence number just taken
            await conn.execute(task_events.insert().values(
                task_id=task_id, seq=seq, type=type_.value, step=step, status=status, message=message,
                data=data or {}, created_at=now))
            return seq

        try:
            seq = await self._db.run(append, write=True)
        except _AlreadyAppended as appended:
            return (await self.events_after(task_id, appended.seq - 1, limit=1))[0]
        return Event(task_id=task_id, seq=seq, type=type_, step=step, status=status, message=message,
                     data=data or {}, timestamp=now)

    @staticmethod
    async def _next_seq(conn: AsyncConnection, task_id: str, task_values: dict[str, Any], epoch: int | None) -> int:
        result = await conn.execute(_fenced(tasks.update().where(tasks.c.id == task_id), epoch)
                                    .values(last_seq=tasks.c.last_seq + 1, **task_values).returning(tasks.c.last_seq))
        seq = result.scalar_one_or_none()
        if seq is None:
            raise _lost(task_id, epoch)
        return int(seq)

    async def last_event(self, task_id: str, type_: EventType) -> Event | None:
        """The latest event of one type, e.g. the last ``human_review_required`` (it carries the last edit)."""
        query = (sa.select(task_events).where(task_events.c.task_id == task_id, task_events.c.type == type_.value)
                 .order_by(task_events.c.seq.desc()).limit(1))
        row = (await self._db.run(lambda conn: conn.execute(query))).one_or_none()
        return _event(row) if row is not None else None

    async def events_after(self, task_id: str, after: int, limit: int = 1000) -> list[Event]:
        query = (sa.select(task_events).where(task_events.c.task_id == task_id, task_events.c.seq > after)
                 .order_by(task_events.c.seq).limit(limit))
        return [_event(r) for r in (await self._db.run(lambda conn: conn.execute(query))).all()]
