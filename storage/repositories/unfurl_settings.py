"""A workspace's unfurl policy (one row per tenant install; none means the defaults)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from storage.database import Database
from storage.models import UnfurlSetting
from storage.repositories.audit import audit_entry


class UnfurlSettingsRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def full_restricted(self, tenant_id: int) -> bool:
        """Whether issues with a security level unfurl in full (off unless an admin turned it on)."""
        async with self._db.connection() as connection:
            value = await connection.scalar(
                select(UnfurlSetting.full_restricted).where(UnfurlSetting.tenant_id == tenant_id)
            )
        return bool(value)

    async def set_full_restricted(
        self, tenant_id: int, team_id: str, enabled: bool, *, actor: str, now: datetime
    ) -> None:
        async with self._db.transaction() as session:
            row = await session.get(UnfurlSetting, tenant_id)
            if row is None:
                session.add(
                    UnfurlSetting(
                        tenant_id=tenant_id, full_restricted=enabled, updated_by=actor, updated_at=now
                    )
                )
            else:
                row.full_restricted = enabled
                row.updated_by = actor
                row.updated_at = now
            session.add(
                audit_entry(
                    team_id=team_id,
                    actor=actor,
                    action="unfurls.restricted_on" if enabled else "unfurls.restricted_off",
                    subject=None,
                    detail=None,
                    now=now,
                )
            )
