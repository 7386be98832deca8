"""Rendering a page: the Jinja2 environment, the context every template gets, security headers, and the route
class that turns errors into pages (a signed-out visitor goes to /login; another error is a page with its
message, never JSON)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from roadmap_agent import __version__
from roadmap_agent.api.cookie_auth import session_of, web_state
from roadmap_agent.api.errors import status_for
from roadmap_agent.api.sessions import SESSION_COOKIE, Session
from roadmap_agent.domain.models import Language
from roadmap_agent.domain.progress import ItemProgress
from roadmap_agent.errors import RoadmapAgentError
from roadmap_agent.store.users import User
from roadmap_agent.web.i18n import LANG_COOKIE, LANGUAGE_NAMES, Translator, chosen_language, page_language
from roadmap_agent.web.views import version_change_values

THEME_COOKIE = "ra_theme"
YEAR = 365 * 24 * 3600
# Everything from this origin and nothing else: no CDN, no inline script or style, no framing.
PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
            "font-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'")
PAGE_HEADERS = {"Content-Security-Policy": PAGE_CSP, "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "same-origin", "Cache-Control": "no-store"}

environment = Environment(loader=PackageLoader("roadmap_agent.web", "templates"),
                          autoescape=select_autoescape(["html", "svg", "xml"]),  # names may come from a model
                          undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
templates = Jinja2Templates(env=environment)


class SignInRequired(Exception):
    """Raised by ``page_session``: the visitor is sent to /login and comes back afterwards."""


async def page_session(request: Request) -> tuple[User, Session]:
    found = await session_of(request)
    if found is None:
        raise SignInRequired
    return found


PageSession = Annotated[tuple[User, Session], Depends(page_session)]


def static_url(path: str) -> str:
    return f"/static/{path}?v={__version__}"


def anchor(concept_id: str) -> str:
    """An HTML id for a concept (catalog ids are already safe; model-made ones may hold anything)."""
    return "concept-" + "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in concept_id)


environment.globals.update(static=static_url, anchor=anchor, change_values=version_change_values,
                           blank=lambda item_id: ItemProgress(concept_id=item_id))  # never touched: todo


def render(request: Request, name: str, context: dict[str, Any], *, status: int = 200,
           signed_in: tuple[User, Session] | None = None, language: Language | None = None) -> HTMLResponse:
    lang = page_language(request, language)
    other: Language = "zh" if lang == "en" else "en"
    query = {k: v for k, v in request.query_params.items() if k not in ("lang", "token")}
    theme = request.cookies.get(THEME_COOKIE)
    user, session = signed_in if signed_in else (None, None)
    base = {"t": Translator(lang), "lang": lang, "other_lang": other, "other_lang_name": LANGUAGE_NAMES[other],
            "switch_url": f"{request.url.path}?{urlencode({**query, 'lang': other})}",
            "theme": theme if theme in ("dark", "light") else None, "user": user,
            "csrf": web_state(request).signer.csrf_token(session) if session else "",
            "embedded": web_state(request).embedded, "path": request.url.path}
    response = templates.TemplateResponse(request, name, {**base, **context}, status_code=status,
                                          headers=PAGE_HEADERS)
    if request.query_params.get("lang") in ("en", "zh") and chosen_language(request) == lang:
        response.set_cookie(LANG_COOKIE, lang, max_age=YEAR, samesite="lax", path="/")
    return response


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def set_session(response: Response, request: Request, user: User) -> None:
    signer = web_state(request).signer
    cookie, _ = signer.issue(user.id, user.key_id or "")
    response.set_cookie(SESSION_COOKIE, cookie, max_age=signer.lifetime, httponly=True, samesite="lax",
                        secure=request.url.scheme == "https", path="/")


def error_page(request: Request, status: int, message: str, signed_in: tuple[User, Session] | None = None
               ) -> HTMLResponse:
    return render(request, "error.html", {"status": status, "message": message}, status=status,
                  signed_in=signed_in)


class PageRoute(APIRoute):
    """A page answers with HTML whatever goes wrong: errors keep their status and their message."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return redirect("/login?next=" + quote(target, safe=""))
            except RoadmapAgentError as exc:
                return error_page(request, status_for(exc), exc.message, await session_of(request))
            except RequestValidationError:
                return error_page(request, 404, Translator(page_language(request))("error.not_found"))

        return page
