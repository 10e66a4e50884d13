"""What the issue card's actions show: the Transition options, the Comment and Transition modals, the
private notices after an action (plain words for every refusal), shared cards and unfurls.

Pure functions over the card service's results (:mod:`bot.services.issue_cards`, :mod:`bot.services.unfurls`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from bot.jira.issues import Transition
from bot.services.create_meta import FieldPlan
from bot.services.issue_cards import ActionDone, ActionKind, CardView, Refusal, Refused, TransitionForm
from bot.services.unfurls import UnfurlPlan
from bot.slack import ids
from bot.slack.card_metadata import CardModal, encode_card_modal
from bot.slack.metadata import ModalState
from bot.slack.views.blocks import (
    Block,
    actions,
    button,
    clip,
    context,
    escape,
    modal,
    option,
    plain,
    section,
)
from bot.slack.views.create_issue import field_input
from bot.slack.views.issue_card import (
    RESTRICTED,
    build_issue_card,
    build_restricted_card,
    card_text,
    issue_url,
)
from bot.slack.views.linking import NOT_INSTALLED

Message = dict[str, Any]
View = dict[str, Any]

#: Option values of the Transition select that are not transitions.
CHOICE_CONNECT = "!connect"
CHOICE_UNAVAILABLE = "!unavailable"
#: Suffix of a transition option whose screen asks for fields first.
NEEDS_FORM = "+form"
COMMENT_MAX = 3000

NOT_LINKED = "To act on Jira issues from Slack, first connect your Jira account: run `/jira connect`."
RECONNECT = "Your Jira link needs a reconnect: run `/jira connect` to link your account again."
NOT_FOUND = "Jira says *{key}* doesn't exist, or you don't have permission to see it."
FORBIDDEN = "Jira didn't let you do that on *{key}*: your Jira account doesn't have permission."
REJECTED = "Jira didn't accept that on *{key}*:"
GONE = "That transition isn't available on *{key}* any more (someone may have moved the issue already)."
RATE_LIMITED = "Jira is busy and asked me to slow down. Please try again{when}."
UNREACHABLE = "I couldn't reach Jira just now. Please try again in a moment."
UNCERTAIN = (
    "Jira didn't answer in time, so I can't tell whether that went through. Check *{key}* in Jira "
    "before trying again."
)
IN_PROGRESS = "That's already on its way to Jira."
INTERNAL = "Sorry, something went wrong on my side. Please try again."
DONE_TEXT = {
    ActionKind.ASSIGN: "You're now the assignee of *{key}*.",
    ActionKind.WATCH: "You're now watching *{key}*.",
    ActionKind.COMMENT: "Your comment was added to *{key}*.",
    ActionKind.TRANSITION: "*{key}* is now *{detail}*.",
}
REPEATED_COMMENT = "Your comment was already added to *{key}*."
UNAVAILABLE_OPTION = "Couldn't load transitions: try again"
CONNECT_OPTION = "Connect your Jira account first"
COMMENT_LABEL = "Comment"
COMMENT_EMPTY = "Write a comment."
TRANSITION_INTRO = "Jira needs a few more details to move *{key}* to *{to}*."
TRANSITION_IN_JIRA = (
    "Jira also needs *{names}*, which can't be filled in here. Finish the transition in Jira."
)
LOADING = "Getting the transition's fields from Jira…"
SHARED_BY = "Shared by <@{user}>"
YOUR_COMMENT = "Your comment, so you can use it again:"
UNFURL_AUTH = "Connect your Jira account to see previews of Jira links here."
CANT_SHARE = (
    "I can't post in this conversation. Invite me with `/invite @Jira`, or share the issue's link instead."
)


# ---------------------------------------------------------------------------------------------------
# Cards
# ---------------------------------------------------------------------------------------------------


def build_private_card(view: CardView) -> Message:
    """`/jira show`: the card for one reader, with "Share in channel"."""
    blocks = build_issue_card(
        view.issue, site_url=view.site_url, share=True, viewer_watching=view.issue.watching
    )
    return {"response_type": "ephemeral", "text": card_text(view.issue), "blocks": blocks}


def build_shared_card(view: CardView, user_id: str) -> Message:
    """The card someone shared in a channel: for everyone, saying who shared it."""
    return _channel_card(view, SHARED_BY.format(user=user_id))


def _channel_card(view: CardView, note: str | None) -> Message:
    """A card others see: in full, or key and "Restricted issue" where the workspace says so."""
    if not view.channel_full:
        blocks = build_restricted_card(view.issue.key, site_url=view.site_url)
        if note:
            blocks.append(context(note))
        return {"text": f"{view.issue.key}: {RESTRICTED}", "blocks": blocks}
    blocks = build_issue_card(view.issue, site_url=view.site_url)
    if note:
        blocks.insert(-1, context(note))
    return {"text": card_text(view.issue), "blocks": blocks}


def build_updated_card(view: CardView, note: str | None, *, private: bool) -> Message:
    """The card after an action, keeping the line saying who created or shared it."""
    if not private:
        return _channel_card(view, note)
    blocks = build_issue_card(
        view.issue, site_url=view.site_url, share=True, viewer_watching=view.issue.watching
    )
    return {"response_type": "ephemeral", "text": card_text(view.issue), "blocks": blocks}


# ---------------------------------------------------------------------------------------------------
# The Transition select
# ---------------------------------------------------------------------------------------------------


def transition_options(result: list[Transition] | Refused) -> list[dict[str, Any]]:
    """The options of the Transition select: what Jira offers the person who opened it."""
    if isinstance(result, Refused):
        if result.reason in (Refusal.NOT_LINKED, Refusal.RECONNECT, Refusal.NOT_INSTALLED):
            return [option(CONNECT_OPTION, CHOICE_CONNECT)]
        return [option(UNAVAILABLE_OPTION, CHOICE_UNAVAILABLE)]
    chosen: list[dict[str, Any]] = []
    for transition in result[:100]:
        label = transition.name
        if transition.to_status and transition.to_status.lower() != transition.name.lower():
            label = f"{transition.name} → {transition.to_status}"
        value = transition.id + (NEEDS_FORM if transition.required_fields else "")
        chosen.append(option(label, value))
    return chosen


def read_transition_choice(value: str | None) -> tuple[str, bool] | None:
    """(transition id, whether it needs its form) from an option value; None for the other options."""
    if not value or value.startswith("!"):
        return None
    if value.endswith(NEEDS_FORM):
        return value[: -len(NEEDS_FORM)], True
    return value, False


# ---------------------------------------------------------------------------------------------------
# Modals
# ---------------------------------------------------------------------------------------------------


def build_comment_modal(state: CardModal) -> View:
    element = {
        "type": "plain_text_input",
        "action_id": ids.ACTION_CARD_COMMENT_TEXT,
        "multiline": True,
        "max_length": COMMENT_MAX,
        "focus_on_load": True,
    }
    block = {
        "type": "input",
        "block_id": ids.BLOCK_CARD_COMMENT,
        "label": plain(COMMENT_LABEL),
        "element": element,
    }
    return modal(
        f"Comment on {state.key}",
        [block],
        callback_id=ids.VIEW_CARD_COMMENT,
        submit="Comment",
        close="Cancel",
        private_metadata=encode_card_modal(state),
    )


def read_comment(view: Mapping[str, Any]) -> str:
    values = (view.get("state") or {}).get("values") or {}
    entered = (values.get(ids.BLOCK_CARD_COMMENT) or {}).get(ids.ACTION_CARD_COMMENT_TEXT) or {}
    return str(entered.get("value") or "")


def build_loading_modal(key: str) -> View:
    return modal(f"Transition {key}", [section(LOADING)], close="Cancel")


def transition_form_state(state: CardModal, transition_id: str) -> ModalState:
    """The field inputs' block IDs are made per issue and transition (Slack keeps no stale values)."""
    return ModalState(project_key=state.key, issue_type_id=transition_id)


