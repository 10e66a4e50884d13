"""Tenant installs and account links: status, starting an authorization, unlinking, uninstalling.

Starting one makes a state (random, single-use, bound to workspace, user and purpose, expiring, with
its own PKCE verifier for Data Center) and answers the link to put in Slack; what happens in the
browser after that is `bot.services.authorizations`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

import httpx

from bot.clock import Clock
from bot.jira.client import BearerAuth, JiraClient
from bot.jira.oauth import new_code_verifier
from bot.jira.sites import normalise_site_url
from bot.services.oauth_apps import OAuthApps
from bot.settings import Settings
from storage.models import OAuthPurpose
from storage.repositories.accounts import AccountRecord
from storage.repositories.tenants import TenantCounts, TenantRecord
from storage.store import Storage

log = logging.getLogger(__name__)

STATE_LIFETIME = timedelta(minutes=10)
START_PATH = "/jira/oauth/start"


class NotInstalled(Exception):
    """No Jira site is connected to this workspace yet."""


class OtherSiteInstalled(Exception):
    def __init__(self, tenant: TenantRecord) -> None:
        super().__init__(tenant.site_url)
        self.tenant = tenant


class CloudNotConfigured(Exception):
    """Jira Cloud needs ATLASSIAN_CLIENT_ID and ATLASSIAN_CLIENT_SECRET."""


@dataclass(frozen=True)
class UserStatus:
    tenant: TenantRecord | None
    account: AccountRecord | None


@dataclass(frozen=True)
class AdminStatus:
    tenant: TenantRecord
    counts: TenantCounts
    full_restricted_unfurls: bool = False


def hash_secret(value: str) -> str:
    """What is stored of a state, a form token or a browser cookie: its SHA-256, never the value."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


