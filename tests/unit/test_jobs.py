"""The background jobs, each run directly with a controlled clock, and the lease-based scheduler.

Jobs run on the bot's loop against the emulators; assertions read the database and what the
emulators recorded. Time only moves when a test moves it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import insert, select

from bot.clock import ManualClock
from bot.jira.personal_data import PersonalDataClient
from bot.jobs import tasks
from bot.jobs.scheduler import Job, JobOutcome, JobScheduler
from bot.services.personal_data import PersonalDataService
from bot.settings import load_settings
from bot.slack import ids
from storage.crypto import Encryptor
from storage.db import async_database_url, create_engine
from storage.migrate import upgrade
from storage.models import SLACK_OAUTH_STATES_TABLE, Base, JiraAccount, JobLease, OAuthState, TenantInstall
from storage.repositories.accounts import JiraIdentity, TokenSet
from storage.repositories.tenants import TenantRecord
from storage.store import Storage
from tests.emulators.atlassian import AtlassianEmulator
from tests.emulators.slack import SlackEmulator
from tests.harness import CLOUD_CLIENT_ID, CLOUD_CLIENT_SECRET, ENCRYPTION_KEY, BotHarness, OffsetClock

TEAM = "T0TEAM001"
ADMIN, ALICE = "U0ADMIN01", "U0ALICE01"
ADMIN_ACCOUNT, ALICE_ACCOUNT = "5b10ac8d82e05b22cc7d4ada", "5b10ac8d82e05b22cc7d4a11"


# Seeding ----------------------------------------------------------------------------------------

def _tokens(response: dict[str, Any], now: datetime) -> TokenSet:
    return TokenSet(response["access_token"], response.get("refresh_token"),
                    now + timedelta(seconds=int(response["expires_in"])), response.get("scope"))


class CloudSeed:
    """A Jira Cloud site on the emulator, installed in the bot's database with linked users."""

    def __init__(self, bot: BotHarness, slack: SlackEmulator, atlassian: AtlassianEmulator,
                 clock: OffsetClock) -> None:
        self.bot, self.slack, self.atlassian, self.clock = bot, slack, atlassian, clock
        atlassian.add_cloud_app(CLOUD_CLIENT_ID, CLOUD_CLIENT_SECRET, [bot.redirect_uri])
        self.site = atlassian.add_cloud_site("acme")
        self.tenant: TenantRecord = self._install()

    def _install(self) -> TenantRecord:
        self.slack.add_user(ADMIN, "ada", admin=True)
        self.atlassian.add_user(ADMIN_ACCOUNT, "Ada Admin", "ada@acme.test", sites=[self.site])
        now = self.clock.now()
        tokens = _tokens(self.atlassian.mint_cloud_tokens(CLOUD_CLIENT_ID, ADMIN_ACCOUNT), now)
        tenant, _ = self.bot.run(self.bot.storage.tenants.install(
            team_id=TEAM, enterprise_id=None, kind="cloud", site_url=self.site.url, site_name="acme",
            cloud_id=self.site.cloud_id, dc_client_id=None, dc_client_secret=None, installed_by=ADMIN,
            identity=JiraIdentity(ADMIN_ACCOUNT, "Ada Admin", "ada@acme.test"), tokens=tokens, now=now))
        return tenant

    def link(self, slack_user: str, account_id: str, name: str, *, tokens: TokenSet | None = None) -> None:
        """Links a user; with no `tokens`, real ones minted by the emulator for a new Atlassian user."""
        now = self.clock.now()
        if tokens is None:
            self.slack.add_user(slack_user, name.split()[0].lower())
            self.atlassian.add_user(account_id, name, f"{account_id}@acme.test", sites=[self.site])
            tokens = _tokens(self.atlassian.mint_cloud_tokens(CLOUD_CLIENT_ID, account_id), now)
        self.bot.run(self.bot.storage.accounts.link(
            tenant_id=self.tenant.id, team_id=TEAM, slack_user_id=slack_user,
            identity=JiraIdentity(account_id, name, f"{account_id}@acme.test"), tokens=tokens, now=now))

    def account(self, slack_user: str) -> Any:
        return self.bot.run(self.bot.storage.accounts.get(TEAM, slack_user))


@pytest.fixture
def cloud(bot: BotHarness, slack: SlackEmulator, atlassian: AtlassianEmulator,
          clock: OffsetClock) -> CloudSeed:
    return CloudSeed(bot, slack, atlassian, clock)


