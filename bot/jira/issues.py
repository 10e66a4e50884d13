"""An issue as the bot shows it: the fields an issue card needs, read from Jira Cloud (v3) or Data
Center (v2) issue JSON into one plain value.

Neutral data: the Slack side renders it (`bot.slack.views.issue_card`), services pass it around.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

# The fields one issue GET asks for: everything a card shows, nothing more.
CARD_FIELDS = (
    "summary",
    "status",
    "issuetype",
    "priority",
    "assignee",
    "reporter",
    "updated",
    "security",
    "watches",
    "project",
)


class StatusCategory(StrEnum):
    """Jira's three status categories (`statusCategory.key`), plus one for anything else."""

    TODO = "new"
    IN_PROGRESS = "indeterminate"
    DONE = "done"
    UNKNOWN = "undefined"

    @classmethod
    def of(cls, key: Any) -> StatusCategory:
        try:
            return cls(str(key))
        except ValueError:
            return cls.UNKNOWN


@dataclass(frozen=True)
class JiraPerson:
    """A person as an issue names them: Cloud `accountId`, Data Center `name` (the login) and `key`."""

    account_id: str
    display_name: str

    @classmethod
    def parse(cls, data: Any) -> JiraPerson | None:
        if not isinstance(data, Mapping):
            return None
        ident = data.get("accountId") or data.get("name") or data.get("key")
        if not ident:
            return None
        return cls(account_id=str(ident), display_name=str(data.get("displayName") or ident))


@dataclass(frozen=True)
class IssueSnapshot:
    """One issue's state at the time it was read, with the reader's view of it (watching)."""

    id: str
    key: str
    summary: str
    status: str
    status_category: StatusCategory
    issue_type: str
    priority: str | None
    assignee: JiraPerson | None
    reporter: JiraPerson | None
    updated: datetime | None
    project_key: str
    project_name: str | None
    security_level: str | None
    watch_count: int
    watching: bool

    @property
    def restricted(self) -> bool:
        """A security level is set: only some people may see the issue."""
        return self.security_level is not None

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> IssueSnapshot:
        """An issue GET's JSON (Cloud v3 or DC v2, `fields` at least those of CARD_FIELDS)."""
        fields = data.get("fields") if isinstance(data.get("fields"), Mapping) else {}
        assert isinstance(fields, Mapping)
        key = str(data["key"])
        status = _mapping(fields.get("status"))
        category = _mapping(status.get("statusCategory"))
        project = _mapping(fields.get("project"))
        watches = _mapping(fields.get("watches"))
        security = _mapping(fields.get("security"))
        return cls(
            id=str(data.get("id") or ""),
            key=key,
            summary=str(fields.get("summary") or ""),
            status=str(status.get("name") or "Unknown"),
            status_category=StatusCategory.of(category.get("key")),
            issue_type=str(_mapping(fields.get("issuetype")).get("name") or "Issue"),
            priority=_name(fields.get("priority")),
            assignee=JiraPerson.parse(fields.get("assignee")),
            reporter=JiraPerson.parse(fields.get("reporter")),
            updated=parse_jira_time(fields.get("updated")),
            project_key=str(project.get("key") or key.rsplit("-", 1)[0]),
            project_name=_name(project),
            security_level=(str(security.get("name") or security.get("id") or "restricted")
                            if security else None),
            watch_count=_int(watches.get("watchCount")),
            watching=bool(watches.get("isWatching")),
        )


def parse_jira_time(value: Any) -> datetime | None:
    """Jira's timestamps: `2024-01-31T10:00:00.000+0000` (also with `+00:00` or `Z`)."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    elif len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit():
        text = f"{text[:-2]}:{text[-2:]}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _name(value: Any) -> str | None:
    name = _mapping(value).get("name")
    return str(name) if name else None


def _int(value: Any) -> int:
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return 0
