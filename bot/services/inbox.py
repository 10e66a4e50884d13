"""The inbox dispatcher: claims stored webhook deliveries (on any replica), hands each to the event
handlers (channel subscriptions here; personal notifications plug in the same way), marks it done.

A handler receives the tenant, the parsed event and a :class:`Progress`: it skips what `progress.done(key)`
says was delivered before (a retry after a crash), and calls `await progress.mark(key)` right after each
delivery. Transient failures (Jira or Slack unreachable, rate limits that outlast their retries) put the
event back with a growing delay; after `max_attempts` it is given up and logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.jira.events import JiraEvent
from storage.repositories.inbox import InboxItem
from storage.repositories.tenants import TenantRecord
from storage.store import Storage

log = logging.getLogger(__name__)


class TransientDeliveryError(Exception):
    """Worth trying again later (the event goes back to the inbox)."""


class Progress:
    def __init__(self, storage: Storage, item: InboxItem, holder: str) -> None:
        self._storage = storage
        self._item = item
        self._holder = holder
        self._served = {str(k) for k in item.served}

    @property
    def received_at(self) -> datetime:
        """When the bot received this event (handlers that group events by time use it)."""
        return self._item.received_at

    def done(self, key: str) -> bool:
        return key in self._served

    async def mark(self, key: str) -> None:
        await self.mark_all([key])

    async def mark_all(self, keys: list[str]) -> None:
        """Several deliveries recorded at once (one write)."""
        self._served.update(keys)
        await self._storage.inbox.mark_served(self._item.id, self._holder, set(self._served))


EventHandler = Callable[[TenantRecord, JiraEvent, Progress], Awaitable[None]]


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class InboxDispatcher:
    def __init__(
        self,
        storage: Storage,
        clock: Clock,
        *,
        concurrency: int = 20,
        lease: timedelta = timedelta(seconds=30),
        poll_interval: float = 1.0,
        max_attempts: int = 8,
    ) -> None:
        self._storage = storage
        self._clock = clock
        self._handlers: list[EventHandler] = []
        self._concurrency = concurrency
        self._lease = lease
        self._poll = poll_interval
        self._max_attempts = max_attempts
        self.holder = holder_name()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._busy: Callable[[], bool] = lambda: False
        self._busy_concurrency = concurrency
        self._inflight: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._periodic: list[Callable[[], Awaitable[None]]] = []
        self._periodic_runs: dict[int, asyncio.Task[None]] = {}

    def yield_to(self, busy: Callable[[], bool], *, concurrency: int = 4) -> None:
        """While `busy()` (deliveries are arriving), deliver at most `concurrency` events at once: storing
        what Jira sends, and answering it fast, comes before delivering it."""
        self._busy = busy
        self._busy_concurrency = concurrency

    def add_handler(self, handler: EventHandler) -> None:
        self._handlers.append(handler)

    def add_periodic(self, work: Callable[[], Awaitable[None]]) -> None:
        """Work the dispatcher also starts on every turn of its loop (at least once per poll interval),
        never two runs of the same work at once (personal notifications flush their grouped DMs)."""
        self._periodic.append(work)

    def _start_periodic(self) -> None:
        for index, work in enumerate(self._periodic):
            running = self._periodic_runs.get(index)
            if running is None or running.done():
                self._periodic_runs[index] = asyncio.create_task(_logged(work), name="inbox-periodic")

    def wake(self) -> None:
        """A delivery was stored here: look at once rather than at the next poll."""
        self._wake.set()

    async def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._loop(), name="inbox-dispatcher")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for running in self._periodic_runs.values():
            running.cancel()
        if self._inflight:
            await asyncio.wait(self._inflight, timeout=10)
            for task in self._inflight:
                task.cancel()

    async def _loop(self) -> None:
        while not self._stopping:
            try:
                claimed = await self.claim_and_start()
            except Exception:
                log.exception("inbox.claim_failed")
                claimed = 0
            self._start_periodic()
            if claimed and len(self._inflight) < self._concurrency:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll)

    async def claim_and_start(self) -> int:
        limit = self._busy_concurrency if self._busy() else self._concurrency
        room = limit - len(self._inflight)
        if room <= 0:
            return 0
        items = await self._storage.inbox.claim(
            self.holder, now=self._clock.now(), lease=self._lease, limit=room
        )
        for item in items:
            task = asyncio.create_task(self._process(item))
            self._inflight.add(task)
            task.add_done_callback(self._finished)
        return len(items)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._wake.set()  # the next event may be claimable now

    async def run_until_idle(self, limit: float = 30.0) -> None:
        """Processes everything claimable now (tests and one-shot use, without the loop)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while loop.time() < deadline:
            claimed = await self.claim_and_start()
            if self._inflight:
                await asyncio.wait(set(self._inflight), return_when=asyncio.FIRST_COMPLETED)
            elif not claimed:
                return

    async def _process(self, item: InboxItem) -> None:
        heartbeat = asyncio.create_task(self._keep_claim(item))
        try:
            await self._deliver(item)
            await self._storage.inbox.done(item.id, self.holder, now=self._clock.now())
        except TransientDeliveryError as exc:
            await self._retry(item, str(exc))
        except Exception as exc:
            log.exception("inbox.delivery_failed", extra={"event_id": item.id})
            await self._retry(item, type(exc).__name__)
        finally:
            heartbeat.cancel()

    async def _retry(self, item: InboxItem, error: str) -> None:
        if item.attempts >= self._max_attempts:
            log.error("inbox.gave_up", extra={"event_id": item.id, "attempts": item.attempts, "error": error})
            await self._storage.inbox.done(item.id, self.holder, now=self._clock.now())
            return
        delay = min(300.0, 2.0**item.attempts)
        log.warning("inbox.retry_later", extra={"event_id": item.id, "delay": delay, "error": error})
        await self._storage.inbox.retry_later(
            item.id, self.holder, at=self._clock.now() + timedelta(seconds=delay), error=error
        )

    async def _keep_claim(self, item: InboxItem) -> None:
        while True:
            await asyncio.sleep(self._lease.total_seconds() / 3)
            await self._storage.inbox.extend(item.id, self.holder, until=self._clock.now() + self._lease)

    async def _deliver(self, item: InboxItem) -> None:
        event = JiraEvent.parse(item.payload)
        if event is None:
            return
        tenant = await self._storage.tenants.get_by_id(item.tenant_id)
        if tenant is None:
            return
        progress = Progress(self._storage, item, self.holder)
        for handler in self._handlers:
            await handler(tenant, event, progress)


async def _logged(work: Callable[[], Awaitable[None]]) -> None:
    try:
        await work()
    except Exception:
        log.exception("inbox.periodic_failed")
