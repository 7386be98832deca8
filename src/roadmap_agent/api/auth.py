"""Who is calling: ``Authorization: Bearer <key>`` on HTTP (and SSE), the header or ``?token=`` on WebSockets.

Browsers cannot set headers on a WebSocket, hence ``?token=``; prefer the header elsewhere, because URLs end up in
proxy logs. The key is never logged or echoed: messages name the problem, not the value. Also here: the per-key
token bucket on task creation.
"""

from __future__ import annotations

import math
import time
from typing import Annotated

from fastapi import Depends, Request, WebSocket
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from roadmap_agent.api.cookie_auth import api_cookie_user
from roadmap_agent.api.sessions import SESSION_COOKIE
from roadmap_agent.api.state import services_of
from roadmap_agent.errors import RateLimited, Unauthorized
from roadmap_agent.services import Services
from roadmap_agent.store.users import User

HOW_TO_GET_A_KEY = ("Create one with `roadmap-agent users create NAME` (embedded mode: the local key is in "
                    "$ROADMAP_AGENT_HOME/api-key).")
MISSING = "This endpoint needs an API key: send the header 'Authorization: Bearer <key>'. " + HOW_TO_GET_A_KEY
NOT_BEARER = "The Authorization header must be 'Bearer <key>'. " + HOW_TO_GET_A_KEY
INVALID = ("This API key is not valid: it is unknown or has been revoked. Send a current one as "
           "'Authorization: Bearer <key>'. " + HOW_TO_GET_A_KEY)

bearer = HTTPBearer(auto_error=False, description="An API key from `roadmap-agent users create NAME`.")


async def authenticate(services: Services, authorization: str | None, token: str | None = None) -> User:
    """The user a raw ``Authorization`` header (or WebSocket ``token``) belongs to, else Unauthorized."""
    if authorization:
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise Unauthorized(NOT_BEARER)
    elif token:
        key = token
    else:
        raise Unauthorized(MISSING)
    user = await services.users.authenticate(key.strip())
    if user is None:
        raise Unauthorized(INVALID)
    return user


async def current_user(request: Request,
                       _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> User:
    # The raw header is read again so a malformed one gets our message, not HTTPBearer's.
    services = services_of(request)
    authorization = request.headers.get("authorization")
    if authorization is None and SESSION_COOKIE in request.cookies:  # the web pages' sign-in (CSRF-checked)
        return await api_cookie_user(request)
    return await authenticate(services, authorization)


async def websocket_user(websocket: WebSocket) -> User:
    services = services_of(websocket)
    return await authenticate(services, websocket.headers.get("authorization"), websocket.query_params.get("token"))


UserDep = Annotated[User, Depends(current_user)]


class RateLimiter:
    """A token bucket per key: ``burst`` at once, refilled at ``per_minute``; in memory, per process."""

    def __init__(self, burst: int, per_minute: float) -> None:
        self.burst = burst
        self.rate = per_minute / 60.0
        self._buckets: dict[str, tuple[float, float]] = {}  # key id -> (tokens, last refill)

    def take(self, key_id: str) -> None:
        now = time.monotonic()
        tokens, last = self._buckets.get(key_id, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens < 1.0:
            self._buckets[key_id] = (tokens, now)
            wait = max(1, math.ceil((1.0 - tokens) / self.rate))
            raise RateLimited(f"Too many new roadmaps for this API key: at most {self.burst} at once and "
                              f"{self.rate * 60:g} per minute. Retry in {wait} s.", retry_after=wait)
        self._buckets[key_id] = (tokens - 1.0, now)
