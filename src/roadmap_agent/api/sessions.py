"""Web sign-in: one-time links (embedded default), signed session cookies, and CSRF tokens tied to them.

A session cookie is ``<payload>.<signature>``: the payload (base64url JSON) names the user, the API key the
session was made with, its expiry and a random nonce; the signature is an HMAC-SHA256 under the session secret.
Nothing secret is inside. A cookie is honoured while its signature checks, it has not expired and its key is not
revoked, so ``roadmap-agent users revoke-key`` ends every session made with that key at the next request.

The CSRF token is HMAC(secret, "csrf:" + nonce): pages of this origin embed it in their forms (and send it as
``X-CSRF-Token`` with JSON posts); a page of another site cannot read it, so its posts carry none and are refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from roadmap_agent.logging import get_logger
from roadmap_agent.settings import Settings

log = get_logger(__name__)

SESSION_COOKIE = "ra_session"
LOGIN_CSRF_COOKIE = "ra_login_csrf"  # double-submit token of the sign-in form (there is no session yet)
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SECRET_FILE_NAME = "session-secret"  # noqa: S105 - a file name, not a secret
LOGIN_LINK_SECONDS = 24 * 3600  # a printed link is good for one sign-in within a day of `serve` starting
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Session:
    user_id: str
    key_id: str
    expires: int  # unix seconds
    nonce: str


class SessionSigner:
    """Issues and reads session cookies; derives their CSRF tokens."""

    def __init__(self, secret: bytes, lifetime_seconds: float) -> None:
        self._secret = secret
        self.lifetime = int(lifetime_seconds)

    def issue(self, user_id: str, key_id: str) -> tuple[str, Session]:
        session = Session(user_id, key_id, int(time.time()) + self.lifetime, secrets.token_urlsafe(16))
        raw = json.dumps({"u": session.user_id, "k": session.key_id, "e": session.expires, "n": session.nonce},
                         separators=(",", ":")).encode()
        payload = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        return f"{payload}.{self._sign(payload)}", session

    def read(self, cookie: str | None) -> Session | None:
        """The session in a cookie, or None when it is missing, forged, malformed or expired."""
        if not cookie or len(cookie) > 1024 or "." not in cookie:
            return None
        payload, _, signature = cookie.rpartition(".")
        if not hmac.compare_digest(signature, self._sign(payload)):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            session = Session(str(data["u"]), str(data["k"]), int(data["e"]), str(data["n"]))
        except (ValueError, KeyError, TypeError):
            return None
        return session if session.expires > time.time() else None

    def csrf_token(self, session: Session) -> str:
        return self._sign("csrf:" + session.nonce)

    def csrf_ok(self, session: Session, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(str(token), self.csrf_token(session))

    def _sign(self, text: str) -> str:
        return hmac.new(self._secret, text.encode(), hashlib.sha256).hexdigest()


class LoginLinks:
    """One-time sign-in tokens for the embedded local user, held in the memory of the `serve` process."""

    def __init__(self) -> None:
        self._expiry: dict[str, float] = {}  # sha256(token) -> unix expiry

    def issue(self) -> str:
        token = secrets.token_urlsafe(24)
        self._expiry[_digest(token)] = time.time() + LOGIN_LINK_SECONDS
        return token

    def redeem(self, token: str | None) -> bool:
        """True once per issued token, within its lifetime."""
        if not token or len(token) > 200:
            return False
        expiry = self._expiry.pop(_digest(token), None)
        return expiry is not None and expiry > time.time()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def session_secret(settings: Settings) -> bytes:
    """ROADMAP_AGENT_SESSION_SECRET; else (embedded) a file in ROADMAP_AGENT_HOME, so sign-ins survive a
    restart; else (server mode) a random one, valid in this process only."""
    if settings.api.session_secret is not None:
        return settings.api.session_secret.get_secret_value().encode()
    if settings.embedded:
        return _secret_file(settings.data_dir / SECRET_FILE_NAME)
    log.warning("session_secret_unset", message="ROADMAP_AGENT_SESSION_SECRET is not set: web sign-ins are valid "
                "on this `serve` process only and end when it restarts. Set it to the same value everywhere.")
    return secrets.token_bytes(32)


def _secret_file(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    secret = secrets.token_hex(32).encode()
    with os.fdopen(fd, "wb") as file:
        file.write(secret)
    return secret
