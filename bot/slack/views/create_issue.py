"""The create-issue modal and its messages: loading, form, not linked, already linked, creating, created,
and the reply in the message's thread.

Pure builders: data in, Block Kit out. The form's block and action IDs are defined here, and so are
the readers that take a submitted form apart again (:func:`read_submission`, :func:`read_texts`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.jira.client import IssueType, JiraUser, Project
from bot.jira.issues import IssueSnapshot
from bot.services.create_meta import CreateLink, FieldKind, InputSpec, jira_create_url
from bot.services.issue_drafts import FormTexts, description_digest
from bot.services.issues import (
    Blocked,
    BlockedReason,
    CreateOutcome,
    FailureReason,
    FieldInput,
    FormData,
    IssueCreated,
    IssueInput,
    OutcomeStatus,
    ShowBlocked,
    ShowDuplicate,
    ShowForm,
    ShowJiraDown,
    Step,
)
from bot.slack import ids
from bot.slack.metadata import ModalState, decode_metadata, encode_metadata
from bot.slack.views import linking as linking_views
from bot.slack.views.blocks import (
    actions,
    button,
    clip,
    context,
    escape_mrkdwn,
    modal,
    mrkdwn_link,
    option,
    plain,
    section,
)
from bot.slack.views.issue_card import build_issue_card, build_restricted_card
from storage.repositories.issue_links import IssueLinkRecord

View = dict[str, Any]
Block = dict[str, Any]
Message = dict[str, Any]

# Identifiers ---------------------------------------------------------------------------------------
VIEW_CREATE_ANOTHER = "jira_create_another"
VIEW_CREATE_RESULT = "jira_create_result"
BLOCK_NOTICE = "jira_notice"
BLOCK_NOTICE_ACTIONS = "jira_notice_actions"
BLOCK_PROJECT = "jira_project"
ACTION_PROJECT = "jira_create_project"
BLOCK_ISSUE_TYPE = "jira_issue_type"
ACTION_ISSUE_TYPE = "jira_create_issue_type"
BLOCK_SUMMARY = "jira_summary"
ACTION_SUMMARY = "jira_summary_input"
BLOCK_DESCRIPTION = "jira_description"
ACTION_DESCRIPTION = "jira_description_input"
BLOCK_FIELD = "jira_field"
ACTION_FIELD = "jira_field"
ACTION_USER = "jira_user"
ACTION_FINISH_IN_JIRA = "jira_finish_in_jira"
ACTION_CHECK_IN_JIRA = "jira_check_in_jira"
ACTION_CREATE_ANOTHER = "jira_create_another"
#: URL buttons: the browser does the work, the bot only acknowledges the click.
LINK_ACTIONS = (ids.ACTION_OPEN_IN_JIRA, ACTION_FINISH_IN_JIRA, ACTION_CHECK_IN_JIRA)

# Limits ------------------------------------------------------------------------------------------
SUMMARY_MAX = 255
TEXT_FIELD_MAX = 255
INPUT_MAX = 3000
ERROR_MAX = 150
#: Bytes the further inputs may take, leaving room in Slack's 250 kB for texts and the rest of the form.
FIELDS_BUDGET = 200_000
SHOWN_LINKS = 5

# What people read --------------------------------------------------------------------------------
TITLE = "Create Jira issue"
RESULT_TITLE = "Issue created"
LOADING_TEXT = "Getting your Jira projects and fields…"
LOADING_HINT = "This takes a moment when Jira is busy."
CHOOSE_PROJECT = "Choose a project to see its issue types and the fields Jira requires."
PROJECT_UNAVAILABLE = ("You can't create issues in *{project}* (or it no longer exists). "
                       "Choose another project.")
UNRENDERABLE = ("Jira also requires *{names}*, which can't be filled in here. Create the issue in Jira "
                "instead; your summary and description go along.")
LONG_MESSAGE_HINT = ("The message is longer than fits here. Unless you edit this text, the whole message "
                     "goes to Jira.")
LABELS_HINT = "Separate labels with spaces."
USER_PLACEHOLDER = "Search Jira users"
CREATING_AS = "Creating as *{who}* on {site}."
JIRA_DOWN_OPENING = ("Jira didn't answer, so the form couldn't be loaded. Please try again in a few minutes. "
                     "If this keeps happening, ask your Jira admin whether Jira is up.")
JIRA_DOWN_RELOADING = ("Jira didn't answer, so the form couldn't change. "
                       "Choose the project or issue type again.")
FORM_NOT_READY = ("This project's fields haven't loaded yet. Wait a moment (or choose the project again), "
                  "then press Create.")
CHOOSE_PROJECT_ERROR = "Choose a project."
SUMMARY_REQUIRED = "Write a short summary."
ALREADY_LINKED_ONE = "This message already has a Jira issue:"
ALREADY_LINKED_MANY = "This message already has Jira issues:"
CREATE_ANOTHER_QUESTION = "Create another issue from it anyway?"
CREATING_TEXT = "⏳ Creating your issue in Jira…"
CREATING_HINT = "Jira is taking a moment. You can close this window: I'll post the link when it's ready."
NOT_LINKED_INTRO = ("To create Jira issues from Slack, first connect your Jira account on {site}. "
                    "It takes a few seconds; then try again.")
RECONNECT_INTRO = ("Your Jira connection on {site} needs renewing: Jira no longer accepts it. Reconnect "
                   "your account, then try again.")
FAILURES = {
    FailureReason.NO_PERMISSION: ("Jira says you can't create issues in *{project}*. Choose another project, "
                                  "or ask a Jira admin for access. No issue was created."),
    FailureReason.UNREACHABLE: "Jira can't be reached right now, so no issue was created. Please try again "
                               "in a few minutes.",
    FailureReason.RATE_LIMITED: "Jira is too busy right now and asked us to slow down. No issue was created; "
                                "please try again in a minute.",
    FailureReason.UNCERTAIN: ("Jira didn't confirm whether the issue was created. Check your recent issues "
                              "in Jira before pressing Create again, so you don't end up with two."),
    FailureReason.RECONNECT: ("Jira no longer accepts your connection, so no issue was created. Reconnect "
                              "your Jira account, then press Create again."),
    FailureReason.NOT_LINKED: ("Your Jira account isn't connected any more. Connect it, then press "
                               "Create again."),
    FailureReason.NOT_INSTALLED: linking_views.NOT_INSTALLED,
    FailureReason.REJECTED: "Jira didn't accept the issue, so none was created.",
    FailureReason.INTERNAL: "Something went wrong on our side, so no issue was created. Please try again.",
}
BROKEN_FORM = "This form can't be read any more, so no issue was created. Close it and start again."
JIRA_REJECTED = "Jira didn't accept the issue, so none was created:"
FAILED_DM = "I couldn't create your Jira issue. {reason}"


# ---------------------------------------------------------------------------------------------------
# Notices shown at the top of a form
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LinkButton:
    label: str
    url: str
    action_id: str


@dataclass(frozen=True)
class Notice:
    """A problem (or warning) shown above the form, with buttons that lead somewhere to fix it."""

    text: str
    buttons: tuple[LinkButton, ...] = ()


def _notice_blocks(notice: Notice) -> list[Block]:
    blocks = [section(clip(f"⚠️ {notice.text}", 3000), block_id=BLOCK_NOTICE)]
    if notice.buttons:
        buttons = [button(b.label, b.action_id, url=b.url, style="primary") for b in notice.buttons]
        blocks.append(actions(*buttons, block_id=BLOCK_NOTICE_ACTIONS))
    return blocks


def failure_notice(outcome: CreateOutcome, *, project: str,
                   labels: Mapping[str, str] | None = None) -> Notice:
    """Why a create failed, in plain words, and what to do about it."""
    rejected = outcome.reason == FailureReason.REJECTED and bool(outcome.messages)
    if outcome.status == OutcomeStatus.INVALID or rejected:
        labels = labels or {}
        lines = [f"• {escape_mrkdwn(labels.get(k, k))}: {escape_mrkdwn(v)}"
                 for k, v in outcome.field_errors.items()]
        lines += [f"• {escape_mrkdwn(m)}" for m in outcome.messages]
        return Notice("\n".join([JIRA_REJECTED, *lines]))
    reason = outcome.reason or FailureReason.INTERNAL
    text = FAILURES[reason].format(project=escape_mrkdwn(project))
    buttons: list[LinkButton] = []
    if outcome.connect_url:
        label = "Connect to Jira" if reason == FailureReason.NOT_LINKED else "Reconnect to Jira"
        buttons.append(LinkButton(label, outcome.connect_url, ids.ACTION_CONNECT_LINK))
    if outcome.check_url:
        buttons.append(LinkButton("Check in Jira", outcome.check_url, ACTION_CHECK_IN_JIRA))
    return Notice(text, tuple(buttons))


# ---------------------------------------------------------------------------------------------------
# Views
# ---------------------------------------------------------------------------------------------------


def build_loading_view() -> View:
    """What opens at once, before anything is asked of Jira."""
    return modal(TITLE, [section(LOADING_TEXT), context(LOADING_HINT)], close="Cancel")


def build_error_view(text: str) -> View:
    return modal(TITLE, [section(text)], callback_id=ids.VIEW_INFO, close="Close")


def build_blocked_view(blocked: Blocked) -> View:
    """Why the user cannot create issues yet, with the button that fixes it where one can."""
    site = escape_mrkdwn(blocked.site) if blocked.site else "your Jira site"
    if blocked.reason in (BlockedReason.NOT_LINKED, BlockedReason.NEEDS_RECONNECT) and blocked.connect_url:
        reconnect = blocked.reason == BlockedReason.NEEDS_RECONNECT
        intro = (RECONNECT_INTRO if reconnect else NOT_LINKED_INTRO).format(site=site)
        return linking_views.build_authorize_modal(
            TITLE, intro, blocked.connect_url,
            button_text="Reconnect to Jira" if reconnect else "Connect to Jira")
    if blocked.reason == BlockedReason.CLOUD_NOT_CONFIGURED:
        return linking_views.build_info_modal(TITLE, linking_views.CLOUD_NOT_CONFIGURED)
    return linking_views.build_info_modal(TITLE, linking_views.NOT_INSTALLED)


def build_step_view(step: Step, current: Mapping[str, Any] | None = None) -> View:
    """The view for what the service says comes next. With ``current`` (a form being changed), a
    problem keeps the form and is shown on top of it, so nothing typed is lost."""
    if isinstance(step, ShowForm):
        return build_issue_form(step.data, step.texts, step.state)
    if isinstance(step, ShowDuplicate):
        return build_duplicate_view(step.links, step.state)
    if isinstance(step, ShowBlocked):
        if current is not None and step.blocked.connect_url:
            reason = (FailureReason.NOT_LINKED if step.blocked.reason == BlockedReason.NOT_LINKED
                      else FailureReason.RECONNECT)
            outcome = CreateOutcome(OutcomeStatus.FAILED, reason=reason, connect_url=step.blocked.connect_url)
            return build_form_with_notice(current, failure_notice(outcome, project=""))
        return build_blocked_view(step.blocked)
    assert isinstance(step, ShowJiraDown)
    if current is not None:
        return build_form_with_notice(current, Notice(JIRA_DOWN_RELOADING))
    return build_error_view(JIRA_DOWN_OPENING)


def build_duplicate_view(links: Sequence[IssueLinkRecord], state: ModalState) -> View:
    """The message's existing issues, asking before creating another."""
    shown = list(links)[-SHOWN_LINKS:]
    lines = [f"• *{mrkdwn_link(link.issue_url, link.issue_key)}* {escape_mrkdwn(link.summary or '')} — "
             f"{'linked' if link.added else 'created'} by <@{link.created_by}> {_when(link.created_at)}"
             for link in shown]
    blocks = [
        section(ALREADY_LINKED_ONE if len(links) == 1 else ALREADY_LINKED_MANY),
        section(clip("\n".join(lines), 3000)),
        section(CREATE_ANOTHER_QUESTION),
        # A button, not the submit: its click is answered by updating the view in order (loading, then
        # the form), where a submission's `response_action` could land after the form and hide it.
        actions(button("Create another", ACTION_CREATE_ANOTHER, value="create_another", style="primary")),
    ]
    return modal(TITLE, blocks, callback_id=VIEW_CREATE_ANOTHER, close="Cancel",
                 private_metadata=encode_metadata(state))


