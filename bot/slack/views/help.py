"""The `/jira help` answer."""

from __future__ import annotations

from typing import Any

from bot.slack.views.blocks import context, section

HELP_LINES = [
    ("`/jira connect`", "link your Jira account"),
    ("`/jira disconnect`", "unlink your Jira account"),
    ("`/jira status`", "see whether your Jira account is linked"),
    ("`/jira create [summary]`", "create a Jira issue"),
    ("`/jira show KEY`", "see an issue (also `/jira KEY`), act on it, share it in the channel"),
    ("`/jira subscribe`", "post this channel's Jira project events here, one thread per issue"),
    ("`/jira subscriptions`", "list or remove this channel's Jira subscriptions"),
    ("`/jira notify on|off`", "turn your personal Jira notifications (direct messages) on or off"),
    ("`/jira help`", "show this help"),
]
ADMIN_LINES = [
    ("`/jira admin install [site-url]`", "connect this workspace to a Jira site"),
    ("`/jira admin status`", "see the Jira site, linked users, and set the default project"),
    ("`/jira admin uninstall`", "disconnect this workspace from Jira"),
    ("`/jira admin unfurls restricted on|off`", "show issues with a security level in full in link previews"),
]
SHORTCUT_HINT = ("To turn a message into an issue, use *Create Jira issue* from the message's ⋯ menu; to add "
                 "it to an issue that exists, *Add to Jira issue*.")


def help_text(unknown: str | None = None) -> str:
    lines = []
    if unknown:
        lines.append(f"Sorry, I didn't understand `{unknown[:100]}`. Here is what I can do:")
    else:
        lines.append("Here is what I can do:")
    lines += [f"• {cmd} — {what}" for cmd, what in HELP_LINES]
    lines.append("Workspace admins:")
    lines += [f"• {cmd} — {what}" for cmd, what in ADMIN_LINES]
    lines.append(SHORTCUT_HINT)
    return "\n".join(lines)


def build_help_message(unknown: str | None = None) -> dict[str, Any]:
    """The help answer as an ephemeral message (text plus blocks)."""
    intro = (
        f"Sorry, I didn't understand `{unknown[:100]}`. Here is what I can do:"
        if unknown
        else "*Jira for Slack* — here is what I can do:"
    )
    user = "\n".join(f"• {cmd} — {what}" for cmd, what in HELP_LINES)
    admin = "\n".join(f"• {cmd} — {what}" for cmd, what in ADMIN_LINES)
    return {
        "response_type": "ephemeral",
        "text": help_text(unknown),
        "blocks": [
            section(intro),
            section(user),
            section(f"*Workspace admins*\n{admin}"),
            context(SHORTCUT_HINT),
        ],
    }
