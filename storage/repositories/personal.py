"""Personal notifications: each user's switches (`personal_settings`) and the direct messages waiting
out their grouping window (`personal_pending_dms`).

A pending DM gathers the changes of one issue for one recipient. `add_changes` appends to the open row
whose window (from its first event's receipt) the event falls in, or opens one due `window` after it;
`claim_due` hands due rows to one replica for a lease (PostgreSQL `FOR UPDATE SKIP LOCKED`; one atomic
statement on SQLite), but only once no event of the issue received within the row's window still waits
in the inbox (so a backlog delays a DM rather than splitting it). `finish` deletes a sent row, `release`
puts it back for a retry. No change is lost between appender and claimer: an append only touches a row
nobody claimed, otherwise it opens a new one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from storage.database import Database
from storage.models import (
    InboxEvent,
    InboxStatus,
    JiraAccount,
    LinkStatus,
    PendingDirectMessage,
    PersonalSettings,
)


@dataclass(frozen=True)
class PersonalSettingsRecord:
    team_id: str
    slack_user_id: str
    kinds_off: frozenset[str]
    jira_name: str | None


@dataclass(frozen=True)
class LinkedPerson:
    """A linked user of a tenant, as personal notifications need them."""

    slack_user_id: str
    jira_account_id: str
    scopes: str


@dataclass(frozen=True)
class PendingDm:
    id: int
    tenant_id: int
    team_id: str
    slack_user_id: str
    issue_key: str
    changes: tuple[dict[str, Any], ...]
    first_at: datetime
    attempts: int


class PersonalRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    # Switches -------------------------------------------------------------------------------------
    async def settings(self, team_id: str, slack_user_id: str) -> PersonalSettingsRecord | None:
        table = PersonalSettings.__table__
        async with self._db.connection() as connection:
            row = (
                await connection.execute(
                    select(table).where(table.c.team_id == team_id, table.c.slack_user_id == slack_user_id)
                )
            ).first()
        return None if row is None else _settings(row)

    async def settings_of_tenant(self, tenant_id: int) -> dict[str, PersonalSettingsRecord]:
        table = PersonalSettings.__table__
        async with self._db.connection() as connection:
            rows = (await connection.execute(select(table).where(table.c.tenant_id == tenant_id))).all()
        return {row.slack_user_id: _settings(row) for row in rows}

    async def save(
        self,
        *,
        tenant_id: int,
        team_id: str,
        slack_user_id: str,
        now: datetime,
        kinds_off: list[str] | None = None,
        jira_name: str | None = None,
    ) -> None:
        """Creates or updates the user's row; only the values given change."""
        table = PersonalSettings.__table__
        values: dict[str, Any] = {"updated_at": now}
        if kinds_off is not None:
            values["kinds_off"] = sorted(set(kinds_off))
        if jira_name is not None:
            values["jira_name"] = jira_name
        where = and_(table.c.team_id == team_id, table.c.slack_user_id == slack_user_id)
        async with self._db.connection() as connection:
            result = await connection.execute(update(table).where(where).values(**values))
            if result.rowcount:
                return
        try:
            async with self._db.connection() as connection:
                await connection.execute(
                    insert(table).values(
                        tenant_id=tenant_id,
                        team_id=team_id,
                        slack_user_id=slack_user_id,
                        kinds_off=values.get("kinds_off", []),
                        jira_name=jira_name,
                        updated_at=now,
                    )
                )
        except IntegrityError:  # made at the same moment elsewhere
            async with self._db.connection() as connection:
                await connection.execute(update(table).where(where).values(**values))

    async def forget(self, team_id: str, slack_user_id: str) -> int:
        """The user left: their switches and every DM still waiting for them go."""
        settings, pending = PersonalSettings.__table__, PendingDirectMessage.__table__
        async with self._db.connection() as connection:
            await connection.execute(
                delete(settings).where(
                    settings.c.team_id == team_id, settings.c.slack_user_id == slack_user_id
                )
            )
            result = await connection.execute(
                delete(pending).where(pending.c.team_id == team_id, pending.c.slack_user_id == slack_user_id)
            )
        return int(result.rowcount or 0)

    async def drop_pending(self, team_id: str, slack_user_id: str, kinds: set[str] | None = None) -> int:
        """Deletes what waits for the user (all of it, or only changes of `kinds`)."""
        table = PendingDirectMessage.__table__
        where = and_(table.c.team_id == team_id, table.c.slack_user_id == slack_user_id)
        async with self._db.connection() as connection:
            if kinds is None:
                result = await connection.execute(delete(table).where(where))
                return int(result.rowcount or 0)
            rows = (await connection.execute(select(table.c.id, table.c.changes).where(where))).all()
            dropped = 0
            for row in rows:
                kept = [c for c in row.changes or [] if c.get("kind") not in kinds]
                if len(kept) == len(row.changes or []):
                    continue
                dropped += 1
                if kept:
                    await connection.execute(update(table).where(table.c.id == row.id).values(changes=kept))
                else:
                    await connection.execute(delete(table).where(table.c.id == row.id))
            return dropped

    async def linked_people(self, tenant_id: int) -> list[LinkedPerson]:
        table = JiraAccount.__table__
        query = select(table.c.slack_user_id, table.c.jira_account_id, table.c.scopes).where(
            table.c.tenant_id == tenant_id,
            table.c.status == LinkStatus.LINKED.value,
            table.c.jira_account_id.is_not(None),
        )
        async with self._db.connection() as connection:
            rows = (await connection.execute(query)).all()
        return [LinkedPerson(r.slack_user_id, str(r.jira_account_id), r.scopes or "") for r in rows]

    # Pending DMs ----------------------------------------------------------------------------------
    async def add_changes(
        self,
        *,
        tenant_id: int,
        team_id: str,
        issue_key: str,
        changes: dict[str, list[dict[str, Any]]],
        received_at: datetime,
        window: timedelta,
    ) -> None:
        """`changes` of one issue for several recipients (Slack user id -> changes), from an event received
        at `received_at`, in one transaction: each joins the recipient's open DM of the issue whose window
        it falls in, or opens one due `window` after it."""
        if not changes:
            return
        table = PendingDirectMessage.__table__
        async with self._db.connection() as connection:
            rows = (
                await connection.execute(
                    select(table.c.id, table.c.slack_user_id, table.c.changes).where(
                        table.c.team_id == team_id,
                        table.c.issue_key == issue_key,
                        table.c.slack_user_id.in_(list(changes)),
                        table.c.claimed_by.is_(None),
                        table.c.due_at >= received_at,
                    )
                )
            ).all()
            joined: set[str] = set()
            for row in rows:
                if row.slack_user_id in joined:
                    continue
                merged = list(row.changes or [])
                merged += [c for c in changes[row.slack_user_id] if c not in merged]
                result = await connection.execute(
                    update(table)
                    .where(table.c.id == row.id, table.c.claimed_by.is_(None))
                    .values(changes=merged)
                )
                if result.rowcount == 1:
                    joined.add(row.slack_user_id)
            fresh = [
                {
                    "tenant_id": tenant_id,
                    "team_id": team_id,
                    "slack_user_id": user,
                    "issue_key": issue_key,
                    "changes": list(items),
                    "due_at": received_at + window,
                    "first_at": received_at,
                    "attempts": 0,
                }
                for user, items in changes.items()
                if user not in joined
            ]
            if fresh:
                await connection.execute(insert(table), fresh)

    async def claim_due(
        self, holder: str, *, now: datetime, lease: timedelta, limit: int = 50
    ) -> list[PendingDm]:
        table = PendingDirectMessage.__table__
        inbox = InboxEvent.__table__
        free = or_(table.c.claimed_by.is_(None), table.c.lease_until <= now)
        # An event of the issue received within the window but not handled yet may still join the DM.
        unheard = exists().where(
            inbox.c.tenant_id == table.c.tenant_id,
            inbox.c.issue_key == table.c.issue_key,
            inbox.c.status.in_((InboxStatus.PENDING.value, InboxStatus.PROCESSING.value)),
            inbox.c.received_at <= table.c.due_at,
        )
        due = select(table.c.id).where(table.c.due_at <= now, free, ~unheard)
        async with self._db.connection() as connection:  # the usual answer, read without a write
            if (await connection.execute(due.limit(1))).first() is None:
                return []
        candidates = due.order_by(table.c.due_at).limit(limit)
        if self._db.is_postgres:
            candidates = candidates.with_for_update(skip_locked=True)
        statement = (
            update(table)
            .where(table.c.id.in_(candidates.scalar_subquery()))
            .values(claimed_by=holder, lease_until=now + lease, attempts=table.c.attempts + 1)
            .returning(
                table.c.id,
                table.c.tenant_id,
                table.c.team_id,
                table.c.slack_user_id,
                table.c.issue_key,
                table.c.changes,
                table.c.first_at,
                table.c.attempts,
            )
        )
        async with self._db.connection() as connection:
            rows = (await connection.execute(statement)).all()
        return [
            PendingDm(
                id=r.id,
                tenant_id=r.tenant_id,
                team_id=r.team_id,
                slack_user_id=r.slack_user_id,
                issue_key=r.issue_key,
                changes=tuple(r.changes or ()),
                first_at=_aware(r.first_at),
                attempts=r.attempts,
            )
            for r in rows
        ]

    async def finish(self, pending_id: int, holder: str) -> bool:
        table = PendingDirectMessage.__table__
        async with self._db.connection() as connection:
            result = await connection.execute(
                delete(table).where(table.c.id == pending_id, table.c.claimed_by == holder)
            )
        return result.rowcount == 1

    async def release(self, pending_id: int, holder: str, *, at: datetime) -> None:
        table = PendingDirectMessage.__table__
        async with self._db.connection() as connection:
            await connection.execute(
                update(table)
                .where(table.c.id == pending_id, table.c.claimed_by == holder)
                .values(claimed_by=None, lease_until=None, due_at=at)
            )

    async def pending_count(self) -> int:
        table = PendingDirectMessage.__table__
        async with self._db.connection() as connection:
            rows = (await connection.execute(select(table.c.id))).all()
        return len(rows)


def _settings(row: Any) -> PersonalSettingsRecord:
    return PersonalSettingsRecord(
        team_id=row.team_id,
        slack_user_id=row.slack_user_id,
        kinds_off=frozenset(row.kinds_off or ()),
        jira_name=row.jira_name,
    )


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
