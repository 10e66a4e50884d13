"""Applies the Alembic migrations shipped inside this package.

On PostgreSQL a session-level advisory lock serialises replicas that start at once: the first
migrates, the others wait, then find nothing left to do.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# An arbitrary, fixed 64-bit key for pg_advisory_lock: "jirabot" migrations.
MIGRATION_LOCK_KEY = 7_236_283_011_962_811_001


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _current_revision(connection: Any) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _upgrade(connection: Any) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def upgrade(engine: AsyncEngine) -> tuple[str | None, str | None]:
    """Upgrades to head; returns (revision before, revision after)."""
    async with engine.connect() as connection:
        postgres = connection.dialect.name == "postgresql"
        if postgres:
            await connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            await connection.commit()
        try:
            before = await connection.run_sync(_current_revision)
            if before != head_revision():
                await connection.run_sync(_upgrade)
                await connection.commit()
            after = await connection.run_sync(_current_revision)
        finally:
            if postgres:
                await connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
                await connection.commit()
    if before != after:
        log.info("storage.migrated", extra={"from_revision": before, "to_revision": after})
    return before, after


async def current_revision(engine: AsyncEngine) -> str | None:
    """The database's revision; None for an empty database."""
    async with engine.connect() as connection:
        return await connection.run_sync(_current_revision)

