"""One place where HTTP calls to Jira and Atlassian are sent, retried and turned into typed errors.

Retries: 429 after the delay the server asks for; connection failures before anything was sent,
always; timeouts and 5xx (a 503's Retry-After honoured) only for idempotent calls. A 503 is not a rate
limit: a proxy may answer it after Jira got the request, so a create is never resent after one.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from bot.jira.errors import (
    JiraBadRequest,
    JiraForbidden,
    JiraHTTPError,
    JiraNotFound,
    JiraRateLimited,
    JiraServerError,
    JiraUnauthorized,
    JiraUnavailable,
)
from bot.observability.jira_calls import observe_jira_call

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:500]


def error_for_response(response: httpx.Response) -> JiraHTTPError:
    """Maps an error response to its typed error: the one place that does so."""
    status = response.status_code
    request = response.request
    kwargs: dict[str, Any] = {
        "status": status,
        "method": request.method,
        "url": str(request.url.copy_with(query=None)),
        "body": _body(response),
    }
    message = f"{request.method} {kwargs['url']} answered {status}"
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    if status == 429:
        return JiraRateLimited(message, retry_after=retry_after, **kwargs)
    if status == 400:
        return JiraBadRequest(message, **kwargs)
    if status == 401:
        return JiraUnauthorized(message, **kwargs)
    if status == 403:
        return JiraForbidden(message, **kwargs)
    if status == 404:
        return JiraNotFound(message, **kwargs)
    if status >= 500:
        return JiraServerError(message, retry_after=retry_after, **kwargs)
    return JiraHTTPError(message, **kwargs)


class RetryPolicy:
    """How often and how long to retry; small enough to pass around, easy to replace in tests."""

    def __init__(
        self,
        max_attempts: int = 4,
        max_delay: float = 30.0,
        backoff: float = 0.5,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.max_attempts = max_attempts
        self.max_delay = max_delay
        self.backoff = backoff
        self.sleep = sleep

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_delay)
        return min(self.backoff * (2 ** (attempt - 1)), self.max_delay)


async def send(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    policy: RetryPolicy | None = None,
    idempotent: bool | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """Sends a request and returns a successful response, or raises a JiraError."""
    policy = policy or RetryPolicy()
    method = method.upper()
    safe_to_resend = method in IDEMPOTENT if idempotent is None else idempotent
    attempt = 0
    while True:
        attempt += 1
        last_attempt = attempt >= policy.max_attempts
        try:
            with observe_jira_call(url) as call:
                response = call.answered(await client.request(method, url, **kwargs))
        except httpx.ConnectError as exc:  # nothing reached the server
            if last_attempt:
                raise JiraUnavailable(f"cannot connect to {_where(url)}", method=method, url=url) from exc
            await policy.sleep(policy.delay(attempt, None))
            continue
        except httpx.TimeoutException as exc:
            if last_attempt or not safe_to_resend:
                raise JiraUnavailable(
                    f"{_where(url)} did not answer in time", method=method, url=url
                ) from exc
            await policy.sleep(policy.delay(attempt, None))
            continue
        except httpx.HTTPError as exc:
            raise JiraUnavailable(f"request to {_where(url)} failed", method=method, url=url) from exc
        if response.is_success or response.is_redirect:
            return response
        error = error_for_response(response)
        retryable = isinstance(error, JiraRateLimited) or (
            isinstance(error, JiraServerError) and safe_to_resend
        )
        if not retryable or last_attempt:
            raise error
        delay = policy.delay(attempt, getattr(error, "retry_after", None))
        log.info(
            "jira.http.retry",
            extra={
                "method": method,
                "host": _where(url),
                "status": response.status_code,
                "delay": round(delay, 2),
                "attempt": attempt,
            },
        )
        await policy.sleep(delay)


def _where(url: str) -> str:
    return httpx.URL(url).host or url
