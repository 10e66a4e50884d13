"""What an authorization step ends in: the page the browser is shown, and what the user is told in
Slack. Every failure has a named reason and a status code; provider-supplied text is reduced first."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from bot.jira.sites import site_display
from storage.models import OAuthPurpose
from storage.repositories.accounts import AccountRecord, JiraIdentity
from storage.repositories.confirmations import ConfirmationRejected, ConfirmationRejection
from storage.repositories.states import StateRecord, StateRejected, StateRejection
from storage.repositories.tenants import TenantRecord

log = logging.getLogger("bot.services.authorizations")

ERROR_CODE_LIMIT = 64
ERROR_DESCRIPTION_LIMIT = 200
_NOT_CODE = re.compile(r"[^A-Za-z0-9_.\-]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def oauth_error_code(value: str | None) -> str:
    """An OAuth `error` parameter reduced to what error codes are made of, and bounded."""
    return _NOT_CODE.sub("", value or "")[:ERROR_CODE_LIMIT] or "unknown"


def oauth_error_text(value: str | None) -> str:
    """An `error_description` without control characters, bounded (still to be escaped where shown)."""
    text = _CONTROL.sub(" ", value or "").strip()
    return text if len(text) <= ERROR_DESCRIPTION_LIMIT else text[: ERROR_DESCRIPTION_LIMIT - 1] + "…"


@dataclass(frozen=True)
class ConfirmationRequest:
    """What the confirmation page shows and posts back."""

    token: str
    install: bool
    jira_name: str
    jira_email: str | None
    site: str


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
    confirmation: ConfirmationRequest | None = None
    redirect_to: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code < 400


def failure(
    status: int,
    reason: str,
    title: str,
    text: str,
    *,
    record: StateRecord | Any | None = None,
    tell_slack: bool = True,
    slack_text: str | None = None,
) -> CallbackResult:
    told = record is not None and tell_slack
    return CallbackResult(
        status_code=status,
        title=title,
        paragraphs=[text, "You can close this window."],
        reason=reason,
        team_id=record.team_id if record else None,
        enterprise_id=record.enterprise_id if record else None,
        slack_user_id=record.slack_user_id if record else None,
        slack_text=(slack_text or text) if told else None,
    )


def missing_state() -> CallbackResult:
    return failure(
        400,
        "missing_state",
        "This link is incomplete",
        "The authorization link is missing its state. Start again from Slack with `/jira connect`.",
    )


def other_browser() -> CallbackResult:
    return failure(
        403,
        "other_browser",
        "Open this link in your own browser",
        "This authorization was started in another browser (or this browser does not keep the bot's "
        "cookie), so it cannot be finished here and nothing was connected. To connect your own Jira "
        "account, run `/jira connect` in Slack yourself, and finish in the browser it opens.",
    )


def rejected_state(rejected: StateRejected) -> CallbackResult:
    reason = rejected.reason
    log.warning(f"jira.oauth.state_{reason.value}")
    if reason is StateRejection.UNKNOWN:
        return failure(
            400,
            "state_unknown",
            "This link is not valid",
            "This authorization link is unknown to the bot. Start again from Slack with `/jira connect`.",
        )
    if reason is StateRejection.OTHER_BROWSER:
        return other_browser()
    if reason is StateRejection.EXPIRED:
        return failure(
            400,
            "state_expired",
            "This link has expired",
            "Authorization links are valid for 10 minutes. Run `/jira connect` in Slack to get a new one.",
            record=rejected.record,
        )
    return failure(
        400,
        "state_reused",
        "This link was already used",
        "Each authorization link works once. Run `/jira connect` in Slack to get a new one.",
        record=rejected.record,
    )


def rejected_confirmation(rejected: ConfirmationRejected) -> CallbackResult:
    reason = rejected.reason
    log.warning(f"jira.oauth.confirmation_{reason.value}")
    if reason is ConfirmationRejection.OTHER_BROWSER:
        return other_browser()
    if reason is ConfirmationRejection.UNKNOWN:
        return failure(
            403,
            "confirmation_unknown",
            "This confirmation is not valid",
            "The bot does not know this confirmation, so nothing was connected. Start again from Slack "
            "with `/jira connect`.",
        )
    if reason is ConfirmationRejection.EXPIRED:
        return failure(
            400,
            "confirmation_expired",
            "This confirmation has expired",
            "Confirmations are valid for 10 minutes, so nothing was connected. Run `/jira connect` in "
            "Slack to start again.",
        )
    return failure(
        400,
        "confirmation_used",
        "Already answered",
        "This authorization was already confirmed or cancelled. Check `/jira status` in Slack.",
    )


def provider_error(record: StateRecord, error: str, description: str) -> CallbackResult:
    denied = error == "access_denied"
    log.info(
        "jira.oauth.provider_error",
        extra={"error": error, "error_description": description, "team_id": record.team_id},
    )
    command = "/jira admin install" if record.purpose == OAuthPurpose.INSTALL.value else "/jira connect"
    if denied:
        text = (
            f"You declined access to Jira, so nothing was connected. Run `{command}` again whenever "
            "you're ready."
        )
        return failure(403, "consent_denied", "Authorization declined", text, record=record)
    text = f"Jira did not authorize the connection ({error}). Nothing was connected; please try again."
    result = failure(400, "provider_error", "Authorization failed", text, record=record)
    if description:
        result.paragraphs.insert(1, f"Jira said: {description}")
    return result


def other_site(record: Any, existing: TenantRecord) -> CallbackResult:
    return failure(
        409,
        "other_site_installed",
        "Another Jira site is connected",
        f"This workspace is already connected to {site_display(existing.site_url)}. Run "
        "`/jira admin uninstall` first to connect a different site.",
        record=record,
    )


def held_elsewhere(record: Any, identity: JiraIdentity) -> CallbackResult:
    who = identity.display_name or identity.email or "This Jira account"
    log.warning("jira.oauth.account_held_elsewhere", extra={"team_id": record.team_id})
    return failure(
        409,
        "account_linked_to_another_user",
        "This Jira account is already linked",
        f"The Jira account {who} is already linked to another Slack user of this workspace, who keeps "
        "that link; each Jira account can be linked to one Slack user per workspace. Nothing was "
        "changed.",
        record=record,
    )


def success(record: Any, tenant: TenantRecord, account: AccountRecord, *, installed: bool) -> CallbackResult:
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
