"""The message holding an issue's card in each channel: later events of the issue go in its thread."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from storage.database import Database
from storage.models import ChannelThread


class ThreadRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, team_id: str, channel_id: str, issue_key: str) -> str | None:
        table = ChannelThread.__table__
        async with self._db.connection() as connection:
            row = (
                await connection.execute(
                    select(table.c.message_ts).where(
                        table.c.team_id == team_id,
                        table.c.channel_id == channel_id,
                        table.c.issue_key == issue_key,
                    )
                )
            ).first()
        return None if row is None else str(row.message_ts)

    async def put(
        self, *, tenant_id: int, team_id: str, channel_id: str, issue_key: str, message_ts: str, now: datetime
    ) -> str:
        """Remembers the card's message; if one was remembered meanwhile, that one wins and is returned."""
        try:
            async with self._db.transaction() as session:
                session.add(
                    ChannelThread(
                        tenant_id=tenant_id,
                        team_id=team_id,
                        channel_id=channel_id,
                        issue_key=issue_key,
                        message_ts=message_ts,
                        created_at=now,
                    )
                )
            return message_ts
        except IntegrityError:
            existing = await self.get(team_id, channel_id, issue_key)
            return existing or message_ts

    async def forget(self, team_id: str, channel_id: str, issue_key: str) -> None:
        async with self._db.transaction() as session:
            await session.execute(
                delete(ChannelThread).where(
                    ChannelThread.team_id == team_id,
                    ChannelThread.channel_id == channel_id,
                    ChannelThread.issue_key == issue_key,
                )
            )
