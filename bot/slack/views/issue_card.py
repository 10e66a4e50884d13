"""The issue card: one builder for every place an issue appears in Slack (the thread reply after a
create, `/jira show`, unfurls, channel and personal notifications).

Pure functions: an :class:`IssueSnapshot` in, Block Kit out. Every string Jira controls is escaped.
The actions run as whoever clicks them; buttons carry the issue key as their value, and the
Transition select (an external select: its options are the transitions Jira offers the person who
opens it) finds the key in its block's ID. :func:`card_issue_key` reads either back.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bot.jira.issues import IssueSnapshot, StatusCategory
from bot.slack import ids
from bot.slack.views.blocks import Block, actions, button, clip, context, escape, plain, section

Message = dict[str, Any]

STATUS_EMOJI = {
    StatusCategory.TODO: ":white_circle:",
    StatusCategory.IN_PROGRESS: ":large_blue_circle:",
    StatusCategory.DONE: ":large_green_circle:",
    StatusCategory.UNKNOWN: ":black_circle:",
}
RESTRICTED = "Restricted issue"
UNASSIGNED = "Unassigned"
NO_SUMMARY = "(no summary)"
SUMMARY_LIMIT = 200
KEY_SEPARATOR = ":"


def issue_url(site_url: str, key: str) -> str:
    """Where people open an issue: `{site}/browse/KEY` (the site's own URL, never the API's)."""
    return f"{site_url.rstrip('/')}/browse/{key}"


def build_issue_card(
    issue: IssueSnapshot,
    *,
    site_url: str,
    with_actions: bool = True,
    share: bool = False,
    viewer_watching: bool | None = None,
) -> list[Block]:
    """The card's blocks: title, facts, and (unless `with_actions` is off) the actions.

    `share` adds "Share in channel" (for a card shown privately); `viewer_watching` is what the card
    says about its one viewer, for cards only that person sees (None: a card others see too).
    """
    url = issue_url(site_url, issue.key)
    title = escape(clip(issue.summary, SUMMARY_LIMIT)) if issue.summary else NO_SUMMARY
    blocks: list[Block] = [
        section(f"*<{url}|{escape(issue.key)}>* {title}"),
        {"type": "section", "fields": [
            _field("Status", f"{STATUS_EMOJI[issue.status_category]} {escape(issue.status)}"),
            _field("Type", escape(issue.issue_type)),
            _field("Priority", escape(issue.priority) if issue.priority else "None"),
            _field("Assignee", escape(issue.assignee.display_name) if issue.assignee else UNASSIGNED),
        ]},
        context(*_context_parts(issue, viewer_watching)),
    ]
    if with_actions:
        blocks.append(_card_actions(issue.key, share=share))
    return blocks


def build_restricted_card(key: str, *, site_url: str) -> list[Block]:
    """An issue with a security level, where full previews are off: its key and nothing else."""
    return [section(f"*<{issue_url(site_url, key)}|{escape(key)}>* · :lock: {RESTRICTED}")]


def card_text(issue: IssueSnapshot) -> str:
    """The notification text of a message that holds a card (what Slack shows where blocks can't be)."""
    return f"{issue.key}: {clip(issue.summary, SUMMARY_LIMIT) or NO_SUMMARY} [{issue.status}]"


def build_card_message(issue: IssueSnapshot, *, site_url: str, **options: Any) -> Message:
    """A whole message (text and blocks) holding one card; options as for :func:`build_issue_card`."""
    return {"text": card_text(issue), "blocks": build_issue_card(issue, site_url=site_url, **options)}


def card_issue_key(action: Mapping[str, Any]) -> str | None:
    """The issue a card action is about: a button's value, or the Transition select's block ID."""
    if action.get("action_id") == ids.ACTION_CARD_TRANSITION:
        block_id = str(action.get("block_id") or "")
        prefix = ids.BLOCK_CARD_ACTIONS + KEY_SEPARATOR
        if not block_id.startswith(prefix):
            return None
        return block_id[len(prefix):] or None
    value = action.get("value")
    return str(value) if value else None


def _card_actions(key: str, *, share: bool) -> Block:
    elements: list[dict[str, Any]] = [
        button("Assign to me", ids.ACTION_CARD_ASSIGN, value=key),
        {
            "type": "external_select",
            "action_id": ids.ACTION_CARD_TRANSITION,
            "placeholder": plain("Transition"),
            "min_query_length": 0,
        },
        button("Comment", ids.ACTION_CARD_COMMENT, value=key),
        button("Watch", ids.ACTION_CARD_WATCH, value=key),
    ]
    if share:
        elements.append(button("Share in channel", ids.ACTION_CARD_SHARE, value=key, style="primary"))
    return actions(*elements, block_id=f"{ids.BLOCK_CARD_ACTIONS}{KEY_SEPARATOR}{key}")


def _context_parts(issue: IssueSnapshot, viewer_watching: bool | None) -> list[str]:
    parts = []
    if issue.reporter is not None:
        parts.append(f"Reporter: {escape(issue.reporter.display_name)}")
    if issue.updated is not None:
        parts.append(f"Updated {_when(issue.updated)}")
    if issue.restricted:
        parts.append(f":lock: {escape(issue.security_level or RESTRICTED)}")
    if viewer_watching:
        parts.append(":eyes: You are watching")
    elif issue.watch_count:
        parts.append(f":eyes: {issue.watch_count} watching")
    return parts or [escape(issue.project_name or issue.project_key)]


def _field(label: str, value: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": f"*{label}*\n{value}"}


def _when(value: datetime) -> str:
    utc = value.astimezone(UTC)
    return f"<!date^{int(utc.timestamp())}^{{date_short_pretty}} at {{time}}|{utc:%Y-%m-%d %H:%M} UTC>"
