"""The v1 routes. Handlers are thin: parse, call the runner/store, shape the answer; errors map in errors.py.

Every route needs an API key (auth.py) and is scoped to its user: another user's id answers 404, never 403, so
ids cannot be probed.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Header, Query, Request, WebSocket, WebSocketDisconnect
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from roadmap_agent.api.auth import RateLimiter, UserDep, websocket_user
from roadmap_agent.api.errors import error_body
from roadmap_agent.api.openapi import BAD_REQUEST, COMMON, CONFLICT, FORBIDDEN, NOT_FOUND, RATE_LIMITED
from roadmap_agent.api.schemas import (
    CreateRoadmapBody,
    ReviewBody,
    TaskCreated,
    TaskPage,
    TaskView,
    links_for,
)
from roadmap_agent.api.state import ServicesDep, services_of
from roadmap_agent.api.streams import SlotResponse, StreamSlots, with_keepalive
from roadmap_agent.domain.models import ReviewDecision, Roadmap
from roadmap_agent.domain.render import roadmap_to_markdown
from roadmap_agent.errors import (
    DependencyUnavailable,
    Forbidden,
    IdempotencyKeyReused,
    InvalidRequest,
    NotFound,
    RateLimited,
    RoadmapAgentError,
    Unauthorized,
)
from roadmap_agent.events.stream import stream_events
from roadmap_agent.services import Services
from roadmap_agent.settings import ApiSettings
from roadmap_agent.store.records import Event, EventType, TaskRecord

router = APIRouter(prefix="/api/v1", responses=COMMON)
SSE_HEARTBEAT = ": keep-alive\n\n"
SSE_KEEPALIVE_EVERY = 15.0  # seconds of silence before a keep-alive comment: under the usual 60 s proxy idle cut
# WebSocket close codes: 4401/4404 mirror the HTTP status; the rest are the standard ones (RFC 6455 7.4.1):
# 1008 policy violation (a bad request, a chatty client), 1009 too big, 1011 server error, 1013 try again later
# (a dependency down, too many streams).
WS_CLOSE_UNAUTHORIZED, WS_CLOSE_NOT_FOUND = 4401, 4404
WS_CLOSE_POLICY, WS_CLOSE_TOO_BIG, WS_CLOSE_SERVER_ERROR, WS_CLOSE_TRY_LATER = 1008, 1009, 1011, 1013
WS_CLOSE_BY_ERROR: list[tuple[type[RoadmapAgentError], int]] = [
    (Unauthorized, WS_CLOSE_UNAUTHORIZED), (NotFound, WS_CLOSE_NOT_FOUND), (InvalidRequest, WS_CLOSE_POLICY),
    (RateLimited, WS_CLOSE_TRY_LATER), (DependencyUnavailable, WS_CLOSE_TRY_LATER)]
MAX_SEQ = 2**31 - 1  # task_events.seq is a 32-bit integer on PostgreSQL


AFTER_HELP = "Replay events after this sequence number (0 to 2147483647); or send Last-Event-ID."
# Ids are ours (hex task ids, "rm-<task id>" roadmap ids): anything else is refused before it reaches a query.
ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,80}$"
TaskId = Annotated[str, PathParam(pattern=ID_PATTERN, description="A task id from POST /api/v1/roadmaps.")]
RoadmapId = Annotated[str, PathParam(pattern=ID_PATTERN, description="A roadmap id from a completed task.")]


@router.post("/roadmaps", status_code=202, responses={**BAD_REQUEST, **RATE_LIMITED}, response_model=TaskCreated,
             summary="Start building a roadmap",
             description="Rate limited per API key (429 with Retry-After past ROADMAP_AGENT_CREATE_BURST / "
                         "ROADMAP_AGENT_CREATE_PER_MINUTE).")
async def create_roadmap(user: UserDep, body: CreateRoadmapBody, request: Request, services: ServicesDep,
                         idempotency_key: Annotated[str | None, Header(min_length=1, max_length=255,
                                                                       pattern=r"\S")] = None) -> TaskCreated:
    _within(len(body.goal), services.settings.api.max_goal_chars, "goal")
    limiter: RateLimiter = request.app.state.create_limiter
    limiter.take(user.key_id or user.id)
    learner = body.to_request()
    task = await services.runner.submit(user.id, learner, idempotency_key)
    if idempotency_key is not None and _as_sent(task.request) != _as_sent(learner.model_dump(mode="json")):
        raise IdempotencyKeyReused("This Idempotency-Key was already used for a different request body; send a "
                                   "new key for a new roadmap, or the same body to get the first task back.")
    return TaskCreated(task_id=task.task_id, status=task.status, links=links_for(task.task_id))


def _as_sent(request: dict[str, Any]) -> dict[str, Any]:
    """A stored request as the client sent it: without what the skill profile added."""
    return {k: v for k, v in request.items() if k != "profile_skills"}


@router.get("/tasks", response_model=TaskPage, responses={**BAD_REQUEST, **FORBIDDEN}, summary="My tasks, newest first",
            description="With an admin key, `?all=true` lists every user's tasks.")
async def list_tasks(user: UserDep, services: ServicesDep, limit: Annotated[int, Query(ge=1, le=100)] = 20,
                     offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
                     all: Annotated[bool, Query(description="Every user's tasks (admin keys only).")] = False,
                     ) -> TaskPage:
    _within(limit, services.settings.api.max_page_size, "limit", unit="items")
    if all and not user.is_admin:
        raise Forbidden("Only admin keys can list every user's tasks (?all=true); leave it out to list yours.")
    tasks, total = await services.store.list_tasks(None if all else user.id, limit, offset)
    history = await services.store.decisions([t.task_id for t in tasks if t.review_round])
    return TaskPage(items=[TaskView.of(t, history.get(t.task_id)) for t in tasks], total=total, limit=limit,
                    offset=offset)


async def _view(services: Services, task: TaskRecord) -> TaskView:
    """A task with the history of its review decisions (none before its first review: no query then)."""
    if not task.review_round:
        return TaskView.of(task)
    return TaskView.of(task, (await services.store.decisions([task.task_id])).get(task.task_id))


@router.get("/tasks/{task_id}", response_model=TaskView, responses=NOT_FOUND)
async def get_task(user: UserDep, task_id: TaskId, services: ServicesDep) -> TaskView:
    return await _view(services, await services.store.get_task(task_id, user.id))


@router.get("/tasks/{task_id}/roadmap", responses=NOT_FOUND, summary="The draft under review, or the final roadmap",
            description="The roadmap, plus the last review edit: `changes` (its sentences) and `report` "
                        "(`applied`, `not_understood`, `diff` against the draft before), or [] and null "
                        "before any edit.")
async def task_roadmap(user: UserDep, task_id: TaskId, services: ServicesDep) -> JSONResponse:
    task = await services.store.get_task(task_id, user.id)
    body = (await services.store.get_roadmap(task.roadmap_id) if task.roadmap_id
            else await services.store.draft_roadmap(task_id))
    if body is None:
        raise NotFound(f"Task {task_id} has no roadmap yet (it is {task.status.value}); follow "
                       f"{links_for(task_id).events} to know when one is ready.")
    review = await services.store.last_event(task_id, EventType.HUMAN_REVIEW_REQUIRED)
    edit = review.data if review is not None else {}
    return JSONResponse({**body, "changes": edit.get("changes", []), "report": edit.get("report")})


@router.post("/tasks/{task_id}/review", status_code=202, response_model=TaskView,
             responses={**BAD_REQUEST, **NOT_FOUND, **CONFLICT})
async def review(user: UserDep, task_id: TaskId, body: ReviewBody, services: ServicesDep) -> TaskView:
    _within(len(body.feedback or ""), services.settings.api.max_feedback_chars, "feedback")
    decision = ReviewDecision(approved=body.approved, feedback=body.feedback)
    return await _view(services, await services.runner.review(task_id, decision, user.id))


@router.post("/tasks/{task_id}/cancel", status_code=202, response_model=TaskView,
             responses={**NOT_FOUND, **CONFLICT})
async def cancel(user: UserDep, task_id: TaskId, services: ServicesDep) -> TaskView:
    return await _view(services, await services.runner.cancel(task_id, user.id))


@router.post("/tasks/{task_id}/retry", status_code=202, response_model=TaskView,
             responses={**NOT_FOUND, **CONFLICT})
async def retry(user: UserDep, task_id: TaskId, services: ServicesDep) -> TaskView:
    return await _view(services, await services.runner.retry(task_id, user.id))


@router.get("/roadmaps/{roadmap_id}", responses={**NOT_FOUND, 200: {
    "content": {"application/json": {"schema": {"type": "object"}}, "text/markdown": {"schema": {"type": "string"}}},
    "description": "The roadmap as JSON (format=json) or Markdown (format=markdown)."}},
    summary="A final roadmap as JSON or Markdown")
async def get_roadmap(user: UserDep, roadmap_id: RoadmapId, services: ServicesDep,
                      format: Literal["json", "markdown"] = "json") -> Response:
    body = await services.store.get_roadmap(roadmap_id, user.id)
    if format == "markdown":
        return PlainTextResponse(roadmap_to_markdown(Roadmap.model_validate(body)), media_type="text/markdown")
    return JSONResponse(body)


def _within(size: int, limit: int, field: str, unit: str = "characters") -> None:
    """Operator-configured limits (ROADMAP_AGENT_MAX_*), tighter than the schema's hard caps."""
    if size > limit:
        raise InvalidRequest(f"{field}: at most {limit} {unit} on this server, got {size}.")


