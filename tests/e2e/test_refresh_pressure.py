"""Token refreshes hold no transaction or row lock while Atlassian answers.

With the token endpoint answering in 8 s and 30 users opening the create form at once (each needing
a refresh), `/healthz` and an unrelated user's `/jira status` still answer at once; every user's form
still fills in, and each refresh token is spent once.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest

from storage.repositories.accounts import TokenSet
from tests.emulators.atlassian import AtlassianEmulator
from tests.emulators.slack import SlackEmulator
from tests.emulators.slack_driver import SlackDriver
from tests.harness import CLOUD_CLIENT_ID, BotHarness, OffsetClock
from tests.unit.test_jobs import ALICE, ALICE_ACCOUNT, CloudSeed

USERS = 30
TOKEN_DELAY = 8.0
QUICK = 0.3


@pytest.fixture
def cloud(
    bot: BotHarness, slack: SlackEmulator, atlassian: AtlassianEmulator, clock: OffsetClock
) -> CloudSeed:
    seed = CloudSeed(bot, slack, atlassian, clock)
    atlassian.default_project(seed.site, "ENG", "Engineering")
    return seed


def _link_expired(
    cloud: CloudSeed, slack: SlackEmulator, atlassian: AtlassianEmulator, count: int
) -> list[str]:
    """`count` linked users whose access tokens have expired (their refresh tokens are good)."""
    users = []
    for index in range(count):
        user, account = f"U0LOAD{index:03d}", f"5b10ac8d82e05b22cc7d{index:04d}"
        slack.add_user(user, f"load{index}")
        atlassian.add_user(account, f"Load User {index}", f"load{index}@acme.test", sites=[cloud.site])
        answer = atlassian.mint_cloud_tokens(CLOUD_CLIENT_ID, account)
        expired = cloud.clock.now() - timedelta(seconds=5)
        tokens = TokenSet(answer["access_token"], answer["refresh_token"], expired, answer.get("scope"))
        cloud.link(user, account, f"Load User {index}", tokens=tokens)
        users.append(user)
    return users


def _timed_status(driver: SlackDriver, slack: SlackEmulator) -> float:
    """Seconds from sending `/jira status` to its answer reaching Slack."""
    started = time.perf_counter()
    result = driver.slash_command(ALICE, "status")
    assert result.status_code == 200
    answer = slack.wait_for(lambda: slack.responses(result.response_url), timeout=10, interval=0.005)
    assert "connected as *Alice Anders*" in answer[0].body["text"]
    return time.perf_counter() - started


def test_a_slow_token_endpoint_does_not_starve_the_database(
    bot: BotHarness,
    cloud: CloudSeed,
    slack: SlackEmulator,
    atlassian: AtlassianEmulator,
    driver: SlackDriver,
) -> None:
    cloud.link(ALICE, ALICE_ACCOUNT, "Alice Anders")  # fresh tokens: her status needs no refresh
    users = _link_expired(cloud, slack, atlassian, USERS)
    atlassian.set_latency(TOKEN_DELAY, r"/oauth/token$", "POST")
    atlassian.clear_requests()

    with httpx.Client(base_url=bot.url, timeout=10) as health, ThreadPoolExecutor(USERS) as pool:
        health.get("/healthz")
        acks = list(pool.map(lambda user: driver.slash_command(user, "create"), users))
        assert all(result.status_code == 200 for result in acks)
        atlassian.wait_for(lambda: len(atlassian.requests_to(r"/oauth/token$", "POST")) >= USERS, timeout=20)

        slowest_health = slowest_status = 0.0
        for _ in range(5):  # all 30 refreshes are waiting on Atlassian now
            started = time.perf_counter()
            assert health.get("/healthz").status_code == 200
            slowest_health = max(slowest_health, time.perf_counter() - started)
            slowest_status = max(slowest_status, _timed_status(driver, slack))
        in_flight = [r for r in atlassian.requests_to(r"/oauth/token$", "POST") if r.status is None]

    assert in_flight, "the measurements should have run while the token endpoint was still answering"
    assert slowest_health < QUICK, f"/healthz took {slowest_health:.3f}s"
    assert slowest_status < QUICK, f"/jira status took {slowest_status:.3f}s"

    # Every form fills in once the refreshes complete; each refresh token was spent once.
    slack.wait_for(lambda: len(slack.calls_to("views.update")) >= USERS or None, timeout=30)
    spent = [r.json["refresh_token"] for r in atlassian.requests_to(r"/oauth/token$", "POST")]
    assert len(spent) == USERS and len(set(spent)) == USERS
