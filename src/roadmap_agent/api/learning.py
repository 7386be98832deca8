"""The learning routes (v1, additive): my roadmaps, progress, re-planning and versions, reviews, calendar, sharing.

Scoped to the caller like every route: another user's roadmap id answers 404. ``GET /shared/{token}`` is the one
route without a key: it shows one roadmap (and its progress if the owner chose so) and nothing else of theirs.
Date-dependent routes take ``?today=YYYY-MM-DD`` (default: today in the roadmap's time zone).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, time
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, StreamingResponse

from roadmap_agent.api.auth import UserDep
from roadmap_agent.api.learning_schemas import (
    DueReview,
    DueReviews,
    ItemView,
    ProgressBody,
    ProgressPut,
    ProgressView,
    ReplanBody,
    ReplanView,
    ReviewBody,
    RoadmapList,
    RoadmapSummary,
    ShareBody,
    ShareView,
    VersionList,
    VersionView,
    item_views,
)
from roadmap_agent.api.openapi import (
    BAD_REQUEST,
    COMMON,
    CONFLICT,
    NOT_FOUND,
    PRECONDITION_FAILED,
    RATE_LIMITED,
    UNAVAILABLE,
)
from roadmap_agent.api.routes import SSE_HEARTBEAT, SSE_KEEPALIVE_EVERY, RoadmapId, sse_frame
from roadmap_agent.api.state import ServicesDep
from roadmap_agent.api.streams import with_keepalive
from roadmap_agent.domain.calendar import DEFAULT_DAYS, WEEKDAYS, CalendarOptions
from roadmap_agent.domain.progress import ItemProgress
from roadmap_agent.domain.versions import VersionDiff
from roadmap_agent.errors import InvalidRequest
from roadmap_agent.events.stream import stream_events
from roadmap_agent.learning import Learning, valid_timezone

# Every learning route may answer these (unknown roadmap or concept, a bad value, a review before done, a stale
# If-Match); documented once for the router so the OpenAPI says every status with the real error body.
router = APIRouter(prefix="/api/v1", tags=["learning"], responses={
    **COMMON, **BAD_REQUEST, **NOT_FOUND, **CONFLICT, **PRECONDITION_FAILED, **RATE_LIMITED})
shared_router = APIRouter(tags=["sharing"], responses={**NOT_FOUND, **RATE_LIMITED, **UNAVAILABLE})
# The read-only page a browser gets for a share link: set on ``app.state.shared_page`` by the pages (web/), which
# build on this API; without them a browser gets the JSON too.
SharedPage = Callable[[Request, str, date | None], Awaitable[Response]]

ConceptId = Annotated[str, PathParam(pattern=r"^[A-Za-z0-9_.:-]{1,128}$",
                                     description="A concept's (or a stage project's) id in the roadmap.")]
Today = Annotated[date | None, Query(description="The day to compute for (default: today in the roadmap's "
                                                 "time zone), YYYY-MM-DD.")]
ShareToken = Annotated[str, PathParam(pattern=r"^[A-Za-z0-9_-]{16,64}$")]


def _learning(services: Any) -> Learning:
    learning: Learning = services.learning
    return learning


def _if_match(value: str | None) -> int | None:
    """``If-Match: 3`` or ``"3"`` (the ETag we send): the revision the update expects."""
    if value is None:
        return None
    raw = value.strip().removeprefix("W/").strip('"')
    if not raw.isdigit():
        raise InvalidRequest(f"If-Match must be a progress revision (the ETag of GET .../progress/{{concept_id}}), "
                             f"got {value!r}.")
    return int(raw)


@router.get("/roadmaps", response_model=RoadmapList, summary="My final roadmaps, newest first")
async def list_roadmaps(user: UserDep, services: ServicesDep, limit: Annotated[int, Query(ge=1, le=100)] = 20,
                        offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> RoadmapList:
    items, total = await _learning(services).store.list_roadmaps(user.id, limit, offset)
    return RoadmapList(items=[RoadmapSummary(**i) for i in items], total=total, limit=limit, offset=offset)


@router.get("/roadmaps/{roadmap_id}/progress", response_model=ProgressView,
            summary="Progress per concept and where I stand against the schedule")
async def get_progress(user: UserDep, roadmap_id: RoadmapId, services: ServicesDep,
                       today: Today = None) -> ProgressView:
    return await _progress_view(_learning(services), roadmap_id, user.id, today)


async def _progress_view(learning: Learning, roadmap_id: str, owner: str, today: date | None) -> ProgressView:
    opened = await learning.open(roadmap_id, owner)
    summary, progress = await learning.summary(opened, today)
    return ProgressView.of(opened, summary, progress)


@router.put("/roadmaps/{roadmap_id}/progress", response_model=ProgressView,
            summary="Set the start date / time zone, and update several concepts at once")
async def put_progress(user: UserDep, roadmap_id: RoadmapId, body: ProgressPut, services: ServicesDep,
                       today: Today = None) -> ProgressView:
    learning = _learning(services)
    if body.start_date is not None or body.timezone is not None:
        await learning.set_dates(roadmap_id, user.id, start_date=body.start_date, timezone=body.timezone)
    for update in body.updates:
        await learning.update(roadmap_id, user.id, update.concept_id, update.change(), today=today)
    return await _progress_view(learning, roadmap_id, user.id, today)


@router.get("/roadmaps/{roadmap_id}/progress/{concept_id}", response_model=ItemView,
            summary="One concept's progress (ETag: its revision, for If-Match)")
async def get_item(user: UserDep, roadmap_id: RoadmapId, concept_id: ConceptId, services: ServicesDep,
                   response: Response) -> ItemView:
    learning = _learning(services)
    opened = await learning.open(roadmap_id, user.id)
    progress = await learning.store.progress(roadmap_id)
    views = {v.concept_id: v for v in item_views(opened, progress)}
    if concept_id not in views:
        raise InvalidRequest(f"Unknown concept id {concept_id!r} in roadmap {roadmap_id}; valid ids: "
                             f"{', '.join(list(views)[:80])}.")
    response.headers["ETag"] = f'"{views[concept_id].revision}"'
    return views[concept_id]


@router.put("/roadmaps/{roadmap_id}/progress/{concept_id}", response_model=ItemView,
            summary="Set a concept's state, hours and note",
            description="Only the fields sent change (last writer wins per field). Send `If-Match: <revision>` "
                        "to update only if nobody changed it since you read it (412 otherwise).")
async def put_item(user: UserDep, roadmap_id: RoadmapId, concept_id: ConceptId, body: ProgressBody,
                   services: ServicesDep, response: Response, today: Today = None,
                   if_match: Annotated[str | None, Header()] = None) -> ItemView:
    learning = _learning(services)
    saved = await learning.update(roadmap_id, user.id, concept_id, body.change(), _if_match(if_match), today)
    opened = await learning.open(roadmap_id, user.id)
    response.headers["ETag"] = f'"{saved.revision}"'
    return next(v for v in item_views(opened, {concept_id: saved}) if v.concept_id == concept_id)


@router.post("/roadmaps/{roadmap_id}/replan", response_model=ReplanView,
             summary="Re-plan from today into a new version (finished concepts leave the schedule)")
async def replan(user: UserDep, roadmap_id: RoadmapId, services: ServicesDep, body: ReplanBody | None = None,
                 today: Today = None) -> ReplanView:
    learning = _learning(services)
    body = body or ReplanBody()
    opened, changes = await learning.replan(roadmap_id, user.id, today=today, weeks=body.weeks,
                                            hours_per_week=body.hours_per_week)
    summary, progress = await learning.summary(opened, today)
    return ReplanView(version=opened.version.version, roadmap=opened.roadmap.model_dump(mode="json"),
                      diff=changes, progress=ProgressView.of(opened, summary, progress))


@router.get("/roadmaps/{roadmap_id}/versions", response_model=VersionList, summary="Every version of a roadmap")
async def versions(user: UserDep, roadmap_id: RoadmapId, services: ServicesDep) -> VersionList:
    found = await _learning(services).versions(roadmap_id, user.id)
    return VersionList(current=found[-1].version, items=[VersionView.of(v) for v in found])


@router.get("/roadmaps/{roadmap_id}/versions/{version}", summary="One version's roadmap")
async def version(user: UserDep, roadmap_id: RoadmapId, version: Annotated[int, PathParam(ge=1, le=100_000)],
                  services: ServicesDep) -> JSONResponse:
    found = await _learning(services).version(roadmap_id, user.id, version)
    return JSONResponse({**VersionView.of(found).model_dump(mode="json"), "roadmap": found.body})


@router.get("/roadmaps/{roadmap_id}/diff", response_model=VersionDiff,
            summary="What changed between two versions (concepts added, removed, moved, re-timed, finished)")
async def version_diff(user: UserDep, roadmap_id: RoadmapId, services: ServicesDep,
                       from_: Annotated[int, Query(alias="from", ge=1)],
                       to: Annotated[int, Query(ge=1)]) -> VersionDiff:
    return await _learning(services).diff(roadmap_id, user.id, from_, to)


@router.post("/roadmaps/{roadmap_id}/reviews/{concept_id}", response_model=DueReview,
             summary="Record a review outcome (again | hard | good | easy): FSRS sets the next date")
async def post_review(user: UserDep, roadmap_id: RoadmapId, concept_id: ConceptId, body: ReviewBody,
                      services: ServicesDep, today: Today = None) -> DueReview:
    result = await _learning(services).review(roadmap_id, user.id, concept_id, body.rating, today)
    return DueReview(roadmap_id=roadmap_id, concept_id=result.concept_id, name=result.name, due=result.due,
                     reviews=result.reviews, last_rating=result.rating)


@router.get("/reviews/due", response_model=DueReviews, summary="Reviews due by today across my roadmaps")
async def due_reviews(user: UserDep, services: ServicesDep, today: Today = None) -> DueReviews:
    cards = await _learning(services).due(user.id, today)
    return DueReviews(items=[DueReview(roadmap_id=c.roadmap_id, concept_id=c.concept_id, name=c.name, due=c.due,
                                       reviews=c.reviews, last_rating=c.last_rating) for c in cards])


def _calendar_options(days: str | None, at: str | None, timezone: str | None, default_zone: str) -> CalendarOptions:
    chosen = tuple(d.strip().lower()[:3] for d in days.split(",") if d.strip()) if days else DEFAULT_DAYS
    if not chosen or any(d not in WEEKDAYS for d in chosen):
        raise InvalidRequest(f"days: {days!r} must be week days separated by commas, of {', '.join(WEEKDAYS)}.")
    try:
        start = time.fromisoformat(at) if at else CalendarOptions().at
    except ValueError:
        raise InvalidRequest(f"time: {at!r} is not a time of day; use HH:MM, e.g. 19:00.") from None
    return CalendarOptions(timezone=valid_timezone(timezone or default_zone), days=tuple(dict.fromkeys(chosen)),
                           at=start)


@router.get("/roadmaps/{roadmap_id}/calendar.ics", summary="Study sessions and review reminders as iCalendar",
            response_class=Response, responses={200: {"content": {"text/calendar": {}}}})
async def calendar(user: UserDep, roadmap_id: RoadmapId, services: ServicesDep,
                   days: Annotated[str | None, Query(description="Week days, e.g. mon,wed,fri (default).")] = None,
                   at: Annotated[str | None, Query(alias="time", description="Start time, HH:MM (19:00).")] = None,
                   timezone: Annotated[str | None, Query(description="IANA zone (the roadmap's).")] = None,
                   today: Today = None) -> Response:
    learning = _learning(services)
    opened = await learning.open(roadmap_id, user.id)
    options = _calendar_options(days, at, timezone, opened.record.timezone)
    body = await learning.calendar(roadmap_id, user.id, options, today)
    return Response(body, media_type="text/calendar; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{roadmap_id}.ics"'})


@router.post("/roadmaps/{roadmap_id}/share", response_model=ShareView, status_code=201,
             summary="Make a read-only share link (a new one replaces the old)")
async def share(user: UserDep, roadmap_id: RoadmapId, services: ServicesDep, request: Request,
                body: ShareBody | None = None) -> ShareView:
    show = (body or ShareBody()).show_progress
    token = await _learning(services).share(roadmap_id, user.id, show)
    path = f"/shared/{token}"
    return ShareView(token=token, path=path, url=str(request.base_url).rstrip("/") + path, show_progress=show)


@router.delete("/roadmaps/{roadmap_id}/share", status_code=204, summary="Revoke the share link")
async def unshare(user: UserDep, roadmap_id: RoadmapId, services: ServicesDep) -> Response:
    await _learning(services).unshare(roadmap_id, user.id)
    return Response(status_code=204)


@router.get("/roadmaps/{roadmap_id}/events", summary="Learning events (progress, re-plans, reviews) as SSE")
async def learning_events(user: UserDep, roadmap_id: RoadmapId, services: ServicesDep, request: Request,
                          after: Annotated[int, Query(ge=0)] = 0) -> StreamingResponse:
    opened = await _learning(services).open(roadmap_id, user.id)
    poll = services.settings.resilience.event_poll_interval

    async def body() -> Any:
        yield "retry: 2000\n\n"
        events = stream_events(opened.record.task_id, after, services.store, services.bus, poll, follow=True)
        async for event in with_keepalive(events, SSE_KEEPALIVE_EVERY):
            yield SSE_HEARTBEAT if event is None else sse_frame(event)
            if await request.is_disconnected():
                return

    return StreamingResponse(body(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@shared_router.get("/shared/{token}", summary="A shared roadmap (read-only, no API key)",
                   description="JSON; a browser (`Accept: text/html`) gets the read-only page instead.",
                   response_model=None)
async def shared(token: ShareToken, services: ServicesDep, request: Request,
                 today: Today = None) -> JSONResponse | Response:
    page: SharedPage | None = getattr(request.app.state, "shared_page", None)
    if page is not None and "text/html" in request.headers.get("accept", ""):
        return await page(request, token, today)
    opened, summary = await _learning(services).shared(token, today)
    body: dict[str, Any] = {"roadmap": opened.roadmap.model_dump(mode="json"), "version": opened.version.version,
                            "start_date": opened.record.start_date.isoformat()}
    if summary is not None:
        progress = await _learning(services).store.progress(opened.record.roadmap_id)
        body["progress"] = ProgressView.of(opened, summary, _public(progress)).model_dump(mode="json")
    return JSONResponse(body, headers={"Cache-Control": "private, no-store", "X-Robots-Tag": "noindex"})


def _public(progress: dict[str, ItemProgress]) -> dict[str, ItemProgress]:
    """States and hours, not the owner's private notes."""
    return {k: v.model_copy(update={"note": ""}) for k, v in progress.items()}