def build_issue_form(data: FormData, texts: FormTexts, state: ModalState,
                     notice: Notice | None = None) -> View:
    """The form: project, issue type, summary, description and one input per further required field."""
    project, issue_type = data.project, data.issue_type
    ready = project is not None and issue_type is not None
    specs, too_large = _fitting(data.plan.inputs if ready else (), state.for_form(
        project.key if project else None, None, issue_type.id if issue_type else None, ()))
    form_state = state.for_form(
        project.key if project else None, project.id if project else None,
        issue_type.id if issue_type else None, tuple((s.field_id, s.kind.value) for s in specs))
    blocks: list[Block] = _notice_blocks(notice) if notice else []
    blocks.append(_project_input(project))
    if project is None or issue_type is None:
        unavailable = data.unavailable_project
        blocks.append(context(PROJECT_UNAVAILABLE.format(project=escape_mrkdwn(unavailable)) if unavailable
                              else CHOOSE_PROJECT))
    else:
        blocks.append(_issue_type_input(project, data.issue_types, issue_type))
    blocks.append(_summary_input(texts.summary))
    blocks.append(_description_input(texts.description, required=data.plan.description_required and ready,
                                     truncated=texts.truncated))
    blocks += [_field_input(spec, form_state) for spec in specs]
    unrenderable = [*data.plan.unrenderable, *(spec.name for spec in too_large)]
    if ready and unrenderable:
        assert project is not None and issue_type is not None
        url = jira_create_url(CreateLink(data.site_url, project.id, issue_type.id, texts.summary,
                                         texts.description))
        names = ", ".join(escape_mrkdwn(name) for name in unrenderable)
        blocks.append(section(clip(UNRENDERABLE.format(names=names), 3000),
                              accessory=button("Create in Jira", ACTION_FINISH_IN_JIRA, url=url)))
    blocks.append(context(CREATING_AS.format(who=escape_mrkdwn(data.jira_user),
                                             site=escape_mrkdwn(data.site_host))))
    return modal(TITLE, blocks, callback_id=ids.VIEW_CREATE_ISSUE, submit="Create", close="Cancel",
                 private_metadata=encode_metadata(form_state))


