"""The pure parts of "Add to Jira issue": keys in queries, the comment texts and bodies, the link title,
the picker's answer, and the modal and messages as data."""

from __future__ import annotations

import json

import pytest

from bot.jira.issues import IssueSnapshot
from bot.jira.picker import IssuePicks, PickedIssue
from bot.services.add_to_issue import (
    AddedTo,
    AddFailure,
    AddForm,
    AddOutcome,
    AddStatus,
    comment_input_text,
    comment_value,
    issue_key_in,
    link_title,
)
from bot.slack import ids
from bot.slack.metadata import ModalState, encode_metadata
from bot.slack.views import add_to_issue as views

PERMALINK = "https://acme.slack.com/archives/C1/p1700000000000100"
STATE = ModalState(channel_id="C1", message_ts="1700000000.000100", description_digest="d", has_draft=True)


@pytest.mark.parametrize(("query", "key"), [("ENG-12", "ENG-12"), (" eng-12 ", "ENG-12"),
                                             ("AB_C2-7", "AB_C2-7"), ("ENG-0", None), ("ENG 12", None),
                                             ("printer", None), ("E-1", None), ("", None)])
def test_a_key_is_told_from_text(query: str, key: str | None) -> None:
    assert issue_key_in(query) == key


def test_the_comment_input_fits_slack_and_keeps_the_link() -> None:
    text, cut = comment_input_text("Bob wrote in #general:", "short", PERMALINK)
    assert (text, cut) == (f"Bob wrote in #general:\nshort\n\nFrom a Slack message: {PERMALINK}", False)
    text, cut = comment_input_text("Bob wrote in #general:", "word " * 1000, PERMALINK)
    assert cut and len(text) <= 3000 and text.endswith(PERMALINK)


def test_comment_bodies_end_with_the_link_on_both_flavours() -> None:
    adf = comment_value("Hi *there*", cloud=True, permalink=PERMALINK)
    assert adf["type"] == "doc" and adf["content"][-1]["content"][1]["marks"][0]["attrs"]["href"] == PERMALINK
    assert comment_value("Hi *there*", cloud=False, permalink=PERMALINK) == (
        f"Hi *there*\n\nFrom a Slack message: [{PERMALINK}]")
    assert comment_value("edited", cloud=False) == "edited"


def test_the_link_title_names_the_channel_and_the_first_words() -> None:
    assert link_title("general", "The printer is on fire") == "Slack: #general — The printer is on fire"
    long = link_title("general", "word " * 40)
    assert long.startswith("Slack: #general — word word") and long.endswith("…") and len(long) < 90
    assert link_title(None, "") == "Slack: a conversation"


def test_the_picker_answer_is_read_history_first_each_key_once() -> None:
    picks = IssuePicks.parse({"sections": [
        {"label": "History Search", "id": "hs", "issues": [{"key": "ENG-2", "summaryText": "Two"}]},
        {"label": "Current Search", "id": "cs", "issues": [{"key": "ENG-2", "summaryText": "Two"},
                                                            {"key": "ENG-5", "summary": "<b>x</b>"}, {}]},
    ]})
    assert picks.all == (PickedIssue("ENG-2", "Two"), PickedIssue("ENG-5", ""))
    assert IssuePicks.parse({"unexpected": True}) == IssuePicks()


def test_the_form_has_the_issue_select_and_the_prefilled_comment() -> None:
    view = views.build_add_form(AddForm("Bob wrote:\nhi", True, STATE, "Alice <A>", "acme.atlassian.net"))
    assert view["callback_id"] == ids.VIEW_ADD_TO_ISSUE and view["submit"]["text"] == "Add"
    issue, comment = (b for b in view["blocks"] if b["type"] == "input")
    assert issue["element"]["type"] == "external_select" and issue["element"]["min_query_length"] == 0
    assert comment["element"]["initial_value"] == "Bob wrote:\nhi"
    assert comment["hint"]["text"] == views.LONG_MESSAGE_HINT
    assert "Alice &lt;A&gt;" in json.dumps(view)


