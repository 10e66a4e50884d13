"""One error handler: typed failures become friendly words; anything else is logged, never shown."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError

from bot.jira.errors import JiraError, JiraUnavailable, ReconnectRequired
from bot.logs import error_origin
from bot.services.linking import NotInstalled
from bot.slack.metadata import MetadataError
from bot.slack.views.linking import NOT_INSTALLED

log = logging.getLogger(__name__)

SOMETHING_WENT_WRONG = (
    "Sorry, something went wrong on my side and I couldn't finish that. Please try again; if it keeps "
    "happening, tell whoever runs this Jira app."
)
RECONNECT = "Your Jira link needs a reconnect: run `/jira connect` to link your account again."
JIRA_UNREACHABLE = "I couldn't reach Jira just now. Please try again in a moment."

# What reading a payload that lacks what Slack always sends raises: a request Slack did not send
# (signed or not, it passed the gate's shape checks). One log line, never a traceback.
PAYLOAD_ERRORS = (KeyError, IndexError, TypeError, AttributeError, MetadataError)


def is_payload_error(error: Exception) -> bool:
    if isinstance(error, PAYLOAD_ERRORS):
        return True
    # Bolt's `respond` for a request that came without a response_url (a button clicked elsewhere
    # than where the bot put it).
    return isinstance(error, ValueError) and "no response_url" in str(error)


def message_for(error: Exception) -> str:
    if isinstance(error, ReconnectRequired):
        return RECONNECT
    if isinstance(error, NotInstalled):
        return NOT_INSTALLED
    if isinstance(error, JiraUnavailable):
        return JIRA_UNREACHABLE
    return SOMETHING_WENT_WRONG


async def report_failure(error: Exception, body: dict[str, Any], respond: Any) -> None:
    """Logs a listener's failure by kind and, where Slack gave a response URL, tells the user."""
    kind = body.get("type") or ("slash_command" if body.get("command") else "unknown")
    extra = {
        "request_type": kind,
        "error_type": type(error).__name__,
        "team_id": _team_id(body),
    }
    if is_payload_error(error):
        log.warning("slack.listener.bad_payload", extra={**extra, "where": error_origin(error)})
    elif isinstance(error, (JiraError, NotInstalled)):
        log.warning("slack.listener.jira_error", extra=extra)
    elif isinstance(error, aiohttp.ClientError):  # Slack (a response_url) unreachable or refusing
        log.warning("slack.listener.slack_unreachable", extra={**extra, "where": error_origin(error)})
    elif isinstance(error, SlackApiError):
        log.warning(
            "slack.listener.slack_api_error", extra={**extra, "slack_error": error.response.get("error")}
        )
    else:
        log.error("slack.listener.failed", exc_info=error, extra=extra)
    if respond is not None and body.get("response_url"):
        try:
            await respond(text=message_for(error), response_type="ephemeral", replace_original=False)
        except Exception:
            log.warning("slack.listener.error_reply_failed", extra=extra)


def _team_id(body: dict[str, Any]) -> str | None:
    team = body.get("team")
    found = team.get("id") if isinstance(team, dict) else team or body.get("team_id")
    return found if isinstance(found, str) else None


def guarded(listener: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    """Wraps a listener so that a failure after its ack is reported here.

    Bolt's own error path, once a listener has acked (or an event was acked for it) and then
    fails, can clear the ack before the response goes out; failures after the ack therefore never
    reach it. Bolt injects arguments by name, and `functools.wraps` keeps the listener's signature
    visible to it.
    """

    @functools.wraps(listener)
    async def run(**kwargs: Any) -> None:
        try:
            await listener(**kwargs)
        except Exception as error:
            ack = kwargs.get("ack")
            if ack is not None and getattr(ack, "response", None) is None:
                raise  # not acked yet: Bolt's error path answers Slack
            await report_failure(error, kwargs.get("body") or {}, kwargs.get("respond"))

    return run


def register(app: AsyncApp) -> None:
    async def handle_error(error: Exception, body: dict[str, Any], respond: Any) -> BoltResponse | None:
        await report_failure(error, body, respond)
        if is_payload_error(error):
            return BoltResponse(status=400, body="")  # before the ack: Slack sent no such request
        return None

    app.error(handle_error)