def _fitting(specs: Sequence[InputSpec], state: ModalState) -> tuple[list[InputSpec], list[InputSpec]]:
    """The inputs that fit in a view (Slack refuses views over 250 kB), and those that do not."""
    fitting: list[InputSpec] = []
    size = 0
    for index, spec in enumerate(specs):
        size += len(json.dumps(_field_input(spec, state), ensure_ascii=False).encode("utf-8"))
        if size > FIELDS_BUDGET:
            return fitting, list(specs[index:])
        fitting.append(spec)
    return fitting, []


def build_form_with_notice(view: Mapping[str, Any], notice: Notice) -> View:
    """The submitted (or current) form again, as the user left it, with ``notice`` on top."""
    values = (view.get("state") or {}).get("values") or {}
    kept = [_with_value(block, values) for block in view.get("blocks") or []
            if not str(block.get("block_id", "")).startswith(BLOCK_NOTICE)]
    rebuilt: View = {"type": "modal", "title": view.get("title") or plain(TITLE),
                     "blocks": _notice_blocks(notice) + kept}
    for key in ("submit", "close", "callback_id", "private_metadata"):
        if view.get(key):
            rebuilt[key] = view[key]
    return rebuilt


def build_creating_view() -> View:
    return modal(TITLE, [section(CREATING_TEXT), context(CREATING_HINT)], close="Close")


