"""Jira events into Slack channels, end to end on Cloud and Data Center: subscribe, receive created,
transitioned, commented and assigned events as one thread per issue with the card kept current, JQL
filters, restricted comments, refused deliveries, webhook upkeep, unsubscribing and unlinking."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid

import httpx
import pytest
from sqlalchemy import update

from bot.slack import ids
from storage.models import JiraAccount
from tests.e2e.flows import (
    ADMIN,
    ADMIN_ACCOUNT,
    ALICE,
    ALICE_ACCOUNT,
    BOB,
    BOB_ACCOUNT,
    World,
    authorize,
    button_url,
    click,
    cloud_world,
    datacenter_world,
    install,
    last_ephemeral,
    link_user,
)
from tests.e2e.notify_flows import (
    WAIT,
    card_of,
    card_status,
    channel_hooks,
    channel_posts,
    hooks_of,
    open_subscribe,
    replies,
    set_up_dc_webhook,
    submit_subscribe,
    subscribe,
    wait_card,
    wait_personal_hooks,
    wait_reply,
)
from tests.emulators.atlassian_issues import IN_PROGRESS
from tests.emulators.atlassian_webhooks import sign_jwt
from tests.harness import CLOUD_CLIENT_ID, CLOUD_CLIENT_SECRET

CHANNEL = "C0PROJECTS"


def _world(kind: str, bot, slack, atlassian, driver) -> World:
    build = cloud_world if kind == "cloud" else datacenter_world
    world = build(bot, slack, atlassian, driver)
    slack.add_channel(CHANNEL, "projects")
    install(world)
    link_user(world, ALICE, ALICE_ACCOUNT)
    if world.cloud:
        wait_personal_hooks(world, [ADMIN_ACCOUNT, ALICE_ACCOUNT])
    return world


@pytest.fixture(params=["cloud", "datacenter"])
def world(request, bot, slack, atlassian, driver) -> World:
    return _world(request.param, bot, slack, atlassian, driver)


@pytest.fixture
def cloud(bot, slack, atlassian, driver) -> World:
    return _world("cloud", bot, slack, atlassian, driver)


def subscribed(world: World, **form) -> None:
    subscribe(world, ALICE, CHANNEL, **form)
    if not world.cloud:
        set_up_dc_webhook(world)


def test_events_of_an_issue_make_one_thread_with_the_card_kept_current(world: World) -> None:
    subscribed(world)
    notice = world.slack.wait_for(
        lambda: next(
            (m for m in channel_posts(world, CHANNEL) if "subscribed this channel" in m["text"]), None
        ),
        timeout=WAIT,
    )
    assert "ENG" in notice["text"]
    emu = world.atlassian
    issue = emu.jira_create(world.site, "ENG", "Printer on fire", by=BOB_ACCOUNT)
    card = wait_card(world, CHANNEL, issue.key)
    assert "To Do" in card_status(card)

    emu.jira_transition(issue.key, IN_PROGRESS, by=BOB_ACCOUNT)
    wait_reply(world, CHANNEL, card["ts"], f"Bob Builder moved {issue.key} from To Do to In Progress")
    world.slack.wait_for(
        lambda: "In Progress" in card_status(card_of(world, CHANNEL, issue.key) or card),
        timeout=WAIT,
        message="the card updated to In Progress",
    )

    comment_body = (
        {
            "type": "doc",
            "version": 1,
            "content": [{"type": "paragraph", "content": [{"type": "text", "text": "It smells of smoke"}]}],
        }
        if world.cloud
        else "It smells of smoke"
    )
    emu.jira_comment(issue.key, comment_body, by=BOB_ACCOUNT)
    reply = wait_reply(world, CHANNEL, card["ts"], f"Bob Builder commented on {issue.key}")
    assert "It smells of smoke" in json.dumps(reply["blocks"])

    emu.add_group_member("jira-staff", BOB_ACCOUNT)
    secret = (
        {
            "type": "doc",
            "version": 1,
            "content": [
                {"type": "paragraph", "content": [{"type": "text", "text": "the admin password is hunter2"}]}
            ],
        }
        if world.cloud
        else "the admin password is hunter2"
    )
    emu.jira_comment(issue.key, secret, by=BOB_ACCOUNT, visibility={"type": "group", "value": "jira-staff"})
    emu.jira_assign(issue.key, ALICE_ACCOUNT, by=BOB_ACCOUNT)
    wait_reply(world, CHANNEL, card["ts"], f"Bob Builder assigned {issue.key} to Alice Anders")

    thread = replies(world, CHANNEL, card["ts"])
    assert [m["text"].split("\n")[0].split(":")[0] for m in thread] == [
        f"Bob Builder moved {issue.key} from To Do to In Progress",
        f"Bob Builder commented on {issue.key}",
        f"Bob Builder assigned {issue.key} to Alice Anders",
    ]
    assert "hunter2" not in json.dumps(channel_posts(world, CHANNEL))
    tops = [
        m for m in channel_posts(world, CHANNEL) if not m.get("thread_ts") and m["text"].startswith(issue.key)
    ]
    assert len(tops) == 1
    world.slack.wait_for(
        lambda: "Alice Anders" in json.dumps((card_of(world, CHANNEL, issue.key) or {}).get("blocks")),
        timeout=WAIT,
        message="the card updated to the new assignee",
    )


def test_an_issue_the_subscriber_cannot_see_is_not_posted(world: World) -> None:
    subscribed(world)
    emu = world.atlassian
    hidden = emu.jira_create(
        world.site, "ENG", "Layoffs plan", by=BOB_ACCOUNT, security=("Board only", [BOB_ACCOUNT])
    )
    emu.jira_transition(hidden.key, IN_PROGRESS, by=BOB_ACCOUNT)
    shown = emu.jira_create(world.site, "ENG", "Public thing", by=BOB_ACCOUNT)
    wait_card(world, CHANNEL, shown.key)
    time.sleep(0.2)
    assert "Layoffs" not in json.dumps(channel_posts(world, CHANNEL))


def test_a_jql_filter_beyond_webhooks_is_checked_before_each_delivery(world: World) -> None:
    subscribed(world, jql="priority = High")
    emu = world.atlassian
    low = emu.jira_create(world.site, "ENG", "Minor typo", by=BOB_ACCOUNT, priority="Low")
    high = emu.jira_create(world.site, "ENG", "Site down", by=BOB_ACCOUNT, priority="High")
    wait_card(world, CHANNEL, high.key)
    assert card_of(world, CHANNEL, low.key) is None


def test_bad_jql_is_a_modal_error_in_jiras_words(world: World) -> None:
    view = open_subscribe(world, ALICE, CHANNEL)
    result = submit_subscribe(world, ALICE, view, jql="colour = red")
    assert result.response_action == "errors", result.text
    assert "Field 'colour' does not exist" in result.json()["errors"][ids.BLOCK_SUB_JQL]


def test_the_bot_must_be_in_the_channel(world: World) -> None:
    world.slack.add_channel("C0NOTHERE", "elsewhere", bot_member=False)
    view = open_subscribe(world, ALICE, "C0NOTHERE")
    shown = world.slack.wait_for(
        lambda: (v := world.slack.view(view["id"])) and "Invite" in json.dumps(v) and v, timeout=WAIT
    )
    assert "/invite @jirabot" in json.dumps(shown)


def test_unsubscribing_stops_the_events(world: World) -> None:
    subscribed(world)
    world.driver.slash_command(ALICE, "subscriptions", channel_id=CHANNEL)
    listing = last_ephemeral(world, ALICE, "subscription")
    click(world, ALICE, listing, ids.ACTION_SUB_REMOVE)
    world.slack.wait_for(lambda: not _subscriptions(world), timeout=WAIT, message="the subscription removed")
    if world.cloud:
        assert channel_hooks(world) == []
    issue = world.atlassian.jira_create(world.site, "ENG", "After unsubscribing", by=BOB_ACCOUNT)
    time.sleep(0.5)
    assert card_of(world, CHANNEL, issue.key) is None


def _subscriptions(world: World) -> list:
    team = world.slack.team()["id"]
    return world.bot.run(world.bot.storage.subscriptions.for_channel(team, CHANNEL))


def test_unlinking_stops_the_subscription_and_tells_the_channel(world: World) -> None:
    subscribed(world)
    world.bot.run(world.bot.components.services["linking"].disconnect(world.slack.team()["id"], ALICE))
    world.slack.wait_for(
        lambda: any("has stopped" in m["text"] for m in channel_posts(world, CHANNEL)), timeout=WAIT
    )
    assert [s.status for s in _subscriptions(world)] == ["inactive"]
    if world.cloud:
        assert hooks_of(world, ALICE_ACCOUNT) == []


def _webhook_url(world: World) -> str:
    deliveries = world.atlassian.deliveries
    if deliveries:
        return deliveries[0].url
    team = world.slack.team()["id"]
    tenant = world.bot.run(world.bot.storage.tenants.get(team))
    endpoint = world.bot.run(world.bot.storage.webhooks.existing_endpoint(tenant.id))
    return f"{world.bot.url}/jira/webhooks/{endpoint.token}"


def _body(key: str = "ENG-77") -> bytes:
    return json.dumps(
        {
            "timestamp": int(time.time() * 1000),
            "webhookEvent": "jira:issue_created",
            "issue_event_type_name": "issue_created",
            "user": {"accountId": BOB_ACCOUNT},
            "issue": {"id": "1", "key": key, "fields": {"project": {"key": "ENG"}}},
        }
    ).encode()


def test_forged_unsigned_and_replayed_deliveries_are_refused(world: World) -> None:
    subscribed(world)
    url = _webhook_url(world)
    body = _body()
    now = int(world.bot.clock.now().timestamp())
    identifier = uuid.uuid4().hex
    headers = {"Content-Type": "application/json", "X-Atlassian-Webhook-Identifier": identifier}
    unsigned = httpx.post(url, content=body, headers=headers)
    assert unsigned.status_code == 401
    if world.cloud:
        forged = sign_jwt({"iss": CLOUD_CLIENT_ID, "iat": now, "exp": now + 60}, "not-the-secret")
        expired = sign_jwt({"iss": CLOUD_CLIENT_ID, "iat": now - 600, "exp": now - 300}, CLOUD_CLIENT_SECRET)
        good = sign_jwt({"iss": CLOUD_CLIENT_ID, "iat": now, "exp": now + 60}, CLOUD_CLIENT_SECRET)
        assert (
            httpx.post(
                url, content=body, headers={**headers, "Authorization": f"Bearer {forged}"}
            ).status_code
            == 401
        )
        assert (
            httpx.post(
                url, content=body, headers={**headers, "Authorization": f"Bearer {expired}"}
            ).status_code
            == 401
        )
        signed = {**headers, "Authorization": f"Bearer {good}"}
    else:
        secret = _dc_secret(world)
        forged = "sha256=" + hmac.new(b"guess", body, hashlib.sha256).hexdigest()
        assert (
            httpx.post(url, content=body, headers={**headers, "X-Hub-Signature": forged}).status_code == 401
        )
        good = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        tampered = body.replace(b"ENG-77", b"ENG-78")
        assert (
            httpx.post(url, content=tampered, headers={**headers, "X-Hub-Signature": good}).status_code == 401
        )
        signed = {**headers, "X-Hub-Signature": good}
    assert httpx.post(url, content=body, headers=signed).status_code == 200
    assert httpx.post(url, content=body, headers=signed).status_code == 200  # a redelivery: kept once
    team = world.slack.team()["id"]
    tenant = world.bot.run(world.bot.storage.tenants.get(team))
    stored = world.bot.run(world.bot.storage.inbox.get(f"{tenant.id}:{identifier}"))
    assert stored is not None
    depth = world.bot.run(world.bot.storage.inbox.depth(world.bot.clock.now()))
    assert depth.pending <= 1


def _dc_secret(world: World) -> str:
    team = world.slack.team()["id"]
    return world.bot.run(world.bot.components.services["subscriptions"].dc_setup(team)).secret


def test_the_upkeep_job_refreshes_cloud_webhooks_before_they_expire(cloud: World) -> None:
    subscribe(cloud, ALICE, CHANNEL)
    [hook] = channel_hooks(cloud)
    first_expiry = hook.expires_at
    cloud.bot.clock.advance(25 * 86400)
    result = cloud.bot.run(cloud.bot.components.services["webhook_upkeep"].run())
    assert result.refreshed == len(cloud.atlassian.webhooks) == 5  # with Ada's and Alice's personal ones
    [hook] = channel_hooks(cloud)
    assert hook.expires_at == pytest.approx(cloud.bot.clock.now().timestamp() + 30 * 86400, abs=5)
    assert hook.expires_at > first_expiry
    cloud.bot.clock.advance(10 * 86400)  # past the first expiry: still delivered
    issue = cloud.atlassian.jira_create(cloud.site, "ENG", "Still heard", by=BOB_ACCOUNT)
    wait_card(cloud, CHANNEL, issue.key)


def test_the_upkeep_job_registers_a_webhook_jira_dropped(cloud: World) -> None:
    subscribe(cloud, ALICE, CHANNEL)
    cloud.bot.clock.advance(31 * 86400)  # never refreshed: Jira has dropped it
    assert not [h for h in cloud.atlassian.webhooks if h.expires_at > cloud.bot.clock.now().timestamp()]
    result = cloud.bot.run(cloud.bot.components.services["webhook_upkeep"].run())
    assert result.reregistered == 5  # with Ada's and Alice's personal ones
    issue = cloud.atlassian.jira_create(cloud.site, "ENG", "Heard again", by=BOB_ACCOUNT)
    wait_card(cloud, CHANNEL, issue.key)


def test_admin_status_on_data_center_shows_the_webhook_url_and_secret(bot, slack, atlassian, driver) -> None:
    world = _world("datacenter", bot, slack, atlassian, driver)
    world.driver.slash_command(ADMIN, "admin status")
    shown = last_ephemeral(world, ADMIN, "secret:")
    assert f"{bot.url}/jira/webhooks/" in shown["text"]


def test_the_admin_sees_and_removes_every_subscription_in_the_app_home(cloud: World) -> None:
    subscribe(cloud, ALICE, CHANNEL)
    cloud.driver.event({"type": "app_home_opened", "user": ADMIN, "channel": "D0ADMIN", "tab": "home"})
    home = cloud.slack.wait_for(
        lambda: (v := cloud.slack.home_views.get(ADMIN)) and f"<#{CHANNEL}>" in json.dumps(v) and v,
        timeout=WAIT,
    )
    assert f"<#{CHANNEL}>" in json.dumps(home) and f"<@{ALICE}>" in json.dumps(home)
    cloud.driver.click_button(ADMIN, {"action_id": ids.ACTION_SUB_REMOVE}, view=home)
    cloud.slack.wait_for(lambda: not _subscriptions(cloud), timeout=WAIT, message="removed by the admin")
    assert channel_hooks(cloud) == []
    cloud.slack.wait_for(
        lambda: "No channel is subscribed" in json.dumps(cloud.slack.home_views.get(ADMIN)), timeout=WAIT
    )


def test_someone_else_may_not_remove_a_subscription(cloud: World) -> None:
    subscribe(cloud, ALICE, CHANNEL)
    link_user(cloud, BOB, BOB_ACCOUNT)
    cloud.driver.slash_command(BOB, "subscriptions", channel_id=CHANNEL)
    listing = last_ephemeral(cloud, BOB, "subscription")
    after = click(cloud, BOB, listing, ids.ACTION_SUB_REMOVE)
    assert "Only the person who made a subscription" in after["text"]
    assert len(_subscriptions(cloud)) == 1


def test_a_link_without_the_webhook_scope_is_asked_to_reconnect_once(cloud: World) -> None:
    team = cloud.slack.team()["id"]

    async def old_scopes() -> None:
        async with cloud.bot.storage.db.connection() as connection:
            await connection.execute(
                update(JiraAccount.__table__)
                .where(JiraAccount.__table__.c.slack_user_id == ALICE)
                .values(scopes="read:jira-work write:jira-work read:jira-user offline_access")
            )

    cloud.bot.run(old_scopes())
    view = open_subscribe(cloud, ALICE, CHANNEL)
    shown = cloud.slack.wait_for(
        lambda: (v := cloud.slack.view(view["id"])) and "Reconnect" in json.dumps(v) and v, timeout=WAIT
    )
    response = authorize(button_url(shown), ALICE_ACCOUNT)
    assert response.status_code == 200
    account = cloud.bot.run(cloud.bot.storage.accounts.get(team, ALICE))
    assert "manage:jira-webhook" in (account.scopes or "")
    subscribe(cloud, ALICE, CHANNEL)
    assert len(channel_hooks(cloud)) == 1


def test_a_subscriber_leaving_the_workspace_stops_their_subscriptions(cloud: World) -> None:
    subscribe(cloud, ALICE, CHANNEL)
    team = cloud.slack.team()["id"]
    gone = {"id": ALICE, "team_id": team, "name": "alice", "deleted": True}
    assert cloud.driver.event({"type": "user_change", "user": gone}).status_code == 200
    cloud.slack.wait_for(
        lambda: any("has stopped" in m["text"] for m in channel_posts(cloud, CHANNEL)), timeout=WAIT
    )
    assert [s.status for s in _subscriptions(cloud)] == ["inactive"]
    cloud.slack.wait_for(lambda: hooks_of(cloud, ALICE_ACCOUNT) == [], timeout=WAIT, message="hooks removed")


@pytest.mark.parametrize("how", ["admin uninstall", "app_uninstalled"])
def test_uninstalling_removes_the_webhooks_from_jira(cloud: World, how: str) -> None:
    subscribe(cloud, ALICE, CHANNEL)
    assert len(channel_hooks(cloud)) == 1
    team = cloud.slack.team()["id"]
    if how == "admin uninstall":
        cloud.bot.run(cloud.bot.components.services["linking"].uninstall(team, ADMIN))
    else:
        assert cloud.driver.event({"type": "app_uninstalled"}).status_code == 200
    cloud.slack.wait_for(lambda: cloud.atlassian.webhooks == [], timeout=WAIT, message="webhooks removed")
    cloud.slack.wait_for(lambda: cloud.bot.run(cloud.bot.storage.tenants.get(team)) is None, timeout=WAIT)


def test_a_filter_jira_applies_reaches_only_its_own_channel(cloud: World) -> None:
    other = "C0DONEONLY"
    cloud.slack.add_channel(other, "done-only")
    subscribe(cloud, ALICE, CHANNEL)
    subscribe(cloud, ALICE, other, jql='status = "In Progress"')
    issue = cloud.atlassian.jira_create(cloud.site, "ENG", "Two channels", by=BOB_ACCOUNT)
    card = wait_card(cloud, CHANNEL, issue.key)
    cloud.atlassian.jira_transition(issue.key, IN_PROGRESS, by=BOB_ACCOUNT)
    wait_reply(cloud, CHANNEL, card["ts"], "moved")
    elsewhere = wait_card(cloud, other, issue.key)  # the transition matched its filter: card, then the reply
    wait_reply(cloud, other, elsewhere["ts"], "moved")
    assert len([m for m in channel_posts(cloud, other) if m["text"].startswith(issue.key)]) == 1
    first = next(
        c
        for c in cloud.slack.calls_to("chat.postMessage")
        if c.params.get("channel") == other and str(c.params.get("text", "")).startswith(issue.key)
    )
    assert first.params["text"].endswith("[In Progress]")  # nothing reached it before the transition


def test_slack_rate_limits_are_waited_out_and_nothing_is_doubled(cloud: World) -> None:
    subscribe(cloud, ALICE, CHANNEL)
    cloud.slack.rate_limit("chat.postMessage", retry_after=1, times=4)
    issue = cloud.atlassian.jira_create(cloud.site, "ENG", "Busy Slack", by=BOB_ACCOUNT)
    card = wait_card(cloud, CHANNEL, issue.key)
    cloud.atlassian.jira_transition(issue.key, IN_PROGRESS, by=BOB_ACCOUNT)
    wait_reply(cloud, CHANNEL, card["ts"], "moved")
    limited = [c for c in cloud.slack.calls_to("chat.postMessage") if c.status == 429]
    assert len(limited) == 4
    assert len([m for m in channel_posts(cloud, CHANNEL) if m["text"].startswith(issue.key)]) == 1
    assert len(replies(cloud, CHANNEL, card["ts"])) == 1


def test_oversized_and_malformed_deliveries_get_4xx_and_nothing_is_kept(cloud: World) -> None:
    subscribe(cloud, ALICE, CHANNEL)
    url = _webhook_url(cloud)
    now = int(cloud.bot.clock.now().timestamp())
    auth = {
        "Authorization": "Bearer " + sign_jwt({"iss": CLOUD_CLIENT_ID, "exp": now + 60}, CLOUD_CLIENT_SECRET)
    }
    assert httpx.post(url, content=b"x" * (1024 * 1024 + 1), headers=auth).status_code == 413
    assert httpx.post(url, content=b"{not json", headers=auth).status_code == 400
    assert httpx.post(url, content=b"[1, 2]", headers=auth).status_code == 400
    assert (
        httpx.post(f"{cloud.bot.url}/jira/webhooks/unknown-token", content=_body(), headers=auth).status_code
        == 401
    )
    depth = cloud.bot.run(cloud.bot.storage.inbox.depth(cloud.bot.clock.now()))
    assert depth.pending == 0


def test_a_channel_the_bot_was_removed_from_stops_its_subscription(
    cloud: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    subscribe(cloud, ALICE, CHANNEL)
    # Removed from the channel, in a workspace that installed the app without chat:write.public.
    scopes = [s for s in cloud.slack.bot_scopes.split(",") if s != "chat:write.public"]
    monkeypatch.setattr(cloud.slack, "bot_scopes", ",".join(scopes))
    cloud.slack.set_bot_not_in_channel(CHANNEL)
    cloud.atlassian.jira_create(cloud.site, "ENG", "Nobody hears", by=BOB_ACCOUNT)
    cloud.slack.wait_for(lambda: [s.status for s in _subscriptions(cloud)] == ["inactive"], timeout=WAIT)
    [subscription] = _subscriptions(cloud)
    assert subscription.inactive_reason == "channel_unreachable"
    cloud.driver.slash_command(ALICE, "subscriptions", channel_id=CHANNEL)
    assert "I cannot post in this channel" in json.dumps(last_ephemeral(cloud, ALICE, "subscription"))
