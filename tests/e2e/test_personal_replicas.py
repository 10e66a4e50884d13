"""Personal notifications on two replicas sharing one PostgreSQL: a DM grouped on one is sent by the
other, a burst on both gives each recipient one DM per issue, and a DM whose replica died after claiming
it is sent by the other once the claim runs out."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta

import pytest

from bot.services.inbox import InboxDispatcher
from tests.e2e.flows import (
    ADMIN_ACCOUNT,
    ALICE,
    ALICE_ACCOUNT,
    BOB,
    BOB_ACCOUNT,
    World,
    cloud_world,
    install,
    link_user,
)
from tests.e2e.notify_flows import WAIT, wait_personal_hooks
from tests.e2e.test_personal_notifications import WINDOW, dms, plain_body, settle, wait_dm
from tests.emulators.atlassian_issues import IN_PROGRESS
from tests.harness import BotHarness

pytestmark = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql")),
    reason="replicas share one PostgreSQL: set DATABASE_URL=postgresql://… to run this",
)


@pytest.fixture
def bot(database_url, slack, atlassian, clock) -> Iterator[BotHarness]:
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


@pytest.fixture
def world(bot, slack, atlassian, driver) -> World:
    built = cloud_world(bot, slack, atlassian, driver)
    install(built)
    link_user(built, ALICE, ALICE_ACCOUNT)
    link_user(built, BOB, BOB_ACCOUNT)
    wait_personal_hooks(built, [ADMIN_ACCOUNT, ALICE_ACCOUNT, BOB_ACCOUNT])
    return built


@pytest.fixture
def second(world: World, database_url: str) -> Iterator[BotHarness]:
    assert world.atlassian.base_url is not None
    replica = BotHarness.start(
        database_url=database_url,
        slack_api_url=world.slack.api_url,
        atlassian_url=world.atlassian.base_url,
        clock=world.bot.clock,
        jirabot_personal_window=WINDOW,
    )
    yield replica
    replica.stop()


def _dispatcher(bot: BotHarness) -> InboxDispatcher:
    return bot.components.services["inbox_dispatcher"]


def test_a_burst_on_two_replicas_gives_one_dm_per_recipient_and_issue(
    world: World, second: BotHarness
) -> None:
    emu = world.atlassian
    keys = [emu.jira_create(world.site, "ENG", f"Burst {n}", by=ALICE_ACCOUNT).key for n in range(4)]
    for key in keys:
        emu.jira_transition(key, IN_PROGRESS, by=BOB_ACCOUNT)
        emu.jira_comment(key, plain_body(world, f"note on {key}"), by=BOB_ACCOUNT)
    for key in keys:
        dm = wait_dm(world, ALICE, key, f"Bob Builder moved {key} from To Do to In Progress")
        assert f"Bob Builder commented on {key}" in dm["text"]
    settle(world)
    assert all(len(dms(world, ALICE, key)) == 1 for key in keys)


def test_a_dm_grouped_on_one_replica_is_sent_by_the_other(world: World, second: BotHarness) -> None:
    bot = world.bot
    bot.run(_dispatcher(bot).stop())  # this one only receives
    issue = world.atlassian.jira_create(world.site, "ENG", "Received by one", by=ALICE_ACCOUNT)
    world.atlassian.jira_assign(issue.key, BOB_ACCOUNT, by=ALICE_ACCOUNT)
    wait_dm(world, BOB, issue.key, f"Alice Anders assigned {issue.key} to you")
    assert all(d.url.startswith(bot.url) for d in world.atlassian.deliveries)


def test_a_dm_whose_replica_died_after_claiming_it_is_sent_by_the_other(
    world: World, second: BotHarness
) -> None:
    bot = world.bot
    for replica in (bot, second):
        replica.run(_dispatcher(replica).stop())
    issue = world.atlassian.jira_create(world.site, "ENG", "Orphaned DM", by=ALICE_ACCOUNT)
    world.atlassian.jira_assign(issue.key, BOB_ACCOUNT, by=ALICE_ACCOUNT)
    world.slack.wait_for(
        lambda: bot.run(bot.storage.inbox.depth(bot.clock.now())).pending == 2 or None, timeout=WAIT
    )
    bot.run(_dispatcher(bot).run_until_idle())  # handled here: the DM now waits in the database
    bot.clock.advance(WINDOW + 1)
    [claimed] = bot.run(
        bot.storage.personal.claim_due("replica-that-dies", now=bot.clock.now(), lease=timedelta(seconds=60))
    )
    assert claimed.slack_user_id == BOB and claimed.issue_key == issue.key
    second.run(_dispatcher(second).start())
    bot.clock.advance(61)
    wait_dm(world, BOB, issue.key, f"Alice Anders assigned {issue.key} to you")
    settle(world)
    assert len(dms(world, BOB, issue.key)) == 1