def test_options_show_key_and_summary() -> None:
    options = views.issue_options([PickedIssue("ENG-1", "Fix it"), PickedIssue("ENG-2", "")])
    shown = [(o["text"]["text"], o["value"]) for o in options]
    assert shown == [("ENG-1: Fix it", "ENG-1"), ("ENG-2", "ENG-2")]


def _submitted(value: str | None, comment: str = "hello") -> dict:
    selected = {"selected_option": {"text": {"type": "plain_text", "text": value}, "value": value}} if value \
        else {"selected_option": None}
    return {"private_metadata": encode_metadata(STATE), "state": {"values": {
        views.BLOCK_ISSUE: {views.ACTION_ISSUE: {"type": "external_select", **selected}},
        views.BLOCK_COMMENT: {views.ACTION_COMMENT: {"type": "plain_text_input", "value": comment}}}}}


def test_a_submission_is_read_back_or_its_problems_named() -> None:
    read = views.read_submission(_submitted("ENG-1"))
    assert (read.issue_key, read.comment, read.errors, read.state) == ("ENG-1", "hello", {}, STATE)
    assert views.read_submission(_submitted(None)).errors == {views.BLOCK_ISSUE: views.CHOOSE_ISSUE}
    assert views.read_submission(_submitted("<evil>", " ")).errors == {
        views.BLOCK_ISSUE: views.NOT_AN_ISSUE, views.BLOCK_COMMENT: "Write a comment."}


def test_refusals_land_on_the_issue_input_and_others_above_the_form() -> None:
    gone = AddOutcome(AddStatus.FAILED, reason=AddFailure.NO_PERMISSION, issue_key="ENG-1")
    refused = "Jira says you can't comment on ENG-1. Choose another issue, or ask a Jira admin."
    assert views.submission_ack(gone, _submitted("ENG-1")) == {"response_action": "errors",
                                                               "errors": {views.BLOCK_ISSUE: refused}}
    down = AddOutcome(AddStatus.FAILED, reason=AddFailure.RECONNECT, issue_key="ENG-1",
                      connect_url="https://c")
    form = {**_submitted("ENG-1"), "blocks": [], "callback_id": ids.VIEW_ADD_TO_ISSUE}
    ack = views.submission_ack(down, form)
    assert ack["response_action"] == "update"
    assert "Reconnect" in json.dumps(ack["view"]) and "https://c" in json.dumps(ack["view"])
    added = AddOutcome(AddStatus.ADDED, issue=AddedTo("ENG-1", "https://acme/browse/ENG-1", "Fix <it>"))
    shown = json.dumps(views.submission_ack(added, {})["view"])
    assert "ENG-1" in shown and "Fix &lt;it&gt;" in shown


def test_the_thread_reply_is_the_card_and_falls_back_to_a_link() -> None:
    snapshot = IssueSnapshot.parse({"id": "1", "key": "ENG-1", "fields": {"summary": "Fix <it>"}})
    issue = AddedTo("ENG-1", "https://acme.atlassian.net/browse/ENG-1", "Fix <it>")
    reply = views.build_thread_reply(issue, snapshot, "https://acme.atlassian.net", "U1")
    dumped = json.dumps(reply["blocks"])
    assert reply["text"].startswith("<@U1> added this message to ENG-1")
    assert ids.ACTION_CARD_ASSIGN in dumped and "Fix &lt;it&gt;" in dumped
    note = {"type": "context", "elements": [{"type": "mrkdwn", "text": "Added by <@U1>"}]}
    assert reply["blocks"][-2] == note and reply["blocks"][-1]["type"] == "actions"
    plain = views.build_thread_reply(issue, None, None, "U1")
    assert ids.ACTION_CARD_ASSIGN not in json.dumps(plain) and "Fix &lt;it&gt;" in plain["text"]
    private = views.build_private_notice(issue, snapshot, "https://acme.atlassian.net", STATE)
    assert "<#C1>" in private["text"] and "/invite @Jira" in private["text"]