def build_created_view(issue: IssueCreated) -> View:
    blocks = [
        section(f"✅ Created *{mrkdwn_link(issue.url, issue.key)}*: {escape_mrkdwn(issue.summary)}"),
        context(f"{escape_mrkdwn(issue.issue_type)} in {_project_of(issue)}"),
        actions(button("Open in Jira", ids.ACTION_OPEN_IN_JIRA, url=issue.url, style="primary")),
    ]
    return modal(RESULT_TITLE, blocks, callback_id=VIEW_CREATE_RESULT, close="Done")


def submission_ack(outcome: CreateOutcome, view: Mapping[str, Any]) -> dict[str, Any]:
    """What to answer a view submission with: the result, field errors on their inputs, or the form
    again with the problem on top."""
    if outcome.status == OutcomeStatus.CREATED and outcome.issue is not None:
        return {"response_action": "update", "view": build_created_view(outcome.issue)}
    if outcome.status == OutcomeStatus.PENDING:
        return {"response_action": "update", "view": build_creating_view()}
    state = decode_metadata(view.get("private_metadata"))
    if outcome.status == OutcomeStatus.INVALID and not outcome.messages:
        mapped, unmapped = error_blocks(outcome.field_errors, state)
        if mapped and not unmapped:
            return {"response_action": "errors", "errors": mapped}
    return {"response_action": "update", "view": result_view(outcome, view)}


