"""Messages of channel notifications: what happened, in the issue's thread. Pure functions."""

from __future__ import annotations

from typing import Any

from bot.jira.events import EventKind, JiraEvent
from bot.slack.views.blocks import escape, section

Message = dict[str, Any]


def event_lines(event: JiraEvent, issue_key: str) -> list[str]:
    """Who did what, one line per change: "Ada moved ENG-1 from To Do to In Progress"."""
    who = event.actor.name if event.actor else "Someone"
    lines: list[str] = []
    if EventKind.CREATED in event.kinds:
        lines.append(f"{who} created {issue_key}")
    if event.transition is not None:
        lines.append(
            f"{who} moved {issue_key} from {event.transition.from_status} to {event.transition.to_status}"
        )
    if event.assignment is not None:
        if event.assignment.after:
            lines.append(f"{who} assigned {issue_key} to {event.assignment.after}")
        else:
            lines.append(f"{who} unassigned {issue_key}")
    if event.comment is not None:
        lines.append(f"{who} commented on {issue_key}")
    return lines


def build_event_reply(event: JiraEvent, issue_key: str) -> Message:
    lines = event_lines(event, issue_key)
    text = "\n".join(lines) or f"{issue_key} changed"
    body = "\n".join(
        f"*{escape(line)}*" if i == 0 else escape(line) for i, line in enumerate(lines)
    ) or escape(text)
    if event.comment is not None and event.comment.text:
        quoted = "\n".join(f"> {escape(line)}" for line in event.comment.text.splitlines() if line.strip())
        body = f"{body}\n{quoted}"
        text = f"{text}: {event.comment.text}"
    return {"text": text[:3000], "blocks": [section(body[:3000])]}
