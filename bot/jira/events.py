"""A Jira webhook delivery read into one plain value: what happened to which issue, and who did it.

Neutral data, as Jira Cloud and Data Center send it (`webhookEvent`, `issue_event_type_name`,
`issue`, `changelog`, `comment`, `user`, `matchedWebhookIds`, `timestamp`). Services decide who
hears it; the Slack side renders it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

COMMENT_QUOTE_LIMIT = 300


class EventKind(StrEnum):
    """The kinds a subscription chooses from (its "Events" checkboxes)."""

    CREATED = "created"
    TRANSITIONED = "transitioned"
    COMMENTED = "commented"
    ASSIGNED = "assigned"


#: The Jira webhook events that carry each kind.
WEBHOOK_EVENTS = {
    EventKind.CREATED: "jira:issue_created",
    EventKind.TRANSITIONED: "jira:issue_updated",
    EventKind.ASSIGNED: "jira:issue_updated",
    EventKind.COMMENTED: "comment_created",
}


def webhook_events_for(kinds: list[str] | tuple[str, ...]) -> list[str]:
    return sorted({WEBHOOK_EVENTS[EventKind(k)] for k in kinds})


@dataclass(frozen=True)
class Person:
    ident: str | None
    name: str


@dataclass(frozen=True)
class Transition:
    from_status: str
    to_status: str


@dataclass(frozen=True)
class Assignment:
    before: str | None  # display names; None: unassigned
    after: str | None
    after_ident: str | None


@dataclass(frozen=True)
class CommentEvent:
    id: str
    author: Person | None
    text: str
    restricted: bool


@dataclass(frozen=True)
class JiraEvent:
    webhook_event: str
    issue_key: str
    issue_id: str
    project_key: str
    actor: Person | None
    kinds: frozenset[EventKind]
    transition: Transition | None = None
    assignment: Assignment | None = None
    comment: CommentEvent | None = None
    matched_webhook_ids: tuple[str, ...] = field(default_factory=tuple)
    timestamp: int | None = None
    #: The delivery as Jira sent it, for handlers that need more (mentions in a comment's body, watchers).
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def parse(cls, payload: Mapping[str, Any]) -> JiraEvent | None:
        """None when the delivery is not about an issue (or names none)."""
        issue = _map(payload.get("issue"))
        key = issue.get("key")
        if not key:
            return None
        fields = _map(issue.get("fields"))
        project = _map(fields.get("project"))
        webhook_event = str(payload.get("webhookEvent") or "")
        kinds: set[EventKind] = set()
        transition = assignment = None
        comment = None
        if webhook_event == "jira:issue_created":
            kinds.add(EventKind.CREATED)
        elif webhook_event == "jira:issue_updated":
            for item in _map(payload.get("changelog")).get("items") or []:
                item = _map(item)
                name = str(item.get("field") or item.get("fieldId") or "").lower()
                if name == "status":
                    kinds.add(EventKind.TRANSITIONED)
                    transition = Transition(
                        str(item.get("fromString") or "?"), str(item.get("toString") or "?")
                    )
                elif name == "assignee":
                    kinds.add(EventKind.ASSIGNED)
                    assignment = Assignment(
                        _str(item.get("fromString")), _str(item.get("toString")), _str(item.get("to"))
                    )
        elif webhook_event == "comment_created":
            data = _map(payload.get("comment"))
            if data.get("id") is not None:
                kinds.add(EventKind.COMMENTED)
                comment = CommentEvent(
                    id=str(data["id"]),
                    author=_person(data.get("author")),
                    text=plain_text(data.get("body")),
                    restricted=bool(data.get("visibility")),
                )
        actor = _person(payload.get("user"))
        if actor is None and comment is not None:
            actor = comment.author
        timestamp = payload.get("timestamp")
        return cls(
            webhook_event=webhook_event,
            issue_key=str(key),
            issue_id=str(issue.get("id") or ""),
            project_key=str(project.get("key") or str(key).rsplit("-", 1)[0]),
            actor=actor,
            kinds=frozenset(kinds),
            transition=transition,
            assignment=assignment,
            comment=comment,
            matched_webhook_ids=tuple(str(i) for i in payload.get("matchedWebhookIds") or ()),
            timestamp=timestamp if isinstance(timestamp, int) else None,
            raw=payload,
        )


def issue_key_of(payload: Mapping[str, Any]) -> str:
    return str(_map(payload.get("issue")).get("key") or "")


def plain_text(body: Any, limit: int = COMMENT_QUOTE_LIMIT) -> str:
    """A comment body as plain text: Atlassian Document Format (Cloud v3) or wiki markup (v2)."""
    if isinstance(body, Mapping):
        parts: list[str] = []
        _adf_text(body, parts)
        text = "".join(parts)
    else:
        text = str(body or "")
    text = "\n".join(line.rstrip() for line in text.strip().splitlines())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _adf_text(node: Mapping[str, Any], out: list[str]) -> None:
    kind = node.get("type")
    attrs = _map(node.get("attrs"))
    if kind == "text":
        out.append(str(node.get("text") or ""))
    elif kind == "mention":
        out.append(str(attrs.get("text") or "@someone"))
    elif kind == "emoji":
        out.append(str(attrs.get("text") or attrs.get("shortName") or ""))
    elif kind == "hardBreak":
        out.append("\n")
    for child in node.get("content") or []:
        if isinstance(child, Mapping):
            _adf_text(child, out)
    if kind in {"paragraph", "heading", "listItem", "codeBlock", "blockquote"}:
        out.append("\n")


def _person(data: Any) -> Person | None:
    data = _map(data)
    if not data:
        return None
    ident = data.get("accountId") or data.get("name") or data.get("key")
    return Person(
        ident=str(ident) if ident else None, name=str(data.get("displayName") or ident or "Someone")
    )


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _str(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None
