"""``roadmap-agent check`` without servers: the classifier on real driver messages, redaction, the exit rule."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from roadmap_agent.infra.check import (
    CheckReport,
    DependencyReport,
    Limits,
    StepResult,
    Steps,
    classify,
    endpoint_of,
    error_text,
    stops,
)
from roadmap_agent.redaction import redact_text

PG_AT = 'connection failed: connection to server at "10.0.0.5", port 5432 failed: '
# Messages as psycopg 3.3, redis-py 8.1, botocore 1.44 and httpx 0.28 word them (captured from real servers).
CASES = [
    ("postgres", "login", PG_AT + 'FATAL:  password authentication failed for user "app"', "wrong password",
     "DATABASE_URL"),
    ("postgres", "login", PG_AT + "Connection refused\n\tIs the server running on that host and accepting TCP/IP "
     "connections?", "connection refused", "Start PostgreSQL"),
    ("postgres", "tcp", ConnectionRefusedError(111, "Connect call failed ('10.0.0.5', 5432)"), "port closed",
     "fix the host/port"),
    ("postgres", "tcp", TimeoutError(), "host unreachable or the port is filtered", "security group"),
    ("postgres", "login", "connection timeout expired", "accepted the connection but did not answer", "stuck"),
    ("postgres", "login", PG_AT + 'FATAL:  database "roadmap" does not exist', "database roadmap does not exist",
     "createdb -h 10.0.0.5 -p 5432"),
    ("postgres", "login", PG_AT + "FATAL:  SSL connection is required. Please specify SSL options and retry.",
     "requires TLS", "sslmode=require"),
    ("postgres", "login", PG_AT + 'FATAL:  no pg_hba.conf entry for host "10.0.0.9", user "app", database '
     '"roadmap", SSL off', "requires TLS", "sslmode=require"),
    ("postgres", "login", PG_AT + 'FATAL:  no pg_hba.conf entry for host "10.0.0.9", user "app", database '
     '"roadmap", SSL encryption', "pg_hba.conf", "pg_reload_conf"),
    ("postgres", "login", PG_AT + "server does not support SSL, but SSL was required", "TLS mismatch", "sslmode"),
    ("postgres", "login", PG_AT + "FATAL:  sorry, too many clients already", "max_connections", "DB_POOL_SIZE"),
    ("postgres", "dns", socket.gaierror(-2, "Name or service not known"), "does not resolve", "DNS"),
    ("postgres", "login", PG_AT + "received invalid response to SSL negotiation: H", "does not speak the PostgreSQL",
     "HTTP proxy"),
    ("postgres", "login", "failed to resolve host 'db.internal': [Errno -2] Name or service not known",
     "does not resolve", "DNS"),
    ("redis", "ping", "AuthenticationError: invalid username-password pair or user is disabled.", "wrong password",
     "REDIS_PASSWORD"),
    ("redis", "ping", "WRONGPASS invalid username-password pair or user is disabled.", "wrong password", "REDIS_URL"),
    ("redis", "ping", "NOAUTH Authentication required.", "requires one", "REDIS_URL"),
    ("redis", "ping", "AuthenticationError: HELLO must be called with the client already authenticated, otherwise "
     "the HELLO AUTH <user> <pass> option can be used", "requires one", "REDIS_URL"),
    ("redis", "ping", "TimeoutError: Timeout reading from 10.0.0.6:6379", "did not answer within", "stuck"),
    ("redis", "ping", "ConnectionError: Error 111 connecting to 10.0.0.6:6379. Connect call failed.",
     "connection refused", "REDIS_URL"),
    ("redis", "ping", "ResponseError: DB index is out of range", "out of range", "REDIS_DB"),
    ("s3", "bucket", "NoSuchBucket: The specified bucket does not exist", "bucket roadmaps does not exist",
     "S3_BUCKET"),
    ("s3", "bucket", "HTTP 404 Not Found", "bucket roadmaps does not exist", "S3_BUCKET"),
    ("s3", "bucket", "InvalidAccessKeyId: The access key ID you provided does not exist in our records.",
     "wrong access key or secret", "AWS_ACCESS_KEY_ID"),
    ("s3", "bucket", "SignatureDoesNotMatch: The request signature we calculated does not match",
     "wrong access key or secret", "AWS_SECRET_ACCESS_KEY"),
    ("s3", "bucket", "HTTP 403 Forbidden", "wrong access key or secret", "bucket policy"),
    ("s3", "bucket", "Could not connect to the endpoint URL: \"http://10.0.0.7:9000/roadmaps\"", "connection refused",
     "S3_ENDPOINT_URL"),
    ("s3", "bucket", "Read timeout on endpoint URL: \"http://10.0.0.7:9000/roadmaps\"", "did not answer", "stuck"),
    ("llm", "models", "HTTP 401 Unauthorized: {\"error\": \"invalid api key\"}", "wrong API key", "LLM_API_KEY"),
    ("llm", "models", "HTTP 404 Not Found", "missing /v1", "LLM_BASE_URL"),
    ("llm", "models", "ReadTimeout", "did not answer", "stuck"),
    ("local", "file", PermissionError(13, "Permission denied"), "permission denied", "writable"),
]


@pytest.mark.parametrize(("service", "step", "error", "diagnosis", "hint"), CASES)
def test_driver_errors_get_a_diagnosis_and_a_hint(service: str, step: str, error: BaseException | str,
                                                  diagnosis: str, hint: str) -> None:
    found_diagnosis, found_hint = classify(error, step=step, service=service, address="10.0.0.5:5432",
                                           host="10.0.0.5", port=5432, timeout=5.0, database="roadmaps"
                                           if service == "s3" else "roadmap", vars=_VARS[service])
    assert diagnosis in found_diagnosis
    assert hint in found_hint


_VARS = {"postgres": "DATABASE_URL", "redis": "REDIS_URL", "s3": "S3_ENDPOINT_URL", "llm": "LLM_BASE_URL",
         "local": "ROADMAP_AGENT_HOME"}


def test_a_timeout_means_a_firewall_at_tcp_and_a_hung_server_after_it() -> None:
    at_tcp, _ = classify(TimeoutError(), step="tcp", service="postgres", address="db:5432", timeout=3.0)
    after, _ = classify(TimeoutError(), step="login", service="postgres", address="db:5432", timeout=5.0)
    at_dns, _ = classify(TimeoutError(), step="dns", service="postgres", host="db", timeout=2.0)
    assert "filtered" in at_tcp
    assert "accepted the connection but did not answer within 5 s" in after
    assert "SIGSTOP" in after
    assert "DNS lookup of db" in at_dns


def test_an_unknown_error_still_gets_a_hint() -> None:
    diagnosis, hint = classify("something odd", step="login", service="postgres")
    assert "PostgreSQL failed" in diagnosis
    assert "LOG_LEVEL=DEBUG" in hint


@pytest.mark.parametrize(("text", "secret"), [
    ("connection to postgresql://app:hunter2-pw@db:5432/x failed", "hunter2-pw"),
    ("invalid dsn: host=db port=5432 user=app password=hunter2-pw dbname=x", "hunter2-pw"),
    ("invalid dsn: host=db password='hunter 2 pw' dbname=x", "hunter 2 pw"),
    ("redis://:hunter2-pw@cache:6379/0 unreachable", "hunter2-pw"),
    ("GET https://llm/v1/models?api_key=sk-live-abcdef123 failed", "sk-live-abcdef123"),
    ("Authorization: Bearer sk-live-abcdef123", "sk-live-abcdef123"),
])
def test_secrets_in_driver_messages_are_redacted(text: str, secret: str) -> None:
    cleaned = redact_text(text)
    assert secret not in cleaned
    assert "***" in cleaned


def test_known_secrets_are_redacted_wherever_they_appear_even_url_encoded() -> None:
    cleaned = redact_text("server said: bad token p@ss/word! and p%40ss%2Fword%21", ("p@ss/word!",))
    assert "p@ss/word!" not in cleaned
    assert "p%40ss%2Fword%21" not in cleaned


def test_redaction_keeps_what_helps() -> None:
    text = 'connection to server at "127.0.0.1", port 5432 failed: FATAL:  password authentication failed'
    assert redact_text(text) == text
    assert redact_text("postgresql://app:pw@db:5432/x") == "postgresql://app:***@db:5432/x"


def test_error_text_of_a_botocore_error_names_the_code() -> None:
    class ClientError(Exception):
        def __init__(self, code: str, message: str) -> None:
            super().__init__(message)
            self.response = {"Error": {"Code": code, "Message": message}}

    assert error_text(ClientError("NoSuchBucket", "The specified bucket does not exist")) == (
        "NoSuchBucket: The specified bucket does not exist")
    assert error_text(ClientError("403", "")) == "HTTP 403 Forbidden"


@pytest.mark.parametrize(("url", "host", "port"), [
    ("postgresql://app:pw@db.example:6432/x", "db.example", 6432),
    ("postgresql+psycopg://app:pw@10.0.0.1/x", "10.0.0.1", 5432),
    ("postgresql://app@h1:5433,h2:5434/x", "h1", 5433),
    ("postgresql:///x?host=/var/run/postgresql", "/var/run/postgresql", 5432),
    ("redis://:pw@[::1]:6380/0", "::1", 6380),
])
def test_endpoints_are_read_from_urls(url: str, host: str, port: int) -> None:
    endpoint = endpoint_of(url, 5432 if url.startswith("postgres") else 6379)
    assert (endpoint.host, endpoint.port) == (host, port)


def _dependency(name: str, required: bool, *steps: StepResult) -> DependencyReport:
    return DependencyReport(name, required, "-", list(steps))


OK = StepResult("ping", True, 1.0, "ok")
WARN = StepResult("pool", True, 1.0, "too many", warning=True)
FAIL = StepResult("ping", False, 1.0, "refused")


@pytest.mark.parametrize(("dependencies", "strict", "code", "status"), [
    ([_dependency("database", True, OK), _dependency("redis", False, OK)], False, 0, "ok"),
    ([_dependency("database", True, OK), _dependency("redis", False, FAIL)], False, 0, "degraded"),
    ([_dependency("database", True, OK), _dependency("redis", False, FAIL)], True, 1, "down"),
    ([_dependency("database", True, FAIL), _dependency("redis", False, OK)], False, 1, "down"),
    ([_dependency("database", True, OK, WARN)], False, 0, "degraded"),
    ([_dependency("database", True, OK, WARN)], True, 1, "down"),
    ([_dependency("llm", False, OK, WARN)], True, 1, "down"),
    ([_dependency("checkpointer", True)], False, 1, "down"),  # no step ran: not proven ok
])
def test_exit_code_needs_required_dependencies_and_strict_needs_all(
        dependencies: list[DependencyReport], strict: bool, code: int, status: str) -> None:
    report = CheckReport("server", strict, dependencies)
    assert report.exit_code == code
    assert report.ok is (code == 0)
    assert report.status == status
    assert report.to_dict()["ok"] is (code == 0)


async def test_a_step_that_never_answers_is_abandoned_at_its_deadline() -> None:
    report = DependencyReport("redis", False, "redis://cache:6379/0")
    steps = Steps(report, "redis", Limits(step_timeout=0.2), address="cache:6379")
    forever = asyncio.Event()
    started = time.monotonic()
    with stops():
        await steps.run("tcp", lambda: asyncio.sleep(0, "connected"), str)
        await steps.run("ping", forever.wait, str)
        raise AssertionError("the sequence goes on after a failed step")
    assert time.monotonic() - started < 1.0
    assert [step.ok for step in report.steps] == [True, False]
    assert report.steps[1].detail == "no answer within 0.2 s"
    assert report.diagnosis is not None and "accepted the connection but did not answer within 0.2 s" in \
        report.diagnosis
    assert report.status == "down"
    forever.set()


async def test_a_failed_step_is_redacted_and_classified() -> None:
    report = DependencyReport("database", True, "postgresql://app:***@db:5432/x")
    steps = Steps(report, "postgres", Limits(("hunter2-pw",), 1.0), address="db:5432")

    async def login() -> None:
        raise RuntimeError("password authentication failed for user app (dsn password=hunter2-pw)")

    with stops():
        await steps.run("login", login, str)
    assert "hunter2-pw" not in report.steps[0].detail
    assert report.diagnosis == "wrong password: PostgreSQL rejected the credentials"


async def test_a_warning_keeps_the_dependency_up_but_degraded() -> None:
    report = DependencyReport("database", True, "-")
    steps = Steps(report, "postgres", Limits(step_timeout=1.0))
    with stops():
        await steps.run("pool", lambda: asyncio.sleep(0, 30), lambda n: f"{n} connections",
                        concern=lambda n: ("too many", "lower it") if n > 20 else None)
    assert report.status == "degraded"
    assert (report.diagnosis, report.hint) == ("too many", "lower it")
