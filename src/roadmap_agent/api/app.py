"""``create_app(settings)``: the FastAPI application, its lifespan, health endpoints and body-size guard."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from roadmap_agent import __version__
from roadmap_agent.api.errors import error_body, install_error_handlers
from roadmap_agent.api.routes import router
from roadmap_agent.errors import RoadmapAgentError
from roadmap_agent.services import open_services
from roadmap_agent.settings import Settings


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_services(settings, recover=settings.embedded) as services:
            app.state.services = services
            yield

    app = FastAPI(title="roadmap-agent", version=__version__, lifespan=lifespan,
                  description="Personalised learning roadmaps through a durable, reviewed workflow.")
    install_error_handlers(app)
    app.include_router(router)
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
        services = request.app.state.services
        try:
            await services.database.ping()
            await services.checkpointer.ping()
        except RoadmapAgentError as exc:
            return JSONResponse({"status": "down", "error": exc.message}, status_code=503)
        return JSONResponse({"status": "ok", **services.settings.describe()})

    return app


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse(error_body("payload_too_large", f"Request body is larger than {limit} bytes; "
                                   "a goal must be at most 2000 characters."), status_code=413)
