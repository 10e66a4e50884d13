"""Listeners of the linking flow: `/jira connect|disconnect|status|admin …`, its buttons and modal."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.jira.sites import SiteUrlError, is_cloud_host, parse_site_url
from bot.services.admins import AdminPolicy
from bot.services.linking import (
    AdminStatus,
    CloudNotConfigured,
    LinkingService,
    NotInstalled,
    OtherSiteInstalled,
)
from bot.services.projects import ProjectDirectory
from bot.slack import ids
from bot.slack.commands import JiraCommand
from bot.slack.context import Actor, actor_of
from bot.slack.listeners.commands import CommandRouter
from bot.slack.listeners.errors import guarded
from bot.slack.notifier import Notifier
from bot.slack.views import linking as views
from bot.slack.views.blocks import escape_mrkdwn, option

log = logging.getLogger(__name__)


@dataclass
class LinkingListeners:
    linking: LinkingService
    admins: AdminPolicy
    notifier: Notifier
    projects: ProjectDirectory
    redirect_uri: str
    cloud_available: bool
    # What JIRABOT_JIRA_HOSTS allows, in words for the install form.
    allowed_hosts: str | None = None

    # Slash subcommands -----------------------------------------------------------------------
    async def connect(
        self, ack: AsyncAck, respond: AsyncRespond, context: AsyncBoltContext, **_: Any
    ) -> None:
        await ack()
        actor = actor_of(context)
        status = await self.linking.status(actor.team_id, actor.user_id)
        if status.tenant is None:
            await respond(views.build_text_message(views.NOT_INSTALLED))
            return
        try:
            url = await self.linking.begin_link(
                team_id=actor.team_id, enterprise_id=actor.enterprise_id, slack_user_id=actor.user_id
            )
        except NotInstalled:
            await respond(views.build_text_message(views.NOT_INSTALLED))
            return
        except CloudNotConfigured:
            await respond(views.build_text_message(views.CLOUD_NOT_CONFIGURED))
            return
        if status.account is not None and not status.account.needs_reconnect:
            await respond(views.build_already_linked_message(status, url))
        else:
            await respond(
                views.build_connect_message(
                    url, status.tenant.site_host, reconnect=status.account is not None
                )
            )

    async def disconnect(
        self, ack: AsyncAck, respond: AsyncRespond, context: AsyncBoltContext, **_: Any
    ) -> None:
        await ack()
        actor = actor_of(context)
        status = await self.linking.status(actor.team_id, actor.user_id)
        if status.tenant is None:
            await respond(views.build_text_message(views.NOT_INSTALLED))
        elif status.account is None:
            await respond(views.build_text_message(views.NOT_LINKED))
        else:
            await respond(views.build_disconnect_prompt(status))

    async def status(self, ack: AsyncAck, respond: AsyncRespond, context: AsyncBoltContext, **_: Any) -> None:
        await ack()
        actor = actor_of(context)
        await respond(views.build_status_message(await self.linking.status(actor.team_id, actor.user_id)))

    async def _refuse_non_admin(
        self, client: AsyncWebClient, actor: Actor, respond: AsyncRespond, what: str
    ) -> bool:
        if await self.admins.is_admin(client, actor.user_id):
            return False
        log.warning(
            "slack.admin.refused",
            extra={"team_id": actor.team_id, "slack_user_id": actor.user_id, "command": what},
        )
        await respond(views.build_text_message(views.ADMINS_ONLY))
        return True

    async def admin_install(
        self,
        ack: AsyncAck,
        respond: AsyncRespond,
        context: AsyncBoltContext,
        client: AsyncWebClient,
        body: dict[str, Any],
        command: JiraCommand,
        **_: Any,
    ) -> None:
        await ack()
        actor = actor_of(context)
        if await self._refuse_non_admin(client, actor, respond, "admin install"):
            return
        site = None
        if command.args:
            try:
                site = parse_site_url(command.args)
            except SiteUrlError as exc:
                await respond(views.build_text_message(str(exc)))
                return
        if site is not None and site.cloud:
            try:
                url = await self.linking.begin_cloud_install(
                    team_id=actor.team_id,
                    enterprise_id=actor.enterprise_id,
                    slack_user_id=actor.user_id,
                    site_url=site.url,
                )
            except CloudNotConfigured:
                await respond(views.build_text_message(views.CLOUD_NOT_CONFIGURED))
                return
            except OtherSiteInstalled as exc:
                await respond(views.build_text_message(_other_site_text(exc)))
                return
            await respond(views.build_install_link_message(url, site.display, site.notes))
            return
        await client.views_open(
            trigger_id=body["trigger_id"],
            view=views.build_install_modal(
                self.redirect_uri,
                initial_url=site.url if site else None,
                cloud_available=self.cloud_available,
                allowed_hosts=self.allowed_hosts,
            ),
        )

    async def admin_status(
        self,
        ack: AsyncAck,
        respond: AsyncRespond,
        context: AsyncBoltContext,
        client: AsyncWebClient,
        **_: Any,
    ) -> None:
        status = await self._admin_view_of_install(
            ack, respond, context, client, "admin status", views.NOT_INSTALLED_FOR_ADMIN
        )
        if status is not None:
            await respond(views.build_admin_status_message(status))

    async def admin_uninstall(
        self,
        ack: AsyncAck,
        respond: AsyncRespond,
        context: AsyncBoltContext,
        client: AsyncWebClient,
        **_: Any,
    ) -> None:
        status = await self._admin_view_of_install(
            ack, respond, context, client, "admin uninstall", views.NOTHING_TO_UNINSTALL
        )
        if status is not None:
            await respond(views.build_uninstall_prompt(status))

    async def _admin_view_of_install(
        self,
        ack: AsyncAck,
        respond: AsyncRespond,
        context: AsyncBoltContext,
        client: AsyncWebClient,
        what: str,
        not_installed: str,
    ) -> AdminStatus | None:
        """Acks; then the install's status for an admin, or None once the user was told why not."""
        await ack()
        actor = actor_of(context)
        if await self._refuse_non_admin(client, actor, respond, what):
            return None
        status = await self.linking.admin_status(actor.team_id)
        if status is None:
            await respond(views.build_text_message(not_installed))
        return status

    # Buttons, modal, options ----------------------------------------------------------------
    async def on_link_button(self, ack: AsyncAck) -> None:
        await ack()  # a URL button: the browser does the work

    async def on_connect_start(
        self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        await ack()
        actor = actor_of(context)
        try:
            url = await self.linking.begin_link(
                team_id=actor.team_id, enterprise_id=actor.enterprise_id, slack_user_id=actor.user_id
            )
        except NotInstalled:
            view = views.build_info_modal("Jira", views.NOT_INSTALLED)
        except CloudNotConfigured:
            view = views.build_info_modal("Jira", views.CLOUD_NOT_CONFIGURED)
        else:
            view = views.build_authorize_modal(
                "Connect to Jira",
                "Link your Jira account: sign in to Jira and allow access.",
                url,
                button_text="Connect to Jira",
            )
        await client.views_open(trigger_id=body["trigger_id"], view=view)

    async def on_disconnect(
        self,
        ack: AsyncAck,
        body: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
        context: AsyncBoltContext,
    ) -> None:
        await ack()
        actor = actor_of(context)
        removed = await self.linking.disconnect(actor.team_id, actor.user_id)
        text = views.DISCONNECTED if removed else views.NOT_LINKED
        if body.get("container", {}).get("type") == "message" and body.get("response_url"):
            await respond(replace_original=True, text=text, blocks=views.build_text_message(text)["blocks"])
        await self.notifier.publish_home(client, actor.team_id, actor.user_id)

    async def on_uninstall(
        self, ack: AsyncAck, respond: AsyncRespond, client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        await ack()
        actor = actor_of(context)
        if await self._refuse_non_admin(client, actor, respond, "admin uninstall"):
            return
        removed = await self.linking.uninstall(actor.team_id, actor.user_id)
        if removed is None:
            text = "Jira was already disconnected from this workspace."
        else:
            text = (
                f"Done: this workspace is disconnected from Jira, and {removed} "
                f"link{'s' if removed != 1 else ''} removed."
            )
        await respond(replace_original=True, text=text, blocks=views.build_text_message(text)["blocks"])

    async def on_install_submit(
        self, ack: AsyncAck, view: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        actor = actor_of(context)
        values = view.get("state", {}).get("values", {})
        kind = _selected(values, ids.BLOCK_INSTALL_KIND) or "datacenter"
        raw_url = _text(values, ids.BLOCK_INSTALL_URL)
        client_id = _text(values, ids.BLOCK_INSTALL_CLIENT_ID)
        client_secret = _text(values, ids.BLOCK_INSTALL_CLIENT_SECRET)
        errors: dict[str, str] = {}
        site = None
        try:
            site = parse_site_url(raw_url)
        except SiteUrlError as exc:
            errors[ids.BLOCK_INSTALL_URL] = str(exc)[:150]
        if site is not None and kind == "cloud" and not site.cloud:
            errors[ids.BLOCK_INSTALL_URL] = "Jira Cloud sites look like https://your-company.atlassian.net"
        if site is not None and kind == "datacenter" and is_cloud_host(site.url.split("://")[-1]):
            errors[ids.BLOCK_INSTALL_URL] = "That is a Jira Cloud site: choose Jira Cloud above."
        if kind == "datacenter":
            if not client_id:
                errors[ids.BLOCK_INSTALL_CLIENT_ID] = "Paste the client ID of the incoming application link."
            if not client_secret:
                errors[ids.BLOCK_INSTALL_CLIENT_SECRET] = "Paste the client secret of the application link."
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        assert site is not None
        if not await self.admins.is_admin(client, actor.user_id):
            log.warning(
                "slack.admin.refused", extra={"team_id": actor.team_id, "slack_user_id": actor.user_id}
            )
            await ack(
                response_action="update", view=views.build_info_modal("Connect Jira", views.ADMINS_ONLY)
            )
            return
        try:
            if kind == "cloud":
                url = await self.linking.begin_cloud_install(
                    team_id=actor.team_id,
                    enterprise_id=actor.enterprise_id,
                    slack_user_id=actor.user_id,
                    site_url=site.url,
                )
            else:
                url = await self.linking.begin_datacenter_install(
                    team_id=actor.team_id,
                    enterprise_id=actor.enterprise_id,
                    slack_user_id=actor.user_id,
                    base_url=site.url,
                    client_id=client_id,
                    client_secret=client_secret,
                )
        except OtherSiteInstalled as exc:
            await ack(response_action="errors", errors={ids.BLOCK_INSTALL_URL: _other_site_text(exc)[:150]})
            return
        except CloudNotConfigured:
            await ack(
                response_action="errors", errors={ids.BLOCK_INSTALL_KIND: views.CLOUD_NOT_CONFIGURED[:150]}
            )
            return
        await ack(
            response_action="update",
            view=views.build_authorize_modal(
                "Connect Jira",
                f"Last step: authorize the connection to *{escape_mrkdwn(site.display)}* in Jira.",
                url,
                site.notes,
            ),
        )

    async def on_default_project_options(
        self, ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        actor = actor_of(context)
        projects = await self.projects.search(actor.team_id, actor.user_id, body.get("value") or "")
        await ack(options=[option(f"{p.name} ({p.key})", p.key) for p in projects[:100]])

    async def on_default_project(
        self,
        ack: AsyncAck,
        body: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
        context: AsyncBoltContext,
    ) -> None:
        await ack()
        actor = actor_of(context)
        if await self._refuse_non_admin(client, actor, respond, "admin default project"):
            return
        selected = (body.get("actions") or [{}])[0].get("selected_option") or {}
        key = selected.get("value")
        name = str(selected.get("text", {}).get("text", key or "")).rsplit(" (", 1)[0] if key else None
        await self.linking.set_default_project(actor.team_id, key, name, actor.user_id)
        if body.get("container", {}).get("type") == "message" and body.get("response_url"):
            status = await self.linking.admin_status(actor.team_id)
            if status is not None:
                await respond(
                    replace_original=True,
                    **{
                        k: v
                        for k, v in views.build_admin_status_message(status).items()
                        if k != "response_type"
                    },
                )
        else:
            await self.notifier.publish_home(client, actor.team_id, actor.user_id)

    async def on_home_opened(
        self, event: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        if event.get("tab", "home") != "home":
            return
        actor = actor_of(context)
        await self.notifier.publish_home(client, actor.team_id, event.get("user") or actor.user_id)


def _other_site_text(exc: OtherSiteInstalled) -> str:
    return (
        f"This workspace is already connected to {exc.tenant.site_host}. To connect a different "
        "site, run `/jira admin uninstall` first."
    )


def _state(values: dict[str, Any], block_id: str) -> dict[str, Any]:
    """The state of a block's (only) input, whatever its action_id."""
    actions = values.get(block_id) or {}
    return next(iter(actions.values()), {}) or {}


def _text(values: dict[str, Any], block_id: str) -> str:
    return str(_state(values, block_id).get("value") or "").strip()


def _selected(values: dict[str, Any], block_id: str) -> str | None:
    return (_state(values, block_id).get("selected_option") or {}).get("value")


def register(app: AsyncApp, router: CommandRouter, listeners: LinkingListeners) -> None:
    router.add("connect", listeners.connect)
    router.add("disconnect", listeners.disconnect)
    router.add("status", listeners.status)
    router.add("admin install", listeners.admin_install)
    router.add("admin status", listeners.admin_status)
    router.add("admin uninstall", listeners.admin_uninstall)

    # Bolt passes listener arguments by name; bound methods work as listeners.
    app.action(ids.ACTION_CONNECT_LINK)(guarded(listeners.on_link_button))
    app.action(ids.ACTION_CONNECT_START)(guarded(listeners.on_connect_start))
    app.action(ids.ACTION_DISCONNECT)(guarded(listeners.on_disconnect))
    app.action(ids.ACTION_UNINSTALL)(guarded(listeners.on_uninstall))
    app.action(ids.ACTION_DEFAULT_PROJECT)(guarded(listeners.on_default_project))
    app.options(ids.ACTION_DEFAULT_PROJECT)(guarded(listeners.on_default_project_options))
    app.view(ids.VIEW_ADMIN_INSTALL)(guarded(listeners.on_install_submit))
    app.event("app_home_opened")(guarded(listeners.on_home_opened))
