"""One table from our errors to HTTP, and handlers that always answer ``{"error": {code, message}}``.

No handler ever returns a stack trace; an unexpected exception is logged and answered with a plain 500.
"""

from __future__ import annotations

import json

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from roadmap_agent.errors import (
    ConfigurationError,
    Conflict,
    DependencyUnavailable,
    Forbidden,
    IdempotencyKeyReused,
    InvalidRequest,
    NotFound,
    PreconditionFailed,
    RateLimited,
    RoadmapAgentError,
    Unauthorized,
)
from roadmap_agent.logging import get_logger
from roadmap_agent.redaction import hide_paths

log = get_logger(__name__)

STATUS_BY_ERROR: list[tuple[type[RoadmapAgentError], int]] = [
    (InvalidRequest, 400),
    (IdempotencyKeyReused, 422),
    (Unauthorized, 401),
    (Forbidden, 403),
    (RateLimited, 429),
    (NotFound, 404),
    (PreconditionFailed, 412),
    (Conflict, 409),
    (DependencyUnavailable, 503),
    (ConfigurationError, 500),
]


FASTAPI_UNREADABLE = "There was an error parsing the body"


def error_body(code: str, message: str, **extra: object) -> dict[str, object]:
    return {"error": {"code": code, "message": message, **extra}}


def status_for(exc: RoadmapAgentError) -> int:
    return next((status for kind, status in STATUS_BY_ERROR if isinstance(exc, kind)), 500)


async def _domain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RoadmapAgentError)  # noqa: S101 - registered for this type only
    status = status_for(exc)
    headers = {"Retry-After": "5"} if status == 503 else None
    if isinstance(exc, Unauthorized):
        headers = {"WWW-Authenticate": 'Bearer realm="roadmap-agent"'}
    elif isinstance(exc, RateLimited):
        headers = {"Retry-After": str(exc.retry_after)}
    return JSONResponse(error_body(exc.code, hide_paths(exc.message)), status_code=status, headers=headers)


def _describe(error: dict[str, object]) -> str:
    location = ".".join(str(p) for p in error.get("loc", ()) if p != "body")  # type: ignore[attr-defined]
    if error.get("type") == "json_invalid":
        return "The request body is not valid JSON: " + str(error.get("ctx", {}).get("error", "parse error"))  # type: ignore[attr-defined]
    return f"{location or 'body'}: {error.get('msg')}"


SEND_JSON = ("Send the body as JSON (UTF-8) with the header 'Content-Type: application/json', e.g. "
             '{"goal": "become a data analyst in 6 months"}.')
UNREADABLE_BODY = ("The request body could not be read: it must be UTF-8 encoded JSON, nested at most a few "
                   "levels deep. " + SEND_JSON)


def _not_json(request: Request) -> bool:
    declared = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return request.method in ("POST", "PUT", "PATCH") and declared != "application/json" and not declared.endswith(
        "+json")


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for this type only
    problems = [_describe(e) for e in exc.errors()]
    if _not_json(request) and any(tuple(e.get("loc", ())) == ("body",) for e in exc.errors()):
        got = request.headers.get("content-type") or "none"
        problems = [f"The body was not read as JSON (Content-Type: {got[:60]}). {SEND_JSON}"]
    details = json.loads(json.dumps([{"loc": e.get("loc"), "msg": e.get("msg")} for e in exc.errors()],
                                    default=str))
    return JSONResponse(error_body("invalid_request", "; ".join(problems), details=details), status_code=422)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101 - registered for this type only
    code = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed",
            413: "payload_too_large"}.get(exc.status_code, "http_error")
    message = str(exc.detail)
    if exc.status_code == 400 and message == FASTAPI_UNREADABLE:  # invalid UTF-8, nesting past the recursion limit
        code, message = "invalid_request", UNREADABLE_BODY
    return JSONResponse(error_body(code, message), status_code=exc.status_code,
                        headers=getattr(exc, "headers", None))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled_error", path=request.url.path, error_type=type(exc).__name__, exc_info=exc)
    return JSONResponse(error_body("internal_error", "Something went wrong on our side; it has been logged. "
                                   "Please retry."), status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RoadmapAgentError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