def service(bot: BotHarness, name: str) -> Any:
    return bot.components.services[name]


def dms_to(slack: SlackEmulator, user: str) -> list[dict[str, Any]]:
    return [c.params for c in slack.calls_to("chat.postMessage") if c.params.get("channel") == user]


def audit(bot: BotHarness, action: str) -> list[Any]:
    return bot.run(bot.storage.audit.list(action=action))


# Token upkeep -----------------------------------------------------------------------------------

def test_token_upkeep_refreshes_access_tokens_before_they_expire(
        bot: BotHarness, cloud: CloudSeed, atlassian: AtlassianEmulator, clock: OffsetClock) -> None:
    cloud.link(ALICE, ALICE_ACCOUNT, "Alice Anders")
    upkeep = service(bot, "token_upkeep")
    before = cloud.account(ALICE)

    fresh = bot.run(tasks.token_upkeep(upkeep))
    assert fresh.counts["refreshed"] == 0 and atlassian.token_refreshes == 0

    clock.advance(50 * 60)  # 10 minutes left: inside the 15-minute refresh-ahead window
    outcome = bot.run(tasks.token_upkeep(upkeep))
    assert outcome.counts == {"checked": 2, "refreshed": 2, "needs_reconnect": 0, "failed": 0, "notified": 0}
    assert atlassian.token_refreshes == 2
    after = cloud.account(ALICE)
    assert after.access_token != before.access_token and after.refresh_token != before.refresh_token
    assert after.expires_at > clock.now() + timedelta(minutes=55)
    assert atlassian.live_access_tokens(ALICE_ACCOUNT)[-1].token == after.access_token

    again = bot.run(tasks.token_upkeep(upkeep))
    assert again.counts["refreshed"] == 0 and atlassian.token_refreshes == 2


def test_token_upkeep_refreshes_refresh_tokens_idle_for_too_long(
        bot: BotHarness, cloud: CloudSeed, atlassian: AtlassianEmulator, clock: OffsetClock) -> None:
    # Alice's access token is far from expiring, but her refresh token will sit unused for 31 days.
    atlassian.add_user(ALICE_ACCOUNT, "Alice Anders", "alice@acme.test", sites=[cloud.site])
    minted = atlassian.mint_cloud_tokens(CLOUD_CLIENT_ID, ALICE_ACCOUNT)
    far = TokenSet(minted["access_token"], minted["refresh_token"], clock.now() + timedelta(days=60))
    cloud.link(ALICE, ALICE_ACCOUNT, "Alice Anders", tokens=far)
    upkeep = service(bot, "token_upkeep")
    clock.advance(29 * 86400)
    admin_first = bot.run(tasks.token_upkeep(upkeep))  # the admin's hour-long token long expired
    assert admin_first.counts["refreshed"] == 1
    assert cloud.account(ALICE).refresh_token == far.refresh_token

    clock.advance(2 * 86400)  # day 31: past JIRABOT_REFRESH_IDLE_DAYS (30)
    outcome = bot.run(tasks.token_upkeep(upkeep))
    alice = cloud.account(ALICE)
    assert outcome.counts["refreshed"] == 2  # Alice's idle grant, and the admin's expired token again
    assert alice.refresh_token != far.refresh_token
    assert alice.refreshed_at >= clock.now() - timedelta(seconds=5)


def test_a_dead_refresh_token_gives_one_reconnect_dm_over_several_runs(
        bot: BotHarness, cloud: CloudSeed, atlassian: AtlassianEmulator, slack: SlackEmulator,
        clock: OffsetClock) -> None:
    cloud.link(ALICE, ALICE_ACCOUNT, "Alice Anders")
    atlassian.revoke(ALICE_ACCOUNT)
    upkeep = service(bot, "token_upkeep")
    counts = []
    for _ in range(3):
        clock.advance(55 * 60)
        counts.append(bot.run(tasks.token_upkeep(upkeep)).counts)

    assert [c["needs_reconnect"] for c in counts] == [1, 0, 0]
    alice = cloud.account(ALICE)
    assert alice.needs_reconnect and alice.access_token is None
    dms = dms_to(slack, ALICE)
    assert len(dms) == 1
    assert ids.ACTION_CONNECT_START in str(dms[0]["blocks"]) and "Reconnect to Jira" in str(dms[0]["blocks"])
    assert len(audit(bot, "account.needs_reconnect")) == 1
    assert cloud.account(ADMIN).needs_reconnect is False  # the admin's link kept being refreshed