def result_view(outcome: CreateOutcome, view: Mapping[str, Any]) -> View:
    """The view once a create is over (after "Creating…" was shown): the result, or the form again."""
    if outcome.status == OutcomeStatus.CREATED and outcome.issue is not None:
        return build_created_view(outcome.issue)
    if outcome.status == OutcomeStatus.PENDING:
        return build_creating_view()
    values = (view.get("state") or {}).get("values") or {}
    project = _selected_option(values, BLOCK_PROJECT, ACTION_PROJECT)
    project_name = _project_name(project) if project else "this project"
    return build_form_with_notice(view, failure_notice(outcome, project=project_name,
                                                       labels=field_labels(view)))


# ---------------------------------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------------------------------


def build_thread_reply(issue: IssueCreated, user_id: str, card: IssueSnapshot | None = None, *,
                       full: bool = True) -> Message:
    """The reply in the message's thread: the issue card as the creator read it after the create (its
    key only when it has a security level and the workspace keeps those to their key: ``full`` off), or,
    when that read failed, the issue as a link with its summary, type and creator."""
    site_url = issue.url.rsplit("/browse/", 1)[0]
    if card is not None and not full:
        blocks = build_restricted_card(card.key, site_url=site_url)
        blocks.append(context(f"Created by <@{user_id}>"))
        return {"text": f"<@{user_id}> created {issue.key}", "blocks": blocks}
    text = f"<@{user_id}> created {issue.key}: {escape_mrkdwn(issue.summary)}"
    if card is not None:
        blocks = build_issue_card(card, site_url=site_url)
        blocks.insert(-1, context(f"Created by <@{user_id}>"))
        return {"text": text, "blocks": blocks}
    return {"text": text, "blocks": [
        section(f"*{mrkdwn_link(issue.url, issue.key)}* {escape_mrkdwn(issue.summary)}",
                accessory=button("Open in Jira", ids.ACTION_OPEN_IN_JIRA, url=issue.url)),
        context(f"{escape_mrkdwn(issue.issue_type)} in {_project_of(issue)} · "
                f"created by <@{user_id}>"),
    ]}


def build_created_notice(issue: IssueCreated, state: ModalState) -> Message:
    """The link told to the user alone: when the bot cannot post in the thread, or for `/jira create`."""
    link = f"*{mrkdwn_link(issue.url, issue.key)}* {escape_mrkdwn(issue.summary)}"
    if state.from_message:
        text = (f"I created {link} from your message in <#{state.channel_id}>, but I can't post in that "
                "channel. Invite me with `/invite @Jira` to have links posted in the thread.")
    else:
        text = f"I created {link}."
    where = f"{escape_mrkdwn(issue.issue_type)} in {_project_of(issue)}"
    return {"text": text, "blocks": [section(text), context(where)]}


def build_failed_message(notice: Notice) -> Message:
    """A create that failed after the modal was closed, told by DM."""
    text = FAILED_DM.format(reason=notice.text)
    blocks: list[Block] = [section(clip(text, 3000))]
    if notice.buttons:
        blocks.append(actions(*(button(b.label, b.action_id, url=b.url) for b in notice.buttons)))
    return {"text": text, "blocks": blocks}


