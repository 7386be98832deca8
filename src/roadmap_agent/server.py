"""``create_app(settings)``: the server ``roadmap-agent serve`` runs: the JSON API (api/) with the learner's pages,
their static files and the offline API docs (web/) mounted on it.

Composed here so that the pages build on the API and the API knows nothing of the pages.
"""

from __future__ import annotations

from fastapi import FastAPI

from roadmap_agent.api.app import create_api
from roadmap_agent.settings import Settings
from roadmap_agent.web.mount import install_web


def create_app(settings: Settings) -> FastAPI:
    app = create_api(settings)
    install_web(app, settings)  # the learner's pages, /static and the offline /docs and /redoc
    return app
