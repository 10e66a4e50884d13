"""Where an issue card is, and what a card's modal is about: state that travels through Slack in a
modal's `private_metadata`, written and read by one pair of functions."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from bot.slack.metadata import METADATA_LIMIT, MetadataError

VERSION = "card1"


@dataclass(frozen=True)
class CardPlace:
    """The message holding a card that someone clicked.

    ``bot_message``: the bot posted it, so `chat.update` can change it; ``ephemeral``: only the clicker
    sees it (changed through ``response_url``); ``private``: such a card speaks to its one reader
    (it says whether they watch the issue, and offers "Share in channel")."""

    channel_id: str | None = None
    message_ts: str | None = None
    ephemeral: bool = False
    bot_message: bool = False
    private: bool = False
    response_url: str | None = None
    note: str | None = None  # the card's "Created by …"/"Shared by …" line, kept when it is updated

    @classmethod
    def from_action(cls, body: Mapping[str, Any], bot_user_id: str | None, bot_id: str | None) -> CardPlace:
        container = body.get("container") or {}
        message = body.get("message") or {}
        ephemeral = bool(container.get("is_ephemeral"))
        in_message = container.get("type") == "message"
        posted_by_bot = bool(message) and (
            (bot_id is not None and message.get("bot_id") == bot_id)
            or (bot_user_id is not None and message.get("user") == bot_user_id)
        )
        return cls(
            channel_id=container.get("channel_id") or (body.get("channel") or {}).get("id"),
            message_ts=container.get("message_ts"),
            ephemeral=ephemeral,
            bot_message=in_message and not ephemeral and posted_by_bot,
            private=ephemeral,
            response_url=body.get("response_url"),
            note=_attribution(message.get("blocks") or []),
        )


@dataclass(frozen=True)
class CardModal:
    """A card's Comment or Transition modal: the issue, the card, and for a transition its id,
    name and the inputs of its screen as ``(field_id, kind)`` pairs."""

    key: str
    place: CardPlace
    transition_id: str | None = None
    transition_name: str | None = None
    fields: tuple[tuple[str, str], ...] = ()

    def with_transition(
        self, transition_id: str, name: str, fields: tuple[tuple[str, str], ...]
    ) -> CardModal:
        return replace(self, transition_id=transition_id, transition_name=name, fields=fields)


def encode_card_modal(state: CardModal) -> str:
    place = state.place
    data: dict[str, Any] = {"v": VERSION, "k": state.key}
    packed = {
        "c": place.channel_id,
        "m": place.message_ts,
        "e": place.ephemeral or None,
        "b": place.bot_message or None,
        "p": place.private or None,
        "u": place.response_url,
        "o": place.note,
        "t": state.transition_id,
        "n": state.transition_name,
        "f": [list(pair) for pair in state.fields] or None,
    }
    data.update({k: v for k, v in packed.items() if v is not None})
    encoded = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    if len(encoded) > METADATA_LIMIT:
        raise MetadataError(f"private_metadata would be {len(encoded)} characters (limit {METADATA_LIMIT})")
    return encoded


def decode_card_modal(raw: str | None) -> CardModal:
    try:
        data = json.loads(raw or "")
    except ValueError:
        raise MetadataError("private_metadata is not JSON") from None
    if not isinstance(data, dict) or data.get("v") != VERSION or not isinstance(data.get("k"), str):
        raise MetadataError("private_metadata is not issue card state")
    fields = data.get("f") or []
    if not isinstance(fields, list) or not all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in fields
    ):
        raise MetadataError("private_metadata has malformed fields")

    def text(name: str) -> str | None:
        value = data.get(name)
        if value is not None and not isinstance(value, str):
            raise MetadataError(f"private_metadata has a malformed {name}")
        return value

    place = CardPlace(
        channel_id=text("c"),
        message_ts=text("m"),
        ephemeral=bool(data.get("e")),
        bot_message=bool(data.get("b")),
        private=bool(data.get("p")),
        response_url=text("u"),
        note=text("o"),
    )
    return CardModal(
        key=data["k"],
        place=place,
        transition_id=text("t"),
        transition_name=text("n"),
        fields=tuple((p[0], p[1]) for p in fields),
    )


ATTRIBUTIONS = ("Created by <@", "Shared by <@", "Added by <@")


def _attribution(blocks: Any) -> str | None:
    for block in blocks if isinstance(blocks, list) else []:
        if not isinstance(block, Mapping) or block.get("type") != "context":
            continue
        for element in block.get("elements") or []:
            text = str((element or {}).get("text") or "") if isinstance(element, Mapping) else ""
            if text.startswith(ATTRIBUTIONS):
                return text[:200]
    return None
