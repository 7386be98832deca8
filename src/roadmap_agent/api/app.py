"""``create_api(settings)``: the JSON API application, its lifespan, health endpoints and body-size guard.

The server that runs is ``roadmap_agent.server.create_app``: this API with the learner's pages (web/) mounted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from roadmap_agent import __version__, server_file
from roadmap_agent.api.auth import RateLimiter, authenticate
from roadmap_agent.api.errors import install_error_handlers
from roadmap_agent.api.learning import router as learning_router
from roadmap_agent.api.learning import shared_router
from roadmap_agent.api.limits import BodyLimit
from roadmap_agent.api.openapi import UNAUTHORIZED, install_openapi
from roadmap_agent.api.routes import router
from roadmap_agent.api.state import AppState, ServicesDep
from roadmap_agent.api.streams import StreamSlots
from roadmap_agent.errors import RoadmapAgentError
from roadmap_agent.metrics import CONTENT_TYPE
from roadmap_agent.services import Services, open_services
from roadmap_agent.settings import Settings


def create_api(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[AppState]:
        async with open_services(settings, recover=not settings.uses_queue) as services:
            url: str | None = getattr(app.state, "announce_url", None)  # set by `serve` (cli/admin.py)
            if url is None:
                yield {"services": services}
                return
            server_file.announce(settings.data_dir, url)  # the CLI of this home now hands its runs to us
            try:
                yield {"services": services}
            finally:
                server_file.withdraw(settings.data_dir)

    app = FastAPI(title="roadmap-agent", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Personalised learning roadmaps through a durable, reviewed workflow.")
    # No trailing-slash redirects: Starlette builds them from the Host header, which a client controls.
    app.router.redirect_slashes = False
    install_error_handlers(app)
    install_openapi(app)
    app.include_router(router)
    app.include_router(learning_router)
    app.include_router(shared_router)  # no API key: the token is the permission
    app.state.create_limiter = RateLimiter(settings.api.create_burst, settings.api.create_per_minute)
    app.state.stream_slots = StreamSlots(settings.api.max_streams_per_key, settings.api.max_streams)

    app.add_middleware(BodyLimit, max_bytes=settings.api.max_body_bytes)

    @app.get("/health/live", tags=["health"])
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/health/ready", tags=["health"], responses={503: {"description": "A required dependency is down "
                                                                  "(same body as 200)."}})
    async def ready(request: Request, services: ServicesDep) -> JSONResponse:
        """Each dependency's last probe (never waits on IO): 200 when serving is possible, else 503. Without an
        API key only each dependency's status; with one also latency, target and last error."""
        status, body = services.prober.readiness()
        if not await _has_valid_key(services, request):  # public: each dependency's status, nothing more
            body["dependencies"] = {name: {"status": dep["status"]} for name, dep in body["dependencies"].items()}
        body.update(mode="embedded" if services.settings.embedded else "server", emergency=services.emergency)
        return JSONResponse(body, status_code=status)

    @app.get("/metrics", tags=["health"], response_class=PlainTextResponse,
             responses={200: {"content": {CONTENT_TYPE: {"schema": {"type": "string"}}},
                              "description": "Prometheus text format."}, **UNAUTHORIZED})
    async def metrics(request: Request, services: ServicesDep) -> Response:
        if not settings.api.metrics_public:  # ROADMAP_AGENT_METRICS_PUBLIC=false: a key, like /api/v1
            await authenticate(services, request.headers.get("authorization"))
        return Response(services.metrics.render(), media_type=CONTENT_TYPE)

    return app



async def _has_valid_key(services: Services, request: Request) -> bool:
    if not request.headers.get("authorization"):
        return False
    try:
        await authenticate(services, request.headers.get("authorization"))
    except RoadmapAgentError:  # a wrong key or a database away: the public answer, never a 401/503 here
        return False
    return True
