""".env.example documents every setting under the name the service reads, and nothing it does not read."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from roadmap_agent.settings import Settings

ENV_EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"
ASSIGNMENT = re.compile(r"^#? ?([A-Z][A-Z0-9_]*)=", re.MULTILINE)


def _names(part: type[BaseSettings]) -> set[str]:
    """Every environment name ``part`` reads (the first alias stands for its alternatives)."""
    prefix = part.model_config.get("env_prefix", "")
    names = set()
    for field_name, field in part.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseSettings):
            names |= _names(annotation)
            continue
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.add(str(alias.choices[0]))
        else:
            names.add(str(alias) if alias else f"{prefix}{field_name}".upper())
    return names


def test_env_example_names_every_setting() -> None:
    documented = set(ASSIGNMENT.findall(ENV_EXAMPLE.read_text()))
    expected = _names(Settings)
    assert expected - documented == set(), "settings missing from .env.example"
    assert documented - expected == set(), ".env.example names variables the service does not read"
