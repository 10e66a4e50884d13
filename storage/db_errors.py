"""Why a database cannot be used, in one line naming DATABASE_URL: the driver's reason, sorted into what
an operator can act on (host unreachable, database missing, authentication failed)."""

from __future__ import annotations

import socket

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError


class DatabaseUnavailable(Exception):
    """The database named by DATABASE_URL cannot be reached or used; `str()` is the one line to show."""


_MISSING_DATABASE = {"3D000"}  # invalid_catalog_name
_AUTHENTICATION = {"28000", "28P01"}  # invalid_authorization_specification, invalid_password


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and what caused it (SQLAlchemy wraps the driver's error, sometimes twice)."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return seen


def is_database_failure(exc: BaseException) -> bool:
    """Whether `exc` comes from the database or the way to it (not from a bug of ours)."""
    if isinstance(exc, SQLAlchemyError | OSError | TimeoutError):
        return True
    return type(exc).__module__.split(".")[0] in {"asyncpg", "sqlite3", "aiosqlite"}


def _where(url: str) -> str:
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite"):
        return f"SQLite file {parsed.database}"
    return f"{parsed.host or 'localhost'}:{parsed.port or 5432}"


def describe(exc: BaseException, url: str) -> DatabaseUnavailable:
    """Turns a driver's failure to connect or query into a DatabaseUnavailable with one line."""
    where = _where(url)
    for cause in _chain(exc):
        code = getattr(cause, "sqlstate", None)
        reason = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
        if code in _MISSING_DATABASE:
            return DatabaseUnavailable(f"DATABASE_URL: database missing at {where}: {reason}")
        if code in _AUTHENTICATION:
            return DatabaseUnavailable(f"DATABASE_URL: authentication failed at {where}: {reason}")
        if isinstance(cause, socket.gaierror):
            return DatabaseUnavailable(f"DATABASE_URL: host unreachable at {where}: unknown host ({reason})")
        if isinstance(cause, OSError | TimeoutError) and not where.startswith("SQLite"):
            return DatabaseUnavailable(f"DATABASE_URL: host unreachable at {where}: {reason}")
    innermost = _chain(exc)[-1]
    reason = str(innermost).strip().splitlines()[0] if str(innermost).strip() else type(innermost).__name__
    return DatabaseUnavailable(f"DATABASE_URL: cannot use the database at {where}: {reason}")
