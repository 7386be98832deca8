"""The v1 routes. Handlers are thin: parse, call the runner/store, shape the answer; errors map in errors.py."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from roadmap_agent.api.schemas import (
    CreateRoadmapBody,
    ReviewBody,
    TaskCreated,
    TaskPage,
    TaskView,
    links_for,
)
from roadmap_agent.domain.models import ReviewDecision, Roadmap
from roadmap_agent.domain.render import roadmap_to_markdown
from roadmap_agent.errors import InvalidRequest, NotFound, RoadmapAgentError
from roadmap_agent.events.stream import stream_events
from roadmap_agent.services import Services
from roadmap_agent.store.records import Event

router = APIRouter(prefix="/api/v1")
LOCAL_OWNER = "local"
SSE_HEARTBEAT = ": keep-alive\n\n"


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def current_owner() -> str:
    # One owner until users and API keys arrive (issue 7); every query is already scoped by owner.
    return LOCAL_OWNER


OwnerDep = Annotated[str, Depends(current_owner)]


@router.post("/roadmaps", status_code=202, response_model=TaskCreated, summary="Start building a roadmap")
async def create_roadmap(body: CreateRoadmapBody, services: ServicesDep, owner: OwnerDep,
                         idempotency_key: Annotated[str | None, Header(max_length=255)] = None) -> TaskCreated:
    task = await services.runner.submit(owner, body.to_request(), idempotency_key)
    return TaskCreated(task_id=task.task_id, status=task.status, links=links_for(task.task_id))


@router.get("/tasks", response_model=TaskPage, summary="My tasks, newest first")
async def list_tasks(services: ServicesDep, owner: OwnerDep, limit: Annotated[int, Query(ge=1, le=100)] = 20,
                     offset: Annotated[int, Query(ge=0)] = 0) -> TaskPage:
    tasks, total = await services.store.list_tasks(owner, limit, offset)
    return TaskPage(items=[TaskView.of(t) for t in tasks], total=total, limit=limit, offset=offset)


@router.get("/tasks/{task_id}", response_model=TaskView)
async def get_task(task_id: str, services: ServicesDep, owner: OwnerDep) -> TaskView:
    return TaskView.of(await services.store.get_task(task_id, owner))


@router.get("/tasks/{task_id}/roadmap", summary="The draft under review, or the final roadmap")
async def task_roadmap(task_id: str, services: ServicesDep, owner: OwnerDep) -> JSONResponse:
    task = await services.store.get_task(task_id, owner)
    if task.roadmap_id:
        return JSONResponse(await services.store.get_roadmap(task.roadmap_id))
    draft = await services.store.draft_roadmap(task_id)
    if draft is None:
        raise NotFound(f"Task {task_id} has no roadmap yet (it is {task.status.value}); follow "
                       f"{links_for(task_id).events} to know when one is ready.")
    return JSONResponse(draft)


@router.post("/tasks/{task_id}/review", status_code=202, response_model=TaskView)
async def review(task_id: str, body: ReviewBody, services: ServicesDep, owner: OwnerDep) -> TaskView:
    decision = ReviewDecision(approved=body.approved, feedback=body.feedback)
    return TaskView.of(await services.runner.review(task_id, decision, owner))


@router.post("/tasks/{task_id}/cancel", status_code=202, response_model=TaskView)
async def cancel(task_id: str, services: ServicesDep, owner: OwnerDep) -> TaskView:
    return TaskView.of(await services.runner.cancel(task_id, owner))


@router.post("/tasks/{task_id}/retry", status_code=202, response_model=TaskView)
async def retry(task_id: str, services: ServicesDep, owner: OwnerDep) -> TaskView:
    return TaskView.of(await services.runner.retry(task_id, owner))


@router.get("/roadmaps/{roadmap_id}", summary="A final roadmap as JSON or Markdown")
async def get_roadmap(roadmap_id: str, services: ServicesDep, owner: OwnerDep,
                      format: Literal["json", "markdown"] = "json") -> Response:
    body = await services.store.get_roadmap(roadmap_id, owner)
    if format == "markdown":
        return PlainTextResponse(roadmap_to_markdown(Roadmap.model_validate(body)), media_type="text/markdown")
    return JSONResponse(body)


def _after(after: int | None, last_event_id: str | None) -> int:
    raw = after if after is not None else last_event_id
    if raw is None or raw == "":
        return 0
    try:
        value = int(raw)
    except ValueError:
        raise InvalidRequest(f"Last-Event-ID must be an event sequence number, got {raw!r}.") from None
    if value < 0:
        raise InvalidRequest("after must be 0 or a positive event sequence number.")
    return value


def _sse(event: Event) -> str:
    return f"id: {event.seq}\nevent: {event.type.value}\ndata: {event.model_dump_json()}\n\n"


@router.get("/tasks/{task_id}/events", summary="Server-sent events; replays after Last-Event-ID or ?after=N")
async def sse_events(task_id: str, request: Request, services: ServicesDep, owner: OwnerDep,
                     after: Annotated[int | None, Query(ge=0)] = None,
                     last_event_id: Annotated[str | None, Header()] = None) -> StreamingResponse:
    await services.store.get_task(task_id, owner)
    start = _after(after, last_event_id)
    poll = services.settings.resilience.event_poll_interval

    async def body() -> AsyncIterator[str]:
        yield "retry: 2000\n\n"
        async for event in stream_events(task_id, start, services.store, services.bus, poll):
            yield _sse(event)
            if await request.is_disconnected():
                return

    return StreamingResponse(body(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.websocket("/tasks/{task_id}/ws")
async def ws_events(websocket: WebSocket, task_id: str, after: int = 0) -> None:
    services: Services = websocket.app.state.services
    await websocket.accept()
    try:
        await services.store.get_task(task_id, current_owner())
        start = _after(after, None)
    except RoadmapAgentError as exc:
        await websocket.send_text(json.dumps({"error": {"code": exc.code, "message": exc.message}}))
        await websocket.close(code=4404 if isinstance(exc, NotFound) else 4400)
        return
    try:
        async for event in stream_events(task_id, start, services.store, services.bus,
                                         services.settings.resilience.event_poll_interval):
            await websocket.send_text(event.model_dump_json())
        await websocket.close(code=1000)
    except WebSocketDisconnect:
        return
