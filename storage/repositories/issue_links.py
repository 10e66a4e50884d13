"""Slack messages and the Jira issues made from them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update

from storage.database import Database
from storage.models import ISSUE_LINK_ADDED, ISSUE_LINK_CREATED, IdempotencyKey, IssueLink, JiraAccount
from storage.repositories.idempotency import DONE


@dataclass(frozen=True)
class IssueLinkRecord:
    team_id: str
    channel_id: str | None
    message_ts: str | None
    issue_key: str
    issue_url: str
    summary: str | None
    created_by: str  # who created the issue, or added the message to it
    created_at: datetime
    kind: str = ISSUE_LINK_CREATED

    @property
    def added(self) -> bool:
        """The message was added to an issue that existed already (not created from it)."""
        return self.kind == ISSUE_LINK_ADDED


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
        row.kind or ISSUE_LINK_CREATED,
    )


class IssueLinkRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def record_created(
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
        idempotency_key: str,
        result: dict[str, Any],
        account_id: int,
        project_key: str,
        forget_keys: tuple[str, ...] = (),
    ) -> None:
        """Everything that follows a created issue, in one transaction: the submission's key marked
        done with its result, the message linked, the user's last project, and `forget_keys` (such as
        the form's draft) deleted."""
        async with self._db.connection() as connection:
            await connection.execute(
                update(IdempotencyKey.__table__)
                .where(IdempotencyKey.key == idempotency_key)
                .values(status=DONE, result=result)
            )
            await connection.execute(
                insert(IssueLink.__table__).values(
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
            await connection.execute(
                update(JiraAccount.__table__)
                .where(JiraAccount.id == account_id)
                .values(last_project_key=project_key)
            )
            if forget_keys:
                await connection.execute(
                    delete(IdempotencyKey.__table__).where(IdempotencyKey.key.in_(forget_keys))
                )

    async def record_added(
        self,
        *,
        team_id: str,
        channel_id: str,
        message_ts: str,
        issue_key: str,
        issue_url: str,
        summary: str | None,
        added_by: str,
        now: datetime,
        idempotency_key: str,
        result: dict[str, Any],
        forget_keys: tuple[str, ...] = (),
    ) -> None:
        """A message added to an existing issue, in one transaction: the submission's key marked done
        with its result, the message linked to the issue (once, however often it is added), and
        `forget_keys` deleted."""
        async with self._db.connection() as connection:
            await connection.execute(
                update(IdempotencyKey.__table__)
                .where(IdempotencyKey.key == idempotency_key)
                .values(status=DONE, result=result)
            )
            linked = (
                await connection.execute(
                    select(IssueLink.__table__.c.id).where(
                        IssueLink.team_id == team_id,
                        IssueLink.channel_id == channel_id,
                        IssueLink.message_ts == message_ts,
                        IssueLink.issue_key == issue_key,
                    )
                )
            ).first()
            if linked is None:
                await connection.execute(
                    insert(IssueLink.__table__).values(
                        team_id=team_id,
                        channel_id=channel_id,
                        message_ts=message_ts,
                        issue_key=issue_key,
                        issue_url=issue_url,
                        summary=summary,
                        created_by=added_by,
                        created_at=now,
                        kind=ISSUE_LINK_ADDED,
                    )
                )
            if forget_keys:
                await connection.execute(
                    delete(IdempotencyKey.__table__).where(IdempotencyKey.key.in_(forget_keys))
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