# Hygiene ----------------------------------------------------------------------------------------

def test_hygiene_deletes_expired_states_and_keys_and_prunes_the_audit_log(
        bot: BotHarness, clock: OffsetClock) -> None:
    storage = bot.storage
    now = clock.now()

    async def seed() -> None:
        for name, lifetime in (("old", 600), ("fresh", 3600)):
            await storage.states.create(state_hash=name * 8, team_id=TEAM, enterprise_id=None,
                                        slack_user_id=ALICE, purpose="link", code_verifier="v", payload=None,
                                        now=now, expires_at=now + timedelta(seconds=lifetime))
            await storage.idempotency.claim(f"key-{name}", team_id=TEAM, now=now,
                                            expires_at=now + timedelta(seconds=lifetime))
            await storage.confirmations.create(token_hash=name * 8, browser_hash="b" * 64, team_id=TEAM,
                                               enterprise_id=None, slack_user_id=ALICE, purpose="link",
                                               result="{}", now=now,
                                               expires_at=now + timedelta(seconds=lifetime))
        slack_states = Base.metadata.tables[SLACK_OAUTH_STATES_TABLE]
        async with storage.db.transaction() as session:
            naive = now.replace(tzinfo=None)
            await session.execute(insert(slack_states), [
                {"state": "slack-old", "expire_at": naive + timedelta(seconds=600)},
                {"state": "slack-fresh", "expire_at": naive + timedelta(seconds=3600)},
            ])
        for action, age in (("test.ancient", 366), ("test.recent", 364)):  # retention: 365 days
            await storage.audit.add(team_id=TEAM, actor=ALICE, action=action, now=now - timedelta(days=age))

    bot.run(seed())
    clock.advance(11 * 60)
    outcome = bot.run(tasks.hygiene(service(bot, "hygiene")))
    assert outcome.counts == {"oauth_states": 1, "oauth_confirmations": 1, "slack_oauth_states": 1,
                              "idempotency_keys": 1, "audit_entries": 1, "inbox_events": 0}

    async def remaining() -> tuple[list[str], list[str], list[str]]:
        slack_states = Base.metadata.tables[SLACK_OAUTH_STATES_TABLE]
        async with storage.db.transaction() as session:
            states = list(await session.scalars(select(OAuthState.state_hash)))
            slack = list(await session.scalars(select(slack_states.c.state)))
        actions = [entry.action for entry in await storage.audit.list()]
        return states, slack, actions

    states, slack_states, actions = bot.run(remaining())
    assert states == ["fresh" * 8] and slack_states == ["slack-fresh"]
    assert "test.recent" in actions and "test.ancient" not in actions
    assert bot.run(storage.idempotency.claim("key-old", team_id=TEAM, now=clock.now(),
                                             expires_at=clock.now())).claimed  # gone, so claimable again
    assert not bot.run(storage.idempotency.claim("key-fresh", team_id=TEAM, now=clock.now(),
                                                 expires_at=clock.now())).claimed


# Personal data reporting ------------------------------------------------------------------------

def _link_many(cloud: CloudSeed, count: int) -> dict[str, str]:
    """`count` more linked Cloud accounts, Slack user → Atlassian account id (their tokens are never
    used: the admin's token makes the reports)."""
    linked = {}
    for index in range(count):
        slack_user, account_id = f"U{index:07d}X", f"712020:{index:04d}-0000-4000-8000-000000000000"
        tokens = TokenSet(f"unused-access-{index}", f"unused-refresh-{index}",
                          cloud.clock.now() + timedelta(hours=1))
        cloud.link(slack_user, account_id, f"Person {index}", tokens=tokens)
        linked[slack_user] = account_id
    return linked


