"""Text that Jira controls (display names, project names and keys, site names, Jira's own messages) is
shown as text in every Slack view and message: never a link, a mention or a broadcast."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from bot.form_state import ModalState
from bot.jira.client import IssueType, Project
from bot.services.create_meta import FieldPlan
from bot.services.issue_drafts import FormTexts
from bot.services.issues import (
    Blocked,
    BlockedReason,
    CreateOutcome,
    FailureReason,
    FormData,
    IssueCreated,
    OutcomeStatus,
)
from bot.services.linking import AdminStatus, UserStatus
from bot.slack.views import create_issue as issue_views
from bot.slack.views import linking as views
from bot.slack.views.blocks import escape_mrkdwn, mrkdwn_link
from storage.repositories.accounts import AccountRecord
from storage.repositories.issue_links import IssueLinkRecord
from storage.repositories.tenants import TenantCounts, TenantRecord
from tests.emulators.slack import validate_blocks

NOW = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
EVIL = "<https://evil.example|Re-authorize>"
SHOWN = "&lt;https://evil.example|Re-authorize&gt;"
BROADCAST = "<!channel> & <@U0BOSS>"
TENANT = TenantRecord(1, "T1", None, "cloud", "https://acme.atlassian.net", "acme", "c1", None, None,
                      "U0ADMIN", NOW, "EVL", EVIL)
ACCOUNT = AccountRecord(1, 1, "T1", "U1", "acc-1", BROADCAST, "bob@x", "at", "rt", NOW, None, "linked", NOW,
                        NOW, None, None)
ISSUE = IssueCreated(key="EVL-1", url="https://acme.atlassian.net/browse/EVL-1", summary=BROADCAST,
                     issue_type=EVIL, project_key="EVL", project_name=EVIL)


def mrkdwn_texts(value: Any) -> list[str]:
    """Every mrkdwn text in a message or view (and its top-level fallback `text`)."""
    found: list[str] = []
    if isinstance(value, dict):
        if value.get("type") == "mrkdwn" and isinstance(value.get("text"), str):
            found.append(value["text"])
        for item in value.values():
            found += mrkdwn_texts(item)
    elif isinstance(value, list):
        for item in value:
            found += mrkdwn_texts(item)
    return found


def assert_shown_as_text(message: Any) -> None:
    texts = mrkdwn_texts(message)
    if isinstance(message, dict) and isinstance(message.get("text"), str):
        texts.append(message["text"])
    assert texts
    joined = "\n".join(texts)
    assert "<https://evil" not in joined and "<!channel>" not in joined and "<@U0BOSS>" not in joined, joined


def test_the_escape_is_slacks_three() -> None:
    assert escape_mrkdwn("a & b <c> d") == "a &amp; b &lt;c&gt; d"
    assert escape_mrkdwn(EVIL) == SHOWN
    assert escape_mrkdwn("*bold* _it_ `code`") == "*bold* _it_ `code`"  # formatting is not a link
    assert mrkdwn_link("https://x.test/a?b=1&c=2", "A|B>") == "<https://x.test/a?b=1&amp;c=2|A|B&gt;>"
    assert mrkdwn_link("https://x.test/a|b", "K") == "<https://x.test/a%7Cb|K>"


def test_a_project_named_like_a_link_is_text_in_admin_status_and_the_home_tab() -> None:
    status = AdminStatus(TENANT, TenantCounts(3, 1))
    message = views.build_admin_status_message(status)
    assert_shown_as_text(message)
    assert f"Default project: {SHOWN} (EVL)" in message["blocks"][0]["text"]["text"]
    assert validate_blocks(message["blocks"], "message") == []
    home = views.build_home_view(UserStatus(TENANT, ACCOUNT), status)
    assert_shown_as_text(home)
    assert SHOWN in json.dumps(home)


def test_a_display_name_or_site_that_looks_like_mrkdwn_is_text_in_linking_messages() -> None:
    evil_site = replace(TENANT, site_url=f"https://{EVIL}")
    user = UserStatus(evil_site, ACCOUNT)
    for message in (
        views.build_status_message(user),
        views.build_status_message(UserStatus(evil_site, replace(ACCOUNT, status="needs_reconnect"))),
        views.build_status_message(UserStatus(evil_site, None)),
        views.build_already_linked_message(user, "https://auth.example/a"),
        views.build_disconnect_prompt(user),
        views.build_uninstall_prompt(AdminStatus(evil_site, TenantCounts(1, 0))),
        views.build_connect_message("https://auth.example/a", EVIL),
        views.build_install_link_message("https://auth.example/a", EVIL, [f"I used the site {EVIL}"]),
        views.build_reconnect_dm(EVIL),
        views.build_authorize_modal("Connect Jira", "Last step", "https://auth.example/a", [EVIL]),
    ):
        assert_shown_as_text(message)
    assert "&lt;!channel&gt; &amp; &lt;@U0BOSS&gt;" in views.status_text(user)


def test_issue_texts_from_jira_are_text_in_the_reply_the_result_and_the_form() -> None:
    state = ModalState(channel_id="C1", message_ts="1.0")
    reply = issue_views.build_thread_reply(ISSUE, "U1")
    assert_shown_as_text(reply)
    assert reply["text"].startswith("<@U1> created EVL-1: ")  # the bot's own mention stays one
    assert_shown_as_text(issue_views.build_created_notice(ISSUE, state))
    assert_shown_as_text(issue_views.build_created_view(ISSUE))
    link = IssueLinkRecord("T1", "C1", "1.0", "EVL-1", ISSUE.url, BROADCAST, "U1", NOW)
    assert_shown_as_text(issue_views.build_duplicate_view([link], state))
    refused = CreateOutcome(OutcomeStatus.INVALID, field_errors={"customfield_1": EVIL},
                            messages=(BROADCAST,))
    notice = issue_views.failure_notice(refused, project=EVIL, labels={"customfield_1": EVIL})
    assert_shown_as_text(issue_views.build_failed_message(notice))
    unsure = CreateOutcome(OutcomeStatus.FAILED, reason=FailureReason.NO_PERMISSION)
    unsure_notice = issue_views.failure_notice(unsure, project=EVIL)
    assert_shown_as_text(issue_views.build_failed_message(unsure_notice))
    project = Project("1", "EVL", EVIL)
    data = FormData(site_url="https://acme.atlassian.net", site_host=EVIL, jira_user=BROADCAST,
                    project=project, issue_types=(IssueType("2", EVIL),), issue_type=IssueType("2", EVIL),
                    plan=FieldPlan())
    assert_shown_as_text(issue_views.build_issue_form(data, FormTexts("S"), state))
    unavailable = FormData(site_url="https://acme.atlassian.net", site_host="acme", jira_user="me",
                           unavailable_project=EVIL)
    assert_shown_as_text(issue_views.build_issue_form(unavailable, FormTexts(), state))
    blocked = Blocked(BlockedReason.NOT_LINKED, EVIL, "https://auth.example/a")
    assert_shown_as_text(issue_views.build_blocked_view(blocked))
