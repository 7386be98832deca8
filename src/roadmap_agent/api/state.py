"""The app's lifespan state (``AppState``, what ``create_app``'s lifespan yields) and the one way to read it.

Starlette hands a copy of the yielded state to every request and WebSocket (``connection.state``); routes,
the web pages and the health endpoints all read it through ``services_of`` (or ``ServicesDep``).
"""

from __future__ import annotations

from typing import Annotated, TypedDict

from fastapi import Depends
from starlette.requests import HTTPConnection

from roadmap_agent.services import Services


class AppState(TypedDict):
    services: Services


def services_of(connection: HTTPConnection) -> Services:
    """This process's services, opened by the lifespan (a request or a WebSocket)."""
    services: Services = connection.state.services
    return services


async def _services(connection: HTTPConnection) -> Services:
    # async on purpose: FastAPI runs a plain ``def`` dependency on a worker thread, one hop per request.
    return services_of(connection)


ServicesDep = Annotated[Services, Depends(_services)]