def test_personal_data_reporting_batches_at_90_and_erases_closed_accounts(
        bot: BotHarness, cloud: CloudSeed, atlassian: AtlassianEmulator, clock: OffsetClock) -> None:
    linked = _link_many(cloud, 199)
    stored = sorted([ADMIN_ACCOUNT, *linked.values()])
    closed_user, closed = "U0000042X", linked["U0000042X"]
    atlassian.close_account(closed)

    outcome = bot.run(tasks.personal_data(service(bot, "personal_data")))

    batches = atlassian.report_batches
    assert [len(batch) for batch in batches] == [90, 90, 20]
    assert sorted(entry["accountId"] for batch in batches for entry in batch) == stored
    assert all(entry["updatedAt"].endswith("Z") for batch in batches for entry in batch)
    assert outcome.counts["closed"] == 1 and outcome.counts["links_erased"] == 1
    assert outcome.next_run_in == timedelta(seconds=604800)  # the emulator's Cycle-Period
    assert cloud.account(closed_user) is None
    erased = audit(bot, "account.erased")
    assert [(e.subject, e.detail["reason"]) for e in erased] == [(closed, "atlassian_account_closed")]
    link_entries = [e for e in audit(bot, "account.linked") if e.subject == closed]
    assert link_entries and all("display_name" not in (e.detail or {}) for e in link_entries)

    async def reported_at() -> list[Any]:
        async with bot.storage.db.transaction() as session:
            return list(await session.scalars(select(JiraAccount.personal_data_reported_at)))
    assert all(stamp is not None for stamp in bot.run(reported_at()))


def test_personal_data_updated_accounts_get_their_name_fetched_again(
        bot: BotHarness, cloud: CloudSeed, atlassian: AtlassianEmulator, clock: OffsetClock) -> None:
    cloud.link(ALICE, ALICE_ACCOUNT, "Alice Anders")
    atlassian.mark_account_updated(ALICE_ACCOUNT, at=clock.now().timestamp() + 60)
    clock.advance(120)
    outcome = bot.run(tasks.personal_data(service(bot, "personal_data")))
    assert outcome.counts["updated"] == 1 and outcome.counts["refetched"] == 1
    assert atlassian.requests_to(r"/rest/api/3/myself$")

    clock.advance(7 * 86400)
    again = bot.run(tasks.personal_data(service(bot, "personal_data")))
    assert again.counts["updated"] == 0  # the stored data is now known current


def test_the_cycle_period_header_sets_the_next_reporting_run(
        bot: BotHarness, cloud: CloudSeed, atlassian: AtlassianEmulator, clock: OffsetClock) -> None:
    scheduler: JobScheduler = service(bot, "scheduler")
    atlassian.report_cycle_period = "86400"
    started = clock.now()
    first = bot.run(scheduler.run_if_due(tasks.PERSONAL_DATA))
    assert first.ran and abs(first.next_check - (started + timedelta(days=1))) < timedelta(seconds=5)
    lease = bot.run(lease_of(bot.storage, tasks.PERSONAL_DATA))
    assert lease.next_due_at == first.next_check and lease.holder is None

    assert not bot.run(scheduler.run_if_due(tasks.PERSONAL_DATA)).ran
    clock.advance(86400 - 60)
    assert not bot.run(scheduler.run_if_due(tasks.PERSONAL_DATA)).ran
    assert len(atlassian.report_batches) == 1

    atlassian.report_cycle_period = None  # no header: the configured default (7 days)
    clock.advance(120)
    second = bot.run(scheduler.run_if_due(tasks.PERSONAL_DATA))
    assert second.ran and len(atlassian.report_batches) == 2
    assert abs(second.next_check - (clock.now() + timedelta(days=7))) < timedelta(seconds=5)


def test_a_short_retry_after_is_waited_out_and_the_batch_sent_again(
        bot: BotHarness, cloud: CloudSeed, atlassian: AtlassianEmulator, clock: OffsetClock) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock.advance(seconds)

    reporting = PersonalDataService(
        bot.storage, service(bot, "tokens"),
        PersonalDataClient(bot.components.http, api_url=bot.settings.atlassian_api_url, timeout=5),
        clock, default_cycle=timedelta(days=7), sleep=sleep)
    atlassian.fail_next(r"^/app/report-accounts", 429, {"code": 429, "message": "Too many requests"},
                        headers={"Retry-After": "7"})
    outcome = bot.run(tasks.personal_data(reporting))
    assert waits == [7.0]
    assert len(atlassian.requests_to(r"^/app/report-accounts")) == 2
    assert len(atlassian.report_batches) == 1 and outcome.counts["complete"] == 1


