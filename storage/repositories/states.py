"""OAuth states for Jira authorizations: single-use, bound, short-lived."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.crypto import Encryptor
from storage.database import Database
from storage.models import SLACK_OAUTH_STATES_TABLE, Base, OAuthState


class StateRejection(enum.StrEnum):
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED = "used"
    OTHER_BROWSER = "other_browser"


class StateRejected(Exception):
    def __init__(self, reason: StateRejection, record: StateRecord | None = None) -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.record = record


@dataclass(frozen=True)
class StateRecord:
    team_id: str
    enterprise_id: str | None
    slack_user_id: str
    purpose: str
    code_verifier: str | None
    payload: str | None
    created_at: datetime
    expires_at: datetime


class StateRepository:
    def __init__(self, db: Database, encryptor: Encryptor) -> None:
        self._db = db
        self._enc = encryptor

    def _record(self, row: OAuthState) -> StateRecord:
        return StateRecord(
            team_id=row.team_id,
            enterprise_id=row.enterprise_id,
            slack_user_id=row.slack_user_id,
            purpose=row.purpose,
            code_verifier=self._enc.decrypt_optional(row.code_verifier_enc),
            payload=self._enc.decrypt_optional(row.payload_enc),
            created_at=row.created_at,
            expires_at=row.expires_at,
        )

    async def create(
        self,
        *,
        state_hash: str,
        team_id: str,
        enterprise_id: str | None,
        slack_user_id: str,
        purpose: str,
        code_verifier: str | None,
        payload: str | None,
        now: datetime,
        expires_at: datetime,
    ) -> None:
        async with self._db.transaction() as session:
            session.add(
                OAuthState(
                    state_hash=state_hash,
                    team_id=team_id,
                    enterprise_id=enterprise_id,
                    slack_user_id=slack_user_id,
                    purpose=purpose,
                    code_verifier_enc=self._enc.encrypt_optional(code_verifier),
                    payload_enc=self._enc.encrypt_optional(payload),
                    created_at=now,
                    expires_at=expires_at,
                )
            )

    async def claim(self, state_hash: str, browser_hash: str, now: datetime) -> StateRecord:
        """Binds an open state to the browser that opened its link first (again: the same browser is
        fine); raises StateRejected(unknown|expired|used|other_browser)."""
        async with self._db.transaction() as session:
            result = await session.execute(
                update(OAuthState)
                .where(
                    OAuthState.state_hash == state_hash,
                    OAuthState.consumed_at.is_(None),
                    OAuthState.expires_at > now,
                    or_(OAuthState.browser_hash.is_(None), OAuthState.browser_hash == browser_hash),
                )
                .values(browser_hash=browser_hash)
            )
            return await self._outcome(session, state_hash, now, result.rowcount == 1)

    async def consume(self, state_hash: str, now: datetime, browser_hash: str | None = None) -> StateRecord:
        """Marks the state used, atomically; raises StateRejected(unknown|expired|used|other_browser).

        With `browser_hash`, only the browser the state was claimed by may use it (another browser
        leaves it as it was)."""
        conditions = [
            OAuthState.state_hash == state_hash,
            OAuthState.consumed_at.is_(None),
            OAuthState.expires_at > now,
        ]
        if browser_hash is not None:
            conditions.append(OAuthState.browser_hash == browser_hash)
        async with self._db.transaction() as session:
            result = await session.execute(update(OAuthState).where(*conditions).values(consumed_at=now))
            return await self._outcome(session, state_hash, now, result.rowcount == 1)

    async def _outcome(
        self, session: AsyncSession, state_hash: str, now: datetime, changed: bool
    ) -> StateRecord:
        row = await session.scalar(select(OAuthState).where(OAuthState.state_hash == state_hash))
        if row is None:
            raise StateRejected(StateRejection.UNKNOWN)
        record = self._record(row)
        if changed:
            return record
        if row.consumed_at is not None:
            raise StateRejected(StateRejection.USED, record)
        if row.expires_at <= now:
            raise StateRejected(StateRejection.EXPIRED, record)
        raise StateRejected(StateRejection.OTHER_BROWSER, record)

    async def delete_expired(self, now: datetime) -> int:
        """Deletes states past their expiry (used or not)."""
        async with self._db.transaction() as session:
            result = await session.execute(delete(OAuthState).where(OAuthState.expires_at <= now))
            return int(result.rowcount or 0)

    async def delete_expired_slack_states(self, now: datetime) -> int:
        """Deletes expired states of the Slack install flow (slack_sdk's table, naive UTC times)."""
        table = Base.metadata.tables[SLACK_OAUTH_STATES_TABLE]
        naive_now = now.astimezone(UTC).replace(tzinfo=None)
        async with self._db.transaction() as session:
            result = await session.execute(delete(table).where(table.c.expire_at <= naive_now))
            return int(result.rowcount or 0)

    async def rotate_secrets(self) -> int:
        """Re-encrypts PKCE verifiers and install details stored under an older key; returns how many."""
        rotated = 0
        async with self._db.transaction() as session:
            rows = await session.scalars(select(OAuthState))
            for row in rows:
                for column in ("code_verifier_enc", "payload_enc"):
                    value = getattr(row, column)
                    if value is not None and self._enc.needs_rotation(value):
                        setattr(row, column, self._enc.rotate(value))
                        rotated += 1
        return rotated
