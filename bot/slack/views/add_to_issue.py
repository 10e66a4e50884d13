"""The "Add to Jira issue" modal and its messages: loading, the form (Issue and Comment), not linked,
adding, added, and the reply in the message's thread (the issue card).

Pure builders: data in, Block Kit out. The form's block and action IDs are defined here, and so is the
reader that takes a submitted form apart again (:func:`read_submission`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.jira.issues import IssueSnapshot
from bot.jira.picker import PickedIssue
from bot.services.add_to_issue import (
    AddBlocked,
    AddedTo,
    AddFailure,
    AddForm,
    AddOutcome,
    AddStatus,
    AddStep,
    issue_key_in,
)
from bot.services.issues import BlockedReason
from bot.slack import ids
from bot.slack.metadata import ModalState, decode_metadata, encode_metadata
from bot.slack.views import linking as linking_views
from bot.slack.views.blocks import actions, button, clip, context, escape, modal, option, plain, section
from bot.slack.views.create_issue import LinkButton, Notice, build_form_with_notice
from bot.slack.views.issue_card import build_issue_card, card_text

View = dict[str, Any]
Block = dict[str, Any]
Message = dict[str, Any]

# Identifiers ---------------------------------------------------------------------------------------
VIEW_ADD_RESULT = "jira_add_result"
BLOCK_ISSUE = "jira_add_issue"
ACTION_ISSUE = "jira_add_issue_select"
BLOCK_COMMENT = "jira_add_comment"
ACTION_COMMENT = "jira_add_comment_input"
ACTION_CHECK_ISSUE = "jira_add_check_issue"

COMMENT_MAX = 3000
OPTIONS_MAX = 100

# What people read --------------------------------------------------------------------------------
TITLE = "Add to Jira issue"
RESULT_TITLE = "Added to Jira"
LOADING_TEXT = "Reading the message…"
LOADING_HINT = "The form fills in a moment."
ISSUE_PLACEHOLDER = "Your recent issues, a key or words"
ISSUE_HINT = "Leave it empty to see your recent issues; type a key such as ENG-12, or words from a summary."
LONG_MESSAGE_HINT = ("The message is longer than fits here. Unless you edit this text, the whole message "
                     "goes to Jira.")
ADDING_AS = "Commenting as *{who}* on {site}. A link to the message is added to the issue too."
NOT_LINKED_INTRO = ("To add messages to Jira issues, first connect your Jira account on {site} "
                    "(the button below, or `/jira connect`). It takes a few seconds; then try again.")
RECONNECT_INTRO = ("Your Jira connection on {site} needs renewing: Jira no longer accepts it. Reconnect "
                   "(the button below, or `/jira connect`), then try again.")
CHOOSE_ISSUE = "Choose an issue."
NOT_AN_ISSUE = "Choose one of the issues offered."
ADDING_TEXT = "⏳ Adding the message to {key}…"
ADDING_HINT = "Jira is taking a moment. You can close this window: I'll tell you when it's done."
ADDED = "✅ Added to *<{url}|{key}>*{summary}"
LINK_NOTE = "The issue links back to the message."
NO_LINK_NOTE = "The comment is there, but Jira didn't take the link back to the message."
FAILURES = {
    AddFailure.ISSUE_GONE: "{key} doesn't exist any more, or you can't see it. Choose another issue.",
    AddFailure.NO_PERMISSION: ("Jira says you can't comment on {key}. Choose another issue, or ask a "
                               "Jira admin."),
    AddFailure.REJECTED: "Jira didn't accept the comment, so nothing was added.",
    AddFailure.EMPTY: "Write a comment.",
    AddFailure.UNREACHABLE: ("Jira can't be reached right now, so nothing was added. Please try again in "
                             "a few minutes."),
    AddFailure.RATE_LIMITED: ("Jira is too busy right now and asked us to slow down. Nothing was added; "
                              "please try again in a minute."),
    AddFailure.UNCERTAIN: ("Jira didn't confirm whether the comment was added to {key}. Check the issue "
                           "before pressing Add again, so it isn't there twice."),
    AddFailure.RECONNECT: ("Jira no longer accepts your connection, so nothing was added. Reconnect your "
                           "Jira account (or run `/jira connect`), then press Add again."),
    AddFailure.NOT_LINKED: ("Your Jira account isn't connected any more. Connect it (or run "
                            "`/jira connect`), then press Add again."),
    AddFailure.NOT_INSTALLED: linking_views.NOT_INSTALLED,
    AddFailure.INTERNAL: "Something went wrong on our side, so nothing was added. Please try again.",
}
#: Failures shown on an input of the form rather than above it.
ON_ISSUE = (AddFailure.ISSUE_GONE, AddFailure.NO_PERMISSION)
BROKEN_FORM = "This form can't be read any more, so nothing was added. Close it and start again."
FAILED_DM = "I couldn't add the message to Jira. {reason}"
ADDED_REPLY = "<@{user}> added this message to {key}"
ADDED_BY = "Added by <@{user}>"
PRIVATE_REPLY = ("I added your message to {link}, but I can't post in <#{channel}>. Invite me with "
                 "`/invite @Jira` to have the issue shown in the thread.")


# ---------------------------------------------------------------------------------------------------
# Views
# ---------------------------------------------------------------------------------------------------


def build_loading_view() -> View:
    return modal(TITLE, [section(LOADING_TEXT), context(LOADING_HINT)], close="Cancel")


def build_error_view(text: str) -> View:
    return modal(TITLE, [section(text)], callback_id=ids.VIEW_INFO, close="Close")


def build_step_view(step: AddStep) -> View:
    if isinstance(step, AddForm):
        return build_add_form(step)
    assert isinstance(step, AddBlocked)
    return build_blocked_view(step)


def build_blocked_view(step: AddBlocked) -> View:
    blocked = step.blocked
    site = blocked.site or "your Jira site"
    if blocked.reason in (BlockedReason.NOT_LINKED, BlockedReason.NEEDS_RECONNECT) and blocked.connect_url:
        reconnect = blocked.reason == BlockedReason.NEEDS_RECONNECT
        intro = (RECONNECT_INTRO if reconnect else NOT_LINKED_INTRO).format(site=escape(site))
        return linking_views.build_authorize_modal(
            TITLE, intro, blocked.connect_url,
            button_text="Reconnect to Jira" if reconnect else "Connect to Jira")
    if blocked.reason == BlockedReason.CLOUD_NOT_CONFIGURED:
        return linking_views.build_info_modal(TITLE, linking_views.CLOUD_NOT_CONFIGURED)
    return linking_views.build_info_modal(TITLE, linking_views.NOT_INSTALLED)


def build_add_form(form: AddForm) -> View:
    issue: dict[str, Any] = {"type": "external_select", "action_id": ACTION_ISSUE, "min_query_length": 0,
                             "placeholder": plain(ISSUE_PLACEHOLDER)}
    comment: dict[str, Any] = {"type": "plain_text_input", "action_id": ACTION_COMMENT, "multiline": True,
                               "max_length": COMMENT_MAX}
    if form.comment:
        comment["initial_value"] = form.comment[:COMMENT_MAX]
    blocks = [
        _input(BLOCK_ISSUE, "Issue", issue, hint=ISSUE_HINT),
        _input(BLOCK_COMMENT, "Comment", comment, hint=LONG_MESSAGE_HINT if form.truncated else None),
        context(ADDING_AS.format(who=escape(form.jira_user), site=escape(form.site_host))),
    ]
    return modal(TITLE, blocks, callback_id=ids.VIEW_ADD_TO_ISSUE, submit="Add", close="Cancel",
                 private_metadata=encode_metadata(form.state))


def _input(block_id: str, label: str, element: dict[str, Any], *, hint: str | None = None) -> Block:
    block: Block = {"type": "input", "block_id": block_id, "label": plain(label), "element": element}
    if hint:
        block["hint"] = plain(clip(hint, 2000))
    return block


def build_adding_view(key: str) -> View:
    return modal(TITLE, [section(ADDING_TEXT.format(key=escape(key))), context(ADDING_HINT)], close="Close")


def build_added_view(issue: AddedTo, linked: bool) -> View:
    summary = f": {escape(issue.summary)}" if issue.summary else ""
    blocks = [
        section(ADDED.format(url=issue.url, key=escape(issue.key), summary=summary)),
        context(LINK_NOTE if linked else NO_LINK_NOTE),
        actions(button("Open in Jira", ids.ACTION_OPEN_IN_JIRA, url=issue.url, style="primary")),
    ]
    return modal(RESULT_TITLE, blocks, callback_id=VIEW_ADD_RESULT, close="Done")


def failure_notice(outcome: AddOutcome) -> Notice:
    """Why an add failed, in plain words, and what to do about it."""
    reason = outcome.reason or AddFailure.INTERNAL
    text = FAILURES[reason].format(key=escape(outcome.issue_key or "the issue"))
    if reason == AddFailure.REJECTED and outcome.messages:
        text = "\n".join([text, *(f"• {escape(m)}" for m in outcome.messages[:5])])
    buttons: list[LinkButton] = []
    if outcome.connect_url:
        label = "Connect to Jira" if reason == AddFailure.NOT_LINKED else "Reconnect to Jira"
        buttons.append(LinkButton(label, outcome.connect_url, ids.ACTION_CONNECT_LINK))
    if outcome.check_url:
        buttons.append(LinkButton("Check in Jira", outcome.check_url, ACTION_CHECK_ISSUE))
    return Notice(text, tuple(buttons))


def submission_ack(outcome: AddOutcome, view: Mapping[str, Any]) -> dict[str, Any]:
    """What to answer a submission with: the result, a problem on its input, or the form again with
    the problem on top."""
    if outcome.reason in ON_ISSUE or outcome.reason == AddFailure.EMPTY:
        block = BLOCK_COMMENT if outcome.reason == AddFailure.EMPTY else BLOCK_ISSUE
        return {"response_action": "errors", "errors": {block: clip(failure_notice(outcome).text, 150)}}
    return {"response_action": "update", "view": result_view(outcome, view)}


def result_view(outcome: AddOutcome, view: Mapping[str, Any]) -> View:
    """The view once an add is over: the result, or the form again with the problem on top."""
    if outcome.status == AddStatus.ADDED and outcome.issue is not None:
        return build_added_view(outcome.issue, outcome.linked)
    if outcome.status == AddStatus.PENDING:
        return build_adding_view(outcome.issue_key or "the issue")
    return build_form_with_notice(view, failure_notice(outcome))


def issue_options(issues: Iterable[PickedIssue]) -> list[dict[str, Any]]:
    shown = list(issues)[:OPTIONS_MAX]
    return [option(f"{i.key}: {i.summary}" if i.summary else i.key, i.key) for i in shown]


# ---------------------------------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------------------------------


def build_thread_reply(issue: AddedTo, snapshot: IssueSnapshot | None, site_url: str | None,
                       user_id: str) -> Message:
    """The reply in the message's thread: the issue card as the user read it after adding, saying who
    added the message (a link when the issue could not be read back)."""
    intro = ADDED_REPLY.format(user=user_id, key=escape(issue.key))
    note = context(ADDED_BY.format(user=user_id))
    if snapshot is not None and site_url:
        blocks = build_issue_card(snapshot, site_url=site_url)
        blocks.insert(-1, note)  # above the actions, where the create's reply says who created it
        return {"text": f"{intro}: {card_text(snapshot)}", "blocks": blocks}
    summary = f" {escape(issue.summary)}" if issue.summary else ""
    return {"text": f"{intro}{':' if summary else ''}{summary}", "blocks": [
        section(f"*<{issue.url}|{escape(issue.key)}>*{summary}",
                accessory=button("Open in Jira", ids.ACTION_OPEN_IN_JIRA, url=issue.url)),
        note,
    ]}


def build_private_notice(issue: AddedTo, snapshot: IssueSnapshot | None, site_url: str | None,
                         state: ModalState) -> Message:
    """Told to the user alone when the bot cannot post in the message's thread."""
    link = f"*<{issue.url}|{escape(issue.key)}>*"
    text = PRIVATE_REPLY.format(link=link, channel=state.channel_id)
    blocks: list[Block] = [section(text)]
    if snapshot is not None and site_url:
        blocks += build_issue_card(snapshot, site_url=site_url, with_actions=False)
    return {"text": text, "blocks": blocks}


