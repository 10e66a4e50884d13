"""Two replicas (two bots served on one PostgreSQL) share one webhook inbox: what one receives the other
delivers, each event reaches the channel once and in order, and an event whose replica died mid-delivery
is taken over once its claim expires."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.services.inbox import InboxDispatcher
from storage.models import InboxEvent
from tests.e2e.flows import ALICE, ALICE_ACCOUNT, BOB_ACCOUNT, World, cloud_world, install, link_user
from tests.e2e.notify_flows import WAIT, channel_posts, replies, subscribe, wait_card, wait_reply
from tests.emulators.atlassian_issues import IN_PROGRESS
from tests.harness import BotHarness

pytestmark = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql")),
    reason="replicas share one PostgreSQL: set DATABASE_URL=postgresql://… to run this",
)

CHANNEL = "C0PROJECTS"


@pytest.fixture
def world(bot, slack, atlassian, driver) -> World:
    built = cloud_world(bot, slack, atlassian, driver)
    slack.add_channel(CHANNEL, "projects")
    install(built)
    link_user(built, ALICE, ALICE_ACCOUNT)
    subscribe(built, ALICE, CHANNEL)
    return built


@pytest.fixture
def second(world: World, database_url: str) -> Iterator[BotHarness]:
    assert world.atlassian.base_url is not None
    replica = BotHarness.start(
        database_url=database_url,
        slack_api_url=world.slack.api_url,
        atlassian_url=world.atlassian.base_url,
        clock=world.bot.clock,
    )
    yield replica
    replica.stop()


def _dispatcher(bot: BotHarness) -> InboxDispatcher:
    return bot.components.services["inbox_dispatcher"]


def _holders(bot: BotHarness) -> set[str]:
    async def read() -> set[str]:
        async with bot.storage.db.connection() as connection:
            rows = await connection.execute(select(InboxEvent.__table__.c.claimed_by))
            return {str(r.claimed_by) for r in rows}

    return bot.run(read())


def test_what_one_replica_receives_the_other_delivers(world: World, second: BotHarness) -> None:
    bot = world.bot
    bot.run(_dispatcher(bot).stop())
    issue = world.atlassian.jira_create(world.site, "ENG", "Received by one", by=BOB_ACCOUNT)
    card = wait_card(world, CHANNEL, issue.key)
    world.atlassian.jira_transition(issue.key, IN_PROGRESS, by=BOB_ACCOUNT)
    wait_reply(world, CHANNEL, card["ts"], f"moved {issue.key} from To Do to In Progress")
    assert all(d.url.startswith(bot.url) for d in world.atlassian.deliveries)
    assert _holders(bot) == {_dispatcher(second).holder}


def test_both_replicas_deliver_each_event_once_in_order(world: World, second: BotHarness) -> None:
    emu = world.atlassian
    keys = [emu.jira_create(world.site, "ENG", f"Burst {n}", by=BOB_ACCOUNT).key for n in range(4)]
    for key in keys:
        emu.jira_transition(key, IN_PROGRESS, by=BOB_ACCOUNT)
        emu.jira_assign(key, ALICE_ACCOUNT, by=BOB_ACCOUNT)
    for key in keys:
        card = wait_card(world, CHANNEL, key)
        wait_reply(world, CHANNEL, card["ts"], f"assigned {key} to Alice Anders")
        texts = [m["text"] for m in replies(world, CHANNEL, card["ts"])]
        assert texts == [
            f"Bob Builder moved {key} from To Do to In Progress",
            f"Bob Builder assigned {key} to Alice Anders",
        ]
    tops = [m for m in channel_posts(world, CHANNEL) if not m.get("thread_ts") and "Burst" in m["text"]]
    assert len(tops) == len(keys)


def test_an_event_whose_replica_died_mid_delivery_is_taken_over(world: World, second: BotHarness) -> None:
    bot = world.bot
    for replica in (bot, second):
        replica.run(_dispatcher(replica).stop())
    issue = world.atlassian.jira_create(world.site, "ENG", "Orphaned", by=BOB_ACCOUNT)
    world.slack.wait_for(lambda: bot.run(bot.storage.inbox.depth(bot.clock.now())).pending == 1, timeout=WAIT)
    [claimed] = bot.run(
        bot.storage.inbox.claim("replica-that-dies", now=bot.clock.now(), lease=timedelta(seconds=120))
    )
    second.run(_dispatcher(second).start())
    assert second.run(_dispatcher(second).claim_and_start()) == 0  # still claimed by the dead replica
    bot.clock.advance(121)
    wait_card(world, CHANNEL, issue.key)
    assert claimed.issue_key == issue.key
    tops = [
        m for m in channel_posts(world, CHANNEL) if not m.get("thread_ts") and m["text"].startswith(issue.key)
    ]
    assert len(tops) == 1
    world.slack.wait_for(
        lambda: bot.run(bot.storage.inbox.depth(bot.clock.now())).pending == 0,
        timeout=WAIT,
        message="the event marked done",
    )
