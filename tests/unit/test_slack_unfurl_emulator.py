"""The Slack emulator's link unfurling (``link_shared``, ``chat.unfurl``) and the driver's helpers for
it and for external selects in messages, exercised with slack_sdk and a real Bolt app."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

from tests.emulators.live import LiveServer
from tests.emulators.slack import SlackEmulator
from tests.emulators.slack_driver import SlackDriver

TOKEN = "xoxb-test-bot-token"
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
ISSUE = "https://acme.atlassian.net/browse/ENG-1"
BOARD = "https://acme.atlassian.net/jira/software/projects/ENG/boards/1?selectedIssue=ENG-2"
CARD = [{"type": "section", "text": {"type": "mrkdwn", "text": "*ENG-1* Checkout fails"}}]


@pytest.fixture(scope="module")
def served() -> Iterator[SlackEmulator]:
    emulator, live = SlackEmulator.serve()
    yield emulator
    live.stop()


@pytest.fixture
def emu(served: SlackEmulator) -> SlackEmulator:
    served.reset()
    served.unfurl_domains = ("atlassian.net", "jira.example.com")
    served.add_user("U0ALICE01", "alice", "Alice Example", "alice@example.com")
    return served


@pytest.fixture
def web(emu: SlackEmulator) -> WebClient:
    return WebClient(token=TOKEN, base_url=emu.api_url)


def _error(call: Any) -> str:
    with pytest.raises(SlackApiError) as info:
        call()
    return str(info.value.response["error"])


def test_only_links_on_unfurl_domains_reach_the_app(emu: SlackEmulator) -> None:
    event = emu.share_links("C0GENERAL", "U0ALICE01", [ISSUE, "https://example.org/x", BOARD])
    assert event is not None and event["type"] == "link_shared" and event["source"] == "conversations_history"
    assert [link["url"] for link in event["links"]] == [ISSUE, BOARD]
    assert event["links"][0]["domain"] == "acme.atlassian.net"
    assert emu.message("C0GENERAL", event["message_ts"]) is not None
    assert emu.share_links("C0GENERAL", "U0ALICE01", ["https://example.org/only"]) is None
    composer = emu.share_links("C0GENERAL", "U0ALICE01", [ISSUE], source="composer")
    assert composer is not None and composer["channel"] == "COMPOSER"


def test_unfurl_by_id_or_by_message_and_only_the_event_s_urls(emu: SlackEmulator, web: WebClient) -> None:
    event = emu.share_links("C0GENERAL", "U0ALICE01", [ISSUE, BOARD])
    assert event is not None
    web.chat_unfurl(unfurl_id=event["unfurl_id"], source=event["source"], unfurls={ISSUE: {"blocks": CARD}})
    web.chat_unfurl(channel="C0GENERAL", ts=event["message_ts"], unfurls={BOARD: {"blocks": CARD}})
    seen = emu.unfurl_for("C0GENERAL", event["message_ts"])
    assert set(seen) == {ISSUE, BOARD} and seen[ISSUE]["blocks"][0]["text"]["text"].startswith("*ENG-1*")
    assert len(emu.unfurls) == 2

    other = "https://acme.atlassian.net/browse/ENG-9"
    assert (
        _error(
            lambda: web.chat_unfurl(
                channel="C0GENERAL", ts=event["message_ts"], unfurls={other: {"blocks": CARD}}
            )
        )
        == "cannot_unfurl_url"
    )
    assert (
        _error(lambda: web.chat_unfurl(channel="C0GENERAL", ts="1.000", unfurls={ISSUE: {"blocks": CARD}}))
        == "cannot_find_message"
    )
    assert (
        _error(lambda: web.chat_unfurl(unfurl_id=event["unfurl_id"], unfurls={ISSUE: {"blocks": CARD}}))
        == "missing_source"
    )
    assert (
        _error(lambda: web.chat_unfurl(unfurl_id=event["unfurl_id"], source="elsewhere", unfurls={}))
        == "invalid_source"
    )
    assert (
        _error(lambda: web.chat_unfurl(channel="C0GENERAL", unfurls={ISSUE: {"blocks": CARD}}))
        == "missing_ts"
    )
    bad_block = [{"type": "section"}]
    assert (
        _error(
            lambda: web.chat_unfurl(
                channel="C0GENERAL", ts=event["message_ts"], unfurls={ISSUE: {"blocks": bad_block}}
            )
        )
        == "invalid_blocks"
    )
    too_many = CARD * 51
    assert (
        _error(
            lambda: web.chat_unfurl(
                channel="C0GENERAL", ts=event["message_ts"], unfurls={ISSUE: {"blocks": too_many}}
            )
        )
        == "invalid_blocks"
    )
    assert (
        _error(
            lambda: web.chat_unfurl(
                channel="C0GENERAL", ts=event["message_ts"], unfurls={ISSUE: {"nonsense": 1}}
            )
        )
        == "invalid_unfurls_format"
    )
    assert len(emu.unfurls) == 2


def test_an_auth_prompt_goes_to_the_sharer_only(emu: SlackEmulator, web: WebClient) -> None:
    event = emu.share_links("C0GENERAL", "U0ALICE01", [ISSUE])
    assert event is not None
    prompt = [{"type": "section", "text": {"type": "mrkdwn", "text": "Connect Jira to preview links"}}]
    web.chat_unfurl(
        unfurl_id=event["unfurl_id"],
        source=event["source"],
        unfurls={},
        user_auth_required=True,
        user_auth_url="https://bot.example/jira/connect?x=1",
        user_auth_blocks=prompt,
    )
    [asked] = emu.auth_prompts
    assert asked["user"] == "U0ALICE01" and asked["url"].startswith("https://bot.example/")
    assert asked["blocks"] == prompt
    assert emu.unfurl_for("C0GENERAL", event["message_ts"]) == {}
    assert (
        _error(
            lambda: web.chat_unfurl(
                unfurl_id=event["unfurl_id"],
                source=event["source"],
                unfurls={},
                user_auth_required=True,
                user_auth_url="javascript:alert(1)",
            )
        )
        == "invalid_arguments"
    )


def test_links_write_scope_is_needed() -> None:
    emulator, live = SlackEmulator.serve(bot_scopes="commands,chat:write")
    try:
        event = emulator.share_links("C0GENERAL", "U0X", [ISSUE])
        assert event is not None
        client = WebClient(token=TOKEN, base_url=emulator.api_url)
        assert (
            _error(
                lambda: client.chat_unfurl(
                    channel="C0GENERAL", ts=event["message_ts"], unfurls={ISSUE: {"blocks": CARD}}
                )
            )
            == "missing_scope"
        )
    finally:
        live.stop()


def _bolt(emu: SlackEmulator) -> Starlette:
    app = AsyncApp(client=AsyncWebClient(token=TOKEN, base_url=emu.api_url), signing_secret=SECRET)

    @app.event("link_shared")
    async def shared(event: dict[str, Any], client: AsyncWebClient) -> None:
        unfurls = {link["url"]: {"blocks": CARD} for link in event["links"]}
        await client.chat_unfurl(unfurl_id=event["unfurl_id"], source=event["source"], unfurls=unfurls)

    @app.options("pick")
    async def options(ack: Any, payload: dict[str, Any]) -> None:
        assert payload["container"]["type"] == "message"
        await ack(options=[{"text": {"type": "plain_text", "text": "Done"}, "value": payload["block_id"]}])

    handler = AsyncSlackRequestHandler(app)

    async def events(request: Request) -> Any:
        return await handler.handle(request)

    return Starlette(routes=[Route("/slack/events", events, methods=["POST"])])


def test_driver_sends_link_shared_and_message_options_through_bolt(emu: SlackEmulator) -> None:
    live = LiveServer(_bolt(emu)).start()
    try:
        with SlackDriver(live.url, SECRET, emu) as driver:
            assert driver.link_shared("U0ALICE01", ["https://example.org/"]) is None
            result = driver.link_shared("U0ALICE01", [ISSUE])
            assert result is not None and result.status_code == 200
            ts = result.payload["event"]["message_ts"]
            emu.wait_for(lambda: emu.unfurl_for("C0GENERAL", ts))
            select = {
                "type": "actions",
                "block_id": "b-ENG-1",
                "elements": [
                    {
                        "type": "external_select",
                        "action_id": "pick",
                        "placeholder": {"type": "plain_text", "text": "Transition"},
                        "min_query_length": 0,
                    }
                ],
            }
            posted = WebClient(token=TOKEN, base_url=emu.api_url).chat_postMessage(
                channel="C0GENERAL", text="card", blocks=[select]
            )
            answer = driver.message_options("U0ALICE01", {"channel": "C0GENERAL", "ts": posted["ts"]}, "pick")
            assert answer["options"][0]["value"] == "b-ENG-1"
    finally:
        live.stop()


def test_unfurls_param_as_a_json_string(emu: SlackEmulator, web: WebClient) -> None:
    event = emu.share_links("C0GENERAL", "U0ALICE01", [ISSUE])
    assert event is not None
    web.api_call(
        "chat.unfurl",
        data={
            "channel": "C0GENERAL",
            "ts": event["message_ts"],
            "unfurls": json.dumps({ISSUE: {"blocks": CARD}}),
        },
    )
    assert emu.unfurl_for("C0GENERAL", event["message_ts"])[ISSUE]["blocks"] == CARD
