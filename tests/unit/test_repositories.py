"""Repositories on the test database (SQLite, or PostgreSQL in CI's second run)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from storage.crypto import Encryptor, generate_key
from storage.db import async_database_url, create_engine
from storage.migrate import upgrade
from storage.repositories.states import StateRejected, StateRejection
from storage.store import Storage
from tests.unit.installs import install_cloud_tenant

NOW = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)


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


async def test_a_due_run_is_claimed_by_one_holder_until_released_or_expired(storage: Storage) -> None:
    ttl = timedelta(seconds=30)
    assert (await storage.leases.claim_due("job", "a", now=NOW, ttl=ttl)).acquired
    refused = await storage.leases.claim_due("job", "b", now=NOW + timedelta(seconds=10), ttl=ttl)
    assert not refused.acquired and refused.holder == "a"
    # The holder died without releasing: once its lease expires the run, still due, is taken over.
    assert (await storage.leases.claim_due("job", "b", now=NOW + timedelta(seconds=31), ttl=ttl)).acquired
    await storage.leases.release("job", "b", ran_at=NOW, next_due_at=NOW + timedelta(hours=1))
    early = await storage.leases.claim_due("job", "a", now=NOW + timedelta(minutes=5), ttl=ttl)
    assert not early.acquired and early.next_due_at == NOW + timedelta(hours=1)
    assert (await storage.leases.claim_due("job", "a", now=NOW + timedelta(hours=1), ttl=ttl)).acquired


async def test_replicas_starting_together_migrate_once(database_url: str) -> None:
    import asyncio

    from sqlalchemy import text

    from storage.models import Base

    if not database_url.startswith("postgres"):
        pytest.skip("the advisory lock is PostgreSQL's; SQLite has one process")
    engines = [create_engine(async_database_url(database_url, None)) for _ in range(3)]  # type: ignore[arg-type]
    try:
        async with engines[0].begin() as connection:
            from storage.models import Base

            # Every table the migrations make (whatever later revisions add), and Alembic's own.
            names = [t.name for t in Base.metadata.sorted_tables] + ["alembic_version"]
            tables = ", ".join(f'"{t}"' for t in names)
            await connection.execute(text(f"DROP TABLE IF EXISTS {tables} CASCADE"))
        results = await asyncio.gather(*(upgrade(engine) for engine in engines))
        afters = {after for _, after in results}
        assert len(afters) == 1 and None not in afters
        assert sum(1 for before, after in results if before != after) == 1
    finally:
        for engine in engines:
            await engine.dispose()


async def test_slack_installations_keep_tokens_encrypted_and_rotate(database_url: str, tmp_path) -> None:
    from slack_sdk.oauth.installation_store import Installation
    from sqlalchemy import text

    from storage.slack_installations import EncryptedInstallationStore

    engine = create_engine(async_database_url(database_url, tmp_path / "x.sqlite3"))
    await upgrade(engine)
    old, new = generate_key(), generate_key()
    names = {"bots_table_name": "slack_bots", "installations_table_name": "slack_installations"}
    try:
        store = EncryptedInstallationStore("111.222", engine, Encryptor.from_string(old), **names)
        await store.async_save(
            Installation(
                app_id="A1",
                team_id="T9",
                user_id="U9",
                bot_token="xoxb-plain-bot",
                bot_id="B9",
                bot_user_id="U0BOT",
                user_token="xoxp-plain-user",
            )
        )

        async def raw() -> str:
            async with engine.connect() as connection:
                rows = [
                    repr(tuple(r))
                    for t in ("slack_bots", "slack_installations")
                    for r in await connection.execute(text(f"SELECT * FROM {t}"))
                ]
            return "\n".join(rows)

        assert "T9" in await raw() and "xox" not in await raw()
        found = await store.async_find_installation(enterprise_id=None, team_id="T9")
        assert (found.bot_token, found.user_token) == ("xoxb-plain-bot", "xoxp-plain-user")
        rotated = EncryptedInstallationStore(
            "111.222", engine, Encryptor.from_string(f"{new},{old}"), **names
        )
        assert await rotated.rotate_secrets() == 3
        newest_only = EncryptedInstallationStore("111.222", engine, Encryptor.from_string(new), **names)
        assert (
            await newest_only.async_find_bot(enterprise_id=None, team_id="T9")
        ).bot_token == "xoxb-plain-bot"
    finally:
        await engine.dispose()


async def test_a_message_added_to_an_issue_is_linked_once_and_its_key_done(storage: Storage) -> None:
    later = NOW + timedelta(days=1)
    for view in ("V1", "V2"):  # the same message added twice, from two submissions
        key = f"add:T1:{view}:h"
        assert (await storage.idempotency.claim(key, team_id="T1", now=NOW, expires_at=later)).claimed
        await storage.idempotency.put(f"adddraft:T1:{view}", team_id="T1", result={"draft": "x"}, now=NOW,
                                      expires_at=later)
        await storage.issue_links.record_added(
            team_id="T1", channel_id="C1", message_ts="1.1", issue_key="ENG-1",
            issue_url="https://acme/browse/ENG-1", summary="Fix", added_by="U1", now=NOW,
            idempotency_key=key, result={"outcome": "added"}, forget_keys=(f"adddraft:T1:{view}",))
        again = await storage.idempotency.claim(key, team_id="T1", now=NOW, expires_at=later)
        assert (again.claimed, again.status, again.result) == (False, "done", {"outcome": "added"})
        assert await storage.idempotency.get(f"adddraft:T1:{view}", now=NOW) is None
    (link,) = await storage.issue_links.for_message("T1", "C1", "1.1")
    assert (link.issue_key, link.created_by, link.kind, link.added) == ("ENG-1", "U1", "added", True)


async def test_two_removals_of_one_subscription_at_once_remove_it_once(storage: Storage) -> None:
    tenant = await install_cloud_tenant(storage, NOW)
    subscription = await storage.subscriptions.create(
        tenant_id=tenant.id, team_id="T1", channel_id="C1", project_key="ENG", events=["issue_created"],
        jql=None, jql_in_webhook=True, created_by="U1", now=NOW,
    )
    removals = await asyncio.gather(
        *(storage.subscriptions.delete(subscription.id, actor="U1", now=NOW) for _ in range(4))
    )
    assert [r.id for r in removals if r is not None] == [subscription.id]
    assert await storage.subscriptions.get(subscription.id) is None
    assert len(await storage.audit.list("T1", action="subscription.removed")) == 1
