"""Personal notifications end to end on Cloud and Data Center: a DM when someone else assigns an issue
to me, mentions me (comment or description), or comments on or moves an issue I reported or watch;
grouped per issue; never about my own actions; never what my own link cannot see; switched per kind
and all at once; stopped by unlinking and by deactivation (with the user's webhooks removed)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from bot.slack import ids
from tests.e2e.flows import (
    ADMIN,
    ADMIN_ACCOUNT,
    ALICE,
    ALICE_ACCOUNT,
    BOB,
    BOB_ACCOUNT,
    World,
    click,
    cloud_world,
    datacenter_world,
    install,
    last_ephemeral,
    last_response,
    link_user,
)
from tests.e2e.notify_flows import WAIT, set_up_dc_webhook
from tests.emulators.atlassian import AtlassianEmulator
from tests.emulators.atlassian_issues import IN_PROGRESS
from tests.emulators.slack import SlackEmulator
from tests.harness import BotHarness, OffsetClock

TEAM = "T0TEAM001"
WINDOW = 4.0


@pytest.fixture
def bot(
    database_url: str, slack: SlackEmulator, atlassian: AtlassianEmulator, clock: OffsetClock
) -> Iterator[BotHarness]:
    assert atlassian.base_url is not None
    harness = BotHarness.start(
        database_url=database_url,
        slack_api_url=slack.api_url,
        atlassian_url=atlassian.base_url,
        clock=clock,
        jirabot_personal_window=WINDOW,
    )
    yield harness
    harness.stop()


def _world(kind: str, bot, slack, atlassian, driver) -> World:
    build = cloud_world if kind == "cloud" else datacenter_world
    world = build(bot, slack, atlassian, driver)
    install(world)
    link_user(world, ALICE, ALICE_ACCOUNT)
    link_user(world, BOB, BOB_ACCOUNT)
    if world.cloud:
        for account in (ADMIN_ACCOUNT, ALICE_ACCOUNT, BOB_ACCOUNT):
            wait_personal_hooks(world, account, 2)
    else:
        set_up_dc_webhook(world)
    return world


@pytest.fixture(params=["cloud", "datacenter"])
def world(request, bot, slack, atlassian, driver) -> World:
    return _world(request.param, bot, slack, atlassian, driver)


@pytest.fixture
def cloud(bot, slack, atlassian, driver) -> World:
    return _world("cloud", bot, slack, atlassian, driver)


# Helpers ---------------------------------------------------------------------------------------------


def personal_hooks(world: World, account: str) -> list[Any]:
    """The user's live personal webhooks in Jira (Jira has dropped those past their expiry)."""
    now = world.bot.clock.now().timestamp()
    return [
        h
        for h in world.atlassian.webhooks
        if h.kind == "cloud" and h.owner == account and h.jql and account in h.jql and h.expires_at > now
    ]


def wait_personal_hooks(world: World, account: str, count: int) -> None:
    world.slack.wait_for(
        lambda: len(personal_hooks(world, account)) == count or None,
        timeout=WAIT,
        message=f"{count} personal webhooks of {account}",
    )


def dms(world: World, user: str, key: str) -> list[dict[str, Any]]:
    """Personal notifications sent to `user` about issue `key` (messages holding its card)."""
    found = []
    for call in world.slack.calls_to("chat.postMessage"):
        params = call.params
        if call.ok and params.get("channel") == user and f"/browse/{key}|{key}>" in json.dumps(params):
            found.append(params)
    return found


def wait_dm(world: World, user: str, key: str, containing: str) -> dict[str, Any]:
    return world.slack.wait_for(
        lambda: next((m for m in dms(world, user, key) if containing in json.dumps(m)), None),
        timeout=WAIT,
        message=f"a DM to {user} containing {containing!r}",
    )


def settle(world: World) -> None:
    """Waits until Jira delivered everything, the inbox is empty and no DM is waiting for its window."""
    storage = world.bot.storage

    def idle() -> bool:
        if any(not d.delivered for d in world.atlassian.deliveries):
            return False
        depth = world.bot.run(storage.inbox.depth(world.bot.clock.now()))
        return depth.pending == 0 and world.bot.run(storage.personal.pending_count()) == 0

    world.slack.wait_for(lambda: idle() or None, timeout=WAIT + WINDOW, message="all events handled")


