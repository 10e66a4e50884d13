"""The webhook inbox: verified deliveries kept durably, claimed by any replica, delivered, pruned.

- `add` inserts a delivery once (its `X-Atlassian-Webhook-Identifier` is unique) and commits before
  the caller answers Jira.
- `claim` hands out pending events, at most one in flight per issue, earliest first: an event is
  claimable only while no earlier event of its issue is unfinished. On PostgreSQL the candidates are
  locked with `FOR UPDATE SKIP LOCKED`, so replicas never claim the same event; on SQLite the single
  statement is atomic in the one writer process. A claim lasts `lease` seconds: if its replica dies,
  the event becomes claimable again once the lease runs out.
- `mark_served` records each subscription an event has reached, so a retry serves only the rest;
  `done` finishes it; `retry_later` puts it back with a delay; `prune` deletes old finished events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from storage.database import Database
from storage.models import InboxEvent, InboxStatus

PENDING = InboxStatus.PENDING.value
PROCESSING = InboxStatus.PROCESSING.value
DONE = InboxStatus.DONE.value


@dataclass(frozen=True)
class InboxItem:
    id: int
    delivery_id: str
    tenant_id: int
    issue_key: str
    event: str
    payload: dict[str, Any]
    attempts: int
    served: frozenset[str]
    received_at: datetime


@dataclass(frozen=True)
class InboxDepth:
    """How much waits: pending (or claimed, unfinished) events and the age of the oldest, in seconds."""

    pending: int
    oldest_age: float


class InboxRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(
        self,
        *,
        delivery_id: str,
        tenant_id: int,
        issue_key: str,
        event: str,
        payload: dict[str, Any],
        now: datetime,
    ) -> bool:
        """Stores a delivery; False when the same delivery is already stored (a redelivery)."""
        table = InboxEvent.__table__
        try:
            async with self._db.connection() as connection:
                await connection.execute(
                    insert(table).values(
                        delivery_id=delivery_id,
                        tenant_id=tenant_id,
                        issue_key=issue_key,
                        event=event,
                        payload=payload,
                        status=PENDING,
                        attempts=0,
                        delivered=[],
                        available_at=now,
                        received_at=now,
                    )
                )
        except IntegrityError:
            return False
        return True

    def _claimable(self, now: datetime) -> Any:
        table = InboxEvent.__table__
        earlier = table.alias("earlier")
        free = or_(
            and_(table.c.status == PENDING, table.c.available_at <= now),
            and_(table.c.status == PROCESSING, table.c.lease_until <= now),
        )
        blocked = exists().where(
            earlier.c.tenant_id == table.c.tenant_id,
            earlier.c.issue_key == table.c.issue_key,
            earlier.c.id < table.c.id,
            earlier.c.status.in_((PENDING, PROCESSING)),
        )
        return and_(free, ~blocked)

    async def claim(
        self, holder: str, *, now: datetime, lease: timedelta, limit: int = 20
    ) -> list[InboxItem]:
        table = InboxEvent.__table__
        candidates = select(table.c.id).where(self._claimable(now)).order_by(table.c.id).limit(limit)
        if self._db.is_postgres:
            candidates = candidates.with_for_update(skip_locked=True, of=table)
        statement = (
            update(table)
            .where(table.c.id.in_(candidates.scalar_subquery()))
            .values(
                status=PROCESSING, claimed_by=holder, lease_until=now + lease, attempts=table.c.attempts + 1
            )
            .returning(
                table.c.id,
                table.c.delivery_id,
                table.c.tenant_id,
                table.c.issue_key,
                table.c.event,
                table.c.payload,
                table.c.attempts,
                table.c.delivered,
                table.c.received_at,
            )
        )
        async with self._db.connection() as connection:
            rows = (await connection.execute(statement)).all()
        items = [
            InboxItem(
                id=row.id,
                delivery_id=row.delivery_id,
                tenant_id=row.tenant_id,
                issue_key=row.issue_key,
                event=row.event,
                payload=row.payload,
                attempts=row.attempts,
                served=frozenset(str(k) for k in row.delivered or []),
                received_at=_aware(row.received_at),
            )
            for row in rows
        ]
        return sorted(items, key=lambda item: item.id)

    async def mark_served(self, event_id: int, holder: str, served: set[str]) -> bool:
        """Records the subscriptions this event has reached; False when the claim was lost."""
        table = InboxEvent.__table__
        async with self._db.connection() as connection:
            result = await connection.execute(
                update(table)
                .where(table.c.id == event_id, table.c.claimed_by == holder, table.c.status == PROCESSING)
                .values(delivered=sorted(served))
            )
        return result.rowcount == 1

    async def extend(self, event_id: int, holder: str, *, until: datetime) -> bool:
        table = InboxEvent.__table__
        async with self._db.connection() as connection:
            result = await connection.execute(
                update(table)
                .where(table.c.id == event_id, table.c.claimed_by == holder, table.c.status == PROCESSING)
                .values(lease_until=until)
            )
        return result.rowcount == 1

    async def done(self, event_id: int, holder: str, *, now: datetime) -> bool:
        table = InboxEvent.__table__
        async with self._db.connection() as connection:
            result = await connection.execute(
                update(table)
                .where(table.c.id == event_id, table.c.claimed_by == holder)
                .values(status=DONE, done_at=now, lease_until=None, last_error=None)
            )
        return result.rowcount == 1

    async def retry_later(self, event_id: int, holder: str, *, at: datetime, error: str) -> None:
        table = InboxEvent.__table__
        async with self._db.connection() as connection:
            await connection.execute(
                update(table)
                .where(table.c.id == event_id, table.c.claimed_by == holder)
                .values(
                    status=PENDING, claimed_by=None, lease_until=None, available_at=at, last_error=error[:255]
                )
            )

    async def depth(self, now: datetime) -> InboxDepth:
        """Cheap: one indexed aggregate over unfinished events."""
        table = InboxEvent.__table__
        async with self._db.connection() as connection:
            row = (
                await connection.execute(
                    select(func.count(), func.min(table.c.received_at)).where(
                        table.c.status.in_((PENDING, PROCESSING))
                    )
                )
            ).one()
        oldest = _aware(row[1]) if row[1] is not None else None
        return InboxDepth(int(row[0]), max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)

    async def get(self, delivery_id: str) -> dict[str, Any] | None:
        table = InboxEvent.__table__
        async with self._db.connection() as connection:
            row = (await connection.execute(select(table).where(table.c.delivery_id == delivery_id))).first()
        return None if row is None else dict(row._mapping)

    async def prune(self, before: datetime) -> int:
        """Deletes events finished before `before`."""
        table = InboxEvent.__table__
        async with self._db.connection() as connection:
            result = await connection.execute(
                delete(table).where(table.c.status == DONE, table.c.done_at < before)
            )
        return int(result.rowcount or 0)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
