"""Linked Jira accounts and their encrypted tokens."""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.crypto import Encryptor
from storage.database import Database
from storage.models import AuditEntry, JiraAccount, LinkStatus, TenantInstall
from storage.repositories.audit import audit_entry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TokenSet:
    """What an OAuth token endpoint answered."""

    access_token: str
    refresh_token: str | None
    expires_at: datetime
    scopes: str | None = None


@dataclass(frozen=True)
class JiraIdentity:
    account_id: str
    display_name: str | None
    email: str | None


@dataclass(frozen=True)
class PersonalDataEntry:
    """An Atlassian account whose personal data is stored, and since when that data is known current."""

    jira_account_id: str
    as_of: datetime


# Keys of audit details that hold personal data, redacted when an account is erased.
PERSONAL_DETAIL_KEYS = frozenset({"display_name", "email"})


@dataclass(frozen=True)
class AccountRecord:
    id: int
    tenant_id: int
    team_id: str
    slack_user_id: str
    jira_account_id: str | None
    display_name: str | None
    email: str | None
    access_token: str | None
    refresh_token: str | None
    expires_at: datetime | None
    scopes: str | None
    status: str
    linked_at: datetime
    refreshed_at: datetime | None
    reconnect_notified_at: datetime | None
    last_project_key: str | None

    @property
    def needs_reconnect(self) -> bool:
        return self.status == LinkStatus.NEEDS_RECONNECT.value

    def expires_within(self, now: datetime, window: timedelta) -> bool:
        return self.expires_at is None or self.expires_at <= now + window


Refresher = Callable[[AccountRecord], Awaitable[TokenSet | None]]

#: How long one process may hold an account's refresh before another may take it over.
REFRESH_LEASE = timedelta(seconds=30)
LEASE_POLL_START = 0.05
LEASE_POLL_MAX = 0.5


class AccountLinkedElsewhere(Exception):
    """One Jira account per Slack user per workspace: another user of the workspace holds this one."""

    def __init__(self, holder_slack_user_id: str) -> None:
        super().__init__("the Jira account is linked to another Slack user of the workspace")
        self.holder = holder_slack_user_id


