"""The create-issue builders, tested as data and against Slack's Block Kit limits."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.jira.client import IssueType, JiraUser, Project
from bot.services.create_meta import Choice, FieldKind, FieldPlan, InputSpec
from bot.services.issue_drafts import FormTexts, description_digest
from bot.services.issues import (
    Blocked,
    BlockedReason,
    CreateOutcome,
    FailureReason,
    FormData,
    IssueCreated,
    OutcomeStatus,
    ShowBlocked,
    ShowDuplicate,
    ShowForm,
    ShowJiraDown,
)
from bot.slack import ids
from bot.slack.metadata import METADATA_LIMIT, MetadataError, ModalState, decode_metadata, encode_metadata
from bot.slack.views import create_issue as views
from storage.repositories.issue_links import IssueLinkRecord
from tests.emulators.slack import validate_blocks, validate_options_response, validate_view

ENG = Project("10000", "ENG", "Engineering")
TASK = IssueType("10001", "Task")
BUG = IssueType("10002", "Bug")
SITE = "https://acme.atlassian.net"
STATE = ModalState(channel_id="C0GENERAL", message_ts="1700000000.000100", has_draft=True,
                   description_digest=description_digest("Printer on fire"))
ISSUE = IssueCreated("ENG-7", f"{SITE}/browse/ENG-7", "Printer <on> fire & smoke", "Task", "ENG",
                     "Engineering")

ALL_KINDS = (
    InputSpec("customfield_1", "Severity", FieldKind.SELECT, (Choice("Low", "1"), Choice("High", "2"))),
    InputSpec("customfield_2", "Teams", FieldKind.MULTI_SELECT, (Choice("Red", "3"), Choice("Blue", "4"))),
    InputSpec("customfield_3", "Area", FieldKind.CASCADE, (Choice("HW", "5"), Choice("HW › Laptop", "5:6"))),
    InputSpec("customfield_4", "Story points", FieldKind.NUMBER),
    InputSpec("customfield_5", "Due", FieldKind.DATE),
    InputSpec("customfield_6", "Starts", FieldKind.DATETIME),
    InputSpec("customfield_7", "Code name", FieldKind.TEXT),
    InputSpec("customfield_8", "Steps", FieldKind.RICH_TEXT),
    InputSpec("customfield_9", "Link", FieldKind.URL),
    InputSpec("labels", "Labels", FieldKind.LABELS),
    InputSpec("customfield_10", "Approver", FieldKind.USER),
    InputSpec("customfield_11", "Watchers", FieldKind.USERS),
)


def form_data(*, inputs: tuple[InputSpec, ...] = (), unrenderable: tuple[str, ...] = (),
              project: Project | None = ENG, description_required: bool = False,
              unavailable: str | None = None) -> FormData:
    return FormData(site_url=SITE, site_host="acme.atlassian.net", jira_user="Alice Anders",
                    project=project, issue_types=(TASK, BUG) if project else (),
                    issue_type=TASK if project else None,
                    plan=FieldPlan(inputs, unrenderable, description_required),
                    unavailable_project=unavailable)


def assert_valid(view: dict[str, Any]) -> dict[str, Any]:
    assert validate_view(view) == [], json.dumps(view, indent=1)[:2000]
    return view


def block(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    found = [b for b in view["blocks"] if b.get("block_id") == block_id]
    assert found, f"no block {block_id}: {[b.get('block_id') for b in view['blocks']]}"
    return found[0]


def texts_of(view: dict[str, Any]) -> str:
    return json.dumps(view["blocks"], ensure_ascii=False)


# The form ----------------------------------------------------------------------------------------------

def test_form_has_the_labelled_inputs_and_remembers_its_project_in_metadata() -> None:
    view = assert_valid(views.build_issue_form(form_data(), FormTexts("Printer on fire", "Printer on fire"),
                                               STATE))
    assert view["callback_id"] == ids.VIEW_CREATE_ISSUE
    assert view["submit"]["text"] == "Create"
    labels = [b["label"]["text"] for b in view["blocks"] if b["type"] == "input"]
    assert labels == ["Project", "Issue type", "Summary", "Description"]
    project = block(view, views.BLOCK_PROJECT)
    assert project["dispatch_action"] is True
    assert project["element"]["type"] == "external_select"
    assert project["element"]["initial_option"]["value"] == "ENG"
    issue_type = block(view, "jira_issue_type.ENG")
    assert [o["value"] for o in issue_type["element"]["options"]] == ["10001", "10002"]
    assert issue_type["element"]["initial_option"]["value"] == "10001"
    summary = block(view, views.BLOCK_SUMMARY)["element"]
    assert summary["initial_value"] == "Printer on fire" and summary["max_length"] == 255
    description = block(view, views.BLOCK_DESCRIPTION)
    assert description["optional"] is True and description["element"]["multiline"] is True
    assert "hint" not in description
    state = decode_metadata(view["private_metadata"])
    assert (state.project_key, state.project_id, state.issue_type_id) == ("ENG", "10000", "10001")
    assert state.channel_id == "C0GENERAL" and state.has_draft


def test_every_kind_of_field_gets_a_valid_input_of_its_kind() -> None:
    view = assert_valid(views.build_issue_form(form_data(inputs=ALL_KINDS), FormTexts("S"), STATE))
    state = decode_metadata(view["private_metadata"])
    assert state.fields == tuple((s.field_id, s.kind.value) for s in ALL_KINDS)
    types = {}
    for spec in ALL_KINDS:
        found = block(view, views.field_block_id(spec.field_id, state))
        assert found["label"]["text"] == spec.name
        assert found["element"]["action_id"] == views.field_action_id(spec.field_id, spec.kind.value)
        types[spec.kind] = found["element"]["type"]
    assert types == {
        FieldKind.SELECT: "static_select", FieldKind.MULTI_SELECT: "multi_static_select",
        FieldKind.CASCADE: "static_select", FieldKind.NUMBER: "number_input", FieldKind.DATE: "datepicker",
        FieldKind.DATETIME: "datetimepicker", FieldKind.TEXT: "plain_text_input",
        FieldKind.RICH_TEXT: "plain_text_input", FieldKind.URL: "url_text_input",
        FieldKind.LABELS: "plain_text_input", FieldKind.USER: "external_select",
        FieldKind.USERS: "multi_external_select",
    }
    assert block(view, views.field_block_id("labels", state))["hint"]["text"] == views.LABELS_HINT


def test_field_blocks_differ_per_project_and_issue_type_so_slack_drops_stale_values() -> None:
    first = ModalState(project_key="ENG", issue_type_id="10001")
    other = ModalState(project_key="ENG", issue_type_id="10002")
    assert views.field_block_id("customfield_1", first) != views.field_block_id("customfield_1", other)
    assert views.issue_type_block_id("ENG") != views.issue_type_block_id("OPS")


def test_without_a_project_the_form_asks_for_one_and_has_no_issue_type() -> None:
    view = assert_valid(views.build_issue_form(form_data(project=None), FormTexts("S"), STATE))
    assert "initial_option" not in block(view, views.BLOCK_PROJECT)["element"]
    assert views.CHOOSE_PROJECT in texts_of(view)
    assert not any(b.get("block_id", "").startswith(views.BLOCK_ISSUE_TYPE) for b in view["blocks"])
    assert decode_metadata(view["private_metadata"]).project_key is None


def test_a_project_the_user_cannot_create_in_is_named() -> None:
    data = form_data(project=None, unavailable="OPS")
    view = assert_valid(views.build_issue_form(data, FormTexts(), STATE))
    assert "You can't create issues in *OPS*" in texts_of(view)


def test_unrenderable_required_fields_are_named_with_a_link_to_finish_in_jira() -> None:
    view = assert_valid(views.build_issue_form(
        form_data(unrenderable=("Mystery <field>",)), FormTexts("Printer", "Broken"), STATE))
    found = [b for b in view["blocks"] if b["type"] == "section" and "Mystery" in b["text"]["text"]]
    assert found and "Mystery &lt;field&gt;" in found[0]["text"]["text"]
    url = found[0]["accessory"]["url"]
    assert url.startswith(f"{SITE}/secure/CreateIssueDetails!init.jspa?pid=10000&issuetype=10001")
    assert "summary=Printer" in url and found[0]["accessory"]["action_id"] == views.ACTION_FINISH_IN_JIRA


def test_a_required_description_and_a_long_message_hint() -> None:
    view = assert_valid(views.build_issue_form(form_data(description_required=True),
                                               FormTexts("S", "x" * 3000, truncated=True), STATE))
    description = block(view, views.BLOCK_DESCRIPTION)
    assert "optional" not in description
    assert description["hint"]["text"] == views.LONG_MESSAGE_HINT
    assert len(description["element"]["initial_value"]) == 3000


def test_the_largest_form_stays_within_slacks_limits() -> None:
    many = tuple(InputSpec(f"customfield_{i}", f"Field {i} " + "n" * 60, FieldKind.SELECT,
                           tuple(Choice("o" * 80, str(j)) for j in range(100))) for i in range(40))
    view = assert_valid(views.build_issue_form(form_data(inputs=many, unrenderable=("A",) * 30),
                                               FormTexts("s" * 255, "d" * 3000, True), STATE))
    assert len(view["blocks"]) <= 100
    assert len(view["private_metadata"]) <= METADATA_LIMIT
    assert len(json.dumps(view, separators=(",", ":"), ensure_ascii=False).encode()) < 250_000
    shown = decode_metadata(view["private_metadata"]).fields
    assert 0 < len(shown) < 40
    assert f"Field {len(shown)} " in texts_of(view)  # the first that did not fit is named for Jira


def test_a_notice_goes_on_top_with_its_buttons() -> None:
    notice = views.Notice("Jira said no", (views.LinkButton("Reconnect to Jira", "https://x.test/a",
                                                            ids.ACTION_CONNECT_LINK),))
    view = assert_valid(views.build_issue_form(form_data(), FormTexts("S"), STATE, notice))
    assert view["blocks"][0]["block_id"] == views.BLOCK_NOTICE
    assert "Jira said no" in view["blocks"][0]["text"]["text"]
    assert view["blocks"][1]["elements"][0]["url"] == "https://x.test/a"


# The form again, as submitted --------------------------------------------------------------------------

def submitted(view: dict[str, Any], values: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {**view, "id": "V123", "hash": "1.abc", "state": {"values": values}}


def filled_values(state: ModalState) -> dict[str, dict[str, Any]]:
    return {
        views.BLOCK_PROJECT: {views.ACTION_PROJECT: {"type": "external_select", "selected_option": {
            "text": {"type": "plain_text", "text": "Engineering (ENG)", "emoji": True}, "value": "ENG"}}},
        "jira_issue_type.ENG": {views.ACTION_ISSUE_TYPE: {"type": "static_select", "selected_option": {
            "text": {"type": "plain_text", "text": "Bug", "emoji": True}, "value": "10002"}}},
        views.BLOCK_SUMMARY: {views.ACTION_SUMMARY: {"type": "plain_text_input", "value": "Typed summary"}},
        views.BLOCK_DESCRIPTION: {views.ACTION_DESCRIPTION: {"type": "plain_text_input", "value": "Typed"}},
        views.field_block_id("customfield_4", state): {
            views.field_action_id("customfield_4", "num"): {"type": "number_input", "value": "5"}},
    }


def built_form() -> tuple[dict[str, Any], ModalState]:
    view = views.build_issue_form(form_data(inputs=(ALL_KINDS[3],)), FormTexts("Old", "Old text"), STATE)
    return view, decode_metadata(view["private_metadata"])


def test_form_with_notice_keeps_what_the_user_entered() -> None:
    view, state = built_form()
    again = assert_valid(views.build_form_with_notice(submitted(view, filled_values(state)),
                                                      views.Notice("Try again")))
    assert again["private_metadata"] == view["private_metadata"]
    assert again["callback_id"] == ids.VIEW_CREATE_ISSUE
    assert block(again, views.BLOCK_SUMMARY)["element"]["initial_value"] == "Typed summary"
    assert block(again, "jira_issue_type.ENG")["element"]["initial_option"]["value"] == "10002"
    assert block(again, views.field_block_id("customfield_4", state))["element"]["initial_value"] == "5"
    twice = assert_valid(views.build_form_with_notice(submitted(again, {}), views.Notice("Second")))
    notices = [b for b in twice["blocks"] if b.get("block_id") == views.BLOCK_NOTICE]
    assert len(notices) == 1 and "Second" in notices[0]["text"]["text"]


def test_reading_a_submission() -> None:
    view, state = built_form()
    form = views.read_submission(submitted(view, filled_values(state)))
    assert form.errors == {}
    assert form.input is not None
    assert (form.input.project_key, form.input.project_name) == ("ENG", "Engineering")
    assert (form.input.issue_type_id, form.input.issue_type_name) == ("10002", "Bug")
    assert (form.input.summary, form.input.description) == ("Typed summary", "Typed")
    fields = [(f.field_id, f.kind, f.value["value"]) for f in form.input.fields]
    assert fields == [("customfield_4", "num", "5")]


def test_a_submission_for_a_project_the_form_does_not_show_yet_is_refused_on_the_project() -> None:
    view, state = built_form()
    values = filled_values(state)
    values[views.BLOCK_PROJECT][views.ACTION_PROJECT]["selected_option"]["value"] = "OPS"
    form = views.read_submission(submitted(view, values))
    assert form.input is None
    assert form.errors == {views.BLOCK_PROJECT: views.FORM_NOT_READY}


def test_a_blank_summary_is_refused_on_the_summary() -> None:
    view, state = built_form()
    values = filled_values(state)
    values[views.BLOCK_SUMMARY][views.ACTION_SUMMARY]["value"] = "   "
    errors = views.read_submission(submitted(view, values)).errors
    assert errors == {views.BLOCK_SUMMARY: views.SUMMARY_REQUIRED}


def test_read_texts_prefers_typed_text_and_falls_back_to_the_prefill() -> None:
    view = views.build_issue_form(form_data(), FormTexts("Prefilled", "Printer on fire", truncated=True),
                                  ModalState(description_digest=description_digest("Printer on fire"),
                                             truncated=True))
    assert views.read_texts(submitted(view, {})) == FormTexts("Prefilled", "Printer on fire", truncated=True)
    typed = {
        views.BLOCK_SUMMARY: {views.ACTION_SUMMARY: {"type": "plain_text_input", "value": "Mine"}},
        views.BLOCK_DESCRIPTION: {views.ACTION_DESCRIPTION: {"type": "plain_text_input", "value": "Edited"}},
    }
    assert views.read_texts(submitted(view, typed)) == FormTexts("Mine", "Edited", truncated=False)


# Acknowledging submissions ------------------------------------------------------------------------------

def test_created_is_acknowledged_with_the_result_view() -> None:
    view, _ = built_form()
    ack = views.submission_ack(CreateOutcome(OutcomeStatus.CREATED, issue=ISSUE), submitted(view, {}))
    assert ack["response_action"] == "update"
    result = assert_valid(ack["view"])
    assert "<https://acme.atlassian.net/browse/ENG-7|ENG-7>" in texts_of(result)
    assert "Printer &lt;on&gt; fire &amp; smoke" in texts_of(result)
    assert result["blocks"][-1]["elements"][0]["url"] == ISSUE.url


def test_a_repeat_while_creating_is_acknowledged_with_creating() -> None:
    view, _ = built_form()
    ack = views.submission_ack(CreateOutcome(OutcomeStatus.PENDING), submitted(view, {}))
    assert ack["response_action"] == "update"
    assert views.CREATING_TEXT in texts_of(assert_valid(ack["view"]))


def test_jira_field_errors_go_on_their_inputs() -> None:
    view, state = built_form()
    outcome = CreateOutcome(OutcomeStatus.INVALID, field_errors={
        "summary": "Summary must be less than 255 characters.", "customfield_4": "Not a number",
        "issuetype": "The issue type selected is invalid."})
    ack = views.submission_ack(outcome, submitted(view, {}))
    assert ack == {"response_action": "errors", "errors": {
        views.BLOCK_SUMMARY: "Summary must be less than 255 characters.",
        views.field_block_id("customfield_4", state): "Not a number",
        "jira_issue_type.ENG": "The issue type selected is invalid."}}
    input_ids = {b["block_id"] for b in view["blocks"] if b["type"] == "input"}
    assert set(ack["errors"]) <= input_ids


def test_errors_no_input_shows_are_listed_in_a_notice_by_name() -> None:
    view, _ = built_form()
    outcome = CreateOutcome(OutcomeStatus.INVALID, field_errors={"customfield_99": "Mystery is required.",
                                                                 "customfield_4": "Not a number"},
                            messages=("Something else",))
    ack = views.submission_ack(outcome, submitted(view, {}))
    assert ack["response_action"] == "update"
    notice = assert_valid(ack["view"])["blocks"][0]["text"]["text"]
    assert views.JIRA_REJECTED in notice
    assert "• customfield_99: Mystery is required." in notice
    assert "• Story points: Not a number" in notice
    assert "• Something else" in notice


@pytest.mark.parametrize("reason, words, button", [
    (FailureReason.NO_PERMISSION, "can't create issues in *Engineering*", None),
    (FailureReason.UNREACHABLE, "can't be reached", None),
    (FailureReason.RATE_LIMITED, "too busy", None),
    (FailureReason.UNCERTAIN, "didn't confirm whether", views.ACTION_CHECK_IN_JIRA),
    (FailureReason.RECONNECT, "no longer accepts your connection", ids.ACTION_CONNECT_LINK),
    (FailureReason.INTERNAL, "went wrong on our side", None),
])
def test_other_failures_keep_the_form_and_say_what_went_wrong(reason: FailureReason, words: str,
                                                               button: str | None) -> None:
    view, state = built_form()
    outcome = CreateOutcome(OutcomeStatus.FAILED, reason=reason, connect_url="https://auth.test/x",
                            check_url="https://acme.atlassian.net/issues/?jql=x")
    ack = views.submission_ack(outcome, submitted(view, filled_values(state)))
    assert ack["response_action"] == "update"
    again = assert_valid(ack["view"])
    assert words in again["blocks"][0]["text"]["text"]
    buttons = [e["action_id"] for b in again["blocks"] if b["type"] == "actions" for e in b["elements"]]
    if button == views.ACTION_CHECK_IN_JIRA:
        assert views.ACTION_CHECK_IN_JIRA in buttons
    elif button == ids.ACTION_CONNECT_LINK:
        assert ids.ACTION_CONNECT_LINK in buttons
    assert block(again, views.BLOCK_SUMMARY)["element"]["initial_value"] == "Typed summary"


# The other views ----------------------------------------------------------------------------------------

def test_loading_and_creating_views_are_valid_and_have_no_submit() -> None:
    for view in (views.build_loading_view(), views.build_creating_view(), views.build_error_view("x")):
        assert_valid(view)
        assert "submit" not in view


def test_not_linked_users_get_a_connect_button_and_no_form() -> None:
    view = assert_valid(views.build_blocked_view(
        Blocked(BlockedReason.NOT_LINKED, "acme.atlassian.net", "https://auth.test/authorize?state=1")))
    assert not any(b["type"] == "input" for b in view["blocks"])
    assert "connect your Jira account on acme.atlassian.net" in texts_of(view)
    button = view["blocks"][1]["elements"][0]
    assert (button["action_id"], button["url"], button["text"]["text"]) == (
        ids.ACTION_CONNECT_LINK, "https://auth.test/authorize?state=1", "Connect to Jira")


def test_a_broken_link_gets_a_reconnect_button() -> None:
    view = assert_valid(views.build_blocked_view(
        Blocked(BlockedReason.NEEDS_RECONNECT, "acme.atlassian.net", "https://auth.test/a")))
    assert "needs renewing" in texts_of(view)
    assert view["blocks"][1]["elements"][0]["text"]["text"] == "Reconnect to Jira"


@pytest.mark.parametrize("reason, words", [
    (BlockedReason.NOT_INSTALLED, "admin must first run `/jira admin install`"),
    (BlockedReason.CLOUD_NOT_CONFIGURED, "ATLASSIAN_CLIENT_ID"),
])
def test_without_an_install_the_admin_hint_is_shown(reason: BlockedReason, words: str) -> None:
    view = assert_valid(views.build_blocked_view(Blocked(reason)))
    assert words in texts_of(view)


def test_step_views() -> None:
    assert assert_valid(views.build_step_view(ShowJiraDown()))["blocks"][0]["text"]["text"] == \
        views.JIRA_DOWN_OPENING
    form = views.build_step_view(ShowForm(form_data(), FormTexts("S"), STATE))
    assert form["callback_id"] == ids.VIEW_CREATE_ISSUE
    view, state = built_form()
    current = submitted(view, filled_values(state))
    down = assert_valid(views.build_step_view(ShowJiraDown(), current=current))
    assert views.JIRA_DOWN_RELOADING in down["blocks"][0]["text"]["text"]
    assert block(down, views.BLOCK_SUMMARY)["element"]["initial_value"] == "Typed summary"
    blocked = ShowBlocked(Blocked(BlockedReason.NEEDS_RECONNECT, "acme", "https://auth.test/r"))
    kept = assert_valid(views.build_step_view(blocked, current=current))
    assert kept["callback_id"] == ids.VIEW_CREATE_ISSUE and "Reconnect" in texts_of(kept)


def test_the_duplicate_view_lists_existing_issues_and_asks() -> None:
    when = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    links = tuple(IssueLinkRecord("T1", "C1", "1.2", f"ENG-{i}", f"{SITE}/browse/ENG-{i}", "A <b>",
                                  "U0BOB0001", when) for i in range(1, 8))
    view = assert_valid(views.build_step_view(ShowDuplicate(links, STATE)))
    assert view["callback_id"] == views.VIEW_CREATE_ANOTHER and "submit" not in view
    [button] = [e for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert (button["action_id"], button["text"]["text"]) == (views.ACTION_CREATE_ANOTHER, "Create another")
    assert decode_metadata(view["private_metadata"]) == STATE
    text = texts_of(view)
    assert views.ALREADY_LINKED_MANY in text and "ENG-7" in text and "ENG-1|" not in text
    assert "<@U0BOB0001>" in text and "A &lt;b&gt;" in text


def test_thread_reply_names_the_issue_its_type_and_creator() -> None:
    reply = views.build_thread_reply(ISSUE, "U0ALICE01")
    assert validate_blocks(reply["blocks"]) == []
    assert reply["text"] == "<@U0ALICE01> created ENG-7: Printer &lt;on&gt; fire &amp; smoke"
    assert reply["blocks"][0]["text"]["text"] == f"*<{ISSUE.url}|ENG-7>* Printer &lt;on&gt; fire &amp; smoke"
    assert reply["blocks"][1]["elements"][0]["text"] == "Task in Engineering · created by <@U0ALICE01>"


def test_created_notice_explains_why_it_is_not_in_the_thread() -> None:
    notice = views.build_created_notice(ISSUE, STATE)
    assert validate_blocks(notice["blocks"]) == []
    assert "<#C0GENERAL>" in notice["text"] and "/invite @Jira" in notice["text"]
    assert "ENG-7" in notice["text"]
    plain = views.build_created_notice(ISSUE, ModalState(channel_id="C0GENERAL"))
    assert plain["text"].startswith("I created *<") and "invite" not in plain["text"]


def test_failed_message_by_dm_carries_the_buttons() -> None:
    message = views.build_failed_message(views.Notice("Jira is down.", (views.LinkButton(
        "Check in Jira", "https://x.test", views.ACTION_CHECK_IN_JIRA),)))
    assert validate_blocks(message["blocks"]) == []
    assert message["text"] == "I couldn't create your Jira issue. Jira is down."


def test_options_for_projects_and_users_are_what_slack_shows() -> None:
    projects = views.project_options([Project(str(i), f"K{i}", "n" * 90) for i in range(150)])
    assert validate_options_response({"options": projects}) == []
    assert len(projects) == 100 and projects[0]["value"] == "K0"
    users = views.user_options([JiraUser("5b10", "Alice Anders", "alice@acme.test"),
                                JiraUser("bob", None, None)])
    assert validate_options_response({"options": users}) == []
    assert [(u["text"]["text"], u["value"]) for u in users] == [("Alice Anders (alice@acme.test)", "5b10"),
                                                                ("bob", "bob")]


# Metadata -----------------------------------------------------------------------------------------------

def test_metadata_round_trips_and_stays_compact() -> None:
    state = ModalState(channel_id="C1", message_ts="1.2", thread_ts="1.0", project_key="ENG", project_id="1",
                       issue_type_id="2", fields=(("customfield_1", "num"), ("labels", "lbl")),
                       description_digest="abc", has_draft=True, truncated=True)
    raw = encode_metadata(state)
    assert decode_metadata(raw) == state
    assert decode_metadata(encode_metadata(ModalState())) == ModalState()
    assert decode_metadata("") == ModalState()
    assert len(raw) < 300


@pytest.mark.parametrize("raw", ["not json", "[]", '{"v": 99}', '{"v": 1, "f": [["a"]]}', '{"v": 1, "c": 5}'])
def test_metadata_that_is_not_ours_is_refused(raw: str) -> None:
    with pytest.raises(MetadataError):
        decode_metadata(raw)


def test_metadata_over_slacks_limit_is_refused() -> None:
    with pytest.raises(MetadataError):
        encode_metadata(ModalState(fields=tuple((f"customfield_{i}", "num") for i in range(200))))
