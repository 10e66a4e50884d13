"""From Jira's create metadata to modal inputs, and from what Slack submits back to Jira field values.

Jira describes every field of a project and issue type (`createmeta/{project}/issuetypes/{id}`): its
schema type, whether it is required, and its allowed values. :func:`plan_fields` picks the required
fields the modal must ask for and decides the kind of input each gets; fields it cannot render are
named instead, so that the user can finish the issue in Jira. :func:`jira_value` turns a submitted
Slack state value back into what `POST /issue` expects for that kind.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode

from bot.jira.client import FieldMeta
from bot.jira.formatting import (
    JIRA_DESCRIPTION_LIMIT,
    adf_paragraph_link,
    adf_text_length,
    append_adf,
    mrkdwn_to_adf,
    mrkdwn_to_wiki,
    utf16_len,
    wiki_escape,
    wiki_link,
)

#: Fields the modal always has inputs for (or that the issue type select sets).
HANDLED_FIELDS = frozenset({"project", "issuetype", "summary", "description"})
#: Fields whose values cannot be entered in a modal (files, links to other issues, time tracking…).
UNRENDERABLE_FIELDS = frozenset(
    {"attachment", "issuelinks", "parent", "timetracking", "worklog", "thumbnail"})
#: Slack allows 100 options per select and 100 blocks per view: keep room for the rest of the form.
MAX_CHOICES = 100
MAX_INPUTS = 40
CHOICE_TYPES = frozenset({"option", "priority", "version", "component", "securitylevel", "resolution"})
MULTI_CHOICE_ITEMS = frozenset({"option", "version", "component"})
#: The line that links a description back to its Slack message.
SOURCE_LINK_TEXT = "Created from a Slack message: "
#: How much of a description a "create in Jira" link carries (Slack allows 3,000 characters per URL).
CREATE_URL_LIMIT = 3000
_LABEL_SEPARATORS = re.compile(r"[\s,]+")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


class FieldKind(StrEnum):
    """The kind of input a field gets; the value is what travels in `private_metadata`."""

    SELECT = "sel"
    MULTI_SELECT = "msel"
    CASCADE = "casc"
    NUMBER = "num"
    DATE = "date"
    DATETIME = "dt"
    TEXT = "str"
    RICH_TEXT = "rich"
    URL = "url"
    LABELS = "lbl"
    USER = "usr"
    USERS = "musr"


@dataclass(frozen=True)
class Choice:
    label: str
    value: str


@dataclass(frozen=True)
class InputSpec:
    """One required Jira field as a modal input."""

    field_id: str
    name: str
    kind: FieldKind
    choices: tuple[Choice, ...] = ()


@dataclass(frozen=True)
class FieldPlan:
    """The further inputs of a form, the required fields it cannot show, and whether a description is
    required."""

    inputs: tuple[InputSpec, ...] = ()
    unrenderable: tuple[str, ...] = ()
    description_required: bool = False

    @property
    def kinds(self) -> tuple[tuple[str, str], ...]:
        return tuple((spec.field_id, spec.kind.value) for spec in self.inputs)


class FieldValueError(ValueError):
    """A submitted value that Jira would not take; ``message`` is shown on the input."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# ---------------------------------------------------------------------------------------------------
# Create metadata → inputs
# ---------------------------------------------------------------------------------------------------


def plan_fields(fields: Iterable[FieldMeta], *, max_inputs: int = MAX_INPUTS) -> FieldPlan:
    """The inputs for every required field without a default that the modal does not already have."""
    inputs: list[InputSpec] = []
    unrenderable: list[str] = []
    description_required = False
    for meta in fields:
        if meta.field_id == "description":
            description_required = meta.required
            continue
        if meta.field_id in HANDLED_FIELDS or not meta.required or meta.has_default_value:
            continue
        spec = input_spec(meta)
        if spec is None or len(inputs) >= max_inputs:
            unrenderable.append(meta.name)
        else:
            inputs.append(spec)
    return FieldPlan(tuple(inputs), tuple(unrenderable), description_required)


def input_spec(meta: FieldMeta) -> InputSpec | None:
    """The input for a field, or None when a modal cannot render it."""
    if meta.field_id in UNRENDERABLE_FIELDS:
        return None
    schema = meta.schema
    kind = schema.get("type")
    items = schema.get("items")
    custom = str(schema.get("custom") or "")
    system = schema.get("system")
    if kind in CHOICE_TYPES:
        return _choice_spec(meta, FieldKind.SELECT, _choices(meta.allowed_values))
    if kind == "array" and items in MULTI_CHOICE_ITEMS:
        return _choice_spec(meta, FieldKind.MULTI_SELECT, _choices(meta.allowed_values))
    if kind == "option-with-child":
        return _choice_spec(meta, FieldKind.CASCADE, _cascade_choices(meta.allowed_values))
    simple = {
        "number": FieldKind.NUMBER,
        "date": FieldKind.DATE,
        "datetime": FieldKind.DATETIME,
        "user": FieldKind.USER,
    }
    if kind in simple:
        return InputSpec(meta.field_id, meta.name, simple[kind])
    if kind == "string":
        if custom.endswith(":textarea") or system == "environment":
            return InputSpec(meta.field_id, meta.name, FieldKind.RICH_TEXT)
        if custom.endswith(":url"):
            return InputSpec(meta.field_id, meta.name, FieldKind.URL)
        return InputSpec(meta.field_id, meta.name, FieldKind.TEXT)
    if kind == "array" and items == "string":
        return InputSpec(meta.field_id, meta.name, FieldKind.LABELS)
    if kind == "array" and items == "user":
        return InputSpec(meta.field_id, meta.name, FieldKind.USERS)
    return None


