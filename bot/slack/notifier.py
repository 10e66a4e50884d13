"""Telling people things in Slack outside the answer to their request: the thread reply after an issue
is created (or its fallbacks), direct messages, the reconnect DM, and refreshing their App Home.

Services return data; this is where it is rendered (with the builders in bot/slack/views) and posted.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.actors import Actor
from bot.form_state import ModalState
from bot.jira.issues import IssueSnapshot
from bot.services.admins import AdminPolicy
from bot.services.issues import IssueCreated
from bot.services.linking import LinkingService
from bot.slack.app import SlackGateway
from bot.slack.thread_reply import Delivery, reply_in_thread, tell
from bot.slack.views import create_issue as create_issue_views
from bot.slack.views.linking import build_home_view, build_reconnect_dm
from storage.repositories.accounts import AccountRecord
from storage.repositories.tenants import TenantRecord

log = logging.getLogger(__name__)

Message = dict[str, Any]
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

    async def client_for(self, team_id: str, enterprise_id: str | None = None) -> AsyncWebClient | None:
        client = await self._gateway.client_for(team_id, enterprise_id)
        if client is None:
            log.warning("slack.no_client_for_team", extra={"team_id": team_id})
        return client

    # Direct messages ------------------------------------------------------------------------------
    async def dm(
        self,
        team_id: str,
        slack_user_id: str,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        enterprise_id: str | None = None,
    ) -> bool:
        client = await self.client_for(team_id, enterprise_id)
        if client is None:
            return False
        return await self.tell(client, Actor(team_id, enterprise_id, slack_user_id),
                               {"text": text, "blocks": blocks})

    async def tell(self, client: AsyncWebClient, actor: Actor, message: Message) -> bool:
        """A direct message to the user; False when Slack refused it."""
        return await tell(client, actor, message)

    # After an issue is created --------------------------------------------------------------------
    async def announce(self, client: AsyncWebClient, actor: Actor, state: ModalState, reply: Message,
                       fallback: Message) -> Delivery:
        """Posts ``reply`` in the source message's thread; where the bot cannot post there, shows
        ``fallback`` to the user ephemerally, or else by DM."""
        thread_ts = (state.thread_ts or state.message_ts) if state.from_message else None
        return await reply_in_thread(client, actor, channel_id=state.channel_id, thread_ts=thread_ts,
                                     reply=reply, fallback=fallback)

    async def announce_created(self, client: AsyncWebClient, actor: Actor, state: ModalState,
                               issue: IssueCreated, card: IssueSnapshot | None = None, *,
                               full: bool = True) -> Delivery:
        """The thread reply for a created issue (its card, as the creator read it, when there is one),
        or the notice to its creator."""
        reply = create_issue_views.build_thread_reply(issue, actor.user_id, card, full=full)
        return await self.announce(client, actor, state, reply=reply,
                                   fallback=create_issue_views.build_created_notice(issue, state))

    # App Home and links -----------------------------------------------------------------------------
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
