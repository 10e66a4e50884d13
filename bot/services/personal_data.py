"""Atlassian personal data reporting: what a Jira Cloud app that stores personal data must do.

Every cycle, the Atlassian account ids stored for Cloud links are reported in batches of at most 90.
An account reported `closed` is erased (links, tokens, name, email) with an audit entry; one reported
`updated` gets its name and email fetched again. Accounts the answer does not name are confirmed
current as of the report. The next cycle is the answer's `Cycle-Period`, or 7 days.

A 429 is honoured: a short `Retry-After` is waited out and the batch sent again; a long one ends the
pass, and the next pass starts when Atlassian allows. Replicas look at least every
JIRABOT_PERSONAL_DATA_INTERVAL whether a cycle is due.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta

from bot.clock import Clock
from bot.jira.errors import JiraError, JiraRateLimited, JiraUnauthorized
from bot.jira.personal_data import MAX_ACCOUNTS_PER_REPORT, PersonalDataClient, ReportAnswer, ReportedAccount
from bot.services.oauth_apps import CloudAppNotConfigured
from bot.services.tokens import TokenService
from storage.repositories.accounts import AccountRecord, PersonalDataEntry
from storage.repositories.tenants import TenantRecord
from storage.store import Storage

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]

DEFAULT_CYCLE = timedelta(days=7)  # Atlassian's, when the answer carries no Cycle-Period
MIN_CYCLE = timedelta(minutes=1)
MAX_INLINE_WAIT = timedelta(seconds=60)
DEFAULT_RATE_LIMIT_DELAY = timedelta(seconds=10)
MAX_RATE_LIMIT_WAITS = 5
NO_TOKEN_RETRY = timedelta(hours=1)
ERASE_REASON = "atlassian_account_closed"


class RateLimitedFor(Exception):
    def __init__(self, delay: timedelta) -> None:
        super().__init__(f"rate limited for {delay}")
        self.delay = delay


class NoReportingToken(Exception):
    """No linked Cloud account has a token the reporting API accepts."""


@dataclass(frozen=True)
class ReportingResult:
    accounts: int = 0
    batches: int = 0
    closed: int = 0
    links_erased: int = 0
    updated: int = 0
    refetched: int = 0
    complete: bool = True
    next_run_in: timedelta | None = None

    def counts(self) -> dict[str, int]:
        return {"accounts": self.accounts, "batches": self.batches, "closed": self.closed,
                "links_erased": self.links_erased, "updated": self.updated, "refetched": self.refetched,
                "complete": int(self.complete)}


class _TokenSource:
    """Access tokens of linked Cloud accounts, one after the other as they fail."""

    def __init__(self, storage: Storage, tokens: TokenService) -> None:
        self._storage = storage
        self._tokens = tokens
        self._candidates: Iterator[tuple[TenantRecord, AccountRecord]] | None = None
        self._current: str | None = None

    async def _load(self) -> Iterator[tuple[TenantRecord, AccountRecord]]:
        tenants = {t.id: t for t in await self._storage.tenants.list_all() if t.is_cloud}
        accounts = await self._storage.accounts.list_cloud_accounts()
        return iter([(tenants[a.tenant_id], a) for a in accounts
                     if a.tenant_id in tenants and not a.needs_reconnect])

    async def token(self) -> str:
        if self._current is not None:
            return self._current
        if self._candidates is None:
            self._candidates = await self._load()
        for tenant, account in self._candidates:
            try:
                fresh = await self._tokens.refresh(tenant, account)
            except (JiraError, CloudAppNotConfigured):
                continue
            if fresh.access_token:
                self._current = fresh.access_token
                return self._current
        raise NoReportingToken()

    def reject(self) -> None:
        self._current = None


class PersonalDataService:
    def __init__(self, storage: Storage, tokens: TokenService, client: PersonalDataClient, clock: Clock,
                 *, default_cycle: timedelta = DEFAULT_CYCLE, sleep: Sleep = asyncio.sleep,
                 max_inline_wait: timedelta = MAX_INLINE_WAIT) -> None:
        self._storage = storage
        self._tokens = tokens
        self._client = client
        self._clock = clock
        self._default_cycle = default_cycle
        self._sleep = sleep
        self._max_inline_wait = max_inline_wait

    async def report(self) -> ReportingResult:
        """One reporting pass over every stored account."""
        entries = await self._storage.accounts.list_personal_data()
        if not entries:
            return ReportingResult(next_run_in=self._default_cycle)
        source = _TokenSource(self._storage, self._tokens)
        cycle: timedelta | None = None
        accounts = batches = closed = erased = updated = refetched = 0
        for start in range(0, len(entries), MAX_ACCOUNTS_PER_REPORT):
            batch = entries[start:start + MAX_ACCOUNTS_PER_REPORT]
            try:
                answer = await self._send(batch, source)
            except RateLimitedFor as limited:
                log.warning("personal_data.rate_limited", extra={"retry_in": limited.delay.total_seconds(),
                                                                  "batches_done": batches})
                return ReportingResult(accounts, batches, closed, erased, updated, refetched,
                                       complete=False, next_run_in=limited.delay)
            except NoReportingToken:
                log.warning("personal_data.no_token", extra={"accounts": len(entries)})
                return ReportingResult(accounts, batches, closed, erased, updated, refetched,
                                       complete=False, next_run_in=min(NO_TOKEN_RETRY, self._default_cycle))
            now = self._clock.now()
            accounts += len(batch)
            batches += 1
            cycle = answer.cycle_period or cycle
            for account_id in answer.closed:
                closed += 1
                erased += await self._storage.accounts.erase_jira_account(account_id, now=now,
                                                                          reason=ERASE_REASON)
            for account_id in answer.updated:
                updated += 1
                refetched += await self._refetch(account_id)
            named = set(answer.closed) | set(answer.updated)
            await self._storage.accounts.mark_personal_data_current(
                [e.jira_account_id for e in batch if e.jira_account_id not in named], now)
        return ReportingResult(accounts, batches, closed, erased, updated, refetched,
                               next_run_in=max(cycle or self._default_cycle, MIN_CYCLE))

    async def _send(self, batch: list[PersonalDataEntry], source: _TokenSource) -> ReportAnswer:
        reported = [ReportedAccount(e.jira_account_id, e.as_of) for e in batch]
        waits = 0
        while True:
            token = await source.token()
            try:
                return await self._client.report(token, reported)
            except JiraUnauthorized:
                source.reject()
            except JiraRateLimited as exc:
                delay = (timedelta(seconds=exc.retry_after) if exc.retry_after is not None
                         else DEFAULT_RATE_LIMIT_DELAY)
                waits += 1
                if delay > self._max_inline_wait or waits > MAX_RATE_LIMIT_WAITS:
                    raise RateLimitedFor(delay) from None
                log.info("personal_data.rate_limited_wait", extra={"delay": delay.total_seconds()})
                await self._sleep(delay.total_seconds())

    async def _refetch(self, jira_account_id: str) -> int:
        """Fetches the name and email of an `updated` account again, through each of its links."""
        refetched = 0
        for account in await self._storage.accounts.list_by_jira_account(jira_account_id):
            tenant = await self._storage.tenants.get(account.team_id)
            if account.needs_reconnect or tenant is None or tenant.id != account.tenant_id:
                continue
            try:
                async with self._tokens.session(tenant, account) as client:
                    user = await client.myself()
            except (JiraError, CloudAppNotConfigured) as exc:
                log.warning("personal_data.refetch_failed",
                            extra={"team_id": tenant.team_id, "error_type": type(exc).__name__})
                continue
            if user.account_id != jira_account_id:
                continue
            if await self._storage.accounts.update_identity(account.id, display_name=user.display_name,
                                                            email=user.email, now=self._clock.now()):
                refetched += 1
        return refetched
