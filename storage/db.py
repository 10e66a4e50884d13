"""Engines for the embedded SQLite default and for PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from storage.models import Base  # noqa: F401  (models registered on import)


def async_database_url(url: str, default_sqlite: Path) -> str:
    """Accepts plain `sqlite:///path` and `postgresql://…` and picks the async driver."""
    if not url:
        return f"sqlite+aiosqlite:///{default_sqlite}"
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    parsed = make_url(url)
    if parsed.drivername in {"postgresql", "postgresql+psycopg2", "postgresql+psycopg"}:
        return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    if parsed.drivername == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    return url


def sqlite_file_path(url: str) -> Path | None:
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite"):
        return None
    database = parsed.database
    if not database or database == ":memory:":
        return None
    return Path(database)


def is_sqlite(url: str) -> bool:
    return make_url(url).drivername.startswith("sqlite")


def create_engine(async_url: str, **kwargs: Any) -> AsyncEngine:
    """Creates the async engine; SQLite gets WAL, foreign keys and a busy timeout."""
    if is_sqlite(async_url):
        path = sqlite_file_path(async_url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        # SQLite takes one writer at a time: a few connections queue fairly in the pool, where many
        # would wait in SQLite's busy handler, sleeping in growing steps (seen as ack p99 of 1-2 s
        # under load). Nothing holds one connection while asking for another.
        kwargs.setdefault("pool_size", 4)
        kwargs.setdefault("max_overflow", 0)
        engine = create_async_engine(async_url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            # Deleted rows are overwritten with zeros, not left in free pages: an erasure erases.
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.close()

        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    kwargs.setdefault("pool_pre_ping", True)
    # An unreachable host fails after this many seconds, not asyncpg's default minute.
    kwargs.setdefault("connect_args", {"timeout": 10})
    return create_async_engine(async_url, **kwargs)


def session_factory(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)
