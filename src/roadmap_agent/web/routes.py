"""Pages: sign-in (a one-time link on the embedded default, an API key form), sign-out, my roadmaps, create.

Every form posted with the session cookie carries its CSRF token (api/cookie_auth.py); the sign-in form, which comes
before any session, carries a double-submit token instead. Forms work without JavaScript (post, then redirect).
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from roadmap_agent.api.auth import RateLimiter, authenticate
from roadmap_agent.api.cookie_auth import check_csrf, check_origin, web_state
from roadmap_agent.api.schemas import CreateRoadmapBody
from roadmap_agent.api.sessions import LOGIN_CSRF_COOKIE, SESSION_COOKIE
from roadmap_agent.api.state import services_of
from roadmap_agent.domain.models import MAX_GOAL_CHARS
from roadmap_agent.errors import Forbidden, Unauthorized
from roadmap_agent.services import Services
from roadmap_agent.store.users import User, read_key_file
from roadmap_agent.web.i18n import Translator, page_language
from roadmap_agent.web.pages import PageRoute, PageSession, redirect, render, set_session

router = APIRouter(route_class=PageRoute, include_in_schema=False)
LIST_LIMIT = 50
ACTIVE = ("pending", "running")


def _services(request: Request) -> Services:
    services = services_of(request)
    return services


def _next(value: str | None) -> str:
    """Only a path of this site (no //host, no scheme): the sign-in redirect is no open redirect."""
    return value if value and value.startswith("/") and not value.startswith("//") and "\\" not in value else "/"


@router.get("/login")
async def login_page(request: Request, token: str | None = None, next: str | None = None) -> Response:
    t = Translator(page_language(request))
    if token is not None:
        user = await _local_user(request) if web_state(request).login_links.redeem(token) else None
        if user is not None:
            response = redirect(_next(next))
            set_session(response, request, user)
            return response
        return _login_form(request, t("login.link_used"), next, status=400)
    return _login_form(request, None, next)


async def _local_user(request: Request) -> User | None:
    services = _services(request)
    key = read_key_file(services.settings.api_key_file())
    return await services.users.authenticate(key) if key else None


def _login_form(request: Request, problem: str | None, next: str | None, status: int = 200) -> Response:
    nonce = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(16)
    response = render(request, "login.html", {"problem": problem, "next": _next(next), "login_csrf": nonce},
                      status=status)
    response.set_cookie(LOGIN_CSRF_COOKIE, nonce, max_age=3600, httponly=True, samesite="strict", path="/login",
                        secure=request.url.scheme == "https")
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    check_origin(request)
    form = await request.form()
    t = Translator(page_language(request))
    nonce = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not nonce or not secrets.compare_digest(nonce, str(form.get("login_csrf") or "")):
        raise Forbidden(t("login.csrf"))
    next_url = _next(str(form.get("next") or "/"))
    try:
        user = await authenticate(_services(request), f"Bearer {str(form.get('api_key') or '').strip()}")
    except Unauthorized:
        return _login_form(request, t("login.bad_key"), next_url, status=401)
    response = redirect(next_url)
    set_session(response, request, user)
    return response


@router.post("/logout")
async def logout(request: Request, signed_in: PageSession) -> Response:
    check_csrf(request, signed_in[1], await request.form())
    response = redirect("/login")
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response


@router.get("/")
async def home(request: Request, signed_in: PageSession) -> Response:
    return render(request, "home.html", await _task_list(request, signed_in[0].id), signed_in=signed_in)


@router.get("/partials/tasks")
async def task_list_partial(request: Request, signed_in: PageSession) -> Response:
    return render(request, "_task_list.html", await _task_list(request, signed_in[0].id), signed_in=signed_in)


async def _task_list(request: Request, owner: str) -> dict[str, Any]:
    tasks, total = await _services(request).store.list_tasks(owner, LIST_LIMIT, 0)
    return {"tasks": tasks, "total": total, "active": any(t.status.value in ACTIVE for t in tasks)}


@router.get("/new")
async def new_page(request: Request, signed_in: PageSession) -> Response:
    return render(request, "new.html", {"values": {"goal": request.query_params.get("goal", "")}, "problems": []},
                  signed_in=signed_in)


@router.post("/new")
async def create(request: Request, signed_in: PageSession) -> Response:
    user, session = signed_in
    form = await request.form()
    check_csrf(request, session, form)
    services = _services(request)
    values = {k: str(v).strip() for k, v in form.items() if k != "csrf_token"}
    try:
        body = CreateRoadmapBody.model_validate(_create_body(form))
    except ValidationError as exc:
        problems = [f"{'.'.join(map(str, e['loc'])) or 'goal'}: {e['msg']}" for e in exc.errors()]
        return render(request, "new.html", {"values": values, "problems": problems}, status=422,
                      signed_in=signed_in)
    if len(body.goal) > min(services.settings.api.max_goal_chars, MAX_GOAL_CHARS):
        return render(request, "new.html", {"values": values, "problems": [
            Translator(page_language(request))("new.too_long", n=services.settings.api.max_goal_chars)]},
            status=422, signed_in=signed_in)
    limiter: RateLimiter = request.app.state.create_limiter
    limiter.take(user.key_id or user.id)
    task = await services.runner.submit(user.id, body.to_request(), None)
    return redirect(f"/tasks/{task.task_id}")


def _create_body(form: FormData) -> dict[str, Any]:
    """The form's fields as the API's body: empty optional fields are left out, numbers made ints, skills split
    on commas."""
    body: dict[str, Any] = {"goal": str(form.get("goal") or "")}
    for name in ("hours_per_week", "weeks"):
        raw = str(form.get(name) or "").strip()
        if raw:  # the API's body is strict: a whole number becomes an int, anything else is reported as it is
            body[name] = int(raw) if raw.isascii() and raw.isdigit() else raw
    for name in ("level", "language"):
        raw = str(form.get(name) or "").strip()
        if raw:
            body[name] = raw
    skills = str(form.get("known_skills") or "").replace("，", ",").replace("、", ",")
    body["known_skills"] = [s.strip() for s in skills.split(",") if s.strip()]
    return body