def _choice_spec(meta: FieldMeta, kind: FieldKind, choices: list[Choice]) -> InputSpec | None:
    if not choices or len(choices) > MAX_CHOICES:
        return None
    return InputSpec(meta.field_id, meta.name, kind, tuple(choices))


def _label(value: Mapping[str, Any]) -> str:
    return str(value.get("value") or value.get("name") or value.get("id"))


def _choices(allowed: Iterable[Mapping[str, Any]]) -> list[Choice]:
    return [Choice(_label(v), str(v["id"])) for v in allowed
            if v.get("id") is not None and not v.get("disabled")]


def _cascade_choices(allowed: Iterable[Mapping[str, Any]]) -> list[Choice]:
    """Parents, and each parent › child, as one flat list: "parent id" or "parent id:child id"."""
    choices: list[Choice] = []
    for parent in allowed:
        if parent.get("id") is None or parent.get("disabled"):
            continue
        choices.append(Choice(_label(parent), str(parent["id"])))
        for child in parent.get("children") or []:
            if child.get("id") is not None and not child.get("disabled"):
                choices.append(Choice(f"{_label(parent)} › {_label(child)}", f"{parent['id']}:{child['id']}"))
    return choices


# ---------------------------------------------------------------------------------------------------
# Slack state values → Jira field values
# ---------------------------------------------------------------------------------------------------


def jira_value(kind: FieldKind | str, value: Mapping[str, Any], *, cloud: bool) -> Any:
    """The Jira value of a submitted Slack state value; None when the input was left empty."""
    kind = FieldKind(kind)
    if kind in (FieldKind.SELECT, FieldKind.CASCADE, FieldKind.USER):
        selected = value.get("selected_option")
        chosen = str(selected["value"]) if isinstance(selected, Mapping) and selected.get("value") else None
        if chosen is None:
            return None
        if kind == FieldKind.USER:
            return _user_ref(chosen, cloud)
        if kind == FieldKind.CASCADE:
            parent, _, child = chosen.partition(":")
            return {"id": parent, "child": {"id": child}} if child else {"id": parent}
        return {"id": chosen}
    if kind in (FieldKind.MULTI_SELECT, FieldKind.USERS):
        chosen_values = [str(o["value"]) for o in value.get("selected_options") or [] if o.get("value")]
        if not chosen_values:
            return None
        if kind == FieldKind.USERS:
            return [_user_ref(v, cloud) for v in chosen_values]
        return [{"id": v} for v in chosen_values]
    if kind == FieldKind.DATE:
        return value.get("selected_date") or None
    if kind == FieldKind.DATETIME:
        stamp = value.get("selected_date_time")
        if stamp in (None, ""):
            return None
        moment = datetime.fromtimestamp(int(stamp), UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    text = str(value.get("value") or "").strip()
    if not text:
        return None
    if kind == FieldKind.NUMBER:
        if not _NUMBER.match(text):
            raise FieldValueError("Enter a number, like 3 or 2.5.")
        return float(text) if "." in text else int(text)
    if kind == FieldKind.LABELS:
        return [label for label in _LABEL_SEPARATORS.split(text) if label]
    if kind == FieldKind.RICH_TEXT:
        return rich_text_value(text, cloud=cloud)
    return text


def _user_ref(value: str, cloud: bool) -> dict[str, str]:
    return {"accountId": value} if cloud else {"name": value}


def rich_text_value(text: str, *, cloud: bool) -> Any:
    """Slack text for a rich text field: ADF on Jira Cloud, wiki markup on Data Center."""
    if cloud:
        return mrkdwn_to_adf(text, max_chars=JIRA_DESCRIPTION_LIMIT)
    return mrkdwn_to_wiki(text, max_chars=JIRA_DESCRIPTION_LIMIT)


def source_line(permalink: str) -> str:
    """The description's last line, as the modal shows it."""
    return f"{SOURCE_LINK_TEXT}{permalink}"


def description_value(body: str, *, cloud: bool, permalink: str | None = None) -> Any:
    """A description from Slack text, ending with a link to the Slack message when there is one.

    The text is cut (with a note) so that the whole description stays within Jira's limit, and the
    link line is always kept.
    """
    if permalink is None:
        return rich_text_value(body, cloud=cloud)
    if cloud:
        link = adf_paragraph_link(SOURCE_LINK_TEXT, permalink)
        doc = mrkdwn_to_adf(body, max_chars=JIRA_DESCRIPTION_LIMIT - adf_text_length(link) - 2)
        return append_adf(doc, [link])
    line = wiki_escape(SOURCE_LINK_TEXT) + wiki_link(None, permalink)
    wiki = mrkdwn_to_wiki(body, max_chars=JIRA_DESCRIPTION_LIMIT - utf16_len(line) - 2)
    return f"{wiki}\n\n{line}" if wiki else line


# ---------------------------------------------------------------------------------------------------
# Finishing in Jira
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateLink:
    """What a "create in Jira" link carries."""

    site_url: str
    project_id: str
    issue_type_id: str
    summary: str = ""
    description: str = ""


def jira_create_url(link: CreateLink, limit: int = CREATE_URL_LIMIT) -> str:
    """Jira's own create screen for the project and issue type, with summary and description filled in
    as far as a Slack button URL allows."""
    base = f"{link.site_url.rstrip('/')}/secure/CreateIssueDetails!init.jspa"
    description = link.description
    while True:
        params = {"pid": link.project_id, "issuetype": link.issue_type_id}
        if link.summary:
            params["summary"] = link.summary
        if description:
            params["description"] = description
        url = f"{base}?{urlencode(params)}"
        if len(url) <= limit or not description:
            break
        description = description[: len(description) * 2 // 3].rstrip()
    if len(url) > limit:
        url = f"{base}?{urlencode({'pid': link.project_id, 'issuetype': link.issue_type_id})}"
    return url
