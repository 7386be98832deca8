"""Commands for whoever runs the service: ``serve``, ``worker``, ``check``, ``migrate`` and ``users``."""

from __future__ import annotations

import json
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Annotated, Any

import typer

from roadmap_agent.cli.common import EXIT_OK, EXIT_USAGE, Work, err, fail, load_settings, out, run, run_command, write

if TYPE_CHECKING:
    from roadmap_agent.cli.common import Store
    from roadmap_agent.settings import Settings

users_app = typer.Typer(help="Users and API keys: create, list, revoke.",
                        no_args_is_help=True, rich_markup_mode=None)


def serve(host: Annotated[str | None, typer.Option(metavar="ADDRESS", show_default="ROADMAP_AGENT_HOST or 127.0.0.1",
                                                   help="Bind address.")] = None,
          port: Annotated[int | None, typer.Option(metavar="PORT", show_default="ROADMAP_AGENT_PORT or 8000",
                                                   help="Port.")] = None,
          workers: Annotated[int, typer.Option(min=1, max=64, metavar="N", help=(
              "API processes on this address (server mode with the run queue; about one per core)."))] = 1) -> None:
    """Run the web app and the HTTP API (OpenAPI docs at /docs)."""
    import uvicorn

    from roadmap_agent.api.server import uvicorn_options
    from roadmap_agent.cli.workers import refusal, serve_workers

    settings = load_settings("INFO")
    if (reason := refusal(settings, workers)) is not None:
        raise fail(reason, EXIT_USAGE)
    # Before uvicorn: one clear sentence and exit 1 if the database never comes up (the lifespan would
    # end in a traceback); the lifespan's own wait then answers at its first ping.
    run(_wait_for_database(settings))
    # The protocol-level cap on a WebSocket message; smaller oversize messages get our explanation (routes.py).
    ws_max_size = max(4 * settings.api.ws_max_message_bytes, 64 * 1024)
    bind, listen = host or settings.api.host, port or settings.api.port
    shown_host = f"[{bind}]" if ":" in bind else bind
    options: dict[str, Any] = {"log_level": "warning", "timeout_graceful_shutdown": 10, "ws_max_size": ws_max_size}
    if workers > 1:  # no sign-in link to print: that is the embedded default's, which runs one process
        err().print(f"Serving on http://{shown_host}:{listen} with {workers} API processes (API docs at /docs)",
                    markup=False, highlight=False)
        serve_workers(settings, bind, listen, workers, {**options, "timeout_keep_alive": settings.api.idle_timeout})
        return
    from roadmap_agent.server import create_app
    from roadmap_agent.server_file import connect_url
    from roadmap_agent.web.mount import login_link

    application = create_app(settings)
    if settings.embedded:  # `generate` of this home then runs here (server_file.py): a fast CLI, one runner
        application.state.announce_url = connect_url(bind, listen)
    link = login_link(application, bind, listen)
    err().print(f"Serving on http://{shown_host}:{listen} (API docs at /docs)", markup=False, highlight=False)
    if link:  # like Jupyter: one sign-in for the local user's browser (server mode: the API key form)
        err().print(f"Open the web app: {link} (one-time sign-in link)", markup=False, highlight=False)
    uvicorn.run(application, host=bind, port=listen, **options,
                **uvicorn_options(settings.api))  # header and idle timeouts (api/server.py)


async def _wait_for_database(settings: Settings) -> int:
    from roadmap_agent.cli.common import open_store

    async with open_store(settings):
        return EXIT_OK


