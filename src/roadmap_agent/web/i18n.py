"""The pages' words in English and Chinese (``text.json`` next to this module), and which language a page uses.

The language is, in order: ``?lang=`` (the switch; remembered in a cookie), the cookie, the roadmap's own
language on a roadmap's pages, the browser's ``Accept-Language``, English.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from fastapi import Request

from roadmap_agent.domain.models import Language

LANG_COOKIE = "ra_lang"
LANGUAGES: tuple[Language, ...] = ("en", "zh")
LANGUAGE_NAMES = {"en": "English", "zh": "中文"}


@cache
def texts() -> dict[str, dict[str, str]]:
    raw = (resources.files("roadmap_agent.web") / "text.json").read_text(encoding="utf-8")
    data: dict[str, dict[str, str]] = json.loads(raw)
    return data


def text(key: str, language: Language, **values: Any) -> str:
    return texts()[key][language].format(**values) if values else texts()[key][language]


class Translator:
    """``t("key", n=3)`` in templates, bound to one page's language."""

    def __init__(self, language: Language) -> None:
        self.language = language

    def __call__(self, key: str, **values: Any) -> str:
        return text(key, self.language, **values)

    def has(self, key: str) -> bool:
        return key in texts()


def chosen_language(request: Request) -> Language | None:
    """An explicit choice: the switch (``?lang=``) or the cookie it left."""
    for value in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)):
        if value == "en":
            return "en"
        if value == "zh":
            return "zh"
    return None


def page_language(request: Request, default: Language | None = None) -> Language:
    chosen = chosen_language(request)
    if chosen is not None:
        return chosen
    if default is not None:
        return default
    accept = request.headers.get("accept-language", "").lower()
    return "zh" if accept.startswith("zh") else "en"
