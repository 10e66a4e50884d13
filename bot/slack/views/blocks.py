"""Small Block Kit primitives shared by the builders."""

from __future__ import annotations

from typing import Any

Block = dict[str, Any]


def escape_mrkdwn(text: str) -> str:
    """Text shown as is inside mrkdwn: Slack's three escapes. Every string that Jira (or a person)
    controls goes through here before it joins mrkdwn, so that `<https://evil|Re-authorize>` in a
    project name stays text and never becomes a link, a mention or a broadcast."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


escape = escape_mrkdwn  # the short name the card builders use


def mrkdwn_link(url: str, label: str) -> str:
    """A link whose URL and label are both escaped (a `|` or `>` in either cannot end it early)."""
    return f"<{escape_mrkdwn(url).replace('|', '%7C')}|{escape_mrkdwn(label)}>"


def plain(text: str, *, emoji: bool = True) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": emoji}


def mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def section(text: str, *, accessory: dict[str, Any] | None = None, block_id: str | None = None) -> Block:
    block: Block = {"type": "section", "text": mrkdwn(text)}
    if accessory is not None:
        block["accessory"] = accessory
    if block_id is not None:
        block["block_id"] = block_id
    return block


def header(text: str) -> Block:
    return {"type": "header", "text": plain(text[:150])}


def context(*texts: str) -> Block:
    return {"type": "context", "elements": [mrkdwn(t) for t in texts[:10]]}


def divider() -> Block:
    return {"type": "divider"}


def actions(*elements: dict[str, Any], block_id: str | None = None) -> Block:
    block: Block = {"type": "actions", "elements": list(elements)}
    if block_id is not None:
        block["block_id"] = block_id
    return block


def button(
    text: str,
    action_id: str,
    *,
    url: str | None = None,
    value: str | None = None,
    style: str | None = None,
    confirm: dict[str, Any] | None = None,
) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "button", "text": plain(text[:75]), "action_id": action_id}
    if url is not None:
        element["url"] = url
    if value is not None:
        element["value"] = value
    if style is not None:
        element["style"] = style
    if confirm is not None:
        element["confirm"] = confirm
    return element


def confirm_dialog(
    title: str, text: str, confirm: str, deny: str = "Cancel", *, style: str = "danger"
) -> dict[str, Any]:
    return {
        "title": plain(title[:100]),
        "text": mrkdwn(text[:300]),
        "confirm": plain(confirm[:30]),
        "deny": plain(deny[:30]),
        "style": style,
    }


def option(text: str, value: str) -> dict[str, Any]:
    return {"text": plain(_clip(text, 75)), "value": value[:150]}


def modal(
    title: str,
    blocks: list[Block],
    *,
    callback_id: str | None = None,
    submit: str | None = None,
    close: str | None = "Close",
    private_metadata: str | None = None,
    external_id: str | None = None,
) -> dict[str, Any]:
    view: dict[str, Any] = {"type": "modal", "title": plain(_clip(title, 24)), "blocks": blocks}
    if callback_id is not None:
        view["callback_id"] = callback_id
    if submit is not None:
        view["submit"] = plain(_clip(submit, 24))
    if close is not None:
        view["close"] = plain(_clip(close, 24))
    if private_metadata is not None:
        view["private_metadata"] = private_metadata
    if external_id is not None:
        view["external_id"] = external_id
    return view


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def clip(text: str, limit: int) -> str:
    return _clip(text, limit)
