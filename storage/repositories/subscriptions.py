"""Channel subscriptions: which channel hears which project's events, as whom."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update

from storage.database import Database
from storage.models import ChannelSubscription, SubscriptionStatus
from storage.repositories.audit import audit_entry

ACTIVE = SubscriptionStatus.ACTIVE.value
INACTIVE = SubscriptionStatus.INACTIVE.value


@dataclass(frozen=True)
class SubscriptionRecord:
    id: int
    tenant_id: int
    team_id: str
    channel_id: str
    project_key: str
    events: tuple[str, ...]
    jql: str | None
    jql_in_webhook: bool
    created_by: str
    status: str
    inactive_reason: str | None
    created_at: datetime

    @property
    def active(self) -> bool:
        return self.status == ACTIVE


def _record(row: ChannelSubscription) -> SubscriptionRecord:
    return SubscriptionRecord(
        id=row.id,
        tenant_id=row.tenant_id,
        team_id=row.team_id,
        channel_id=row.channel_id,
        project_key=row.project_key,
        events=tuple(row.events or ()),
        jql=row.jql,
        jql_in_webhook=bool(row.jql_in_webhook),
        created_by=row.created_by,
        status=row.status,
        inactive_reason=row.inactive_reason,
        created_at=row.created_at,
    )


class SubscriptionRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self,
        *,
        tenant_id: int,
        team_id: str,
        channel_id: str,
        project_key: str,
        events: list[str],
        jql: str | None,
        jql_in_webhook: bool,
        created_by: str,
        now: datetime,
    ) -> SubscriptionRecord:
        async with self._db.transaction() as session:
            row = ChannelSubscription(
                tenant_id=tenant_id,
                team_id=team_id,
                channel_id=channel_id,
                project_key=project_key,
                events=list(events),
                jql=jql,
                jql_in_webhook=jql_in_webhook,
                created_by=created_by,
                status=ACTIVE,
                created_at=now,
            )
            session.add(row)
            await session.flush()
            session.add(
                audit_entry(
                    team_id=team_id,
                    actor=created_by,
                    action="subscription.created",
                    subject=f"{channel_id}:{project_key}",
                    detail={"events": list(events)},
                    now=now,
                )
            )
            return _record(row)

    async def get(self, subscription_id: int) -> SubscriptionRecord | None:
        async with self._db.transaction() as session:
            row = await session.get(ChannelSubscription, subscription_id)
            return None if row is None else _record(row)

    async def for_channel(self, team_id: str, channel_id: str) -> list[SubscriptionRecord]:
        async with self._db.transaction() as session:
            rows = await session.scalars(
                select(ChannelSubscription)
                .where(ChannelSubscription.team_id == team_id, ChannelSubscription.channel_id == channel_id)
                .order_by(ChannelSubscription.id)
            )
            return [_record(r) for r in rows]

    async def for_team(self, team_id: str) -> list[SubscriptionRecord]:
        async with self._db.transaction() as session:
            rows = await session.scalars(
                select(ChannelSubscription)
                .where(ChannelSubscription.team_id == team_id)
                .order_by(ChannelSubscription.channel_id, ChannelSubscription.id)
            )
            return [_record(r) for r in rows]

    async def active_for_project(self, tenant_id: int, project_key: str) -> list[SubscriptionRecord]:
        async with self._db.transaction() as session:
            rows = await session.scalars(
                select(ChannelSubscription)
                .where(
                    ChannelSubscription.tenant_id == tenant_id,
                    ChannelSubscription.project_key == project_key,
                    ChannelSubscription.status == ACTIVE,
                )
                .order_by(ChannelSubscription.id)
            )
            return [_record(r) for r in rows]

    async def active_of_user(self, team_id: str, slack_user_id: str) -> list[SubscriptionRecord]:
        async with self._db.transaction() as session:
            rows = await session.scalars(
                select(ChannelSubscription).where(
                    ChannelSubscription.team_id == team_id,
                    ChannelSubscription.created_by == slack_user_id,
                    ChannelSubscription.status == ACTIVE,
                )
            )
            return [_record(r) for r in rows]

    async def deactivate(self, subscription_id: int, *, reason: str, now: datetime) -> bool:
        """Marks a subscription inactive; False when it already was (or is gone)."""
        async with self._db.transaction() as session:
            result = await session.execute(
                update(ChannelSubscription)
                .where(ChannelSubscription.id == subscription_id, ChannelSubscription.status == ACTIVE)
                .values(status=INACTIVE, inactive_reason=reason)
            )
            return result.rowcount == 1

    async def delete(self, subscription_id: int, *, actor: str, now: datetime) -> SubscriptionRecord | None:
        async with self._db.transaction() as session:
            row = await session.get(ChannelSubscription, subscription_id)
            if row is None:
                return None
            record = _record(row)
            # Conditional: of two Remove clicks at once, one deletes and the other finds it gone (on
            # SQLite both can read the row first, as a read takes no lock).
            removed = await session.execute(
                delete(ChannelSubscription).where(ChannelSubscription.id == subscription_id)
            )
            if removed.rowcount != 1:
                return None
            session.add(
                audit_entry(
                    team_id=record.team_id,
                    actor=actor,
                    action="subscription.removed",
                    subject=f"{record.channel_id}:{record.project_key}",
                    now=now,
                )
            )
            return record
