"""Slack messages and the Jira issues made from them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from storage.database import Database
from storage.models import IssueLink


@dataclass(frozen=True)
class IssueLinkRecord:
    team_id: str
    channel_id: str | None
    message_ts: str | None
    issue_key: str
    issue_url: str
    summary: str | None
    created_by: str
    created_at: datetime


def _record(row: IssueLink) -> IssueLinkRecord:
    return IssueLinkRecord(
        row.team_id,
        row.channel_id,
        row.message_ts,
        row.issue_key,
        row.issue_url,
        row.summary,
        row.created_by,
        row.created_at,
    )


class IssueLinkRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(
        self,
        *,
        team_id: str,
        channel_id: str | None,
        message_ts: str | None,
        issue_key: str,
        issue_url: str,
        summary: str | None,
        created_by: str,
        now: datetime,
    ) -> None:
        async with self._db.transaction() as session:
            session.add(
                IssueLink(
                    team_id=team_id,
                    channel_id=channel_id,
                    message_ts=message_ts,
                    issue_key=issue_key,
                    issue_url=issue_url,
                    summary=summary,
                    created_by=created_by,
                    created_at=now,
                )
            )

    async def for_message(self, team_id: str, channel_id: str, message_ts: str) -> list[IssueLinkRecord]:
        async with self._db.transaction() as session:
            rows = await session.scalars(
                select(IssueLink)
                .where(
                    IssueLink.team_id == team_id,
                    IssueLink.channel_id == channel_id,
                    IssueLink.message_ts == message_ts,
                )
                .order_by(IssueLink.id)
            )
            return [_record(row) for row in rows]