def test_a_long_retry_after_ends_the_run_until_atlassian_allows(
        bot: BotHarness, cloud: CloudSeed, atlassian: AtlassianEmulator, clock: OffsetClock) -> None:
    scheduler: JobScheduler = service(bot, "scheduler")
    atlassian.fail_next(r"^/app/report-accounts", 429, None, headers={"Retry-After": "3600"})
    started = clock.now()
    tick = bot.run(scheduler.run_if_due(tasks.PERSONAL_DATA))
    assert tick.ran and tick.outcome is not None and tick.outcome.counts["complete"] == 0
    assert abs(tick.next_check - (started + timedelta(hours=1))) < timedelta(seconds=5)
    assert atlassian.report_batches == []

    clock.advance(1800)
    assert not bot.run(scheduler.run_if_due(tasks.PERSONAL_DATA)).ran
    clock.advance(1800)
    assert bot.run(scheduler.run_if_due(tasks.PERSONAL_DATA)).ran
    assert len(atlassian.report_batches) == 1


# Key rotation -----------------------------------------------------------------------------------

NEW_KEY = Fernet.generate_key().decode("ascii")


@pytest.fixture
def rotating_bot(database_url: str, slack: SlackEmulator, atlassian: AtlassianEmulator,
                 clock: OffsetClock) -> Iterator[BotHarness]:
    """A bot whose newest key is NEW_KEY, the harness key (which wrote the data) second."""
    harness = BotHarness.start(database_url=database_url, slack_api_url=slack.api_url,
                               atlassian_url=atlassian.base_url, clock=clock,
                               jirabot_encryption_key=f"{NEW_KEY},{ENCRYPTION_KEY}")
    yield harness
    harness.stop()


def test_key_rotation_reencrypts_secrets_stored_under_an_older_key(rotating_bot: BotHarness,
                                                                     clock: OffsetClock) -> None:
    bot = rotating_bot
    old = Storage.create(bot.storage.db.engine, Encryptor.from_string(ENCRYPTION_KEY))
    now = clock.now()

    async def seed() -> None:
        tenant, _ = await old.tenants.install(
            team_id=TEAM, enterprise_id=None, kind="datacenter", site_url="https://jira.acme.test",
            site_name=None, cloud_id=None, dc_client_id="dc-client", dc_client_secret="dc-secret",
            installed_by=ADMIN, identity=JiraIdentity("ada", "Ada Admin", None),
            tokens=TokenSet("access-a", "refresh-a", now + timedelta(hours=1)), now=now)
        await old.states.create(state_hash="s" * 64, team_id=TEAM, enterprise_id=None, slack_user_id=ALICE,
                                purpose="link", code_verifier="verifier", payload='{"kind":"x"}', now=now,
                                expires_at=now + timedelta(minutes=10))
        await old.confirmations.create(token_hash="c" * 64, browser_hash="b" * 64, team_id=TEAM,
                                       enterprise_id=None, slack_user_id=ALICE, purpose="link",
                                       result='{"tokens": "x"}', now=now,
                                       expires_at=now + timedelta(minutes=10))

    bot.run(seed())
    outcome = bot.run(tasks.key_rotation(service(bot, "key_rotation")))
    assert outcome.counts == {"account_values": 2, "tenant_values": 1, "state_values": 2,
                              "confirmation_values": 1, "slack_install_values": 0}

    async def ciphertexts() -> list[str]:
        async with bot.storage.db.transaction() as session:
            account = await session.scalar(select(JiraAccount))
            tenant = await session.scalar(select(TenantInstall))
            state = await session.scalar(select(OAuthState))
            return [account.access_token_enc, account.refresh_token_enc, tenant.dc_client_secret_enc,
                    state.code_verifier_enc, state.payload_enc]

    newest_only = Fernet(NEW_KEY.encode())
    assert [newest_only.decrypt(c.encode()).decode() for c in bot.run(ciphertexts())] == [
        "access-a", "refresh-a", "dc-secret", "verifier", '{"kind":"x"}']
    again = bot.run(tasks.key_rotation(service(bot, "key_rotation")))
    assert again.counts == {"account_values": 0, "tenant_values": 0, "state_values": 0,
                            "confirmation_values": 0, "slack_install_values": 0}


# The scheduler: one run per due time, across replicas -------------------------------------------

@pytest.fixture
async def storage(database_url: str) -> AsyncIterator[Storage]:
    engine = create_engine(async_database_url(database_url, None))  # type: ignore[arg-type]
    await upgrade(engine)
    yield Storage.create(engine, Encryptor.from_string(ENCRYPTION_KEY))
    await engine.dispose()


