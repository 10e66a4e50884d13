"""Socket Mode: Slack traffic over the WebSocket, while the HTTP routes stay up."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.emulators.atlassian import AtlassianEmulator
from tests.emulators.slack import SlackEmulator
from tests.harness import BotHarness

APP_TOKEN = "xapp-1-A0APP0001-1-socketmodetoken"


@pytest.fixture
def socket_bot(database_url: str, slack: SlackEmulator, atlassian: AtlassianEmulator) -> Iterator[BotHarness]:
    slack.socket_mode.app_tokens.add(APP_TOKEN)
    harness = BotHarness.start(
        database_url=database_url,
        slack_api_url=slack.api_url,
        atlassian_url=atlassian.base_url,
        socket_mode=True,
        slack_app_token=APP_TOKEN,
    )
    yield harness
    harness.stop()


def test_commands_arrive_over_the_socket_and_are_acknowledged_there(
    socket_bot: BotHarness, slack: SlackEmulator
) -> None:
    slack.wait_for(lambda: slack.socket_mode.connected, message="the bot did not connect over Socket Mode")
    opened = slack.calls_to("apps.connections.open")
    assert opened and opened[0].token == APP_TOKEN and opened[0].ok
    slack.add_user("U0ALICE01", "alice")
    envelope = slack.socket_mode.send(
        "slash_commands",
        {
            "token": "x",
            "team_id": slack.team_id,
            "team_domain": "acme",
            "channel_id": "C0GENERAL",
            "channel_name": "general",
            "user_id": "U0ALICE01",
            "user_name": "alice",
            "command": "/jira",
            "text": "nonsense",
            "api_app_id": slack.app_id,
            "is_enterprise_install": "false",
            "response_url": slack.new_response_url(channel_id="C0GENERAL", user_id="U0ALICE01"),
            "trigger_id": slack.new_trigger_id("U0ALICE01"),
        },
    )
    ack = slack.wait_for(lambda: slack.socket_mode.ack(envelope))
    assert "didn't understand `nonsense`" in ack["payload"]["text"]
    assert "/jira connect" in ack["payload"]["text"]
    # The OAuth callback and health stay on HTTP.
    assert httpx.get(f"{socket_bot.url}/healthz").json() == {"status": "ok"}


def test_events_arrive_over_the_socket(socket_bot: BotHarness, slack: SlackEmulator) -> None:
    slack.wait_for(lambda: slack.socket_mode.connected)
    slack.add_user("U0ALICE01", "alice")
    envelope = slack.socket_mode.send(
        "events_api",
        {
            "token": "x",
            "team_id": slack.team_id,
            "api_app_id": slack.app_id,
            "type": "event_callback",
            "event_id": "Ev0SOCKET1",
            "event_time": 1700000000,
            "event": {"type": "app_home_opened", "user": "U0ALICE01", "channel": "D0ALICE", "tab": "home"},
            "authorizations": [{"team_id": slack.team_id, "user_id": slack.bot_user_id, "is_bot": True}],
        },
    )
    assert slack.wait_for(lambda: slack.socket_mode.ack(envelope)) is not None
    home = slack.wait_for(lambda: slack.home_views.get("U0ALICE01"))
    assert "admin must first run `/jira admin install`" in str(home)
