"""The card service against Jira answers served by httpx.MockTransport: every Jira failure becomes a
refusal with a reason, comments go out once per submission, and a link is required."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from bot.clock import ManualClock
from bot.jira.client import BearerAuth, JiraClient
from bot.jira.http import RetryPolicy
from bot.services.issue_cards import ActionDone, ActionKind, CardView, IssueCardService, Refusal, Refused
from bot.services.issues import Blocked, BlockedReason, Ready
from bot.slack.context import Actor
from storage.repositories.accounts import AccountRecord
from storage.repositories.tenants import TenantRecord
from storage.store import Storage
from tests.unit.test_issue_card import CLOUD_ISSUE

NOW = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
ACTOR = Actor("T1", None, "U1")
TENANT = TenantRecord(
    1, "T1", None, "cloud", "https://acme.atlassian.net", "acme", "cloud-1", None, None, "U0", NOW, None, None
)
ACCOUNT = AccountRecord(
    1, 1, "T1", "U1", "acc-1", "Alice", "a@x", "tok", "ref", None, "read", "linked", NOW, None, None, None
)
Handler = Callable[[httpx.Request], httpx.Response]


class FakeTokens:
    def __init__(self, handler: Handler) -> None:
        self.http = httpx.AsyncClient(transport=httpx.MockTransport(handler))

    @asynccontextmanager
    async def session(self, tenant: TenantRecord, account: AccountRecord) -> AsyncIterator[JiraClient]:
        yield JiraClient(
            self.http,
            api_base="https://api.example/ex/jira/cloud-1/rest/api/3",
            cloud=True,
            auth=BearerAuth("tok"),
            policy=RetryPolicy(max_attempts=1),
        )


class FakeIssues:
    def __init__(self, linked: bool = True) -> None:
        self.linked = linked

    async def access(self, actor: Actor) -> Ready | Blocked:
        if self.linked:
            return Ready(TENANT, ACCOUNT)
        return Blocked(BlockedReason.NOT_LINKED, "acme.atlassian.net", "https://auth.example/go")


def service(storage: Storage, handler: Handler, linked: bool = True) -> IssueCardService:
    return IssueCardService(storage, FakeTokens(handler), FakeIssues(linked), ManualClock(NOW))  # type: ignore[arg-type]


def answer(status: int, body: Any = None, headers: dict[str, str] | None = None) -> Handler:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and request.url.path.endswith("/issue/ENG-42"):
            return httpx.Response(200, json=CLOUD_ISSUE)
        return httpx.Response(status, json=body, headers=headers or {})

    return handle


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (400, {"errorMessages": ["Nope"], "errors": {"assignee": "Bad user"}}, Refusal.REJECTED),
        (403, {"errorMessages": ["No permission"]}, Refusal.FORBIDDEN),
        (404, {"errorMessages": ["Gone"]}, Refusal.NOT_FOUND),
        (429, {}, Refusal.RATE_LIMITED),
        (503, {}, Refusal.UNREACHABLE),
    ],
)
async def test_jira_failures_become_refusals(
    storage: Storage, status: int, body: Any, reason: Refusal
) -> None:
    headers = {"Retry-After": "7"} if status == 429 else {}  # (a 503 with Retry-After is a rate limit too)
    result = await service(storage, answer(status, body, headers)).assign_to_me(ACTOR, "ENG-42")
    assert isinstance(result, Refused) and result.reason == reason and result.key == "ENG-42"
    if reason == Refusal.RATE_LIMITED:
        assert result.retry_after == 7
    if reason == Refusal.REJECTED:
        assert result.messages == ("Nope",) and result.field_errors == {"assignee": "Bad user"}


async def test_an_action_reads_the_issue_again_for_the_card(storage: Storage) -> None:
    sent: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return answer(204)(request)

    result = await service(storage, handle).assign_to_me(ACTOR, "ENG-42")
    assert isinstance(result, ActionDone) and result.kind == ActionKind.ASSIGN
    assert (
        isinstance(result.card, CardView) and result.card.issue.key == "ENG-42" and result.card.channel_full
    )
    assert [r.method for r in sent] == ["PUT", "GET"] and json.loads(sent[0].content) == {
        "accountId": "acc-1"
    }


async def test_a_comment_goes_out_once_per_submission(storage: Storage) -> None:
    posts: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            posts.append(request)
            return httpx.Response(201, json={"id": "10001"})
        return answer(200)(request)

    cards = service(storage, handle)
    first = await cards.comment(ACTOR, "ENG-42", "Looks *good*", submission="V1")
    again = await cards.comment(ACTOR, "ENG-42", "Looks *good*", submission="V1")
    assert isinstance(first, ActionDone) and not first.repeated
    assert isinstance(again, ActionDone) and again.repeated and len(posts) == 1
    assert json.loads(posts[0].content)["body"]["type"] == "doc"
    other = await cards.comment(ACTOR, "ENG-42", "Another", submission="V2")
    assert isinstance(other, ActionDone) and len(posts) == 2


async def test_a_refused_comment_may_be_sent_again_and_an_unanswered_one_is_not(storage: Storage) -> None:
    refused = service(storage, answer(403, {"errorMessages": ["No"]}))
    assert (await refused.comment(ACTOR, "ENG-42", "Hi", submission="V3")).reason == Refusal.FORBIDDEN  # type: ignore[union-attr]
    assert (await refused.comment(ACTOR, "ENG-42", "Hi", submission="V3")).reason == Refusal.FORBIDDEN  # type: ignore[union-attr]

    def timeout(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            raise httpx.ReadTimeout("slow", request=request)
        return answer(200)(request)

    slow = service(storage, timeout)
    assert (await slow.comment(ACTOR, "ENG-42", "Hi", submission="V4")).reason == Refusal.UNCERTAIN  # type: ignore[union-attr]
    assert (await slow.comment(ACTOR, "ENG-42", "Hi", submission="V4")).reason == Refusal.UNCERTAIN  # type: ignore[union-attr]


async def test_an_unlinked_person_is_told_to_connect(storage: Storage) -> None:
    def never(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no Jira call without a link")

    cards = service(storage, never, linked=False)
    for result in (
        await cards.show(ACTOR, "ENG-42"),
        await cards.watch(ACTOR, "ENG-42"),
        await cards.transition_choices(ACTOR, "ENG-42"),
    ):
        assert isinstance(result, Refused) and result.reason == Refusal.NOT_LINKED
        assert result.connect_url == "https://auth.example/go"
