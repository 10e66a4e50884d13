"""Request limits: the outermost guard of every route (a pure ASGI middleware, so bodies stream).

- Every body is capped at MAX_BODY_BYTES: 413 from `Content-Length` before a byte is read, and 413
  as soon as a streamed (chunked) body passes the cap; never more than the cap is held in memory.
- Slack's endpoint: the v0 signature and timestamp are checked on the raw bytes before anything parses
  them (401 and nothing parsed when they fail); then a body that is not a request Slack would send gets
  400 (bot.web.slack_body). Only then does Bolt see the request, with the same bytes.
- Last resort: an exception that escapes a route is logged as one line (`http.unhandled_error`, with
  where it was raised; the traceback only at debug level) and answered 500 without details.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from bot.logs import error_origin
from bot.web.slack_body import MalformedBody, check_body, verify_signature

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyTooLarge(Exception):
    """Raised from `receive` once a streamed body passes the cap."""


class RequestLimits:
    def __init__(
        self,
        app: ASGIApp,
        *,
        signing_secret: str,
        slack_paths: Iterable[str] = ("/slack/events",),
        max_body: int = MAX_BODY_BYTES,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.app = app
        self._secret = signing_secret.encode()
        self._slack_paths = frozenset(slack_paths)
        self._max_body = max_body
        self._now = now

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self._handle(scope, receive, tracked_send)
        except BodyTooLarge:
            if not started:
                await _plain(send, 413, "Request body too large")
        except Exception as error:
            _log_unhandled(scope, error)
            if not started:
                await _plain(send, 500, "Internal Server Error")

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = _headers(scope)
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.isascii() or not declared.isdigit():
                await _plain(send, 400, "Invalid Content-Length")
                return
            if int(declared) > self._max_body:
                log.info("http.body_too_large", extra={"path": scope.get("path"), "declared": int(declared)})
                await _plain(send, 413, "Request body too large")
                return
        if scope.get("method") == "POST" and scope.get("path") in self._slack_paths:
            await self._slack(scope, receive, send, headers)
            return
        await self.app(scope, self._capped(receive, scope), send)

    def _capped(self, receive: Receive, scope: Scope) -> Receive:
        seen = 0

        async def capped_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self._max_body:
                    log.info("http.body_too_large", extra={"path": scope.get("path"), "streamed": seen})
                    raise BodyTooLarge()
            return message

        return capped_receive

    async def _slack(self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str]) -> None:
        body = await self._read(self._capped(receive, scope))
        if body is None:
            return  # the client went away
        if not verify_signature(
            body,
            headers.get("x-slack-request-timestamp"),
            headers.get("x-slack-signature"),
            secret=self._secret,
            now=self._now(),
        ):
            log.info("slack.request.unverified", extra={"path": scope.get("path"), "length": len(body)})
            await _plain(send, 401, "Invalid request signature")
            return
        try:
            check_body(body, headers.get("content-type"))
        except MalformedBody as malformed:
            log.warning("slack.request.malformed", extra={"reason": malformed.reason, "length": len(body)})
            await _plain(send, 400, "Malformed request")
            return
        await self.app(scope, _replay(body, receive), send)

    @staticmethod
    async def _read(receive: Receive) -> bytes | None:
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """Gives the already-read body once, then whatever the server says next (a disconnect)."""
    pending = True

    async def replay_receive() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay_receive


def _headers(scope: Scope) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in scope.get("headers") or []:
        key = name.decode("latin-1").lower()
        if key not in found:
            found[key] = value.decode("latin-1")
    return found


async def _plain(send: Send, status: int, text: str) -> None:
    body = text.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _log_unhandled(scope: Scope, error: BaseException) -> None:
    log.error(
        "http.unhandled_error",
        extra={"path": scope.get("path"), "error_type": type(error).__name__, "where": error_origin(error)},
    )
    log.debug("http.unhandled_error.traceback", exc_info=error)