async def lease_of(storage: Storage, name: str) -> JobLease:
    lease = await storage.leases.get(name)
    assert lease is not None
    return lease


class Counter:
    def __init__(self, fail: bool = False) -> None:
        self.runs = 0
        self.fail = fail
        self.release = asyncio.Event()
        self.release.set()
        self.started = asyncio.Event()

    async def __call__(self) -> JobOutcome:
        self.runs += 1
        self.started.set()
        await self.release.wait()
        if self.fail:
            raise RuntimeError("boom")
        return JobOutcome({"runs": self.runs})


def _replicas(storage: Storage, clock: ManualClock, counter: Counter, count: int = 3,
              interval: timedelta = timedelta(minutes=10)) -> list[JobScheduler]:
    replicas = []
    for index in range(count):
        scheduler = JobScheduler(storage.leases, clock, lease_ttl=timedelta(seconds=60),
                                 holder=f"replica-{index}")
        scheduler.add(Job("counted", interval, counter))
        replicas.append(scheduler)
    return replicas


async def test_a_due_run_executes_once_across_replicas_then_waits_for_its_next_due_time(
        storage: Storage) -> None:
    clock = ManualClock(datetime(2025, 3, 1, 12, 0, tzinfo=UTC))
    counter = Counter()
    replicas = _replicas(storage, clock, counter)

    ticks = await asyncio.gather(*(r.run_if_due("counted") for r in replicas))
    assert counter.runs == 1 and sum(t.ran for t in ticks) == 1
    due = clock.now() + timedelta(minutes=10)
    assert [t.next_check for t in ticks if t.ran] == [due]
    # A loser looks again when the run falls due, or, if it asked while the run was going on, when the
    # winner's lease would run out (in case the winner died).
    assert {t.next_check for t in ticks if not t.ran} <= {due, clock.now() + timedelta(seconds=60)}
    lease = await lease_of(storage, "counted")
    assert lease.next_due_at == due and lease.last_run_at == clock.now() and lease.holder is None

    clock.advance(9 * 60)
    await asyncio.gather(*(r.run_if_due("counted") for r in replicas))
    assert counter.runs == 1
    clock.advance(60)
    ticks = await asyncio.gather(*(r.run_if_due("counted") for r in replicas))
    assert counter.runs == 2 and sum(t.ran for t in ticks) == 1