def project_options(projects: Iterable[Project]) -> list[dict[str, Any]]:
    return [option(f"{p.name} ({p.key})", p.key) for p in list(projects)[:100]]


def user_options(users: Iterable[JiraUser]) -> list[dict[str, Any]]:
    options = []
    for user in list(users)[:100]:
        label = user.display_name or user.account_id
        if user.email:
            label = f"{label} ({user.email})"
        options.append(option(label, user.account_id))
    return options


# ---------------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------------


def issue_type_block_id(project_key: str | None) -> str:
    """Per project, so that Slack does not keep another project's issue type selected."""
    return f"{BLOCK_ISSUE_TYPE}.{project_key or ''}"


def field_block_id(field_id: str, state: ModalState) -> str:
    """Per project and issue type, so that Slack does not keep values meant for another form."""
    return f"{BLOCK_FIELD}.{state.project_key}.{state.issue_type_id}.{field_id}"


def field_action_id(field_id: str, kind: str) -> str:
    if kind in (FieldKind.USER.value, FieldKind.USERS.value):
        return f"{ACTION_USER}.{field_id}"
    return f"{ACTION_FIELD}.{field_id}"


def _input(block_id: str, label: str, element: dict[str, Any], *, optional: bool = False,
           hint: str | None = None, dispatch: bool = False) -> Block:
    block: Block = {"type": "input", "block_id": block_id, "label": plain(clip(label, 2000)),
                    "element": element}
    if optional:
        block["optional"] = True
    if hint:
        block["hint"] = plain(clip(hint, 2000))
    if dispatch:
        block["dispatch_action"] = True
    return block


def _project_input(project: Project | None) -> Block:
    element: dict[str, Any] = {"type": "external_select", "action_id": ACTION_PROJECT,
                               "placeholder": plain("Search your projects"), "min_query_length": 0}
    if project is not None:
        element["initial_option"] = option(f"{project.name} ({project.key})", project.key)
    return _input(BLOCK_PROJECT, "Project", element, dispatch=True)


def _issue_type_input(project: Project, types: Sequence[IssueType], chosen: IssueType) -> Block:
    options = [option(t.name, t.id) for t in list(types)[:100]]
    element = {"type": "static_select", "action_id": ACTION_ISSUE_TYPE, "options": options,
               "initial_option": option(chosen.name, chosen.id)}
    return _input(issue_type_block_id(project.key), "Issue type", element, dispatch=True)


def _summary_input(summary: str) -> Block:
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": ACTION_SUMMARY,
                               "max_length": SUMMARY_MAX, "placeholder": plain("What needs doing, in a line")}
    if summary:
        element["initial_value"] = summary[:SUMMARY_MAX]
    return _input(BLOCK_SUMMARY, "Summary", element)


def _description_input(description: str, *, required: bool, truncated: bool) -> Block:
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": ACTION_DESCRIPTION, "multiline": True,
                               "max_length": INPUT_MAX}
    if description:
        element["initial_value"] = description[:INPUT_MAX]
    return _input(BLOCK_DESCRIPTION, "Description", element, optional=not required,
                  hint=LONG_MESSAGE_HINT if truncated else None)


def field_input(spec: InputSpec, state: ModalState) -> Block:
    """The input of one Jira field, as every form renders it (create form, transition screens)."""
    return _field_input(spec, state)


