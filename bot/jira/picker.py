"""Jira's issue picker (`GET …/issue/picker`) read into plain values.

Jira answers with sections: "History Search" (id `hs`: issues the user created, edited or viewed, newest
first) and "Current Search" (id `cs`: issues matching the query). Each suggestion has the key and the
summary as plain text (`summaryText`; `summary` is HTML with the match in bold).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

HISTORY_SECTION = "hs"
CURRENT_SECTION = "cs"


@dataclass(frozen=True)
class PickedIssue:
    key: str
    summary: str


@dataclass(frozen=True)
class IssuePicks:
    history: tuple[PickedIssue, ...] = ()
    current: tuple[PickedIssue, ...] = ()

    @property
    def all(self) -> tuple[PickedIssue, ...]:
        """History first, then the current search, each key once."""
        seen: set[str] = set()
        found: list[PickedIssue] = []
        for issue in (*self.history, *self.current):
            if issue.key not in seen:
                seen.add(issue.key)
                found.append(issue)
        return tuple(found)

    @classmethod
    def parse(cls, data: Any) -> IssuePicks:
        sections = data.get("sections") if isinstance(data, Mapping) else None
        by_id: dict[str, list[PickedIssue]] = {HISTORY_SECTION: [], CURRENT_SECTION: []}
        for section in sections if isinstance(sections, list) else []:
            if not isinstance(section, Mapping):
                continue
            ident = str(section.get("id") or "")
            if ident not in by_id:
                label = str(section.get("label") or "").lower()
                ident = HISTORY_SECTION if label.startswith("history") else CURRENT_SECTION
            for issue in section.get("issues") or []:
                if isinstance(issue, Mapping) and issue.get("key"):
                    by_id[ident].append(PickedIssue(key=str(issue["key"]),
                                                    summary=str(issue.get("summaryText") or "")))
        return cls(history=tuple(by_id[HISTORY_SECTION]), current=tuple(by_id[CURRENT_SECTION]))