def build_transition_modal(form: TransitionForm, state: CardModal) -> View:
    """The transition's required fields, rendered as the create form renders fields."""
    transition = form.transition
    plan: FieldPlan = form.plan
    kinds = tuple((spec.field_id, spec.kind.value) for spec in plan.inputs)
    state = state.with_transition(transition.id, transition.to_status or transition.name, kinds)
    form_state = transition_form_state(state, transition.id)
    blocks: list[Block] = [
        section(
            TRANSITION_INTRO.format(key=escape(form.key), to=escape(transition.to_status or transition.name))
        )
    ]
    blocks += [field_input(spec, form_state) for spec in plan.inputs]
    title = clip(transition.name, 24)
    url = issue_url(form.site_url, form.key)
    if plan.unrenderable:
        names = ", ".join(escape(n) for n in plan.unrenderable)
        blocks.append(
            section(
                clip(TRANSITION_IN_JIRA.format(names=names), 3000),
                accessory=button("Open in Jira", ids.ACTION_CARD_OPEN, url=url),
            )
        )
        return modal(
            title,
            blocks,
            callback_id=ids.VIEW_CARD_TRANSITION,
            close="Close",
            private_metadata=encode_card_modal(state),
        )
    return modal(
        title,
        blocks,
        callback_id=ids.VIEW_CARD_TRANSITION,
        submit="Move",
        close="Cancel",
        private_metadata=encode_card_modal(state),
    )


def build_result_modal(key: str, text: str) -> View:
    return modal(f"Transition {key}", [section(text)], close="Close")


