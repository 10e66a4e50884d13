"""Messages and views of the linking flow: connect, disconnect, status, admin install, App Home."""

from __future__ import annotations

from typing import Any

from bot.jira.sites import CLOUD_EXAMPLE, DATACENTER_EXAMPLE
from bot.services.linking import AdminStatus, UserStatus
from bot.slack import ids
from bot.slack.views.blocks import (
    actions,
    button,
    confirm_dialog,
    context,
    divider,
    escape_mrkdwn,
    header,
    modal,
    option,
    plain,
    section,
)

Message = dict[str, Any]

NOT_INSTALLED = (
    "Jira isn't connected to this workspace yet. A workspace admin must first run "
    "`/jira admin install` to connect it to your Jira site."
)
NOT_INSTALLED_FOR_ADMIN = (
    "Jira isn't connected to this workspace yet. Run `/jira admin install <site-url>`, "
    "for example `/jira admin install https://your-company.atlassian.net`."
)
NOTHING_TO_UNINSTALL = "Jira isn't connected to this workspace: nothing to uninstall."
ADMINS_ONLY = (
    "Sorry, `/jira admin` commands are for workspace admins and owners only. "
    "Ask one of them if the Jira connection needs changing."
)
CLOUD_NOT_CONFIGURED = (
    "Jira Cloud isn't set up on this bot yet: its operator must set ATLASSIAN_CLIENT_ID and "
    "ATLASSIAN_CLIENT_SECRET (see the README)."
)


def _when(value: Any) -> str:
    return f"<!date^{int(value.timestamp())}^{{date_short_pretty}} at {{time}}|{value:%Y-%m-%d %H:%M} UTC>"


def _who(status: UserStatus) -> str:
    """The linked Jira account's name as Jira gives it, ready for mrkdwn."""
    assert status.account is not None
    return escape_mrkdwn(status.account.display_name or status.account.jira_account_id or "")


def ephemeral(text: str, blocks: list[dict[str, Any]] | None = None) -> Message:
    message: Message = {"response_type": "ephemeral", "text": text}
    if blocks is not None:
        message["blocks"] = blocks
    return message


def build_text_message(text: str) -> Message:
    return ephemeral(text, [section(text)])


def build_connect_message(url: str, site: str, *, reconnect: bool = False) -> Message:
    verb = "Reconnect" if reconnect else "Connect"
    site = escape_mrkdwn(site)
    text = (
        f"{verb} your Jira account on {site}: click the button, sign in to Jira and allow access. "
        "The link works once, for 10 minutes."
    )
    return ephemeral(
        text,
        [
            section(f"*{verb} your Jira account* on {site}"),
            actions(button(f"{verb} to Jira", ids.ACTION_CONNECT_LINK, url=url, style="primary")),
            context(
                "The link works once, for 10 minutes. Jira opens in your browser; "
                "I'll tell you here when you're connected."
            ),
        ],
    )


def build_already_linked_message(status: UserStatus, url: str) -> Message:
    assert status.account is not None and status.tenant is not None
    who = _who(status)
    text = (
        f"You're already connected as {who} on {escape_mrkdwn(status.tenant.site_host)}. "
        "To link a different Jira account, authorize again."
    )
    return ephemeral(
        text,
        [
            section(text),
            actions(button("Link a different account", ids.ACTION_CONNECT_LINK, url=url)),
        ],
    )


def build_install_link_message(url: str, site: str, notes: list[str]) -> Message:
    site = escape_mrkdwn(site)
    text = (
        f"Connect this workspace to {site}: click the button and allow access in Jira. "
        "You'll be linked to your own Jira account at the same time."
    )
    blocks = [
        section(f"*Connect this workspace to Jira* at {site}"),
        actions(button("Authorize in Jira", ids.ACTION_CONNECT_LINK, url=url, style="primary")),
        context("The link works once, for 10 minutes."),
    ]
    if notes:
        blocks.insert(1, context(*(escape_mrkdwn(note) for note in notes)))
    return ephemeral(text, blocks)


def build_status_message(status: UserStatus) -> Message:
    return ephemeral(status_text(status), [section(status_text(status))])


def status_text(status: UserStatus) -> str:
    if status.tenant is None:
        return NOT_INSTALLED
    site = escape_mrkdwn(status.tenant.site_host)
    if status.account is None:
        return f"You're not connected to Jira on {site}. Run `/jira connect` to link your account."
    who = _who(status)
    if status.account.needs_reconnect:
        return (
            f"Your Jira link ({who} on {site}) needs a reconnect: Jira no longer accepts it. "
            "Run `/jira connect` to link it again."
        )
    return f"You're connected as *{who}* on {site}, since {_when(status.account.linked_at)}."


