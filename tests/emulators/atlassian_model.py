"""Data model of the Atlassian emulator: users, sites, projects, issue types, fields, tokens, records."""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field
from typing import Any

CUSTOM_PREFIX = "com.atlassian.jira.plugin.system.customfieldtypes:"


@dataclass
class User:
    account_id: str
    display_name: str
    email: str
    sites: set[str] = field(default_factory=set)  # cloud site names and/or DC context paths
    name: str = ""  # Data Center username
    key: str = ""  # Data Center user key
    time_zone: str = "UTC"
    active: bool = True


@dataclass
class CloudApp:
    client_id: str
    client_secret: str
    redirect_uris: list[str]
    scopes: frozenset[str] | None = None  # permissions configured in the developer console


@dataclass
class DcApp:
    context_path: str
    client_id: str
    client_secret: str
    redirect_uri: str


@dataclass
class IssueType:
    id: str
    name: str
    subtask: bool = False
    description: str = ""
    fields: list[dict[str, Any]] = field(default_factory=list)

    def field(self, field_id: str) -> dict[str, Any] | None:
        for meta in self.fields:
            if meta["fieldId"] == field_id:
                return meta
        return None


@dataclass
class Project:
    id: str
    key: str
    name: str
    site: Any  # CloudSite | DataCenter
    issue_types: list[IssueType] = field(default_factory=list)
    creatable_by: set[str] | None = None  # None: every user of the site
    visible_to: set[str] | None = None  # None: every user of the site
    project_type_key: str = "software"
    counter: int = 0

    def issue_type(self, ref: dict[str, Any] | str) -> IssueType | None:
        if isinstance(ref, str):
            ref = {"id": ref}
        for itype in self.issue_types:
            if "id" in ref and str(ref["id"]) == itype.id:
                return itype
            if "id" not in ref and ref.get("name") == itype.name:
                return itype
        return None


@dataclass
class CloudSite:
    name: str
    cloud_id: str
    url: str
    kind: str = "cloud"
    projects: dict[str, Project] = field(default_factory=dict)
    avatar_url: str = "https://site-admin-avatar-cdn.prod.public.atl-paas.net/avatars/240/site.png"

    @property
    def ident(self) -> str:
        return self.name


@dataclass
class DataCenter:
    context_path: str
    kind: str = "dc"
    projects: dict[str, Project] = field(default_factory=dict)
    apps: dict[str, DcApp] = field(default_factory=dict)
    version: str = "9.12.8"

    @property
    def ident(self) -> str:
        return self.context_path

    @property
    def name(self) -> str:
        return self.context_path


@dataclass
class StoredIssue:
    id: str
    key: str
    site: str  # cloud site name or DC context path
    project_key: str
    issue_type_id: str
    issue_type_name: str
    fields: dict[str, Any]  # the fields as the client sent them (after `update` set-ops are merged)
    creator: str  # account id
    created_at: float
    api_version: str  # "3" (Cloud) or "2" (DC)
    properties: dict[str, Any] = field(default_factory=dict)  # issue entity properties, by key


@dataclass
class AuthCode:
    code: str
    kind: str  # "cloud" | "dc"
    client_id: str
    redirect_uri: str
    account_id: str
    scopes: frozenset[str]
    expires_at: float
    context_path: str = ""
    code_challenge: str = ""
    used: bool = False


@dataclass
class AccessToken:
    token: str
    kind: str
    client_id: str
    account_id: str
    scopes: frozenset[str]
    expires_at: float
    context_path: str = ""
    revoked: bool = False


@dataclass
class RefreshToken:
    token: str
    kind: str
    client_id: str
    account_id: str
    scopes: frozenset[str]
    issued_at: float
    context_path: str = ""
    rotated_at: float | None = None
    revoked: bool = False


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    json: Any
    form: dict[str, str] | None
    at: float  # emulator clock
    body: bytes = b""
    status: int | None = None  # filled in once answered


@dataclass
class TokenGrant:
    """One call of a token endpoint (successful or not)."""

    kind: str  # "cloud" | "dc"
    grant_type: str
    client_id: str
    account_id: str | None
    status: int
    error: str | None
    at: float


# --- field factories (createmeta shapes) --------------------------------------------------------

_ids = itertools.count(10100)


def next_numeric_id() -> str:
    return str(next(_ids))


def system_field(
    field_id: str,
    name: str,
    schema_type: str,
    *,
    required: bool = False,
    items: str | None = None,
    has_default: bool = False,
    operations: list[str] | None = None,
    allowed_values: list[dict[str, Any]] | None = None,
    default_value: Any = None,
) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": schema_type, "system": field_id}
    if items:
        schema["items"] = items
    meta: dict[str, Any] = {
        "required": required,
        "schema": schema,
        "name": name,
        "key": field_id,
        "fieldId": field_id,
        "hasDefaultValue": has_default,
        "operations": operations if operations is not None else ["set"],
    }
    if allowed_values is not None:
        meta["allowedValues"] = allowed_values
    if default_value is not None:
        meta["defaultValue"] = default_value
    return meta


def summary_field() -> dict[str, Any]:
    return system_field("summary", "Summary", "string", required=True)


