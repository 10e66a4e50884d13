"""Start-up helpers shared by the command line (`bot.cli`) and the worker factory (`bot.web.factory`):
settings or a clean exit, the exit codes, and a database that answers or a one-line reason.

Exit codes (documented in the README): 0 done (also after SIGTERM or SIGINT), 1 a service that jirabot
needs cannot be reached, 2 a setting or option is missing or wrong.
"""

from __future__ import annotations

import sys
from typing import NoReturn

from bot.settings import (
    DEFAULT_SQLITE_PATH,
    DatabaseSettings,
    Settings,
    SettingsError,
    load_database_settings,
    load_settings,
)
from bot.stopping import deferring_stop

EXIT_OK = 0
EXIT_UNAVAILABLE = 1
EXIT_SETTINGS = 2


def fail(lines: list[str] | str, code: int) -> NoReturn:
    """Prints each line to stderr and exits with `code`."""
    for line in [lines] if isinstance(lines, str) else lines:
        print(line, file=sys.stderr)
    raise SystemExit(code)


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        fail(exc.problems, EXIT_SETTINGS)


def database_settings_or_exit() -> DatabaseSettings:
    try:
        return load_database_settings()
    except SettingsError as exc:
        fail(exc.problems, EXIT_SETTINGS)


async def migrate_or_exit(settings: DatabaseSettings) -> tuple[str | None, str | None]:
    """Applies the migrations; a database that cannot be used ends the process with one line, exit 1."""
    from storage.db import async_database_url, create_engine
    from storage.db_errors import describe, is_database_failure
    from storage.migrate import upgrade

    url = async_database_url(settings.database_url, DEFAULT_SQLITE_PATH)
    engine = create_engine(url)
    try:
        return await upgrade(engine)
    except Exception as exc:
        if not is_database_failure(exc):
            raise
        fail(str(describe(exc, url)), EXIT_UNAVAILABLE)
    finally:
        with deferring_stop():
            await engine.dispose()