def worker(concurrency: Annotated[int | None, typer.Option(
        min=1, max=256, metavar="N", help="Runs executed at once (ROADMAP_AGENT_WORKER_CONCURRENCY, default 4).")]
           = None,
           health_port: Annotated[int | None, typer.Option(
        min=1, max=65535, metavar="PORT", help="Serve /health/live, /health/ready and /metrics on this port "
                                               "(ROADMAP_AGENT_WORKER_HEALTH_PORT; bound on ROADMAP_AGENT_HOST).")]
           = None) -> None:
    """Execute queued runs (server mode); SIGTERM drains gracefully."""
    settings = load_settings("INFO")
    if not settings.uses_queue:
        raise fail("`worker` takes runs from the queue in PostgreSQL: set DATABASE_URL (or POSTGRES_HOST ...). "
                   "On the embedded default, `serve` and `generate` run the workflow themselves.", EXIT_USAGE)
    size = concurrency or settings.worker.concurrency

    async def main() -> int:
        from roadmap_agent.services import open_services
        from roadmap_agent.workflow.health_server import serve_health
        from roadmap_agent.workflow.worker import serve_queue

        # open_services waits for the database (bounded, one log line per attempt), then migrates
        async with open_services(settings, role="worker", queue_pool=size + 4) as services:
            assert services.queue is not None  # noqa: S101 - uses_queue was checked above
            async with AsyncExitStack() as stack:
                if port := health_port or settings.worker.health_port:
                    await stack.enter_async_context(serve_health(services, settings.api.host, port))
                await serve_queue(services.runner, services.queue, settings.worker, size)
        return EXIT_OK

    raise typer.Exit(run(main()))


def migrate() -> None:
    """Create or upgrade the database schema (also done at startup)."""

    async def work(store: Store, _owner: str) -> int:  # open_store waits for the database, then migrates
        err().print(f"[green]✓[/] schema is up to date at {store.database.display_url}")
        return EXIT_OK

    run_command(work, light=True)


def check(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Fail when any configured dependency is not ok, "
                                                          "optional ones (Redis, storage, LLM) included.")] = False,
    timeout: Annotated[float, typer.Option(min=0.5, max=10, metavar="SECONDS",
                                           help="Seconds each login/round-trip step may take.")] = 5.0,
) -> None:
    """Test each dependency and diagnose what fails."""
    from roadmap_agent.infra.check import print_report, run_check

    settings = load_settings()
    report = run_check(settings, strict=strict, step_timeout=timeout)
    if as_json:
        write(json.dumps(report.to_dict(), ensure_ascii=False, indent=2) + "\n")
    else:
        print_report(out(), report)
    raise typer.Exit(report.exit_code)


@users_app.command("create")
def users_create(name: Annotated[str, typer.Argument(metavar="NAME", help="Who the key is for, e.g. alice.")],
                 admin: Annotated[bool, typer.Option("--admin", help="May list every user's tasks.")] = False) -> None:
    """Create a user and print their API key once, on stdout."""

    async def work(store: Store, _owner: str) -> int:
        user, key = await store.users.create_user(name, is_admin=admin)
        write(key + "\n")
        err().print(f"Created user {user.name!r} (id {user.id}{', admin' if admin else ''}). The key above is "
                    "shown only this once: store it now, and send it as 'Authorization: Bearer <key>'.",
                    markup=False)
        return EXIT_OK

    _users(work)


@users_app.command("list")
def users_list() -> None:
    """Users and their keys (prefixes only; keys are never stored)."""

    async def work(store: Store, _owner: str) -> int:
        from rich.table import Table

        table = Table("user id", "name", "admin", "created", "keys (prefix, id, state)")
        for info in await store.users.list_users():
            keys = "\n".join(f"{k.prefix}… {k.id} {'revoked' if k.revoked_at else 'active'}" for k in info.keys)
            table.add_row(info.user.id, info.user.name, "yes" if info.user.is_admin else "",
                          info.created_at.strftime("%Y-%m-%d %H:%M"), keys or "-")
        out().print(table)
        return EXIT_OK

    _users(work)


@users_app.command("revoke-key")
def users_revoke_key(key: Annotated[str, typer.Argument(metavar="KEY",
                                                        help="The key's id or prefix, from `users list`.")]) -> None:
    """Revoke one API key: 401 from now on (running API processes: within ROADMAP_AGENT_KEY_CACHE_TTL s)."""

    async def work(store: Store, _owner: str) -> int:
        info = await store.users.revoke_key(key)
        err().print(f"Revoked key {info.prefix}… (id {info.id}) of user {info.user_id}.")
        return EXIT_OK

    _users(work)


def _users(work: Work) -> None:
    """User administration acts as nobody: no API key is checked (it may be the one being revoked)."""
    run_command(work, light=True, anonymous=True)
