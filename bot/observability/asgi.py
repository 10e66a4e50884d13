"""The HTTP observer: an ASGI middleware that gives every request a request id, counts it by route
template, method and status, and times it; for Slack's endpoint also by kind and outcome, with the time
to the acknowledgement. It reads no body: a Slack request's kind comes from the Bolt middleware
(`bot.observability.slack`) once Bolt has verified and parsed it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.observability.metrics import HTTP_DURATION, HTTP_REQUESTS, SLACK_ACK, SLACK_REQUESTS, Children
from bot.observability.request_id import bind_request_id
from bot.observability.slack import SlackRequestFacts, current_slack_request

SLACK_PATH = "/slack/events"
WEBHOOK_PREFIX = "/jira/webhooks"
# Atlassian's id of a webhook delivery, the same on its redeliveries: the request id of the delivery.
DELIVERY_HEADER = b"x-atlassian-webhook-identifier"
_REQUESTS, _DURATION = Children(HTTP_REQUESTS), Children(HTTP_DURATION)
_SLACK_REQUESTS, _SLACK_ACK = Children(SLACK_REQUESTS), Children(SLACK_ACK)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def slack_outcome(status: int) -> str:
    if status < 400:
        return "ok"
    if status in (401, 403):
        return "rejected"
    if status == 404:
        return "unhandled"
    return "invalid" if status < 500 else "error"


def route_of(scope: Scope, routes: Sequence[BaseRoute] = ()) -> str:
    """The matched route's template (`/jira/webhooks/{rest}`), never the requested path itself. A request
    answered before routing (a refused body, say) is named by the route it was sent to."""
    route = scope.get("route")
    if route is None:
        route = next((r for r in routes if r.matches(scope)[0] is not Match.NONE), None)
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else "unmatched"


class RequestObserver:
    def __init__(
        self, app: ASGIApp, *, slack_path: str = SLACK_PATH, routes: Sequence[BaseRoute] = ()
    ) -> None:
        self.app = app
        self.slack_path = slack_path
        self.routes = tuple(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path: str = scope["path"]
        bind_request_id(_delivery_id(scope) if path.startswith(WEBHOOK_PREFIX) else None)
        facts: SlackRequestFacts | None = None
        if path == self.slack_path:
            facts = SlackRequestFacts()
            current_slack_request.set(facts)
        status = 500
        acked_at: float | None = None
        recorded = False

        def record() -> None:
            nonlocal recorded
            recorded = True
            elapsed = (acked_at or time.perf_counter()) - started
            route = route_of(scope, self.routes)
            method = scope["method"] if scope["method"] in _METHODS else "other"
            _REQUESTS(route, method, str(status)).inc()
            _DURATION(route).observe(elapsed)
            if facts is not None:
                _SLACK_REQUESTS(facts.kind, slack_outcome(status)).inc()
                _SLACK_ACK(facts.kind).observe(elapsed)

        async def observed_send(message: Message) -> None:
            nonlocal status, acked_at
            if message["type"] == "http.response.start":
                status = message["status"]
                acked_at = time.perf_counter()
            elif message["type"] == "http.response.body" and not message.get("more_body") and not recorded:
                record()  # before the answer is complete: whoever reads it, reads the counts too
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            if not recorded:  # no answer (the app failed, or the client left)
                record()

def _delivery_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == DELIVERY_HEADER:
            return value.decode("latin-1")
    return None
