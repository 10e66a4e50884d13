"""Channel subscriptions: subscribing (with the subscriber's own link), listing, removing, and what
happens to them when their subscriber leaves or the workspace uninstalls.

Jira Cloud: one dynamic webhook per subscription, registered with the subscriber's link (scope
`manage:jira-webhook`), filtered by project and, where webhook filters allow it, the subscription's JQL.
Jira Data Center: one webhook per tenant, registered with the installing admin's link when Jira lets it,
otherwise entered by a Jira admin from `/jira admin status`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.clock import Clock
from bot.jira import webhook_api
from bot.jira.errors import (
    JiraBadRequest,
    JiraError,
    JiraForbidden,
    JiraNotFound,
    JiraUnauthorized,
    ReconnectRequired,
)
from bot.jira.events import EventKind, webhook_events_for
from bot.jira.jql import project_filter, webhook_filter_allows
from bot.jira.webhook_api import CLOUD_WEBHOOK_SCOPE, WebhookRegistrationFailed
from bot.services.tokens import TokenService
from bot.web.webhooks import WEBHOOK_PATH
from storage.repositories.accounts import AccountRecord
from storage.repositories.subscriptions import SubscriptionRecord
from storage.repositories.tenants import TenantRecord
from storage.repositories.webhooks import EndpointRecord
from storage.store import Storage

log = logging.getLogger(__name__)

CHANNEL_PURPOSE = "channel"
DC_EVENTS = ["jira:issue_created", "jira:issue_updated", "comment_created"]
DC_WEBHOOK_NAME = "Slack (jirabot)"

# Field names of the subscribe form, for errors shown beside them.
FIELD_PROJECT = "project"
FIELD_EVENTS = "events"
FIELD_JQL = "jql"

ChannelNotice = Callable[[str, str | None, str, str], Awaitable[None]]  # team, enterprise, channel, text


class NotLinked(Exception):
    """The person has no working Jira link (or the workspace no install)."""


@dataclass(frozen=True)
class SubscribeRequest:
    team_id: str
    user_id: str
    channel_id: str
    project_key: str
    events: tuple[str, ...]
    jql: str | None


@dataclass(frozen=True)
class SubscribeOutcome:
    subscription: SubscriptionRecord | None = None
    errors: dict[str, str] = field(default_factory=dict)
    reconnect: bool = False
    dc_setup_needed: bool = False


@dataclass(frozen=True)
class DcWebhookSetup:
    url: str
    secret: str
    registered: bool


def needs_webhook_scope(tenant: TenantRecord, account: AccountRecord) -> bool:
    """A Cloud link made before the bot asked for `manage:jira-webhook` must be reconnected."""
    return tenant.is_cloud and CLOUD_WEBHOOK_SCOPE not in (account.scopes or "").split()


class SubscriptionService:
    def __init__(self, storage: Storage, tokens: TokenService, clock: Clock, *, public_url: str) -> None:
        self._storage = storage
        self._tokens = tokens
        self._clock = clock
        self._public_url = public_url.rstrip("/")
        self._notices: list[ChannelNotice] = []

    def on_channel_notice(self, handler: ChannelNotice) -> None:
        self._notices.append(handler)

    def webhook_url(self, endpoint: EndpointRecord) -> str:
        return f"{self._public_url}{WEBHOOK_PATH}/{endpoint.token}"

    async def linked(self, team_id: str, user_id: str) -> tuple[TenantRecord, AccountRecord]:
        tenant, account = await self._storage.tenants.get_with_account(team_id, user_id)
        if tenant is None or account is None or account.needs_reconnect:
            raise NotLinked()
        return tenant, account

    # Subscribing -----------------------------------------------------------------------------------
    async def subscribe(self, request: SubscribeRequest) -> SubscribeOutcome:
        tenant, account = await self.linked(request.team_id, request.user_id)
        if needs_webhook_scope(tenant, account):
            return SubscribeOutcome(reconnect=True)
        errors: dict[str, str] = {}
        if not request.project_key:
            errors[FIELD_PROJECT] = "Choose a project."
        kinds = [k for k in request.events if k in {e.value for e in EventKind}]
        if not kinds:
            errors[FIELD_EVENTS] = "Choose at least one event."
        if errors:
            return SubscribeOutcome(errors=errors)
        jql = (request.jql or "").strip() or None
        try:
            async with self._tokens.session(tenant, account) as client:
                project = await client.project(request.project_key)
                if jql:
                    await webhook_api.search_keys(client, project_filter(project.key, jql), limit=1)
        except JiraNotFound:
            return SubscribeOutcome(
                errors={FIELD_PROJECT: "That project does not exist or you cannot see it."}
            )
        except JiraBadRequest as exc:
            words = (
                " ".join(exc.error_messages + list(exc.errors.values())) or "Jira did not accept this JQL."
            )
            return SubscribeOutcome(errors={FIELD_JQL: words[:300]})
        except ReconnectRequired:
            raise NotLinked() from None
        # Only Cloud webhooks carry a subscription's own filter; Data Center's one webhook has none.
        in_webhook = bool(tenant.is_cloud and jql and webhook_filter_allows(jql))
        subscription = await self._storage.subscriptions.create(
            tenant_id=tenant.id,
            team_id=tenant.team_id,
            channel_id=request.channel_id,
            project_key=project.key,
            events=kinds,
            jql=jql,
            jql_in_webhook=in_webhook,
            created_by=request.user_id,
            now=self._clock.now(),
        )
        if tenant.is_cloud:
            try:
                await self._register_cloud(tenant, account, subscription)
            except WebhookRegistrationFailed as exc:
                await self._storage.subscriptions.delete(
                    subscription.id, actor=request.user_id, now=self._clock.now()
                )
                field_name = FIELD_JQL if jql else FIELD_PROJECT
                return SubscribeOutcome(errors={field_name: ("Jira refused the webhook: " + str(exc))[:300]})
            except (JiraForbidden, JiraUnauthorized):
                await self._storage.subscriptions.delete(
                    subscription.id, actor=request.user_id, now=self._clock.now()
                )
                return SubscribeOutcome(reconnect=True)
            return SubscribeOutcome(subscription=subscription)
        setup = await self.ensure_dc_webhook(tenant)
        return SubscribeOutcome(subscription=subscription, dc_setup_needed=not setup.registered)

    async def _register_cloud(
        self, tenant: TenantRecord, account: AccountRecord, subscription: SubscriptionRecord
    ) -> None:
        endpoint = await self._storage.webhooks.endpoint(tenant.id, now=self._clock.now(), with_secret=False)
        jql = project_filter(
            subscription.project_key, subscription.jql if subscription.jql_in_webhook else None
        )
        events = webhook_events_for(subscription.events)
        async with self._tokens.session(tenant, account) as client:
            jira_id = await webhook_api.register_cloud_webhook(
                client, self.webhook_url(endpoint), jql=jql, events=events
            )
            expires = None
            for hook in await webhook_api.list_cloud_webhooks(client):
                if hook.id == jira_id:
                    expires = hook.expires_at
        await self._storage.webhooks.add(
            tenant_id=tenant.id,
            team_id=tenant.team_id,
            slack_user_id=account.slack_user_id,
            purpose=CHANNEL_PURPOSE,
            subscription_id=subscription.id,
            jira_webhook_id=jira_id,
            jql_filter=jql,
            events=events,
            expires_at=expires,
            now=self._clock.now(),
        )
        log.info(
            "jira.webhook.registered", extra={"team_id": tenant.team_id, "subscription": subscription.id}
        )

    async def ensure_dc_webhook(self, tenant: TenantRecord) -> DcWebhookSetup:
        """The tenant's Data Center webhook: registered with the installing admin's link if Jira lets it."""
        now = self._clock.now()
        endpoint = await self._storage.webhooks.endpoint(tenant.id, now=now, with_secret=True)
        assert endpoint.secret is not None
        url = self.webhook_url(endpoint)
        if endpoint.registered_at is not None:
            return DcWebhookSetup(url, endpoint.secret, True)
        _, admin = await self._storage.tenants.get_with_account(tenant.team_id, tenant.installed_by)
        if admin is None or admin.needs_reconnect:
            return DcWebhookSetup(url, endpoint.secret, False)
        try:
            async with self._tokens.session(tenant, admin) as client:
                ref = await webhook_api.register_dc_webhook(
                    client, url, name=DC_WEBHOOK_NAME, secret=endpoint.secret, events=DC_EVENTS
                )
        except (JiraForbidden, JiraUnauthorized, JiraNotFound, ReconnectRequired, JiraBadRequest) as exc:
            log.info(
                "jira.webhook.dc_manual_setup", extra={"team_id": tenant.team_id, "why": type(exc).__name__}
            )
            return DcWebhookSetup(url, endpoint.secret, False)
        await self._storage.webhooks.mark_registered(tenant.id, ref or None, now)
        log.info("jira.webhook.dc_registered", extra={"team_id": tenant.team_id})
        return DcWebhookSetup(url, endpoint.secret, True)

    async def dc_setup(self, team_id: str) -> DcWebhookSetup | None:
        """For `/jira admin status` on Data Center: the URL and secret, whether registered or not."""
        tenant = await self._storage.tenants.get(team_id)
        if tenant is None or tenant.is_cloud:
            return None
        endpoint = await self._storage.webhooks.endpoint(tenant.id, now=self._clock.now(), with_secret=True)
        assert endpoint.secret is not None
        return DcWebhookSetup(self.webhook_url(endpoint), endpoint.secret, endpoint.registered_at is not None)

    # Listing and removing ----------------------------------------------------------------------------
    async def for_channel(self, team_id: str, channel_id: str) -> list[SubscriptionRecord]:
        return await self._storage.subscriptions.for_channel(team_id, channel_id)

    async def for_team(self, team_id: str) -> list[SubscriptionRecord]:
        return await self._storage.subscriptions.for_team(team_id)

    async def remove(
        self, team_id: str, user_id: str, subscription_id: int, *, is_admin: bool
    ) -> bool | None:
        """True when removed; False when the person may not (neither its creator nor an admin);
        None when it is gone already."""
        subscription = await self._storage.subscriptions.get(subscription_id)
        if subscription is None or subscription.team_id != team_id:
            return None
        if subscription.created_by != user_id and not is_admin:
            return False
        await self._delete_webhooks(subscription)
        await self._storage.subscriptions.delete(subscription_id, actor=user_id, now=self._clock.now())
        return True

    async def _delete_webhooks(self, subscription: SubscriptionRecord) -> None:
        hooks = await self._storage.webhooks.for_subscription(subscription.id)
        if not hooks:
            return
        tenant = await self._storage.tenants.get_by_id(subscription.tenant_id)
        for hook in hooks:
            if tenant is not None and hook.jira_webhook_id:
                _, owner = await self._storage.tenants.get_with_account(tenant.team_id, hook.slack_user_id)
                if owner is not None and not owner.needs_reconnect:
                    try:
                        async with self._tokens.session(tenant, owner) as client:
                            await webhook_api.delete_cloud_webhooks(client, [hook.jira_webhook_id])
                    except (JiraError, ReconnectRequired) as exc:
                        # Unrefreshed, it expires within 30 days; deliveries for it are ignored meanwhile.
                        log.warning("jira.webhook.delete_failed", extra={"error": type(exc).__name__})
            await self._storage.webhooks.remove(hook.id)

    # Subscribers leaving, workspaces uninstalling --------------------------------------------------
    async def subscriber_left(self, team_id: str, user_id: str, reason: str = "unlinked") -> int:
        """The subscriber unlinked (or left): their subscriptions stop, and each channel is told."""
        stopped = 0
        tenant = await self._storage.tenants.get(team_id)
        for subscription in await self._storage.subscriptions.active_of_user(team_id, user_id):
            await self._delete_webhooks(subscription)
            if not await self._storage.subscriptions.deactivate(
                subscription.id, reason=reason, now=self._clock.now()
            ):
                continue
            stopped += 1
            text = (
                f"The subscription of this channel to {subscription.project_key} has stopped: <@{user_id}> "
                "is no longer connected to Jira. Anyone connected can subscribe again with `/jira subscribe`."
            )
            for notice in self._notices:
                try:
                    await notice(
                        team_id, tenant.enterprise_id if tenant else None, subscription.channel_id, text
                    )
                except Exception:
                    log.exception("slack.subscription.notice_failed")
        return stopped

    async def uninstalling(self, team_id: str) -> None:
        """Removes the workspace's webhooks from Jira while its links still work."""
        tenant = await self._storage.tenants.get(team_id)
        if tenant is None:
            return
        for subscription in await self._storage.subscriptions.for_team(team_id):
            await self._delete_webhooks(subscription)
        for hook in await self._storage.webhooks.for_tenant(tenant.id):  # webhooks of other owners
            _, owner = await self._storage.tenants.get_with_account(team_id, hook.slack_user_id)
            if owner is not None and hook.jira_webhook_id and not owner.needs_reconnect:
                try:
                    async with self._tokens.session(tenant, owner) as client:
                        await webhook_api.delete_cloud_webhooks(client, [hook.jira_webhook_id])
                except (JiraError, ReconnectRequired):
                    log.warning("jira.webhook.delete_failed", extra={"team_id": team_id})
            await self._storage.webhooks.remove(hook.id)
        endpoint = await self._storage.webhooks.existing_endpoint(tenant.id)
        if endpoint is not None and endpoint.jira_webhook_ref:
            _, admin = await self._storage.tenants.get_with_account(team_id, tenant.installed_by)
            if admin is not None and not admin.needs_reconnect:
                try:
                    async with self._tokens.session(tenant, admin) as client:
                        await webhook_api.delete_dc_webhook(client, endpoint.jira_webhook_ref)
                except (JiraError, ReconnectRequired):
                    log.warning("jira.webhook.dc_delete_failed", extra={"team_id": team_id})
