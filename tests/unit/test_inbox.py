"""The webhook inbox on the test database (SQLite, or PostgreSQL with DATABASE_URL): stored once,
claimed once, in order per issue, taken over after a lost lease, pruned; and the dispatcher on it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.clock import ManualClock
from bot.services.inbox import InboxDispatcher, TransientDeliveryError
from storage.store import Storage
from tests.unit.installs import install_cloud_tenant

NOW = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)


@pytest.fixture
async def tenant_id(storage: Storage) -> int:
    tenant = await install_cloud_tenant(storage, NOW)
    return tenant.id


async def _add(storage: Storage, tenant_id: int, delivery: str, key: str, at: datetime = NOW) -> bool:
    payload = {"webhookEvent": "jira:issue_updated", "issue": {"key": key}, "n": delivery}
    return await storage.inbox.add(
        delivery_id=delivery,
        tenant_id=tenant_id,
        issue_key=key,
        event="jira:issue_updated",
        payload=payload,
        now=at,
    )


async def test_a_delivery_is_stored_once(storage: Storage, tenant_id: int) -> None:
    assert await _add(storage, tenant_id, "d1", "ENG-1")
    assert not await _add(storage, tenant_id, "d1", "ENG-1")
    depth = await storage.inbox.depth(NOW + timedelta(seconds=30))
    assert (depth.pending, depth.oldest_age) == (1, 30.0)


async def test_one_event_per_issue_is_in_flight_and_in_receipt_order(
    storage: Storage, tenant_id: int
) -> None:
    for n, key in enumerate(["ENG-1", "ENG-1", "ENG-2", "ENG-1"]):
        await _add(storage, tenant_id, f"d{n}", key)
    first = await storage.inbox.claim("a", now=NOW, lease=LEASE)
    assert [(i.delivery_id, i.issue_key) for i in first] == [("d0", "ENG-1"), ("d2", "ENG-2")]
    assert await storage.inbox.claim("b", now=NOW, lease=LEASE) == []
    assert await storage.inbox.done(first[0].id, "a", now=NOW)
    second = await storage.inbox.claim("b", now=NOW, lease=LEASE)
    assert [i.delivery_id for i in second] == ["d1"]
    assert await storage.inbox.done(second[0].id, "b", now=NOW)
    assert [i.delivery_id for i in await storage.inbox.claim("a", now=NOW, lease=LEASE)] == ["d3"]


async def test_concurrent_claims_never_share_an_event(storage: Storage, tenant_id: int) -> None:
    for n in range(40):
        await _add(storage, tenant_id, f"d{n}", f"ENG-{n}")
    batches = await asyncio.gather(
        *(storage.inbox.claim(f"h{n}", now=NOW, lease=LEASE, limit=7) for n in range(8))
    )
    claimed = [i.delivery_id for batch in batches for i in batch]
    assert len(claimed) == len(set(claimed)) == 40


async def test_a_lost_claim_is_taken_over_after_its_lease_and_keeps_its_progress(
    storage: Storage, tenant_id: int
) -> None:
    await _add(storage, tenant_id, "d1", "ENG-1")
    [item] = await storage.inbox.claim("dead", now=NOW, lease=LEASE)
    assert await storage.inbox.mark_served(item.id, "dead", {"channel:C1"})
    assert await storage.inbox.claim("alive", now=NOW + timedelta(seconds=59), lease=LEASE) == []
    [again] = await storage.inbox.claim("alive", now=NOW + timedelta(seconds=61), lease=LEASE)
    assert again.id == item.id and again.served == frozenset({"channel:C1"}) and again.attempts == 2
    assert not await storage.inbox.done(item.id, "dead", now=NOW)  # the old holder lost it
    assert await storage.inbox.done(item.id, "alive", now=NOW)


async def test_retry_later_waits_and_prune_drops_old_finished_events(
    storage: Storage, tenant_id: int
) -> None:
    await _add(storage, tenant_id, "d1", "ENG-1")
    await _add(storage, tenant_id, "d2", "ENG-2")
    [one, two] = await storage.inbox.claim("a", now=NOW, lease=LEASE)
    await storage.inbox.retry_later(one.id, "a", at=NOW + timedelta(seconds=10), error="slack down")
    await storage.inbox.done(two.id, "a", now=NOW)
    assert await storage.inbox.claim("a", now=NOW + timedelta(seconds=5), lease=LEASE) == []
    assert len(await storage.inbox.claim("a", now=NOW + timedelta(seconds=11), lease=LEASE)) == 1
    assert await storage.inbox.prune(NOW + timedelta(days=1)) == 1
    assert await storage.inbox.get("d2") is None and await storage.inbox.get("d1") is not None


async def test_the_dispatcher_delivers_in_order_per_issue_and_retries_transient_failures(
    storage: Storage, tenant_id: int
) -> None:
    clock = ManualClock(NOW)
    dispatcher = InboxDispatcher(storage, clock, concurrency=5)
    seen: list[tuple[str, int]] = []
    failed_once: set[int] = set()

    async def handler(tenant, event, progress) -> None:  # noqa: ANN001
        if event.issue_key == "ENG-2" and not failed_once:
            failed_once.add(1)
            raise TransientDeliveryError("slack down")
        if not progress.done("x"):
            seen.append((event.issue_key, len(seen)))
            await progress.mark("x")

    dispatcher.add_handler(handler)
    for n, key in enumerate(["ENG-1", "ENG-2", "ENG-1", "ENG-1"]):
        await storage.inbox.add(
            delivery_id=f"d{n}",
            tenant_id=tenant_id,
            issue_key=key,
            event="jira:issue_created",
            payload={"webhookEvent": "jira:issue_created", "issue": {"key": key}, "n": n},
            now=NOW,
        )
    await dispatcher.run_until_idle()
    assert [k for k, _ in seen] == ["ENG-1", "ENG-1", "ENG-1"]
    clock.advance(5)
    await dispatcher.run_until_idle()
    assert [k for k, _ in seen] == ["ENG-1", "ENG-1", "ENG-1", "ENG-2"]
    assert (await storage.inbox.depth(clock.now())).pending == 0
