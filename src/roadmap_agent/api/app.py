"""``create_app(settings)``: the FastAPI application, its lifespan, health endpoints and body-size guard."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from roadmap_agent import __version__
from roadmap_agent.api.auth import RateLimiter, authenticate
from roadmap_agent.api.errors import error_body, install_error_handlers
from roadmap_agent.api.routes import router
from roadmap_agent.metrics import CONTENT_TYPE
from roadmap_agent.services import Services, open_services
from roadmap_agent.settings import Settings
from roadmap_agent.web.mount import install_web


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_services(settings, recover=not settings.uses_queue) as services:
            app.state.services = services
            yield

    app = FastAPI(title="roadmap-agent", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Personalised learning roadmaps through a durable, reviewed workflow.")
    install_error_handlers(app)
    app.include_router(router)
    install_web(app, settings)  # the learner's pages, /static and the offline /docs and /redoc
    app.state.create_limiter = RateLimiter(settings.api.create_burst, settings.api.create_per_minute)
    limit = settings.api.max_body_bytes

    @app.middleware("http")
    async def limit_body_size(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        # Refuse big bodies before reading them when the client says how big; otherwise count while reading.
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            return _too_large(limit)
        if request.method in ("POST", "PUT", "PATCH") and not declared and len(await request.body()) > limit:
            return _too_large(limit)  # chunked upload: starlette caches the body it read for the route
        return await call_next(request)

    @app.get("/health/live", tags=["health"])
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/health/ready", tags=["health"])
    async def ready(request: Request) -> JSONResponse:
        """Each dependency's last probe (never waits on IO): 200 when serving is possible, else 503."""
        services: Services = request.app.state.services
        status, body = services.prober.readiness()
        body.update(mode="embedded" if services.settings.embedded else "server", emergency=services.emergency)
        return JSONResponse(body, status_code=status)

    @app.get("/metrics", tags=["health"])
    async def metrics(request: Request) -> Response:
        services: Services = request.app.state.services
        if not settings.api.metrics_public:  # ROADMAP_AGENT_METRICS_PUBLIC=false: a key, like /api/v1
            await authenticate(services, request.headers.get("authorization"))
        return Response(services.metrics.render(), media_type=CONTENT_TYPE)

    return app


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse(error_body("payload_too_large", f"Request body is larger than {limit} bytes; "
                                   "a goal must be at most 2000 characters."), status_code=413)
