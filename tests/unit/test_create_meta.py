"""Create metadata → modal inputs, and submitted Slack values → Jira field values (pure functions)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from bot.jira.client import FieldMeta
from bot.jira.formatting import JIRA_DESCRIPTION_LIMIT, adf_text_length
from bot.services.create_meta import (
    MAX_CHOICES,
    SOURCE_LINK_TEXT,
    Choice,
    CreateLink,
    FieldKind,
    FieldValueError,
    description_value,
    input_spec,
    jira_create_url,
    jira_value,
    plan_fields,
)
from tests.emulators.atlassian import standard_fields
from tests.emulators.atlassian_model import custom_field, priority_field, system_field
from tests.emulators.atlassian_specs import adf_errors

PERMALINK = "https://acme.slack.com/archives/C0GENERAL/p1700000000000100"


def meta(entry: dict[str, Any]) -> FieldMeta:
    """A createmeta entry as the Jira client parses it."""
    return FieldMeta(
        field_id=entry["fieldId"], name=entry["name"], required=bool(entry.get("required")),
        schema=dict(entry.get("schema") or {}), allowed_values=list(entry.get("allowedValues") or []),
        has_default_value=bool(entry.get("hasDefaultValue")), auto_complete_url=entry.get("autoCompleteUrl"),
    )


def spec_of(kind: str, **kwargs: Any):
    return input_spec(meta(custom_field(kind, **kwargs)))


# Planning the form ----------------------------------------------------------------------------------

def test_standard_fields_need_no_further_inputs() -> None:
    plan = plan_fields([meta(entry) for entry in standard_fields()])
    assert plan.inputs == ()
    assert plan.unrenderable == ()  # reporter is required but has a default
    assert plan.description_required is False


def test_only_required_fields_without_a_default_get_inputs() -> None:
    fields = [
        custom_field("number", field_id="customfield_1", name="Story points", required=True),
        custom_field("number", field_id="customfield_2", name="Optional", required=False),
        custom_field("option", field_id="customfield_3", name="Has default", default_value={"id": "1"}),
        priority_field(required=True),
    ]
    plan = plan_fields([meta(f) for f in fields])
    assert [(s.field_id, s.kind) for s in plan.inputs] == [("customfield_1", FieldKind.NUMBER)]
    assert plan.kinds == (("customfield_1", "num"),)


def test_a_required_description_is_reported_not_added_as_a_field() -> None:
    plan = plan_fields([meta(system_field("description", "Description", "string", required=True))])
    assert plan.description_required is True
    assert plan.inputs == ()


@pytest.mark.parametrize("kind, expected", [
    ("option", FieldKind.SELECT),
    ("radio", FieldKind.SELECT),
    ("multiselect", FieldKind.MULTI_SELECT),
    ("checkboxes", FieldKind.MULTI_SELECT),
    ("cascading", FieldKind.CASCADE),
    ("number", FieldKind.NUMBER),
    ("string", FieldKind.TEXT),
    ("textarea", FieldKind.RICH_TEXT),
    ("url", FieldKind.URL),
    ("date", FieldKind.DATE),
    ("datetime", FieldKind.DATETIME),
    ("labels", FieldKind.LABELS),
    ("user", FieldKind.USER),
    ("multiuser", FieldKind.USERS),
])
def test_each_field_type_gets_its_kind_of_input(kind: str, expected: FieldKind) -> None:
    spec = spec_of(kind, name="The field")
    assert spec is not None
    assert spec.kind == expected
    assert spec.name == "The field"


def test_select_choices_are_the_allowed_values_by_id_without_disabled_ones() -> None:
    entry = custom_field("option", options=["Low", "High"])
    entry["allowedValues"].append({"value": "Retired", "id": "999", "disabled": True})
    spec = input_spec(meta(entry))
    assert spec is not None
    ids = [v["id"] for v in entry["allowedValues"][:2]]
    assert spec.choices == (Choice("Low", ids[0]), Choice("High", ids[1]))


def test_priority_and_system_fields_with_names_are_selects() -> None:
    entry = priority_field(required=True)
    entry["hasDefaultValue"] = False
    spec = input_spec(meta(entry))
    assert spec is not None and spec.kind == FieldKind.SELECT
    assert spec.choices[0] == Choice("Highest", "1")


def test_cascading_choices_list_parents_and_children() -> None:
    entry = custom_field("cascading", options={"Hardware": ["Laptop"]})
    parent = entry["allowedValues"][0]
    child = parent["children"][0]
    spec = input_spec(meta(entry))
    assert spec is not None
    assert spec.choices == (Choice("Hardware", parent["id"]),
                            Choice("Hardware › Laptop", f"{parent['id']}:{child['id']}"))


@pytest.mark.parametrize("entry", [
    custom_field("any", name="Mystery"),
    custom_field("option", options=[]),
    custom_field("option", options=[f"v{i}" for i in range(MAX_CHOICES + 1)]),
    system_field("attachment", "Attachment", "array", items="attachment", required=True),
    system_field("issuelinks", "Linked issues", "array", items="issuelinks", required=True),
])
def test_fields_a_modal_cannot_show_are_named_instead(entry: dict[str, Any]) -> None:
    entry["required"] = True
    plan = plan_fields([meta(entry)])
    assert plan.inputs == ()
    assert plan.unrenderable == (entry["name"],)


def test_beyond_the_input_cap_fields_are_named_for_jira() -> None:
    fields = [meta(custom_field("number", name=f"N{i}")) for i in range(5)]
    plan = plan_fields(fields, max_inputs=3)
    assert [s.name for s in plan.inputs] == ["N0", "N1", "N2"]
    assert plan.unrenderable == ("N3", "N4")


# Slack values → Jira values ---------------------------------------------------------------------------

def option_value(value: str, kind: str = "static_select") -> dict[str, Any]:
    return {"type": kind, "selected_option": {"text": {"type": "plain_text", "text": value}, "value": value}}


def options_value(*values: str) -> dict[str, Any]:
    return {"type": "multi_static_select",
            "selected_options": [{"text": {"type": "plain_text", "text": v}, "value": v} for v in values]}


@pytest.mark.parametrize("kind, value, cloud, expected", [
    (FieldKind.SELECT, option_value("10100"), True, {"id": "10100"}),
    (FieldKind.MULTI_SELECT, options_value("1", "2"), True, [{"id": "1"}, {"id": "2"}]),
    (FieldKind.CASCADE, option_value("10"), True, {"id": "10"}),
    (FieldKind.CASCADE, option_value("10:11"), True, {"id": "10", "child": {"id": "11"}}),
    (FieldKind.NUMBER, {"type": "number_input", "value": "3"}, True, 3),
    (FieldKind.NUMBER, {"type": "number_input", "value": "2.5"}, True, 2.5),
    (FieldKind.DATE, {"type": "datepicker", "selected_date": "2026-03-01"}, True, "2026-03-01"),
    (FieldKind.DATETIME, {"type": "datetimepicker", "selected_date_time": 1767225600}, True,
     "2026-01-01T00:00:00.000+0000"),
    (FieldKind.TEXT, {"type": "plain_text_input", "value": "  words  "}, True, "words"),
    (FieldKind.URL, {"type": "url_text_input", "value": "https://example.com"}, False, "https://example.com"),
    (FieldKind.LABELS, {"type": "plain_text_input", "value": "ops, urgent  printer"}, True,
     ["ops", "urgent", "printer"]),
    (FieldKind.USER, option_value("5b10ac8d", "external_select"), True, {"accountId": "5b10ac8d"}),
    (FieldKind.USER, option_value("alice", "external_select"), False, {"name": "alice"}),
    (FieldKind.USERS, options_value("alice", "bob"), False, [{"name": "alice"}, {"name": "bob"}]),
    (FieldKind.RICH_TEXT, {"type": "plain_text_input", "value": "x"}, False, "x"),
])
def test_submitted_values_become_jira_values(kind: FieldKind, value: dict[str, Any], cloud: bool,
                                             expected: Any) -> None:
    assert jira_value(kind, value, cloud=cloud) == expected


def test_rich_text_on_cloud_is_a_valid_adf_document() -> None:
    doc = jira_value("rich", {"type": "plain_text_input", "value": "*bold* and `code`"}, cloud=True)
    assert doc["type"] == "doc"
    assert adf_errors(doc) == []


@pytest.mark.parametrize("kind, value", [
    ("sel", {"type": "static_select", "selected_option": None}),
    ("msel", {"type": "multi_static_select", "selected_options": []}),
    ("num", {"type": "number_input", "value": None}),
    ("date", {"type": "datepicker", "selected_date": None}),
    ("dt", {"type": "datetimepicker", "selected_date_time": None}),
    ("lbl", {"type": "plain_text_input", "value": "  "}),
    ("usr", {}),
])
def test_empty_inputs_give_no_value(kind: str, value: dict[str, Any]) -> None:
    assert jira_value(kind, value, cloud=True) is None


def test_a_number_that_is_not_one_is_refused_in_words() -> None:
    with pytest.raises(FieldValueError) as raised:
        jira_value(FieldKind.NUMBER, {"type": "number_input", "value": "three"}, cloud=True)
    assert "number" in raised.value.message


# Descriptions --------------------------------------------------------------------------------------------

def test_cloud_description_is_adf_ending_with_a_link_to_the_message() -> None:
    doc = description_value("*Printer* on fire", cloud=True, permalink=PERMALINK)
    assert adf_errors(doc) == []
    last = doc["content"][-1]
    assert last["content"][0] == {"type": "text", "text": SOURCE_LINK_TEXT}
    assert last["content"][1]["marks"] == [{"type": "link", "attrs": {"href": PERMALINK}}]
    assert doc["content"][0]["content"][0]["marks"] == [{"type": "strong"}]


def test_datacenter_description_is_wiki_markup_ending_with_the_link() -> None:
    wiki = description_value("*Printer* on fire", cloud=False, permalink=PERMALINK)
    assert wiki.startswith("*Printer* on fire\n\n")
    assert wiki.endswith(f"[{PERMALINK}]")


def test_an_over_long_message_is_cut_but_keeps_its_link_within_jiras_limit() -> None:
    body = "word " * 10_000
    doc = description_value(body, cloud=True, permalink=PERMALINK)
    assert adf_errors(doc) == []
    assert adf_text_length(doc) <= JIRA_DESCRIPTION_LIMIT
    assert doc["content"][-1]["content"][1]["text"] == PERMALINK
    wiki = description_value(body, cloud=False, permalink=PERMALINK)
    assert len(wiki) <= JIRA_DESCRIPTION_LIMIT
    assert wiki.endswith(f"[{PERMALINK}]")


def test_without_a_message_the_description_is_just_the_text() -> None:
    assert description_value("plain words", cloud=False) == "plain words"


# Finishing in Jira --------------------------------------------------------------------------------------

def test_create_url_opens_jiras_create_screen_prefilled() -> None:
    url = jira_create_url(CreateLink("https://acme.atlassian.net", "10000", "10001", "Summary", "Text"))
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == \
        "https://acme.atlassian.net/secure/CreateIssueDetails!init.jspa"
    assert parse_qs(parts.query) == {"pid": ["10000"], "issuetype": ["10001"], "summary": ["Summary"],
                                     "description": ["Text"]}


def test_create_url_fits_a_slack_button_by_shortening_the_description() -> None:
    url = jira_create_url(CreateLink("https://jira.example.com/jira", "1", "2", "S", "ü " * 3000))
    assert len(url) <= 3000
    query = parse_qs(urlsplit(url).query)
    assert query["summary"] == ["S"] and query["pid"] == ["1"]
    assert 0 < len(query["description"][0]) < 6000