def _count(services: Services) -> Callable[[str], None]:
    return lambda path: services.metrics.event_deliveries.labels(path=path).inc()


def _after(after: int | str | None, last_event_id: str | None) -> int:
    # A reconnecting browser EventSource repeats its URL (?after=N) and adds Last-Event-ID: the header is newer.
    name, raw = (("Last-Event-ID", last_event_id) if last_event_id
                 else ("after", str(after)) if after is not None else ("after", None))
    if raw is None or raw == "":
        return 0
    try:
        value = int(raw)
    except ValueError:
        raise InvalidRequest(f"{name} must be an event sequence number (0 to {MAX_SEQ}), got {raw[:40]!r}.") from None
    if not 0 <= value <= MAX_SEQ:
        raise InvalidRequest(f"{name} must be an event sequence number from 0 to {MAX_SEQ}; send the id of the "
                             "last event you received, or 0 for all.")
    return value


def sse_frame(event: Event) -> str:
    return f"id: {event.seq}\nevent: {event.type.value}\ndata: {event.model_dump_json()}\n\n"


@router.get("/tasks/{task_id}/events", responses={**BAD_REQUEST, **NOT_FOUND, **RATE_LIMITED, 200: {
    "content": {"text/event-stream": {"schema": {"type": "string"}}},
    "description": "`id: <seq>`, `event: <type>`, `data: <event JSON>` per event; ends after a terminal one."}},
           response_class=StreamingResponse,
            summary="Server-sent events; replays after Last-Event-ID or ?after=N")
