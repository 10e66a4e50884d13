"""States bound to a browser, confirmations taken once from that browser, and one Jira account per
Slack user per workspace (SQLite, or PostgreSQL in CI's second run)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from storage.repositories.accounts import AccountLinkedElsewhere, JiraIdentity, TokenSet
from storage.repositories.confirmations import ConfirmationRejected, ConfirmationRejection
from storage.repositories.states import StateRejected, StateRejection
from storage.store import Storage

NOW = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=10)


async def test_a_state_belongs_to_the_browser_that_opened_it_first(storage: Storage) -> None:
    await storage.states.create(
        state_hash="s", team_id="T1", enterprise_id=None, slack_user_id="U1", purpose="link",
        code_verifier=None, payload=None, now=NOW, expires_at=LATER,
    )  # fmt: skip
    assert (await storage.states.claim("s", "alice", NOW)).slack_user_id == "U1"
    assert (await storage.states.claim("s", "alice", NOW)).slack_user_id == "U1"  # again: fine
    with pytest.raises(StateRejected) as other:
        await storage.states.claim("s", "bob", NOW)
    assert other.value.reason is StateRejection.OTHER_BROWSER
    with pytest.raises(StateRejected) as bobs_callback:
        await storage.states.consume("s", NOW, "bob")
    assert bobs_callback.value.reason is StateRejection.OTHER_BROWSER
    assert (await storage.states.consume("s", NOW, "alice")).slack_user_id == "U1"  # still Alice's
    with pytest.raises(StateRejected) as used:
        await storage.states.claim("s", "alice", NOW)
    assert used.value.reason is StateRejection.USED


async def test_a_confirmation_is_taken_once_from_its_own_browser(storage: Storage) -> None:
    await storage.confirmations.create(
        token_hash="t", browser_hash="alice", team_id="T1", enterprise_id=None, slack_user_id="U1",
        purpose="link", result='{"tokens": "secret-access"}', now=NOW, expires_at=LATER,
    )  # fmt: skip
    async with storage.db.engine.connect() as connection:
        stored = (await connection.execute(text("SELECT result_enc FROM jira_oauth_confirmations"))).scalar()
    assert "secret-access" not in stored  # encrypted at rest
    for token, browser, reason in (
        ("nope", "alice", ConfirmationRejection.UNKNOWN),
        ("t", "bob", ConfirmationRejection.OTHER_BROWSER),
    ):
        with pytest.raises(ConfirmationRejected) as refused:
            await storage.confirmations.take(token, browser, NOW)
        assert refused.value.reason is reason
    with pytest.raises(ConfirmationRejected) as late:
        await storage.confirmations.take("t", "alice", LATER)
    assert late.value.reason is ConfirmationRejection.EXPIRED
    assert (await storage.confirmations.take("t", "alice", NOW)).result == '{"tokens": "secret-access"}'
    with pytest.raises(ConfirmationRejected) as again:
        await storage.confirmations.take("t", "alice", NOW)
    assert again.value.reason is ConfirmationRejection.USED and again.value.record.result == "{}"
    assert await storage.confirmations.delete_expired(LATER) == 1


async def test_one_jira_account_per_slack_user_per_workspace(storage: Storage) -> None:
    tokens = TokenSet("access", "refresh", LATER)
    tenant, _ = await storage.tenants.install(
        team_id="T1", enterprise_id=None, kind="cloud", site_url="https://acme.atlassian.net",
        site_name="acme", cloud_id="c1", dc_client_id=None, dc_client_secret=None, installed_by="U0",
        identity=JiraIdentity("acc-admin", "Ada", None), tokens=tokens, now=NOW,
    )  # fmt: skip

    async def link(user: str, account: str, team: str = "T1"):
        return await storage.accounts.link(
            tenant_id=tenant.id, team_id=team, slack_user_id=user,
            identity=JiraIdentity(account, account, None), tokens=tokens, now=NOW,
        )  # fmt: skip

    await link("U1", "acc-1")
    with pytest.raises(AccountLinkedElsewhere) as held:
        await link("U2", "acc-1")
    assert held.value.holder == "U1"
    assert await storage.accounts.get("T1", "U2") is None
    assert (await storage.accounts.get("T1", "U1")).jira_account_id == "acc-1"
    await link("U1", "acc-1")  # relinking one's own account
    assert await storage.accounts.holder_of("T1", "acc-1", besides="U2") == "U1"
    assert await storage.accounts.holder_of("T1", "acc-1", besides="U1") is None
    await link("U2", "acc-1", team="T2")  # another workspace may
