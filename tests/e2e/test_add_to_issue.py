"""Adding Slack messages to existing Jira issues, end to end: the "Add to Jira issue" shortcut served for
real against the Slack and Atlassian emulators, Cloud and Data Center."""

from __future__ import annotations

import json
import threading
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.slack import ids
from bot.slack.views import add_to_issue as views
from bot.slack.views import create_issue as create_views
from tests.e2e.flows import (
    ALICE,
    ALICE_ACCOUNT,
    BOB,
    BOB_ACCOUNT,
    World,
    cloud_world,
    datacenter_world,
    find_elements,
    install,
    link_user,
)
from tests.emulators.slack_driver import SlackResult

CHANNEL = "C0GENERAL"
FORM = ids.VIEW_ADD_TO_ISSUE


@pytest.fixture(params=["cloud", "datacenter"])
def world(request, bot, slack, atlassian, driver) -> World:
    build = cloud_world if request.param == "cloud" else datacenter_world
    built = build(bot, slack, atlassian, driver)
    install(built)
    link_user(built)
    return built


@pytest.fixture
def cloud(bot, slack, atlassian, driver) -> World:
    built = cloud_world(bot, slack, atlassian, driver)
    install(built)
    link_user(built)
    return built


# Helpers ---------------------------------------------------------------------------------------------------

def seed(world: World, summary: str, *, reporter: str = ALICE_ACCOUNT) -> str:
    """An issue already in Jira, created by ``reporter`` (so in their history) a minute after the last."""
    world.atlassian.advance(60)
    return world.atlassian.seed_issue(world.site, "ENG", summary, reporter=reporter).key


def shortcut(world: World, text: str = "The printer is on *fire* again", *, user: str = ALICE,
             channel: str = CHANNEL, callback_id: str = ids.SHORTCUT_ADD_TO_ISSUE,
             **message: Any) -> SlackResult:
    result = world.driver.message_shortcut(user, channel, {"text": text, "user": BOB, **message},
                                           callback_id=callback_id)
    assert result.status_code == 200 and result.acked_in_time
    return result


def opened_view(world: World, result: SlackResult) -> str:
    call = world.slack.wait_for_call("views.open",
                                     where=lambda c: c.params.get("trigger_id") == result.trigger_id)
    assert call.ok, call.response
    return str(call.response["view"]["id"])


def wait_view(world: World, view_id: str, callback_id: str = FORM, containing: str = "") -> dict[str, Any]:
    def current() -> dict[str, Any] | None:
        view = world.slack.view(view_id)
        found = view.get("callback_id") == callback_id and containing in json.dumps(view, ensure_ascii=False)
        return view if found else None

    return world.slack.wait_for(current, 15, message=f"view {view_id} showing {callback_id}")


def open_form(world: World, **kwargs: Any) -> tuple[SlackResult, dict[str, Any]]:
    result = shortcut(world, **kwargs)
    return result, wait_view(world, opened_view(world, result))


