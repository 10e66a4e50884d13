"""The `jirabot` command line: serve, check, db upgrade, keygen."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence

from bot.settings import Settings, SettingsError, load_settings
from storage.crypto import generate_key

log = logging.getLogger("bot.cli")

EXIT_SETTINGS = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jirabot", description="Jira for Slack, self-hosted.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = sub.add_parser("serve", help="apply migrations, start the scheduler, serve HTTP")
    serve.add_argument("--host", default="0.0.0.0", help="address to bind (default 0.0.0.0)")
    serve.add_argument("--port", type=int, default=None, help="port (default $PORT or 3000)")
    serve.add_argument(
        "--workers", type=int, default=1, metavar="N", help="worker processes sharing the port (default 1)"
    )
    serve.add_argument(
        "--socket-mode",
        action="store_true",
        help="take Slack traffic over Socket Mode (needs SLACK_APP_TOKEN)",
    )
    sub.add_parser("check", help="check settings, database, Slack and Jira reachability")
    db = sub.add_parser("db", help="database commands")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="DB_COMMAND")
    db_sub.add_parser("upgrade", help="apply Alembic migrations to DATABASE_URL")
    sub.add_parser("keygen", help="print a new key for JIRABOT_ENCRYPTION_KEY")
    return parser


def _settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        raise SystemExit(EXIT_SETTINGS) from None


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "keygen":
        print(generate_key())
        return 0
    settings = _settings_or_exit()
    from bot.logs import configure_logging

    configure_logging(settings.log_level, settings.log_format)
    if args.command == "serve":
        return serve(
            settings,
            host=args.host,
            port=args.port,
            socket_mode=args.socket_mode,
            workers=max(1, args.workers),
        )
    if args.command == "check":
        from bot.checks import run_checks

        return asyncio.run(run_checks(settings))
    if args.command == "db" and args.db_command == "upgrade":
        return asyncio.run(_db_upgrade(settings))
    return 2


async def _db_upgrade(settings: Settings) -> int:
    from bot.settings import DEFAULT_SQLITE_PATH
    from storage.db import async_database_url, create_engine
    from storage.migrate import upgrade

    engine = create_engine(async_database_url(settings.database_url, DEFAULT_SQLITE_PATH))
    try:
        before, after = await upgrade(engine)
    finally:
        await engine.dispose()
    print(f"database at revision {after}" + ("" if before == after else f" (was {before or 'empty'})"))
    return 0


UVICORN_OPTIONS = {
    "log_config": None,
    "proxy_headers": True,
    "timeout_graceful_shutdown": 20,
    "lifespan": "on",
}


def serve(settings: Settings, *, host: str, port: int | None, socket_mode: bool, workers: int = 1) -> int:
    import uvicorn

    if socket_mode and settings.slack_app_token is None:
        print("SLACK_APP_TOKEN: required with --socket-mode (an xapp- app-level token)", file=sys.stderr)
        return EXIT_SETTINGS
    if socket_mode and workers > 1:
        print("--workers: Socket Mode runs in one process; drop --workers or --socket-mode", file=sys.stderr)
        return EXIT_SETTINGS
    port = port or int(os.environ.get("PORT") or settings.port)
    # uvicorn stops gracefully on SIGTERM (no new connections, in-flight requests finished, lifespan
    # shutdown stopping the scheduler), then re-raises the signal; this handler makes that a clean exit.
    signal.signal(signal.SIGTERM, lambda *_: None)
    log.info(
        "app.serving", extra={"host": host, "port": port, "socket_mode": socket_mode, "workers": workers}
    )
    if workers > 1:
        return _serve_workers(settings, host=host, port=port, workers=workers)
    from bot.observability.multiprocess import reset_metrics_folder

    reset_metrics_folder()  # before the metrics exist: an earlier run's values must not count
    from bot.web.factory import create_served_app

    server = uvicorn.Server(
        uvicorn.Config(
            create_served_app(settings, socket_mode=socket_mode), host=host, port=port, **UVICORN_OPTIONS
        )
    )
    server.run()
    if not server.started:
        log.error("app.start_failed")
        return 1
    return 0


def _serve_workers(settings: Settings, *, host: str, port: int, workers: int) -> int:
    """Several worker processes on one port. What must happen once (the key file of the embedded
    default, migrations) happens here first; each worker then builds its own app from the same
    settings, and the job leases keep scheduled runs to one worker."""
    import uvicorn

    from bot.container import resolve_encryptor
    from bot.observability.multiprocess import shared_metrics_folder

    resolve_encryptor(settings)
    asyncio.run(_migrate(settings))
    # Every worker adds its metrics to one folder, so that any worker's /metrics shows the totals.
    with shared_metrics_folder():
        uvicorn.run(
            "bot.web.factory:create_worker_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            **UVICORN_OPTIONS,
        )
    return 0


async def _migrate(settings: Settings) -> None:
    from bot.settings import DEFAULT_SQLITE_PATH
    from storage.db import async_database_url, create_engine
    from storage.migrate import upgrade

    engine = create_engine(async_database_url(settings.database_url, DEFAULT_SQLITE_PATH))
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
