"""A separate process that refreshes one linked account through the bot's own TokenService, as a
worker of `jirabot serve --workers N` would. Used by tests/e2e/test_refresh_processes.py.

    python -m tests.refresh_worker DATABASE_URL ATLASSIAN_URL TEAM_ID SLACK_USER_ID

It prints `ready`, waits for a line on stdin (so that several start together), refreshes, and prints
the access token it ended up with (or `reconnect` when the link was marked broken).
"""

from __future__ import annotations

import asyncio
import sys

from bot.container import build_components
from bot.jira.errors import ReconnectRequired
from bot.settings import load_settings
from tests.harness import CLOUD_CLIENT_ID, CLOUD_CLIENT_SECRET, ENCRYPTION_KEY, SIGNING_SECRET


async def main(database_url: str, atlassian_url: str, team_id: str, user_id: str) -> str:
    settings = load_settings(
        slack_signing_secret=SIGNING_SECRET,
        slack_bot_token="xoxb-test-bot-token",
        slack_api_url="http://127.0.0.1:9/api/",
        database_url=database_url,
        jirabot_encryption_key=ENCRYPTION_KEY,
        atlassian_client_id=CLOUD_CLIENT_ID,
        atlassian_client_secret=CLOUD_CLIENT_SECRET,
        atlassian_auth_url=atlassian_url,
        atlassian_api_url=atlassian_url,
        jirabot_scheduler=False,
        _env_file=None,
    )
    components = build_components(settings)
    try:
        tenant, account = await components.storage.tenants.get_with_account(team_id, user_id)
        assert tenant is not None and account is not None
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        try:
            fresh = await components.services["tokens"].refresh(tenant, account)
        except ReconnectRequired:
            return "reconnect"
        return fresh.access_token or ""
    finally:
        await components.aclose()


if __name__ == "__main__":
    print(asyncio.run(main(*sys.argv[1:5])), flush=True)
