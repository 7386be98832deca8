"""The one place secrets are taken out of text before it is shown: logs, errors, health, events, ``check``.

``redact_url`` renders a URL as ``scheme://user:***@host:port/path?api-key=***``: the password (even one that
was not percent-encoded, so ``/``, ``#`` or ``?`` inside it) and every query parameter whose name looks like a
credential are replaced. ``redact_text`` applies it to every URL inside free text (driver messages echo DSNs),
then blanks ``password=...`` pairs, bearer tokens and any known secret value. ``hide_paths`` keeps absolute
server paths out of what API clients see (error bodies, task errors, events).
"""

from __future__ import annotations

import re
from urllib.parse import quote

MASK = "***"
# Query parameter names that carry credentials: api-key, x-api-key, access_token, sig, X-Amz-Signature, ...
CREDENTIAL_NAME = re.compile(r"(?i)(pass(word|wd)?|pwd|secret|token|key|sig(nature)?|auth|credential|session|"
                             r"code)")
_SCHEME = re.compile(r"(?i)^([a-z][a-z0-9+.-]*://)(.*)$", re.S)
_URL_IN_TEXT = re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://[^\s'\"<>]+")
_KEY_VALUE = re.compile(r"(?i)\b(password|passwd|pwd|secret|api[_-]?key|access[_-]?token|token|sig|signature)"
                        r"(\s*=\s*)('[^']*'|\"[^\"]*\"|[^\s&;,'\"]+)")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[\w.~+/=-]{8,}")
_QUERY_PAIR = re.compile(r"([?&;])([^=&;#]*)=([^&;#]*)")


def redact_url(url: str) -> str:
    """``url`` with its password and credential-looking query values replaced by ``***``."""
    match = _SCHEME.match(url)
    if match is None:
        return _redact_query(url)
    scheme, rest = match.groups()
    if "@" in rest:  # the last @ ends the userinfo even when the password holds an unencoded / # ? or @
        userinfo, rest = rest.rsplit("@", 1)
        user, has_password, _ = userinfo.partition(":")
        if "/" in user or "?" in user or "#" in user:  # no user, just a password-like blob: hide it all
            user, has_password = "", ":"
        rest = f"{user}:{MASK}@{rest}" if has_password else f"{user}@{rest}"
    return scheme + _redact_query(rest)


def _redact_query(text: str) -> str:
    if "?" not in text and ";" not in text:
        return text
    head, sep, tail = text.partition("?")
    redacted = _QUERY_PAIR.sub(_mask_pair, sep + tail)
    return head + redacted


def _mask_pair(match: re.Match[str]) -> str:
    separator, name, value = match.groups()
    return f"{separator}{name}={MASK if CREDENTIAL_NAME.search(name) and value else value}"


def redact_text(text: str, secrets: tuple[str, ...] = ()) -> str:
    """``text`` without secrets: URLs redacted, ``password=...`` pairs, bearer tokens and known values blanked."""
    text = _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)
    text = _KEY_VALUE.sub(rf"\1\2{MASK}", text)
    text = _BEARER.sub(rf"\1 {MASK}", text)
    for secret in secrets:
        if len(secret) >= 4:  # a one-letter password would blank out half the text; the rules above cover it
            text = text.replace(secret, MASK).replace(quote(secret, safe=""), MASK)
    return text


_ABSOLUTE_PATH = re.compile(r"(?<![\w:/.~-])/(?:[\w.@+-]+/)+([\w.@+-]+)")


def hide_paths(text: str) -> str:
    """Absolute server paths cut to their last part (``.../checkpoints.db``): what API clients may see."""
    return _ABSOLUTE_PATH.sub(r".../\1", text)


def shorten(text: str, limit: int, secrets: tuple[str, ...] = ()) -> str:
    """Redact first, then cut: a secret echoed across the cut never leaves a prefix behind."""
    return redact_text(text, secrets)[:limit]
