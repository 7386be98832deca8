"""The diagnosis table: a failed step's error, classified, becomes a sentence saying what is wrong and what to do.

Which step failed tells a firewall (TCP connect times out) from a hung server (TCP connects, the protocol never
answers); the error text tells a wrong password from a missing database, a missing bucket or TLS trouble.
"""

from __future__ import annotations

import re
import socket
from http import HTTPStatus
from typing import Any

# -- classification --------------------------------------------------------------------------------

# Order matters: the first matching rule wins. Network words come first (a refused connection message
# names a port, which must not be read as an HTTP status); "timeout" comes last.
RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple((kind, re.compile(pattern, re.I)) for kind, pattern in (
    ("refused", r"connection refused|error 111\b|errno 111\b|connect call failed|could not connect to the endpoint"),
    ("unreachable", r"no route to host|network is unreachable|host is unreachable|errno 11[03]\b"),
    ("resolve", r"name or service not known|temporary failure in name resolution|nodename nor servname|"
                r"failed to resolve host|could not translate host name|no address associated|gaierror"),
    ("tls_required", r"ssl connection is required|no pg_hba\.conf entry.*ssl off|ssl (is )?required by"),
    ("tls_unsupported", r"server does not support ssl|wrong version number|ssl.*handshake"),
    ("no_password", r"no password supplied|fe_sendauth|noauth|authentication required|"
                    r"hello must be called with the client already authenticated"),
    ("auth", r"password authentication failed|wrongpass|invalid username-password pair|invalidaccesskeyid|"
             r"signaturedoesnotmatch|accessdenied|invalid.{0,10}api.?key|incorrect api key|http 40[13]\b"),
    ("pg_hba", r"no pg_hba\.conf entry"),
    ("wrong_protocol", r"invalid response to ssl negotiation|expected authentication request from server|"
                       r"protocol error|lost synchronization with server"),
    ("no_database", r"database \".+\" does not exist"),
    ("pgbouncer_options", r"unsupported startup parameter"),
    ("too_many_clients", r"too many clients|remaining connection slots|max number of clients"),
    ("starting", r"the database system is (starting up|shutting down|in recovery)|loading the dataset"),
    ("redis_db", r"db index is out of range"),
    ("no_bucket", r"nosuchbucket|specified bucket does not exist"),
    ("not_found", r"http 404\b"),
    ("no_credentials", r"unable to locate credentials|nocredentialserror"),
    ("permission", r"permission denied|read-only file system|errno 13\b|errno 30\b|not writable"),
    ("corrupt", r"file is not a database|malformed"),
    ("timeout", r"timeout|timed out|no answer within"),
))

EXCEPTION_KINDS: tuple[tuple[type[BaseException], str], ...] = (
    (ConnectionRefusedError, "refused"), (socket.gaierror, "resolve"), (PermissionError, "permission"),
    (TimeoutError, "timeout"),
)

_AUTH_HINTS = {
    "postgres": "Check the password in DATABASE_URL (or POSTGRES_PASSWORD) and the user (POSTGRES_USER); "
                "special characters in a URL must be percent-encoded.",
    "redis": "Check REDIS_PASSWORD or the password in REDIS_URL (redis://:PASSWORD@host:port/0, or "
             "redis://USER:PASSWORD@... with ACL users) against the server's requirepass / ACL.",
    "s3": "Check AWS_ACCESS_KEY_ID (InvalidAccessKeyId: unknown key id) and AWS_SECRET_ACCESS_KEY "
          "(SignatureDoesNotMatch: wrong secret), and the bucket policy.",
    "llm": "Check LLM_API_KEY (sent in the Authorization header).",
}

