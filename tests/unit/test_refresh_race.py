"""Refreshing one account from several processes at once (separate engines and repositories, as
`jirabot serve --workers N` has): the rotating refresh token is spent once, everyone gets the new
tokens, and a refresher whose lease ran out does not overwrite the tokens of the one that took over."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from storage.crypto import Encryptor
from storage.db import async_database_url, create_engine
from storage.migrate import upgrade
from storage.repositories.accounts import AccountRecord, JiraIdentity, TokenSet
from storage.store import Storage
from tests.harness import ENCRYPTION_KEY

TEAM, USER, ACCOUNT = "T0TEAM001", "U0ALICE01", "5b10ac8d82e05b22cc7d4a11"


def now() -> datetime:
    return datetime.now(UTC)


class TokenEndpoint:
    """Rotating refresh tokens as Atlassian issues them: each one works once."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.spent: list[str] = []
        self.issued = 0

    async def refresh(self, current: AccountRecord) -> TokenSet | None:
        assert current.refresh_token is not None
        if current.refresh_token in self.spent:
            return None  # invalid_grant: a reused rotating token
        self.spent.append(current.refresh_token)
        await asyncio.sleep(self.delay)
        self.issued += 1
        return TokenSet(f"access-{self.issued}", f"refresh-{self.issued}", now() + timedelta(hours=1))


@pytest.fixture
async def processes(database_url: str) -> AsyncIterator[list[Storage]]:
    """Three 'processes': each its own engine, pool and repositories, on one database."""
    url = async_database_url(database_url, None)  # type: ignore[arg-type]
    engines = [create_engine(url) for _ in range(3)]
    await upgrade(engines[0])
    stores = [Storage.create(engine, Encryptor.from_string(ENCRYPTION_KEY)) for engine in engines]
    expired = TokenSet("access-0", "refresh-0", now() - timedelta(minutes=5))
    await stores[0].tenants.install(
        team_id=TEAM,
        enterprise_id=None,
        kind="cloud",
        site_url="https://acme.atlassian.net",
        site_name="acme",
        cloud_id="c0ffee",
        dc_client_id=None,
        dc_client_secret=None,
        installed_by=USER,
        identity=JiraIdentity(ACCOUNT, "Alice Anders", "alice@acme.test"),
        tokens=expired,
        now=now(),
    )
    yield stores
    for engine in engines:
        await engine.dispose()


def _stale(record: AccountRecord) -> bool:
    return not record.expires_within(now(), timedelta(seconds=60))


async def test_racing_processes_spend_the_refresh_token_once(processes: list[Storage]) -> None:
    account = await processes[0].accounts.get(TEAM, USER)
    assert account is not None
    endpoint = TokenEndpoint(delay=0.3)

    results = await asyncio.gather(
        *[
            store.accounts.refresh_serialised(
                account.id, still_fresh=_stale, refresher=endpoint.refresh, clock=now
            )
            for store in processes
            for _ in range(3)
        ]
    )

    assert endpoint.spent == ["refresh-0"]
    assert {(r.access_token, r.refresh_token) for r in results if r} == {("access-1", "refresh-1")}
    stored = await processes[1].accounts.get(TEAM, USER)
    assert stored is not None and stored.refresh_token == "refresh-1" and not stored.needs_reconnect


async def test_a_refresher_whose_lease_ran_out_rereads_instead_of_overwriting(
    processes: list[Storage], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    account = await processes[0].accounts.get(TEAM, USER)
    assert account is not None
    slow, fast = TokenEndpoint(delay=1.0), TokenEndpoint(delay=0.0)
    slow.issued, fast.issued = 100, 200
    lease = timedelta(seconds=0.2)

    first = asyncio.ensure_future(
        processes[0].accounts.refresh_serialised(
            account.id, still_fresh=_stale, refresher=slow.refresh, clock=now, lease=lease
        )
    )
    await asyncio.sleep(0.5)  # the first holder's lease has run out; it is still waiting for Atlassian
    second = await processes[1].accounts.refresh_serialised(
        account.id, still_fresh=_stale, refresher=fast.refresh, clock=now, lease=lease
    )
    late = await first

    assert second is not None and second.refresh_token == "refresh-201"
    assert late is not None and late.refresh_token == "refresh-201"  # the late answer was not kept
    stored = await processes[2].accounts.get(TEAM, USER)
    assert stored is not None and stored.refresh_token == "refresh-201"
    assert "jira.oauth.refresh_superseded" in [r.getMessage() for r in caplog.records]


async def test_per_account_locks_do_not_accumulate(processes: list[Storage]) -> None:
    accounts = processes[0].accounts
    account = await accounts.get(TEAM, USER)
    assert account is not None
    endpoint = TokenEndpoint(delay=0.0)
    await accounts.refresh_serialised(account.id, still_fresh=_stale, refresher=endpoint.refresh, clock=now)
    assert len(accounts._locks) == 0  # noqa: SLF001  (what the weak mapping still holds)