async def test_each_run_is_logged_as_an_event_key_with_its_counts(
        storage: Storage, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.jobs.scheduler")
    clock = ManualClock(datetime(2025, 3, 1, 12, 0, tzinfo=UTC))
    await _replicas(storage, clock, Counter(), count=1)[0].run_if_due("counted")
    [record] = [r for r in caplog.records if r.getMessage() == "jobs.counted.done"]
    assert record.runs == 1 and record.holder == "replica-0"  # type: ignore[attr-defined]


async def test_a_run_whose_holder_died_is_taken_over_once_the_lease_expires(storage: Storage) -> None:
    clock = ManualClock(datetime(2025, 3, 1, 12, 0, tzinfo=UTC))
    counter = Counter()
    survivor = _replicas(storage, clock, counter, count=1)[0]
    # The dead replica took the run and never released it.
    assert (await storage.leases.claim_due("counted", "dead-replica", now=clock.now(),
                                           ttl=timedelta(seconds=60))).acquired

    tick = await survivor.run_if_due("counted")
    assert not tick.ran and tick.next_check == clock.now() + timedelta(seconds=60)
    clock.advance(59)
    assert not (await survivor.run_if_due("counted")).ran
    clock.advance(1)
    tick = await survivor.run_if_due("counted")
    assert tick.ran and counter.runs == 1
    lease = await lease_of(storage, "counted")
    assert lease.holder is None and lease.next_due_at == clock.now() + timedelta(minutes=10)


async def test_a_failed_run_is_retried_sooner_than_its_interval(storage: Storage) -> None:
    clock = ManualClock(datetime(2025, 3, 1, 12, 0, tzinfo=UTC))
    counter = Counter(fail=True)
    replica = _replicas(storage, clock, counter, count=1, interval=timedelta(days=7))[0]
    tick = await replica.run_if_due("counted")
    assert tick.ran and tick.failed and tick.next_check == clock.now() + timedelta(minutes=15)
    lease = await lease_of(storage, "counted")
    assert lease.holder is None and lease.last_run_at is None


async def test_the_scheduler_runs_due_jobs_at_start_and_waits_for_them_when_stopping(
        storage: Storage) -> None:
    clock = ManualClock(datetime(2025, 3, 1, 12, 0, tzinfo=UTC))
    counter = Counter()
    counter.release.clear()
    replica = _replicas(storage, clock, counter, count=1)[0]
    await replica.start()
    await asyncio.wait_for(counter.started.wait(), timeout=5)
    assert (await lease_of(storage, "counted")).holder == "replica-0"

    stopping = asyncio.create_task(replica.stop())
    await asyncio.sleep(0)
    assert not stopping.done()  # waits for the running job
    counter.release.set()
    await asyncio.wait_for(stopping, timeout=5)
    lease = await lease_of(storage, "counted")
    assert lease.holder is None and lease.last_run_at == clock.now() and counter.runs == 1


async def test_a_job_still_running_when_the_stop_wait_ends_is_cancelled_and_left_due(
        storage: Storage) -> None:
    clock = ManualClock(datetime(2025, 3, 1, 12, 0, tzinfo=UTC))
    counter = Counter()
    counter.release.clear()  # never finishes by itself
    replica = JobScheduler(storage.leases, clock, lease_ttl=timedelta(seconds=60), holder="replica-0",
                           stop_timeout=0.1)
    replica.add(Job("counted", timedelta(minutes=10), counter))
    await replica.start()
    await asyncio.wait_for(counter.started.wait(), timeout=5)
    await asyncio.wait_for(replica.stop(), timeout=5)
    lease = await lease_of(storage, "counted")
    assert lease.holder is None and lease.next_due_at is None and lease.last_run_at is None
    other = _replicas(storage, clock, Counter(), count=1)[0]
    assert (await other.run_if_due("counted")).ran  # another replica does the run at once


async def test_a_shortened_interval_takes_effect_from_the_restart(storage: Storage) -> None:
    clock = ManualClock(datetime(2025, 3, 1, 12, 0, tzinfo=UTC))
    counter = Counter()
    before = JobScheduler(storage.leases, clock, lease_ttl=timedelta(seconds=60), holder="before")
    before.add(Job("counted", timedelta(days=1), counter))
    assert (await before.run_if_due("counted")).ran
    assert (await lease_of(storage, "counted")).next_due_at == clock.now() + timedelta(days=1)

    clock.advance(60)  # restarted a minute later with JIRABOT_…_INTERVAL=60
    after = JobScheduler(storage.leases, clock, lease_ttl=timedelta(seconds=60), holder="after")
    after.add(Job("counted", timedelta(seconds=60), counter))
    await after.start()
    try:
        for _ in range(500):
            if counter.runs == 2:
                break
            await asyncio.sleep(0.01)
    finally:
        await after.stop()
    assert counter.runs == 2
    lease = await lease_of(storage, "counted")
    assert lease.last_run_at == clock.now() and lease.next_due_at == clock.now() + timedelta(seconds=60)


async def test_a_lengthened_interval_keeps_the_earlier_due_time_and_cycle_driven_jobs_keep_theirs(
        storage: Storage) -> None:
    clock = ManualClock(datetime(2025, 3, 1, 12, 0, tzinfo=UTC))
    await storage.leases.claim_due("cycle", "x", now=clock.now(), ttl=timedelta(seconds=60))
    week = clock.now() + timedelta(days=7)
    await storage.leases.release("cycle", "x", ran_at=clock.now(), next_due_at=week)
    replica = JobScheduler(storage.leases, clock, lease_ttl=timedelta(seconds=60), holder="r")
    replica.add(Job("cycle", timedelta(days=1), Counter(), due_follows_interval=False))
    assert await storage.leases.bring_forward("cycle", interval=timedelta(days=8), now=clock.now()) is None
    await replica.start()
    await replica.stop()
    assert (await lease_of(storage, "cycle")).next_due_at == clock.now() + timedelta(days=7)
    settings = load_settings(slack_signing_secret="s", slack_bot_token="xoxb-1", database_url="",
                             _env_file=None)
    services = tasks.JobServices(*(object() for _ in range(4)))  # type: ignore[arg-type]
    jobs = {job.name: job for job in tasks.build_jobs(settings, services)}
    assert not jobs[tasks.PERSONAL_DATA].due_follows_interval
    assert jobs[tasks.KEY_ROTATION].due_follows_interval and jobs[tasks.TOKEN_UPKEEP].due_follows_interval
