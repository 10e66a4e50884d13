"""Which DATABASE_URL values jirabot can use, checked when settings load (light: no engine, no models)."""

from __future__ import annotations

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

SUPPORTED_URLS = "sqlite:///path/to/file.sqlite3 or postgresql://user:password@host:5432/db"
_POSTGRES_DRIVERS = {
    "postgres", "postgresql", "postgresql+asyncpg", "postgresql+psycopg2", "postgresql+psycopg"
}
_SQLITE_DRIVERS = {"sqlite", "sqlite+aiosqlite"}


def database_url_problem(url: str) -> str | None:
    """What is wrong with a DATABASE_URL value, in words (never echoing it: it may hold a password);
    None when jirabot can use it. Empty means the embedded SQLite default."""
    if not url:
        return None
    try:
        parsed = make_url(url)
    except ArgumentError:
        return f"not a database URL (expected {SUPPORTED_URLS})"
    if parsed.drivername in _POSTGRES_DRIVERS:
        return None if parsed.host or parsed.query.get("host") else "no host in the PostgreSQL URL"
    if parsed.drivername in _SQLITE_DRIVERS:
        if parsed.host:
            return (f"a SQLite URL takes three slashes before its path: sqlite:///{parsed.host} for a "
                    "relative path, sqlite:////var/lib/jirabot.sqlite3 for an absolute one")
        if not parsed.database or parsed.database == ":memory:":
            return "an in-memory SQLite database would lose everything at exit: give a file path"
        return None
    return f"unsupported scheme {parsed.drivername.split('+')[0]!r} (expected {SUPPORTED_URLS})"