def _field_input(spec: InputSpec, state: ModalState) -> Block:
    action_id = field_action_id(spec.field_id, spec.kind.value)
    kind = spec.kind
    hint = None
    element: dict[str, Any]
    if kind in (FieldKind.SELECT, FieldKind.CASCADE):
        element = {"type": "static_select", "options": [option(c.label, c.value) for c in spec.choices]}
    elif kind == FieldKind.MULTI_SELECT:
        element = {"type": "multi_static_select", "options": [option(c.label, c.value) for c in spec.choices]}
    elif kind == FieldKind.NUMBER:
        element = {"type": "number_input", "is_decimal_allowed": True}
    elif kind == FieldKind.DATE:
        element = {"type": "datepicker"}
    elif kind == FieldKind.DATETIME:
        element = {"type": "datetimepicker"}
    elif kind == FieldKind.URL:
        element = {"type": "url_text_input"}
    elif kind == FieldKind.RICH_TEXT:
        element = {"type": "plain_text_input", "multiline": True, "max_length": INPUT_MAX}
    elif kind == FieldKind.LABELS:
        element = {"type": "plain_text_input", "max_length": INPUT_MAX}
        hint = LABELS_HINT
    elif kind == FieldKind.USER:
        element = {"type": "external_select", "min_query_length": 1, "placeholder": plain(USER_PLACEHOLDER)}
    elif kind == FieldKind.USERS:
        element = {"type": "multi_external_select", "min_query_length": 1,
                   "placeholder": plain(USER_PLACEHOLDER)}
    else:
        element = {"type": "plain_text_input", "max_length": TEXT_FIELD_MAX}
    element["action_id"] = action_id
    return _input(field_block_id(spec.field_id, state), spec.name, element, hint=hint)


_INITIAL_KEYS = ("initial_value", "initial_option", "initial_options", "initial_date", "initial_date_time",
                 "initial_user", "initial_users")
_TEXT_ELEMENTS = {"plain_text_input", "url_text_input", "email_text_input", "number_input"}


def _with_value(block: Block, values: Mapping[str, Any]) -> Block:
    """An input block whose element starts with what the user had entered (when Slack sent it)."""
    if block.get("type") != "input" or not isinstance(block.get("element"), dict):
        return dict(block)
    element = dict(block["element"])
    value = (values.get(str(block.get("block_id"))) or {}).get(str(element.get("action_id")))
    if not isinstance(value, Mapping):
        return {**block, "element": element}
    for key in _INITIAL_KEYS:
        element.pop(key, None)
    kind = element.get("type")
    found: Any
    if kind in _TEXT_ELEMENTS:
        found, key = value.get("value"), "initial_value"
    elif kind in ("static_select", "external_select"):
        found, key = value.get("selected_option"), "initial_option"
    elif kind in ("multi_static_select", "multi_external_select"):
        found, key = value.get("selected_options"), "initial_options"
    elif kind == "datepicker":
        found, key = value.get("selected_date"), "initial_date"
    elif kind == "datetimepicker":
        found, key = value.get("selected_date_time"), "initial_date_time"
    else:
        found, key = None, ""
    if found not in (None, "", []):
        element[key] = found
    return {**block, "element": element}


# ---------------------------------------------------------------------------------------------------
# Reading the form back
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubmittedForm:
    """A submitted form: what it holds, or the problems to show on its inputs."""

    state: ModalState
    input: IssueInput | None
    errors: dict[str, str] = field(default_factory=dict)


def read_submission(view: Mapping[str, Any]) -> SubmittedForm:
    state = decode_metadata(view.get("private_metadata"))
    values = (view.get("state") or {}).get("values") or {}
    errors: dict[str, str] = {}
    project = _selected_option(values, BLOCK_PROJECT, ACTION_PROJECT)
    issue_type = _selected_option(values, issue_type_block_id(state.project_key), ACTION_ISSUE_TYPE)
    if project is None:
        errors[BLOCK_PROJECT] = CHOOSE_PROJECT_ERROR
    elif project.get("value") != state.project_key or issue_type is None or state.issue_type_id is None:
        errors[BLOCK_PROJECT] = FORM_NOT_READY
    summary = _text(values, BLOCK_SUMMARY, ACTION_SUMMARY).strip()
    if not summary:
        errors[BLOCK_SUMMARY] = SUMMARY_REQUIRED
    if errors:
        return SubmittedForm(state, None, errors)
    assert project is not None and issue_type is not None
    fields = tuple(
        FieldInput(field_id, kind,
                   _value(values, field_block_id(field_id, state), field_action_id(field_id, kind)))
        for field_id, kind in state.fields
    )
    return SubmittedForm(state, IssueInput(
        project_key=str(project["value"]),
        project_name=_project_name(project),
        issue_type_id=str(issue_type.get("value")),
        issue_type_name=_option_text(issue_type),
        summary=summary,
        description=_text(values, BLOCK_DESCRIPTION, ACTION_DESCRIPTION),
        fields=fields,
    ))