class LinkingService:
    def __init__(
        self,
        settings: Settings,
        storage: Storage,
        apps: OAuthApps,
        clock: Clock,
        jira_client_for_token: JiraClientFactory,
    ) -> None:
        self._settings = settings
        self._storage = storage
        self._apps = apps
        self._clock = clock
        self._jira_for_token = jira_client_for_token
        self._before_unlink: list[Callable[[str, str], Awaitable[None]]] = []
        self._before_uninstall: list[Callable[[str], Awaitable[None]]] = []

    # Status --------------------------------------------------------------------------------
    async def status(self, team_id: str, slack_user_id: str) -> UserStatus:
        tenant, account = await self._storage.tenants.get_with_account(team_id, slack_user_id)
        return UserStatus(tenant, account)

    async def admin_status(self, team_id: str) -> AdminStatus | None:
        tenant = await self._storage.tenants.get(team_id)
        if tenant is None:
            return None
        return AdminStatus(
            tenant,
            await self._storage.tenants.counts(tenant.id),
            await self._storage.unfurl_settings.full_restricted(tenant.id),
        )

    # Starting a flow ----------------------------------------------------------------------
    async def _new_state(
        self,
        *,
        team_id: str,
        enterprise_id: str | None,
        slack_user_id: str,
        purpose: OAuthPurpose,
        verifier: str | None,
        payload: dict | None,
    ) -> str:
        state = secrets.token_urlsafe(32)
        now = self._clock.now()
        await self._storage.states.create(
            state_hash=hash_secret(state),
            team_id=team_id,
            enterprise_id=enterprise_id,
            slack_user_id=slack_user_id,
            purpose=purpose.value,
            code_verifier=verifier,
            payload=json.dumps(payload) if payload is not None else None,
            now=now,
            expires_at=now + STATE_LIFETIME,
        )
        return state

    async def _check_same_site(self, team_id: str, site_url: str) -> None:
        existing = await self._storage.tenants.get(team_id)
        if existing is not None and normalise_site_url(existing.site_url) != normalise_site_url(site_url):
            raise OtherSiteInstalled(existing)

    async def begin_cloud_install(
        self, *, team_id: str, enterprise_id: str | None, slack_user_id: str, site_url: str
    ) -> str:
        if not self._apps.cloud_configured:
            raise CloudNotConfigured()
        await self._check_same_site(team_id, site_url)
        state = await self._new_state(
            team_id=team_id,
            enterprise_id=enterprise_id,
            slack_user_id=slack_user_id,
            purpose=OAuthPurpose.INSTALL,
            verifier=None,
            payload={"kind": "cloud", "site_url": site_url},
        )
        return self.start_url(state)

    async def begin_datacenter_install(
        self,
        *,
        team_id: str,
        enterprise_id: str | None,
        slack_user_id: str,
        base_url: str,
        client_id: str,
        client_secret: str,
    ) -> str:
        await self._check_same_site(team_id, base_url)
        verifier = new_code_verifier()
        state = await self._new_state(
            team_id=team_id,
            enterprise_id=enterprise_id,
            slack_user_id=slack_user_id,
            purpose=OAuthPurpose.INSTALL,
            verifier=verifier,
            payload={
                "kind": "datacenter",
                "site_url": base_url,
                "client_id": client_id,
                "client_secret": client_secret,
            },
        )
        return self.start_url(state)

    async def begin_link(self, *, team_id: str, enterprise_id: str | None, slack_user_id: str) -> str:
        tenant = await self._storage.tenants.get(team_id)
        if tenant is None:
            raise NotInstalled()
        verifier = None if tenant.is_cloud else new_code_verifier()
        state = await self._new_state(
            team_id=team_id,
            enterprise_id=enterprise_id,
            slack_user_id=slack_user_id,
            purpose=OAuthPurpose.LINK,
            verifier=verifier,
            payload=None,
        )
        if tenant.is_cloud and not self._apps.cloud_configured:
            raise CloudNotConfigured()
        return self.start_url(state)

    def start_url(self, state: str) -> str:
        """The link people click in Slack: the bot's start page, which remembers the browser that opened
        it and sends it on to Jira's authorization page (bot.services.authorizations)."""
        return f"{self._settings.jirabot_public_url}{START_PATH}?{urlencode({'state': state})}"

    # Ending one ------------------------------------------------------------------------------
    def before_unlink(self, handler: Callable[[str, str], Awaitable[None]]) -> None:
        """Runs `handler(team_id, slack_user_id)` before a link is removed (its token still usable)."""
        self._before_unlink.append(handler)

    def before_uninstall(self, handler: Callable[[str], Awaitable[None]]) -> None:
        """Runs `handler(team_id)` before a workspace's install and links are removed."""
        self._before_uninstall.append(handler)

    async def disconnect(self, team_id: str, slack_user_id: str) -> bool:
        for handler in self._before_unlink:
            await _quietly(handler(team_id, slack_user_id), "jira.link.before_unlink_failed")
        return await self._storage.accounts.unlink(
            team_id, slack_user_id, actor=slack_user_id, now=self._clock.now()
        )

    async def uninstall(self, team_id: str, actor: str) -> int | None:
        for handler in self._before_uninstall:
            await _quietly(handler(team_id), "jira.tenant.before_uninstall_failed")
        return await self._storage.tenants.delete(team_id, actor=actor, now=self._clock.now())

    async def set_default_project(self, team_id: str, key: str | None, name: str | None, actor: str) -> bool:
        changed = await self._storage.tenants.set_default_project(team_id, key, name)
        if changed:
            await self._storage.audit.add(
                team_id=team_id,
                actor=actor,
                action="tenant.default_project",
                subject=key,
                now=self._clock.now(),
            )
        return changed


class JiraClientFactory:
    """Builds a Jira client for a bare access token (used once, right after an authorization)."""

    def __init__(self, settings: Settings, http: httpx.AsyncClient) -> None:
        self._settings = settings
        self._http = http

    def __call__(self, access_token: str, *, cloud: bool, site_url: str, cloud_id: str | None) -> JiraClient:
        return JiraClient(
            self._http,
            api_base=JiraClient.api_base_for(
                cloud=cloud, api_url=self._settings.atlassian_api_url, cloud_id=cloud_id, site_url=site_url
            ),
            cloud=cloud,
            auth=BearerAuth(access_token),
            timeout=self._settings.jirabot_http_timeout,
        )


async def _quietly(work: Awaitable[None], event: str) -> None:
    """Clean-up that must not stop what the user asked for (it is logged instead)."""
    try:
        await work
    except Exception:
        log.exception(event)
