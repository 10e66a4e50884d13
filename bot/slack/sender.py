"""Posting and updating messages in channels, within Slack's limits.

One message at a time per channel, at most about one a second (a small burst allowed); a 429's
`Retry-After` pauses that channel only (the Web API client retries twice itself; if the limit outlasts
that, the channel waits again here). Other channels go on meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.slack.app import SlackGateway

log = logging.getLogger(__name__)

Message = dict[str, Any]


class SlackSendFailed(Exception):
    """Slack refused for good (`error` is Slack's code, e.g. `not_in_channel`)."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class SlackUnavailable(Exception):
    """Slack did not answer, or kept rate-limiting past our patience: try again later."""


@dataclass
class _Channel:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    tokens: float = 0.0
    stamp: float = 0.0
    paused_until: float = 0.0


class ChannelSender:
    def __init__(
        self,
        gateway: SlackGateway,
        *,
        per_second: float = 1.0,
        burst: int = 3,
        max_rate_limits: int = 5,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._gateway = gateway
        self._rate = per_second
        self._burst = float(burst)
        self._max_rate_limits = max_rate_limits
        self._sleep = sleep
        self._now = monotonic
        self._channels: dict[tuple[str, str], _Channel] = {}

    def _channel(self, team_id: str, channel: str) -> _Channel:
        key = (team_id, channel)
        state = self._channels.get(key)
        if state is None:
            state = self._channels[key] = _Channel(tokens=self._burst, stamp=self._now())
        return state

    async def _turn(self, state: _Channel, *, counts: bool) -> None:
        """Waits for a paused channel, and (for a new message) for its next slot."""
        while True:
            now = self._now()
            if state.paused_until > now:
                await self._sleep(state.paused_until - now)
                continue
            if not counts:
                return
            state.tokens = min(self._burst, state.tokens + (now - state.stamp) * self._rate)
            state.stamp = now
            if state.tokens >= 1.0:
                state.tokens -= 1.0
                return
            await self._sleep((1.0 - state.tokens) / self._rate)

    async def _call(
        self, team_id: str, enterprise_id: str | None, channel: str, method: str, counts: bool, **params: Any
    ) -> Any:
        client = await self._gateway.client_for(team_id, enterprise_id)
        if client is None:
            raise SlackSendFailed("no_installation")
        state = self._channel(team_id, channel)
        async with state.lock:
            limited = 0
            while True:
                await self._turn(state, counts=counts)
                try:
                    return await client.api_call(method, json={"channel": channel, **params})
                except SlackApiError as exc:
                    status = getattr(exc.response, "status_code", 200)
                    if status == 429:
                        limited += 1
                        delay = _retry_after(exc.response)
                        state.paused_until = self._now() + delay
                        log.info("slack.channel.rate_limited", extra={"team_id": team_id, "delay": delay})
                        if limited > self._max_rate_limits:
                            raise SlackUnavailable("rate limited") from exc
                        continue
                    if status >= 500:
                        raise SlackUnavailable(str(status)) from exc
                    raise SlackSendFailed(str(exc.response.get("error") or "unknown")) from exc
                except (TimeoutError, OSError) as exc:
                    raise SlackUnavailable(type(exc).__name__) from exc

    async def post(
        self,
        team_id: str,
        enterprise_id: str | None,
        channel: str,
        message: Message,
        *,
        thread_ts: str | None = None,
    ) -> str:
        params: dict[str, Any] = {**message, "unfurl_links": False, "unfurl_media": False}
        if thread_ts:
            params["thread_ts"] = thread_ts
        answer = await self._call(team_id, enterprise_id, channel, "chat.postMessage", True, **params)
        return str(answer["ts"])

    async def update(
        self, team_id: str, enterprise_id: str | None, channel: str, ts: str, message: Message
    ) -> None:
        await self._call(team_id, enterprise_id, channel, "chat.update", False, ts=ts, **message)


def _retry_after(response: Any) -> float:
    headers = getattr(response, "headers", {}) or {}
    value = headers.get("Retry-After") or headers.get("retry-after")
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return max(1.0, float(value))
    except (TypeError, ValueError):
        return 1.0