def read_texts(view: Mapping[str, Any]) -> FormTexts:
    """The summary and description in a form now (as typed, or as first filled in)."""
    state = decode_metadata(view.get("private_metadata"))
    values = (view.get("state") or {}).get("values") or {}
    summary = _current_text(view, values, BLOCK_SUMMARY, ACTION_SUMMARY)
    description = _current_text(view, values, BLOCK_DESCRIPTION, ACTION_DESCRIPTION)
    unchanged = state.description_digest == description_digest(description)
    return FormTexts(summary, description, truncated=state.truncated and unchanged)


def selected_value(action: Mapping[str, Any]) -> str | None:
    """The value a select action chose (None when cleared)."""
    selected = action.get("selected_option")
    return str(selected["value"]) if isinstance(selected, Mapping) and selected.get("value") else None


def error_blocks(errors: Mapping[str, str], state: ModalState) -> tuple[dict[str, str], dict[str, str]]:
    """Jira's field errors keyed by the block that shows each field, and those no input shows."""
    blocks = {"project": BLOCK_PROJECT, "issuetype": issue_type_block_id(state.project_key),
              "summary": BLOCK_SUMMARY, "description": BLOCK_DESCRIPTION}
    blocks.update({field_id: field_block_id(field_id, state) for field_id, _ in state.fields})
    mapped: dict[str, str] = {}
    unmapped: dict[str, str] = {}
    for field_id, message in errors.items():
        if field_id in blocks:
            mapped[blocks[field_id]] = clip(message, ERROR_MAX)
        else:
            unmapped[field_id] = message
    return mapped, unmapped


def field_labels(view: Mapping[str, Any]) -> dict[str, str]:
    """Field ids → the labels the form shows them with (for naming them in a notice)."""
    state = decode_metadata(view.get("private_metadata"))
    by_block = {str(b.get("block_id")): str((b.get("label") or {}).get("text") or "")
                for b in view.get("blocks") or [] if b.get("type") == "input"}
    labels = {"project": "Project", "issuetype": "Issue type", "summary": "Summary",
              "description": "Description"}
    for field_id, _ in state.fields:
        label = by_block.get(field_block_id(field_id, state))
        if label:
            labels[field_id] = label
    return labels


def _selected_option(values: Mapping[str, Any], block_id: str, action_id: str) -> dict[str, Any] | None:
    selected = _value(values, block_id, action_id).get("selected_option")
    return selected if isinstance(selected, dict) and selected.get("value") else None


def _value(values: Mapping[str, Any], block_id: str, action_id: str) -> Mapping[str, Any]:
    found = (values.get(block_id) or {}).get(action_id)
    return found if isinstance(found, Mapping) else {}


def _text(values: Mapping[str, Any], block_id: str, action_id: str) -> str:
    return str(_value(values, block_id, action_id).get("value") or "")


def _current_text(view: Mapping[str, Any], values: Mapping[str, Any], block_id: str, action_id: str) -> str:
    entry = (values.get(block_id) or {}).get(action_id)
    if isinstance(entry, Mapping) and "value" in entry:
        return str(entry.get("value") or "")
    for block in view.get("blocks") or []:
        if block.get("block_id") == block_id:
            return str((block.get("element") or {}).get("initial_value") or "")
    return ""


def _option_text(selected: Mapping[str, Any]) -> str:
    return str((selected.get("text") or {}).get("text") or selected.get("value") or "")


def _project_name(selected: Mapping[str, Any]) -> str:
    text = _option_text(selected)
    suffix = f" ({selected.get('value')})"
    return text[: -len(suffix)] if text.endswith(suffix) else text


def _project_of(issue: IssueCreated) -> str:
    return escape_mrkdwn(issue.project_name or issue.project_key)


def _when(value: Any) -> str:
    return f"<!date^{int(value.timestamp())}^{{date_short_pretty}}|{value:%Y-%m-%d}>"