def build_failed_message(notice: Notice) -> Message:
    """An add that failed after the modal was closed, told by DM."""
    text = FAILED_DM.format(reason=notice.text)
    blocks: list[Block] = [section(clip(text, 3000))]
    if notice.buttons:
        blocks.append(actions(*(button(b.label, b.action_id, url=b.url) for b in notice.buttons)))
    return {"text": text, "blocks": blocks}


# ---------------------------------------------------------------------------------------------------
# Reading the form back
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubmittedAdd:
    state: ModalState
    issue_key: str | None
    comment: str
    errors: dict[str, str] = field(default_factory=dict)


def read_submission(view: Mapping[str, Any]) -> SubmittedAdd:
    """The issue and comment submitted (MetadataError when the state is not ours)."""
    state = decode_metadata(view.get("private_metadata"))
    values = (view.get("state") or {}).get("values") or {}
    selected = ((values.get(BLOCK_ISSUE) or {}).get(ACTION_ISSUE) or {}).get("selected_option")
    raw_key = str(selected.get("value") or "") if isinstance(selected, Mapping) else ""
    comment = str(((values.get(BLOCK_COMMENT) or {}).get(ACTION_COMMENT) or {}).get("value") or "")
    errors: dict[str, str] = {}
    key = issue_key_in(raw_key) if raw_key else None
    if not raw_key:
        errors[BLOCK_ISSUE] = CHOOSE_ISSUE
    elif key is None:
        errors[BLOCK_ISSUE] = NOT_AN_ISSUE
    if not comment.strip():
        errors[BLOCK_COMMENT] = FAILURES[AddFailure.EMPTY]
    return SubmittedAdd(state, key, comment, errors)
