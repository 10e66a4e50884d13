"""What the create-issue form starts with: a Slack message read into a summary and description, and the
drafts that keep them (with the full text of long messages) while the modal is open."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.clock import Clock
from bot.jira.formatting import (
    SLACK_INPUT_LIMIT,
    SlackMentions,
    truncate_for_slack_input,
    utf16_len,
)
from bot.services.create_meta import source_line
from storage.store import Storage

DRAFT_LIFETIME = timedelta(days=1)
SUMMARY_LIMIT = 255
_USER_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|([^<>]*))?>")
_CHANNEL_MENTION = re.compile(r"<#([CG][A-Z0-9]+)(?:\|([^<>]*))?>")
_SPECIAL = re.compile(r"<!(here|channel|everyone)(?:\|[^<>]*)?>")
_LABELLED_SPECIAL = re.compile(r"<!(?:subteam\^[A-Z0-9]+|date\^[^|<>]*)\|([^<>]*)>")


@dataclass(frozen=True)
class SourceMessage:
    """The message a shortcut acts on, read from the `message_action` payload.

    ``text`` is the message's text, or for one without (only files, attachments or blocks) whatever
    text those have; ``has_own_text`` tells which.
    """

    channel_id: str
    ts: str
    thread_ts: str | None
    text: str
    team_domain: str | None
    has_own_text: bool = True

    @classmethod
    def from_payload(cls, body: Mapping[str, Any]) -> SourceMessage:
        message = body.get("message") or {}
        channel = body.get("channel") or {}
        ts = str(message.get("ts") or body.get("message_ts") or "")
        thread_ts = message.get("thread_ts")
        return cls(
            channel_id=str(channel.get("id") or message.get("channel") or ""),
            ts=ts,
            thread_ts=str(thread_ts) if thread_ts and thread_ts != ts else None,
            text=text_of_message(message),
            team_domain=(body.get("team") or {}).get("domain"),
            has_own_text=bool(str(message.get("text") or "").strip()),
        )


@dataclass(frozen=True)
class FormTexts:
    """The summary and description the form shows; ``truncated`` when the message did not fit."""

    summary: str = ""
    description: str = ""
    truncated: bool = False


@dataclass(frozen=True)
class Prefill:
    """A message turned into form texts, with what Jira gets when the description is left as is."""

    summary: str = ""
    description: str = ""
    body: str = ""
    permalink: str | None = None
    truncated: bool = False

    @property
    def texts(self) -> FormTexts:
        return FormTexts(self.summary, self.description, self.truncated)

    def to_json(self) -> dict[str, Any]:
        return {"summary": self.summary, "description": self.description, "body": self.body,
                "permalink": self.permalink, "truncated": self.truncated}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Prefill:
        return cls(str(data.get("summary") or ""), str(data.get("description") or ""),
                   str(data.get("body") or ""), data.get("permalink"), bool(data.get("truncated")))


def description_digest(text: str) -> str:
    """A fingerprint of a description, to tell whether the user edited the prefilled one."""
    normalised = text.replace("\r\n", "\n").strip()
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()[:20]


def text_of_message(message: Mapping[str, Any]) -> str:
    """A message's text; for one without (only blocks, attachments or files), whatever text those have."""
    text = str(message.get("text") or "").strip()
    if text:
        return text
    parts: list[str] = []
    for block in message.get("blocks") or []:
        parts.extend(_block_texts(block))
    for attachment in message.get("attachments") or []:
        for key in ("pretext", "title", "text"):
            if attachment.get(key):
                parts.append(str(attachment[key]))
        if not any(attachment.get(k) for k in ("pretext", "title", "text")) and attachment.get("fallback"):
            parts.append(str(attachment["fallback"]))
    names = [str(f.get("title") or f.get("name")) for f in message.get("files") or []
             if f.get("title") or f.get("name")]
    if names:
        parts.append("Files: " + ", ".join(names))
    return "\n\n".join(p.strip() for p in parts if p and p.strip())


