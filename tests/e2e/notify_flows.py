"""Building blocks of the notification tests: subscribing through the modal, the Data Center webhook
setup an admin does by hand, and reading what a channel received."""

from __future__ import annotations

import re
from typing import Any

from bot.slack import ids
from tests.e2e.flows import ADMIN, DC_CONTEXT, World, last_ephemeral
from tests.emulators.slack_driver import SlackResult, state_value_option

WAIT = 20.0


def open_subscribe(world: World, user: str, channel: str) -> dict[str, Any]:
    before = {c.response["view"]["id"] for c in world.slack.calls_to("views.open") if c.ok}
    result = world.driver.slash_command(user, "subscribe", channel_id=channel)
    assert result.status_code == 200 and result.acked_in_time
    call = world.slack.wait_for(
        lambda: next(
            (
                c
                for c in world.slack.calls_to("views.open")
                if c.ok and c.response["view"]["id"] not in before
            ),
            None,
        ),
        timeout=WAIT,
    )
    return world.slack.view(call.response["view"]["id"])


def submit_subscribe(
    world: World,
    user: str,
    view: dict[str, Any],
    *,
    project: str = "ENG",
    events: list[str] | None = None,
    jql: str | None = None,
) -> SlackResult:
    values: dict[str, Any] = {
        ids.BLOCK_SUB_PROJECT: state_value_option(
            f"Engineering ({project})", project, type="external_select"
        ),
        ids.BLOCK_SUB_EVENTS: events or ["created", "transitioned", "commented", "assigned"],
    }
    if jql is not None:
        values[ids.BLOCK_SUB_JQL] = jql
    return world.driver.submit_view(user, view, values)


def subscribe(world: World, user: str, channel: str, **form: Any) -> SlackResult:
    """Subscribes `channel` and waits until the subscription is complete. On a busy machine the bot
    acks with "Subscribing…" and stores the subscription, registers its webhook and tells the channel
    after the ack: the notice in the channel is its last step, so it is what is waited for."""
    view = open_subscribe(world, user, channel)
    before = len(subscribed_notices(world, channel))
    result = submit_subscribe(world, user, view, **form)
    assert result.status_code == 200 and not result.problems, (result.text, result.problems)
    world.slack.wait_for(
        lambda: len(subscribed_notices(world, channel)) > before,
        timeout=WAIT,
        message=f"the subscription of {channel} announced",
    )
    return result


def subscribed_notices(world: World, channel: str) -> list[dict[str, Any]]:
    return [m for m in channel_posts(world, channel) if "subscribed this channel" in m["text"]]


def set_up_dc_webhook(world: World) -> tuple[str, str]:
    """What a Jira administrator does with what `/jira admin status` shows: enter the URL and secret."""
    world.driver.slash_command(ADMIN, "admin status")
    shown = last_ephemeral(world, ADMIN, "secret:")
    url = re.search(r"URL: `([^`]+)`", shown["text"]).group(1)  # type: ignore[union-attr]
    secret = re.search(r"secret: (\S+)", shown["text"]).group(1)  # type: ignore[union-attr]
    world.atlassian.add_dc_webhook(DC_CONTEXT, url, secret=secret)
    return url, secret


def channel_posts(world: World, channel: str) -> list[dict[str, Any]]:
    return [m for m in world.slack.messages if m["channel"] == channel]


def card_of(world: World, channel: str, key: str) -> dict[str, Any] | None:
    """The top-level message holding `key`'s card in `channel`."""
    for message in channel_posts(world, channel):
        if not message.get("thread_ts") and message["text"].startswith(f"{key}:"):
            return message
    return None


def wait_card(world: World, channel: str, key: str) -> dict[str, Any]:
    return world.slack.wait_for(
        lambda: card_of(world, channel, key), timeout=WAIT, message=f"the card of {key} in {channel}"
    )


def replies(world: World, channel: str, thread_ts: str) -> list[dict[str, Any]]:
    return [
        m for m in channel_posts(world, channel) if m.get("thread_ts") == thread_ts and m["ts"] != thread_ts
    ]


def wait_reply(world: World, channel: str, thread_ts: str, containing: str) -> dict[str, Any]:
    return world.slack.wait_for(
        lambda: next((m for m in replies(world, channel, thread_ts) if containing in m["text"]), None),
        timeout=WAIT,
        message=f"a reply containing {containing!r}",
    )


def card_status(message: dict[str, Any]) -> str:
    fields = next(b for b in message["blocks"] if b.get("fields"))["fields"]
    return str(fields[0]["text"])


def channel_hooks(world: World) -> list[Any]:
    """Cloud webhooks of channel subscriptions (filtered by project), not personal ones."""
    return [h for h in world.atlassian.webhooks if (h.jql or "").startswith("project =")]


def hooks_of(world: World, account: str) -> list[Any]:
    return [h for h in world.atlassian.webhooks if h.owner == account]


def wait_personal_hooks(world: World, accounts: list[str], each: int = 2) -> None:
    """Linking registers each user's personal webhooks in the background: wait for them."""
    world.slack.wait_for(
        lambda: all(
            len([h for h in hooks_of(world, a) if not (h.jql or "").startswith("project =")]) == each
            for a in accounts
        )
        or None,
        timeout=WAIT,
        message="personal webhooks registered",
    )
