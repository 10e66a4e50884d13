"""The Slack emulator and driver, exercised over real HTTP with slack_sdk and slack_bolt.

The emulator must refuse what Slack refuses (auth, trigger ids, Block Kit limits, channels, rate
limits), and the driver must sign and shape requests so that a real Bolt app accepts them.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
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
from tests.emulators.slack import ManualClock, SlackEmulator, validate_blocks, validate_view
from tests.emulators.slack_driver import SlackDriver

TOKEN = "xoxb-test-bot-token"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


def plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def modal(**overrides: Any) -> dict[str, Any]:
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": "create_issue",
        "title": plain("Create issue"),
        "submit": plain("Create"),
        "close": plain("Cancel"),
        "private_metadata": json.dumps({"channel": "C0GENERAL"}),
        "blocks": [
            {
                "type": "input",
                "block_id": "project",
                "label": plain("Project"),
                "element": {
                    "type": "static_select",
                    "action_id": "project_select",
                    "placeholder": plain("Pick a project"),
                    "options": [
                        {"text": plain("Ops"), "value": "OPS"},
                        {"text": plain("Web"), "value": "WEB"},
                    ],
                    "initial_option": {"text": plain("Ops"), "value": "OPS"},
                },
            },
            {
                "type": "input",
                "block_id": "summary",
                "label": plain("Summary"),
                "element": {"type": "plain_text_input", "action_id": "summary_input", "max_length": 255},
            },
            {
                "type": "input",
                "block_id": "description",
                "optional": True,
                "label": plain("Description"),
                "element": {"type": "plain_text_input", "action_id": "description_input", "multiline": True},
            },
        ],
    }
    view.update(overrides)
    return view


@pytest.fixture(scope="module")
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(scope="module")
def served(clock: ManualClock) -> Iterator[SlackEmulator]:
    emulator, live = SlackEmulator.serve(clock=clock, client_id="1234.5678", client_secret="shh")
    try:
        yield emulator
    finally:
        live.stop()


@pytest.fixture
def emu(served: SlackEmulator) -> SlackEmulator:
    served.reset()
    served.add_user("U0ALICE01", "alice", "Alice Example", "alice@example.com", admin=True)
    return served


@pytest.fixture
def web(emu: SlackEmulator) -> WebClient:
    return WebClient(token=TOKEN, base_url=emu.api_url)


@pytest.fixture
def aweb(emu: SlackEmulator) -> AsyncWebClient:
    return AsyncWebClient(token=TOKEN, base_url=emu.api_url)


def api_error(excinfo: pytest.ExceptionInfo[SlackApiError]) -> str:
    return str(excinfo.value.response["error"])


# ---------------------------------------------------------------------------------------------
# Auth
# ---------------------------------------------------------------------------------------------


async def test_auth_test_answers_like_slack(emu: SlackEmulator, aweb: AsyncWebClient) -> None:
    response = await aweb.auth_test()
    assert response["team_id"] == "T0TEAM001"
    assert response["user_id"] == "U0BOT0001"
    assert response["bot_id"] == "B0BOT0001"
    assert response["url"] == "https://acme.slack.com/"
    assert "chat:write" in response.headers["x-oauth-scopes"]
    call = emu.calls_to("auth.test")[0]
    assert call.token == TOKEN and call.ok


async def test_auth_failures(emu: SlackEmulator) -> None:
    with pytest.raises(SlackApiError) as missing:
        await AsyncWebClient(base_url=emu.api_url).auth_test()
    assert api_error(missing) == "not_authed"
    with pytest.raises(SlackApiError) as unknown:
        await AsyncWebClient(token="xoxb-nope", base_url=emu.api_url).auth_test()
    assert api_error(unknown) == "invalid_auth"
    emu.revoke_token(TOKEN)
    with pytest.raises(SlackApiError) as revoked:
        await AsyncWebClient(token=TOKEN, base_url=emu.api_url).auth_test()
    assert api_error(revoked) == "token_revoked"
    assert unknown.value.response.status_code == 200


def test_token_in_form_and_unknown_method(emu: SlackEmulator) -> None:
    answer = httpx.post(f"{emu.api_url}auth.test", data={"token": TOKEN}).json()
    assert answer["ok"] is True
    # A token inside a JSON body is not read: Slack wants it in the Authorization header.
    answer = httpx.post(f"{emu.api_url}auth.test", json={"token": TOKEN}).json()
    assert answer == {"ok": False, "error": "not_authed"}
    answer = httpx.post(f"{emu.api_url}chat.postMessagee", data={"token": TOKEN}).json()
    assert answer == {"ok": False, "error": "unknown_method"}


def test_multi_workspace_tokens(emu: SlackEmulator, web: WebClient) -> None:
    emu.add_bot_token("xoxb-other", "T0OTHER01")
    other = WebClient(token="xoxb-other", base_url=emu.api_url).auth_test()
    assert other["team_id"] == "T0OTHER01"
    assert other["bot_id"] != web.auth_test()["bot_id"]


# ---------------------------------------------------------------------------------------------
# Users and conversations
# ---------------------------------------------------------------------------------------------


def test_users_info_shape_and_errors(emu: SlackEmulator, web: WebClient) -> None:
    user = web.users_info(user="U0ALICE01")["user"]
    assert user["id"] == "U0ALICE01" and user["team_id"] == "T0TEAM001"
    assert user["is_admin"] is True and user["is_owner"] is False and user["is_bot"] is False
    assert user["deleted"] is False and user["tz"] == "Europe/London"
    assert user["profile"]["email"] == "alice@example.com"
    assert user["profile"]["real_name"] == "Alice Example"
    assert emu.calls_to("users.info")[0].params == {"user": "U0ALICE01"}
    with pytest.raises(SlackApiError) as excinfo:
        web.users_info(user="U0NOBODY1")
    assert api_error(excinfo) == "user_not_found"


def test_conversations_open_is_stable(web: WebClient) -> None:
    first = web.conversations_open(users="U0ALICE01")["channel"]["id"]
    assert first.startswith("D") and web.conversations_open(users=["U0ALICE01"])["channel"]["id"] == first
    info = web.conversations_info(channel=first)["channel"]
    assert info["is_im"] is True and info["user"] == "U0ALICE01"


# ---------------------------------------------------------------------------------------------
# chat.*
# ---------------------------------------------------------------------------------------------


def test_post_update_permalink_delete(emu: SlackEmulator, web: WebClient) -> None:
    posted = web.chat_postMessage(channel="C0GENERAL", text="hello", unfurl_links=False)
    reply = web.chat_postMessage(channel="C0GENERAL", text="in thread", thread_ts=posted["ts"])
    assert float(reply["ts"]) > float(posted["ts"])
    assert posted["message"]["bot_id"] == "B0BOT0001"
    stored = emu.messages[0]
    assert (stored["channel"], stored["text"], stored["unfurl_links"]) == ("C0GENERAL", "hello", False)
    assert emu.messages[1]["thread_ts"] == posted["ts"]

    web.chat_update(channel="C0GENERAL", ts=posted["ts"], text="edited")
    assert (emu.message("C0GENERAL", posted["ts"]) or {}).get("text") == "edited"
    link = web.chat_getPermalink(channel="C0GENERAL", message_ts=posted["ts"])["permalink"]
    assert link == f"https://acme.slack.com/archives/C0GENERAL/p{posted['ts'].replace('.', '')}"
    web.chat_delete(channel="C0GENERAL", ts=posted["ts"])
    with pytest.raises(SlackApiError) as excinfo:
        web.chat_update(channel="C0GENERAL", ts=posted["ts"], text="again")
    assert api_error(excinfo) == "message_not_found"


def test_form_encoded_blocks_are_decoded(emu: SlackEmulator, web: WebClient) -> None:
    blocks = [{"type": "section", "block_id": "s1", "text": {"type": "mrkdwn", "text": "*hi*"}}]
    web.api_call(
        "chat.postMessage", data={"channel": "C0GENERAL", "text": "hi", "blocks": json.dumps(blocks)}
    )
    assert emu.calls_to("chat.postMessage")[0].params["blocks"] == blocks
    assert emu.messages[0]["blocks"] == blocks


def test_chat_write_public_posts_in_public_channels_not_joined_and_only_there(
        emu: SlackEmulator, web: WebClient, monkeypatch: pytest.MonkeyPatch) -> None:
    emu.set_bot_not_in_channel("C0RANDOM1")
    emu.set_bot_not_in_channel("G0SECRET1")
    assert web.chat_postMessage(channel="C0RANDOM1", text="hi")["ok"]
    with pytest.raises(SlackApiError) as private:
        web.chat_postMessage(channel="G0SECRET1", text="hi")
    assert api_error(private) == "not_in_channel"
    scopes = [s for s in emu.bot_scopes.split(",") if s != "chat:write.public"]
    monkeypatch.setattr(emu, "bot_scopes", ",".join(scopes))
    with pytest.raises(SlackApiError) as without_scope:
        web.chat_postMessage(channel="C0RANDOM1", text="hi")
    assert api_error(without_scope) == "not_in_channel"


def test_channel_knobs_and_dm_by_user_id(emu: SlackEmulator, web: WebClient) -> None:
    emu.set_bot_not_in_channel("G0PRIVATE")
    emu.set_channel_missing("C0GONE")
    with pytest.raises(SlackApiError) as not_in:
        web.chat_postMessage(channel="G0PRIVATE", text="hi")
    assert api_error(not_in) == "not_in_channel"
    with pytest.raises(SlackApiError) as missing:
        web.chat_postMessage(channel="C0GONE", text="hi")
    assert api_error(missing) == "channel_not_found"
    dm = web.chat_postMessage(channel="U0ALICE01", text="psst")
    assert dm["channel"] == web.conversations_open(users="U0ALICE01")["channel"]["id"]
    eph = web.chat_postEphemeral(channel="C0GENERAL", user="U0ALICE01", text="only you")
    assert emu.ephemerals[0]["ts"] == eph["message_ts"] and emu.ephemerals[0]["user"] == "U0ALICE01"


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
def test_message_content_rules(web: WebClient) -> None:
    with pytest.raises(SlackApiError) as no_text:
        web.chat_postMessage(channel="C0GENERAL")
    assert api_error(no_text) == "no_text"
    with pytest.raises(SlackApiError) as too_long:
        web.chat_postMessage(channel="C0GENERAL", text="x" * 40_001)
    assert api_error(too_long) == "msg_too_long"
    divider = {"type": "divider"}
    with pytest.raises(SlackApiError) as many:
        web.chat_postMessage(channel="C0GENERAL", text="t", blocks=[divider] * 51)
    assert api_error(many) == "invalid_blocks"
    assert many.value.response["response_metadata"]["messages"] == [
        "[ERROR] no more than 50 items allowed [json-pointer:/blocks]"
    ]
    with pytest.raises(SlackApiError) as input_block:
        web.chat_postMessage(channel="C0GENERAL", text="t", blocks=modal()["blocks"][1:2])
    assert api_error(input_block) == "invalid_blocks"


# ---------------------------------------------------------------------------------------------
# Trigger ids and views
# ---------------------------------------------------------------------------------------------


async def test_trigger_ids_are_single_use_and_expire(
    emu: SlackEmulator, aweb: AsyncWebClient, clock: ManualClock
) -> None:
    trigger = emu.new_trigger_id("U0ALICE01")
    clock.advance(0.25)
    opened = await aweb.views_open(trigger_id=trigger, view=modal())
    assert emu.trigger_latency(trigger) == pytest.approx(0.25)
    view = opened["view"]
    assert emu.views[view["id"]]["callback_id"] == "create_issue"
    assert (emu.current_view("U0ALICE01") or {}).get("id") == view["id"]

    with pytest.raises(SlackApiError) as reused:
        await aweb.views_open(trigger_id=trigger, view=modal())
    assert api_error(reused) == "exchanged_trigger_id"
    with pytest.raises(SlackApiError) as unknown:
        await aweb.views_open(trigger_id="123.456.abc", view=modal())
    assert api_error(unknown) == "invalid_trigger_id"
    stale = emu.new_trigger_id("U0ALICE01")
    clock.advance(3.01)
    with pytest.raises(SlackApiError) as expired:
        await aweb.views_open(trigger_id=stale, view=modal())
    assert api_error(expired) == "expired_trigger_id"
    assert emu.trigger_latency(stale) is None


@pytest.mark.parametrize(
    ("view", "message"),
    [
        (
            modal(title=plain("x" * 25)),
            "[ERROR] must be less than 25 characters [json-pointer:/view/title/text]",
        ),
        (
            modal(blocks=[{"type": "divider"}] * 101),
            "[ERROR] no more than 100 items allowed [json-pointer:/view/blocks]",
        ),
        (
            modal(
                blocks=[
                    {
                        "type": "input",
                        "block_id": "p",
                        "label": plain("Project"),
                        "element": {
                            "type": "static_select",
                            "action_id": "a",
                            "options": [{"text": plain("Long"), "value": "v" * 151}],
                        },
                    }
                ]
            ),
            "[ERROR] must be less than 151 characters [json-pointer:/view/blocks/0/element/options/0/value]",
        ),
        (
            modal(
                blocks=[
                    {
                        "type": "actions",
                        "elements": [
                            {
                                "type": "button",
                                "text": plain("Go"),
                                "confirm": {
                                    "title": plain("Sure?"),
                                    "text": plain("y" * 301),
                                    "confirm": plain("Yes"),
                                    "deny": plain("No"),
                                },
                            }
                        ],
                    }
                ]
            ),
            "[ERROR] must be less than 301 characters "
            "[json-pointer:/view/blocks/0/elements/0/confirm/text/text]",
        ),
    ],
    ids=["title-25", "blocks-101", "option-value-151", "confirm-text-301"],
)
async def test_block_kit_limits_are_enforced(
    emu: SlackEmulator, aweb: AsyncWebClient, view: dict[str, Any], message: str
) -> None:
    with pytest.raises(SlackApiError) as excinfo:
        await aweb.views_open(trigger_id=emu.new_trigger_id("U0ALICE01"), view=view)
    assert api_error(excinfo) == "invalid_arguments"
    assert message in excinfo.value.response["response_metadata"]["messages"]
    assert validate_view(view) == excinfo.value.response["response_metadata"]["messages"]


def test_validator_details() -> None:
    assert validate_view(modal()) == []
    wrong_initial = modal()
    wrong_initial["blocks"][0]["element"]["initial_option"] = {"text": plain("Nope"), "value": "NOPE"}
    assert any("initial_option must match" in e for e in validate_view(wrong_initial))
    assert validate_view(modal(submit=None)) != []  # inputs need a submit button
    duplicate = [{"type": "divider", "block_id": "x"}, {"type": "divider", "block_id": "x"}]
    assert validate_blocks(duplicate) == ["[ERROR] duplicate block_id: x [json-pointer:/blocks/1/block_id]"]
    assert validate_blocks([{"type": "carousel"}]) != []
    assert validate_blocks([{"type": "section", "text": {"type": "mrkdwn", "text": ""}}]) == [
        "[ERROR] must be more than 0 characters [json-pointer:/blocks/0/text/text]"
    ]
    styled = {"type": "button", "text": plain("Go"), "style": "secondary"}
    assert validate_blocks([{"type": "actions", "elements": [styled]}]) == [
        "[ERROR] must be one of [primary, danger] [json-pointer:/blocks/0/elements/0/style]"
    ]
    assert validate_blocks(modal()["blocks"], "modal") == []


async def test_views_update_hash_and_push(emu: SlackEmulator, aweb: AsyncWebClient) -> None:
    view = (await aweb.views_open(trigger_id=emu.new_trigger_id("U0ALICE01"), view=modal()))["view"]
    stale_hash = view["hash"]
    updated = await aweb.views_update(view_id=view["id"], hash=stale_hash, view=modal(title=plain("Step 2")))
    assert updated["view"]["hash"] != stale_hash and emu.views[view["id"]]["title"]["text"] == "Step 2"
    with pytest.raises(SlackApiError) as conflict:
        await aweb.views_update(view_id=view["id"], hash=stale_hash, view=modal())
    assert api_error(conflict) == "hash_conflict"
    with pytest.raises(SlackApiError) as missing:
        await aweb.views_update(view_id="V0NOPE", view=modal())
    assert api_error(missing) == "not_found"

    for depth in (2, 3):
        pushed = await aweb.views_push(
            trigger_id=emu.new_trigger_id("U0ALICE01", view_id=view["id"]), view=modal()
        )
        assert pushed["view"]["root_view_id"] == view["id"]
        assert len(emu.view_stack(view["id"])) == depth
    with pytest.raises(SlackApiError) as limit:
        await aweb.views_push(trigger_id=emu.new_trigger_id("U0ALICE01", view_id=view["id"]), view=modal())
    assert api_error(limit) == "push_limit_reached"

    home = {"type": "home", "blocks": [{"type": "section", "text": plain("Welcome")}]}
    published = await aweb.views_publish(user_id="U0ALICE01", view=home)
    assert emu.home_views["U0ALICE01"]["id"] == published["view"]["id"]


# ---------------------------------------------------------------------------------------------
# Knobs
# ---------------------------------------------------------------------------------------------


async def test_rate_limit_answers_429_with_retry_after(emu: SlackEmulator, aweb: AsyncWebClient) -> None:
    emu.rate_limit("chat.postMessage", retry_after=7)
    with pytest.raises(SlackApiError) as excinfo:
        await aweb.chat_postMessage(channel="C0GENERAL", text="hi")
    assert excinfo.value.response.status_code == 429
    assert excinfo.value.response.headers["Retry-After"] == "7"
    assert api_error(excinfo) == "ratelimited"
    assert (await aweb.chat_postMessage(channel="C0GENERAL", text="hi"))["ok"]
    assert [c.status for c in emu.calls_to("chat.postMessage")] == [429, 200]


def test_fail_next_latency_and_wait_for(emu: SlackEmulator, web: WebClient) -> None:
    emu.fail_next("users.info", "fatal_error", times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError):
            web.users_info(user="U0ALICE01")
    assert web.users_info(user="U0ALICE01")["ok"]
    emu.set_latency("auth.test", 0.05)
    started = time.monotonic()
    web.auth_test()
    assert time.monotonic() - started >= 0.05
    assert emu.wait_for_call("auth.test").ok
    with pytest.raises(AssertionError, match="chat.update"):
        emu.wait_for_call("chat.update", timeout=0.05)


# ---------------------------------------------------------------------------------------------
# Response URLs and OAuth
# ---------------------------------------------------------------------------------------------


def test_response_urls_record_and_expire(emu: SlackEmulator, clock: ManualClock) -> None:
    url = emu.new_response_url(channel_id="C0GENERAL", user_id="U0ALICE01")
    assert httpx.post(url, json={"text": "only you"}).json() == {"ok": True}
    assert httpx.post(url, json={"text": "all", "response_type": "in_channel"}).status_code == 200
    assert [p.body["text"] for p in emu.responses(url)] == ["only you", "all"]
    assert emu.ephemerals[-1]["text"] == "only you" and emu.messages[-1]["text"] == "all"
    bad = httpx.post(url, json={"blocks": [{"type": "header", "text": plain("h" * 151)}]})
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_blocks"
    for _ in range(3):
        httpx.post(url, json={"text": "again"})
    assert httpx.post(url, json={"text": "sixth"}).status_code == 404
    assert httpx.post(f"{emu.base_url}/response/nope", json={"text": "x"}).status_code == 404
    old = emu.new_response_url(channel_id="C0GENERAL", user_id="U0ALICE01")
    clock.advance(31 * 60)
    assert httpx.post(old, json={"text": "late"}).status_code == 404


def test_response_url_replaces_original(emu: SlackEmulator, web: WebClient) -> None:
    ts = web.chat_postMessage(channel="C0GENERAL", text="before")["ts"]
    url = emu.new_response_url(channel_id="C0GENERAL", user_id="U0ALICE01", message_ts=ts)
    httpx.post(url, json={"text": "after", "replace_original": True})
    assert (emu.message("C0GENERAL", ts) or {}).get("text") == "after"


def test_oauth_v2_access(emu: SlackEmulator) -> None:
    code = emu.issue_oauth_code(team_id="T0NEW0001", user_id="U0INSTALL", redirect_uri="https://bot/cb")
    client = WebClient(base_url=emu.api_url)
    with pytest.raises(SlackApiError) as wrong_secret:
        client.oauth_v2_access(
            client_id="1234.5678", client_secret="nope", code=code, redirect_uri="https://bot/cb"
        )
    assert api_error(wrong_secret) == "bad_client_secret"
    answer = client.oauth_v2_access(
        client_id="1234.5678", client_secret="shh", code=code, redirect_uri="https://bot/cb"
    )
    assert answer["token_type"] == "bot" and answer["team"]["id"] == "T0NEW0001"
    assert answer["enterprise"] is None and answer["authed_user"] == {"id": "U0INSTALL"}
    assert WebClient(token=answer["access_token"], base_url=emu.api_url).auth_test()["team_id"] == "T0NEW0001"
    basic = base64.b64encode(b"1234.5678:shh").decode()
    reused = httpx.post(
        f"{emu.api_url}oauth.v2.access", data={"code": code}, headers={"Authorization": f"Basic {basic}"}
    ).json()
    assert reused == {"ok": False, "error": "invalid_code"}


# ---------------------------------------------------------------------------------------------
# The driver, against a real Bolt app
# ---------------------------------------------------------------------------------------------


def assign_modal(permalink: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": "assign",
        "title": plain("Assign"),
        "submit": plain("Assign"),
        "private_metadata": permalink,
        "blocks": [
            {
                "type": "section",
                "block_id": "order",
                "text": plain("Sort by"),
                "accessory": {
                    "type": "static_select",
                    "action_id": "sort",
                    "options": [
                        {"text": plain("Name"), "value": "name"},
                        {"text": plain("Id"), "value": "id"},
                    ],
                },
            },
            {
                "type": "input",
                "block_id": "who",
                "label": plain("Assignee"),
                "element": {"type": "external_select", "action_id": "assignee", "min_query_length": 2},
            },
            {
                "type": "actions",
                "block_id": "acts",
                "elements": [{"type": "button", "action_id": "more", "text": plain("More fields")}],
            },
        ],
    }


def bolt_app(emu: SlackEmulator) -> Starlette:
    app = AsyncApp(client=AsyncWebClient(token=TOKEN, base_url=emu.api_url), signing_secret=SIGNING_SECRET)

    @app.command("/jira")
    async def command(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        if body["text"] == "help":
            await ack(text="Try `/jira create`")
            return
        await ack()
        await client.views_open(trigger_id=body["trigger_id"], view=modal())

    @app.view("create_issue")
    async def submitted(ack: Any, view: dict[str, Any]) -> None:
        values = view["state"]["values"]
        if values["summary"]["summary_input"]["value"] == "bad":
            await ack(response_action="errors", errors={"summary": "Say more"})
            return
        assert values["project"]["project_select"]["selected_option"]["value"] == "WEB"
        await ack(response_action="update", view=modal(title=plain("Created")))

    @app.action("go")
    async def clicked(ack: Any, respond: Any) -> None:
        await ack()
        await respond(text="clicked", replace_original=True)

    @app.shortcut("create_jira_issue")
    async def shortcut(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        link = await client.chat_getPermalink(channel=body["channel"]["id"], message_ts=body["message_ts"])
        await client.views_open(trigger_id=body["trigger_id"], view=assign_modal(link["permalink"]))

    @app.options("assignee")
    async def assignees(ack: Any, payload: dict[str, Any]) -> None:
        await ack(options=[{"text": plain(f"{payload['value']} Smith"), "value": "acc-1"}])

    @app.action("more")
    async def more(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await client.views_push(trigger_id=body["trigger_id"], view=modal(notify_on_close=True))

    @app.action("sort")
    async def sort(ack: Any) -> None:
        await ack()

    @app.view_closed("create_issue")
    async def closed(ack: Any) -> None:
        await ack()

    @app.event("app_mention")
    async def mentioned(event: dict[str, Any], say: Any) -> None:
        await say(text=f"hi <@{event['user']}>")

    handler = AsyncSlackRequestHandler(app)

    async def events(request: Request) -> Any:
        return await handler.handle(request)

    return Starlette(routes=[Route("/slack/events", events, methods=["POST"])])


@pytest.fixture(scope="module")
def bot(served: SlackEmulator) -> Iterator[LiveServer]:
    live = LiveServer(bolt_app(served)).start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
def driver(emu: SlackEmulator, bot: LiveServer) -> Iterator[SlackDriver]:
    with SlackDriver(bot.url, SIGNING_SECRET, emu) as slack:
        yield slack


def test_slash_command_to_submission_through_bolt(emu: SlackEmulator, driver: SlackDriver) -> None:
    result = driver.slash_command("U0ALICE01", "create")
    assert result.status_code == 200 and result.acked_in_time
    assert result.trigger_id and result.response_url and result.payload["user_name"] == "alice"
    view = emu.wait_for(lambda: emu.current_view("U0ALICE01"))
    assert emu.trigger_latency(result.trigger_id) is not None

    with pytest.raises(AssertionError, match="Summary"):
        driver.submit_view("U0ALICE01", view, {})  # a required input left empty
    rejected = driver.submit_view("U0ALICE01", view, {"summary": "bad"})
    assert rejected.json() == {"response_action": "errors", "errors": {"summary": "Say more"}}
    assert rejected.problems == [] and emu.is_view_open(view["id"])

    done = driver.submit_view("U0ALICE01", view, {"summary": "Printer on fire", "project": "WEB"})
    assert done.response_action == "update" and done.problems == []
    assert emu.views[view["id"]]["title"]["text"] == "Created"
    sent = done.payload["view"]["state"]["values"]
    assert sent["description"]["description_input"] == {"type": "plain_text_input", "value": None}


def test_command_ack_is_shown_and_buttons_click(
    emu: SlackEmulator, driver: SlackDriver, web: WebClient
) -> None:
    driver.slash_command("U0ALICE01", "help")
    assert emu.ephemerals[-1]["text"] == "Try `/jira create`"

    blocks = [
        {
            "type": "actions",
            "block_id": "acts",
            "elements": [{"type": "button", "action_id": "go", "text": plain("Go"), "value": "1"}],
        }
    ]
    ts = web.chat_postMessage(channel="C0GENERAL", text="pick", blocks=blocks)["ts"]
    click = driver.click_button("U0ALICE01", {"action_id": "go"}, message=emu.message("C0GENERAL", ts))
    assert click.status_code == 200
    assert click.payload["actions"][0]["value"] == "1" and click.payload["container"]["message_ts"] == ts
    emu.wait_for(lambda: (emu.message("C0GENERAL", ts) or {}).get("text") == "clicked")
    with pytest.raises(AssertionError, match="no element"):
        driver.click_button("U0ALICE01", {"action_id": "missing"}, message=emu.message("C0GENERAL", ts))


def test_events_and_signature_checks(emu: SlackEmulator, driver: SlackDriver) -> None:
    assert (
        driver.event(
            {"type": "app_mention", "user": "U0ALICE01", "text": "hi", "channel": "C0GENERAL"}
        ).status_code
        == 200
    )
    emu.wait_for(lambda: any(m["text"] == "hi <@U0ALICE01>" for m in emu.messages))
    retried = driver.event(
        {"type": "app_mention", "user": "U0ALICE01", "text": "hi", "channel": "C0GENERAL"},
        retry_num=1,
        retry_reason="http_timeout",
    )
    assert retried.status_code == 200
    assert driver.slash_command("U0ALICE01", "help", sign=False).status_code == 401
    assert driver.slash_command("U0ALICE01", "help", secret="wrong").status_code == 401
    assert driver.slash_command("U0ALICE01", "help", timestamp=int(time.time()) - 600).status_code == 401


def test_shortcut_options_and_view_interactions(emu: SlackEmulator, driver: SlackDriver) -> None:
    shortcut = driver.message_shortcut(
        "U0ALICE01", "C0GENERAL", {"text": "Printer on fire", "user": "U0BOB0001"}
    )
    assert shortcut.status_code == 200
    view = emu.wait_for(lambda: emu.current_view("U0ALICE01"))
    ts = shortcut.payload["message_ts"]
    assert view["private_metadata"] == f"https://acme.slack.com/archives/C0GENERAL/p{ts.replace('.', '')}"

    with pytest.raises(AssertionError, match="min_query_length"):
        driver.options("U0ALICE01", view, "assignee", "who", "a")
    assert driver.options("U0ALICE01", view, "assignee", "who", "Jo") == {
        "options": [{"text": plain("Jo Smith"), "value": "acc-1"}]
    }
    sorted_by = driver.select_option("U0ALICE01", view, "sort", "order", "id")
    assert sorted_by.payload["actions"][0]["selected_option"]["value"] == "id"
    assert sorted_by.payload["view"]["state"]["values"]["order"]["sort"]["selected_option"]["value"] == "id"

    driver.click_button("U0ALICE01", {"action_id": "more"}, view=view)

    def pushed_view() -> dict[str, Any] | None:
        return emu.current_view("U0ALICE01") if len(emu.view_stack(view["id"])) == 2 else None

    pushed = emu.wait_for(pushed_view)
    assert pushed["previous_view_id"] == view["id"]
    with pytest.raises(AssertionError, match="covered"):
        driver.submit_view("U0ALICE01", view, {"who": {"text": plain("Jo Smith"), "value": "acc-1"}})
    closed = driver.close_view("U0ALICE01", pushed, back=True)
    assert closed is not None and closed.payload["type"] == "view_closed" and closed.status_code == 200
    assert closed.payload["is_cleared"] is False
    assert (emu.current_view("U0ALICE01") or {}).get("id") == view["id"] and not emu.is_view_open(
        pushed["id"]
    )
    assert driver.close_view("U0ALICE01", view) is None  # the root did not ask for view_closed
    assert not emu.is_view_open(view["id"]) and emu.current_view("U0ALICE01") is None