def block(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    found = [b for b in view["blocks"] if b.get("block_id") == block_id]
    assert found, f"no block {block_id}: {[b.get('block_id') for b in view['blocks']]}"
    return found[0]


def text_of(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def options(world: World, view: dict[str, Any], query: str) -> list[dict[str, Any]]:
    answer = world.driver.options(ALICE, view, views.ACTION_ISSUE, views.BLOCK_ISSUE, query)
    return list(answer["options"])


def submit(world: World, view: dict[str, Any], key: str, comment: str | None = None) -> SlackResult:
    chosen = next(o for o in options(world, view, key) if o["value"] == key)
    values: dict[str, Any] = {views.BLOCK_ISSUE: chosen}
    if comment is not None:
        values[views.BLOCK_COMMENT] = comment
    result = world.driver.submit_view(ALICE, view, values)
    assert result.acked_in_time, result.elapsed
    assert result.problems == []
    return result


def remote_link(world: World, key: str, updates: int = 0) -> dict[str, Any]:
    """The issue's one remote link once Jira has it (and has updated it `updates` times): the bot adds
    it after the comment, so it may come a moment after the comment's answer."""
    def found() -> dict[str, Any] | None:
        links = world.atlassian.remote_links(key)
        assert len(links) <= 1, links
        return links[0] if links and links[0]["updates"] >= updates else None

    return world.slack.wait_for(found, 15, message=f"the remote link on {key}")


def comment_posts(world: World, key: str, count: int | None = None) -> list[Any]:
    """The comment requests Jira got, once ``count`` of them (default: all so far) are answered."""
    def answered() -> list[Any] | None:
        posts = world.atlassian.requests_to(rf"/rest/api/[23]/issue/{key}/comment$", "POST")
        wanted = max(len(posts), 1) if count is None else count
        return posts if len(posts) >= wanted and all(p.status is not None for p in posts) else None

    return world.slack.wait_for(answered, 15, message=f"comments on {key} answered")


def result_of(world: World, form: dict[str, Any]) -> dict[str, Any]:
    """The modal once the add is over (at once, or after "Adding…" when Jira was slow)."""
    return wait_view(world, form["id"], views.VIEW_ADD_RESULT)


def thread_replies(world: World, ts: str) -> list[dict[str, Any]]:
    return [m for m in world.slack.messages if m.get("thread_ts") == ts and m.get("bot_id")]


def links_of(world: World, ts: str, channel: str = CHANNEL) -> list[Any]:
    return world.bot.run(world.bot.storage.issue_links.for_message(world.slack.team_id, channel, ts))


def replay(world: World, result: SlackResult) -> SlackResult:
    body = urlencode({"payload": json.dumps(result.payload, separators=(",", ":"))}).encode()
    return world.driver.post_raw(body, retry_num=1, retry_reason="http_timeout")


# Choosing the issue ----------------------------------------------------------------------------------------

def test_an_empty_query_lists_the_users_recent_issues_newest_first(world: World) -> None:
    old = seed(world, "Old printer trouble")
    newer = seed(world, "Coffee machine leaks")
    bobs = seed(world, "Bob's own issue", reporter=BOB_ACCOUNT)
    world.atlassian.advance(60)
    world.atlassian.note_viewed(ALICE_ACCOUNT, old)  # looked at again in Jira
    _, form = open_form(world)
    listed = options(world, form, "")
    assert [o["value"] for o in listed] == [old, newer]
    assert listed[0]["text"]["text"] == f"{old}: Old printer trouble"
    assert bobs not in text_of(listed)
    (picker,) = world.atlassian.requests_to(r"/issue/picker$", "GET")
    expected = "/rest/api/3/issue/picker" if world.cloud else "/jira/rest/api/2/issue/picker"
    assert picker.path.endswith(expected)


def test_a_key_finds_the_issue_even_when_the_picker_does_not_list_it(world: World) -> None:
    seed(world, "Mine")
    other = seed(world, "Someone else's crash", reporter=BOB_ACCOUNT)
    _, form = open_form(world)
    listed = options(world, form, other.lower())
    assert [o["value"] for o in listed] == [other]
    assert listed[0]["text"]["text"] == f"{other}: Someone else's crash"
    picked = world.atlassian.requests_to(r"/issue/picker$", "GET")[-1]
    assert picked.query["query"] == other.lower()
    assert world.atlassian.requests_to(rf"/issue/{other}$", "GET")


def test_text_searches_the_picker(world: World) -> None:
    mine = seed(world, "Printer jams on page two")
    theirs = seed(world, "The printer is out of toner", reporter=BOB_ACCOUNT)
    seed(world, "Coffee machine leaks", reporter=BOB_ACCOUNT)
    _, form = open_form(world)
    listed = options(world, form, "print")
    assert [o["value"] for o in listed] == [mine, theirs]  # history first, then the current search
    assert options(world, form, "nothing like this") == []


def test_options_answer_in_time_while_jira_is_slow(cloud: World) -> None:
    seed(cloud, "Printer jams")
    _, form = open_form(cloud)
    cloud.atlassian.set_latency(4.0, path_regex=r"/issue/picker$")
    answer = cloud.driver.options(ALICE, form, views.ACTION_ISSUE, views.BLOCK_ISSUE, "")
    assert answer == {"options": []}
    # A key is read directly: it is offered even while the picker is still searching.
    answer = cloud.driver.options(ALICE, form, views.ACTION_ISSUE, views.BLOCK_ISSUE, "ENG-1")
    assert [o["value"] for o in answer["options"]] == ["ENG-1"]


# The form --------------------------------------------------------------------------------------------------

def test_the_modal_opens_at_once_and_the_comment_is_prefilled(world: World) -> None:
    world.atlassian.set_latency(1.5)
    result = shortcut(world, text="Printer <@U0BOB0001> on *fire*\nsecond line")
    assert result.elapsed < 1.0
    view_id = opened_view(world, result)
    assert views.LOADING_TEXT in text_of(world.slack.calls_to("views.open")[-1].params["view"])
    form = wait_view(world, view_id)
    labels = [b["label"]["text"] for b in form["blocks"] if b["type"] == "input"]
    assert labels == ["Issue", "Comment"]
    permalink = world.slack.permalink(CHANNEL, result.payload["message_ts"])
    comment = block(form, views.BLOCK_COMMENT)["element"]["initial_value"]
    assert comment == (f"Bob Builder wrote in #general:\nPrinter @bob on *fire*\nsecond line\n\n"
                       f"From a Slack message: {permalink}")
    assert "Commenting as *Alice Anders*" in text_of(form)


def test_an_unlinked_user_is_pointed_to_jira_connect(bot, slack, atlassian, driver) -> None:
    world = cloud_world(bot, slack, atlassian, driver)
    install(world)
    view = wait_view(world, opened_view(world, shortcut(world)), ids.VIEW_CONNECT)
    assert "`/jira connect`" in text_of(view) and not [b for b in view["blocks"] if b["type"] == "input"]
    assert find_elements(view["blocks"], ids.ACTION_CONNECT_LINK)[0]["text"]["text"] == "Connect to Jira"


# Adding ----------------------------------------------------------------------------------------------------

def test_adds_the_comment_the_remote_link_and_the_card_in_the_thread(world: World) -> None:
    key = seed(world, "Printer trouble")
    result, form = open_form(world)
    ts = result.payload["message_ts"]
    permalink = world.slack.permalink(CHANNEL, ts)
    answer = submit(world, form, key)
    assert answer.response_action == "update"
    done = result_of(world, form)
    assert key in text_of(done) and views.LINK_NOTE in text_of(done)
    (post,) = comment_posts(world, key, 1)
    assert post.status == 201
    assert post.path.startswith("/ex/jira/" if world.cloud else "/jira/rest/api/2/")
    body = post.json["body"]
    if world.cloud:
        assert body["type"] == "doc"
        assert body["content"][0]["content"][0]["text"] == "Bob Builder wrote in #general:"
        assert {"type": "text", "text": "fire", "marks": [{"type": "strong"}]} in text_nodes(body)
        assert body["content"][-1]["content"][1]["marks"][0]["attrs"]["href"] == permalink
    else:
        assert body == (f"Bob Builder wrote in #general:\nThe printer is on *fire* again\n\n"
                        f"From a Slack message: [{permalink}]")
    link = remote_link(world, key)
    assert link["globalId"] == permalink and link["object"]["url"] == permalink
    assert link["object"]["title"] == "Slack: #general — The printer is on fire again"
    (reply,) = world.slack.wait_for(lambda: thread_replies(world, ts))
    assert f"<@{ALICE}> added this message to {key}" in reply["text"]
    assert f"<{world.site_url}/browse/{key}|{key}>" in text_of(reply["blocks"])
    assert find_elements(reply["blocks"], ids.ACTION_CARD_ASSIGN)  # the issue card, with its actions
    assert f"Added by <@{ALICE}>" in text_of(reply["blocks"])
    assert [(x.issue_key, x.created_by) for x in links_of(world, ts)] == [(key, ALICE)]


def text_nodes(doc: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(doc, dict):
        if doc.get("type") == "text":
            found.append(doc)
        for child in doc.get("content") or []:
            found += text_nodes(child)
    return found


def test_a_long_message_with_code_emoji_and_a_mention_becomes_a_valid_comment(world: World) -> None:
    key = seed(world, "Printer trouble")
    paragraph = ("Hey <@U0BOB0001>, see <https://example.com/docs|the docs> and `inline code` :tada:\n"
                 "```for i in range(3):\n    print(i)```\n> quoted *bold* _italic_ ~gone~\n\n")
    text = (paragraph * 50)[:5990] + "\n\nTHE-END-MARKER"
    result, form = open_form(world, text=text)
    comment = block(form, views.BLOCK_COMMENT)
    assert len(comment["element"]["initial_value"]) <= 3000
    assert comment["hint"]["text"] == views.LONG_MESSAGE_HINT
    submit(world, form, key)
    (post,) = comment_posts(world, key, 1)
    assert post.status == 201  # the emulator validates ADF (Cloud) and wiki bodies as Jira does
    dumped = text_of(post.json["body"])
    assert "THE-END-MARKER" in dumped and "@bob" in dumped and "<@U0BOB0001>" not in dumped
    assert "🎉" in dumped
    if world.cloud:
        assert '"codeBlock"' in dumped and '"href": "https://example.com/docs"' in dumped
    else:
        assert "{noformat}" in dumped and "[the docs|https://example.com/docs]" in dumped
    link = remote_link(world, key)
    assert link["object"]["title"].startswith("Slack: #general — Hey @bob, see the docs")
    world.slack.wait_for(lambda: thread_replies(world, result.payload["message_ts"]))


def test_the_same_message_added_twice_makes_two_comments_and_one_link(world: World) -> None:
    key = seed(world, "Printer trouble")
    first, form = open_form(world)
    ts = first.payload["message_ts"]
    answer = submit(world, form, key)
    result_of(world, form)
    again = replay(world, answer)  # Slack's retry of the same submission: nothing more
    assert again.status_code == 200 and key in again.text
    assert len(comment_posts(world, key, 1)) == 1
    world.slack.wait_for(lambda: thread_replies(world, ts))
    _, form = open_form(world, ts=ts)  # on purpose, a second time
    submit(world, form, key, comment="Still burning")
    posts = comment_posts(world, key, 2)
    assert [p.status for p in posts] == [201, 201]
    link = remote_link(world, key, updates=1)
    assert link["globalId"] == world.slack.permalink(CHANNEL, ts) and link["updates"] == 1
    assert [x.issue_key for x in links_of(world, ts)] == [key]
    world.slack.wait_for(lambda: len(thread_replies(world, ts)) == 2)


def test_the_create_shortcut_then_shows_the_issue_the_message_was_added_to(cloud: World) -> None:
    key = seed(cloud, "Printer trouble")
    result, form = open_form(cloud)
    submit(cloud, form, key)
    # The message→issue link is recorded at the end of the add, maybe after the ack ("Adding…"): the
    # create shortcut only finds it once the add is over.
    result_of(cloud, form)
    ts = result.payload["message_ts"]
    create = shortcut(cloud, ts=ts, callback_id=ids.SHORTCUT_CREATE_ISSUE)
    asking = wait_view(cloud, opened_view(cloud, create), create_views.VIEW_CREATE_ANOTHER)
    assert "already has a Jira issue" in text_of(asking) and key in text_of(asking)
    assert f"linked by <@{ALICE}>" in text_of(asking)
    (link,) = links_of(cloud, ts)
    assert link.added and link.kind == "added"


def test_where_the_bot_cannot_post_the_user_is_told_privately(world: World) -> None:
    key = seed(world, "Printer trouble")
    secret = "G0SECRET1"  # a private channel: chat:write.public does not reach it
    world.slack.add_channel(secret, "secret", is_private=True, bot_member=False)
    result, form = open_form(world, channel=secret)
    submit(world, form, key)
    (dm,) = world.slack.wait_for(lambda: [c for c in world.slack.calls_to("chat.postMessage")
                                          if c.params.get("channel") == ALICE and c.ok
                                          and key in c.params["text"]])
    assert key in dm.params["text"] and f"<#{secret}>" in dm.params["text"]
    assert "/invite @Jira" in dm.params["text"]
    assert thread_replies(world, result.payload["message_ts"]) == []
    assert len(comment_posts(world, key, 1)) == 1


def test_an_issue_that_is_gone_is_shown_on_the_issue_input(world: World) -> None:
    key = seed(world, "Printer trouble")
    _, form = open_form(world)
    chosen = next(o for o in options(world, form, key) if o["value"] == key)
    world.atlassian.delete_issue(key)  # someone deletes it while the form is open
    answer = world.driver.submit_view(ALICE, form, {views.BLOCK_ISSUE: chosen})
    assert answer.json() == {"response_action": "errors", "errors": {
        views.BLOCK_ISSUE: f"{key} doesn't exist any more, or you can't see it. Choose another issue."}}
    assert [p.status for p in comment_posts(world, key)] == [404]
    assert [c for c in world.slack.calls_to("chat.postMessage") if key in str(c.params)] == []


def test_a_user_who_may_not_comment_gets_a_clear_error_and_nothing_is_added(world: World) -> None:
    key = seed(world, "Printer trouble")
    world.atlassian.deny_permission(ALICE_ACCOUNT, "comment", key)
    _, form = open_form(world)
    chosen = next(o for o in options(world, form, key) if o["value"] == key)
    answer = world.driver.submit_view(ALICE, form, {views.BLOCK_ISSUE: chosen})
    refused = f"Jira says you can't comment on {key}. Choose another issue, or ask a Jira admin."
    assert answer.json() == {"response_action": "errors", "errors": {views.BLOCK_ISSUE: refused}}
    assert [p.status for p in comment_posts(world, key)] == [403]
    assert world.atlassian.comments(key) == [] and world.atlassian.remote_links(key) == []
    world.atlassian.allow_permission(ALICE_ACCOUNT, "comment", key)
    fixed = submit(world, form, key)  # the same form, once allowed
    assert fixed.response_action == "update" and key in text_of(result_of(world, form))
    assert len(world.atlassian.comments(key)) == 1


def submission_payload(world: World, view: dict[str, Any], key: str) -> dict[str, Any]:
    """The view_submission Slack sends for the form with ``key`` chosen (one payload, to send twice)."""
    chosen = next(o for o in options(world, view, key) if o["value"] == key)
    comment = block(view, views.BLOCK_COMMENT)["element"]["initial_value"]
    values = {views.BLOCK_ISSUE: {views.ACTION_ISSUE: {"type": "external_select", "selected_option": chosen}},
              views.BLOCK_COMMENT: {views.ACTION_COMMENT: {"type": "plain_text_input", "value": comment}}}
    return {
        "type": "view_submission", "team": {"id": world.slack.team_id, "domain": world.slack.team_domain},
        "user": {"id": ALICE, "username": "alice", "name": "alice", "team_id": world.slack.team_id},
        "api_app_id": world.slack.app_id, "token": world.driver.verification_token,
        "is_enterprise_install": False,
        "trigger_id": world.slack.new_trigger_id(ALICE, view_id=view["id"]),
        "view": {**world.slack.view(view["id"]), "state": {"values": values}}, "response_urls": [],
    }


def test_a_double_click_while_jira_is_slow_adds_one_comment(cloud: World) -> None:
    key = seed(cloud, "Printer trouble")
    result, form = open_form(cloud)
    body = urlencode({"payload": json.dumps(submission_payload(cloud, form, key))}).encode()
    cloud.atlassian.set_latency(1.0, path_regex=r"/comment$", method="POST")
    answers: list[SlackResult] = []
    clicks = [threading.Thread(target=lambda: answers.append(cloud.driver.post_raw(body))) for _ in range(2)]
    for click in clicks:
        click.start()
    for click in clicks:
        click.join(15)
    assert sorted(a.status_code for a in answers) == [200, 200] and all(a.elapsed < 3 for a in answers)
    assert [key in a.text for a in answers] == [True, True]
    assert len(comment_posts(cloud, key)) == 1 and len(cloud.atlassian.comments(key)) == 1
    ts = result.payload["message_ts"]
    cloud.slack.wait_for(lambda: thread_replies(cloud, ts))
    assert len(thread_replies(cloud, ts)) == 1


def test_a_slow_add_shows_adding_and_then_the_result(cloud: World) -> None:
    key = seed(cloud, "Printer trouble")
    result, form = open_form(cloud)
    cloud.atlassian.set_latency(2.6, path_regex=r"/comment$", method="POST")
    answer = submit(cloud, form, key)
    assert answer.response_action == "update"
    assert f"Adding the message to {key}" in text_of(answer.json()["view"])
    done = wait_view(cloud, form["id"], views.VIEW_ADD_RESULT)
    assert key in text_of(done)
    cloud.slack.wait_for(lambda: thread_replies(cloud, result.payload["message_ts"]))


def test_a_server_error_after_sending_is_not_resent_and_says_check_the_issue(cloud: World) -> None:
    key = seed(cloud, "Printer trouble")
    _, form = open_form(cloud)
    cloud.atlassian.fail_next(rf"/issue/{key}/comment$", 502, method="POST", body={"errorMessages": []})
    answer = submit(cloud, form, key)
    view = answer.json()["view"]
    assert "didn't confirm whether the comment was added" in text_of(view)
    check = find_elements(view["blocks"], views.ACTION_CHECK_ISSUE)
    assert check and check[0]["url"] == f"{cloud.site_url}/browse/{key}"
    assert [p.status for p in comment_posts(cloud, key)] == [502]  # a comment is never blindly resent
    again = replay(cloud, answer)
    assert "didn't confirm" in again.text and len(comment_posts(cloud, key)) == 1


def test_when_jira_refuses_the_link_the_comment_stays_and_the_form_says_so(world: World) -> None:
    key = seed(world, "Printer trouble")
    result, form = open_form(world)
    world.atlassian.fail_next(rf"/issue/{key}/remotelink$", 403, method="POST",
                              body={"errorMessages": ["You do not have the permission to link issues."]})
    submit(world, form, key)
    assert views.NO_LINK_NOTE in text_of(result_of(world, form))
    assert len(world.atlassian.comments(key)) == 1 and world.atlassian.remote_links(key) == []
    world.slack.wait_for(lambda: thread_replies(world, result.payload["message_ts"]))
