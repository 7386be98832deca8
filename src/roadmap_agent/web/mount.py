"""``install_web(app, settings)``: the pages, their static files, the offline API docs, and the sign-in link.

/docs (Swagger UI) loads its scripts from /static/vendor, so it works without internet. /redoc redirects there:
ReDoc's standalone bundle fetches its sidebar logo from cdn.redoc.ly whatever its options, so it cannot be served
without a request leaving the origin, and Swagger UI shows the same OpenAPI document.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from roadmap_agent.api.cookie_auth import WebState
from roadmap_agent.api.sessions import LoginLinks, SessionSigner, session_secret
from roadmap_agent.settings import Settings
from roadmap_agent.web import roadmap_routes, routes, task_routes
from roadmap_agent.web.pages import static_url

VENDOR = "vendor"


def install_web(app: FastAPI, settings: Settings) -> None:
    """Mount the pages on ``app`` (created with ``docs_url=None, redoc_url=None``: the docs are served here)."""
    signer = SessionSigner(session_secret(settings), settings.api.session_hours * 3600)
    app.state.web = WebState(signer, LoginLinks(), settings.embedded)
    app.state.shared_page = roadmap_routes.shared_page  # a share link opened in a browser (api/learning.py)
    app.include_router(routes.router)
    app.include_router(task_routes.router)
    app.include_router(roadmap_routes.router)
    app.mount("/static", StaticFiles(packages=[("roadmap_agent.web", "static")]), name="static")
    title = app.title

    @app.get("/docs", include_in_schema=False)
    async def swagger(_request: Request) -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{title} API",
                                   swagger_js_url=static_url(f"{VENDOR}/swagger-ui/swagger-ui-bundle.js"),
                                   swagger_css_url=static_url(f"{VENDOR}/swagger-ui/swagger-ui.css"),
                                   swagger_favicon_url=static_url("favicon.svg"),
                                   swagger_ui_parameters={"validatorUrl": None})  # no badge from validator.swagger.io

    @app.get("/redoc", include_in_schema=False)
    async def redoc(_request: Request) -> RedirectResponse:
        return RedirectResponse("/docs", status_code=307)


def login_link(app: FastAPI, host: str, port: int) -> str | None:
    """A one-time sign-in link for the embedded local user (None in server mode: sign in with an API key)."""
    state: WebState = app.state.web
    if not state.embedded:
        return None
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 - a bind-all address is shown as loopback
    shown = f"[{shown}]" if ":" in shown else shown
    return f"http://{shown}:{port}/login?token={state.login_links.issue()}"
