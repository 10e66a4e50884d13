"""Who a piece of Jira text mentions: ADF `mention` nodes (Cloud, their `attrs.id` is the accountId)
and wiki markup `[~name]` / `[~accountid:ID]` (Data Center, and Cloud's v2 representation)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

WIKI_MENTION = re.compile(r"\[~(?:accountid:)?([^\]\s|]+)\]")


def mentioned(body: Any) -> set[str]:
    """The account ids (ADF, `[~accountid:…]`) or user names (`[~name]`) that `body` mentions."""
    found: set[str] = set()
    if isinstance(body, Mapping):
        _adf(body, found)
    elif isinstance(body, str):
        found.update(WIKI_MENTION.findall(body))
    return found


def _adf(node: Mapping[str, Any], found: set[str]) -> None:
    if node.get("type") == "mention":
        attrs = node.get("attrs")
        if isinstance(attrs, Mapping) and attrs.get("id"):
            found.add(str(attrs["id"]).removeprefix("accountid:"))
    for child in node.get("content") or ():
        if isinstance(child, Mapping):
            _adf(child, found)