HINTS: dict[str, tuple[str, str]] = {
    "refused": ("connection refused: nothing listens on {address} (port closed)",
                "Start {service}, or fix the host/port ({vars}). In Docker, publish the port; a server bound "
                "to 127.0.0.1 only is not reachable from other hosts."),
    "unreachable": ("no route to {address}: the host is down or the network is unreachable",
                    "Check the host name/IP in {vars}, the VPN or network, and that the host is up."),
    "filtered": ("the TCP connect to {address} got no answer within {timeout:g} s: host unreachable or the port is "
                 "filtered", "A firewall or security group is probably dropping packets: allow inbound TCP {port} "
                 "from this machine, and check the host/IP in {vars}."),
    "resolve": ("the host name {host} does not resolve",
                "Check the spelling of the host in {vars} and DNS (/etc/resolv.conf); in Docker Compose use the "
                "service name."),
    "dns_timeout": ("the DNS lookup of {host} did not finish within {timeout:g} s",
                    "The DNS server is slow or unreachable: check /etc/resolv.conf, or use an IP address."),
    "hung": ("the server accepted the connection but did not answer within {timeout:g} s: overloaded or stopped "
             "(e.g. SIGSTOP, swap, long GC)", "Look at {service} on {address}: process state, CPU, memory/swap "
             "and its log; restart it if it is stuck."),
    "tls_required": ("the server requires TLS (SSL) but the client connected without it",
                     "Add sslmode=require to DATABASE_URL (postgresql://...?sslmode=require), or verify-full with "
                     "sslrootcert=... for a certificate check."),
    "tls_unsupported": ("TLS mismatch: the client asked for TLS but the server does not offer it",
                        "Enable TLS on the server, or drop sslmode=require / use redis:// instead of rediss:// "
                        "on a trusted network."),
    "no_password": ("no password given, but the server requires one", "Set the password."),
    "auth": ("wrong password: {service} rejected the credentials", "Check the credentials ({vars})."),
    "wrong_protocol": ("something answers on {address}, but it does not speak the {service} protocol",
                       "Check the port ({vars}): another service, an HTTP proxy or a load balancer listens there."),
    "pg_hba": ("the server's pg_hba.conf has no entry allowing this client address, user and database",
               "Add a host line for this client to pg_hba.conf and reload PostgreSQL (SELECT pg_reload_conf())."),
    "no_database": ("the database {database} does not exist on {address}",
                    "Create it: createdb -h {host} -p {port} -U {user} {database} (or CREATE DATABASE "
                    "\"{database}\"), then run roadmap-agent migrate."),
    "pgbouncer_options": ("the server (pgbouncer?) rejects the startup parameter 'options' (statement_timeout)",
                          "In pgbouncer.ini set ignore_startup_parameters = options, and set DB_PGBOUNCER=true."),
    "too_many_clients": ("the server has no free connection slots (max_connections reached)",
                         "Lower DB_POOL_SIZE / DB_POOL_MAX_OVERFLOW / DB_CHECKPOINT_POOL_SIZE or the number of "
                         "processes, raise max_connections, or put pgbouncer in front (DB_PGBOUNCER=true)."),
    "starting": ("the server is starting up, shutting down or loading its data", "Wait a moment and run the check "
                 "again."),
    "redis_db": ("the Redis database number is out of range",
                 "Use a database below the server's `databases` setting (16 by default): REDIS_DB or the /N in "
                 "REDIS_URL."),
    "no_bucket": ("the bucket {database} does not exist", "Create it (aws s3 mb s3://{database} --endpoint-url "
                  "...) or fix S3_BUCKET."),
    "not_found": ("{address} answered 404: wrong URL", "Check {vars}."),
    "no_credentials": ("no S3 credentials found", "Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY."),
    "permission": ("permission denied on {address}",
                   "Make the folder writable by this user, or point {vars} at another folder."),
    "corrupt": ("{address} is not a readable SQLite database", "Restore it from a backup or move it away."),
    "unknown": ("{service} failed: see the step detail", "Run with LOG_LEVEL=DEBUG for more detail."),
}

_OVERRIDES: dict[tuple[str, str], tuple[str, str]] = {
    ("s3", "auth"): ("wrong access key or secret: S3 rejected the credentials", _AUTH_HINTS["s3"]),
    ("s3", "not_found"): HINTS["no_bucket"],
    ("llm", "not_found"): ("{address} answered 404 Not Found: the base URL is probably missing /v1",
                           "LLM_BASE_URL is the API root, e.g. https://api.openai.com/v1 or http://host:11434/v1."),
    ("llm", "auth"): ("wrong API key: the LLM server rejected it", _AUTH_HINTS["llm"]),
    ("local", "hung"): ("{address} did not answer within {timeout:g} s", "A network file system may be hanging: "
                        "check the mount, or point {vars} at a local folder."),
}


def error_kind(error: BaseException | str) -> str:
    if isinstance(error, BaseException):
        for exc_type, kind in EXCEPTION_KINDS:
            if isinstance(error, exc_type):
                return kind
        error = error_text(error)
    return next((kind for kind, pattern in RULES if pattern.search(error)), "unknown")


def classify(error: BaseException | str, *, step: str, service: str, **context: Any) -> tuple[str, str]:
    """(diagnosis, hint) for a failed step. ``service`` is postgres | redis | s3 | llm | local."""
    kind = error_kind(error)
    if kind == "timeout":
        kind = {"dns": "dns_timeout", "tcp": "filtered"}.get(step, "hung")
    diagnosis, hint = _OVERRIDES.get((service, kind)) or HINTS[kind]
    if kind in ("auth", "no_password") and service in _AUTH_HINTS:
        hint = _AUTH_HINTS[service]
    values = {"address": "the server", "host": "the host", "port": "the port", "timeout": 0.0, "vars": "the settings",
              "database": "?", "user": "<user>", "service": _SERVICE_NAMES.get(service, service), **context}
    return diagnosis.format(**values), hint.format(**values)


_SERVICE_NAMES = {"postgres": "PostgreSQL", "redis": "Redis", "s3": "S3", "llm": "the LLM server",
                  "local": "the file system"}


def error_text(exc: BaseException) -> str:
    """One line describing ``exc`` (not yet redacted)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:  # botocore ClientError
        code = str(response["Error"].get("Code", "error"))
        message = str(response["Error"].get("Message") or "")
        if code.isdigit():
            return f"HTTP {code} {message or HTTPStatus(int(code)).phrase}"
        return f"{code}: {message}".rstrip(": ")
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__

