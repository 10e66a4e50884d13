"""HTTP failures become typed errors in one place; retries only where safe."""

from __future__ import annotations

import httpx
import pytest

from bot.jira.errors import (
    JiraBadRequest,
    JiraForbidden,
    JiraNotFound,
    JiraRateLimited,
    JiraServerError,
    JiraUnauthorized,
    JiraUnavailable,
)
from bot.jira.http import RetryPolicy, parse_retry_after, send

URL = "https://jira.example/rest/api/2/issue"


class Recorder:
    def __init__(self, *responses: httpx.Response | Exception) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        item = self.responses.pop(0)
        if isinstance(item, Exception):
            raise item
        return item


def policy(sleeps: list[float]) -> RetryPolicy:
    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    return RetryPolicy(max_attempts=4, sleep=sleep)


async def call(recorder: Recorder, method: str = "GET", sleeps: list[float] | None = None) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as client:
        return await send(client, method, URL, policy=policy(sleeps if sleeps is not None else []))


@pytest.mark.parametrize(
    "status, error",
    [
        (400, JiraBadRequest),
        (401, JiraUnauthorized),
        (403, JiraForbidden),
        (404, JiraNotFound),
        (500, JiraServerError),
    ],
)
async def test_each_status_maps_to_its_error(status: int, error: type) -> None:
    recorder = Recorder(
        *[httpx.Response(status, json={"errorMessages": ["no"], "errors": {"summary": "bad"}})] * 4
    )
    with pytest.raises(error) as caught:
        await call(recorder, "POST")
    assert caught.value.status == status
    assert caught.value.method == "POST" and caught.value.url == URL
    assert len(recorder.requests) == 1  # a POST is never blindly resent


async def test_bad_request_exposes_jira_field_errors() -> None:
    recorder = Recorder(
        httpx.Response(400, json={"errorMessages": ["Oops"], "errors": {"summary": "Required"}})
    )
    with pytest.raises(JiraBadRequest) as caught:
        await call(recorder, "POST")
    assert caught.value.errors == {"summary": "Required"}
    assert caught.value.error_messages == ["Oops"]


async def test_429_is_retried_after_retry_after_even_for_a_create() -> None:
    sleeps: list[float] = []
    recorder = Recorder(
        httpx.Response(429, headers={"Retry-After": "2"}), httpx.Response(201, json={"key": "A-1"})
    )
    response = await call(recorder, "POST", sleeps)
    assert response.json() == {"key": "A-1"}
    assert sleeps == [2.0]


async def test_503_with_retry_after_is_not_resent_for_a_create() -> None:
    """A proxy's 503 may come after Jira got the request: resending a create would make two issues."""
    sleeps: list[float] = []
    recorder = Recorder(httpx.Response(503, headers={"Retry-After": "1"}), httpx.Response(201, json={}))
    with pytest.raises(JiraServerError) as caught:
        await call(recorder, "POST", sleeps)
    assert caught.value.retry_after == 1.0
    assert len(recorder.requests) == 1 and sleeps == []


async def test_503_with_retry_after_is_retried_after_its_delay_for_reads() -> None:
    sleeps: list[float] = []
    recorder = Recorder(httpx.Response(503, headers={"Retry-After": "1"}), httpx.Response(200, json={}))
    await call(recorder, "GET", sleeps)
    assert sleeps == [1.0] and len(recorder.requests) == 2


async def test_rate_limit_that_never_ends_raises_with_its_delay() -> None:
    recorder = Recorder(*[httpx.Response(429, headers={"Retry-After": "3"})] * 4)
    with pytest.raises(JiraRateLimited) as caught:
        await call(recorder)
    assert caught.value.retry_after == 3.0
    assert len(recorder.requests) == 4


async def test_5xx_is_retried_for_reads_only() -> None:
    reads = Recorder(httpx.Response(502), httpx.Response(200, json={"ok": 1}))
    assert (await call(reads, "GET")).json() == {"ok": 1}
    writes = Recorder(httpx.Response(502), httpx.Response(200))
    with pytest.raises(JiraServerError):
        await call(writes, "POST")
    assert len(writes.requests) == 1


async def test_timeouts_are_retried_for_reads_but_not_for_a_create() -> None:
    reads = Recorder(httpx.ReadTimeout("slow"), httpx.Response(200, json={}))
    await call(reads, "GET")
    assert len(reads.requests) == 2
    writes = Recorder(httpx.ReadTimeout("slow"), httpx.Response(201))
    with pytest.raises(JiraUnavailable):
        await call(writes, "POST")
    assert len(writes.requests) == 1


async def test_connection_refused_is_retried_then_unavailable() -> None:
    recorder = Recorder(*[httpx.ConnectError("refused")] * 4)
    with pytest.raises(JiraUnavailable) as caught:
        await call(recorder, "POST")
    assert "cannot connect to jira.example" in str(caught.value)
    assert len(recorder.requests) == 4


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert parse_retry_after("5") == 5.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Thu, 01 Jan 2026 00:00:10 GMT", now=1767225600.0) == 10.0
