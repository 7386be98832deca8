"""Settings: embedded default, whole URLs or legacy parts, .env files, and secrets that never show."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from roadmap_agent.redaction import redact_url
from roadmap_agent.settings import Settings


def test_embedded_default_lives_under_the_home_folder(isolated_home: Path) -> None:
    settings = Settings.load(env_file=None)
    assert settings.embedded
    assert settings.database_url() == f"sqlite+aiosqlite:///{isolated_home / 'roadmap-agent.db'}"
    assert settings.checkpoint_path() == isolated_home / "checkpoints.db"
    assert settings.artifacts_dir() == isolated_home / "artifacts"
    assert settings.describe()["mode"] == "embedded"


def test_database_url_from_legacy_postgres_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTGRES_HOST", "db.example")
    monkeypatch.setenv("POSTGRES_PORT", "6432")
    monkeypatch.setenv("POSTGRES_USER", "app")
    monkeypatch.setenv("POSTGRES_PASSWORD", "s3cr3t/with@chars")
    monkeypatch.setenv("POSTGRES_DB", "roadmaps")
    settings = Settings.load(env_file=None)
    assert not settings.embedded
    assert settings.database_url() == "postgresql+psycopg://app:s3cr3t%2Fwith%40chars@db.example:6432/roadmaps"
    assert "s3cr3t" not in str(settings.describe()) and "app:***@db.example:6432" in settings.describe()["database"]


def test_whole_urls_win_and_redis_parts_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u:pw@h:5432/d")
    monkeypatch.setenv("POSTGRES_HOST", "ignored")
    monkeypatch.setenv("REDIS_HOST", "cache")
    monkeypatch.setenv("REDIS_PASSWORD", "redispw")
    settings = Settings.load(env_file=None)
    assert settings.database_url() == "postgresql+psycopg://u:pw@h:5432/d"
    assert settings.redis.server_url() == "redis://:redispw@cache:6379/0"
    described = str(settings.describe())
    assert "pw@" not in described and "redispw" not in described


def test_dotenv_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROADMAP_AGENT_HOME")  # the environment would win over the file
    env_file = tmp_path / "custom.env"
    env_file.write_text(f"ROADMAP_AGENT_HOME={tmp_path / 'data'}\nROADMAP_AGENT_MAX_FIX_ROUNDS=1\nLOG_FORMAT=json\n")
    settings = Settings.load(env_file=env_file)
    assert settings.data_dir == tmp_path / "data"
    assert settings.resilience.max_fix_rounds == 1 and settings.log_format == "json"


def test_secrets_are_not_in_reprs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTGRES_HOST", "db")
    monkeypatch.setenv("POSTGRES_PASSWORD", "hunter2")
    monkeypatch.setenv("LLM_API_KEY", "sk-topsecret")
    settings = Settings.load(env_file=None)
    assert "hunter2" not in repr(settings) and "sk-topsecret" not in repr(settings)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://user:pw@host:5432/db", "postgresql://user:***@host:5432/db"),
        ("redis://:pw@host:6379/0", "redis://:***@host:6379/0"),
        ("sqlite+aiosqlite:////tmp/x.db", "sqlite+aiosqlite:////tmp/x.db"),
        ("postgresql://user@host/db", "postgresql://user@host/db"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


@pytest.mark.parametrize(("variable", "value"), [
    ("DATABASE_URL", "postgresql+psycopg://roadmap:roadmap-dev@db:5432/roadmap_agent"),
    ("POSTGRES_PASSWORD", "postgres"),
    ("REDIS_URL", "redis://:changeme@cache:6379/0"),
    ("REDIS_PASSWORD", "password"),
    ("AWS_SECRET_ACCESS_KEY", "roadmap-dev-secret"),
    ("LLM_API_KEY", "changeme"),
])
def test_production_refuses_known_dev_secrets_naming_the_variable_not_the_value(
        monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    assert Settings.load(env_file=None).env == "development"  # fine for local work
    monkeypatch.setenv("ROADMAP_AGENT_ENV", "production")
    if variable == "POSTGRES_PASSWORD":
        monkeypatch.setenv("POSTGRES_HOST", "db.example")
    with pytest.raises(ValidationError) as refused:
        Settings.load(env_file=None)
    message = str(refused.value)
    assert variable in message and "production" in message
    secret = value.split(":")[-1].split("@")[0] if "://" in value else value
    assert secret not in message.replace("ROADMAP_AGENT_ENV=production", "")


def test_production_accepts_strong_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROADMAP_AGENT_ENV", "production")
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://roadmap:Xq7-long-random-3f9a@db:5432/roadmap_agent")
    assert Settings.load(env_file=None).env == "production"