def field_errors_for_blocks(errors: Mapping[str, str], state: CardModal) -> tuple[dict[str, str], list[str]]:
    """Jira's field errors on the modal's inputs, and those that have no input."""
    from bot.slack.views.create_issue import field_block_id

    form_state = transition_form_state(state, state.transition_id or "")
    shown = {field_id for field_id, _ in state.fields}
    mapped = {field_block_id(f, form_state): clip(str(m), 150) for f, m in errors.items() if f in shown}
    rest = [f"{f}: {m}" for f, m in errors.items() if f not in shown]
    return mapped, rest


# ---------------------------------------------------------------------------------------------------
# Telling the clicker
# ---------------------------------------------------------------------------------------------------


def notice_text(result: ActionDone | Refused, key: str | None = None) -> str:
    """What happened, in plain words."""
    key = escape(result.key or key or "the issue")
    if isinstance(result, ActionDone):
        if result.repeated and result.kind == ActionKind.COMMENT:
            return REPEATED_COMMENT.format(key=key)
        return DONE_TEXT[result.kind].format(key=key, detail=escape(result.detail or "moved"))
    reason = result.reason
    if reason == Refusal.NOT_LINKED:
        return NOT_LINKED
    if reason == Refusal.RECONNECT:
        return RECONNECT
    if reason == Refusal.NOT_INSTALLED:
        return NOT_INSTALLED
    if reason == Refusal.NOT_FOUND:
        return NOT_FOUND.format(key=key)
    if reason == Refusal.FORBIDDEN:
        return _with_messages(FORBIDDEN.format(key=key), result.messages)
    if reason == Refusal.REJECTED:
        details = [*result.messages, *(f"{f}: {m}" for f, m in result.field_errors.items())]
        return _with_messages(REJECTED.format(key=key), details or ["it was refused."])
    if reason == Refusal.GONE:
        return GONE.format(key=key)
    if reason == Refusal.RATE_LIMITED:
        when = f" in {int(result.retry_after) + 1} seconds" if result.retry_after else " in a minute"
        return RATE_LIMITED.format(when=when)
    if reason == Refusal.UNREACHABLE:
        return UNREACHABLE
    if reason == Refusal.UNCERTAIN:
        return UNCERTAIN.format(key=key)
    if reason == Refusal.IN_PROGRESS:
        return IN_PROGRESS
    return INTERNAL


def build_notice(
    result: ActionDone | Refused, key: str | None = None, *, comment: str | None = None
) -> Message:
    """The private message after an action (with a connect button when linking is the fix); a comment
    that did not go through is given back, so that nothing typed is lost."""
    text = notice_text(result, key)
    blocks: list[Block] = [section(clip(text, 3000))]
    if comment and isinstance(result, Refused) and result.reason != Refusal.IN_PROGRESS:
        blocks.append(section(clip(YOUR_COMMENT + "\n" + _quoted(comment), 3000)))
    if isinstance(result, Refused) and result.connect_url:
        blocks.append(
            actions(
                button("Connect to Jira", ids.ACTION_CONNECT_LINK, url=result.connect_url, style="primary")
            )
        )
    return {
        "response_type": "ephemeral",
        "replace_original": False,
        "text": clip(text, 3000),
        "blocks": blocks,
    }


def keeps_comment_open(result: Refused) -> bool:
    """Refusals worth answering on the comment form itself (the person can fix or retry at once)."""
    return result.reason in {
        Refusal.REJECTED,
        Refusal.FORBIDDEN,
        Refusal.NOT_FOUND,
        Refusal.RATE_LIMITED,
        Refusal.UNREACHABLE,
        Refusal.NOT_LINKED,
        Refusal.RECONNECT,
        Refusal.NOT_INSTALLED,
    }


def input_error(result: Refused) -> str:
    """A refusal as an input's error (Slack shows at most about 150 characters there)."""
    return clip(notice_text(result).replace("*", "").split("\n")[0], 150)


def _quoted(text: str) -> str:
    return "\n".join(f"> {escape(line)}" for line in text.splitlines() or [""])


def _with_messages(lead: str, messages: Iterable[str]) -> str:
    lines = [escape(clip(str(m), 300)) for m in messages if str(m).strip()][:5]
    return lead if not lines else lead + "\n" + "\n".join(f"• {line}" for line in lines)


# ---------------------------------------------------------------------------------------------------
# Unfurls
# ---------------------------------------------------------------------------------------------------


def build_unfurls(plan: UnfurlPlan) -> dict[str, dict[str, Any]]:
    """`chat.unfurl`'s `unfurls`: one card per link (key and "Restricted issue" only, where so)."""
    unfurls: dict[str, dict[str, Any]] = {}
    for item in plan.cards:
        if item.restricted_only:
            blocks = build_restricted_card(item.key, site_url=plan.site_url)
        else:
            blocks = build_issue_card(item.issue, site_url=plan.site_url)
        unfurls[item.url] = {"blocks": blocks}
    return unfurls
