"""Repositories on the test database (SQLite, or PostgreSQL in CI's second run)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from storage.crypto import Encryptor, generate_key
from storage.db import async_database_url, create_engine
from storage.migrate import upgrade
from storage.repositories.states import StateRejected, StateRejection
from storage.store import Storage

NOW = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)


@pytest.fixture
async def storage(database_url: str, tmp_path) -> AsyncIterator[Storage]:
    engine = create_engine(async_database_url(database_url, tmp_path / "x.sqlite3"))
    await upgrade(engine)
    store = Storage.create(engine, Encryptor.from_string(generate_key()))
    yield store
    await engine.dispose()


async def _state(storage: Storage, name: str, expires: datetime) -> None:
    await storage.states.create(
        state_hash=name,
        team_id="T1",
        enterprise_id=None,
        slack_user_id="U1",
        purpose="link",
        code_verifier="verifier",
        payload=None,
        now=NOW,
        expires_at=expires,
    )


async def test_a_state_is_consumed_once_and_says_why_it_is_refused(storage: Storage) -> None:
    await _state(storage, "a", NOW + timedelta(minutes=10))
    record = await storage.states.consume("a", NOW + timedelta(minutes=1))
    assert (record.slack_user_id, record.code_verifier) == ("U1", "verifier")
    with pytest.raises(StateRejected) as used:
        await storage.states.consume("a", NOW + timedelta(minutes=2))
    assert used.value.reason is StateRejection.USED and used.value.record.slack_user_id == "U1"
    with pytest.raises(StateRejected) as unknown:
        await storage.states.consume("nope", NOW)
    assert unknown.value.reason is StateRejection.UNKNOWN
    await _state(storage, "b", NOW + timedelta(minutes=10))
    with pytest.raises(StateRejected) as expired:
        await storage.states.consume("b", NOW + timedelta(minutes=11))
    assert expired.value.reason is StateRejection.EXPIRED
    assert await storage.states.delete_expired(NOW + timedelta(hours=1)) == 2


async def test_idempotency_claims_once(storage: Storage) -> None:
    first = await storage.idempotency.claim("k1", team_id="T1", now=NOW, expires_at=NOW + timedelta(days=1))
    second = await storage.idempotency.claim("k1", team_id="T1", now=NOW, expires_at=NOW + timedelta(days=1))
    assert first.claimed and not second.claimed and second.status == "pending"
    await storage.idempotency.complete("k1", {"key": "ENG-1"})
    third = await storage.idempotency.claim("k1", team_id="T1", now=NOW, expires_at=NOW + timedelta(days=1))
    assert (third.claimed, third.status, third.result) == (False, "done", {"key": "ENG-1"})
    await storage.idempotency.release("k1")
    assert (await storage.idempotency.claim("k1", team_id="T1", now=NOW, expires_at=NOW)).claimed


async def test_a_lease_has_one_holder_until_it_expires(storage: Storage) -> None:
    ttl = timedelta(seconds=30)
    assert await storage.leases.try_acquire("job", "a", now=NOW, ttl=ttl)
    assert not await storage.leases.try_acquire("job", "b", now=NOW + timedelta(seconds=10), ttl=ttl)
    assert await storage.leases.try_acquire("job", "b", now=NOW + timedelta(seconds=31), ttl=ttl)
    await storage.leases.release("job", "b", ran_at=NOW)
    assert await storage.leases.try_acquire("job", "a", now=NOW + timedelta(seconds=32), ttl=ttl)


async def test_replicas_starting_together_migrate_once(database_url: str) -> None:
    import asyncio

    from sqlalchemy import text

    if not database_url.startswith("postgres"):
        pytest.skip("the advisory lock is PostgreSQL's; SQLite has one process")
    engines = [create_engine(async_database_url(database_url, None)) for _ in range(3)]  # type: ignore[arg-type]
    try:
        async with engines[0].begin() as connection:
            tables = ", ".join(
                f'"{t}"'
                for t in (
                    "audit_log",
                    "idempotency_keys",
                    "issue_links",
                    "jira_accounts",
                    "jira_oauth_states",
                    "job_leases",
                    "slack_bots",
                    "slack_installations",
                    "slack_oauth_states",
                    "tenant_installs",
                    "alembic_version",
                )
            )
            await connection.execute(text(f"DROP TABLE IF EXISTS {tables} CASCADE"))
        results = await asyncio.gather(*(upgrade(engine) for engine in engines))
        afters = {after for _, after in results}
        assert len(afters) == 1 and None not in afters
        assert sum(1 for before, after in results if before != after) == 1
    finally:
        for engine in engines:
            await engine.dispose()
