"""Block Kit for channel subscriptions: the subscribe modal, the channel's list, the admin's overview."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bot.slack import ids
from bot.slack.views.blocks import (
    actions,
    button,
    confirm_dialog,
    context,
    escape,
    header,
    modal,
    option,
    plain,
    section,
)
from storage.repositories.subscriptions import SubscriptionRecord

Message = dict[str, Any]

EVENT_LABELS = {
    "created": "Created",
    "transitioned": "Transitioned",
    "commented": "Commented",
    "assigned": "Assigned",
}
NOT_LINKED = (
    "Connect your Jira account first with `/jira connect`: a channel hears what its subscriber can see."
)
NOT_A_CHANNEL = (
    "Subscriptions are for channels: run `/jira subscribe` in the channel that should hear from Jira."
)
NO_SUBSCRIPTIONS = "This channel has no Jira subscriptions. Add one with `/jira subscribe`."
NOT_ALLOWED = "Only the person who made a subscription, or an admin, can remove it."
ALREADY_GONE = "That subscription was removed already."


def bot_not_in_channel(channel_id: str) -> str:
    return (
        f"I'm not a member of <#{channel_id}>, so I cannot post there. Invite me with "
        "`/invite @jirabot` in the channel (or mention me and choose *Invite*), then run "
        "`/jira subscribe` again."
    )


def build_subscribe_modal(channel_id: str) -> dict[str, Any]:
    checkbox_options = [option(label, value) for value, label in EVENT_LABELS.items()]
    blocks = [
        section(
            f"Jira events for <#{channel_id}>: the first event of an issue posts its card, later ones go "
            "in its thread. The channel sees only what you can see in Jira."
        ),
        {
            "type": "input",
            "block_id": ids.BLOCK_SUB_PROJECT,
            "label": plain("Project"),
            "element": {
                "type": "external_select",
                "action_id": ids.ACTION_SUB_PROJECT,
                "placeholder": plain("Choose a project"),
                "min_query_length": 0,
            },
        },
        {
            "type": "input",
            "block_id": ids.BLOCK_SUB_EVENTS,
            "label": plain("Events"),
            "element": {
                "type": "checkboxes",
                "action_id": ids.ACTION_SUB_EVENTS,
                "options": checkbox_options,
                "initial_options": checkbox_options,
            },
        },
        {
            "type": "input",
            "block_id": ids.BLOCK_SUB_JQL,
            "label": plain("Filter (JQL)"),
            "optional": True,
            "element": {
                "type": "plain_text_input",
                "action_id": ids.ACTION_SUB_JQL,
                "placeholder": plain("e.g. priority = High AND labels = customer"),
            },
            "hint": plain("Only issues that also match this JQL are posted."),
        },
    ]
    return modal(
        "Subscribe to Jira",
        blocks,
        callback_id=ids.VIEW_SUBSCRIBE,
        submit="Subscribe",
        close="Cancel",
        private_metadata=json.dumps({"channel": channel_id}),
    )


@dataclass(frozen=True)
class SubscribeForm:
    channel_id: str
    project_key: str
    events: tuple[str, ...]
    jql: str | None


def read_subscribe_form(view: dict[str, Any]) -> SubscribeForm:
    values = (view.get("state") or {}).get("values") or {}
    project = ((values.get(ids.BLOCK_SUB_PROJECT) or {}).get(ids.ACTION_SUB_PROJECT) or {}).get(
        "selected_option"
    )
    events = ((values.get(ids.BLOCK_SUB_EVENTS) or {}).get(ids.ACTION_SUB_EVENTS) or {}).get(
        "selected_options"
    )
    jql = ((values.get(ids.BLOCK_SUB_JQL) or {}).get(ids.ACTION_SUB_JQL) or {}).get("value")
    try:
        channel = str(json.loads(view.get("private_metadata") or "{}").get("channel") or "")
    except ValueError:
        channel = ""
    return SubscribeForm(
        channel_id=channel,
        project_key=str((project or {}).get("value") or ""),
        events=tuple(str(e.get("value")) for e in events or [] if isinstance(e, dict)),
        jql=(jql or "").strip() or None,
    )


def build_info_view(
    title: str, text: str, *, url: str | None = None, label: str | None = None
) -> dict[str, Any]:
    blocks = [section(text)]
    if url and label:
        blocks.append(actions(button(label, ids.ACTION_CONNECT_LINK, url=url, style="primary")))
    return modal(title, blocks, close="Close")


def build_subscribed_view(subscription: SubscriptionRecord, *, dc_setup_needed: bool) -> dict[str, Any]:
    text = f"<#{subscription.channel_id}> now hears {describe(subscription)}."
    if dc_setup_needed:
        text += (
            "\n\nA Jira administrator still has to add the bot's webhook in Jira: a workspace admin finds "
            "its URL and secret with `/jira admin status`."
        )
    return build_info_view("Subscribed", text)


def describe(subscription: SubscriptionRecord) -> str:
    events = ", ".join(EVENT_LABELS.get(e, e) for e in subscription.events).lower()
    text = f"*{escape(subscription.project_key)}* ({events})"
    if subscription.jql:
        text += f" matching `{escape(subscription.jql)}`"
    return text


def build_subscribed_notice(subscription: SubscriptionRecord) -> Message:
    text = f"<@{subscription.created_by}> subscribed this channel to Jira: {describe(subscription)}."
    return {"text": text, "blocks": [section(text)]}


def _subscription_block(subscription: SubscriptionRecord, *, with_channel: bool) -> dict[str, Any]:
    where = f"<#{subscription.channel_id}> · " if with_channel else ""
    state = ""
    if not subscription.active:
        state = (
            " · _inactive: I cannot post in this channel (invite me, then subscribe again)_"
            if subscription.inactive_reason == "channel_unreachable"
            else " · _inactive: its subscriber is no longer connected_"
        )
    return section(
        f"{where}{describe(subscription)}\nby <@{subscription.created_by}>{state}",
        accessory=button(
            "Remove",
            ids.ACTION_SUB_REMOVE,
            value=str(subscription.id),
            style="danger",
            confirm=confirm_dialog(
                "Remove subscription?",
                f"The channel stops hearing about {subscription.project_key}.",
                "Remove",
            ),
        ),
    )


def build_subscriptions_message(
    subscriptions: Iterable[SubscriptionRecord], note: str | None = None
) -> Message:
    items = list(subscriptions)
    if not items:
        text = NO_SUBSCRIPTIONS if note is None else f"{note}\n{NO_SUBSCRIPTIONS}"
        blocks = [section(text)]
        return {"response_type": "ephemeral", "replace_original": True, "text": text, "blocks": blocks}
    blocks: list[dict[str, Any]] = []
    if note:
        blocks.append(section(note))
    blocks.append(section(f"*Jira subscriptions of this channel* ({len(items)})"))
    blocks += [_subscription_block(s, with_channel=False) for s in items[:45]]
    text = f"{len(items)} Jira subscription(s) in this channel"
    return {
        "response_type": "ephemeral",
        "replace_original": True,
        "text": f"{note}\n{text}" if note else text,
        "blocks": blocks,
    }


def build_admin_subscriptions(subscriptions: Iterable[SubscriptionRecord]) -> list[dict[str, Any]]:
    """The App Home section an admin sees: every subscription of the workspace, each removable."""
    items = list(subscriptions)
    blocks: list[dict[str, Any]] = [header("Channel subscriptions")]
    if not items:
        return blocks + [context("No channel is subscribed yet: `/jira subscribe` in a channel.")]
    return blocks + [_subscription_block(s, with_channel=True) for s in items[:40]]
