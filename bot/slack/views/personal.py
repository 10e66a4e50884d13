"""Personal notifications in Slack: the grouped DM (what changed, then the issue card), the App Home
switches, and the lines `/jira notify` and `/jira status` answer with. Pure functions."""

from __future__ import annotations

from typing import Any

from bot.services.personal import Change, PersonalDm, PersonalKind, Switches
from bot.slack import ids
from bot.slack.views.blocks import context, divider, escape, header, option, section
from bot.slack.views.issue_card import build_issue_card, card_text

Message = dict[str, Any]

KIND_LABELS = {
    PersonalKind.ASSIGNED.value: "Assigned to me",
    PersonalKind.MENTIONED.value: "Mentioned",
    PersonalKind.COMMENTED.value: "Comments on my issues",
    PersonalKind.TRANSITIONED.value: "Status changes on my issues",
}
HOME_TITLE = "Personal notifications"
HOME_HINT = (
    "Direct messages when someone else assigns you an issue, mentions you, or comments on or moves an "
    "issue you reported or watch. Turn them all on or off with `/jira notify on` or `/jira notify off`."
)
RECONNECT_HINT = (
    "Your link was made before the bot could watch Jira for you: run `/jira connect` again to hear about "
    "issues assigned to you or reported by you in every project."
)
NOT_LINKED = "Personal notifications need your Jira account: run `/jira connect` first."
NOTIFY_USAGE = "Use `/jira notify on` or `/jira notify off` (or switch each kind in my App Home)."


def change_line(change: Change, issue_key: str) -> str:
    who = change.actor or "Someone"
    if change.kind == PersonalKind.ASSIGNED:
        return f"{who} assigned {issue_key} to you"
    if change.kind == PersonalKind.TRANSITIONED:
        return f"{who} moved {issue_key} from {change.from_status} to {change.to_status}"
    if change.kind == PersonalKind.MENTIONED:
        where = "the description of" if change.where == "description" else "a comment on"
        return f"{who} mentioned you in {where} {issue_key}"
    return f"{who} commented on {issue_key}"


def build_personal_dm(dm: PersonalDm) -> Message:
    """One message for everything that happened to one issue within the window: the changes first,
    then the issue card as the recipient sees it now."""
    key = dm.issue.key
    lines: list[str] = []
    plain: list[str] = []
    for change in dm.changes:
        line = change_line(change, key)
        plain.append(line)
        entry = f"• {escape(line)}" if len(dm.changes) > 1 else f"*{escape(line)}*"
        if change.quote:
            quoted = "\n".join(f"> {escape(q)}" for q in change.quote.splitlines() if q.strip())
            entry = f"{entry}\n{quoted}"
        lines.append(entry)
    body = "\n".join(lines)
    blocks = [section(body[:3000])]
    blocks += build_issue_card(dm.issue, site_url=dm.tenant.site_url, viewer_watching=dm.issue.watching)
    text = "; ".join(plain) if plain else card_text(dm.issue)
    return {"text": text[:3000], "blocks": blocks}


def switches_line(switches: Switches) -> str:
    if not switches.linked:
        return NOT_LINKED
    if not switches.any_on:
        return "Personal notifications are *off*. Turn them on with `/jira notify on`."
    on = [label for kind, label in KIND_LABELS.items() if kind in switches.kinds_on]
    if len(on) == len(KIND_LABELS):
        return "Personal notifications are *on*: " + ", ".join(on) + "."
    return "Personal notifications are on for: " + ", ".join(on) + "."


def build_notify_answer(switches: Switches) -> Message:
    text = switches_line(switches)
    if switches.linked and not switches.webhooks_ready:
        text = f"{text}\n{RECONNECT_HINT}"
    return {"response_type": "ephemeral", "text": text, "blocks": [section(text)]}


def build_home_switches(switches: Switches) -> list[dict[str, Any]]:
    """The App Home section: one checkbox per kind (checked: on)."""
    if not switches.linked:
        return []
    options = [option(label, kind) for kind, label in KIND_LABELS.items()]
    element: dict[str, Any] = {
        "type": "checkboxes",
        "action_id": ids.ACTION_PERSONAL_KINDS,
        "options": options,
    }
    chosen = [o for o in options if o["value"] in switches.kinds_on]
    if chosen:
        element["initial_options"] = chosen
    blocks: list[dict[str, Any]] = [
        divider(),
        header(HOME_TITLE),
        section(HOME_HINT),
        {"type": "actions", "block_id": ids.BLOCK_PERSONAL_KINDS, "elements": [element]},
    ]
    if not switches.webhooks_ready:
        blocks.append(context(RECONNECT_HINT))
    return blocks
