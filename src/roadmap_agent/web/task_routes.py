"""Pages of one task: live progress, retry and cancel, the review (the draft, its change list and diff).

The task page renders the steps so far and then follows ``GET /api/v1/tasks/{id}/events`` (SSE, with the session
cookie); each event refreshes the ``/tasks/{id}/live`` fragment, so the steps are always rendered here, in the
page's language. A reconnecting EventSource resumes after its Last-Event-ID.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from fastapi import Path as PathParam

from roadmap_agent.api.cookie_auth import check_csrf
from roadmap_agent.api.routes import ID_PATTERN
from roadmap_agent.api.sessions import Session
from roadmap_agent.api.state import services_of
from roadmap_agent.domain.models import ReviewDecision, Roadmap
from roadmap_agent.errors import Conflict
from roadmap_agent.services import Services
from roadmap_agent.store.records import TaskRecord, TaskStatus
from roadmap_agent.store.repository import TaskStore
from roadmap_agent.store.users import User
from roadmap_agent.web.graph import layout
from roadmap_agent.web.i18n import Translator, page_language
from roadmap_agent.web.pages import PageRoute, PageSession, redirect, render
from roadmap_agent.web.views import last_changes, last_diff, schedule_rows, step_rows

router = APIRouter(route_class=PageRoute, include_in_schema=False)
TaskId = Annotated[str, PathParam(pattern=ID_PATTERN)]


def _services(request: Request) -> Services:
    services = services_of(request)
    return services


async def _task_context(request: Request, task_id: str, user: User) -> dict[str, Any]:
    return await task_context(_services(request).store, task_id, user.id)


async def task_context(store: TaskStore, task_id: str, owner: str) -> dict[str, Any]:
    """The task and its steps for the page. The events are read first: the status read after them is never
    older, so a page whose steps end in a terminal event also says the task ended (read the other way round, a
    task that failed between the two reads was shown as working, with nothing left for its event stream)."""
    events = await store.events_after(task_id, 0)
    task = await store.get_task(task_id, owner)  # 404 / 403 here: the events read are never shown
    return {"task": task, "rows": step_rows(events), "last_seq": events[-1].seq if events else 0,
            "terminal": task.status.terminal}


def _language_of(task: TaskRecord) -> Any:
    return (task.intent or {}).get("language") or task.request.get("language")


@router.get("/tasks/{task_id}")
async def task_page(request: Request, task_id: TaskId, signed_in: PageSession) -> Response:
    context = await _task_context(request, task_id, signed_in[0])
    return render(request, "task.html", context, signed_in=signed_in, language=_language_of(context["task"]))


@router.get("/tasks/{task_id}/live")
async def task_live(request: Request, task_id: TaskId, signed_in: PageSession) -> Response:
    context = await _task_context(request, task_id, signed_in[0])
    return render(request, "_task_live.html", context, signed_in=signed_in, language=_language_of(context["task"]))


@router.post("/tasks/{task_id}/retry")
async def retry(request: Request, task_id: TaskId, signed_in: PageSession) -> Response:
    check_csrf(request, signed_in[1], await request.form())
    await _services(request).runner.retry(task_id, signed_in[0].id)
    return redirect(f"/tasks/{task_id}")


@router.post("/tasks/{task_id}/cancel")
async def cancel(request: Request, task_id: TaskId, signed_in: PageSession) -> Response:
    check_csrf(request, signed_in[1], await request.form())
    await _services(request).runner.cancel(task_id, signed_in[0].id)
    return redirect(f"/tasks/{task_id}")


@router.get("/tasks/{task_id}/review")
async def review_page(request: Request, task_id: TaskId, signed_in: PageSession) -> Response:
    return await _review(request, task_id, signed_in)


async def _review(request: Request, task_id: str, signed_in: tuple[User, Session], *, status: int = 200,
                  notice: str | None = None, feedback: str = "") -> Response:
    services = _services(request)
    task = await services.store.get_task(task_id, signed_in[0].id)
    if task.status != TaskStatus.HUMAN_REVIEW_PENDING and notice is None:
        return redirect(f"/tasks/{task_id}")
    draft = await services.store.draft_roadmap(task_id)
    if draft is None and task.roadmap_id:
        draft = await services.store.get_roadmap(task.roadmap_id, signed_in[0].id)
    roadmap = Roadmap.model_validate(draft) if draft else None
    events = await services.store.events_after(task_id, 0)
    context = {"task": task, "notice": notice, "feedback": feedback, "changes": last_changes(events),
               "edit_diff": last_diff(events), "pending": task.status == TaskStatus.HUMAN_REVIEW_PENDING,
               **roadmap_context(request, roadmap, task.roadmap_id or "", task.updated_at.date())}
    return render(request, "review.html", context, status=status, signed_in=signed_in,
                  language=roadmap.language if roadmap else _language_of(task))


@router.post("/tasks/{task_id}/review")
async def review(request: Request, task_id: TaskId, signed_in: PageSession) -> Response:
    user, session = signed_in
    form = await request.form()
    check_csrf(request, session, form)
    services = _services(request)
    task = await services.store.get_task(task_id, user.id)
    t = Translator(page_language(request, _language_of(task)))
    approved = form.get("decision") == "approve"
    feedback = str(form.get("feedback") or "").strip()
    if not approved and not feedback:
        return await _review(request, task_id, signed_in, status=422, notice=t("review.need_feedback"))
    if len(feedback) > services.settings.api.max_feedback_chars:
        return await _review(request, task_id, signed_in, status=422, feedback=feedback,
                             notice=t("review.too_long", n=services.settings.api.max_feedback_chars))
    if str(form.get("review_round") or "") != str(task.review_round):
        return await _review(request, task_id, signed_in, status=409, notice=t("review.conflict"))
    try:
        await services.runner.review(task_id, ReviewDecision(approved=approved, feedback=feedback or None), user.id)
    except Conflict:
        return await _review(request, task_id, signed_in, status=409, notice=t("review.conflict"))
    return redirect(f"/tasks/{task_id}")


def roadmap_context(request: Request, roadmap: Roadmap | None, roadmap_id: str, start: date) -> dict[str, Any]:
    """What _roadmap.html needs; the roadmap page adds progress (``editable``), the shared page read-only states."""
    if roadmap is None:
        return {"roadmap": None}
    whole = _services(request).catalog
    catalog = whole.concepts
    known = whole.relevant_known(roadmap.assumed_known, [*roadmap.concept_ids(), *(c.id for c in roadmap.completed)])
    names = {c: catalog[c].name.get(roadmap.language) for c in known if c in catalog}
    names.update({p: catalog[p].name.get(roadmap.language) for c in roadmap.concepts() for p in c.prerequisites
                  if p in catalog})
    names.update({c.id: c.name for c in [*roadmap.completed, *roadmap.concepts()]})
    return {"roadmap": roadmap, "graph": layout(roadmap), "known": [names.get(c, c) for c in known],
            "in_roadmap": {*roadmap.concept_ids(), *(c.id for c in roadmap.completed)}, "names": names,
            "weeks": schedule_rows(roadmap, start), "roadmap_id": roadmap_id, "progress": None, "editable": False}
