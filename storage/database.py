"""The database handle that repositories share: engine, sessions, dialect."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker


class Database:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One session, one transaction: committed on success, rolled back on error."""
        async with self._sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        """One connection, one transaction, without the ORM: for the hottest paths (SQL expressions
        and plain rows cost a fraction of a session's unit of work)."""
        async with self.engine.begin() as connection:
            yield connection

    async def flush_erasure(self) -> bool:
        """After erasing personal data: on SQLite, copies the write-ahead log into the database file and
        truncates it, so the erased values (kept in the log's older page images) leave the disk now,
        not at some later checkpoint. (Free pages are zeroed by `secure_delete`.) True when done; False
        when a reader held the log (it is then truncated at the next checkpoint). PostgreSQL: nothing to
        do here, its dead row versions go at the next (auto)vacuum."""
        if self.is_postgres:
            return True
        async with self.engine.connect() as connection:
            result = await connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            row = result.first()
        return row is None or row[0] == 0

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
