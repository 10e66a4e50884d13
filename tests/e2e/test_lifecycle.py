"""Slack lifecycle events over real HTTP: the app uninstalled, tokens revoked, a person deactivated.

Bolt acknowledges events before its listeners finish, so each test waits (briefly, polling) for the
effect in the database.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import httpx
import pytest

from tests.e2e.flows import (
    ADMIN,
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
from tests.emulators.atlassian import AtlassianEmulator
from tests.emulators.slack import SlackEmulator
from tests.emulators.slack_driver import SlackDriver
from tests.harness import SIGNING_SECRET, BotHarness, OffsetClock, wait_for

T = TypeVar("T")
TEAM = "T0TEAM001"


def eventually(predicate: Callable[[], T]) -> T:
    return wait_for(predicate, message="the event's effect in the database")


@pytest.fixture
def world(bot: BotHarness, slack: SlackEmulator, atlassian: AtlassianEmulator, driver: SlackDriver) -> World:
    return cloud_world(bot, slack, atlassian, driver)


def account(bot: BotHarness, user: str) -> Any:
    return bot.run(bot.storage.accounts.get(TEAM, user))


def audit(bot: BotHarness, action: str) -> list[Any]:
    return bot.run(bot.storage.audit.list(team_id=TEAM, action=action))


def test_app_uninstalled_removes_the_jira_install_and_every_link(world: World, bot: BotHarness,
                                                                 driver: SlackDriver) -> None:
    install(world)
    assert link_user(world, ALICE, ALICE_ACCOUNT).status_code == 200
    assert account(bot, ALICE) is not None

    assert driver.event({"type": "app_uninstalled"}).status_code == 200

    eventually(lambda: bot.run(bot.storage.tenants.get(TEAM)) is None)
    assert account(bot, ADMIN) is None and account(bot, ALICE) is None
    assert [e.actor for e in audit(bot, "slack.app_uninstalled")] == ["slack"]
    [uninstalled] = audit(bot, "tenant.uninstalled")
    assert uninstalled.actor == "slack" and uninstalled.detail == {"links_removed": 2}


def test_a_person_deactivated_in_slack_loses_their_link(world: World, bot: BotHarness,
                                                         driver: SlackDriver) -> None:
    install(world)
    link_user(world, ALICE, ALICE_ACCOUNT)
    link_user(world, BOB, BOB_ACCOUNT)

    profile_edit = {"id": BOB, "team_id": TEAM, "name": "bob", "deleted": False, "real_name": "Robert"}
    assert driver.event({"type": "user_change", "user": profile_edit}).status_code == 200
    deactivated = {"id": ALICE, "team_id": TEAM, "name": "alice", "deleted": True}
    assert driver.event({"type": "user_change", "user": deactivated}).status_code == 200

    eventually(lambda: account(bot, ALICE) is None)
    assert account(bot, BOB) is not None and account(bot, ADMIN) is not None
    [unlinked] = audit(bot, "account.unlinked")
    assert unlinked.subject == ALICE_ACCOUNT and unlinked.actor == "system:slack_user_deactivated"
    assert bot.run(bot.storage.tenants.get(TEAM)) is not None


# Multi-workspace mode: the Slack installation lives in the database --------------------------------

@pytest.fixture
def multi_bot(database_url: str, slack: SlackEmulator, atlassian: AtlassianEmulator,
              clock: OffsetClock) -> Iterator[BotHarness]:
    harness = BotHarness.start(database_url=database_url, slack_api_url=slack.api_url,
                               atlassian_url=atlassian.base_url, clock=clock, slack_bot_token=None,
                               slack_client_id="111.222", slack_client_secret="slack-client-secret")
    yield harness
    harness.stop()


def install_slack_app(bot: BotHarness, slack: SlackEmulator, installer: str) -> None:
    """Slack's OAuth install, as a browser does it: /slack/install → Slack → /slack/oauth_redirect."""
    slack.set_installer(TEAM, installer)
    with httpx.Client(timeout=15) as browser:
        page = browser.get(f"{bot.url}/slack/install")
        link = re.search(r'href="([^"]*/oauth/v2/authorize[^"]*)"', page.text)
        assert link, page.text
        # Bolt's state cookie is `Secure`: a browser on plain-HTTP localhost is given it back by hand.
        state_cookie = page.headers["set-cookie"].split(";", 1)[0]
        consent = browser.get(html.unescape(link.group(1)))
        assert consent.status_code == 302, consent.text
        done = browser.get(consent.headers["location"], headers={"Cookie": state_cookie})
        assert done.status_code == 200, done.text


def test_tokens_revoked_and_app_uninstalled_remove_the_slack_installation(
        multi_bot: BotHarness, slack: SlackEmulator, atlassian: AtlassianEmulator) -> None:
    bot = multi_bot
    store = bot.components.installation_store
    assert store is not None
    slack.add_user(ADMIN, "ada", admin=True)
    install_slack_app(bot, slack, ADMIN)
    assert bot.run(store.async_find_bot(enterprise_id=None, team_id=TEAM)) is not None

    with SlackDriver(bot.url, SIGNING_SECRET, slack) as driver:
        world = cloud_world(bot, slack, atlassian, driver)
        install(world)
        link_user(world, ALICE, ALICE_ACCOUNT)

        def installation_of(user: str | None) -> Any:
            return bot.run(store.async_find_installation(enterprise_id=None, team_id=TEAM, user_id=user))

        assert installation_of(ADMIN) is not None
        driver.event({"type": "tokens_revoked", "tokens": {"oauth": [ADMIN], "bot": []}})
        eventually(lambda: installation_of(ADMIN) is None)
        # Its audit entry follows the deletion: wait for it, so that the two entries keep their order.
        eventually(lambda: audit(bot, "slack.tokens_revoked"))
        assert bot.run(store.async_find_bot(enterprise_id=None, team_id=TEAM)) is not None

        driver.event({"type": "tokens_revoked", "tokens": {"bot": [slack.team(TEAM)["bot_user_id"]]}})
        # The bot deletes the bot token, then the installations, then writes the audit entry, each on
        # its own: wait for the last step (the second entry), not the first, before reading them all.
        eventually(lambda: len(audit(bot, "slack.tokens_revoked")) >= 2)
        assert bot.run(store.async_find_bot(enterprise_id=None, team_id=TEAM)) is None
        assert installation_of(None) is None
        assert bot.run(bot.storage.tenants.get(TEAM)) is not None  # the Jira side waits for the uninstall
        revoked = audit(bot, "slack.tokens_revoked")
        assert [e.detail for e in revoked] == [
            {"user_ids": [ADMIN], "bot_user_ids": []},
            {"user_ids": [], "bot_user_ids": [slack.team(TEAM)["bot_user_id"]]},
        ]

        driver.event({"type": "app_uninstalled"})
        eventually(lambda: bot.run(bot.storage.tenants.get(TEAM)) is None)
        assert account(bot, ALICE) is None and account(bot, ADMIN) is None
        assert bot.run(bot.storage.accounts.list_personal_data()) == []
        assert audit(bot, "slack.app_uninstalled") and audit(bot, "tenant.uninstalled")
        assert ADMIN_ACCOUNT not in str([e.detail for e in audit(bot, "slack.app_uninstalled")])
