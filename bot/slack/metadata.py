"""State that travels through Slack in a modal's `private_metadata` (at most 3,000 characters).

One pair of functions reads and writes it: :func:`encode_metadata` and :func:`decode_metadata`. The
encoding is compact JSON with short keys and a version number, so that a modal opened by an older
release still decodes (unknown keys are ignored, missing ones take their defaults).
"""

from __future__ import annotations

import json
from typing import Any

from bot.form_state import ModalState

__all__ = ["METADATA_LIMIT", "MetadataError", "ModalState", "decode_metadata", "encode_metadata"]

METADATA_LIMIT = 3000
VERSION = 1


class MetadataError(ValueError):
    """The metadata is not ours, is damaged, or would not fit in Slack's limit."""


_KEYS = {
    "channel_id": "c",
    "message_ts": "m",
    "thread_ts": "t",
    "project_key": "p",
    "project_id": "pi",
    "issue_type_id": "it",
    "fields": "f",
    "description_digest": "d",
    "has_draft": "dr",
    "truncated": "tr",
}


def encode_metadata(state: ModalState) -> str:
    """``state`` as a `private_metadata` string; MetadataError if it would exceed Slack's limit."""
    data: dict[str, Any] = {"v": VERSION}
    for name, short in _KEYS.items():
        value = getattr(state, name)
        if value in (None, (), False):
            continue
        data[short] = [list(pair) for pair in value] if name == "fields" else value
    encoded = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    if len(encoded) > METADATA_LIMIT:
        raise MetadataError(f"private_metadata would be {len(encoded)} characters (limit {METADATA_LIMIT})")
    return encoded


def decode_metadata(raw: str | None) -> ModalState:
    """The state in a `private_metadata` string (an empty one gives the defaults)."""
    if not raw:
        return ModalState()
    try:
        data = json.loads(raw)
    except ValueError:
        raise MetadataError("private_metadata is not JSON") from None
    if not isinstance(data, dict) or data.get("v") != VERSION:
        raise MetadataError("private_metadata is not create-issue state")
    values: dict[str, Any] = {}
    for name, short in _KEYS.items():
        if short not in data:
            continue
        value = data[short]
        if name == "fields":
            if not isinstance(value, list) or not all(
                isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)
                for pair in value
            ):
                raise MetadataError("private_metadata has malformed fields")
            value = tuple((pair[0], pair[1]) for pair in value)
        elif name in ("has_draft", "truncated"):
            value = bool(value)
        elif not isinstance(value, str):
            raise MetadataError(f"private_metadata has a malformed {name}")
        values[name] = value
    return ModalState(**values)
