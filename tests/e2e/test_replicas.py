"""Several replicas on one PostgreSQL: three `jirabot serve` processes started from the same settings
run each due job exactly once between them, and a run whose replica is killed mid-way is taken over
by another once its lease expires.

Real processes and real time: the lease is set to 2 seconds through JIRABOT_JOB_LEASE_SECONDS.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.jobs import tasks
from storage.crypto import Encryptor
from storage.db import async_database_url, create_engine
from storage.models import JobLease
from storage.repositories.accounts import JiraIdentity, TokenSet
from storage.store import Storage
from tests.emulators.atlassian import AtlassianEmulator
from tests.emulators.live import free_port
from tests.emulators.slack import SlackEmulator
from tests.harness import CLOUD_CLIENT_ID, CLOUD_CLIENT_SECRET, ENCRYPTION_KEY, SIGNING_SECRET

pytestmark = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql")),
    reason="several replicas share one PostgreSQL: set DATABASE_URL=postgresql://… to run this",
)

T = TypeVar("T")
TEAM = "T0TEAM001"
JOBS = (tasks.TOKEN_UPKEEP, tasks.HYGIENE, tasks.PERSONAL_DATA, tasks.KEY_ROTATION)
LEASE_SECONDS = 2


def eventually(predicate: Callable[[], T], timeout: float = 30.0, what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout}s")
        time.sleep(0.05)


class SharedDatabase:
    """The test's own view of the shared database, on its own event loop."""

    def __init__(self, url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.engine = create_engine(async_database_url(url, None))  # type: ignore[arg-type]
        self.storage = Storage.create(self.engine, Encryptor.from_string(ENCRYPTION_KEY))
        self._lock: AsyncConnection | None = None

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    def leases(self) -> dict[str, JobLease]:
        async def read() -> dict[str, JobLease]:
            found = {}
            for name in JOBS:
                lease = await self.storage.leases.get(name)
                if lease is not None:
                    found[name] = lease
            return found
        return self.run(read())

    def next_due(self, name: str) -> datetime:
        lease = self.leases()[name]
        assert lease.holder is None and lease.next_due_at is not None
        return lease.next_due_at

    def holder(self, name: str) -> str | None:
        lease = self.leases().get(name)
        return lease.holder if lease is not None else None

    def lock_accounts(self) -> None:
        """Holds the accounts table, so that any job reading it stops mid-run until `unlock`."""
        async def lock() -> AsyncConnection:
            connection = await self.engine.connect()
            await connection.begin()
            await connection.execute(text("LOCK TABLE jira_accounts IN ACCESS EXCLUSIVE MODE"))
            return connection
        self._lock = self.run(lock())

    def unlock(self) -> None:
        if self._lock is not None:
            lock, self._lock = self._lock, None
            self.run(lock.rollback())
            self.run(lock.close())

    def close(self) -> None:
        self.unlock()
        self.run(self.engine.dispose())
        self.loop.close()


@dataclass
class Replica:
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def events(self) -> list[str]:
        found = []
        for line in self.log_path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                found.append(json.loads(line)["event"])
            except (ValueError, KeyError, TypeError):
                continue
        return found

    def up_or_exited(self) -> bool:
        if self.process.poll() is not None:
            return True
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False


def _environment(database_url: str, slack: SlackEmulator, atlassian: AtlassianEmulator,
                 port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SLACK_", "JIRABOT_", "ATLASSIAN_", "DATABASE_URL", "LOG_", "PORT"))}
    assert atlassian.base_url is not None
    env.update({
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_BOT_TOKEN": "xoxb-test-bot-token",
        "SLACK_API_URL": slack.api_url,
        "DATABASE_URL": database_url,
        "JIRABOT_ENCRYPTION_KEY": ENCRYPTION_KEY,
        "JIRABOT_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "JIRABOT_JOB_LEASE_SECONDS": str(LEASE_SECONDS),
        "ATLASSIAN_CLIENT_ID": CLOUD_CLIENT_ID,
        "ATLASSIAN_CLIENT_SECRET": CLOUD_CLIENT_SECRET,
        "ATLASSIAN_AUTH_URL": atlassian.base_url,
        "ATLASSIAN_API_URL": atlassian.base_url,
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "info",
    })
    return env


@pytest.fixture
def db(database_url: str) -> Iterator[SharedDatabase]:
    database = SharedDatabase(database_url)
    yield database
    database.close()


@pytest.fixture
def start_replicas(database_url: str, slack: SlackEmulator, atlassian: AtlassianEmulator,
                   tmp_path: Path) -> Iterator[Callable[[int], list[Replica]]]:
    started: list[Replica] = []

    def start(count: int) -> list[Replica]:
        replicas = []
        for index in range(count):
            port = free_port()
            log_path = tmp_path / f"replica-{index}.log"
            with log_path.open("wb") as log_file:
                process = subprocess.Popen(
                    [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port)],
                    cwd=tmp_path, env=_environment(database_url, slack, atlassian, port),
                    stdout=subprocess.DEVNULL, stderr=log_file,
                )
            replicas.append(Replica(process, f"http://127.0.0.1:{port}", log_path))
        started.extend(replicas)
        for replica in replicas:
            eventually(replica.up_or_exited, what="replica start")
            assert replica.process.poll() is None, replica.log_path.read_text()
        return replicas

    yield start
    for replica in started:
        if replica.process.poll() is None:
            replica.process.send_signal(signal.SIGTERM)
    for replica in started:
        try:
            replica.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            replica.process.kill()
            replica.process.wait()


def seed(db: SharedDatabase, atlassian: AtlassianEmulator, users: int = 3) -> list[str]:
    """A Jira Cloud site with `users` linked accounts whose access tokens expire within 5 minutes."""
    atlassian.add_cloud_app(CLOUD_CLIENT_ID, CLOUD_CLIENT_SECRET, ["http://127.0.0.1/jira/oauth/callback"])
    site = atlassian.add_cloud_site("acme")
    account_ids = [f"5b10ac8d82e05b22cc7d4a{index:02d}" for index in range(users)]
    now = datetime.now(UTC)
    soon = now + timedelta(minutes=5)

    def tokens(account_id: str) -> TokenSet:
        minted = atlassian.mint_cloud_tokens(CLOUD_CLIENT_ID, account_id)
        return TokenSet(minted["access_token"], minted["refresh_token"], soon)

    for account_id in account_ids:
        atlassian.add_user(account_id, f"Person {account_id[-2:]}", f"{account_id}@acme.test", sites=[site])

    async def store() -> None:
        tenant, _ = await db.storage.tenants.install(
            team_id=TEAM, enterprise_id=None, kind="cloud", site_url=site.url, site_name="acme",
            cloud_id=site.cloud_id, dc_client_id=None, dc_client_secret=None, installed_by="U0USER000",
            identity=JiraIdentity(account_ids[0], "Person 00", None), tokens=tokens(account_ids[0]), now=now)
        for index, account_id in enumerate(account_ids[1:], start=1):
            await db.storage.accounts.link(
                tenant_id=tenant.id, team_id=TEAM, slack_user_id=f"U0USER{index:03d}",
                identity=JiraIdentity(account_id, f"Person {index:02d}", None), tokens=tokens(account_id),
                now=now)

    db.run(store())
    return account_ids


def done_counts(replicas: list[Replica]) -> dict[str, int]:
    events = [event for replica in replicas for event in replica.events()]
    return {name: events.count(f"jobs.{name}.done") for name in JOBS}


def all_done(replicas: list[Replica]) -> dict[str, int] | None:
    """The runs logged per job once every job has logged one (a run logs just after its release)."""
    counts = done_counts(replicas)
    return counts if all(counts.values()) else None


# `start_replicas` comes before `db` so that the database lock is given up before replicas stop.
def test_three_replicas_run_each_due_job_exactly_once(
        start_replicas: Callable[[int], list[Replica]], db: SharedDatabase,
        atlassian: AtlassianEmulator) -> None:
    accounts = seed(db, atlassian)
    replicas = start_replicas(3)

    eventually(lambda: all_done(replicas), what="every job run")
    # The replicas that lost the race look again when the winner's lease would have run out: by then
    # each run is released and not due, so nothing more may run.
    time.sleep(LEASE_SECONDS + 1)
    assert done_counts(replicas) == {name: 1 for name in JOBS}
    now = datetime.now(UTC)
    assert all(db.next_due(name) > now for name in JOBS)  # released, and none due again
    assert len(atlassian.requests_to(r"^/app/report-accounts")) == 1
    assert sorted(e["accountId"] for e in atlassian.report_batches[0]) == sorted(accounts)
    assert atlassian.token_refreshes == len(accounts)
    assert db.next_due(tasks.PERSONAL_DATA) > now + timedelta(days=6)  # the emulator's 7-day cycle
    assert db.next_due(tasks.TOKEN_UPKEEP) > now + timedelta(minutes=5)
    assert all(replica.process.poll() is None for replica in replicas)


def test_a_run_whose_replica_is_killed_mid_way_is_finished_by_another(
        start_replicas: Callable[[int], list[Replica]], db: SharedDatabase,
        atlassian: AtlassianEmulator) -> None:
    accounts = seed(db, atlassian)
    db.lock_accounts()  # every job that reads linked accounts stops mid-run, its lease held
    replicas = start_replicas(3)

    holder = eventually(lambda: db.holder(tasks.PERSONAL_DATA), what="a replica running personal data")
    assert holder is not None
    victim = next(r for r in replicas if holder.split(":")[1] == str(r.pid))
    victim.process.kill()  # SIGKILL: no shutdown, no release
    victim.process.wait(timeout=10)
    killed_at = time.monotonic()
    db.unlock()

    counts = eventually(lambda: all_done(replicas), what="every job run")
    assert time.monotonic() - killed_at < 15
    assert counts == {name: 1 for name in JOBS}
    assert f"jobs.{tasks.PERSONAL_DATA}.done" not in victim.events()
    assert len(atlassian.requests_to(r"^/app/report-accounts")) == 1
    assert sorted(e["accountId"] for e in atlassian.report_batches[0]) == sorted(accounts)
    assert db.next_due(tasks.PERSONAL_DATA) > datetime.now(UTC) + timedelta(days=6)
