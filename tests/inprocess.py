"""The bot's ASGI app driven in-process (httpx.ASGITransport) on an event loop of its own.

For tests that send many requests quickly (property-based tests): no sockets on the bot's side, and
after each request `settle()` waits until every task the request started has finished, so what a
listener logs after its ack is seen by the same example.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import Coroutine
from contextlib import AsyncExitStack
from typing import Any, TypeVar

import httpx
from sqlalchemy import select

from bot.container import build_components
from bot.settings import load_settings
from bot.web.app import create_asgi_app
from storage.models import Base
from tests.harness import CLOUD_CLIENT_ID, CLOUD_CLIENT_SECRET, ENCRYPTION_KEY, SIGNING_SECRET, OffsetClock

T = TypeVar("T")


def slack_signature(
    body: bytes, *, secret: str = SIGNING_SECRET, timestamp: int | None = None
) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


class InProcessBot:
    def __init__(
        self, *, database_url: str, slack_api_url: str, atlassian_url: str, **overrides: Any
    ) -> None:
        values: dict[str, Any] = {
            "slack_signing_secret": SIGNING_SECRET,
            "slack_bot_token": "xoxb-test-bot-token",
            "slack_api_url": slack_api_url,
            "database_url": database_url,
            "jirabot_public_url": "http://bot.test",
            "jirabot_encryption_key": ENCRYPTION_KEY,
            "atlassian_client_id": CLOUD_CLIENT_ID,
            "atlassian_client_secret": CLOUD_CLIENT_SECRET,
            "atlassian_auth_url": atlassian_url,
            "atlassian_api_url": atlassian_url,
            "jirabot_scheduler": False,
            "_env_file": None,
        }
        values.update(overrides)
        self.clock = OffsetClock()
        self.components = build_components(load_settings(**values), clock=self.clock)
        self.app = create_asgi_app(self.components)
        self.loop = asyncio.new_event_loop()
        self._background: set[asyncio.Task[Any]] = set()
        self._stack = AsyncExitStack()
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://bot.test"
        )

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    def start(self) -> InProcessBot:
        self.run(self._stack.enter_async_context(self.app.router.lifespan_context(self.app)))
        # What start-up leaves running (the webhook inbox's dispatcher) runs until stop: not a request's.
        self._background = self.run(self._running_tasks())
        return self

    def _in_background(self, task: asyncio.Task[Any]) -> bool:
        """Start-up's own tasks, and what the inbox dispatcher starts on its own schedule (its periodic
        work, and its wait for a wake-up) are not a request's."""
        coro = task.get_coro()
        return (task in self._background or task.get_name().startswith("inbox-")
                or getattr(coro, "__qualname__", "") == "Event.wait")

    @staticmethod
    async def _running_tasks() -> set[asyncio.Task[Any]]:
        me = asyncio.current_task()
        return {t for t in asyncio.all_tasks() if t is not me and not t.done()}

    def stop(self) -> None:
        self.run(self.client.aclose())
        self.run(self._stack.aclose())
        self.loop.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        content: bytes = b"",
        headers: dict[str, str] | None = None,
        params: Any = None,
    ) -> httpx.Response:
        async def go() -> httpx.Response:
            response = await self.client.request(
                method, path, content=content, headers=headers, params=params
            )
            await self.settle()
            return response

        return self.run(go())

    async def settle(self, limit: float = 20.0) -> None:
        """Waits until no task but this one runs: listeners that go on after their ack are done."""
        me = asyncio.current_task()
        deadline = self.loop.time() + limit
        while True:
            others = [t for t in asyncio.all_tasks()
                      if t is not me and not t.done() and not self._in_background(t)]
            if not others:
                return
            if self.loop.time() > deadline:
                raise AssertionError(f"{len(others)} tasks still running after {limit}s: {others[:3]}")
            await asyncio.wait(others, timeout=0.05)

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table: to compare before and after a request."""

        async def read() -> dict[str, list[tuple[Any, ...]]]:
            rows: dict[str, list[tuple[Any, ...]]] = {}
            async with self.components.storage.db.engine.connect() as connection:
                for table in Base.metadata.sorted_tables:
                    result = await connection.execute(select(table))
                    rows[table.name] = sorted((tuple(r) for r in result), key=repr)
            return rows

        return self.run(read())