def adf(*content: dict[str, Any]) -> dict[str, Any]:
    return {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": list(content)}]}


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def mention_of(world: World, account: str, name: str, display: str, words: str) -> Any:
    """A body mentioning someone: an ADF mention node on Cloud, `[~name]` on Data Center."""
    if world.cloud:
        return adf({"type": "mention", "attrs": {"id": account, "text": f"@{display}"}}, text(f" {words}"))
    return f"[~{name}] {words}"


def plain_body(world: World, words: str) -> Any:
    return adf(text(words)) if world.cloud else words


# Each kind --------------------------------------------------------------------------------------------


def test_assigned_by_someone_else_is_a_dm_with_the_card_and_my_own_actions_are_not(world: World) -> None:
    emu = world.atlassian
    issue = emu.jira_create(world.site, "ENG", "Printer on fire", by=BOB_ACCOUNT)
    emu.jira_assign(issue.key, ALICE_ACCOUNT, by=BOB_ACCOUNT)
    dm = wait_dm(world, ALICE, issue.key, f"Bob Builder assigned {issue.key} to you")
    blocks = json.dumps(dm["blocks"])
    assert f"{world.site_url}/browse/{issue.key}" in blocks and "Printer on fire" in blocks
    assert "Alice Anders" in blocks  # the card shows the issue as it is now: assigned to Alice
    assert ids.ACTION_CARD_COMMENT in blocks

    mine = emu.jira_create(world.site, "ENG", "Tidy the desk", by=BOB_ACCOUNT)
    emu.jira_assign(mine.key, ALICE_ACCOUNT, by=ALICE_ACCOUNT)  # Alice takes it herself
    emu.jira_comment(mine.key, plain_body(world, "done soon"), by=ALICE_ACCOUNT)  # on her own
    settle(world)
    assert dms(world, ALICE, mine.key) == []
    # Bob reported it: Alice's comment reaches him, her self-assignment does not concern him.
    [to_bob] = dms(world, BOB, mine.key)
    assert f"Alice Anders commented on {mine.key}" in to_bob["text"] and "assigned" not in to_bob["text"]


def test_mentions_in_a_comment_and_in_the_description(world: World) -> None:
    emu = world.atlassian
    issue = emu.jira_create(world.site, "ENG", "Flaky build", by=BOB_ACCOUNT)
    emu.jira_comment(
        issue.key, mention_of(world, ALICE_ACCOUNT, "alice", "Alice Anders", "please look"), by=BOB_ACCOUNT
    )
    dm = wait_dm(world, ALICE, issue.key, f"Bob Builder mentioned you in a comment on {issue.key}")
    assert "please look" in json.dumps(dm["blocks"])
    settle(world)

    emu.jira_edit_description(
        issue.key, mention_of(world, ALICE_ACCOUNT, "alice", "Alice Anders", "owns the fix"), by=BOB_ACCOUNT
    )
    wait_dm(world, ALICE, issue.key, f"Bob Builder mentioned you in the description of {issue.key}")
    settle(world)
    # The same mention again (an edit elsewhere in the text) is not news.
    emu.jira_edit_description(
        issue.key,
        mention_of(world, ALICE_ACCOUNT, "alice", "Alice Anders", "owns the fix, today"),
        by=BOB_ACCOUNT,
    )
    settle(world)
    assert len(dms(world, ALICE, issue.key)) == 2


def test_comments_and_transitions_on_reported_or_watched_issues_are_grouped(world: World) -> None:
    emu = world.atlassian
    mine = emu.jira_create(world.site, "ENG", "Alice's report", by=ALICE_ACCOUNT)
    watched = emu.jira_create(world.site, "ENG", "Someone else's", by=ADMIN_ACCOUNT)
    emu.jira_watch(watched.key, ALICE_ACCOUNT)
    other = emu.jira_create(world.site, "ENG", "Not Alice's business", by=ADMIN_ACCOUNT)

    emu.jira_transition(mine.key, IN_PROGRESS, by=BOB_ACCOUNT)
    emu.jira_comment(mine.key, plain_body(world, "on it"), by=BOB_ACCOUNT)
    emu.jira_comment(watched.key, plain_body(world, "any news?"), by=BOB_ACCOUNT)
    emu.jira_comment(other.key, plain_body(world, "nothing for Alice"), by=BOB_ACCOUNT)

    grouped = wait_dm(world, ALICE, mine.key, f"Bob Builder moved {mine.key} from To Do to In Progress")
    assert f"Bob Builder commented on {mine.key}" in grouped["text"]
    assert "on it" in json.dumps(grouped["blocks"])
    wait_dm(world, ALICE, watched.key, f"Bob Builder commented on {watched.key}")
    settle(world)
    assert len(dms(world, ALICE, mine.key)) == 1  # one message for both events
    assert len(dms(world, ALICE, watched.key)) == 1
    assert dms(world, ALICE, other.key) == []
    assert len(dms(world, ADMIN, other.key)) == 1  # its reporter hears


def test_a_restricted_comment_reaches_only_who_may_read_it(world: World) -> None:
    emu = world.atlassian
    issue = emu.jira_create(world.site, "ENG", "Server credentials", by=ADMIN_ACCOUNT)
    emu.jira_watch(issue.key, ALICE_ACCOUNT)
    emu.jira_watch(issue.key, BOB_ACCOUNT)
    emu.add_group_member("jira-staff", ADMIN_ACCOUNT)
    emu.add_group_member("jira-staff", BOB_ACCOUNT)
    emu.jira_comment(
        issue.key,
        plain_body(world, "the admin password is hunter2"),
        by=ADMIN_ACCOUNT,
        visibility={"type": "group", "value": "jira-staff"},
    )
    dm = wait_dm(world, BOB, issue.key, f"Ada Admin commented on {issue.key}")
    assert "hunter2" in json.dumps(dm)
    settle(world)
    assert dms(world, ALICE, issue.key) == []
    assert "hunter2" not in json.dumps(
        [c.params for c in world.slack.calls_to("chat.postMessage") if c.params.get("channel") == ALICE]
    )


def test_an_issue_my_link_cannot_see_is_never_sent(cloud: World) -> None:
    emu = cloud.atlassian
    issue = emu.jira_create(cloud.site, "ENG", "Secret plans", by=ADMIN_ACCOUNT)
    emu.jira_watch(issue.key, ALICE_ACCOUNT)
    emu.jira_watch(issue.key, BOB_ACCOUNT)
    emu.set_security_level(issue.key, "Managers", [ADMIN_ACCOUNT, BOB_ACCOUNT])
    emu.jira_transition(issue.key, IN_PROGRESS, by=ADMIN_ACCOUNT)
    wait_dm(cloud, BOB, issue.key, f"Ada Admin moved {issue.key}")
    settle(cloud)
    assert dms(cloud, ALICE, issue.key) == []


# Switches ------------------------------------------------------------------------------------------


def test_notify_off_and_on_and_the_app_home_switches(world: World) -> None:
    emu = world.atlassian
    world.driver.slash_command(ALICE, "notify off")
    assert (
        "Personal notifications are *off*" in last_ephemeral(world, ALICE, "Personal notifications")["text"]
    )
    if world.cloud:
        wait_personal_hooks(world, ALICE_ACCOUNT, 0)
    quiet = emu.jira_create(world.site, "ENG", "While off", by=BOB_ACCOUNT)
    emu.jira_assign(quiet.key, ALICE_ACCOUNT, by=BOB_ACCOUNT)
    settle(world)
    assert dms(world, ALICE, quiet.key) == []

    world.driver.slash_command(ALICE, "notify on")
    assert "Personal notifications are *on*" in last_ephemeral(world, ALICE, "are *on*")["text"]
    if world.cloud:
        wait_personal_hooks(world, ALICE_ACCOUNT, 2)

    world.driver.event({"type": "app_home_opened", "user": ALICE, "channel": "D0ALICE", "tab": "home"})
    home = world.slack.wait_for(
        lambda: (v := world.slack.home_views.get(ALICE)) and ids.ACTION_PERSONAL_KINDS in json.dumps(v) and v,
        timeout=WAIT,
    )
    labels = json.dumps(home)
    for label in ("Assigned to me", "Mentioned", "Comments on my issues", "Status changes on my issues"):
        assert label in labels
    world.driver.select_option(
        ALICE, home, ids.ACTION_PERSONAL_KINDS, ids.BLOCK_PERSONAL_KINDS, ["mentioned"]
    )
    world.slack.wait_for(
        lambda: (
            "on for: Mentioned"
            in json.dumps(last_response(world, world.driver.slash_command(ALICE, "status")))
            or None
        ),
        timeout=WAIT,
    )

    issue = emu.jira_create(world.site, "ENG", "Mentions only", by=BOB_ACCOUNT)
    emu.jira_assign(issue.key, ALICE_ACCOUNT, by=BOB_ACCOUNT)
    emu.jira_comment(
        issue.key, mention_of(world, ALICE_ACCOUNT, "alice", "Alice Anders", "see this"), by=BOB_ACCOUNT
    )
    dm = wait_dm(world, ALICE, issue.key, "mentioned you in a comment")
    assert "assigned" not in dm["text"]
    settle(world)
    assert len(dms(world, ALICE, issue.key)) == 1


# Leaving --------------------------------------------------------------------------------------------


def test_unlinking_stops_everything_at_once_and_removes_the_webhooks(world: World) -> None:
    emu = world.atlassian
    issue = emu.jira_create(world.site, "ENG", "Reported by Alice", by=ALICE_ACCOUNT)
    emu.jira_transition(issue.key, IN_PROGRESS, by=BOB_ACCOUNT)
    world.slack.wait_for(
        lambda: world.bot.run(world.bot.storage.personal.pending_count()) or None,
        timeout=WAIT,
        message="a DM waiting for its window",
    )
    world.driver.slash_command(ALICE, "disconnect")
    prompt = last_ephemeral(world, ALICE, "Disconnect your Jira account")
    click(world, ALICE, prompt, "jira_disconnect")
    if world.cloud:
        assert personal_hooks(world, ALICE_ACCOUNT) == []
    emu.jira_assign(issue.key, ALICE_ACCOUNT, by=BOB_ACCOUNT)
    settle(world)
    assert dms(world, ALICE, issue.key) == []


def test_a_deactivated_user_hears_nothing_more(world: World) -> None:
    emu = world.atlassian
    deactivated = {"id": BOB, "team_id": TEAM, "name": "bob", "deleted": True}
    assert world.driver.event({"type": "user_change", "user": deactivated}).status_code == 200
    world.slack.wait_for(
        lambda: world.bot.run(world.bot.storage.accounts.get(TEAM, BOB)) is None or None, timeout=WAIT
    )
    if world.cloud:
        assert personal_hooks(world, BOB_ACCOUNT) == []
    issue = emu.jira_create(world.site, "ENG", "For Bob", by=ALICE_ACCOUNT)
    emu.jira_assign(issue.key, BOB_ACCOUNT, by=ALICE_ACCOUNT)
    emu.jira_comment(issue.key, plain_body(world, "Bob?"), by=ADMIN_ACCOUNT)
    wait_dm(world, ALICE, issue.key, f"Ada Admin commented on {issue.key}")  # the issue's events flow
    settle(world)
    assert dms(world, BOB, issue.key) == []


def test_the_upkeep_job_refreshes_and_re_registers_personal_webhooks(cloud: World) -> None:
    upkeep = cloud.bot.components.services["webhook_upkeep"]
    cloud.bot.clock.advance(25 * 86400)
    assert cloud.bot.run(upkeep.run()).refreshed == 6  # two for each of Ada, Alice and Bob
    soon = cloud.bot.clock.now().timestamp() + 29 * 86400
    assert all(h.expires_at > soon for h in cloud.atlassian.webhooks)
    cloud.bot.clock.advance(31 * 86400)  # not refreshed since: Jira dropped them all
    assert cloud.bot.run(upkeep.run()).reregistered == 6
    for account in (ADMIN_ACCOUNT, ALICE_ACCOUNT, BOB_ACCOUNT):
        assert len(personal_hooks(cloud, account)) == 2
    issue = cloud.atlassian.jira_create(cloud.site, "ENG", "Still heard", by=BOB_ACCOUNT)
    cloud.atlassian.jira_assign(issue.key, ALICE_ACCOUNT, by=BOB_ACCOUNT)
    wait_dm(cloud, ALICE, issue.key, f"Bob Builder assigned {issue.key} to you")


def test_registrations_that_meet_make_each_personal_webhook_once(cloud: World) -> None:
    personal = cloud.bot.components.services["personal_notifications"]
    tenant = cloud.bot.run(cloud.bot.storage.tenants.get(TEAM))
    cloud.bot.run(personal.remove_webhooks(TEAM, ALICE))
    assert personal_hooks(cloud, ALICE_ACCOUNT) == []
    account = cloud.bot.run(cloud.bot.storage.accounts.get(TEAM, ALICE))

    async def at_once() -> list[int]:
        return list(await asyncio.gather(*(personal.ensure_webhooks(tenant, account) for _ in range(3))))

    assert sorted(cloud.bot.run(at_once())) == [0, 0, 2]
    assert len(personal_hooks(cloud, ALICE_ACCOUNT)) == 2
    stored = cloud.bot.run(cloud.bot.storage.webhooks.of_user(TEAM, ALICE))
    live = personal_hooks(cloud, ALICE_ACCOUNT)
    assert sorted(h.jira_webhook_id for h in stored) == sorted(str(h.id) for h in live)