def description_field(required: bool = False) -> dict[str, Any]:
    return system_field("description", "Description", "string", required=required)


def reporter_field() -> dict[str, Any]:
    meta = system_field("reporter", "Reporter", "user", required=True, has_default=True)
    meta["autoCompleteUrl"] = "{api}/user/search?query="
    return meta


def labels_field(required: bool = False) -> dict[str, Any]:
    meta = system_field(
        "labels",
        "Labels",
        "array",
        items="string",
        required=required,
        operations=["add", "set", "remove"],
    )
    meta["autoCompleteUrl"] = "{api}/label/suggest?query="
    return meta


def duedate_field(required: bool = False) -> dict[str, Any]:
    return system_field("duedate", "Due date", "date", required=required)


def priority_field(required: bool = False) -> dict[str, Any]:
    values = [
        {"id": "1", "name": "Highest"},
        {"id": "2", "name": "High"},
        {"id": "3", "name": "Medium"},
        {"id": "4", "name": "Low"},
        {"id": "5", "name": "Lowest"},
    ]
    return system_field(
        "priority",
        "Priority",
        "priority",
        required=required,
        has_default=True,
        allowed_values=values,
        default_value=dict(values[2]),
    )


def assignee_field(required: bool = False) -> dict[str, Any]:
    meta = system_field("assignee", "Assignee", "user", required=required)
    meta["autoCompleteUrl"] = "{api}/user/search?query="
    return meta


# kind -> (schema type, items, custom type suffix)
CUSTOM_KINDS: dict[str, tuple[str, str | None, str]] = {
    "option": ("option", None, "select"),
    "radio": ("option", None, "radiobuttons"),
    "multiselect": ("array", "option", "multiselect"),
    "checkboxes": ("array", "option", "multicheckboxes"),
    "number": ("number", None, "float"),
    "string": ("string", None, "textfield"),
    "textarea": ("string", None, "textarea"),
    "date": ("date", None, "datepicker"),
    "datetime": ("datetime", None, "datetime"),
    "labels": ("array", "string", "labels"),
    "user": ("user", None, "userpicker"),
    "multiuser": ("array", "user", "multiuserpicker"),
    "url": ("string", None, "url"),
    "cascading": ("option-with-child", None, "cascadingselect"),
    "any": ("any", None, "jirabot-test-unrenderable"),
}


def custom_field(
    kind: str,
    *,
    field_id: str | None = None,
    name: str | None = None,
    required: bool = True,
    options: list[str] | dict[str, list[str]] | None = None,
    default_value: Any = None,
) -> dict[str, Any]:
    """A createmeta field entry for a custom field of `kind` (see CUSTOM_KINDS).

    `options`: option values for option/radio/multiselect/checkboxes (default Low/Medium/High), or a
    {parent: [children]} mapping for cascading. A `field_id` not starting with ``customfield_`` makes a
    system field (``schema.system`` instead of ``schema.custom``), e.g. ``field_id="labels"``.
    """
    if kind not in CUSTOM_KINDS:
        raise ValueError(f"unknown custom field kind {kind!r}; one of {sorted(CUSTOM_KINDS)}")
    schema_type, items, custom = CUSTOM_KINDS[kind]
    if field_id is None:
        numeric = next_numeric_id()
        field_id = f"customfield_{numeric}"
    schema: dict[str, Any] = {"type": schema_type}
    if items:
        schema["items"] = items
    if field_id.startswith("customfield_"):
        custom_type = "com.jirabot.tests:unrenderable" if kind == "any" else CUSTOM_PREFIX + custom
        schema["custom"] = custom_type
        schema["customId"] = int(field_id.removeprefix("customfield_"))
    else:
        schema["system"] = field_id
    meta: dict[str, Any] = {
        "required": required,
        "schema": schema,
        "name": name or f"{kind.capitalize()} field",
        "key": field_id,
        "fieldId": field_id,
        "hasDefaultValue": default_value is not None,
        "operations": ["add", "set", "remove"] if schema_type == "array" else ["set"],
    }
    if kind in {"option", "radio", "multiselect", "checkboxes"}:
        values = options if isinstance(options, list) else ["Low", "Medium", "High"]
        meta["allowedValues"] = [{"value": v, "id": next_numeric_id(), "disabled": False} for v in values]
    elif kind == "cascading":
        tree = (
            options
            if isinstance(options, dict)
            else {"Hardware": ["Laptop", "Phone"], "Software": ["OS", "App"]}
        )
        meta["allowedValues"] = [
            {
                "value": parent,
                "id": next_numeric_id(),
                "disabled": False,
                "children": [
                    {"value": child, "id": next_numeric_id(), "disabled": False} for child in children
                ],
            }
            for parent, children in tree.items()
        ]
    elif kind in {"user", "multiuser"}:
        meta["autoCompleteUrl"] = "{api}/user/search?query="
    elif kind == "labels":
        meta["autoCompleteUrl"] = "{api}/label/suggest?query="
    if default_value is not None:
        meta["defaultValue"] = default_value
    return meta


def copy_fields(fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return copy.deepcopy(fields)
