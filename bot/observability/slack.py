"""What a Slack request is, for metrics and logs: a Bolt middleware that reads the request Bolt has
already verified and parsed, names its kind, and makes its Slack event id or trigger id the request id.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.observability.request_id import bind_request_id

_KINDS = {
    "block_actions": "action",
    "interactive_message": "action",
    "view_submission": "view_submission",
    "view_closed": "view_closed",
    "block_suggestion": "options",
    "dialog_suggestion": "options",
    "shortcut": "shortcut",
    "message_action": "shortcut",
    "event_callback": "event",
}


@dataclass
class SlackRequestFacts:
    """Filled in by the Bolt middleware for the HTTP observer around it (`bot.observability.asgi`)."""

    kind: str = "unknown"


current_slack_request: ContextVar[SlackRequestFacts | None] = ContextVar(
    "jirabot_slack_request", default=None
)


def slack_kind(body: dict[str, Any]) -> str:
    if "command" in body:
        return "command"
    return _KINDS.get(str(body.get("type")), "other")


def slack_request_id(body: dict[str, Any]) -> str | None:
    value = body.get("event_id") or body.get("trigger_id")
    return value if isinstance(value, str) else None


class SlackRequestObserver(AsyncMiddleware):
    """A plain Bolt middleware (no argument injection: it runs on every request)."""

    async def async_process(
        self, *, req: AsyncBoltRequest, resp: BoltResponse, next: Callable[[], Awaitable[BoltResponse]]
    ) -> BoltResponse:
        body = req.body
        bind_request_id(slack_request_id(body))
        facts = current_slack_request.get()
        if facts is not None:
            facts.kind = slack_kind(body)
        return await next()


def register(app: AsyncApp) -> None:
    """Runs after Bolt's own checks (signature, authorization): only verified requests are read."""
    app.use(SlackRequestObserver())
