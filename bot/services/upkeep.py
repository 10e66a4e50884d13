"""Keeping the bot's data healthy without anyone asking: token upkeep, hygiene, key rotation, and the
clean-up that follows a workspace uninstalling the app or a person leaving it.

Each service does one pass and returns what it did, as counts; the scheduler decides when.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore

from bot.clock import Clock
from bot.jira.errors import JiraError, ReconnectRequired
from bot.services.oauth_apps import CloudAppNotConfigured
from bot.services.tokens import TokenService
from storage.slack_installations import EncryptedInstallationStore
from storage.store import Storage

log = logging.getLogger(__name__)

SLACK_ACTOR = "slack"


@dataclass(frozen=True)
class TokenUpkeepResult:
    checked: int = 0
    refreshed: int = 0
    needs_reconnect: int = 0
    failed: int = 0
    notified: int = 0


class TokenUpkeep:
    """Refreshes access tokens that expire within `ahead`, and refresh tokens idle for `idle` (so that
    Atlassian's 90-day inactivity window never closes on a link nobody used). A grant that is dead
    for good turns the link into "needs reconnect"; TokenService tells its user once."""

    def __init__(self, storage: Storage, tokens: TokenService, clock: Clock, *, ahead: timedelta,
                 idle: timedelta) -> None:
        self._storage = storage
        self._tokens = tokens
        self._clock = clock
        self._ahead = ahead
        self._idle = idle

    async def run(self) -> TokenUpkeepResult:
        now = self._clock.now()
        idle_since = now - self._idle
        ids = await self._storage.accounts.list_needing_refresh(expiring_before=now + self._ahead,
                                                                idle_since=idle_since)
        tenants = {tenant.id: tenant for tenant in await self._storage.tenants.list_all()}
        checked = refreshed = broken = failed = notified = 0
        for account_id in ids:
            account = await self._storage.accounts.get_by_id(account_id)
            tenant = tenants.get(account.tenant_id) if account is not None else None
            if account is None or tenant is None or account.needs_reconnect:
                continue
            checked += 1
            expiring = account.expires_within(now, self._ahead)
            idle = account.refreshed_at is None or account.refreshed_at <= idle_since
            try:
                updated = await self._tokens.refresh(tenant, account, margin=self._ahead,
                                                     force=idle and not expiring)
            except ReconnectRequired:
                broken += 1
                continue
            except (JiraError, CloudAppNotConfigured) as exc:
                failed += 1
                log.warning("jobs.token_upkeep.refresh_failed",
                            extra={"team_id": tenant.team_id, "slack_user_id": account.slack_user_id,
                                   "error_type": type(exc).__name__})
                continue
            if updated.access_token != account.access_token:
                refreshed += 1
        # Links broken while nobody could be told (say, the process stopped in between): tell them now.
        for account in await self._storage.accounts.list_broken_unnotified():
            tenant = tenants.get(account.tenant_id)
            if tenant is not None:
                await self._tokens.mark_broken(tenant, account)
                notified += 1
        return TokenUpkeepResult(checked, refreshed, broken, failed, notified)


@dataclass(frozen=True)
class HygieneResult:
    oauth_states: int = 0
    oauth_confirmations: int = 0
    slack_oauth_states: int = 0
    idempotency_keys: int = 0
    audit_entries: int = 0
    inbox_events: int = 0


class Hygiene:
    """Deletes expired OAuth states (Jira's and Slack's install flow) and idempotency keys, and audit
    entries older than the retention, and webhook inbox events delivered longer ago than theirs."""

    def __init__(self, storage: Storage, clock: Clock, *, audit_retention: timedelta,
                 inbox_retention: timedelta = timedelta(days=7)) -> None:
        self._storage = storage
        self._clock = clock
        self._retention = audit_retention
        self._inbox_retention = inbox_retention

    async def run(self) -> HygieneResult:
        now = self._clock.now()
        return HygieneResult(
            oauth_states=await self._storage.states.delete_expired(now),
            oauth_confirmations=await self._storage.confirmations.delete_expired(now),
            slack_oauth_states=await self._storage.states.delete_expired_slack_states(now),
            idempotency_keys=await self._storage.idempotency.delete_expired(now),
            audit_entries=await self._storage.audit.prune(now - self._retention),
            inbox_events=await self._storage.inbox.prune(now - self._inbox_retention),
        )


@dataclass(frozen=True)
class KeyRotationResult:
    """How many stored values were re-encrypted (names avoid "token"/"secret": logs redact those)."""

    account_values: int = 0
    tenant_values: int = 0
    state_values: int = 0
    confirmation_values: int = 0
    slack_install_values: int = 0


class KeyRotation:
    """Re-encrypts with the newest JIRABOT_ENCRYPTION_KEY every secret an older key still protects."""

    def __init__(self, storage: Storage, installations: EncryptedInstallationStore | None = None) -> None:
        self._storage = storage
        self._installations = installations

    async def run(self) -> KeyRotationResult:
        return KeyRotationResult(
            account_values=await self._storage.accounts.rotate_secrets(),
            tenant_values=await self._storage.tenants.rotate_secrets(),
            state_values=await self._storage.states.rotate_secrets(),
            confirmation_values=await self._storage.confirmations.rotate_secrets(),
            slack_install_values=await self._installations.rotate_secrets() if self._installations else 0,
        )


@dataclass(frozen=True)
class UninstallResult:
    tenant_removed: bool
    links_removed: int


class WorkspaceCleanup:
    """What Slack's lifecycle events leave behind: installations, tenant installs and links."""

    def __init__(self, storage: Storage, installation_store: AsyncInstallationStore | None,
                 clock: Clock) -> None:
        self._storage = storage
        self._installations = installation_store
        self._clock = clock
        self._before_unlink: list[Callable[[str, str, str], Awaitable[None]]] = []
        self._before_uninstall: list[Callable[[str], Awaitable[None]]] = []

    def before_unlink(self, handler: Callable[[str, str, str], Awaitable[None]]) -> None:
        """Runs `handler(team_id, slack_user_id, reason)` before a departing person's link is removed."""
        self._before_unlink.append(handler)

    def before_uninstall(self, handler: Callable[[str], Awaitable[None]]) -> None:
        """Runs `handler(team_id)` before the workspace's Jira install is removed."""
        self._before_uninstall.append(handler)

    async def _run_hooks(self, calls: list[Awaitable[None]]) -> None:
        for call in calls:
            try:
                await call
            except Exception:
                log.exception("slack.lifecycle.hook_failed")

    async def app_uninstalled(self, team_id: str, enterprise_id: str | None) -> UninstallResult:
        """The app left the workspace: its Slack installation goes, then its Jira install and links."""
        if self._installations is not None:
            await self._installations.async_delete_all(enterprise_id=enterprise_id, team_id=team_id)
        now = self._clock.now()
        await self._storage.audit.add(team_id=team_id, actor=SLACK_ACTOR, action="slack.app_uninstalled",
                                      now=now, detail={"enterprise_id": enterprise_id})
        await self._run_hooks([hook(team_id) for hook in self._before_uninstall])
        links = await self._storage.tenants.delete(team_id, actor=SLACK_ACTOR, now=now)
        log.info("slack.app_uninstalled", extra={"team_id": team_id, "tenant_removed": links is not None,
                                                 "links_removed": links or 0})
        return UninstallResult(tenant_removed=links is not None, links_removed=links or 0)

    async def tokens_revoked(self, team_id: str, enterprise_id: str | None, *, user_ids: list[str],
                             bot_user_ids: list[str]) -> None:
        """Forgets the revoked tokens: a revoked bot token ends the workspace's Slack installation."""
        if self._installations is not None:
            for user_id in user_ids:
                await self._installations.async_delete_installation(enterprise_id=enterprise_id,
                                                                    team_id=team_id, user_id=user_id)
            if bot_user_ids:
                await self._installations.async_delete_all(enterprise_id=enterprise_id, team_id=team_id)
        elif bot_user_ids:
            log.warning("slack.bot_token_revoked", extra={"team_id": team_id,
                                                          "hint": "set a new SLACK_BOT_TOKEN"})
        await self._storage.audit.add(team_id=team_id, actor=SLACK_ACTOR, action="slack.tokens_revoked",
                                      now=self._clock.now(),
                                      detail={"user_ids": user_ids, "bot_user_ids": bot_user_ids})

    async def user_deactivated(self, team_ids: list[str], slack_user_id: str) -> int:
        """A person deactivated in Slack loses their Jira link (in every workspace named)."""
        removed = 0
        for team_id in team_ids:
            await self._run_hooks([hook(team_id, slack_user_id, "left") for hook in self._before_unlink])
            if await self._storage.accounts.delete_for_user(team_id, slack_user_id, now=self._clock.now(),
                                                            reason="slack_user_deactivated"):
                removed += 1
        if removed:
            log.info("slack.user_deactivated.unlinked", extra={"slack_user_id": slack_user_id,
                                                               "links_removed": removed})
        return removed
