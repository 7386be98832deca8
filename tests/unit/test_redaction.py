"""Findings 2, 3 and 17: one redaction for every URL and error text shown, credentials in query strings included."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
from pydantic import SecretStr

from roadmap_agent.llm.client import LLMClient
from roadmap_agent.redaction import redact_text, redact_url, shorten
from roadmap_agent.settings import LLMSettings, Settings, url_password

KEY = "sk-live-0123456789abcdefghijklmnopqrstuvwxyzAB"


@pytest.mark.parametrize("url", [
    f"https://gw.example/openai/v1?api-key={KEY}",
    f"https://gw.example/v1?api-version=2024-06-01&api_key={KEY}",
    f"https://gw.example/v1?x-api-key={KEY}#frag",
    f"https://gw.example/v1?access_token={KEY}",
    f"https://s3.example/b/o?X-Amz-Credential=AKIA&X-Amz-Signature={KEY}",
    f"https://gw.example/v1?key={KEY}",
    f"postgresql+psycopg://app:{KEY}@db.example:5432/app",
])
def test_credentials_in_urls_are_hidden_and_the_rest_kept(url: str) -> None:
    shown = redact_url(url)
    assert KEY not in shown and "***" in shown
    assert "example" in shown


def test_harmless_query_parameters_stay() -> None:
    assert redact_url("https://gw.example/v1?api-version=2024-06-01") == "https://gw.example/v1?api-version=2024-06-01"
    assert redact_url("sqlite+aiosqlite:////data/roadmap-agent.db") == "sqlite+aiosqlite:////data/roadmap-agent.db"


@pytest.mark.parametrize("password", ["pa/ss", "pa#ss", "pa?ss", "a/b#c?d@e"])
def test_a_password_that_was_not_percent_encoded_is_hidden_whole(password: str) -> None:
    shown = redact_url(f"postgresql://app:{password}@db.example:5432/app")
    assert shown == "postgresql://app:***@db.example:5432/app"


def test_urls_inside_free_text_are_redacted() -> None:
    text = f"Connection error: POST https://gw.example/v1/chat/completions?api-key={KEY} failed"
    assert KEY not in redact_text(text) and "gw.example" in redact_text(text)


def test_redact_before_cut_leaves_no_prefix_of_a_key() -> None:
    text = "x" * 190 + KEY + " trailing"
    cut = shorten(text, 200, (KEY,))
    assert len(cut) <= 200
    assert not any(KEY[:n] in cut for n in range(4, len(KEY)))


PASSWORD = "s3/cr#t?x@y"  # noqa: S105 - a made-up password with every reserved character


@pytest.mark.parametrize("variable", ["DATABASE_URL", "REDIS_URL"])
def test_a_url_password_with_reserved_characters_is_parsed_and_never_shown(
        variable: str, monkeypatch: pytest.MonkeyPatch) -> None:
    scheme = "postgresql+psycopg" if variable == "DATABASE_URL" else "redis"
    monkeypatch.setenv(variable, f"{scheme}://app:{PASSWORD}@db.example:5432/app")
    settings = Settings.load(env_file=None)
    url = (settings.database if variable == "DATABASE_URL" else settings.redis).server_url()
    assert url is not None
    parts = urlsplit(url)
    assert (parts.hostname, parts.port, parts.path, url_password(url)) == ("db.example", 5432, "/app", PASSWORD)
    shown = json.dumps(settings.describe())
    assert "db.example:5432" in shown
    assert not any(piece in shown for piece in ("s3", "cr#t", "x@y"))
    assert (variable, PASSWORD) in settings._secrets()


def test_the_llm_target_and_its_errors_hide_a_key_in_the_base_url() -> None:
    client = LLMClient(LLMSettings(base_url=f"https://gw.example/v1?api-key={KEY}", model="m",
                                   api_key=SecretStr(KEY)))
    assert KEY not in client.target and "gw.example" in client.target
    echoed = "x" * 190 + KEY
    assert not any(KEY[:n] in client._scrub(echoed) for n in range(4, len(KEY)))
