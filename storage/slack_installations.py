"""slack_sdk's SQLAlchemy installation store, with Slack tokens encrypted at rest.

The tables and queries are slack_sdk's; only the token fields change on their way in and out.
"""

from __future__ import annotations

import copy
import logging
from typing import TypeVar

from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.crypto import Encryptor

log = logging.getLogger(__name__)

INSTALLATION_TOKEN_FIELDS = ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token")
BOT_TOKEN_FIELDS = ("bot_token", "bot_refresh_token")
SLACK_TOKEN_PREFIX = "xox"  # every Slack token (xoxb-, xoxp-, xoxe-…); ciphertext never starts so

Record = TypeVar("Record", Installation, Bot)


class EncryptedInstallationStore(AsyncSQLAlchemyInstallationStore):
    def __init__(
        self,
        client_id: str,
        engine: AsyncEngine,
        encryptor: Encryptor,
        *,
        bots_table_name: str,
        installations_table_name: str,
    ) -> None:
        super().__init__(
            client_id=client_id,
            engine=engine,
            bots_table_name=bots_table_name,
            installations_table_name=installations_table_name,
        )
        self._enc = encryptor

    def _sealed(self, record: Record, fields: tuple[str, ...]) -> Record:
        sealed = copy.copy(record)
        for name in fields:
            value = getattr(sealed, name, None)
            if isinstance(value, str) and value.startswith(SLACK_TOKEN_PREFIX):
                setattr(sealed, name, self._enc.encrypt(value))
        return sealed

    def _opened(self, record: Record | None, fields: tuple[str, ...]) -> Record | None:
        if record is None:
            return None
        for name in fields:
            value = getattr(record, name, None)
            if isinstance(value, str) and value and not value.startswith(SLACK_TOKEN_PREFIX):
                setattr(record, name, self._enc.decrypt(value))
        return record

    async def async_save(self, installation: Installation) -> None:
        await super().async_save(self._sealed(installation, INSTALLATION_TOKEN_FIELDS))

    async def async_save_bot(self, bot: Bot) -> None:
        await super().async_save_bot(self._sealed(bot, BOT_TOKEN_FIELDS))

    async def async_find_bot(
        self, *, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False
    ) -> Bot | None:
        bot = await super().async_find_bot(
            enterprise_id=enterprise_id, team_id=team_id, is_enterprise_install=is_enterprise_install
        )
        return self._opened(bot, BOT_TOKEN_FIELDS)

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        installation = await super().async_find_installation(
            enterprise_id=enterprise_id,
            team_id=team_id,
            user_id=user_id,
            is_enterprise_install=is_enterprise_install,
        )
        return self._opened(installation, INSTALLATION_TOKEN_FIELDS)

    async def rotate_secrets(self) -> int:
        """Re-encrypts tokens stored under an older key (and seals any stored in plain text)."""
        rotated = 0
        async with self.engine.begin() as connection:
            for table, fields in (
                (self.installations, INSTALLATION_TOKEN_FIELDS),
                (self.bots, BOT_TOKEN_FIELDS),
            ):
                columns = [table.c[name] for name in fields]
                rows = (await connection.execute(select(table.c.id, *columns))).mappings().all()
                for row in rows:
                    changes = {}
                    for name in fields:
                        value = row[name]
                        if not value:
                            continue
                        if value.startswith(SLACK_TOKEN_PREFIX):
                            changes[name] = self._enc.encrypt(value)
                        elif self._enc.needs_rotation(value):
                            changes[name] = self._enc.rotate(value)
                    if changes:
                        await connection.execute(
                            update(table).where(table.c.id == row["id"]).values(**changes)
                        )
                        rotated += len(changes)
        return rotated
