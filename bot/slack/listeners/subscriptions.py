"""Listeners of channel subscriptions: `/jira subscribe` (the modal), `/jira subscriptions` (the list and its
Remove buttons), and the Data Center webhook setup added to `/jira admin status`."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.services.admins import AdminPolicy
from bot.services.linking import LinkingService
from bot.services.projects import ProjectDirectory
from bot.services.subscriptions import (
    FIELD_EVENTS,
    FIELD_JQL,
    FIELD_PROJECT,
    NotLinked,
    SubscribeOutcome,
    SubscribeRequest,
    SubscriptionService,
    needs_webhook_scope,
)
from bot.slack import ids
from bot.slack.context import actor_of
from bot.slack.listeners.commands import CommandRouter
from bot.slack.listeners.errors import guarded
from bot.slack.views import subscriptions as views
from bot.slack.views.blocks import section
from bot.slack.views.create_issue import project_options

log = logging.getLogger(__name__)

ACK_BUDGET = 2.0
FORM_BLOCKS = {
    FIELD_PROJECT: ids.BLOCK_SUB_PROJECT,
    FIELD_EVENTS: ids.BLOCK_SUB_EVENTS,
    FIELD_JQL: ids.BLOCK_SUB_JQL,
}
RECONNECT_TEXT = (
    "Channel subscriptions need one more Jira permission (managing webhooks) that your link "
    "does not have yet. Reconnect once to grant it; nothing else changes."
)


@dataclass
class SubscriptionListeners:
    subscriptions: SubscriptionService
    linking: LinkingService
    projects: ProjectDirectory
    admins: AdminPolicy
    refresh_home: Any
    ack_budget: float = ACK_BUDGET

    async def subscribe_command(
        self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext, **_: Any
    ) -> None:
        actor = actor_of(context)
        channel = str(body.get("channel_id") or "")
        if not channel.startswith(("C", "G")):
            await ack(text=views.NOT_A_CHANNEL)
            return
        try:
            tenant, account = await self.subscriptions.linked(actor.team_id, actor.user_id)
        except NotLinked:
            await ack(text=views.NOT_LINKED)
            return
        await ack()
        try:
            opened = await client.views_open(
                trigger_id=body.get("trigger_id"), view=views.build_subscribe_modal(channel)
            )
        except SlackApiError as exc:
            log.warning("slack.view.open_failed", extra={"error": exc.response.get("error")})
            return
        view_id = opened["view"]["id"]
        problem = None
        if needs_webhook_scope(tenant, account):
            problem = await self._reconnect_view(actor.team_id, actor.enterprise_id, actor.user_id)
        elif not await self._bot_is_member(client, channel):
            problem = views.build_info_view("Invite me first", views.bot_not_in_channel(channel))
        if problem is not None:
            await self._show(client, view_id, problem)

    async def _bot_is_member(self, client: AsyncWebClient, channel: str) -> bool:
        try:
            info = await client.conversations_info(channel=channel)
        except SlackApiError as exc:
            log.info("slack.channel.info_failed", extra={"error": exc.response.get("error")})
            return False
        return bool((info.get("channel") or {}).get("is_member"))

    async def _reconnect_view(self, team_id: str, enterprise_id: str | None, user_id: str) -> dict[str, Any]:
        url = await self.linking.begin_link(
            team_id=team_id, enterprise_id=enterprise_id, slack_user_id=user_id
        )
        return views.build_info_view("Reconnect to Jira", RECONNECT_TEXT, url=url, label="Reconnect to Jira")

    async def _show(self, client: AsyncWebClient, view_id: str, view: dict[str, Any]) -> None:
        try:
            await client.views_update(view_id=view_id, view=view)
        except SlackApiError as exc:
            log.info("slack.view.update_failed", extra={"error": exc.response.get("error")})

    async def on_project_options(
        self, ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        actor = actor_of(context)
        projects = await self.projects.search(actor.team_id, actor.user_id, body.get("value") or "")
        await ack(options=project_options(projects))

    async def on_submit(
        self, ack: AsyncAck, view: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        actor = actor_of(context)
        form = views.read_subscribe_form(view)
        request = SubscribeRequest(
            team_id=actor.team_id,
            user_id=actor.user_id,
            channel_id=form.channel_id,
            project_key=form.project_key,
            events=form.events,
            jql=form.jql,
        )
        work = asyncio.ensure_future(self._subscribe(request, actor.enterprise_id))
        done, _ = await asyncio.wait({work}, timeout=self.ack_budget)
        if work in done:
            outcome, result_view = work.result()
            if outcome is not None and outcome.errors:
                await ack(
                    response_action="errors",
                    errors={FORM_BLOCKS.get(k, k): v for k, v in outcome.errors.items()},
                )
                return
            await ack(response_action="update", view=result_view)
        else:
            await ack(
                response_action="update", view=views.build_info_view("Subscribing…", "Checking with Jira…")
            )
            outcome, result_view = await work
            if outcome is not None and outcome.errors:
                text = "Jira did not accept this subscription:\n" + "\n".join(outcome.errors.values())
                result_view = views.build_info_view("Not subscribed", text)
            await asyncio.sleep(0.5)
            await self._show(client, view["id"], result_view)
        if outcome is not None and outcome.subscription is not None:
            try:
                await client.chat_postMessage(
                    channel=form.channel_id, **views.build_subscribed_notice(outcome.subscription)
                )
            except SlackApiError as exc:
                log.info("slack.subscription.notice_failed", extra={"error": exc.response.get("error")})

    async def _subscribe(
        self, request: SubscribeRequest, enterprise_id: str | None
    ) -> tuple[SubscribeOutcome | None, dict[str, Any]]:
        try:
            outcome = await self.subscriptions.subscribe(request)
        except NotLinked:
            return None, views.build_info_view("Connect first", views.NOT_LINKED)
        if outcome.reconnect:
            return outcome, await self._reconnect_view(request.team_id, enterprise_id, request.user_id)
        if outcome.subscription is None:
            return outcome, views.build_info_view("Not subscribed", "\n".join(outcome.errors.values()))
        return outcome, views.build_subscribed_view(
            outcome.subscription, dc_setup_needed=outcome.dc_setup_needed
        )

    async def list_command(
        self, ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext, **_: Any
    ) -> None:
        actor = actor_of(context)
        subscriptions = await self.subscriptions.for_channel(actor.team_id, str(body.get("channel_id") or ""))
        message = views.build_subscriptions_message(subscriptions)
        message.pop("replace_original", None)
        await ack(**message)

    async def on_remove(
        self,
        ack: AsyncAck,
        body: dict[str, Any],
        client: AsyncWebClient,
        context: AsyncBoltContext,
        respond: AsyncRespond,
    ) -> None:
        await ack()
        actor = actor_of(context)
        action = (body.get("actions") or [{}])[0]
        try:
            subscription_id = int(action.get("value") or "")
        except ValueError:
            return
        is_admin = await self.admins.is_admin(client, actor.user_id)
        removed = await self.subscriptions.remove(
            actor.team_id, actor.user_id, subscription_id, is_admin=is_admin
        )
        note = views.ALREADY_GONE if removed is None else (views.NOT_ALLOWED if removed is False else None)
        if (body.get("view") or {}).get("type") == "home":
            if removed is not True:
                await client.chat_postMessage(channel=actor.user_id, text=note or "")
            await self.refresh_home(actor.team_id, actor.user_id, actor.enterprise_id)
            return
        channel = str((body.get("channel") or {}).get("id") or "")
        subscriptions = await self.subscriptions.for_channel(actor.team_id, channel)
        if removed is True:
            note = "Subscription removed."
        await respond(**views.build_subscriptions_message(subscriptions, note))

    def admin_status_addition(self, original: Any) -> Any:
        """`/jira admin status`, followed on Data Center by the webhook URL and secret for Jira's admin."""

        async def handler(
            ack: AsyncAck,
            respond: AsyncRespond,
            context: AsyncBoltContext,
            client: AsyncWebClient,
            **kwargs: Any,
        ) -> None:
            await original(ack=ack, respond=respond, context=context, client=client, **kwargs)
            actor = actor_of(context)
            if not await self.admins.is_admin(client, actor.user_id):
                return
            setup = await self.subscriptions.dc_setup(actor.team_id)
            if setup is None:
                return
            state = (
                "registered in Jira by the bot"
                if setup.registered
                else "not registered yet: a Jira administrator adds it under *Administration → System → "
                "WebHooks* with this URL and secret, for issue created, updated and comment created events"
            )
            text = f"*Jira webhook* ({state})\nURL: `{setup.url}`\nsecret: {setup.secret}"
            await respond(response_type="ephemeral", text=text, blocks=[section(text)])

        return handler


def register(app: AsyncApp, router: CommandRouter, listeners: SubscriptionListeners) -> None:
    router.add("subscribe", listeners.subscribe_command)
    router.add("subscriptions", listeners.list_command)
    original = router.get("admin status")
    if original is not None:
        router.add("admin status", listeners.admin_status_addition(original))
    app.options(ids.ACTION_SUB_PROJECT)(guarded(listeners.on_project_options))
    app.view(ids.VIEW_SUBSCRIBE)(guarded(listeners.on_submit))
    app.action(ids.ACTION_SUB_REMOVE)(guarded(listeners.on_remove))
