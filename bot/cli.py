"""The `jirabot` command line: serve, check, db upgrade, keygen, manifest."""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import os
import socket
import sys
from collections.abc import Sequence

from bot.boot import (
    EXIT_OK,
    EXIT_SETTINGS,
    database_settings_or_exit,
    fail,
    migrate_or_exit,
    settings_or_exit,
)
from bot.settings import REQUIRED_SETTINGS, SETTINGS_DOCS, Settings
from bot.stopping import run_stoppable
from storage.crypto import generate_key

log = logging.getLogger("bot.cli")

SETTINGS_EPILOG = (
    f"Settings come from the environment or a .env file. Required to serve: {REQUIRED_SETTINGS}. "
    f"Every setting, with its default: {SETTINGS_DOCS}. "
    "Exit codes: 0 done (also after SIGTERM/SIGINT), 1 a service cannot be reached, "
    "2 a setting or option is missing or wrong."
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jirabot", description="Jira for Slack, self-hosted.", epilog=SETTINGS_EPILOG
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = sub.add_parser(
        "serve",
        help="apply migrations, start the scheduler, serve HTTP",
        description="Applies pending migrations, starts the scheduler and serves HTTP.",
        epilog=SETTINGS_EPILOG,
    )
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
    sub.add_parser(
        "check", help="check settings, database, Slack and Jira reachability", epilog=SETTINGS_EPILOG
    )
    db = sub.add_parser("db", help="database commands (need only DATABASE_URL)")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="DB_COMMAND")
    db_sub.add_parser("upgrade", help="apply Alembic migrations to DATABASE_URL")
    sub.add_parser("keygen", help="print a new key for JIRABOT_ENCRYPTION_KEY")
    manifest = sub.add_parser(
        "manifest",
        help="print the Slack app manifest with this bot's public URL filled in",
        description="Prints manifest.yml with JIRABOT_PUBLIC_URL (or --url) in every URL.",
    )
    manifest.add_argument("--url", default=None, help="the bot's public https:// base URL")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "keygen":
        print(generate_key())
        return EXIT_OK
    if args.command == "manifest":
        return _manifest(args.url)
    if args.command == "db" and args.db_command == "upgrade":
        return _db_upgrade()
    settings = settings_or_exit()
    _configure_logging(settings)
    if args.command == "check":
        from bot.checks import run_checks

        return asyncio.run(run_checks(settings))
    # SIGTERM and SIGINT end serving cleanly at any moment: see bot.stopping.
    return serve(
        settings,
        host=args.host,
        port=args.port,
        socket_mode=args.socket_mode,
        workers=max(1, args.workers),
    )


def _configure_logging(settings: object) -> None:
    from bot.logs import configure_logging

    configure_logging(settings.log_level, settings.log_format)  # type: ignore[attr-defined]


def _db_upgrade() -> int:
    settings = database_settings_or_exit()
    _configure_logging(settings)
    before, after = run_stoppable(migrate_or_exit(settings))
    print(f"database at revision {after}" + ("" if before == after else f" (was {before or 'empty'})"))
    return EXIT_OK


def _manifest(url: str | None) -> int:
    from bot.settings import PublicUrlSettings
    from bot.slack.manifest import ManifestUrlError, render_manifest

    name = "--url"
    if url is None:
        name, url = "JIRABOT_PUBLIC_URL", PublicUrlSettings().jirabot_public_url
    if not url:
        fail("JIRABOT_PUBLIC_URL: not set; give the bot's public address with --url https://HOST",
             EXIT_SETTINGS)
    try:
        sys.stdout.write(render_manifest(url))
    except ManifestUrlError as exc:
        fail(f"{name}: {exc}", EXIT_SETTINGS)
    return EXIT_OK


UVICORN_OPTIONS = {
    "log_config": None,
    "proxy_headers": True,
    "timeout_graceful_shutdown": 20,
    "lifespan": "on",
}


def listening_socket(host: str, port: int) -> socket.socket:
    """Binds the port the way uvicorn does, before anything else starts; a port that cannot be had
    ends the process with one line naming host and port (exit 2)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        reasons = {
            errno.EADDRINUSE: "the address is already in use (another process listens there; "
            "choose another with --port or PORT)",
            errno.EACCES: "permission denied (ports below 1024 need privileges)",
            errno.EADDRNOTAVAIL: "this machine has no such address (see --host)",
        }
        reason = reasons.get(exc.errno or 0, exc.strerror or str(exc))
        fail(f"jirabot serve: cannot listen on {host}:{port}: {reason}", EXIT_SETTINGS)
    except (OverflowError, socket.gaierror) as exc:
        sock.close()
        fail(f"jirabot serve: cannot listen on {host}:{port}: {exc}", EXIT_SETTINGS)
    sock.set_inheritable(True)
    return sock


def serve(settings: Settings, *, host: str, port: int | None, socket_mode: bool, workers: int = 1) -> int:
    import uvicorn

    if socket_mode and settings.slack_app_token is None:
        fail("SLACK_APP_TOKEN: required with --socket-mode (an xapp- app-level token)", EXIT_SETTINGS)
    if socket_mode and workers > 1:
        fail("--workers: Socket Mode runs in one process; drop --workers or --socket-mode", EXIT_SETTINGS)
    port = port if port is not None else int(os.environ.get("PORT") or settings.port)
    sock = listening_socket(host, port)
    log.info(
        "app.serving", extra={"host": host, "port": port, "socket_mode": socket_mode, "workers": workers}
    )
    from bot.container import resolve_encryptor

    # What must happen once happens here first: the key file of the embedded default, migrations.
    resolve_encryptor(settings)
    run_stoppable(migrate_or_exit(settings))
    if workers > 1:
        from bot.observability.multiprocess import shared_metrics_folder

        sock.close()  # uvicorn's supervisor binds the port again for its workers
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
        return EXIT_OK
    from bot.observability.multiprocess import reset_metrics_folder

    reset_metrics_folder()  # before the metrics exist: an earlier run's values must not count
    from bot.web.factory import create_served_app

    server = uvicorn.Server(
        uvicorn.Config(
            create_served_app(settings, socket_mode=socket_mode, migrate=False),
            host=host,
            port=port,
            **UVICORN_OPTIONS,
        )
    )
    server.run(sockets=[sock])
    if not server.started:
        log.error("app.start_failed")
        return 1
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
