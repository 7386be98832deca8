"""The roadmap page and learning with it: a done checkbox, a state and a note per concept, the summary against the
schedule, re-plan, reviews due, downloads (Markdown, JSON, Calendar), the share link; and the shared page.

Everything goes through the learning service (learning.py) as the signed-in user, and every post carries the
session's CSRF token. A post made by htmx (``HX-Request``) gets back the fragment it replaces (the summary swapped
out-of-band); a plain form post, without JavaScript, is redirected back to the page.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import ValidationError
from starlette.datastructures import FormData

from roadmap_agent.api.cookie_auth import check_csrf, session_of
from roadmap_agent.api.learning_schemas import ProgressBody, ReplanBody
from roadmap_agent.api.routes import ID_PATTERN
from roadmap_agent.api.state import services_of
from roadmap_agent.domain.progress import ItemProgress, tracked_items
from roadmap_agent.domain.render import roadmap_to_markdown
from roadmap_agent.errors import InvalidRequest, NotFound, RoadmapAgentError
from roadmap_agent.learning import Learning, Opened
from roadmap_agent.store.records import TaskRecord
from roadmap_agent.store.users import User
from roadmap_agent.web.i18n import Translator, page_language
from roadmap_agent.web.pages import PageRoute, PageSession, error_page, redirect, render
from roadmap_agent.web.task_routes import roadmap_context

router = APIRouter(route_class=PageRoute, include_in_schema=False)
RoadmapId = Annotated[str, PathParam(pattern=ID_PATTERN)]
ConceptId = Annotated[str, PathParam(pattern=r"^[A-Za-z0-9_.:-]{1,128}$")]
ROADMAP_PREFIX = "rm-"  # workflow/graph.py: a roadmap's id is rm-<task id>


def _learning(request: Request) -> Learning:
    return services_of(request).learning


def _htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def _invalid(exc: ValidationError) -> InvalidRequest:
    return InvalidRequest("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))


async def _task(request: Request, roadmap_id: str, user: User) -> TaskRecord | None:
    try:
        return await services_of(request).store.get_task(roadmap_id.removeprefix(ROADMAP_PREFIX), user.id)
    except RoadmapAgentError:
        return None


def _learning_context(request: Request, opened: Opened) -> dict[str, Any]:
    return roadmap_context(request, opened.roadmap, opened.record.roadmap_id, opened.version.starts_on)


async def _page_context(request: Request, roadmap_id: str, user: User, today: date | None) -> dict[str, Any]:
    learning = _learning(request)
    opened = await learning.open(roadmap_id, user.id)
    summary, progress = await learning.summary(opened, today)
    number = opened.version.version
    due = [c for c in await learning.due(user.id, opened.today(today)) if c.roadmap_id == roadmap_id]
    return {**_learning_context(request, opened), "task": await _task(request, roadmap_id, user),
            "opened": opened, "summary": summary, "progress": progress, "editable": True, "due": due,
            "version_diff": await learning.diff(roadmap_id, user.id, number - 1, number) if number > 1 else None,
            "shared": opened.record.shared, "share_url": None}


@router.get("/roadmaps/{roadmap_id}")
async def roadmap_page(request: Request, roadmap_id: RoadmapId, signed_in: PageSession,
                       today: date | None = None) -> Response:
    context = await _page_context(request, roadmap_id, signed_in[0], today)
    return render(request, "roadmap.html", context, signed_in=signed_in, language=context["roadmap"].language)


def _progress_body(form: FormData) -> ProgressBody:
    """The form's change: the done checkbox wins when it was changed (``was`` is the state the page showed),
    else the state menu; a note form sends only ``note``."""
    fields: dict[str, Any] = {}
    if "was" in form:
        was, state = str(form.get("was")), str(form.get("state") or form.get("was"))
        done = form.get("done") is not None
        fields["state"] = ("done" if done else "todo") if done != (was == "done") else state
    if "note" in form:
        fields["note"] = str(form.get("note"))
    try:
        return ProgressBody.model_validate(fields)
    except ValidationError as exc:
        raise _invalid(exc) from None


@router.post("/roadmaps/{roadmap_id}/progress/{concept_id}")
async def update_progress(request: Request, roadmap_id: RoadmapId, concept_id: ConceptId,
                          signed_in: PageSession) -> Response:
    user, session = signed_in
    form = await request.form()
    check_csrf(request, session, form)
    learning = _learning(request)
    await learning.update(roadmap_id, user.id, concept_id, _progress_body(form).change())
    if not _htmx(request):
        return redirect(f"/roadmaps/{roadmap_id}")
    opened = await learning.open(roadmap_id, user.id)
    summary, progress = await learning.summary(opened, None)
    item = next(i for i in tracked_items(opened.roadmap) if i.id == concept_id)
    name = getattr(item, "name", None) or getattr(item, "title", concept_id)
    return render(request, "_progress_update.html", {
        "roadmap_id": roadmap_id, "item_id": concept_id, "item_name": name, "summary": summary,
        "item": progress.get(concept_id) or ItemProgress(concept_id=concept_id),
        "part": "note" if "note" in form else "state"}, signed_in=signed_in, language=opened.roadmap.language)


@router.post("/roadmaps/{roadmap_id}/replan")
async def replan(request: Request, roadmap_id: RoadmapId, signed_in: PageSession) -> Response:
    user, session = signed_in
    form = await request.form()
    check_csrf(request, session, form)
    fields = {k: str(form.get(k)).strip() for k in ("weeks", "hours_per_week") if str(form.get(k) or "").strip()}
    try:
        body = ReplanBody.model_validate(fields)
    except ValidationError as exc:
        raise _invalid(exc) from None
    await _learning(request).replan(roadmap_id, user.id, weeks=body.weeks, hours_per_week=body.hours_per_week)
    return redirect(f"/roadmaps/{roadmap_id}#version")


@router.post("/roadmaps/{roadmap_id}/reviews/{concept_id}")
async def review(request: Request, roadmap_id: RoadmapId, concept_id: ConceptId, signed_in: PageSession) -> Response:
    user, session = signed_in
    form = await request.form()
    check_csrf(request, session, form)
    await _learning(request).review(roadmap_id, user.id, concept_id, str(form.get("rating") or ""))
    return redirect(f"/roadmaps/{roadmap_id}#reviews")


@router.post("/roadmaps/{roadmap_id}/share")
async def share(request: Request, roadmap_id: RoadmapId, signed_in: PageSession) -> Response:
    user, session = signed_in
    form = await request.form()
    check_csrf(request, session, form)
    token = await _learning(request).share(roadmap_id, user.id, form.get("show_progress") is not None)
    share_url = str(request.base_url).rstrip("/") + f"/shared/{token}"
    return await _share_answer(request, roadmap_id, signed_in, share_url)


@router.post("/roadmaps/{roadmap_id}/share/revoke")
async def unshare(request: Request, roadmap_id: RoadmapId, signed_in: PageSession) -> Response:
    user, session = signed_in
    check_csrf(request, session, await request.form())
    await _learning(request).unshare(roadmap_id, user.id)
    if not _htmx(request):
        return redirect(f"/roadmaps/{roadmap_id}#share")
    return await _share_answer(request, roadmap_id, signed_in, None, revoked=True)


async def _share_answer(request: Request, roadmap_id: str, signed_in: tuple[User, Any], share_url: str | None,
                        revoked: bool = False) -> Response:
    """The share section (htmx) or the whole page (a plain post): a new link is shown once, then only its hash
    is kept, so this answer is the one place it appears."""
    context = await _page_context(request, roadmap_id, signed_in[0], None)
    context.update(share_url=share_url, shared=share_url is not None, revoked=revoked)
    name = "_share.html" if _htmx(request) else "roadmap.html"
    return render(request, name, context, signed_in=signed_in, language=context["roadmap"].language)


@router.get("/roadmaps/{roadmap_id}/roadmap.md")
async def download_markdown(request: Request, roadmap_id: RoadmapId, signed_in: PageSession) -> Response:
    opened = await _learning(request).open(roadmap_id, signed_in[0].id)
    return PlainTextResponse(roadmap_to_markdown(opened.roadmap), media_type="text/markdown; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{roadmap_id}.md"'})


@router.get("/roadmaps/{roadmap_id}/roadmap.json")
async def download_json(request: Request, roadmap_id: RoadmapId, signed_in: PageSession) -> Response:
    opened = await _learning(request).open(roadmap_id, signed_in[0].id)
    return JSONResponse(opened.version.body,
                        headers={"Content-Disposition": f'attachment; filename="{roadmap_id}.json"'})


@router.get("/roadmaps/{roadmap_id}/calendar.ics")
async def download_calendar(request: Request, roadmap_id: RoadmapId, signed_in: PageSession) -> Response:
    body = await _learning(request).calendar(roadmap_id, signed_in[0].id)
    return Response(body, media_type="text/calendar; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{roadmap_id}.ics"'})


async def shared_page(request: Request, token: str, today: date | None = None) -> Response:
    """``GET /shared/{token}`` asked for by a browser: the roadmap read-only, its progress if the owner chose so
    (states only, never notes), nothing else of theirs. A revoked or unknown link is a 404 page."""
    try:
        opened, summary = await _learning(request).shared(token, today)
    except NotFound:
        return error_page(request, 404, Translator(page_language(request))("shared.gone"), await session_of(request))
    progress = None
    if summary is not None:
        progress = {k: v.model_copy(update={"note": ""})
                    for k, v in (await _learning(request).store.progress(opened.record.roadmap_id)).items()}
    context = {**_learning_context(request, opened), "opened": opened, "summary": summary, "progress": progress}
    response = render(request, "shared.html", context, signed_in=await session_of(request),
                      language=opened.roadmap.language)
    response.headers.update({"Cache-Control": "private, no-store", "X-Robots-Tag": "noindex",
                             "Referrer-Policy": "no-referrer"})
    return response
