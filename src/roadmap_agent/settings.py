"""Settings, read from the environment and ``.env`` (pydantic-settings), in nested parts.

Built by ``Settings.load()`` in the CLI and passed to ``create_app(settings)``; there is no module-level
singleton. With no database configured the embedded default is used: SQLite files and exported roadmaps
under ``ROADMAP_AGENT_HOME`` (default ``~/.roadmap-agent``). Server-mode URLs can be given whole
(``DATABASE_URL``, ``REDIS_URL``) or from the parts older deployments used (``POSTGRES_HOST`` ...,
``REDIS_HOST`` ...). Secrets are ``SecretStr`` and URLs are only ever shown through ``redact_url``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, unquote, urlsplit

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from roadmap_agent.redaction import redact_url
from roadmap_agent.server_file import DEFAULT_HOME
from roadmap_agent.steps import CURRICULUM_DESIGN, INTENT_ANALYSIS, ROADMAP_EDIT


def encode_userinfo(url: str) -> str:
    """``url`` with its user and password percent-encoded, so a password holding ``/``, ``#``, ``?`` or ``@``
    that was pasted as is parses the same way everywhere (SQLAlchemy, psycopg, procrastinate, ``urlsplit``).

    The last ``@`` ends the userinfo; an already encoded URL comes back unchanged.
    """
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    userinfo, host = rest.rsplit("@", 1)
    user, colon, password = userinfo.partition(":")
    return f"{scheme}://{_encoded(user)}{colon}{_encoded(password) if colon else ''}@{host}"


def _encoded(part: str) -> str:
    return quote(unquote(part), safe="")


def url_password(url: str | None) -> str | None:
    return unquote(urlsplit(url).password or "") or None if url else None


def _config(prefix: str) -> SettingsConfigDict:
    # Validation errors never echo input values: they may be secrets.
    return SettingsConfigDict(env_prefix=prefix, env_file=".env", extra="ignore", populate_by_name=True,
                              hide_input_in_errors=True)


class DatabaseSettings(BaseSettings):
    """Tasks, roadmaps and the event log. Empty URL and no POSTGRES_HOST means embedded SQLite."""

    model_config = _config("DB_")

    url: SecretStr | None = Field(default=None, validation_alias=AliasChoices("DATABASE_URL", "DB_URL"))
    postgres_host: str | None = Field(default=None, validation_alias="POSTGRES_HOST")
    postgres_port: int = Field(default=5432, validation_alias="POSTGRES_PORT")
    postgres_user: str = Field(default="postgres", validation_alias="POSTGRES_USER")
    postgres_password: SecretStr = Field(default=SecretStr(""), validation_alias="POSTGRES_PASSWORD")
    postgres_db: str = Field(default="roadmap_agent", validation_alias="POSTGRES_DB")
    # psycopg's default connect timeout is 130 s (the old deployment's hang); ours is short and explicit.
    connect_timeout: int = Field(default=5, ge=1, description="libpq connect_timeout, seconds.")
    # TCP keepalive finds a peer that vanished (power loss, NAT/firewall drop) on an idle connection:
    # first probe after 30 s idle, then every 10 s, dead after 3 misses (~60 s) instead of the kernel's ~2 h.
    keepalives_idle: int = 30
    keepalives_interval: int = 10
    keepalives_count: int = 3
    # Unacknowledged data for this long (a blackholed network mid-query) closes the socket (Linux only).
    tcp_user_timeout_ms: int = 30_000
    # Server-side guards: a runaway statement, and a transaction left open by a stuck client.
    statement_timeout_ms: int = 15_000
    idle_in_transaction_timeout_ms: int = 5_000
    application_name: str = "roadmap-agent"
    # Client-side deadline on every operation: the only thing that ends a wait on a *hung* server
    # (SIGSTOPped, kernel still ACKs), which keepalive and tcp_user_timeout cannot see.
    operation_timeout: float = Field(default=10.0, gt=0)
    pool_size: int = Field(default=10, ge=1)
    pool_max_overflow: int = Field(default=5, ge=0)
    pool_timeout: float = Field(default=5.0, gt=0, description="Seconds to wait for a pooled connection.")
    pool_max_waiting: int = Field(default=100, ge=0, description="Callers allowed to queue for a connection.")
    # Recycle before typical server/proxy idle kills (pgbouncer server_idle_timeout 600 s, cloud LBs 350 s).
    pool_recycle: int = 300
    checkpoint_pool_size: int = Field(default=10, ge=1)
    pgbouncer: bool = Field(default=False, description="Disable prepared statements (transaction pooling).")
    sqlite_busy_timeout: float = 10.0

    def server_url(self) -> str | None:
        """The PostgreSQL URL (with password), or None in embedded mode."""
        if self.url is not None and self.url.get_secret_value():
            return encode_userinfo(self.url.get_secret_value())
        if self.postgres_host:
            password = quote(self.postgres_password.get_secret_value(), safe="")
            auth = f"{quote(self.postgres_user, safe='')}:{password}" if password else quote(self.postgres_user)
            return (f"postgresql+psycopg://{auth}@{self.postgres_host}:{self.postgres_port}/"
                    f"{quote(self.postgres_db, safe='')}")
        return None


class RedisSettings(BaseSettings):
    """Cross-process event fan-out (server mode). Unset means in-process fan-out."""

    model_config = _config("REDIS_")

    url: SecretStr | None = Field(default=None, validation_alias=AliasChoices("REDIS_URL"))
    host: str | None = None
    port: int = 6379
    password: SecretStr = SecretStr("")
    db: int = 0
    # redis-py's defaults (5 s socket timeouts, 10 retries) make a hung Redis cost a caller ~15 s.
    socket_connect_timeout: float = 2.0
    socket_timeout: float = 2.0
    health_check_interval: int = 15
    retries: int = Field(default=2, ge=0)
    # Publishing is best effort behind the durable log: never wait longer than this for Redis.
    publish_timeout: float = Field(default=0.25, gt=0)
    breaker_failures: int = Field(default=3, ge=1, description="Consecutive failures that open the breaker.")
    breaker_reset: float = Field(default=5.0, gt=0, description="Seconds before a half-open retry.")

    def server_url(self) -> str | None:
        if self.url is not None and self.url.get_secret_value():
            return encode_userinfo(self.url.get_secret_value())
        if self.host:
            secret = self.password.get_secret_value()
            auth = f":{quote(secret, safe='')}@" if secret else ""
            return f"redis://{auth}{self.host}:{self.port}/{self.db}"
        return None


class StorageSettings(BaseSettings):
    """Where exported roadmaps go: a local folder by default, S3-compatible when S3_BUCKET is set."""

    model_config = _config("S3_")

    endpoint_url: str | None = None
    bucket: str | None = None
    prefix: str = "roadmap-agent/"
    local_dir: Path | None = Field(default=None, validation_alias="ROADMAP_AGENT_ARTIFACTS_DIR")
    access_key_id: str | None = Field(default=None, validation_alias="AWS_ACCESS_KEY_ID")
    secret_access_key: SecretStr | None = Field(default=None, validation_alias="AWS_SECRET_ACCESS_KEY")
    region: str = Field(default="us-east-1", validation_alias="AWS_DEFAULT_REGION")
    connect_timeout: float = 3.0
    read_timeout: float = 10.0
    max_attempts: int = Field(default=2, ge=1)


class LLMSettings(BaseSettings):
    """An OpenAI-compatible model; unset means the offline planner (which also takes over when the model fails)."""

    model_config = _config("LLM_")

    base_url: str | None = None
    api_key: SecretStr | None = None
    model: str | None = None
    # One model per step if wanted (a small fast one for intent analysis, a strong one for the curriculum).
    model_intent: str | None = None
    model_curriculum: str | None = None
    model_edit: str | None = None
    connect_timeout: float = Field(default=5.0, gt=0)
    read_timeout: float = Field(default=60.0, gt=0, description="Seconds to wait for the model's answer.")
    # Whole deadline of one request, retries and backoff included: a hung connection costs no more than this.
    call_timeout: float = Field(default=90.0, gt=0)
    # All model work for one step (repair rounds included); then the offline planner answers instead. Capped
    # below ROADMAP_AGENT_STEP_TIMEOUT so the fallback always has time.
    step_timeout: float = Field(default=100.0, gt=0)
    max_retries: int = Field(default=2, ge=0, le=10, description="Retries on 429, 5xx, timeouts, connection errors.")
    retry_base_delay: float = Field(default=0.5, ge=0)
    retry_max_delay: float = Field(default=8.0, ge=0, description="Longest backoff, Retry-After included.")
    repair_attempts: int = Field(default=2, ge=0, le=5, description="Asks to correct invalid JSON before giving up.")
    response_format: Literal["auto", "json_schema", "json_object", "none"] = "auto"
    max_tokens: int | None = Field(default=None, ge=1)
    cost_per_1k_input: float | None = Field(default=None, ge=0, description="Price of 1000 prompt tokens.")
    cost_per_1k_output: float | None = Field(default=None, ge=0, description="Price of 1000 completion tokens.")
    # Consecutive failed steps that make the planner skip the model for breaker_reset seconds.
    breaker_failures: int = Field(default=3, ge=1)
    breaker_reset: float = Field(default=60.0, gt=0)
    probe_interval: float = Field(default=30.0, gt=0, description="Seconds between health pings of GET /models.")

    @property
    def enabled(self) -> bool:
        return bool(self.base_url and self.model)

    def model_for(self, step: str) -> str:
        """The model for ``step`` (intent_analysis, curriculum_design, roadmap_edit)."""
        chosen = {INTENT_ANALYSIS: self.model_intent, CURRICULUM_DESIGN: self.model_curriculum,
                  ROADMAP_EDIT: self.model_edit}.get(step)
        return chosen or self.model or ""


class ResilienceSettings(BaseSettings):
    """Bounded timeouts and retry budgets."""

    model_config = _config("ROADMAP_AGENT_")

    max_fix_rounds: int = Field(default=3, ge=0, le=10)
    # Review rounds a task may take (each rejection starts one more); in the last one only approval is accepted.
    max_review_rounds: int = Field(default=10, ge=1, le=100)
    step_timeout: float = Field(default=120.0, gt=0, description="Deadline for one workflow step.")
    # A database call inside a step is retried on transient unavailability: this many attempts, jittered
    # exponential backoff capped at step_db_max_backoff s. Past that the run is handed back to the queue
    # (worker mode) or the task ends failed with the reason (in-process; `retry` continues it).
    step_db_attempts: int = Field(default=4, ge=1, le=20)
    step_db_max_backoff: float = Field(default=2.0, gt=0)
    # Debug/demo aid: sleep this long before each step so progress can be watched (and crashes injected).
    step_delay: float = Field(default=0.0, ge=0, le=60)
    event_poll_interval: float = Field(default=1.0, gt=0, description="Subscribers re-read the event log this often.")
    # Startup: wait for the database 0.5, 1, 2, 4, 5, 5 ... s (+ jitter), 10 attempts (~35 s) before giving up.
    startup_attempts: int = Field(default=10, ge=1)
    startup_base_delay: float = Field(default=0.5, gt=0)
    startup_max_delay: float = Field(default=5.0, gt=0)
    probe_interval: float = Field(default=1.0, gt=0, description="Seconds between health probes.")
    probe_timeout: float = Field(default=1.0, gt=0, description="A probe slower than this counts as down.")
    # Embedded: readiness reports the data folder's disk "down" under this much free space (runs cannot save).
    min_free_mb: int = Field(default=50, ge=0)
    # "none" is the emergency mode: runs without persistence, no human review, no crash recovery. Loud.
    checkpointer: Literal["auto", "none"] = "auto"


API_QUEUE_POOL = 3  # connections an API (or CLI) process keeps to the run queue; a worker: concurrency + 4


class WorkerSettings(BaseSettings):
    """How runs are executed: in the process that accepted them, or by ``roadmap-agent worker`` processes.

    With the queue (the default on PostgreSQL) API processes only accept and read; workers take runs from a
    PostgreSQL job queue (procrastinate), heartbeat every ``heartbeat`` seconds, and a run whose worker has
    been silent for ``stalled_after`` seconds is taken over by another worker from its last checkpoint.
    """

    model_config = _config("ROADMAP_AGENT_WORKER_")

    # auto: the queue on PostgreSQL, in-process on the embedded SQLite default.
    execution: Literal["auto", "inprocess", "queue"] = Field(
        default="auto", validation_alias=AliasChoices("ROADMAP_AGENT_EXECUTION", "ROADMAP_AGENT_WORKER_EXECUTION"))
    concurrency: int = Field(default=4, ge=1, le=256, description="Runs one worker process executes at once.")
    heartbeat: float = Field(default=1.0, gt=0, description="Seconds between a worker's heartbeats.")
    # kill -9 -> takeover in about stalled_after + sweep_interval + poll_interval (~6 s with the defaults).
    stalled_after: float = Field(default=4.0, gt=0, description="Silence after which a worker's runs are taken over.")
    sweep_interval: float = Field(default=1.0, gt=0, description="Seconds between checks for stalled or orphaned runs.")
    poll_interval: float = Field(default=0.5, gt=0, description="Seconds between queue polls (NOTIFY wakes sooner).")
    grace: float = Field(default=20.0, ge=0, description="On SIGTERM, seconds runs may take to finish before they "
                                                          "are handed back to the queue.")
    # A run that could not reach a dependency is retried by the queue this many times (jittered backoff up to
    # max_backoff seconds) before its task ends failed.
    max_attempts: int = Field(default=8, ge=1, le=100)
    max_backoff: float = Field(default=30.0, gt=0)
    # A task accepted but never queued (the API died between the two, or the queue insert failed) is queued
    # by a worker after this many seconds.
    orphan_after: float = Field(default=5.0, gt=0)
    # Port of the worker's own /health/live, /health/ready and /metrics (bound on ROADMAP_AGENT_HOST); unset: none.
    health_port: int | None = Field(default=None, ge=1, le=65535)


class ApiSettings(BaseSettings):
    """The HTTP API: binding, what the CLI sends, and the limits that keep hostile input harmless."""

    model_config = _config("ROADMAP_AGENT_")

    host: str = "127.0.0.1"
    port: int = 8000
    api_key: SecretStr | None = None
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    metrics_public: bool = Field(default=True, description="false: /metrics needs an API key like /api/v1.")
    # Token bucket per API key on POST /api/v1/roadmaps (in memory, per process): a burst, then a steady rate.
    create_burst: int = Field(default=10, ge=1)
    create_per_minute: float = Field(default=30.0, gt=0)
    # The WebSocket only sends; a client that talks is closed past these limits.
    ws_max_message_bytes: int = Field(default=4096, ge=1)
    ws_max_messages_per_minute: int = Field(default=30, ge=0)
    # Text and page limits; they can only tighten the hard caps of the API schema (2000 characters, 100 items).
    max_goal_chars: int = Field(default=2000, ge=20, le=2000)
    max_feedback_chars: int = Field(default=2000, ge=20, le=2000)
    max_page_size: int = Field(default=100, ge=1, le=100)
    # Slow clients (serve): seconds to finish a request's headers, and to send the next request on a kept-alive
    # connection, before the connection is closed.
    header_timeout: float = Field(default=10.0, gt=0)
    idle_timeout: float = Field(default=5.0, gt=0)
    # Concurrent event streams (SSE + WebSocket) per API key and per process; past them: 429 / close 1013.
    max_streams_per_key: int = Field(default=20, ge=1)
    max_streams: int = Field(default=2000, ge=1, description="Event streams one API process serves at once.")
    # Web sign-in (api/sessions.py): signs the session cookies; unset = a file in ROADMAP_AGENT_HOME (embedded)
    # or a random one per process (server mode: set it so every API process accepts the same cookies).
    session_secret: SecretStr | None = None
    session_hours: float = Field(default=12.0, gt=0, le=24 * 30)
    # Seconds an API key found in the database is remembered per process (store/key_cache.py); 0 = off. A key
    # revoked by another process (`users revoke-key`, another replica) still works here for at most this long.
    key_cache_ttl: float = Field(default=5.0, ge=0, le=300)


# Published in docker-compose.dev.yml, devservices defaults, tutorials: never acceptable in production.
KNOWN_DEV_SECRETS = frozenset({"roadmap-dev", "roadmap-dev-secret", "postgres", "password", "changeme", "secret",
                               "admin", "minioadmin"})


class Settings(BaseSettings):
    """Everything the service reads from its environment."""

    # Validation errors never echo input values: they may be secrets.
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True,
                                      hide_input_in_errors=True)

    env: Literal["development", "production"] = Field(default="development", validation_alias="ROADMAP_AGENT_ENV")
    home: Path = Field(default=DEFAULT_HOME, validation_alias="ROADMAP_AGENT_HOME")
    log_format: Literal["json", "console", "auto"] = Field(default="auto", validation_alias="LOG_FORMAT")
    log_level: str = Field(default="INFO", validation_alias="LOG_LEVEL")
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    resilience: ResilienceSettings = Field(default_factory=ResilienceSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)

    @model_validator(mode="after")
    def _queue_needs_postgres(self) -> Settings:
        if self.worker.execution == "queue" and self.embedded:
            raise ValueError("ROADMAP_AGENT_EXECUTION=queue needs PostgreSQL (DATABASE_URL or POSTGRES_HOST): "
                             "worker processes share runs through it. Use auto or inprocess on the embedded "
                             "SQLite default.")
        return self

    @model_validator(mode="after")
    def _no_dev_secrets_in_production(self) -> Settings:
        if self.env != "production":
            return self
        for variable, value in self._secrets():
            if value and value.strip().lower() in KNOWN_DEV_SECRETS:
                raise ValueError(f"ROADMAP_AGENT_ENV=production refuses the well-known development secret in "
                                 f"{variable}; set a strong, unique value (the value is not shown).")
        return self

    def _secrets(self) -> list[tuple[str, str | None]]:
        """(variable, secret value) for every secret setting, passwords inside URLs included."""
        def plain(value: SecretStr | None) -> str | None:
            return value.get_secret_value() if value is not None else None

        return [("DATABASE_URL", url_password(self.database.server_url() if self.database.url else None)),
                ("POSTGRES_PASSWORD", plain(self.database.postgres_password)),
                ("REDIS_URL", url_password(self.redis.server_url() if self.redis.url else None)),
                ("REDIS_PASSWORD", plain(self.redis.password)),
                ("AWS_SECRET_ACCESS_KEY", plain(self.storage.secret_access_key)),
                ("LLM_API_KEY", plain(self.llm.api_key)), ("ROADMAP_AGENT_API_KEY", plain(self.api.api_key)),
                ("ROADMAP_AGENT_SESSION_SECRET", plain(self.api.session_secret))]

    @classmethod
    def load(cls, env_file: Path | str | None = ".env", **overrides: Any) -> Settings:
        """Read every part from the environment and ``env_file`` (missing file is fine)."""
        parts: dict[str, type[BaseSettings]] = {
            "database": DatabaseSettings, "redis": RedisSettings, "storage": StorageSettings,
            "llm": LLMSettings, "resilience": ResilienceSettings, "worker": WorkerSettings,
            "api": ApiSettings,
        }
        values: dict[str, Any] = {name: part(_env_file=env_file) for name, part in parts.items()}
        values.update(overrides)
        return cls(_env_file=env_file, **values)

    @property
    def data_dir(self) -> Path:
        return self.home.expanduser()

    @property
    def embedded(self) -> bool:
        return self.database.server_url() is None

    @property
    def uses_queue(self) -> bool:
        """Runs go through the PostgreSQL job queue to ``roadmap-agent worker`` processes."""
        if self.worker.execution == "auto":
            return not self.embedded
        return self.worker.execution == "queue"

    def database_url(self) -> str:
        return self.database.server_url() or f"sqlite+aiosqlite:///{self.data_dir / 'roadmap-agent.db'}"

    def checkpoint_path(self) -> Path:
        return self.data_dir / "checkpoints.db"

    def api_key_file(self) -> Path:
        """Embedded mode: the local user's API key, created on first run (mode 0600)."""
        return self.data_dir / "api-key"

    def artifacts_dir(self) -> Path:
        return (self.storage.local_dir or self.data_dir / "artifacts").expanduser()

    def describe(self) -> dict[str, Any]:
        """A secret-free summary for logs and ``check``."""
        redis_url = self.redis.server_url()
        return {
            "mode": "embedded" if self.embedded else "server",
            "database": redact_url(self.database_url()),
            "redis": redact_url(redis_url) if redis_url else "in-process",
            "storage": f"s3://{self.storage.bucket}/{self.storage.prefix}" if self.storage.bucket
            else str(self.artifacts_dir()),
            "planner": f"llm:{self.llm.model} (offline fallback)" if self.llm.enabled else "offline",
            "execution": "queue (roadmap-agent worker)" if self.uses_queue else "in-process",
        }