async def sse_events(user: UserDep, task_id: TaskId, request: Request, services: ServicesDep,
                     after: Annotated[int | None, Query(ge=0, description=AFTER_HELP)] = None,
                     last_event_id: Annotated[str | None, Header(max_length=40)] = None) -> StreamingResponse:
    start = _after(after, last_event_id)
    await services.store.get_task(task_id, user.id)
    poll = services.settings.resilience.event_poll_interval
    slots: StreamSlots = request.app.state.stream_slots
    key_id = user.key_id or user.id
    slots.acquire(key_id)  # released by SlotResponse however the stream ends

    async def body() -> AsyncIterator[str]:
        yield "retry: 2000\n\n"
        events = stream_events(task_id, start, services.store, services.bus, poll, _count(services))
        async for event in with_keepalive(events, SSE_KEEPALIVE_EVERY):
            yield SSE_HEARTBEAT if event is None else sse_frame(event)
            if await request.is_disconnected():
                return

    return SlotResponse(body(), slots=slots, key_id=key_id, media_type="text/event-stream",
                        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.websocket("/tasks/{task_id}/ws")
async def ws_events(websocket: WebSocket, task_id: TaskId, after: str | None = None) -> None:
    """Events over a WebSocket. Authenticate with the Authorization header or ``?token=<key>`` (browsers cannot
    set headers). The server only sends: a client message larger or more frequent than the limits closes it."""
    services = services_of(websocket)
    slots: StreamSlots = websocket.app.state.stream_slots
    await websocket.accept()
    try:
        user = await websocket_user(websocket)
        start = _after(after, None)
        await services.store.get_task(task_id, user.id)
        key_id = user.key_id or user.id
        slots.acquire(key_id)
    except RoadmapAgentError as exc:
        await _refuse(websocket, exc)
        return
    try:
        await _serve_ws(websocket, services, task_id, start)
    finally:
        slots.release(key_id)


async def _refuse(websocket: WebSocket, exc: RoadmapAgentError) -> None:
    await websocket.send_text(json.dumps(error_body(exc.code, exc.message)))
    code = next((code for kind, code in WS_CLOSE_BY_ERROR if isinstance(exc, kind)), WS_CLOSE_SERVER_ERROR)
    await websocket.close(code=code, reason=_reason(exc.message))


def _reason(message: str) -> str:
    """A close reason fits in 123 bytes of UTF-8."""
    encoded = message.encode()
    return message if len(encoded) <= 123 else encoded[:120].decode(errors="ignore") + "..."


async def _serve_ws(websocket: WebSocket, services: Services, task_id: str, start: int) -> None:
    violations: list[tuple[int, str]] = []
    async with anyio.create_task_group() as group:  # whichever ends first (stream done, client left) stops both

        async def send() -> None:
            await _send_events(websocket, services, task_id, start)
            group.cancel_scope.cancel()

        async def guard() -> None:
            violation = await _guard_incoming(websocket, services.settings.api)
            violations.extend([violation] if violation else [])
            group.cancel_scope.cancel()

        group.start_soon(send)
        group.start_soon(guard)
    for code, reason in violations:
        await websocket.send_text(json.dumps(error_body("policy_violation", reason)))
        await websocket.close(code=code, reason=_reason(reason))


async def _send_events(websocket: WebSocket, services: Services, task_id: str, start: int) -> None:
    try:
        async for event in stream_events(task_id, start, services.store, services.bus,
                                         services.settings.resilience.event_poll_interval, _count(services)):
            await websocket.send_text(event.model_dump_json())
        await websocket.close(code=1000)
    except WebSocketDisconnect:
        return


async def _guard_incoming(websocket: WebSocket, limits: ApiSettings) -> tuple[int, str] | None:
    """Read what the client sends (nothing is expected); None when it leaves, else (close code, reason)."""
    recent: deque[float] = deque()
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return None
        size = len(message.get("text") or "") + len(message.get("bytes") or b"")
        if size > limits.ws_max_message_bytes:
            return WS_CLOSE_TOO_BIG, (f"Message of {size} bytes is over the {limits.ws_max_message_bytes}-byte "
                                      "limit; this WebSocket only sends events, it needs no messages.")
        now = time.monotonic()
        recent.append(now)
        while recent and recent[0] < now - 60:
            recent.popleft()
        if len(recent) > limits.ws_max_messages_per_minute:
            return WS_CLOSE_POLICY, (f"More than {limits.ws_max_messages_per_minute} messages a minute; this "
                                     "WebSocket only sends events, it needs no messages.")
