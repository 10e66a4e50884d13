"""Multi-workspace mode: Slack OAuth install at /slack/install, installations in the database."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import httpx
import pytest

from tests.emulators.atlassian import AtlassianEmulator
from tests.emulators.slack import SlackEmulator
from tests.emulators.slack_driver import SlackDriver
from tests.harness import SIGNING_SECRET, BotHarness

TEAM = "T0OTHER01"
INSTALLER = "U0INSTALL"


@pytest.fixture
def multi_bot(database_url: str, slack: SlackEmulator, atlassian: AtlassianEmulator) -> Iterator[BotHarness]:
    harness = BotHarness.start(
        database_url=database_url,
        slack_api_url=slack.api_url,
        atlassian_url=atlassian.base_url,
        slack_bot_token=None,
        slack_client_id="111.222",
        slack_client_secret="slack-client-secret",
    )
    yield harness
    harness.stop()


def test_a_workspace_installs_through_slack_oauth_and_is_then_served(
    multi_bot: BotHarness, slack: SlackEmulator
) -> None:
    slack.add_team(TEAM, "Other Co", "otherco")
    slack.add_user(INSTALLER, "ina", team_id=TEAM)
    slack.set_installer(TEAM, INSTALLER)
    with httpx.Client(follow_redirects=False, timeout=10) as browser:
        page = browser.get(f"{multi_bot.url}/slack/install")
        assert page.status_code in (200, 302)
        authorize_url = page.headers.get("location") or re.search(r'<a href="([^"]+)"', page.text)[1]
        authorize_url = html.unescape(authorize_url)
        assert authorize_url.startswith(f"{slack.base_url}/oauth/v2/authorize")
        assert "commands" in authorize_url and "client_id=111.222" in authorize_url
        back = browser.get(authorize_url)
        assert back.status_code == 302
        # Bolt's state cookie is `Secure`; browsers send it to http://127.0.0.1 (a secure context), httpx
        # does not, so hand it over as a browser would.
        cookie = page.headers["set-cookie"].split(";", 1)[0]
        done = browser.get(back.headers["location"], headers={"Cookie": cookie})
    assert done.status_code == 200, done.text
    access = slack.calls_to("oauth.v2.access")
    assert len(access) == 1

    bot_token = access[0].response["access_token"]
    with SlackDriver(multi_bot.url, SIGNING_SECRET, slack, team_id=TEAM) as driver:
        result = driver.slash_command(INSTALLER, "help")
    assert result.status_code == 200
    assert "/jira connect" in result.json()["text"]
    # The bot authorised the request with the installation it stored for this workspace.
    assert any(c.token == bot_token for c in slack.calls if c.method == "auth.test")
    # …which holds the bot token encrypted, never in plain text.
    stored = multi_bot.run(_dump_tables(multi_bot, "slack_installations", "slack_bots"))
    assert TEAM in stored and bot_token not in stored


async def _dump_tables(bot: BotHarness, *tables: str) -> str:
    from sqlalchemy import text

    async with bot.storage.db.engine.connect() as connection:
        rows = [
            repr(tuple(row))
            for table in tables
            for row in await connection.execute(text(f"SELECT * FROM {table}"))
        ]
    return "\n".join(rows)


def test_a_workspace_that_never_installed_is_refused(multi_bot: BotHarness, slack: SlackEmulator) -> None:
    slack.add_team("T0NOBODY1", "Nobody", "nobody")
    with SlackDriver(multi_bot.url, SIGNING_SECRET, slack, team_id="T0NOBODY1") as driver:
        result = driver.slash_command("U0ALICE01", "help")
    assert "/jira connect" not in result.text
