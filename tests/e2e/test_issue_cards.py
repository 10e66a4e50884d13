"""Issue cards end to end, on Jira Cloud and Data Center: the card after a create and each action on
it (as the person who clicks), `/jira show` and "Share in channel", and link unfurls."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import pytest

from bot.slack import ids
from bot.slack.views import card_actions as card_views
from bot.slack.views import create_issue as form_views
from tests.e2e.flows import (
    ADMIN,
    ALICE,
    ALICE_ACCOUNT,
    BOB,
    BOB_ACCOUNT,
    World,
    authorize,
    cloud_world,
    datacenter_world,
    find_elements,
    install,
    link_user,
)
from tests.emulators.atlassian_issues import DONE, IN_PROGRESS, TODO
from tests.emulators.slack_driver import SlackResult

CHANNEL = "C0GENERAL"


@pytest.fixture(params=["cloud", "datacenter"])
def world(request, bot, slack, atlassian, driver) -> World:
    build = cloud_world if request.param == "cloud" else datacenter_world
    built = build(bot, slack, atlassian, driver)
    install(built)
    link_user(built)
    slack.unfurl_domains = ("atlassian.net", urlsplit(built.site_url).hostname or "")
    return built


# Helpers ---------------------------------------------------------------------------------------------


def text_of(blocks: Any) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def create_from_message(world: World) -> dict[str, Any]:
    """Alice turns a message into ENG-1; returns the thread reply (the card)."""
    result = world.driver.message_shortcut(ALICE, CHANNEL, {"text": "Printer on fire", "user": BOB})
    assert result.acked_in_time
    call = world.slack.wait_for_call(
        "views.open", where=lambda c: c.params.get("trigger_id") == result.trigger_id
    )
    view_id = call.response["view"]["id"]
    form = world.slack.wait_for(
        lambda: (
            (v := world.slack.view(view_id)).get("callback_id") == ids.VIEW_CREATE_ISSUE
            and any(b.get("block_id") == form_views.BLOCK_SUMMARY for b in v["blocks"])
            and v
        ),
        timeout=15,
    )
    submitted = world.driver.submit_view(ALICE, form, {})
    assert submitted.acked_in_time and submitted.problems == []
    ts = result.payload["message_ts"]
    return world.slack.wait_for(
        lambda: next((m for m in world.slack.messages if m.get("thread_ts") == ts and m.get("bot_id")), None),
        timeout=15,
    )


def fresh(world: World, message: dict[str, Any]) -> dict[str, Any]:
    found = world.slack.message(message["channel"], message["ts"])
    assert found is not None
    return found


def wait_card(world: World, message: dict[str, Any], containing: str) -> dict[str, Any]:
    return world.slack.wait_for(
        lambda: containing in text_of(fresh(world, message)["blocks"]) and fresh(world, message),
        timeout=10,
        message=f"card showing {containing!r}",
    )


def told(world: World, user: str, containing: str) -> dict[str, Any]:
    """The private notice `user` got (ephemeral), containing `containing`."""
    return world.slack.wait_for(
        lambda: next(
            (
                e
                for e in reversed(world.slack.ephemerals)
                if e.get("user") == user and containing in e["text"]
            ),
            None,
        ),
        timeout=10,
        message=f"a notice to {user} saying {containing!r}",
    )


def click(world: World, user: str, message: dict[str, Any], action_id: str) -> SlackResult:
    result = world.driver.click_button(user, {"action_id": action_id}, message=message)
    assert result.acked_in_time and result.status_code == 200
    return result


def me(world: World, user: str = ALICE) -> str:
    return {ALICE: "Alice Anders", BOB: "Bob Builder"}[user]


# The card after a create, and its actions -----------------------------------------------------------


def test_the_created_issue_s_card_and_every_action_on_it(world: World) -> None:
    atlassian, slack, driver = world.atlassian, world.slack, world.driver
    card = create_from_message(world)
    assert find_elements(card["blocks"], ids.ACTION_CARD_ASSIGN) and "Unassigned" in text_of(card["blocks"])
    assert f"<{world.site_url}/browse/ENG-1|ENG-1>" in text_of(card["blocks"])
    assert atlassian.issue_state("ENG-1").status == TODO

    # Assign to me: as Alice, with her own link; the card shows her, she is told privately.
    click(world, ALICE, card, ids.ACTION_CARD_ASSIGN)
    card = wait_card(world, card, "*Assignee*\\n" + me(world))
    assert atlassian.issue_state("ENG-1").assignee == ALICE_ACCOUNT
    [put] = atlassian.requests_to(r"/issue/ENG-1/assignee$", "PUT")
    assert put.json == ({"accountId": ALICE_ACCOUNT} if world.cloud else {"name": "alice"})
    told(world, ALICE, "You're now the assignee of *ENG-1*")
    assert "Created by <@U0ALICE01>" in text_of(card["blocks"])  # the card keeps who created it

    # Transition without a screen: the select lists what Jira offers Alice; choosing runs it at once.
    options = driver.message_options(ALICE, card, ids.ACTION_CARD_TRANSITION)["options"]
    labels = [o["text"]["text"] for o in options]
    assert labels == ["In Progress", "Done"]
    progress = options[0]
    driver.select_option(ALICE, None, ids.ACTION_CARD_TRANSITION, None, progress, message=card)
    card = wait_card(world, card, "In Progress")
    assert atlassian.issue_state("ENG-1").status == IN_PROGRESS
    told(world, ALICE, "*ENG-1* is now *In Progress*")

    # A transition whose screen has a required field opens a modal with the create form's inputs.
    done = next(
        o
        for o in driver.message_options(ALICE, card, ids.ACTION_CARD_TRANSITION)["options"]
        if o["text"]["text"] == "Done"
    )
    chosen = driver.select_option(ALICE, None, ids.ACTION_CARD_TRANSITION, None, done, message=card)
    call = slack.wait_for_call("views.open", where=lambda c: c.params.get("trigger_id") == chosen.trigger_id)
    modal_id = call.response["view"]["id"]
    modal = slack.wait_for(
        lambda: (v := slack.view(modal_id)).get("callback_id") == ids.VIEW_CARD_TRANSITION and v, timeout=10
    )
    [resolution] = [b for b in modal["blocks"] if b["type"] == "input"]
    assert resolution["label"]["text"] == "Resolution" and resolution["element"]["type"] == "static_select"
    assert atlassian.issue_state("ENG-1").status == IN_PROGRESS  # nothing ran yet
    result = driver.submit_view(ALICE, modal, {resolution["block_id"]: "Done"})
    assert result.acked_in_time
    card = wait_card(world, card, ":large_green_circle: Done")
    state = atlassian.issue_state("ENG-1")
    assert state.status == DONE and state.resolution == {"id": "10000", "name": "Done"}

    # Comment: a modal with a "Comment" input; converted like descriptions; a repeat comments once.
    opened = click(world, ALICE, card, ids.ACTION_CARD_COMMENT)
    call = slack.wait_for_call("views.open", where=lambda c: c.params.get("trigger_id") == opened.trigger_id)
    comment_modal = slack.view(call.response["view"]["id"])
    [box] = [b for b in comment_modal["blocks"] if b["type"] == "input"]
    assert box["label"]["text"] == "Comment"
    submitted = driver.submit_view(ALICE, comment_modal, {box["block_id"]: "Looks *good* to me"})
    assert submitted.acked_in_time
    told(world, ALICE, "Your comment was added to *ENG-1*")
    again = driver.post_raw(submitted.response.request.content)  # Slack's retry of the same submission
    assert again.status_code == 200
    told(world, ALICE, "Your comment was already added to *ENG-1*")
    [comment] = atlassian.comments("ENG-1")
    assert comment.author == ALICE_ACCOUNT
    if world.cloud:
        assert comment.body["type"] == "doc"
        assert {"type": "text", "text": "good", "marks": [{"type": "strong"}]} in comment.body["content"][0][
            "content"
        ]
    else:
        assert comment.body == "Looks *good* to me"

    # Watch, by someone else: Bob is not linked yet, so he is told to connect and nothing happens.
    click(world, BOB, card, ids.ACTION_CARD_WATCH)
    told(world, BOB, "/jira connect")
    assert BOB_ACCOUNT not in atlassian.issue_state("ENG-1").watchers
    assert link_user(world, BOB, BOB_ACCOUNT).status_code == 200
    click(world, BOB, card, ids.ACTION_CARD_WATCH)
    card = wait_card(world, card, "2 watching")
    assert BOB_ACCOUNT in atlassian.issue_state("ENG-1").watchers
    told(world, BOB, "You're now watching *ENG-1*")
    assert slack.calls_to("chat.update") and all(c.ok for c in slack.calls_to("chat.update"))


def test_jira_refusing_an_action_reaches_the_user_in_plain_words(world: World) -> None:
    atlassian = world.atlassian
    card = create_from_message(world)
    atlassian.deny_permission(ALICE_ACCOUNT, "assign", "ENG-1")
    click(world, ALICE, card, ids.ACTION_CARD_ASSIGN)
    told(world, ALICE, "your Jira account doesn't have permission")
    assert atlassian.issue_state("ENG-1").assignee is None

    atlassian.fail_next(
        r"/issue/ENG-1/watchers$",
        429,
        {"errorMessages": ["Rate limit"]},
        headers={"Retry-After": "0"},
        times=10,
        method="POST",
    )
    click(world, ALICE, card, ids.ACTION_CARD_WATCH)
    told(world, ALICE, "Jira is busy")
    atlassian.clear_failures()

    atlassian.fail_next(
        r"/issue/ENG-1/transitions$",
        400,
        {"errorMessages": ["A fix version is required first."], "errors": {}},
        method="POST",
    )
    progress = next(
        o
        for o in world.driver.message_options(ALICE, card, ids.ACTION_CARD_TRANSITION)["options"]
        if o["text"]["text"] == "In Progress"
    )
    world.driver.select_option(ALICE, None, ids.ACTION_CARD_TRANSITION, None, progress, message=card)
    told(world, ALICE, "A fix version is required first.")
    assert atlassian.issue_state("ENG-1").status == TODO

    # A refused comment keeps the form open, with the reason on the input and the text still there.
    atlassian.deny_permission(ALICE_ACCOUNT, "comment")
    opened = click(world, ALICE, card, ids.ACTION_CARD_COMMENT)
    call = world.slack.wait_for_call(
        "views.open", where=lambda c: c.params.get("trigger_id") == opened.trigger_id
    )
    modal = world.slack.view(call.response["view"]["id"])
    [box] = [b for b in modal["blocks"] if b["type"] == "input"]
    refused = world.driver.submit_view(ALICE, modal, {box["block_id"]: "Please look"})
    assert refused.acked_in_time and refused.response_action == "errors"
    assert "permission" in refused.json()["errors"][box["block_id"]]
    assert atlassian.comments("ENG-1") == [] and world.slack.is_view_open(modal["id"])

    atlassian.set_security_level("ENG-1", "Staff", {ADMIN_ACCOUNT_ID})
    click(world, ALICE, card, ids.ACTION_CARD_WATCH)
    told(world, ALICE, "doesn't exist, or you don't have permission to see it")
    options = world.driver.message_options(ALICE, card, ids.ACTION_CARD_TRANSITION)["options"]
    assert [o["value"] for o in options] == [card_views.CHOICE_UNAVAILABLE]


ADMIN_ACCOUNT_ID = "5b10ac8d82e05b22cc7d4ada"


# /jira show and Share in channel -----------------------------------------------------------------------


def test_show_privately_then_share_in_channel(world: World) -> None:
    atlassian, slack, driver = world.atlassian, world.slack, world.driver
    atlassian.seed_issue(world.site, "ENG", "Disk full", reporter=BOB_ACCOUNT, priority="High")
    result = driver.slash_command(ALICE, "ENG-1")
    assert result.acked_in_time
    private = told(world, ALICE, "ENG-1: Disk full")
    assert find_elements(private["blocks"], ids.ACTION_CARD_SHARE)
    assert "Bob Builder" in text_of(private["blocks"]) and "High" in text_of(private["blocks"])
    assert not [m for m in slack.messages if "Disk full" in m.get("text", "")]

    click(world, ALICE, private, ids.ACTION_CARD_SHARE)
    shared = slack.wait_for(
        lambda: next((m for m in slack.messages if m.get("bot_id") and "Disk full" in m["text"]), None)
    )
    assert shared["channel"] == CHANNEL and f"Shared by <@{ALICE}>" in text_of(shared["blocks"])
    assert not find_elements(shared["blocks"], ids.ACTION_CARD_SHARE)
    assert find_elements(shared["blocks"], ids.ACTION_CARD_ASSIGN)
    slack.wait_for(lambda: (slack.ephemeral(private["channel"], private["ts"]) or {}).get("deleted"))

    # A restricted issue shared in a channel shows its key only (as in link previews).
    atlassian.seed_issue(world.site, "ENG", "Salary review", security=("HR", {ALICE_ACCOUNT}))
    driver.slash_command(ALICE, "show ENG-2")
    secret = told(world, ALICE, "ENG-2: Salary review")
    click(world, ALICE, secret, ids.ACTION_CARD_SHARE)
    posted = slack.wait_for(
        lambda: next((m for m in slack.messages if m.get("bot_id") and "ENG-2" in m["text"]), None)
    )
    assert "Restricted issue" in text_of(posted["blocks"]) and "Salary" not in text_of(posted)

    driver.slash_command(ALICE, "show ENG-99")
    told(world, ALICE, "*ENG-99* doesn't exist")
    driver.slash_command(BOB, "show ENG-1")
    told(world, BOB, "/jira connect")


# Unfurls ------------------------------------------------------------------------------------------------


def share(world: World, user: str, urls: list[str]) -> SlackResult | None:
    result = world.driver.link_shared(user, urls)
    assert result is None or (result.status_code == 200 and result.elapsed < 3)
    return result


def test_unfurls_as_the_sharer_with_a_per_person_cache(world: World) -> None:
    atlassian, slack = world.atlassian, world.slack
    atlassian.seed_issue(world.site, "ENG", "Checkout fails", reporter=BOB_ACCOUNT)
    atlassian.seed_issue(world.site, "ENG", "Slow search", reporter=BOB_ACCOUNT)
    browse = f"{world.site_url}/browse/ENG-1"
    board = f"{world.site_url}/secure/RapidBoard.jspa?rapidView=1&selectedIssue=ENG-2"
    result = share(world, ALICE, [browse, board, "https://example.org/browse/ENG-1"])
    assert result is not None
    ts = result.payload["event"]["message_ts"]
    shown = slack.wait_for(lambda: len(slack.unfurl_for(CHANNEL, ts)) == 2 and slack.unfurl_for(CHANNEL, ts))
    assert "Checkout fails" in text_of(shown[browse]) and "Slow search" in text_of(shown[board])
    gets = atlassian.requests_to(r"/issue/ENG-1$", "GET")
    assert len(gets) == 1

    share(world, ALICE, [browse])  # the same person again, within seconds: no new Jira call
    slack.wait_for(lambda: len(slack.unfurls) == 2)
    assert len(atlassian.requests_to(r"/issue/ENG-1$", "GET")) == 1
    link_user(world, BOB, BOB_ACCOUNT)
    share(world, BOB, [browse])  # another person: read with their own link
    slack.wait_for(lambda: len(slack.unfurls) == 3)
    assert len(atlassian.requests_to(r"/issue/ENG-1$", "GET")) == 2


def test_an_unlinked_sharer_gets_the_connect_prompt_and_the_channel_nothing(world: World) -> None:
    world.atlassian.seed_issue(world.site, "ENG", "Checkout fails")
    result = share(world, BOB, [f"{world.site_url}/browse/ENG-1"])
    assert result is not None
    [prompt] = world.slack.wait_for(lambda: world.slack.auth_prompts)
    assert prompt["user"] == BOB
    assert world.slack.unfurl_for(CHANNEL, result.payload["event"]["message_ts"]) == {}
    assert world.atlassian.requests_to(r"/issue/ENG-1$") == []
    assert authorize(prompt["url"], BOB_ACCOUNT).status_code == 200  # it leads into /jira connect's flow
    account = world.bot.run(world.bot.storage.accounts.get(world.slack.team_id, BOB))
    assert account is not None


def test_a_restricted_issue_unfurls_as_its_key_until_an_admin_turns_full_previews_on(world: World) -> None:
    atlassian, slack, driver = world.atlassian, world.slack, world.driver
    atlassian.seed_issue(world.site, "ENG", "Salary review", security=("HR only", {ALICE_ACCOUNT}))
    url = f"{world.site_url}/browse/ENG-1"
    first = share(world, ALICE, [url])
    assert first is not None
    ts = first.payload["event"]["message_ts"]
    shown = slack.wait_for(lambda: slack.unfurl_for(CHANNEL, ts))
    assert "Restricted issue" in text_of(shown[url]) and "Salary review" not in text_of(shown[url])

    driver.slash_command(ALICE, "admin unfurls restricted on")
    told(world, ALICE, "are for workspace admins")
    driver.slash_command(ADMIN, "admin unfurls restricted on")
    told(world, ADMIN, "now unfurl in full")
    world.bot.components.services["unfurls"].cache.forget(slack.team_id, ALICE, "ENG-1")
    second = share(world, ALICE, [url])
    assert second is not None
    full = slack.wait_for(lambda: slack.unfurl_for(CHANNEL, second.payload["event"]["message_ts"]))
    assert "Salary review" in text_of(full[url])

    # Someone the security level leaves out: no unfurl at all, and no error in the channel.
    link_user(world, BOB, BOB_ACCOUNT)
    third = share(world, BOB, [url])
    assert third is not None
    slack.wait_for(lambda: len(atlassian.requests_to(r"/issue/ENG-1$")) == 3)
    assert slack.unfurl_for(CHANNEL, third.payload["event"]["message_ts"]) == {}
    assert not [m for m in slack.messages if m.get("bot_id") and m["channel"] == CHANNEL]

    # The App Home switch turns it off again.
    driver.event({"type": "app_home_opened", "user": ADMIN, "channel": "D0ADMIN", "tab": "home"})
    home = slack.wait_for(
        lambda: (
            slack.home_views.get(ADMIN)
            or next(
                (
                    v
                    for v in slack.home_views.values()
                    if find_elements(v["blocks"], ids.ACTION_UNFURL_RESTRICTED)
                ),
                None,
            )
        )
    )
    [switch] = find_elements(home["blocks"], ids.ACTION_UNFURL_RESTRICTED)
    assert switch["value"] == "off"
    driver.click_button(ADMIN, {"action_id": ids.ACTION_UNFURL_RESTRICTED}, view=home)
    team = slack.team_id
    slack.wait_for(
        lambda: world.bot.run(world.bot.components.services["unfurls"].full_restricted(team)) is False
    )


def test_links_to_other_sites_unfurl_nothing(world: World) -> None:
    world.atlassian.seed_issue(world.site, "ENG", "Checkout fails")
    other = "https://elsewhere.atlassian.net/browse/ENG-1"
    result = share(world, ALICE, [other])
    assert result is not None  # atlassian.net is an unfurl domain, but not this workspace's site
    missing = share(world, ALICE, [f"{world.site_url}/browse/ENG-404"])
    assert missing is not None
    world.slack.wait_for(lambda: world.atlassian.requests_to(r"/issue/ENG-404$"))
    assert world.slack.calls_to("chat.unfurl") == []
    assert world.atlassian.requests_to(r"/issue/ENG-1$") == []
