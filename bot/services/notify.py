"""Telling people things outside a Slack request: DMs, and refreshing their App Home."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.services.admins import AdminPolicy
from bot.services.linking import LinkingService
from bot.slack.app import SlackGateway
from bot.slack.views.linking import build_home_view, build_reconnect_dm
from storage.repositories.accounts import AccountRecord
from storage.repositories.tenants import TenantRecord

log = logging.getLogger(__name__)

HomeSection = Callable[[str, str, bool], Awaitable[list[dict[str, Any]]]]


class Notifier:
    def __init__(self, gateway: SlackGateway, linking: LinkingService, admins: AdminPolicy) -> None:
        self._gateway = gateway
        self._linking = linking
        self._admins = admins
        self._home_sections: list[HomeSection] = []

    def add_home_section(self, section: HomeSection) -> None:
        """More App Home blocks: `section(team_id, user_id, is_admin)` returns them (features add theirs)."""
        self._home_sections.append(section)

    async def dm(
        self,
        team_id: str,
        slack_user_id: str,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        enterprise_id: str | None = None,
    ) -> bool:
        client = await self._gateway.client_for(team_id, enterprise_id)
        if client is None:
            log.warning("slack.no_client_for_team", extra={"team_id": team_id})
            return False
        try:
            await client.chat_postMessage(channel=slack_user_id, text=text, blocks=blocks)
            return True
        except SlackApiError as exc:
            log.warning(
                "slack.dm_failed",
                extra={
                    "team_id": team_id,
                    "slack_user_id": slack_user_id,
                    "error": exc.response.get("error"),
                },
            )
            return False

    async def publish_home(self, client: AsyncWebClient, team_id: str, slack_user_id: str) -> None:
        status = await self._linking.status(team_id, slack_user_id)
        admin = None
        if status.tenant is not None and await self._admins.is_admin(client, slack_user_id):
            admin = await self._linking.admin_status(team_id)
        view = build_home_view(status, admin)
        for section in self._home_sections:
            try:
                view["blocks"] += await section(team_id, slack_user_id, admin is not None)
            except Exception:
                log.exception("slack.home_section_failed")
        try:
            await client.views_publish(user_id=slack_user_id, view=view)
        except SlackApiError as exc:
            log.warning(
                "slack.home_publish_failed", extra={"team_id": team_id, "error": exc.response.get("error")}
            )

    async def refresh_home(self, team_id: str, slack_user_id: str, enterprise_id: str | None = None) -> None:
        client = await self._gateway.client_for(team_id, enterprise_id)
        if client is not None:
            await self.publish_home(client, team_id, slack_user_id)

    async def reconnect_needed(self, tenant: TenantRecord, account: AccountRecord) -> None:
        message = build_reconnect_dm(tenant.site_host)
        await self.dm(
            tenant.team_id, account.slack_user_id, message["text"], message["blocks"], tenant.enterprise_id
        )
        await self.refresh_home(tenant.team_id, account.slack_user_id, tenant.enterprise_id)
