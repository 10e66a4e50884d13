"""The audit log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select

from storage.database import Database
from storage.models import AuditEntry


@dataclass(frozen=True)
class AuditRecord:
    team_id: str | None
    actor: str
    action: str
    subject: str | None
    detail: dict[str, Any] | None
    created_at: datetime


def audit_entry(
    *,
    team_id: str | None,
    actor: str,
    action: str,
    now: datetime,
    subject: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """An audit row, for repositories that write one in the same transaction as their change."""
    return AuditEntry(
        team_id=team_id, actor=actor, action=action, subject=subject, detail=detail, created_at=now
    )


class AuditRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(
        self,
        *,
        team_id: str | None,
        actor: str,
        action: str,
        now: datetime,
        subject: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        async with self._db.transaction() as session:
            session.add(
                AuditEntry(
                    team_id=team_id,
                    actor=actor,
                    action=action,
                    subject=subject,
                    detail=detail,
                    created_at=now,
                )
            )

    async def list(self, team_id: str | None = None, action: str | None = None) -> list[AuditRecord]:
        async with self._db.transaction() as session:
            query = select(AuditEntry).order_by(AuditEntry.id)
            if team_id is not None:
                query = query.where(AuditEntry.team_id == team_id)
            if action is not None:
                query = query.where(AuditEntry.action == action)
            rows = await session.scalars(query)
            return [
                AuditRecord(r.team_id, r.actor, r.action, r.subject, r.detail, r.created_at) for r in rows
            ]

    async def prune(self, before: datetime) -> int:
        async with self._db.transaction() as session:
            result = await session.execute(delete(AuditEntry).where(AuditEntry.created_at < before))
            return int(result.rowcount or 0)
