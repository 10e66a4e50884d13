"""Authorizations waiting for the browser's confirmation: single-use, bound to one browser, expiring."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update

from storage.crypto import Encryptor
from storage.database import Database
from storage.models import OAuthConfirmation


class ConfirmationRejection(enum.StrEnum):
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED = "used"
    OTHER_BROWSER = "other_browser"


class ConfirmationRejected(Exception):
    def __init__(self, reason: ConfirmationRejection, record: ConfirmationRecord | None = None) -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.record = record


@dataclass(frozen=True)
class ConfirmationRecord:
    team_id: str
    enterprise_id: str | None
    slack_user_id: str
    purpose: str
    result: str
    expires_at: datetime


class ConfirmationRepository:
    def __init__(self, db: Database, encryptor: Encryptor) -> None:
        self._db = db
        self._enc = encryptor

    def _record(self, row: OAuthConfirmation) -> ConfirmationRecord:
        return ConfirmationRecord(
            team_id=row.team_id,
            enterprise_id=row.enterprise_id,
            slack_user_id=row.slack_user_id,
            purpose=row.purpose,
            result=self._enc.decrypt(row.result_enc),
            expires_at=row.expires_at,
        )

    async def create(
        self,
        *,
        token_hash: str,
        browser_hash: str,
        team_id: str,
        enterprise_id: str | None,
        slack_user_id: str,
        purpose: str,
        result: str,
        now: datetime,
        expires_at: datetime,
    ) -> None:
        async with self._db.transaction() as session:
            session.add(
                OAuthConfirmation(
                    token_hash=token_hash,
                    browser_hash=browser_hash,
                    team_id=team_id,
                    enterprise_id=enterprise_id,
                    slack_user_id=slack_user_id,
                    purpose=purpose,
                    result_enc=self._enc.encrypt(result),
                    created_at=now,
                    expires_at=expires_at,
                )
            )

    async def take(self, token_hash: str, browser_hash: str, now: datetime) -> ConfirmationRecord:
        """Uses the confirmation once, from its own browser only; raises ConfirmationRejected. A try from
        another browser leaves it as it was."""
        async with self._db.transaction() as session:
            result = await session.execute(
                update(OAuthConfirmation)
                .where(
                    OAuthConfirmation.token_hash == token_hash,
                    OAuthConfirmation.browser_hash == browser_hash,
                    OAuthConfirmation.consumed_at.is_(None),
                    OAuthConfirmation.expires_at > now,
                )
                .values(consumed_at=now)
            )
            row = await session.scalar(
                select(OAuthConfirmation).where(OAuthConfirmation.token_hash == token_hash)
            )
            if row is None:
                raise ConfirmationRejected(ConfirmationRejection.UNKNOWN)
            record = self._record(row)
            if result.rowcount == 1:
                # What it held is no longer needed once used: the tokens live on in the link.
                row.result_enc = self._enc.encrypt("{}")
                return record
            if row.consumed_at is not None:
                raise ConfirmationRejected(ConfirmationRejection.USED, record)
            if row.expires_at <= now:
                raise ConfirmationRejected(ConfirmationRejection.EXPIRED, record)
            raise ConfirmationRejected(ConfirmationRejection.OTHER_BROWSER, record)

    async def delete_expired(self, now: datetime) -> int:
        async with self._db.transaction() as session:
            result = await session.execute(
                delete(OAuthConfirmation).where(OAuthConfirmation.expires_at <= now)
            )
            return int(result.rowcount or 0)

    async def rotate_secrets(self) -> int:
        rotated = 0
        async with self._db.transaction() as session:
            for row in await session.scalars(select(OAuthConfirmation)):
                if self._enc.needs_rotation(row.result_enc):
                    row.result_enc = self._enc.rotate(row.result_enc)
                    rotated += 1
        return rotated
