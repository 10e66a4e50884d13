"""Creating Jira issues from Slack messages, end to end: the bot served for real against the Slack and
Atlassian emulators, Cloud and Data Center."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from bot.slack import ids
from bot.slack.app import BOT_SCOPES
from bot.slack.views import create_issue as views
from tests.e2e.flows import (
    ALICE,
    ALICE_ACCOUNT,
    BOB,
    BOB_ACCOUNT,
    World,
    authorize,
    button_url,
    cloud_world,
    datacenter_world,
    find_elements,
    install,
    jira_issues,
    link_user,
    settled_view,
)
from tests.emulators.atlassian import standard_fields
from tests.emulators.slack_driver import SlackResult, state_value_option, state_value_text
from tests.harness import wait_for

CHANNEL = "C0GENERAL"
FORM = ids.VIEW_CREATE_ISSUE


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

def shortcut(world: World, text: str = "Printer on *fire*\nIt smells of smoke", *, user: str = ALICE,
             channel: str = CHANNEL, **message: Any) -> SlackResult:
    result = world.driver.message_shortcut(user, channel, {"text": text, "user": BOB, **message})
    assert result.status_code == 200 and result.acked_in_time
    return result


def opened_view(world: World, result: SlackResult) -> str:
    call = world.slack.wait_for_call("views.open",
                                     where=lambda c: c.params.get("trigger_id") == result.trigger_id)
    assert call.ok, call.response
    return str(call.response["view"]["id"])


def wait_view(world: World, view_id: str, callback_id: str = FORM, timeout: float = 10.0,
              containing: str = "") -> dict[str, Any]:
    def current() -> dict[str, Any] | None:
        view = world.slack.view(view_id)
        found = view.get("callback_id") == callback_id and containing in json.dumps(view, ensure_ascii=False)
        return view if found else None

    return world.slack.wait_for(current, timeout, message=f"view {view_id} showing {callback_id}")


def open_form(world: World, **kwargs: Any) -> tuple[SlackResult, dict[str, Any]]:
    result = shortcut(world, **kwargs)
    return result, wait_view(world, opened_view(world, result))


def block(view: dict[str, Any], prefix: str) -> dict[str, Any]:
    found = [b for b in view["blocks"] if str(b.get("block_id", "")).startswith(prefix)]
    assert found, f"no block {prefix}: {[b.get('block_id') for b in view['blocks']]}"
    return found[0]


def field_block(view: dict[str, Any], field_id: str) -> dict[str, Any]:
    found = [b for b in view["blocks"] if str(b.get("block_id", "")).startswith(f"{views.BLOCK_FIELD}.")
             and str(b["block_id"]).endswith(f".{field_id}")]
    assert found, f"no input for {field_id}: {[b.get('block_id') for b in view['blocks']]}"
    return found[0]


def text_of(view: dict[str, Any]) -> str:
    return json.dumps(view["blocks"], ensure_ascii=False)


def thread_replies(world: World, ts: str) -> list[dict[str, Any]]:
    return [m for m in world.slack.messages if m.get("thread_ts") == ts and m.get("bot_id")]


def links_of(world: World, ts: str, channel: str = CHANNEL) -> list[Any]:
    return world.bot.run(world.bot.storage.issue_links.for_message(world.slack.team_id, channel, ts))


def ephemerals_with(world: World, containing: str, user: str = ALICE) -> list[dict[str, Any]]:
    return world.slack.wait_for(lambda: [e for e in world.slack.ephemerals
                                         if e.get("user") == user and containing in e["text"]])


def issue_posts(world: World) -> list[Any]:
    return world.atlassian.requests_to(r"/rest/api/[23]/issue$", "POST")


def replay(world: World, result: SlackResult, **send: Any) -> SlackResult:
    """Delivers the same view submission again (Slack's retry, or a second click)."""
    body = urlencode({"payload": json.dumps(result.payload, separators=(",", ":"))}).encode()
    return world.driver.post_raw(body, **send)


def submission_payload(world: World, view: dict[str, Any], user: str = ALICE) -> dict[str, Any]:
    """The view_submission Slack sends for the form as it was filled in (one payload, to send twice)."""
    project = block(view, views.BLOCK_PROJECT)
    issue_type = block(view, views.BLOCK_ISSUE_TYPE)
    values = {
        project["block_id"]: {views.ACTION_PROJECT: state_value_option(
            project["element"]["initial_option"]["text"]["text"], "ENG", "external_select")},
        issue_type["block_id"]: {views.ACTION_ISSUE_TYPE: state_value_option(
            "Task", issue_type["element"]["initial_option"]["value"])},
        views.BLOCK_SUMMARY: {views.ACTION_SUMMARY: state_value_text("Printer on fire")},
        views.BLOCK_DESCRIPTION: {views.ACTION_DESCRIPTION: state_value_text("On fire")},
    }
    return {
        "type": "view_submission", "team": {"id": world.slack.team_id, "domain": world.slack.team_domain},
        "user": {"id": user, "username": "alice", "name": "alice", "team_id": world.slack.team_id},
        "api_app_id": world.slack.app_id, "token": world.driver.verification_token,
        "is_enterprise_install": False,
        "trigger_id": world.slack.new_trigger_id(user, view_id=view["id"]),
        "view": {**world.slack.view(view["id"]), "state": {"values": values}}, "response_urls": [],
    }


def submit(world: World, view: dict[str, Any], values: dict[str, Any] | None = None) -> SlackResult:
    result = world.driver.submit_view(ALICE, view, values or {})
    assert result.acked_in_time, result.elapsed
    assert result.problems == []
    return result


# Opening the modal --------------------------------------------------------------------------------------

def test_the_modal_opens_within_a_second_while_jira_takes_seconds(cloud: World) -> None:
    cloud.atlassian.set_latency(1.5)
    result = shortcut(cloud)
    assert result.elapsed < 1.0
    # views.open follows the ack: wait for it rather than assume it came first.
    cloud.slack.wait_for(lambda: cloud.slack.trigger_latency(result.trigger_id) is not None, timeout=10)
    latency = cloud.slack.trigger_latency(result.trigger_id)
    assert latency is not None and latency < 1.0
    view_id = opened_view(cloud, result)
    opened = cloud.slack.calls_to("views.open")[-1].params["view"]
    assert views.LOADING_TEXT in text_of(opened)
    form = wait_view(cloud, view_id, timeout=20)
    assert block(form, views.BLOCK_SUMMARY)["element"]["initial_value"] == "Printer on fire"
    assert block(form, views.BLOCK_PROJECT)["element"]["initial_option"]["value"] == "ENG"


def test_the_form_is_prefilled_from_the_message(cloud: World) -> None:
    result, form = open_form(cloud, text="Printer <@U0BOB0001> on *fire*\nsecond line")
    labels = [b["label"]["text"] for b in form["blocks"] if b["type"] == "input"]
    assert labels == ["Project", "Issue type", "Summary", "Description"]
    assert block(form, views.BLOCK_SUMMARY)["element"]["initial_value"] == "Printer @bob on fire"
    description = block(form, views.BLOCK_DESCRIPTION)["element"]["initial_value"]
    permalink = cloud.slack.permalink(CHANNEL, result.payload["message_ts"])
    assert description == f"Printer @bob on *fire*\nsecond line\n\nCreated from a Slack message: {permalink}"
    types = block(form, views.BLOCK_ISSUE_TYPE)["element"]
    assert [o["text"]["text"] for o in types["options"]] == ["Task", "Bug"]
    assert "Creating as *Alice Anders*" in text_of(form)


def test_a_message_without_text_leaves_the_summary_to_write(cloud: World) -> None:
    _, form = open_form(cloud, text="", files=[{"id": "F1", "name": "crash-report.pdf"}])
    assert "initial_value" not in block(form, views.BLOCK_SUMMARY)["element"]
    description = block(form, views.BLOCK_DESCRIPTION)["element"]["initial_value"]
    assert description.startswith("Files: crash-report.pdf\n\nCreated from a Slack message: ")
    submit(cloud, form, {views.BLOCK_SUMMARY: "Crash report"})
    (issue,) = jira_issues(cloud)
    assert issue.fields["summary"] == "Crash report"
    assert "crash-report.pdf" in json.dumps(issue.fields["description"])


def test_an_unlinked_user_gets_a_connect_button_and_no_form(bot, slack, atlassian, driver) -> None:
    world = cloud_world(bot, slack, atlassian, driver)
    install(world)
    result = shortcut(world)
    view = wait_view(world, opened_view(world, result), ids.VIEW_CONNECT)
    assert not [b for b in view["blocks"] if b["type"] == "input"]
    assert "first connect your Jira account on acme.atlassian.net" in text_of(view)
    url = button_url(view)
    assert atlassian.requests_to(r"/issue/createmeta") == []
    assert authorize(url, ALICE_ACCOUNT).status_code == 200  # the button links the account
    _, form = open_form(world)
    assert block(form, views.BLOCK_PROJECT)["element"]["initial_option"]["value"] == "ENG"


def test_without_a_jira_install_the_admin_hint_is_shown(bot, slack, atlassian, driver) -> None:
    world = cloud_world(bot, slack, atlassian, driver)
    view = wait_view(world, opened_view(world, shortcut(world)), ids.VIEW_INFO)
    assert "admin must first run `/jira admin install`" in text_of(view)
    assert not find_elements(view["blocks"], ids.ACTION_CONNECT_LINK)


def test_a_revoked_authorization_asks_to_reconnect(cloud: World) -> None:
    cloud.atlassian.revoke(ALICE_ACCOUNT)
    view = wait_view(cloud, opened_view(cloud, shortcut(cloud)), ids.VIEW_CONNECT)
    assert "needs renewing" in text_of(view)
    assert find_elements(view["blocks"], ids.ACTION_CONNECT_LINK)[0]["text"]["text"] == "Reconnect to Jira"
    account = cloud.bot.run(cloud.bot.storage.accounts.get(cloud.slack.team_id, ALICE))
    assert account.needs_reconnect


# Creating ---------------------------------------------------------------------------------------------------

def test_creates_with_the_right_body_and_replies_in_the_thread(world: World) -> None:
    result, form = open_form(world)
    ts = result.payload["message_ts"]
    answer = submit(world, form)
    assert answer.response_action == "update"
    created = settled_view(world, answer)
    assert "ENG-1" in text_of(created)
    (issue,) = jira_issues(world)
    assert issue.key == "ENG-1" and issue.creator == ALICE_ACCOUNT
    assert issue.fields["summary"] == "Printer on fire"
    permalink = world.slack.permalink(CHANNEL, ts)
    (post,) = issue_posts(world)
    if world.cloud:
        assert issue.api_version == "3" and "/rest/api/3/issue" in post.path
        description = issue.fields["description"]
        assert description["type"] == "doc"
        assert description["content"][0]["content"][1] == {"type": "text", "text": "fire",
                                                          "marks": [{"type": "strong"}]}
        assert description["content"][-1]["content"][1]["marks"][0]["attrs"]["href"] == permalink
    else:
        assert issue.api_version == "2" and post.path == "/jira/rest/api/2/issue"
        assert issue.fields["description"] == (f"Printer on *fire*\nIt smells of smoke\n\n"
                                               f"Created from a Slack message: [{permalink}]")
    (reply,) = world.slack.wait_for(lambda: thread_replies(world, ts))
    url = f"{world.site_url}/browse/ENG-1"
    assert f"<{url}|ENG-1>" in reply["blocks"][0]["text"]["text"]
    assert "Printer on fire" in reply["text"] and f"<@{ALICE}>" in reply["text"]
    assert f"Created by <@{ALICE}>" in text_of(reply) and "*Type*\\nTask" in text_of(reply)
    assert find_elements(reply["blocks"], ids.ACTION_CARD_ASSIGN)  # the reply is the issue card
    (link,) = links_of(world, ts)
    assert (link.issue_key, link.issue_url, link.created_by) == ("ENG-1", url, ALICE)
    account = world.bot.run(world.bot.storage.accounts.get(world.slack.team_id, ALICE))
    assert account.last_project_key == "ENG"


def test_a_project_with_required_custom_fields(cloud: World) -> None:
    site, atlassian = cloud.site, cloud.atlassian
    def required(kind: str, name: str, **options: Any) -> str:
        return str(atlassian.add_custom_field(site, "ENG", kind, name=name, issue_types=["Task"],
                                              **options)["fieldId"])

    severity = required("option", "Severity", options=["Low", "High"])
    points = required("number", "Story points")
    due = required("date", "Due")
    tags = required("labels", "Tags")
    approver = required("user", "Approver")
    _, form = open_form(cloud)
    fields = (severity, points, due, tags, approver)
    kinds = {fid: field_block(form, fid)["element"]["type"] for fid in fields}
    assert kinds == {severity: "static_select", points: "number_input", due: "datepicker",
                     tags: "plain_text_input", approver: "external_select"}
    approver_block = field_block(form, approver)
    options = cloud.driver.options(ALICE, form, approver_block["element"]["action_id"],
                                   approver_block["block_id"], "bob")
    bob = next(o for o in options["options"] if o["value"] == BOB_ACCOUNT)
    assert bob["text"]["text"] == "Bob Builder (bob@acme.test)"
    submit(cloud, form, {
        field_block(form, severity)["block_id"]: "High",
        field_block(form, points)["block_id"]: "5",
        field_block(form, due)["block_id"]: "2026-06-01",
        field_block(form, tags)["block_id"]: "printer, urgent",
        approver_block["block_id"]: bob,
    })
    (issue,) = jira_issues(cloud)
    task = atlassian.project(site, "ENG").issue_type({"name": "Task"})
    high = next(v for v in task.field(severity)["allowedValues"] if v["value"] == "High")
    assert issue.fields[severity] == {"id": high["id"]}
    assert issue.fields[points] == 5
    assert issue.fields[due] == "2026-06-01"
    assert issue.fields[tags] == ["printer", "urgent"]
    assert issue.fields[approver] == {"accountId": BOB_ACCOUNT}


def test_a_required_field_the_modal_cannot_show_is_named_with_a_link_to_jira(cloud: World) -> None:
    cloud.atlassian.add_custom_field(cloud.site, "ENG", "any", name="Mystery field", issue_types=["Task"])
    _, form = open_form(cloud)
    section = next(b for b in form["blocks"]
                   if b["type"] == "section" and "Mystery field" in b["text"]["text"])
    url = section["accessory"]["url"]
    query = parse_qs(urlsplit(url).query)
    project = cloud.atlassian.project(cloud.site, "ENG")
    assert url.startswith("https://acme.atlassian.net/secure/CreateIssueDetails!init.jspa?")
    assert query["pid"] == [project.id] and query["issuetype"] == [project.issue_type({"name": "Task"}).id]
    assert query["summary"] == ["Printer on fire"]
    answer = submit(cloud, form)
    assert answer.response_action == "update"
    notice = settled_view(cloud, answer)["blocks"][0]["text"]["text"]
    assert "Jira didn't accept the issue" in notice and "Mystery field is required." in notice
    assert cloud.atlassian.issues() == []


def test_jira_field_errors_are_shown_on_their_inputs_and_a_fixed_form_creates(cloud: World) -> None:
    points = cloud.atlassian.add_custom_field(cloud.site, "ENG", "number", name="Story points")["fieldId"]
    _, form = open_form(cloud)
    points_block = field_block(form, points)["block_id"]
    cloud.atlassian.fail_next(r"/rest/api/3/issue$", 400, method="POST", body={
        "errorMessages": [], "errors": {"summary": "Summary is too vague.", points: "Must be below 100."}})
    answer = submit(cloud, form, {points_block: "500"})
    assert answer.json() == {"response_action": "errors", "errors": {
        views.BLOCK_SUMMARY: "Summary is too vague.", points_block: "Must be below 100."}}
    assert cloud.atlassian.issues() == []
    fixed = submit(cloud, form, {points_block: "8", views.BLOCK_SUMMARY: "The printer is on fire"})
    assert fixed.response_action == "update"
    (issue,) = jira_issues(cloud)
    assert issue.fields[points] == 8 and issue.fields["summary"] == "The printer is on fire"


def test_a_429_is_waited_out_and_one_issue_is_created(cloud: World) -> None:
    _, form = open_form(cloud)
    cloud.atlassian.fail_next(r"/rest/api/3/issue$", 429, method="POST", headers={"Retry-After": "1"},
                              body={"errorMessages": ["Rate limit exceeded."]})
    answer = submit(cloud, form)
    assert "ENG-1" in text_of(settled_view(cloud, answer))
    assert [r.status for r in issue_posts(cloud)] == [429, 201]
    assert len(cloud.atlassian.issues()) == 1


def test_a_submission_delivered_again_creates_one_issue(cloud: World) -> None:
    result, form = open_form(cloud)
    first = submit(cloud, form)
    again = replay(cloud, first, retry_num=1, retry_reason="http_timeout")
    assert again.status_code == 200
    assert again.json()["response_action"] == "update"
    again.view_id = form["id"]
    assert "ENG-1" in text_of(settled_view(cloud, again))
    jira_issues(cloud)
    assert len(cloud.atlassian.issues()) == 1 and len(issue_posts(cloud)) == 1
    ts = result.payload["message_ts"]
    cloud.slack.wait_for(lambda: thread_replies(cloud, ts))
    assert len(thread_replies(cloud, ts)) == 1 and len(links_of(cloud, ts)) == 1


def test_a_double_click_while_jira_is_slow_creates_one_issue(cloud: World) -> None:
    _, form = open_form(cloud)
    cloud.atlassian.set_latency(1.0, path_regex=r"/rest/api/3/issue$", method="POST")
    body = urlencode({"payload": json.dumps(submission_payload(cloud, form))}).encode()
    answers: list[SlackResult] = []
    clicks = [threading.Thread(target=lambda: answers.append(cloud.driver.post_raw(body))) for _ in range(2)]
    for click in clicks:
        click.start()
    for click in clicks:
        click.join(15)
    assert sorted(a.status_code for a in answers) == [200, 200]
    assert all(a.elapsed < 3 for a in answers)
    # The second click waited for the first one's create and shows its result too (or, on a machine
    # too busy to finish within the ack budget, "Creating…", which the result then replaces).
    shown = [text_of(a.json()["view"]) for a in answers]
    assert all("ENG-1" in text or views.CREATING_TEXT in text for text in shown), shown
    if not all("ENG-1" in text for text in shown):
        assert "ENG-1" in text_of(wait_view(cloud, form["id"], views.VIEW_CREATE_RESULT))
    jira_issues(cloud)
    assert len(cloud.atlassian.issues()) == 1 and len(issue_posts(cloud)) == 1


def test_a_slow_create_shows_creating_and_then_the_result(cloud: World) -> None:
    result, form = open_form(cloud)
    cloud.atlassian.set_latency(2.6, path_regex=r"/rest/api/3/issue$", method="POST")
    answer = submit(cloud, form)
    assert answer.response_action == "update"
    assert views.CREATING_TEXT in text_of(answer.json()["view"])
    done = wait_view(cloud, form["id"], views.VIEW_CREATE_RESULT, timeout=10)
    assert "ENG-1" in text_of(done)
    cloud.slack.wait_for(lambda: thread_replies(cloud, result.payload["message_ts"]))


def test_in_a_public_channel_the_bot_has_not_joined_it_replies_in_the_thread(cloud: World) -> None:
    # chat:write.public (in manifest.yml and the scopes a Slack install asks for) allows it.
    assert "chat:write.public" in BOT_SCOPES
    cloud.slack.set_bot_not_in_channel(CHANNEL)
    result, form = open_form(cloud)
    submit(cloud, form)
    (reply,) = cloud.slack.wait_for(lambda: thread_replies(cloud, result.payload["message_ts"]))
    assert "ENG-1" in reply["text"] and reply["channel"] == CHANNEL
    assert [c for c in cloud.slack.calls_to("chat.postMessage")
            if c.params.get("channel") == ALICE and "ENG-1" in c.params["text"]] == []


@pytest.mark.parametrize("private", [False, True])
def test_where_the_bot_cannot_post_the_user_is_told_by_dm(cloud: World, private: bool,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    channel = "G0SECRET1" if private else CHANNEL
    if private:
        cloud.slack.add_channel(channel, "secret", is_private=True, bot_member=False)
    else:  # a public channel not joined, in a workspace that installed the app without chat:write.public
        scopes = [s for s in cloud.slack.bot_scopes.split(",") if s != "chat:write.public"]
        monkeypatch.setattr(cloud.slack, "bot_scopes", ",".join(scopes))
        cloud.slack.set_bot_not_in_channel(channel)
    result, form = open_form(cloud, channel=channel)
    submit(cloud, form)
    dm = cloud.slack.wait_for(lambda: [c for c in cloud.slack.calls_to("chat.postMessage")
                                       if c.params.get("channel") == ALICE and c.ok
                                       and "ENG-1" in c.params["text"]])
    assert "ENG-1" in dm[0].params["text"] and f"<#{channel}>" in dm[0].params["text"]
    assert "/invite @Jira" in dm[0].params["text"]
    assert thread_replies(cloud, result.payload["message_ts"]) == []
    assert [link.issue_key for link in links_of(cloud, result.payload["message_ts"], channel)] == ["ENG-1"]


def test_when_the_thread_refuses_a_post_the_user_sees_it_ephemerally(cloud: World) -> None:
    _, form = open_form(cloud)
    cloud.slack.fail_next("chat.postMessage", "restricted_action")
    submit(cloud, form)
    ephemeral = ephemerals_with(cloud, "ENG-1")
    assert ephemeral[0]["channel"] == CHANNEL and "/invite @Jira" in ephemeral[0]["text"]


def test_a_token_revoked_before_submitting_asks_to_reconnect_and_keeps_the_form(cloud: World) -> None:
    _, form = open_form(cloud)
    cloud.atlassian.revoke(ALICE_ACCOUNT)
    answer = submit(cloud, form, {views.BLOCK_SUMMARY: "Kept summary"})
    assert answer.response_action == "update"
    again = settled_view(cloud, answer)
    assert "no longer accepts your connection" in again["blocks"][0]["text"]["text"]
    assert find_elements(again["blocks"], ids.ACTION_CONNECT_LINK)[0]["text"]["text"] == "Reconnect to Jira"
    assert block(again, views.BLOCK_SUMMARY)["element"]["initial_value"] == "Kept summary"
    assert cloud.atlassian.issues() == []


def test_a_long_message_with_mentions_links_code_and_emoji(cloud: World) -> None:
    paragraph = ("Hey <@U0BOB0001>, see <https://example.com/docs|the docs> and `inline code` :tada:\n"
                 "```for i in range(3):\n    print(i)```\n> quoted *bold* _italic_ ~gone~\n\n")
    text = (paragraph * 50)[:5990] + "\n\nTHE-END-MARKER"
    assert len(text) >= 6000
    result, form = open_form(cloud, text=text)
    description = block(form, views.BLOCK_DESCRIPTION)
    assert len(description["element"]["initial_value"]) <= 3000
    assert description["hint"]["text"] == views.LONG_MESSAGE_HINT
    submit(cloud, form)
    (issue,) = jira_issues(cloud)
    doc = issue.fields["description"]
    dumped = json.dumps(doc, ensure_ascii=False)
    assert "THE-END-MARKER" in dumped and "@bob" in dumped and "<@U0BOB0001>" not in dumped
    assert '"href": "https://example.com/docs"' in dumped
    assert '"codeBlock"' in dumped and '"blockquote"' in dumped and "🎉" in dumped
    permalink = cloud.slack.permalink(CHANNEL, result.payload["message_ts"])
    assert doc["content"][-1]["content"][1]["marks"][0]["attrs"]["href"] == permalink


def test_jira_create_opens_the_same_modal_without_a_message(cloud: World) -> None:
    result = cloud.driver.slash_command(ALICE, "create Fix the printer")
    assert result.status_code == 200 and result.acked_in_time and result.problems == []
    form = wait_view(cloud, opened_view(cloud, result))
    assert block(form, views.BLOCK_SUMMARY)["element"]["initial_value"] == "Fix the printer"
    assert "initial_value" not in block(form, views.BLOCK_DESCRIPTION)["element"]
    submit(cloud, form)
    (issue,) = jira_issues(cloud)
    assert issue.fields["summary"] == "Fix the printer" and "description" not in issue.fields
    ephemeral = ephemerals_with(cloud, "ENG-1")
    assert ephemeral[0]["text"].startswith("I created") and ephemeral[0]["channel"] == CHANNEL
    assert [m for m in cloud.slack.messages if m.get("bot_id") and m["channel"] == CHANNEL] == []


def test_a_second_attempt_shows_the_existing_issue_and_asks_first(cloud: World) -> None:
    result, form = open_form(cloud)
    ts = result.payload["message_ts"]
    submit(cloud, form)
    wait_for(lambda: links_of(cloud, ts), message="the issue linked to the message")
    again = shortcut(cloud, ts=ts)
    asking = wait_view(cloud, opened_view(cloud, again), views.VIEW_CREATE_ANOTHER)
    assert "already has a Jira issue" in text_of(asking) and "ENG-1" in text_of(asking)
    assert len(cloud.atlassian.issues()) == 1
    confirmed = cloud.driver.click_button(ALICE, {"action_id": views.ACTION_CREATE_ANOTHER}, view=asking)
    assert confirmed.status_code == 200
    form = wait_view(cloud, asking["id"])
    assert block(form, views.BLOCK_SUMMARY)["element"]["initial_value"] == "Printer on fire"
    submit(cloud, form)
    assert [i.key for i in jira_issues(cloud, 2)] == ["ENG-1", "ENG-2"]
    links = wait_for(lambda: len(links_of(cloud, ts)) == 2 and links_of(cloud, ts))
    assert [link.issue_key for link in links] == ["ENG-1", "ENG-2"]


def test_changing_project_and_issue_type_updates_the_form(cloud: World) -> None:
    atlassian, site = cloud.atlassian, cloud.site
    atlassian.add_project(site, "OPS", "Operations", [{"name": "Incident", "fields": standard_fields()}])
    bug_field = atlassian.add_custom_field(site, "ENG", "number", name="Severity score",
                                           issue_types=["Bug"])["fieldId"]
    _, form = open_form(cloud)
    assert "initial_option" not in block(form, views.BLOCK_PROJECT)["element"]  # two projects: none guessed
    assert views.CHOOSE_PROJECT in text_of(form)
    options = cloud.driver.options(ALICE, form, views.ACTION_PROJECT, views.BLOCK_PROJECT, "")
    assert [o["value"] for o in options["options"]] == ["ENG", "OPS"]
    before = len(cloud.slack.calls_to("views.update"))
    cloud.driver.select_option(ALICE, form, views.ACTION_PROJECT, views.BLOCK_PROJECT, options["options"][1])
    cloud.slack.wait_for(lambda: len(cloud.slack.calls_to("views.update")) > before)
    form = cloud.slack.view(form["id"])
    types = block(form, views.BLOCK_ISSUE_TYPE)
    assert types["block_id"] == "jira_issue_type.OPS"
    assert [o["text"]["text"] for o in types["element"]["options"]] == ["Incident"]
    assert block(form, views.BLOCK_SUMMARY)["element"]["initial_value"] == "Printer on fire"
    cloud.driver.select_option(ALICE, form, views.ACTION_PROJECT, views.BLOCK_PROJECT, options["options"][0])
    form = wait_view(cloud, form["id"], containing="jira_issue_type.ENG")
    types = block(form, views.BLOCK_ISSUE_TYPE)
    bug = next(o for o in types["element"]["options"] if o["text"]["text"] == "Bug")
    cloud.driver.select_option(ALICE, form, views.ACTION_ISSUE_TYPE, types["block_id"], bug)
    form = wait_view(cloud, form["id"], containing="Severity score")
    submit(cloud, form, {field_block(form, bug_field)["block_id"]: "3"})
    (issue,) = jira_issues(cloud)
    assert (issue.issue_type_name, issue.fields[bug_field]) == ("Bug", 3)


def test_the_workspace_default_project_is_preselected(cloud: World) -> None:
    cloud.atlassian.add_project(cloud.site, "OPS", "Operations",
                                [{"name": "Incident", "fields": standard_fields()}])
    cloud.bot.run(cloud.bot.storage.tenants.set_default_project(cloud.slack.team_id, "OPS", "Operations"))
    _, form = open_form(cloud)
    assert block(form, views.BLOCK_PROJECT)["element"]["initial_option"]["value"] == "OPS"


def test_tokens_no_key_decrypts_any_more_ask_to_reconnect_once_logged(
        cloud: World, database_url: str, caplog: pytest.LogCaptureFixture) -> None:
    from cryptography.fernet import Fernet

    from tests.emulators.slack_driver import SlackDriver
    from tests.harness import CLOUD_CLIENT_ID, CLOUD_CLIENT_SECRET, SIGNING_SECRET, BotHarness

    caplog.set_level(logging.WARNING, logger="storage.crypto")
    cloud.bot.stop()  # restarted with a new key only: the old one, which Alice's tokens need, is gone
    restarted = BotHarness.start(database_url=database_url, slack_api_url=cloud.slack.api_url,
                                 atlassian_url=cloud.atlassian.base_url,
                                 jirabot_encryption_key=Fernet.generate_key().decode())
    cloud.atlassian.add_cloud_app(CLOUD_CLIENT_ID, CLOUD_CLIENT_SECRET, [restarted.redirect_uri])
    try:
        with SlackDriver(restarted.url, SIGNING_SECRET, cloud.slack) as driver:
            world = World(restarted, cloud.slack, cloud.atlassian, driver, cloud=True, site=cloud.site)
            for _ in range(2):
                view = wait_view(world, opened_view(world, shortcut(world)), ids.VIEW_CONNECT)
                assert "needs renewing" in text_of(view)
                [button] = find_elements(view["blocks"], ids.ACTION_CONNECT_LINK)
                assert button["text"]["text"] == "Reconnect to Jira"
            logged = [r for r in caplog.records if r.getMessage() == "storage.secret_undecryptable"]
            assert len(logged) == 1 and logged[0].what == "jira_account_tokens"  # type: ignore[attr-defined]
            assert authorize(button["url"], ALICE_ACCOUNT).status_code == 200  # reconnecting mends it
            _, form = open_form(world)
            assert block(form, views.BLOCK_PROJECT)["element"]["initial_option"]["value"] == "ENG"
    finally:
        restarted.stop()
