"""What the OpenAPI document says about failures: every status a route can answer, with the one error schema
the handlers really send (``{"error": {"code", "message"}}``), and the WebSocket route OpenAPI cannot express.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. task_not_found, invalid_request.")
    message: str = Field(description="What went wrong and what to do, in one or two sentences.")
    details: list[dict[str, Any]] | None = Field(default=None, description="Validation errors (422 only).")


class ErrorBody(BaseModel):
    error: ErrorDetail


Responses = dict[int | str, dict[str, Any]]


def _error(status: int, description: str) -> Responses:
    return {status: {"model": ErrorBody, "description": description}}


BAD_REQUEST = _error(400, "A parameter the schema allows but this server refuses (e.g. a sequence number "
                           "past the range, a limit tighter than the schema's).")
UNAUTHORIZED = _error(401, "No API key, a malformed Authorization header, or an unknown or revoked key.")
NOT_FOUND = _error(404, "No such task or roadmap for this API key.")
CONFLICT = _error(409, "The task is in the wrong state for this (not awaiting review, already decided, ...).")
TOO_LARGE = _error(413, "The request body is larger than ROADMAP_AGENT_MAX_BODY_BYTES.")
INVALID = _error(422, "The body, a parameter or a header does not match the schema; the message says which.")
RATE_LIMITED = _error(429, "Too many requests or open streams for this API key (see Retry-After).")
FORBIDDEN = _error(403, "Only admin keys may do this.")
PRECONDITION_FAILED = _error(412, "If-Match names an older version of this progress entry: read it again, then retry.")
UNAVAILABLE = _error(503, "A dependency is down or too slow; retry after Retry-After seconds.")
# Every /api/v1 route can answer these.
COMMON: Responses = {**UNAUTHORIZED, **TOO_LARGE, **INVALID, **UNAVAILABLE}

WEBSOCKET_PATH = "/api/v1/tasks/{task_id}/ws"
WEBSOCKET_DOC = {
    "get": {
        "tags": ["events"], "summary": "The task's events over a WebSocket (upgrade)",
        "operationId": "task_events_websocket", "security": [{"HTTPBearer": []}],
        "description": (
            "Connect with a WebSocket client (`ws://` or `wss://`); the server only sends, one JSON event per "
            "message, as in the SSE stream. Authenticate with `Authorization: Bearer <key>` or `?token=<key>`. "
            "Errors arrive as one `{\"error\": {...}}` message, then the close: 4401 no or bad key, 4404 no such "
            "task, 1008 a bad request (e.g. `?after=abc`) or a client that talks too much, 1009 a message too "
            "big, 1011 a server error, 1013 try again later (a dependency down, too many streams)."),
        "parameters": [
            {"name": "task_id", "in": "path", "required": True, "schema": {"type": "string"}},
            {"name": "after", "in": "query", "required": False,
             "schema": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}},
            {"name": "token", "in": "query", "required": False, "schema": {"type": "string"}},
        ],
        "responses": {"101": {"description": "Switching protocols: the event stream."},
                      "404": {"description": "A plain HTTP request (no WebSocket upgrade).",
                              "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}},
    }
}


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes)
            schema["paths"][WEBSOCKET_PATH] = WEBSOCKET_DOC
            schema["components"]["schemas"].pop("HTTPValidationError", None)
            schema["components"]["schemas"].pop("ValidationError", None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to customise the schema
