"""Idempotency keys: the same view submission delivered twice creates one issue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from storage.database import Database
from storage.models import IdempotencyKey

PENDING = "pending"
DONE = "done"


@dataclass(frozen=True)
class Claim:
    """`claimed` is True for the first delivery; later ones see the first one's status and result."""

    claimed: bool
    status: str
    result: dict[str, Any] | None


class IdempotencyRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def claim(self, key: str, *, team_id: str, now: datetime, expires_at: datetime) -> Claim:
        table = IdempotencyKey.__table__
        try:
            async with self._db.connection() as connection:
                await connection.execute(
                    insert(table).values(
                        key=key, team_id=team_id, status=PENDING, created_at=now, expires_at=expires_at
                    )
                )
            return Claim(True, PENDING, None)
        except IntegrityError:
            async with self._db.connection() as connection:
                row = (
                    await connection.execute(select(table.c.status, table.c.result).where(table.c.key == key))
                ).first()
            if row is None:  # released in between: try once more
                return await self.claim(key, team_id=team_id, now=now, expires_at=expires_at)
            return Claim(False, row.status, row.result)

    async def put(
        self, key: str, *, team_id: str, result: dict[str, Any], now: datetime, expires_at: datetime
    ) -> None:
        """Stores a finished value under `key` (replacing any), until `expires_at`."""
        async with self._db.transaction() as session:
            row = await session.get(IdempotencyKey, key)
            if row is None:
                row = IdempotencyKey(key=key, team_id=team_id, created_at=now)
                session.add(row)
            row.status = DONE
            row.result = result
            row.expires_at = expires_at

    async def get(self, key: str, *, now: datetime) -> dict[str, Any] | None:
        """The finished value under `key`, unless it has expired."""
        table = IdempotencyKey.__table__
        async with self._db.connection() as connection:
            row = (
                await connection.execute(
                    select(table.c.result).where(
                        table.c.key == key, table.c.status == DONE, table.c.expires_at > now
                    )
                )
            ).first()
        return None if row is None else row.result

    async def complete(self, key: str, result: dict[str, Any]) -> None:
        async with self._db.transaction() as session:
            row = await session.scalar(select(IdempotencyKey).where(IdempotencyKey.key == key))
            if row is not None:
                row.status = DONE
                row.result = result

    async def release(self, key: str) -> None:
        """Forgets a claim whose work certainly did not happen, so that a retry may do it."""
        async with self._db.transaction() as session:
            await session.execute(delete(IdempotencyKey).where(IdempotencyKey.key == key))

    async def delete_expired(self, now: datetime) -> int:
        async with self._db.transaction() as session:
            result = await session.execute(delete(IdempotencyKey).where(IdempotencyKey.expires_at <= now))
            return int(result.rowcount or 0)
