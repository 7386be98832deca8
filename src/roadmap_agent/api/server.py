"""How ``serve`` runs uvicorn: bounded time to send headers, bounded idle keep-alive, documented in README.

uvicorn closes an idle keep-alive connection after ``timeout_keep_alive`` but has no deadline for a client that
opens a connection and never finishes its request headers (slowloris): thousands of such sockets would stay
open. ``HeaderTimeoutProtocol`` gives every request ``header_timeout`` seconds from its connection (or, on a
kept-alive connection, from its first byte) to the end of its headers, then closes the connection.
"""

from __future__ import annotations

import asyncio
from asyncio import TimerHandle
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from roadmap_agent.settings import ApiSettings


class HeaderTimeoutProtocol(HttpToolsProtocol):
    header_timeout = 10.0  # set from ROADMAP_AGENT_HEADER_TIMEOUT by uvicorn_options
    _header_timer: TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_header_timer()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._start_header_timer()

    def on_headers_complete(self) -> None:
        self._stop_header_timer()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_timer()
        super().connection_lost(exc)

    def _start_header_timer(self) -> None:
        self._stop_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _stop_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.cycle is None or self.cycle.response_complete:  # no request is being answered
            self.transport.close()


def uvicorn_options(api: ApiSettings) -> dict[str, Any]:
    protocol = type("ConfiguredHeaderTimeoutProtocol", (HeaderTimeoutProtocol,), {"header_timeout": api.header_timeout})
    return {"http": protocol, "timeout_keep_alive": api.idle_timeout}
