"""An issue as the bot shows it: the fields an issue card needs, read from Jira Cloud (v3) or Data
Center (v2) issue JSON into one plain value.

Neutral data: the Slack side renders it (`bot.slack.views.issue_card`), services pass it around.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
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
            security_level=(
                str(security.get("name") or security.get("id") or "restricted") if security else None
            ),
            watch_count=_int(watches.get("watchCount")),
            watching=bool(watches.get("isWatching")),
        )


@dataclass(frozen=True)
class FieldMeta:
    """One field of a create screen or transition screen (createmeta / `transitions.fields`)."""

    field_id: str
    name: str
    required: bool
    schema: dict[str, Any]
    allowed_values: list[dict[str, Any]] = field(default_factory=list)
    has_default_value: bool = False
    auto_complete_url: str | None = None

    @classmethod
    def parse(cls, data: Mapping[str, Any], field_id: str | None = None) -> FieldMeta:
        ident = field_id or data.get("fieldId") or data.get("key")
        return cls(
            field_id=str(ident),
            name=str(data.get("name") or ident),
            required=bool(data.get("required")),
            schema=dict(_mapping(data.get("schema"))),
            allowed_values=[v for v in data.get("allowedValues") or [] if isinstance(v, Mapping)],
            has_default_value=bool(data.get("hasDefaultValue")),
            auto_complete_url=data.get("autoCompleteUrl"),
        )


@dataclass(frozen=True)
class Transition:
    """A transition Jira offers the reading user on one issue now, with its screen's fields."""

    id: str
    name: str
    to_status: str
    to_category: StatusCategory
    has_screen: bool
    fields: tuple[FieldMeta, ...] = ()

    @property
    def required_fields(self) -> tuple[FieldMeta, ...]:
        """The screen's fields that must be filled in (and have no default)."""
        return tuple(f for f in self.fields if f.required and not f.has_default_value)

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Transition:
        to = _mapping(data.get("to"))
        screen = _mapping(data.get("fields"))
        return cls(
            id=str(data["id"]),
            name=str(data.get("name") or to.get("name") or data["id"]),
            to_status=str(to.get("name") or data.get("name") or ""),
            to_category=StatusCategory.of(_mapping(to.get("statusCategory")).get("key")),
            has_screen=bool(data.get("hasScreen")),
            fields=tuple(
                FieldMeta.parse(meta, str(fid)) for fid, meta in screen.items() if isinstance(meta, Mapping)
            ),
        )


@dataclass(frozen=True)
class Visibility:
    """Who may read a comment: members of a project role or of a group."""

    type: str  # "role" | "group"
    value: str

    def as_json(self) -> dict[str, str]:
        return {"type": self.type, "value": self.value}


@dataclass(frozen=True)
class Comment:
    id: str
    author: JiraPerson | None
    body: Any  # ADF document (Cloud) or wiki markup (Data Center)
    created: datetime | None
    visibility: Visibility | None = None

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Comment:
        seen = _mapping(data.get("visibility"))
        visibility = (
            Visibility(str(seen.get("type")), str(seen.get("value") or seen.get("identifier") or ""))
            if seen
            else None
        )
        return cls(
            id=str(data["id"]),
            author=JiraPerson.parse(data.get("author")),
            body=data.get("body"),
            created=parse_jira_time(data.get("created")),
            visibility=visibility,
        )


@dataclass(frozen=True)
class Watchers:
    count: int
    watching: bool
    people: tuple[JiraPerson, ...] = ()

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Watchers:
        people = tuple(p for p in (JiraPerson.parse(w) for w in data.get("watchers") or []) if p)
        return cls(count=_int(data.get("watchCount")), watching=bool(data.get("isWatching")), people=people)


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