class AccountRepository:
    def __init__(self, db: Database, encryptor: Encryptor) -> None:
        self._db = db
        self._enc = encryptor
        # Per-account locks live only while someone holds or awaits them.
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()

    def record(self, row: JiraAccount) -> AccountRecord:
        """The row as a record. Tokens that no configured key decrypts make the link one that needs a
        reconnect (the stored status is left alone: restoring the key brings the link back)."""
        access = self._enc.decrypt_or_none(row.access_token_enc, what="jira_account_tokens", ref=row.id)
        refresh = self._enc.decrypt_or_none(row.refresh_token_enc, what="jira_account_tokens", ref=row.id)
        unreadable = (access is None and row.access_token_enc is not None) or (
            refresh is None and row.refresh_token_enc is not None
        )
        return AccountRecord(
            id=row.id,
            tenant_id=row.tenant_id,
            team_id=row.team_id,
            slack_user_id=row.slack_user_id,
            jira_account_id=row.jira_account_id,
            display_name=row.display_name,
            email=row.email,
            access_token=None if unreadable else access,
            refresh_token=None if unreadable else refresh,
            expires_at=row.expires_at,
            scopes=row.scopes,
            status=LinkStatus.NEEDS_RECONNECT.value if unreadable else row.status,
            linked_at=row.linked_at,
            refreshed_at=row.refreshed_at,
            reconnect_notified_at=row.reconnect_notified_at,
            last_project_key=row.last_project_key,
        )

    async def get(self, team_id: str, slack_user_id: str) -> AccountRecord | None:
        async with self._db.transaction() as session:
            row = await session.scalar(
                select(JiraAccount).where(
                    JiraAccount.team_id == team_id, JiraAccount.slack_user_id == slack_user_id
                )
            )
            return self.record(row) if row else None

    async def get_by_id(self, account_id: int) -> AccountRecord | None:
        async with self._db.transaction() as session:
            row = await session.get(JiraAccount, account_id)
            return self.record(row) if row else None

    async def link(
        self,
        *,
        tenant_id: int,
        team_id: str,
        slack_user_id: str,
        identity: JiraIdentity,
        tokens: TokenSet,
        now: datetime,
        action: str = "account.linked",
    ) -> AccountRecord:
        """Links (or re-links) a user, with an audit entry, in one transaction."""
        async with self._db.transaction() as session:
            row = await self.apply_link(
                session,
                tenant_id=tenant_id,
                team_id=team_id,
                slack_user_id=slack_user_id,
                identity=identity,
                tokens=tokens,
                now=now,
            )
            session.add(
                audit_entry(
                    team_id=team_id,
                    actor=slack_user_id,
                    action=action,
                    subject=identity.account_id,
                    detail={"display_name": identity.display_name},
                    now=now,
                )
            )
            await session.flush()
            return self.record(row)

    async def holder_of(self, team_id: str, jira_account_id: str, *, besides: str) -> str | None:
        """The Slack user of the workspace, other than `besides`, whose link is to this Jira account."""
        async with self._db.transaction() as session:
            return await _holder(session, team_id, jira_account_id, besides)

    async def apply_link(
        self,
        session: AsyncSession,
        *,
        tenant_id: int,
        team_id: str,
        slack_user_id: str,
        identity: JiraIdentity,
        tokens: TokenSet,
        now: datetime,
    ) -> JiraAccount:
        """Links within the caller's transaction; raises AccountLinkedElsewhere when another Slack user
        of the workspace holds this Jira account (their link stays)."""
        if self._db.is_postgres:
            # Links of one workspace one at a time, so two users cannot take one account together.
            await session.execute(
                select(TenantInstall.id).where(TenantInstall.id == tenant_id).with_for_update()
            )
        holder = await _holder(session, team_id, identity.account_id, slack_user_id)
        if holder is not None:
            raise AccountLinkedElsewhere(holder)
        row = await session.scalar(
            select(JiraAccount).where(
                JiraAccount.team_id == team_id, JiraAccount.slack_user_id == slack_user_id
            )
        )
        if row is None:
            row = JiraAccount(team_id=team_id, slack_user_id=slack_user_id, linked_at=now)
            session.add(row)
        elif row.jira_account_id != identity.account_id or row.tenant_id != tenant_id:
            row.linked_at = now
            row.last_project_key = None
        row.tenant_id = tenant_id
        row.jira_account_id = identity.account_id
        row.display_name = identity.display_name
        row.email = identity.email
        row.access_token_enc = self._enc.encrypt(tokens.access_token)
        row.refresh_token_enc = self._enc.encrypt_optional(tokens.refresh_token)
        row.expires_at = tokens.expires_at
        row.scopes = tokens.scopes
        row.status = LinkStatus.LINKED.value
        row.refreshed_at = now
        row.reconnect_notified_at = None
        row.updated_at = now
        return row

    async def unlink(self, team_id: str, slack_user_id: str, *, actor: str, now: datetime) -> bool:
        """Deletes the link and its tokens, with an audit entry; False when there was none."""
        async with self._db.transaction() as session:
            row = await session.scalar(
                select(JiraAccount).where(
                    JiraAccount.team_id == team_id, JiraAccount.slack_user_id == slack_user_id
                )
            )
            if row is None:
                return False
            session.add(
                audit_entry(
                    team_id=team_id,
                    actor=actor,
                    action="account.unlinked",
                    subject=row.jira_account_id,
                    detail={"slack_user_id": slack_user_id},
                    now=now,
                )
            )
            await session.delete(row)
            return True

    async def refresh_serialised(
        self,
        account_id: int,
        *,
        still_fresh: Callable[[AccountRecord], bool],
        refresher: Refresher,
        clock: Callable[[], datetime],
        lease: timedelta = REFRESH_LEASE,
    ) -> AccountRecord | None:
        """Refreshes one account's tokens, one refresh at a time across tasks and processes, without
        holding a transaction or row lock while `refresher` calls the token endpoint.

        Rotating refresh tokens are single-use, so a second refresher must see the first one's result:
        tasks of this process queue on an in-process lock; processes take a lease in the account's row
        (holder and expiry, a conditional UPDATE that works alike on SQLite and PostgreSQL), and one
        that finds it taken waits for the tokens to become fresh or the lease to end. With the lease,
        the record is read again: tokens that are now `still_fresh` are returned as they are. Else
        `refresher` gets the record and returns new tokens, or None when the grant is dead. The write
        that follows only succeeds while the row still holds the refresh token that was spent: one
        that lost a race (its lease ran out meanwhile) re-reads the winner's tokens instead. Returns the
        resulting record, or None when the account no longer exists.
        """
        lock = self._locks.get(account_id)
        if lock is None:
            lock = self._locks[account_id] = asyncio.Lock()
        async with lock:
            holder = f"{os.getpid()}-{uuid.uuid4().hex[:20]}"
            waited = 0.0
            delay = LEASE_POLL_START
            while True:
                found = await self._read_for_refresh(account_id)
                if found is None:
                    return None
                current, _ = found
                if current.needs_reconnect or still_fresh(current):
                    return current
                if await self._take_lease(account_id, holder, clock(), lease):
                    break
                if waited > lease.total_seconds() * 2:
                    return current  # a holder that never lets go: the caller's call will tell
                await asyncio.sleep(delay)
                waited += delay
                delay = min(delay * 2, LEASE_POLL_MAX)
            try:
                found = await self._read_for_refresh(account_id)
                if found is None:
                    return None
                current, spent = found
                if current.needs_reconnect or still_fresh(current):
                    return current
                tokens = await refresher(current)  # no transaction is open here
                return await self._store_refresh(account_id, spent, tokens, clock())
            finally:
                await self._release_lease(account_id, holder)

    async def _read_for_refresh(self, account_id: int) -> tuple[AccountRecord, str | None] | None:
        async with self._db.transaction() as session:
            row = await session.get(JiraAccount, account_id)
            return (self.record(row), row.refresh_token_enc) if row else None

    async def _take_lease(self, account_id: int, holder: str, now: datetime, lease: timedelta) -> bool:
        async with self._db.transaction() as session:
            result = await session.execute(
                update(JiraAccount)
                .where(
                    JiraAccount.id == account_id,
                    or_(
                        JiraAccount.refresh_lease_holder.is_(None),
                        JiraAccount.refresh_lease_expires_at.is_(None),
                        JiraAccount.refresh_lease_expires_at <= now,
                    ),
                )
                .values(refresh_lease_holder=holder, refresh_lease_expires_at=now + lease)
            )
            return result.rowcount == 1

    async def _release_lease(self, account_id: int, holder: str) -> None:
        async with self._db.transaction() as session:
            await session.execute(
                update(JiraAccount)
                .where(JiraAccount.id == account_id, JiraAccount.refresh_lease_holder == holder)
                .values(refresh_lease_holder=None, refresh_lease_expires_at=None)
            )

    async def _store_refresh(
        self, account_id: int, spent: str | None, tokens: TokenSet | None, now: datetime
    ) -> AccountRecord | None:
        """Saves what the token endpoint answered, only over the refresh token that was spent."""
        column = JiraAccount.refresh_token_enc
        unchanged = column.is_(None) if spent is None else column == spent
        async with self._db.transaction() as session:
            row = await session.scalar(select(JiraAccount).where(JiraAccount.id == account_id, unchanged))
            if row is not None:
                if tokens is None:
                    _break_link(session, row, now)
                else:
                    row.access_token_enc = self._enc.encrypt(tokens.access_token)
                    if tokens.refresh_token is not None:
                        row.refresh_token_enc = self._enc.encrypt(tokens.refresh_token)
                    row.expires_at = tokens.expires_at
                    if tokens.scopes:
                        row.scopes = tokens.scopes
                    row.refreshed_at = now
                row.updated_at = now
                await session.flush()
                return self.record(row)
        log.info("jira.oauth.refresh_superseded", extra={"account_id": account_id})
        return await self.get_by_id(account_id)

    async def mark_needs_reconnect(self, account_id: int, now: datetime) -> bool:
        """Marks a link as needing a reconnect; True if it changed."""
        async with self._db.transaction() as session:
            # One conditional UPDATE, not a read then a write: on SQLite a read takes no lock, so two
            # tasks could both see the link healthy and both break it (two audit rows).
            changed = await session.execute(
                update(JiraAccount)
                .where(JiraAccount.id == account_id, JiraAccount.status != LinkStatus.NEEDS_RECONNECT.value)
                .values(status=LinkStatus.NEEDS_RECONNECT.value)
            )
            if changed.rowcount != 1:
                return False
            row = await session.get(JiraAccount, account_id, populate_existing=True)
            if row is not None:
                _break_link(session, row, now)
            return True

    async def claim_reconnect_notice(self, account_id: int, now: datetime) -> bool:
        """True exactly once per broken link: the caller then tells the user."""
        async with self._db.transaction() as session:
            # Atomic on both databases (a read-then-write is not on SQLite, where a read takes no lock):
            # two tasks that find the same revoked grant at once send one message between them.
            claimed = await session.execute(
                update(JiraAccount)
                .where(JiraAccount.id == account_id, JiraAccount.reconnect_notified_at.is_(None))
                .values(reconnect_notified_at=now)
            )
            return claimed.rowcount == 1

    async def set_last_project(self, account_id: int, project_key: str) -> None:
        async with self._db.transaction() as session:
            row = await session.get(JiraAccount, account_id)
            if row is not None:
                row.last_project_key = project_key

    async def count_by_status(self) -> dict[str, int]:
        """Links of every workspace by status (each status present, zero or not): one COUNT."""
        async with self._db.connection() as connection:
            rows = await connection.execute(
                select(JiraAccount.status, func.count()).group_by(JiraAccount.status)
            )
            found = {str(status): int(count) for status, count in rows}
        return {status.value: found.get(status.value, 0) for status in LinkStatus}

    async def list_needing_refresh(self, *, expiring_before: datetime, idle_since: datetime) -> list[int]:
        """Linked accounts whose access token expires soon or whose refresh token sat idle too long."""
        async with self._db.transaction() as session:
            ids = await session.scalars(
                select(JiraAccount.id).where(
                    JiraAccount.status == LinkStatus.LINKED.value,
                    JiraAccount.refresh_token_enc.is_not(None),
                    or_(
                        JiraAccount.expires_at.is_(None),
                        JiraAccount.expires_at <= expiring_before,
                        JiraAccount.refreshed_at.is_(None),
                        JiraAccount.refreshed_at <= idle_since,
                    ),
                )
            )
            return list(ids)

    async def list_broken_unnotified(self) -> list[AccountRecord]:
        async with self._db.transaction() as session:
            rows = await session.scalars(
                select(JiraAccount).where(
                    JiraAccount.status == LinkStatus.NEEDS_RECONNECT.value,
                    JiraAccount.reconnect_notified_at.is_(None),
                )
            )
            return [self.record(row) for row in rows]

    async def list_cloud_accounts(self) -> list[AccountRecord]:
        async with self._db.transaction() as session:
            rows = await session.scalars(
                select(JiraAccount)
                .join(TenantInstall, TenantInstall.id == JiraAccount.tenant_id)
                .where(TenantInstall.kind == "cloud", JiraAccount.jira_account_id.is_not(None))
                .order_by(JiraAccount.id)
            )
            return [self.record(row) for row in rows]

    async def erase_jira_account(self, jira_account_id: str, *, now: datetime, reason: str) -> int:
        """Erases everything stored about a Jira account (links, tokens, name, email, and the name and
        email in earlier audit entries about it), with an audit entry per link removed."""
        async with self._db.transaction() as session:
            earlier = await session.scalars(select(AuditEntry).where(AuditEntry.subject == jira_account_id))
            for entry in earlier:
                if entry.detail and PERSONAL_DETAIL_KEYS & entry.detail.keys():
                    entry.detail = {k: v for k, v in entry.detail.items() if k not in PERSONAL_DETAIL_KEYS}
            rows = list(
                await session.scalars(
                    select(JiraAccount).where(JiraAccount.jira_account_id == jira_account_id)
                )
            )
            for row in rows:
                session.add(
                    audit_entry(
                        team_id=row.team_id,
                        actor="system",
                        action="account.erased",
                        subject=jira_account_id,
                        detail={"reason": reason, "slack_user_id": row.slack_user_id},
                        now=now,
                    )
                )
            await session.execute(delete(JiraAccount).where(JiraAccount.jira_account_id == jira_account_id))
        if not await self._db.flush_erasure():
            log.warning("storage.erasure.checkpoint_busy", extra={"links": len(rows)})
        return len(rows)

    async def list_personal_data(self) -> list[PersonalDataEntry]:
        """Atlassian account ids stored for Jira Cloud links, one entry per account id.

        `as_of` is when the stored name and email were last known current: the later of the link time
        and `personal_data_reported_at` (set when a report confirmed them or they were fetched again);
        for an account linked in several workspaces, the earliest of those.
        """
        async with self._db.transaction() as session:
            rows = await session.execute(
                select(
                    JiraAccount.jira_account_id, JiraAccount.linked_at, JiraAccount.personal_data_reported_at
                )
                .join(TenantInstall, TenantInstall.id == JiraAccount.tenant_id)
                .where(TenantInstall.kind == "cloud", JiraAccount.jira_account_id.is_not(None))
            )
            as_of: dict[str, datetime] = {}
            for account_id, linked_at, confirmed_at in rows:
                if account_id is None:
                    continue
                current = max(linked_at, confirmed_at) if confirmed_at is not None else linked_at
                as_of[account_id] = min(current, as_of.get(account_id, current))
        return [PersonalDataEntry(account_id, as_of[account_id]) for account_id in sorted(as_of)]

    async def mark_personal_data_current(self, jira_account_ids: list[str], now: datetime) -> int:
        """Records that a report confirmed the stored data of these accounts as current."""
        if not jira_account_ids:
            return 0
        async with self._db.transaction() as session:
            result = await session.execute(
                update(JiraAccount)
                .where(JiraAccount.jira_account_id.in_(jira_account_ids))
                .values(personal_data_reported_at=now)
            )
            return int(result.rowcount or 0)

    async def list_by_jira_account(self, jira_account_id: str) -> list[AccountRecord]:
        async with self._db.transaction() as session:
            rows = await session.scalars(
                select(JiraAccount)
                .where(JiraAccount.jira_account_id == jira_account_id)
                .order_by(JiraAccount.id)
            )
            return [self.record(row) for row in rows]

    async def update_identity(
        self, account_id: int, *, display_name: str | None, email: str | None, now: datetime
    ) -> bool:
        """Stores a freshly fetched name and email, current as of `now`; False if the link is gone."""
        async with self._db.transaction() as session:
            row = await session.get(JiraAccount, account_id)
            if row is None:
                return False
            row.display_name = display_name
            row.email = email
            row.personal_data_reported_at = now
            row.updated_at = now
            return True

    async def delete_for_user(self, team_id: str, slack_user_id: str, *, now: datetime, reason: str) -> bool:
        return await self.unlink(team_id, slack_user_id, actor=f"system:{reason}", now=now)

    async def rotate_secrets(self) -> int:
        """Re-encrypts tokens stored under an older key; returns how many values were rewritten."""
        rotated = 0
        async with self._db.transaction() as session:
            rows = await session.scalars(select(JiraAccount))
            for row in rows:
                for column in ("access_token_enc", "refresh_token_enc"):
                    value = getattr(row, column)
                    if value is not None and self._enc.needs_rotation(value):
                        setattr(row, column, self._enc.rotate(value))
                        rotated += 1
        return rotated


async def _holder(session: AsyncSession, team_id: str, jira_account_id: str, besides: str) -> str | None:
    return await session.scalar(
        select(JiraAccount.slack_user_id)
        .where(
            JiraAccount.team_id == team_id,
            JiraAccount.jira_account_id == jira_account_id,
            JiraAccount.slack_user_id != besides,
        )
        .limit(1)
    )


def _break_link(session: AsyncSession, row: JiraAccount, now: datetime) -> None:
    """The link needs a reconnect: its access token is dropped, and the audit log says so."""
    row.status = LinkStatus.NEEDS_RECONNECT.value
    row.access_token_enc = None
    row.updated_at = now
    session.add(
        audit_entry(
            team_id=row.team_id,
            actor="system",
            action="account.needs_reconnect",
            subject=row.jira_account_id,
            detail={"slack_user_id": row.slack_user_id},
            now=now,
        )
    )
