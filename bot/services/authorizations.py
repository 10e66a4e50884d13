"""From the link in Slack to a link or install that the person in the browser confirmed.

1. `start`: the link in Slack leads to the bot's start page first; the state is bound to the browser
   that opens it first (a cookie), and the browser goes on to Jira's authorization page.
2. `complete` (the OAuth callback): provider error → consume the state (once, unexpired, from the
   browser it is bound to) → exchange the code → check the site and that no other Slack user of the
   workspace holds the Jira account → keep the result, encrypted, single-use, expiring with the state,
   for `confirm`. Nothing is linked yet: the page says who is being linked to whom.
3. `confirm`: only the confirmation form's POST, with its own token, from the same browser, makes the
   link or install. `cancel` makes nothing.

A forwarded link thus links nobody behind anyone's back: opened in a second browser after the first,
it is refused; opened first by someone else, their page names the Slack user who would get their Jira
account, and nothing happens unless they confirm.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.clock import Clock
from bot.jira.errors import JiraError, OAuthError
from bot.jira.sites import normalise_site_url, site_display
from bot.services.authorization_outcomes import (
    CallbackResult,
    ConfirmationRequest,
    failure,
    held_elsewhere,
    missing_state,
    oauth_error_code,
    oauth_error_text,
    other_browser,
    other_site,
    provider_error,
    rejected_confirmation,
    rejected_state,
    success,
)
from bot.services.linking import JiraClientFactory, hash_secret
from bot.services.oauth_apps import CloudAppNotConfigured, OAuthApps
from storage.models import OAuthPurpose
from storage.repositories.accounts import AccountLinkedElsewhere, AccountRecord, JiraIdentity, TokenSet
from storage.repositories.confirmations import ConfirmationRejected, ConfirmationRejection
from storage.repositories.states import StateRecord, StateRejected
from storage.repositories.tenants import TenantRecord
from storage.store import Storage

log = logging.getLogger(__name__)

# A Data Center exchange that fails, for whatever reason (host not allowed, unreachable, refused, not
# Jira at all), answers no sooner than this: the page and its timing tell nothing about the host.
DC_FAILURE_FLOOR_SECONDS = 5.0


class AuthorizationService:
    def __init__(
        self,
        storage: Storage,
        apps: OAuthApps,
        clock: Clock,
        jira_client_for_token: JiraClientFactory,
        *,
        dc_failure_floor: float = DC_FAILURE_FLOOR_SECONDS,
    ) -> None:
        self._storage = storage
        self._apps = apps
        self._clock = clock
        self._jira_for_token = jira_client_for_token
        self._dc_failure_floor = dc_failure_floor
        self._after_link: list[Callable[[TenantRecord, AccountRecord], Awaitable[None]]] = []

    def after_link(self, handler: Callable[[TenantRecord, AccountRecord], Awaitable[None]]) -> None:
        """Called once a user's link (or the installer's) is confirmed; failures are logged, not shown."""
        self._after_link.append(handler)

    async def _linked(self, tenant: TenantRecord, account: AccountRecord) -> None:
        for handler in self._after_link:
            try:
                await handler(tenant, account)
            except Exception:
                log.exception("jira.link.after_link_failed", extra={"team_id": tenant.team_id})

    # 1. The start page -----------------------------------------------------------------------
    async def start(self, *, state: str | None, browser: str) -> CallbackResult:
        """Binds the state to this browser and answers where to send it (`redirect_to`)."""
        if not state:
            return missing_state()
        try:
            record = await self._storage.states.claim(
                hash_secret(state), hash_secret(browser), self._clock.now()
            )
        except StateRejected as rejected:
            return rejected_state(rejected)
        try:
            url = await self._authorize_url(record, state)
        except CloudAppNotConfigured:
            url = None
        if url is None:
            return failure(
                400,
                "not_installed",
                "Jira is not connected to this workspace",
                "A workspace admin must first run `/jira admin install` in Slack.",
                record=record,
                tell_slack=False,
            )
        log.info("jira.oauth.started", extra={"team_id": record.team_id, "purpose": record.purpose})
        return CallbackResult(302, "Continue to Jira", [], "started", redirect_to=url)

    async def _authorize_url(self, record: StateRecord, state: str) -> str | None:
        payload = json.loads(record.payload or "{}")
        if record.purpose == OAuthPurpose.INSTALL.value:
            if payload.get("kind") == "cloud":
                return self._apps.cloud().authorize_url(state)
            oauth = self._apps.datacenter(
                str(payload.get("site_url") or ""),
                str(payload.get("client_id") or ""),
                str(payload.get("client_secret") or ""),
            )
            return oauth.authorize_url(state, record.code_verifier or "")
        tenant = await self._storage.tenants.get(record.team_id)
        if tenant is None:
            return None
        if tenant.is_cloud:
            return self._apps.cloud().authorize_url(state)
        return self._apps.datacenter(
            tenant.site_url, tenant.dc_client_id or "", tenant.dc_client_secret or ""
        ).authorize_url(state, record.code_verifier or "")

    # 2. The callback ---------------------------------------------------------------------------
    async def complete(
        self,
        *,
        state: str | None,
        code: str | None,
        error: str | None,
        error_description: str | None = None,
        browser: str | None,
    ) -> CallbackResult:
        now = self._clock.now()
        if not state:
            return missing_state()
        if not browser:
            return other_browser()
        try:
            record = await self._storage.states.consume(hash_secret(state), now, hash_secret(browser))
        except StateRejected as rejected:
            return rejected_state(rejected)
        if error:
            return provider_error(record, oauth_error_code(error), oauth_error_text(error_description))
        if not code:
            return failure(
                400,
                "missing_code",
                "This link is incomplete",
                "Jira sent no authorization code. Please start again from Slack.",
                record=record,
            )
        try:
            if record.purpose == OAuthPurpose.INSTALL.value:
                outcome = await self._authorize_install(record, code, now)
            else:
                outcome = await self._authorize_link(record, code, now)
        except _DataCenterFailed as failed:
            return await self._dc_failure(record, failed)
        except OAuthError as exc:
            log.warning(
                "jira.oauth.exchange_failed",
                extra={"team_id": record.team_id, "error": oauth_error_code(exc.error), "status": exc.status},
            )
            return failure(
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
            return failure(
                400,
                "jira_error",
                "Jira could not be reached",
                "The bot could not finish talking to Jira, so nothing was connected. "
                "Please try again in a moment.",
                record=record,
            )
        if isinstance(outcome, CallbackResult):
            return outcome
        return await self._hold(record, browser, outcome, now)

    async def _hold(
        self, record: StateRecord, browser: str, pending: _Pending, now: datetime
    ) -> CallbackResult:
        holder = await self._storage.accounts.holder_of(
            record.team_id, pending.identity.account_id, besides=record.slack_user_id
        )
        if holder is not None:
            return held_elsewhere(record, pending.identity)
        token = secrets.token_urlsafe(32)
        await self._storage.confirmations.create(
            token_hash=hash_secret(token),
            browser_hash=hash_secret(browser),
            team_id=record.team_id,
            enterprise_id=record.enterprise_id,
            slack_user_id=record.slack_user_id,
            purpose=record.purpose,
            result=json.dumps(pending.to_json()),
            now=now,
            expires_at=record.expires_at,
        )
        log.info(
            "jira.oauth.awaiting_confirmation", extra={"team_id": record.team_id, "purpose": record.purpose}
        )
        identity = pending.identity
        return CallbackResult(
            status_code=200,
            title="Confirm the connection" if pending.install is not None else "Confirm the link",
            paragraphs=[],
            reason="awaiting_confirmation",
            team_id=record.team_id,
            enterprise_id=record.enterprise_id,
            slack_user_id=record.slack_user_id,
            confirmation=ConfirmationRequest(
                token=token,
                install=pending.install is not None,
                jira_name=identity.display_name or identity.email or identity.account_id,
                jira_email=identity.email,
                site=pending.site_host,
            ),
        )

    async def _authorize_install(
        self, record: StateRecord, code: str, now: datetime
    ) -> _Pending | CallbackResult:
        payload = json.loads(record.payload or "{}")
        site_url = str(payload.get("site_url") or "")
        existing = await self._storage.tenants.get(record.team_id)
        if existing is not None and normalise_site_url(existing.site_url) != normalise_site_url(site_url):
            return other_site(record, existing)
        if payload.get("kind") == "cloud":
            oauth = self._apps.cloud()
            tokens = await oauth.exchange_code(code, now)
            resources = await oauth.accessible_resources(tokens.access_token)
            wanted = normalise_site_url(site_url)
            resource = next((r for r in resources if normalise_site_url(r.url) == wanted), None)
            if resource is None:
                return failure(
                    403,
                    "site_not_accessible",
                    "No access to that Jira site",
                    f"Your Atlassian account cannot reach {site_display(site_url)}, so nothing was "
                    "installed. Check the site URL, or ask someone with access to that site to "
                    "run `/jira admin install`.",
                    record=record,
                )
            identity = await self._identity(tokens, cloud=True, base=site_url, cloud_id=resource.cloud_id)
            install = {
                "kind": "cloud",
                "site_url": site_url,
                "site_name": resource.name or None,
                "cloud_id": resource.cloud_id,
            }
            return _Pending(identity, tokens, site_display(site_url), install=install)
        client_id = str(payload.get("client_id") or "")
        client_secret = str(payload.get("client_secret") or "")
        async with self._datacenter(site_url):
            oauth_dc = self._apps.datacenter(site_url, client_id, client_secret)
            tokens = await oauth_dc.exchange_code(code, record.code_verifier or "", now)
            identity = await self._identity(tokens, cloud=False, base=site_url, cloud_id=None)
        install = {
            "kind": "datacenter",
            "site_url": site_url,
            "dc_client_id": client_id,
            "dc_client_secret": client_secret,
        }
        return _Pending(identity, tokens, site_display(site_url), install=install)

    async def _authorize_link(
        self, record: StateRecord, code: str, now: datetime
    ) -> _Pending | CallbackResult:
        tenant = await self._storage.tenants.get(record.team_id)
        if tenant is None:
            return failure(
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
                return failure(
                    403,
                    "site_not_accessible",
                    "No access to this Jira site",
                    f"Your Atlassian account has no access to {tenant.site_host}, so it was not "
                    "linked. Ask a Jira admin for access, then run `/jira connect` again.",
                    record=record,
                )
            identity = await self._identity(
                tokens, cloud=True, base=tenant.site_url, cloud_id=tenant.cloud_id
            )
        else:
            async with self._datacenter(tenant.site_url):
                oauth_dc = self._apps.datacenter(
                    tenant.site_url, tenant.dc_client_id or "", tenant.dc_client_secret or ""
                )
                tokens = await oauth_dc.exchange_code(code, record.code_verifier or "", now)
                identity = await self._identity(tokens, cloud=False, base=tenant.site_url, cloud_id=None)
        return _Pending(identity, tokens, tenant.site_host, tenant_id=tenant.id)

    def _datacenter(self, site_url: str) -> _DataCenterCall:
        return _DataCenterCall(site_url, self._dc_failure_floor)

    async def _dc_failure(self, record: StateRecord, failed: _DataCenterFailed) -> CallbackResult:
        log.warning(
            "jira.oauth.datacenter_failed",
            extra={"team_id": record.team_id, "host": failed.host, "error_type": failed.error_type},
        )
        await asyncio.sleep(max(0.0, failed.started + self._dc_failure_floor - time.monotonic()))
        return failure(
            502,
            "datacenter_failed",
            "Jira could not complete the connection",
            f"The bot could not complete the authorization with {failed.host}: the host is not allowed "
            "for Jira Data Center (JIRABOT_JIRA_HOSTS), could not be reached, or did not accept it. "
            "Nothing was connected.",
            record=record,
        )

    async def _identity(
        self, tokens: TokenSet, *, cloud: bool, base: str, cloud_id: str | None
    ) -> JiraIdentity:
        client = self._jira_for_token(tokens.access_token, cloud=cloud, site_url=base, cloud_id=cloud_id)
        user = await client.myself()
        return JiraIdentity(user.account_id, user.display_name, user.email)

    # 3. The confirmation form -------------------------------------------------------------------
    async def confirm(self, *, token: str | None, browser: str | None) -> CallbackResult:
        now = self._clock.now()
        try:
            record = await self._take(token, browser, now)
        except ConfirmationRejected as rejected:
            return rejected_confirmation(rejected)
        pending = _Pending.from_json(json.loads(record.result))
        try:
            if pending.install is not None:
                existing = await self._storage.tenants.get(record.team_id)
                site_url = str(pending.install["site_url"])
                if existing is not None and normalise_site_url(existing.site_url) != normalise_site_url(
                    site_url
                ):
                    return other_site(record, existing)
                tenant, account = await self._storage.tenants.install(
                    team_id=record.team_id,
                    enterprise_id=record.enterprise_id,
                    kind=str(pending.install["kind"]),
                    site_url=site_url,
                    site_name=pending.install.get("site_name"),
                    cloud_id=pending.install.get("cloud_id"),
                    dc_client_id=pending.install.get("dc_client_id"),
                    dc_client_secret=pending.install.get("dc_client_secret"),
                    installed_by=record.slack_user_id,
                    identity=pending.identity,
                    tokens=pending.tokens,
                    now=now,
                )
                log.info(
                    "jira.tenant.installed",
                    extra={"team_id": record.team_id, "kind": tenant.kind, "site": tenant.site_host},
                )
                await self._linked(tenant, account)
                return success(record, tenant, account, installed=True)
            tenant = await self._storage.tenants.get(record.team_id)
            if tenant is None or tenant.id != pending.tenant_id:
                return failure(
                    409,
                    "install_changed",
                    "Jira's connection changed",
                    "The workspace's Jira connection changed since you authorized, so nothing was linked. "
                    "Run `/jira connect` in Slack again.",
                    record=record,
                )
            account = await self._storage.accounts.link(
                tenant_id=tenant.id,
                team_id=record.team_id,
                slack_user_id=record.slack_user_id,
                identity=pending.identity,
                tokens=pending.tokens,
                now=now,
            )
        except AccountLinkedElsewhere:
            return held_elsewhere(record, pending.identity)
        log.info(
            "jira.account.linked", extra={"team_id": record.team_id, "slack_user_id": record.slack_user_id}
        )
        await self._linked(tenant, account)
        return success(record, tenant, account, installed=False)

    async def cancel(self, *, token: str | None, browser: str | None) -> CallbackResult:
        try:
            record = await self._take(token, browser, self._clock.now())
        except ConfirmationRejected as rejected:
            return rejected_confirmation(rejected)
        log.info("jira.oauth.cancelled", extra={"team_id": record.team_id, "purpose": record.purpose})
        command = "/jira admin install" if record.purpose == OAuthPurpose.INSTALL.value else "/jira connect"
        return failure(
            200,
            "cancelled",
            "Cancelled",
            f"Nothing was connected. Run `{command}` in Slack whenever you want to connect.",
            record=record,
            slack_text="A Jira authorization for your Slack account was cancelled in the browser, so "
            "nothing was connected.",
        )

    async def _take(self, token: str | None, browser: str | None, now: datetime) -> Any:
        if not token:
            raise ConfirmationRejected(ConfirmationRejection.UNKNOWN)
        if not browser:
            raise ConfirmationRejected(ConfirmationRejection.OTHER_BROWSER)
        return await self._storage.confirmations.take(hash_secret(token), hash_secret(browser), now)


# What an authorization produced, kept until it is confirmed -------------------------------------


@dataclass(frozen=True)
class _Pending:
    identity: JiraIdentity
    tokens: TokenSet
    site_host: str
    install: dict[str, Any] | None = None
    tenant_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "identity": {
                "account_id": self.identity.account_id,
                "display_name": self.identity.display_name,
                "email": self.identity.email,
            },
            "tokens": {
                "access_token": self.tokens.access_token,
                "refresh_token": self.tokens.refresh_token,
                "expires_at": self.tokens.expires_at.isoformat(),
                "scopes": self.tokens.scopes,
            },
            "site_host": self.site_host,
            "install": self.install,
            "tenant_id": self.tenant_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> _Pending:
        identity, tokens = data["identity"], data["tokens"]
        return cls(
            identity=JiraIdentity(identity["account_id"], identity["display_name"], identity["email"]),
            tokens=TokenSet(
                access_token=tokens["access_token"],
                refresh_token=tokens["refresh_token"],
                expires_at=datetime.fromisoformat(tokens["expires_at"]),
                scopes=tokens["scopes"],
            ),
            site_host=data["site_host"],
            install=data.get("install"),
            tenant_id=data.get("tenant_id"),
        )


class _DataCenterFailed(Exception):
    def __init__(self, host: str, started: float, error_type: str) -> None:
        super().__init__(host)
        self.host = host
        self.started = started
        self.error_type = error_type


class _DataCenterCall:
    """Turns any failure of the calls to a Data Center site into one `_DataCenterFailed`."""

    def __init__(self, site_url: str, floor: float) -> None:
        self._host = site_display(site_url).split("/", 1)[0]
        self._floor = floor
        self._started = 0.0

    async def __aenter__(self) -> None:
        self._started = time.monotonic()

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None, _tb: Any) -> bool:
        # Whatever the host answered (or not) ends the same way; a body that is not what Jira sends
        # fails to parse (ValueError, KeyError, TypeError) and is treated alike.
        if exc is not None and isinstance(exc, JiraError | ValueError | KeyError | TypeError):
            raise _DataCenterFailed(self._host, self._started, type(exc).__name__) from None
        return False
