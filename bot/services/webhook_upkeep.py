"""Webhook upkeep (a scheduled job): Jira Cloud drops dynamic webhooks 30 days after registration or
their last refresh. Each run lists every owner's webhooks in Jira, re-registers the ones Jira no longer
has, and refreshes those that expire within `ahead`. Owners whose link is gone or broken are skipped
(their subscriptions were stopped when they left).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from bot.clock import Clock
from bot.jira import webhook_api
from bot.jira.errors import JiraError, ReconnectRequired
from bot.services.tokens import TokenService
from storage.repositories.webhooks import EndpointRecord, WebhookRecord
from storage.store import Storage

log = logging.getLogger(__name__)

REFRESH_AHEAD = timedelta(days=20)


@dataclass(frozen=True)
class WebhookUpkeepResult:
    checked: int = 0
    refreshed: int = 0
    reregistered: int = 0
    failed: int = 0


class WebhookUpkeep:
    def __init__(
        self,
        storage: Storage,
        tokens: TokenService,
        clock: Clock,
        *,
        webhook_url_for: Callable[[EndpointRecord], str],
        ahead: timedelta = REFRESH_AHEAD,
    ) -> None:
        self._storage = storage
        self._tokens = tokens
        self._clock = clock
        self._url_for = webhook_url_for
        self._ahead = ahead
        self._first: list[Callable[[], Awaitable[object]]] = []

    def before_run(self, work: Callable[[], Awaitable[object]]) -> None:
        """Work done at the start of each run (personal notifications register webhooks they lack)."""
        self._first.append(work)

    async def run(self) -> WebhookUpkeepResult:
        for work in self._first:
            try:
                await work()
            except Exception:
                log.exception("jira.webhook.upkeep_hook_failed")
        hooks = await self._storage.webhooks.all()
        owners: dict[tuple[int, str], list[WebhookRecord]] = {}
        for hook in hooks:
            owners.setdefault((hook.tenant_id, hook.slack_user_id), []).append(hook)
        checked = refreshed = reregistered = failed = 0
        for (tenant_id, user_id), owned in owners.items():
            tenant = await self._storage.tenants.get_by_id(tenant_id)
            if tenant is None or not tenant.is_cloud:
                continue
            _, account = await self._storage.tenants.get_with_account(tenant.team_id, user_id)
            if account is None or account.needs_reconnect:
                continue
            now = self._clock.now()
            try:
                async with self._tokens.session(tenant, account) as client:
                    in_jira = {h.id: h for h in await webhook_api.list_cloud_webhooks(client)}
                    endpoint = await self._storage.webhooks.endpoint(tenant.id, now=now, with_secret=False)
                    due: list[WebhookRecord] = []
                    for hook in owned:
                        checked += 1
                        if hook.jira_webhook_id not in in_jira:
                            jira_id = await webhook_api.register_cloud_webhook(
                                client, self._url_for(endpoint), jql=hook.jql_filter, events=list(hook.events)
                            )
                            listed = {h.id: h for h in await webhook_api.list_cloud_webhooks(client)}
                            expiry = listed[jira_id].expires_at if jira_id in listed else None
                            await self._storage.webhooks.replace_jira_id(hook.id, jira_id, expiry, now)
                            reregistered += 1
                            continue
                        expires = in_jira[hook.jira_webhook_id].expires_at or hook.expires_at
                        if expires is None or expires - now <= self._ahead:
                            due.append(hook)
                    if due:
                        expiry = await webhook_api.refresh_cloud_webhooks(
                            client, [h.jira_webhook_id for h in due if h.jira_webhook_id]
                        )
                        for hook in due:
                            await self._storage.webhooks.set_expiry(hook.id, expiry, now)
                        refreshed += len(due)
            except (JiraError, ReconnectRequired) as exc:
                failed += 1
                log.warning(
                    "jira.webhook.upkeep_failed",
                    extra={"team_id": tenant.team_id, "error": type(exc).__name__},
                )
        return WebhookUpkeepResult(checked, refreshed, reregistered, failed)
