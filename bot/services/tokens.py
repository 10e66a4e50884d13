"""Fresh access tokens for linked accounts, and Jira clients that use them.

Before any Jira call, a token that expires within a minute is refreshed; refreshes of one account are
serialised across tasks and processes (rotating refresh tokens are single-use) by a lease in the
database, and no transaction is held during the call to Atlassian: the new pair is saved afterwards,
only over the refresh token that was spent (storage.repositories.accounts.refresh_serialised).
A refresh that fails for good, or a 401 after a refresh, marks the link as needing a reconnect.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx

from bot.clock import Clock
from bot.jira.client import JiraClient, TokenAuth
from bot.jira.errors import JiraUnauthorized, OAuthInvalidGrant, ReconnectRequired
from bot.observability.metrics import TOKEN_REFRESHES
from bot.services.oauth_apps import OAuthApps
from bot.settings import Settings
from storage.repositories.accounts import REFRESH_LEASE, AccountRecord, TokenSet
from storage.repositories.tenants import TenantRecord
from storage.store import Storage

log = logging.getLogger(__name__)

REFRESH_MARGIN = timedelta(seconds=60)

BrokenLinkHandler = Callable[[TenantRecord, AccountRecord], Awaitable[None]]


class TokenService:
    def __init__(
        self, settings: Settings, storage: Storage, apps: OAuthApps, http: httpx.AsyncClient, clock: Clock
    ) -> None:
        self._settings = settings
        self._storage = storage
        self._apps = apps
        self._http = http
        self._clock = clock
        self._on_broken: list[BrokenLinkHandler] = []
        # Longer than a token call can take (its timeout), so that no other process takes over a live one.
        self._lease = max(REFRESH_LEASE, timedelta(seconds=3 * settings.jirabot_http_timeout))

    def on_broken_link(self, handler: BrokenLinkHandler) -> None:
        """Called once a link becomes "needs reconnect" (to tell the user)."""
        self._on_broken.append(handler)

    async def refresh(
        self,
        tenant: TenantRecord,
        account: AccountRecord,
        *,
        margin: timedelta = REFRESH_MARGIN,
        force: bool = False,
    ) -> AccountRecord:
        """Refreshes the account's tokens unless they are still fresh; raises ReconnectRequired."""
        if account.needs_reconnect:
            raise ReconnectRequired("the Jira link needs a reconnect")
        now = self._clock.now()
        stale_token = account.access_token

        def still_fresh(current: AccountRecord) -> bool:
            if force:
                # Someone else refreshed since we saw the rejected token: use theirs.
                return current.access_token != stale_token and not current.expires_within(now, margin)
            return not current.expires_within(now, margin)

        async def refresher(current: AccountRecord) -> TokenSet | None:
            if not current.refresh_token:
                return None
            try:
                refreshed = await self._apps.for_tenant(tenant).refresh(current.refresh_token,
                                                                        self._clock.now())
            except OAuthInvalidGrant:
                TOKEN_REFRESHES.labels("invalid_grant").inc()
                log.warning(
                    "jira.oauth.refresh_invalid_grant",
                    extra={"team_id": tenant.team_id, "slack_user_id": current.slack_user_id},
                )
                return None
            except Exception:
                TOKEN_REFRESHES.labels("error").inc()
                raise
            TOKEN_REFRESHES.labels("ok").inc()
            return refreshed

        updated = await self._storage.accounts.refresh_serialised(
            account.id, still_fresh=still_fresh, refresher=refresher, clock=self._clock.now, lease=self._lease
        )
        if updated is None:
            raise ReconnectRequired("the Jira link was removed")
        if updated.needs_reconnect:
            await self._broken(tenant, updated)
            raise ReconnectRequired("the Jira authorization was revoked or expired")
        if updated.access_token != stale_token:
            log.info(
                "jira.oauth.refreshed",
                extra={"team_id": tenant.team_id, "slack_user_id": updated.slack_user_id},
            )
        return updated

    async def mark_broken(self, tenant: TenantRecord, account: AccountRecord) -> None:
        if await self._storage.accounts.mark_needs_reconnect(account.id, self._clock.now()):
            log.warning(
                "jira.link.needs_reconnect",
                extra={"team_id": tenant.team_id, "slack_user_id": account.slack_user_id},
            )
        fresh = await self._storage.accounts.get_by_id(account.id)
        if fresh is not None:
            await self._broken(tenant, fresh)

    async def _broken(self, tenant: TenantRecord, account: AccountRecord) -> None:
        if not await self._storage.accounts.claim_reconnect_notice(account.id, self._clock.now()):
            return
        for handler in self._on_broken:
            try:
                await handler(tenant, account)
            except Exception:
                log.exception("jira.link.notify_failed", extra={"slack_user_id": account.slack_user_id})

    def client(self, tenant: TenantRecord, account: AccountRecord) -> JiraClient:
        """A Jira client acting as this user; refreshes before expiry and once on a 401."""
        holder = {"account": account}

        async def token() -> str:
            current = holder["account"]
            if current.expires_within(self._clock.now(), REFRESH_MARGIN) or not current.access_token:
                holder["account"] = await self.refresh(tenant, current)
            return holder["account"].access_token or ""

        async def refreshed() -> str:
            holder["account"] = await self.refresh(tenant, holder["account"], force=True)
            return holder["account"].access_token or ""

        return JiraClient(
            self._http,
            api_base=JiraClient.api_base_for(
                cloud=tenant.is_cloud,
                api_url=self._settings.atlassian_api_url,
                cloud_id=tenant.cloud_id,
                site_url=tenant.site_url,
            ),
            cloud=tenant.is_cloud,
            auth=TokenAuth(token, refreshed),
            timeout=self._settings.jirabot_http_timeout,
        )

    @asynccontextmanager
    async def session(self, tenant: TenantRecord, account: AccountRecord) -> AsyncIterator[JiraClient]:
        """A client for a block of calls; a 401 that survives a refresh marks the link broken."""
        try:
            yield self.client(tenant, account)
        except JiraUnauthorized:
            await self.mark_broken(tenant, account)
            raise ReconnectRequired("Jira rejected the user's token after a refresh") from None