def _block_texts(block: Mapping[str, Any]) -> list[str]:
    kind = block.get("type")
    if kind in ("section", "header"):
        texts = [str((block.get("text") or {}).get("text") or "")]
        texts += [str(f.get("text") or "") for f in block.get("fields") or []]
        return texts
    if kind == "context":
        return [str(e.get("text") or "") for e in block.get("elements") or [] if e.get("text")]
    if kind == "rich_text":
        return ["".join(_rich_text(e) for e in section.get("elements") or [])
                for section in block.get("elements") or []]
    return []


def _rich_text(element: Mapping[str, Any]) -> str:
    kind = element.get("type")
    if kind == "text":
        return str(element.get("text") or "")
    if kind == "link":
        url = str(element.get("url") or "")
        return f"<{url}|{element['text']}>" if element.get("text") else f"<{url}>"
    if kind == "user":
        return f"<@{element.get('user_id')}>"
    if kind == "channel":
        return f"<#{element.get('channel_id')}>"
    if kind == "emoji":
        return f":{element.get('name')}:"
    if kind in ("rich_text_section", "rich_text_preformatted", "rich_text_quote"):
        return "".join(_rich_text(e) for e in element.get("elements") or [])
    if kind == "rich_text_list":
        return "\n".join("• " + _rich_text(e) for e in element.get("elements") or [])
    return str(element.get("text") or "")


def readable_text(text: str, mentions: SlackMentions) -> str:
    """Slack text with mentions shown as people read them (for the modal): @name, #channel, @here,
    a user group's handle and a date's fallback text."""

    def user(match: re.Match[str]) -> str:
        name = mentions.users.get(match[1]) or match[2] or match[1]
        return "@" + name.removeprefix("@")

    def channel(match: re.Match[str]) -> str:
        name = mentions.channels.get(match[1]) or match[2] or match[1]
        return "#" + name.removeprefix("#")

    text = _CHANNEL_MENTION.sub(channel, _USER_MENTION.sub(user, text))
    text = _SPECIAL.sub(lambda match: "@" + match[1], text)
    return _LABELLED_SPECIAL.sub(lambda match: match[1], text)


def fit_description(body: str, permalink: str | None) -> tuple[str, bool]:
    """The description input's text: the message (cut to fit Slack) and the link line; and whether
    the message was cut."""
    line = source_line(permalink) if permalink else ""
    room = SLACK_INPUT_LIMIT - (utf16_len(line) + 2 if line else 0)
    shown = truncate_for_slack_input(body, room)
    return "\n\n".join(part for part in (shown, line) if part), shown != body


# ---------------------------------------------------------------------------------------------------
# Drafts
# ---------------------------------------------------------------------------------------------------


class DraftStore:
    """The prefill of an open modal, kept (encrypted) until its issue is created or it expires.

    The full text of a long message does not fit in Slack's inputs or `private_metadata`, and a
    confirmation step comes between the shortcut and the form; so it waits here, keyed by view. It
    lives in the expiring key table that idempotency keys use, under its own `draft:` prefix.
    """

    def __init__(self, storage: Storage, clock: Clock) -> None:
        self._storage = storage
        self._clock = clock

    @staticmethod
    def key(team_id: str, view_id: str) -> str:
        return f"draft:{team_id}:{view_id}"

    async def save(self, team_id: str, view_id: str, prefill: Prefill) -> None:
        now = self._clock.now()
        sealed = self._storage.encryptor.encrypt(json.dumps(prefill.to_json()))
        await self._storage.idempotency.put(
            self.key(team_id, view_id), team_id=team_id, result={"draft": sealed}, now=now,
            expires_at=now + DRAFT_LIFETIME,
        )

    async def load(self, team_id: str, view_id: str) -> Prefill | None:
        found = await self._storage.idempotency.get(self.key(team_id, view_id), now=self._clock.now())
        sealed = (found or {}).get("draft")
        if not sealed:
            return None
        return Prefill.from_json(json.loads(self._storage.encryptor.decrypt(sealed)))

    async def discard(self, team_id: str, view_id: str) -> None:
        await self._storage.idempotency.release(self.key(team_id, view_id))
