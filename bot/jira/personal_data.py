"""Atlassian's personal data reporting API, for the Atlassian account ids the bot stores.

`POST {ATLASSIAN_API_URL}/app/report-accounts/` takes up to 90 `{accountId, updatedAt}` and answers 200
with the accounts that were closed or updated since, or 204 when there is nothing to do. OAuth 2.0 (3LO)
apps call it with a user's access token. The response may say, in `Cycle-Period` (seconds), when to
report next.

Rate limiting is left to the caller: a 429 raises `JiraRateLimited` at once, with its `retry_after`,
because Atlassian may ask for a longer pause than an inline retry should wait.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx

from bot.jira.errors import JiraError
from bot.jira.http import RetryPolicy, send

REPORT_PATH = "/app/report-accounts/"
MAX_ACCOUNTS_PER_REPORT = 90


class AccountStatus(enum.StrEnum):
    CLOSED = "closed"
    UPDATED = "updated"


@dataclass(frozen=True)
class ReportedAccount:
    account_id: str
    updated_at: datetime


@dataclass(frozen=True)
class ReportAnswer:
    closed: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    cycle_period: timedelta | None = None


def format_updated_at(when: datetime) -> str:
    """ISO 8601 in UTC with milliseconds, as Atlassian's examples show: 2018-10-25T23:08:51.382Z."""
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_cycle_period(value: str | None) -> timedelta | None:
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return timedelta(seconds=seconds) if seconds > 0 else None


def parse_answer(response: httpx.Response) -> ReportAnswer:
    cycle = parse_cycle_period(response.headers.get("Cycle-Period"))
    if response.status_code == 204 or not response.content:
        return ReportAnswer(cycle_period=cycle)
    try:
        payload = response.json()
    except ValueError:
        raise JiraError("the personal data reporting API answered something that is not JSON",
                        method="POST", url=str(response.request.url)) from None
    closed: list[str] = []
    updated: list[str] = []
    entries = payload.get("accounts") if isinstance(payload, dict) else None
    for entry in entries or []:
        if not isinstance(entry, dict) or not isinstance(entry.get("accountId"), str):
            continue
        if entry.get("status") == AccountStatus.CLOSED:
            closed.append(entry["accountId"])
        elif entry.get("status") == AccountStatus.UPDATED:
            updated.append(entry["accountId"])
    return ReportAnswer(tuple(closed), tuple(updated), cycle)


class PersonalDataClient:
    def __init__(self, http: httpx.AsyncClient, *, api_url: str, timeout: float) -> None:
        self._http = http
        self._url = f"{api_url.rstrip('/')}{REPORT_PATH}"
        self._timeout = timeout
        # One attempt: the service decides how to honour a 429's Retry-After.
        self._policy = RetryPolicy(max_attempts=1)

    async def report(self, access_token: str, accounts: Sequence[ReportedAccount]) -> ReportAnswer:
        if not 1 <= len(accounts) <= MAX_ACCOUNTS_PER_REPORT:
            raise ValueError(f"a report takes 1 to {MAX_ACCOUNTS_PER_REPORT} accounts, not {len(accounts)}")
        response = await send(
            self._http, "POST", self._url, policy=self._policy, idempotent=True, timeout=self._timeout,
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
            json={"accounts": [{"accountId": a.account_id, "updatedAt": format_updated_at(a.updated_at)}
                               for a in accounts]},
        )
        return parse_answer(response)
