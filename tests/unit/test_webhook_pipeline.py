"""The pieces of the Jira → Slack pipeline alone: delivery verification, webhook JQL filters, event
parsing, the thread replies, and the channel sender's pacing and 429 handling."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.jira.events import EventKind, JiraEvent, plain_text
from bot.jira.jql import project_filter, webhook_filter_allows
from bot.slack.sender import ChannelSender, SlackSendFailed
from bot.slack.views.notifications import build_event_reply
from bot.web.webhook_auth import Unverified, dc_signature, verify_cloud_jwt, verify_dc_signature
from tests.emulators.atlassian_webhooks import sign_jwt
from tests.emulators.jql import webhook_filter_errors

SECRET = "client-secret"


def test_a_cloud_jwt_needs_the_app_secret_hs256_and_a_future_expiry() -> None:
    now = time.time()
    good = sign_jwt({"iss": "app", "exp": int(now) + 60}, SECRET)
    assert verify_cloud_jwt(f"Bearer {good}", SECRET, now=now)["iss"] == "app"
    cases = {
        "jwt_missing": None,
        "jwt_malformed": "Bearer abc.def",
        "jwt_signature": f"Bearer {sign_jwt({'exp': int(now) + 60}, 'other')}",
        "jwt_expired": f"Bearer {sign_jwt({'exp': int(now) - 120}, SECRET)}",
        "jwt_no_expiry": f"Bearer {sign_jwt({'iss': 'app'}, SECRET)}",
    }
    for reason, header in cases.items():
        with pytest.raises(Unverified) as refused:
            verify_cloud_jwt(header, SECRET, now=now)
        assert refused.value.reason == reason
    head, body, _ = good.split(".")
    none_alg = "eyJhbGciOiJub25lIn0." + body + "."
    with pytest.raises(Unverified):
        verify_cloud_jwt(f"Bearer {none_alg}", SECRET, now=now)
    assert head


def test_a_dc_signature_is_the_hmac_of_the_exact_body() -> None:
    body = b'{"webhookEvent":"jira:issue_created"}'
    header = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert dc_signature(body, "s3cret") == header
    verify_dc_signature(header, body, "s3cret")
    for bad_header, bad_body in ((None, body), (header, body + b" "), ("sha256=00", body)):
        with pytest.raises(Unverified):
            verify_dc_signature(bad_header, bad_body, "s3cret")


@pytest.mark.parametrize(
    "jql",
    [
        "project = ENG",
        'status IN ("To Do", Done) AND assignee != abc',
        "(reporter = x OR issuetype NOT IN (Bug))",
    ],
)
def test_webhook_filters_the_bot_hands_to_jira_are_ones_jira_accepts(jql: str) -> None:
    assert webhook_filter_allows(jql)
    assert webhook_filter_errors(project_filter("ENG", jql)) == []


@pytest.mark.parametrize(
    "jql",
    [
        "priority = High",
        "labels = x",
        "assignee = currentUser()",
        "summary ~ fire",
        "project = ENG ORDER BY key",
        "assignee is EMPTY",
        "project = ",
    ],
)
def test_other_jql_is_left_to_the_bots_own_search(jql: str) -> None:
    assert not webhook_filter_allows(jql)
    assert webhook_filter_allows(project_filter("ENG")) and project_filter("ENG", jql).startswith(
        'project = "ENG"'
    )


def _event(**extra: Any) -> dict[str, Any]:
    return {
        "webhookEvent": "jira:issue_updated",
        "user": {"accountId": "a1", "displayName": "Ada <b>"},
        "issue": {"id": "1", "key": "ENG-1", "fields": {"project": {"key": "ENG"}}},
        **extra,
    }


def test_events_are_read_into_what_happened_and_rendered_as_a_reply() -> None:
    moved = JiraEvent.parse(
        _event(
            changelog={
                "items": [
                    {"field": "status", "fromString": "To Do", "toString": "In Progress"},
                    {"field": "assignee", "fromString": None, "toString": "Bob", "to": "b1"},
                ]
            }
        )
    )
    assert moved is not None and moved.kinds == {EventKind.TRANSITIONED, EventKind.ASSIGNED}
    reply = build_event_reply(moved, "ENG-1")
    assert reply["text"] == "Ada <b> moved ENG-1 from To Do to In Progress\nAda <b> assigned ENG-1 to Bob"
    assert "Ada &lt;b&gt;" in reply["blocks"][0]["text"]["text"]
    other = JiraEvent.parse(_event(changelog={"items": [{"field": "summary"}]}))
    assert other is not None and other.kinds == frozenset()
    comment = JiraEvent.parse(
        {
            **_event(),
            "webhookEvent": "comment_created",
            "comment": {
                "id": "7",
                "author": {"displayName": "Bob"},
                "visibility": {"type": "group", "value": "staff"},
                "body": {
                    "type": "doc",
                    "content": [{"type": "paragraph", "content": [{"type": "text", "text": "hi"}]}],
                },
            },
        }
    )
    assert comment is not None and comment.comment is not None and comment.comment.restricted
    assert comment.comment.text == "hi"
    assert JiraEvent.parse({"webhookEvent": "user_created"}) is None
    assert plain_text("x" * 400).endswith("…") and len(plain_text("x" * 400)) == 300


class _Client:
    def __init__(self, failures: list[SlackApiError]) -> None:
        self.failures = failures
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def api_call(self, method: str, json: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((method, json))
        if self.failures:
            raise self.failures.pop(0)
        return {"ok": True, "ts": f"{len(self.calls)}.0"}


class _Gateway:
    def __init__(self, client: _Client) -> None:
        self.client = client

    async def client_for(self, team_id: str, enterprise_id: str | None = None) -> _Client:
        return self.client


def _error(status: int, error: str, headers: dict[str, str] | None = None) -> SlackApiError:
    response = AsyncSlackResponse(
        client=None,
        http_verb="POST",
        api_url="x",
        req_args={},  # type: ignore[arg-type]
        data={"ok": False, "error": error},
        headers=headers or {},
        status_code=status,
    )
    return SlackApiError(error, response)


class _Time:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 3))
        self.now += seconds


async def test_a_channel_gets_about_one_message_a_second_after_a_small_burst() -> None:
    clock = _Time()
    client = _Client([])
    sender = ChannelSender(
        _Gateway(client),
        per_second=1.0,
        burst=3,
        sleep=clock.sleep,  # type: ignore[arg-type]
        monotonic=clock.monotonic,
    )
    for n in range(6):
        await sender.post("T1", None, "C1", {"text": str(n)})
    await sender.post("T1", None, "C2", {"text": "other channel"})
    assert clock.slept == [1.0, 1.0, 1.0]
    await sender.update("T1", None, "C1", "1.0", {"text": "updates do not count"})
    assert clock.slept == [1.0, 1.0, 1.0] and len(client.calls) == 8


async def test_a_429_pauses_the_channel_for_retry_after_and_other_errors_are_final() -> None:
    clock = _Time()
    client = _Client([_error(429, "ratelimited", {"Retry-After": "7"})])
    sender = ChannelSender(_Gateway(client), sleep=clock.sleep, monotonic=clock.monotonic)  # type: ignore[arg-type]
    assert await sender.post("T1", None, "C1", {"text": "x"}) == "2.0"
    assert clock.slept == [7.0]
    client.failures.append(_error(200, "not_in_channel"))
    with pytest.raises(SlackSendFailed) as refused:
        await sender.post("T1", None, "C1", {"text": "y"})
    assert refused.value.error == "not_in_channel"
