"""Who is calling with a session cookie, and the CSRF rule for everything such a caller posts.

Used by the JSON API (api/auth.py) and by the pages (web/, which build on it) when a request carries the cookie
instead of ``Authorization: Bearer``: an unsafe method (POST, PUT, PATCH, DELETE) then needs the session's CSRF token,
in the form field ``csrf_token`` or the ``X-CSRF-Token`` header, and an ``Origin`` (when the browser sends one)
that is this server's.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from starlette.datastructures import FormData

from roadmap_agent.api.sessions import (
    CSRF_FIELD,
    CSRF_HEADER,
    SAFE_METHODS,
    SESSION_COOKIE,
    LoginLinks,
    Session,
    SessionSigner,
)
from roadmap_agent.api.state import services_of
from roadmap_agent.errors import Forbidden, Unauthorized
from roadmap_agent.store.users import User

SIGNED_OUT = ("Your web sign-in has expired or its API key was revoked: sign in again at /login "
              "(or send 'Authorization: Bearer <key>').")
CSRF_REFUSED = ("Refused: this form or request did not come from a page of this server (missing or wrong CSRF "
                "token). Reload the page and try again.")
CROSS_ORIGIN = "Refused: a page of another origin ({origin}) tried to post here with your sign-in."


@dataclass
class WebState:
    """What the pages need besides the services: kept on ``app.state.web``."""

    signer: SessionSigner
    login_links: LoginLinks
    embedded: bool


def web_state(request: Request) -> WebState:
    state: WebState = request.app.state.web
    return state


async def session_of(request: Request) -> tuple[User, Session] | None:
    """The signed-in user and session, or None (no cookie, a forged or expired one, a revoked key)."""
    session = web_state(request).signer.read(request.cookies.get(SESSION_COOKIE))
    if session is None:
        return None
    services = services_of(request)
    user = await services.users.user_of_key(session.key_id)
    if user is None or user.id != session.user_id:
        return None
    return user, session


def check_csrf(request: Request, session: Session, form: FormData | None = None) -> None:
    """Refuse an unsafe request made with the cookie unless it carries this session's token from our origin."""
    if request.method in SAFE_METHODS:
        return
    check_origin(request)
    token = request.headers.get(CSRF_HEADER) or (str(form.get(CSRF_FIELD) or "") if form is not None else None)
    if not web_state(request).signer.csrf_ok(session, token):
        raise Forbidden(CSRF_REFUSED)


def check_origin(request: Request) -> None:
    """A browser names the page's origin on every post; another site's page is refused outright."""
    origin = request.headers.get("origin")
    if origin and origin != _own_origin(request):
        raise Forbidden(CROSS_ORIGIN.format(origin=origin[:100]))


async def api_cookie_user(request: Request) -> User:
    """The JSON API's view of a cookie caller: 401 when signed out, 403 for a post without its CSRF token."""
    found = await session_of(request)
    if found is None:
        raise Unauthorized(SIGNED_OUT)
    user, session = found
    check_csrf(request, session)
    return user


def _own_origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"
