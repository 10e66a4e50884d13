"""Idempotency keys: the same view submission delivered twice creates one issue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
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
    created_at: datetime | None = None


@dataclass(frozen=True)
class PendingClaim:
    """A claim still pending: its work started at ``created_at`` and has not said how it ended."""

    key: str
    team_id: str
    result: dict[str, Any] | None
    created_at: datetime


class IdempotencyRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def claim(
        self,
        key: str,
        *,
        team_id: str,
        now: datetime,
        expires_at: datetime,
        context: dict[str, Any] | None = None,
    ) -> Claim:
        """Claims `key` for the caller (`context` is kept as its pending result: what another process
        needs to finish the work), or tells what the first claimant left."""
        table = IdempotencyKey.__table__
        try:
            async with self._db.connection() as connection:
                await connection.execute(
                    insert(table).values(
                        key=key,
                        team_id=team_id,
                        status=PENDING,
                        result=context,
                        created_at=now,
                        expires_at=expires_at,
                    )
                )
            return Claim(True, PENDING, context, now)
        except IntegrityError:
            async with self._db.connection() as connection:
                row = (
                    await connection.execute(
                        select(table.c.status, table.c.result, table.c.created_at).where(table.c.key == key)
                    )
                ).first()
            if row is None:  # released in between: try once more
                return await self.claim(key, team_id=team_id, now=now, expires_at=expires_at, context=context)
            return Claim(False, row.status, row.result, row.created_at)

    async def take_over(
        self, key: str, *, seen: Claim, now: datetime, result: dict[str, Any] | None
    ) -> bool:
        """Makes a claim that was left (pending or unsure) the caller's: only when it is still as `seen`,
        so that of several takers one wins. It is pending again, from `now`, with `result`."""
        table = IdempotencyKey.__table__
        async with self._db.connection() as connection:
            done = await connection.execute(
                update(table)
                .where(
                    table.c.key == key,
                    table.c.status == seen.status,
                    table.c.created_at == seen.created_at,
                )
                .values(status=PENDING, created_at=now, result=result)
            )
        return int(done.rowcount or 0) == 1

    async def pending_before(self, prefix: str, before: datetime, limit: int = 50) -> list[PendingClaim]:
        """Claims under `prefix` still pending since before `before`, oldest first."""
        table = IdempotencyKey.__table__
        async with self._db.connection() as connection:
            rows = await connection.execute(
                select(table.c.key, table.c.team_id, table.c.result, table.c.created_at)
                .where(table.c.key.startswith(prefix, autoescape=True), table.c.status == PENDING,
                       table.c.created_at <= before)
                .order_by(table.c.created_at)
                .limit(limit)
            )
            return [PendingClaim(r.key, r.team_id, r.result, r.created_at) for r in rows]

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
