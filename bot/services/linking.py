"""Tenant installs and account links: the OAuth flows from `/jira …` to the callback.

The callback is a chain of early returns: provider error → consume the state (once, unexpired, bound
to workspace and user, with its own PKCE verifier) → exchange the code → check the site → store.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx

from bot.clock import Clock
from bot.jira.client import BearerAuth, JiraClient, JiraUser
from bot.jira.errors import JiraError, OAuthError
from bot.jira.oauth import new_code_verifier
from bot.jira.sites import normalise_site_url, site_display
from bot.services.oauth_apps import CloudAppNotConfigured, OAuthApps
from bot.settings import Settings
from storage.models import OAuthPurpose
from storage.repositories.accounts import AccountRecord, JiraIdentity, TokenSet
from storage.repositories.states import StateRecord, StateRejected, StateRejection
from storage.repositories.tenants import TenantCounts, TenantRecord
from storage.store import Storage

log = logging.getLogger(__name__)

STATE_LIFETIME = timedelta(minutes=10)


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


@dataclass(frozen=True)
class CallbackResult:
    """What the browser is shown, and what the user is told in Slack."""

    status_code: int
    title: str
    paragraphs: list[str]
    reason: str
    team_id: str | None = None
    enterprise_id: str | None = None
    slack_user_id: str | None = None
    slack_text: str | None = None
    linked: bool = False
    tenant: TenantRecord | None = None
    account: AccountRecord | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status_code < 400


def _hash_state(state: str) -> str:
    return hashlib.sha256(state.encode("utf-8")).hexdigest()


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
        self._after_link: list[Callable[[TenantRecord, AccountRecord], Awaitable[None]]] = []

    # Status --------------------------------------------------------------------------------
    async def status(self, team_id: str, slack_user_id: str) -> UserStatus:
        tenant, account = await self._storage.tenants.get_with_account(team_id, slack_user_id)
        return UserStatus(tenant, account)

    async def admin_status(self, team_id: str) -> AdminStatus | None:
        tenant = await self._storage.tenants.get(team_id)
        if tenant is None:
            return None
        return AdminStatus(tenant, await self._storage.tenants.counts(tenant.id))

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
            state_hash=_hash_state(state),
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
        return self._apps.cloud().authorize_url(state)

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
        return self._apps.datacenter(base_url, client_id, client_secret).authorize_url(state, verifier)

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
        if tenant.is_cloud:
            try:
                return self._apps.cloud().authorize_url(state)
            except CloudAppNotConfigured:
                raise CloudNotConfigured() from None
        assert verifier is not None
        return self._apps.for_tenant(tenant).authorize_url(state, verifier)  # type: ignore[call-arg]

    # Ending one ------------------------------------------------------------------------------
    def before_unlink(self, handler: Callable[[str, str], Awaitable[None]]) -> None:
        """Runs `handler(team_id, slack_user_id)` before a link is removed (its token still usable)."""
        self._before_unlink.append(handler)

    def after_link(self, handler: Callable[[TenantRecord, AccountRecord], Awaitable[None]]) -> None:
        """Called once a user's link (or the installer's) is made; failures are logged, not shown."""
        self._after_link.append(handler)

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

    # The callback ----------------------------------------------------------------------------
    async def complete(
        self, *, state: str | None, code: str | None, error: str | None, error_description: str | None = None
    ) -> CallbackResult:
        now = self._clock.now()
        if not state:
            return _fail(
                400,
                "missing_state",
                "This link is incomplete",
                "The authorization link is missing its state. Start again from Slack with `/jira connect`.",
            )
        try:
            record = await self._storage.states.consume(_hash_state(state), now)
        except StateRejected as rejected:
            return self._rejected_state(rejected)
        if error:
            denied = error == "access_denied"
            log.info("jira.oauth.provider_error", extra={"error": error, "team_id": record.team_id})
            title = "Authorization declined" if denied else "Authorization failed"
            text = (
                "You declined access to Jira, so nothing was connected. Run `/jira connect` again "
                "whenever you're ready."
                if denied
                else f"Jira did not authorize the connection ({error}). Nothing was connected; "
                "please try again."
            )
            if record.purpose == OAuthPurpose.INSTALL.value:
                text = text.replace("/jira connect", "/jira admin install")
            return _fail(
                403 if denied else 400,
                "consent_denied" if denied else "provider_error",
                title,
                text,
                record=record,
            )
        if not code:
            return _fail(
                400,
                "missing_code",
                "This link is incomplete",
                "Jira sent no authorization code. Please start again from Slack.",
                record=record,
            )
        try:
            if record.purpose == OAuthPurpose.INSTALL.value:
                return await self._complete_install(record, code, now)
            return await self._complete_link(record, code, now)
        except OAuthError as exc:
            log.warning(
                "jira.oauth.exchange_failed",
                extra={"team_id": record.team_id, "error": exc.error, "status": exc.status},
            )
            return _fail(
                400,
                "exchange_failed",
                "Jira refused the authorization",
                "Jira did not accept the authorization code, so nothing was connected. "
                "Please try again from Slack.",
                record=record,
            )
        except JiraError as exc:
            log.warning(
                "jira.oauth.jira_unreachable",
                extra={"team_id": record.team_id, "error_type": type(exc).__name__},
            )
            return _fail(
                400,
                "jira_error",
                "Jira could not be reached",
                "The bot could not finish talking to Jira, so nothing was connected. "
                "Please try again in a moment.",
                record=record,
            )

    def _rejected_state(self, rejected: StateRejected) -> CallbackResult:
        reason = rejected.reason
        log.warning(f"jira.oauth.state_{reason.value}")
        if reason is StateRejection.UNKNOWN:
            return _fail(
                400,
                "state_unknown",
                "This link is not valid",
                "This authorization link is unknown to the bot. Start again from Slack with `/jira connect`.",
            )
        if reason is StateRejection.EXPIRED:
            return _fail(
                400,
                "state_expired",
                "This link has expired",
                "Authorization links are valid for 10 minutes. Run `/jira connect` in Slack to "
                "get a new one.",
                record=rejected.record,
            )
        return _fail(
            400,
            "state_reused",
            "This link was already used",
            "Each authorization link works once. Run `/jira connect` in Slack to get a new one.",
            record=rejected.record,
        )

    async def _complete_install(self, record: StateRecord, code: str, now: datetime) -> CallbackResult:
        payload = json.loads(record.payload or "{}")
        site_url = str(payload.get("site_url") or "")
        existing = await self._storage.tenants.get(record.team_id)
        if existing is not None and normalise_site_url(existing.site_url) != normalise_site_url(site_url):
            return _fail(
                409,
                "other_site_installed",
                "Another Jira site is connected",
                f"This workspace is already connected to {site_display(existing.site_url)}. Run "
                "`/jira admin uninstall` first to connect a different site.",
                record=record,
            )
        if payload.get("kind") == "cloud":
            oauth = self._apps.cloud()
            tokens = await oauth.exchange_code(code, now)
            resources = await oauth.accessible_resources(tokens.access_token)
            wanted = normalise_site_url(site_url)
            resource = next((r for r in resources if normalise_site_url(r.url) == wanted), None)
            if resource is None:
                return _fail(
                    403,
                    "site_not_accessible",
                    "No access to that Jira site",
                    f"Your Atlassian account cannot reach {site_display(site_url)}, so nothing was "
                    "installed. Check the site URL, or ask someone with access to that site to "
                    "run `/jira admin install`.",
                    record=record,
                )
            user = await self._myself(tokens, cloud=True, base=site_url, cloud_id=resource.cloud_id)
            tenant, account = await self._storage.tenants.install(
                team_id=record.team_id,
                enterprise_id=record.enterprise_id,
                kind="cloud",
                site_url=site_url,
                site_name=resource.name or None,
                cloud_id=resource.cloud_id,
                dc_client_id=None,
                dc_client_secret=None,
                installed_by=record.slack_user_id,
                identity=JiraIdentity(user.account_id, user.display_name, user.email),
                tokens=tokens,
                now=now,
            )
        else:
            client_id = str(payload.get("client_id") or "")
            client_secret = str(payload.get("client_secret") or "")
            oauth_dc = self._apps.datacenter(site_url, client_id, client_secret)
            tokens = await oauth_dc.exchange_code(code, record.code_verifier or "", now)
            user = await self._myself(tokens, cloud=False, base=site_url, cloud_id=None)
            tenant, account = await self._storage.tenants.install(
                team_id=record.team_id,
                enterprise_id=record.enterprise_id,
                kind="datacenter",
                site_url=site_url,
                site_name=None,
                cloud_id=None,
                dc_client_id=client_id,
                dc_client_secret=client_secret,
                installed_by=record.slack_user_id,
                identity=JiraIdentity(user.account_id, user.display_name, user.email),
                tokens=tokens,
                now=now,
            )
        log.info(
            "jira.tenant.installed",
            extra={"team_id": record.team_id, "kind": tenant.kind, "site": tenant.site_host},
        )
        for handler in self._after_link:
            await _quietly(handler(tenant, account), "jira.link.after_link_failed")
        return _success(record, tenant, account, installed=True)

    async def _complete_link(self, record: StateRecord, code: str, now: datetime) -> CallbackResult:
        tenant = await self._storage.tenants.get(record.team_id)
        if tenant is None:
            return _fail(
                400,
                "not_installed",
                "Jira is not connected to this workspace",
                "A workspace admin must first run `/jira admin install` in Slack.",
                record=record,
            )
        if tenant.is_cloud:
            oauth = self._apps.cloud()
            tokens = await oauth.exchange_code(code, now)
            resources = await oauth.accessible_resources(tokens.access_token)
            if not any(r.cloud_id == tenant.cloud_id for r in resources):
                return _fail(
                    403,
                    "site_not_accessible",
                    "No access to this Jira site",
                    f"Your Atlassian account has no access to {tenant.site_host}, so it was not "
                    "linked. Ask a Jira admin for access, then run `/jira connect` again.",
                    record=record,
                )
        else:
            tokens = await self._apps.for_tenant(tenant).exchange_code(  # type: ignore[call-arg]
                code, record.code_verifier or "", now
            )
        user = await self._myself(
            tokens, cloud=tenant.is_cloud, base=tenant.site_url, cloud_id=tenant.cloud_id
        )
        account = await self._storage.accounts.link(
            tenant_id=tenant.id,
            team_id=record.team_id,
            slack_user_id=record.slack_user_id,
            identity=JiraIdentity(user.account_id, user.display_name, user.email),
            tokens=tokens,
            now=now,
        )
        log.info(
            "jira.account.linked", extra={"team_id": record.team_id, "slack_user_id": record.slack_user_id}
        )
        for handler in self._after_link:
            await _quietly(handler(tenant, account), "jira.link.after_link_failed")
        return _success(record, tenant, account, installed=False)

    async def _myself(self, tokens: TokenSet, *, cloud: bool, base: str, cloud_id: str | None) -> JiraUser:
        client = self._jira_for_token(tokens.access_token, cloud=cloud, site_url=base, cloud_id=cloud_id)
        return await client.myself()


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


def _fail(
    status: int, reason: str, title: str, text: str, *, record: StateRecord | None = None
) -> CallbackResult:
    return CallbackResult(
        status_code=status,
        title=title,
        paragraphs=[text, "You can close this window."],
        reason=reason,
        team_id=record.team_id if record else None,
        enterprise_id=record.enterprise_id if record else None,
        slack_user_id=record.slack_user_id if record else None,
        slack_text=text if record else None,
    )


def _success(
    record: StateRecord, tenant: TenantRecord, account: AccountRecord, *, installed: bool
) -> CallbackResult:
    who = account.display_name or account.email or account.jira_account_id or "your Jira account"
    connected = f"Connected as {who} on {tenant.site_host}."
    if installed:
        text = (
            f"This workspace is now connected to Jira at {tenant.site_host}. {connected} "
            "Everyone in the workspace can now link their own account with `/jira connect`."
        )
    else:
        text = connected
    return CallbackResult(
        status_code=200,
        title="Connected to Jira" if not installed else "Jira is connected",
        paragraphs=[text, "You can close this window and go back to Slack."],
        reason="linked",
        team_id=record.team_id,
        enterprise_id=record.enterprise_id,
        slack_user_id=record.slack_user_id,
        slack_text=connected if not installed else text,
        linked=True,
        tenant=tenant,
        account=account,
    )
