"""Several processes (as `jirabot serve --workers N` runs) refresh one account at the same moment:
the rotating refresh token is spent once, and every process ends up with the same new access token."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from storage.repositories.accounts import TokenSet
from tests.emulators.atlassian import AtlassianEmulator
from tests.emulators.slack import SlackEmulator
from tests.harness import CLOUD_CLIENT_ID, BotHarness, OffsetClock
from tests.unit.test_jobs import ALICE, ALICE_ACCOUNT, TEAM, CloudSeed

WORKERS = 3
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cloud(
    bot: BotHarness, slack: SlackEmulator, atlassian: AtlassianEmulator, clock: OffsetClock
) -> CloudSeed:
    return CloudSeed(bot, slack, atlassian, clock)


def test_worker_processes_spend_a_rotating_refresh_token_once(
    bot: BotHarness, cloud: CloudSeed, atlassian: AtlassianEmulator
) -> None:
    atlassian.add_user(ALICE_ACCOUNT, "Alice Anders", "alice@acme.test", sites=[cloud.site])
    answer = atlassian.mint_cloud_tokens(CLOUD_CLIENT_ID, ALICE_ACCOUNT)
    expired = TokenSet(
        answer["access_token"], answer["refresh_token"], cloud.clock.now() - timedelta(seconds=5)
    )
    cloud.link(ALICE, ALICE_ACCOUNT, "Alice Anders", tokens=expired)
    atlassian.set_latency(0.5, r"/oauth/token$", "POST")  # long enough for the workers to overlap
    assert atlassian.base_url is not None

    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.refresh_worker",
                bot.settings.database_url,
                atlassian.base_url,
                TEAM,
                ALICE,
            ],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(WORKERS)
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        tokens = [worker.communicate(timeout=60)[0].strip() for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()

    assert atlassian.token_refreshes == 1
    stored = cloud.account(ALICE)
    assert not stored.needs_reconnect
    assert tokens == [stored.access_token] * WORKERS
    assert stored.access_token != answer["access_token"]