def build_disconnect_prompt(status: UserStatus) -> Message:
    assert status.account is not None and status.tenant is not None
    who = _who(status)
    text = f"Disconnect your Jira account ({who} on {escape_mrkdwn(status.tenant.site_host)})?"
    return ephemeral(
        text,
        [
            section(text + " I'll forget your Jira tokens; issues you created stay in Jira."),
            actions(
                button(
                    "Disconnect",
                    ids.ACTION_DISCONNECT,
                    value="disconnect",
                    style="danger",
                    confirm=confirm_dialog(
                        "Disconnect Jira?",
                        f"You'll need `/jira connect` again to create issues as {who}.",
                        "Disconnect",
                    ),
                )
            ),
        ],
    )


DISCONNECTED = "Done: your Jira account is disconnected. Run `/jira connect` any time to link it again."
NOT_LINKED = "You have no Jira account linked, so there's nothing to disconnect."


def build_uninstall_prompt(status: AdminStatus) -> Message:
    site = escape_mrkdwn(status.tenant.site_host)
    text = (
        f"Disconnect this workspace from Jira at {site}? This removes the connection and "
        f"the links of all {status.counts.linked + status.counts.needs_reconnect} users."
    )
    return ephemeral(
        text,
        [
            section(text),
            actions(
                button(
                    "Uninstall",
                    ids.ACTION_UNINSTALL,
                    value="uninstall",
                    style="danger",
                    confirm=confirm_dialog(
                        "Disconnect Jira?",
                        f"Everyone's Jira link on {site} will be removed. "
                        "Issues already created stay in Jira.",
                        "Uninstall",
                    ),
                )
            ),
        ],
    )


def admin_status_text(status: AdminStatus) -> str:
    tenant = status.tenant
    kind = "Jira Cloud" if tenant.is_cloud else "Jira Data Center"
    default = (
        escape_mrkdwn(
            f"{tenant.default_project_name or tenant.default_project_key} ({tenant.default_project_key})"
        )
        if tenant.default_project_key
        else "none"
    )
    return (
        f"*{kind}* at {escape_mrkdwn(tenant.site_host)}\n"
        f"Installed by <@{tenant.installed_by}> on {_when(tenant.installed_at)}\n"
        f"Linked users: {status.counts.linked} · needing reconnect: {status.counts.needs_reconnect}\n"
        f"Default project: {default}"
    )


def default_project_select(status: AdminStatus) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "external_select",
        "action_id": ids.ACTION_DEFAULT_PROJECT,
        "placeholder": plain("Choose the default project"),
        "min_query_length": 0,
    }
    tenant = status.tenant
    if tenant.default_project_key:
        element["initial_option"] = option(
            f"{tenant.default_project_name or tenant.default_project_key} ({tenant.default_project_key})",
            tenant.default_project_key,
        )
    return element


def build_admin_status_message(status: AdminStatus) -> Message:
    text = admin_status_text(status)
    return ephemeral(
        text.replace("*", ""),
        [
            section(text),
            section("*Default project* for new issues", accessory=default_project_select(status)),
            context("Change the site with `/jira admin uninstall`, then `/jira admin install`."),
        ],
    )


