"""Prompt templates: versioned text files in ``llm/prompts/``, one per step and language.

``<step>.<version>.<language>.txt`` holds a ``[system]`` and a ``[user]`` section with ``$placeholders``
(``string.Template``: the JSON in a prompt needs no escaping, and a missing value is an error, not a silent
blank). A new wording is a new version file, so logs and answers can be traced to the prompt that made them.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from string import Template

from roadmap_agent.domain.models import Language

PROMPT_VERSION = "v3"  # v3: review edits of every kind (known, order, level, resources, projects, a date)
SECTION = re.compile(r"^\[(system|user)\]\s*$", re.MULTILINE)

Message = dict[str, str]


@cache
def template(name: str, language: Language, version: str = PROMPT_VERSION) -> dict[str, Template]:
    """The sections of ``name`` (e.g. ``intent_analysis``) in ``language``, parsed once."""
    text = (resources.files("roadmap_agent.llm") / "prompts" / f"{name}.{version}.{language}.txt").read_text(
        encoding="utf-8")
    parts = SECTION.split(text)[1:]  # [role, body, role, body, ...]
    return {role: Template(body.strip()) for role, body in zip(parts[::2], parts[1::2], strict=True)}


def render(name: str, language: Language, **values: str) -> list[Message]:
    """Chat messages for ``name`` with ``values`` filled in (system first, when the template has one)."""
    sections = template(name, language)
    return [{"role": role, "content": sections[role].substitute(values)}
            for role in ("system", "user") if role in sections]