def build_install_modal(
    redirect_uri: str,
    *,
    initial_url: str | None = None,
    cloud_available: bool = True,
    allowed_hosts: str | None = None,
) -> dict[str, Any]:
    kinds = [option("Jira Data Center / Server", "datacenter")]
    if cloud_available:
        kinds.insert(0, option("Jira Cloud", "cloud"))
    kind_element: dict[str, Any] = {
        "type": "radio_buttons",
        "action_id": ids.BLOCK_INSTALL_KIND,
        "options": kinds,
        "initial_option": kinds[-1],
    }
    url_element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": ids.BLOCK_INSTALL_URL,
        "placeholder": plain("https://jira.example.com/jira"),
        "max_length": 500,
    }
    if initial_url:
        url_element["initial_value"] = initial_url[:500]
    blocks = [
        section(
            "Connect this workspace to one Jira site. You'll authorize in Jira, and be linked to "
            "your own Jira account at the same time."
        ),
        {
            "type": "input",
            "block_id": ids.BLOCK_INSTALL_KIND,
            "label": plain("Jira type"),
            "element": kind_element,
        },
        {
            "type": "input",
            "block_id": ids.BLOCK_INSTALL_URL,
            "label": plain("Base URL"),
            "element": url_element,
            "hint": plain(f"Cloud: {CLOUD_EXAMPLE} · Data Center: {DATACENTER_EXAMPLE}"),
        },
        divider(),
        section(
            "*Data Center only:* in Jira, go to *Administration → Applications → Application links*, "
            "create an *External application* link with direction *Incoming*, permission *Write*, "
            "and this redirect URL:"
        ),
        section(f"```{redirect_uri}```"),
        *([context(allowed_hosts)] if allowed_hosts else []),
        {
            "type": "input",
            "block_id": ids.BLOCK_INSTALL_CLIENT_ID,
            "label": plain("Client ID"),
            "optional": True,
            "element": {
                "type": "plain_text_input",
                "action_id": ids.BLOCK_INSTALL_CLIENT_ID,
                "max_length": 255,
                "placeholder": plain("From the application link"),
            },
        },
        {
            "type": "input",
            "block_id": ids.BLOCK_INSTALL_CLIENT_SECRET,
            "label": plain("Client secret"),
            "optional": True,
            "element": {
                "type": "plain_text_input",
                "action_id": ids.BLOCK_INSTALL_CLIENT_SECRET,
                "max_length": 255,
                "placeholder": plain("From the application link"),
            },
            "hint": plain("Stored encrypted. Not needed for Jira Cloud."),
        },
    ]
    return modal(
        "Connect Jira", blocks, callback_id=ids.VIEW_ADMIN_INSTALL, submit="Continue", close="Cancel"
    )


def build_authorize_modal(
    title: str,
    intro: str,
    url: str,
    notes: list[str] | None = None,
    *,
    button_text: str = "Authorize in Jira",
) -> dict[str, Any]:
    blocks = [section(intro), actions(button(button_text, ids.ACTION_CONNECT_LINK, url=url, style="primary"))]
    if notes:
        blocks.append(context(*(escape_mrkdwn(note) for note in notes)))
    blocks.append(context("The link works once, for 10 minutes. I'll tell you in Slack when it's done."))
    return modal(title, blocks, callback_id=ids.VIEW_CONNECT, close="Done")


def build_info_modal(title: str, text: str) -> dict[str, Any]:
    return modal(title, [section(text)], callback_id=ids.VIEW_INFO, close="Close")


def build_home_view(status: UserStatus, admin: AdminStatus | None) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [header("Jira for Slack")]
    blocks.append(section(status_text(status)))
    if status.tenant is not None:
        if status.account is None or status.account.needs_reconnect:
            label = "Reconnect to Jira" if status.account is not None else "Connect to Jira"
            blocks.append(actions(button(label, ids.ACTION_CONNECT_START, value="connect", style="primary")))
        else:
            who = _who(status)
            blocks.append(
                actions(
                    button(
                        "Disconnect",
                        ids.ACTION_DISCONNECT,
                        value="disconnect",
                        style="danger",
                        confirm=confirm_dialog(
                            "Disconnect Jira?",
                            f"You'll need to connect again to create issues as {who}.",
                            "Disconnect",
                        ),
                    )
                )
            )
    blocks.append(
        context(
            "Turn any message into an issue with *Create Jira issue* in the message's "
            "⋯ menu, or run `/jira create`. `/jira help` lists everything."
        )
    )
    if admin is not None:
        blocks += [
            divider(),
            header("Workspace admin"),
            section(admin_status_text(admin)),
            section("*Default project* for new issues", accessory=default_project_select(admin)),
            unfurl_switch(admin.full_restricted_unfurls),
        ]
    return {"type": "home", "blocks": blocks}


def unfurl_switch(full: bool) -> dict[str, Any]:
    """The admin's switch for link previews of issues with a security level."""
    state = "shown in full" if full else "shown as their key and \"Restricted issue\" only"
    label, value = ("Show key only", "off") if full else ("Show in full", "on")
    return section(
        f"*Link previews of restricted issues* (with a security level) are {state}.",
        accessory=button(label, ids.ACTION_UNFURL_RESTRICTED, value=value),
    )


def build_reconnect_dm(site: str) -> Message:
    text = (
        f"Your Jira link on {escape_mrkdwn(site)} stopped working "
        "(the authorization was revoked or expired). "
        "Run `/jira connect` or use the button to link it again."
    )
    return {
        "text": text,
        "blocks": [
            section(text),
            actions(button("Reconnect to Jira", ids.ACTION_CONNECT_START, value="connect", style="primary")),
        ],
    }
