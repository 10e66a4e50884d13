"""Personal notifications in parts: mentions read from ADF and wiki markup, the pending DMs on the test
database (SQLite, or PostgreSQL with DATABASE_URL: grouped per recipient and issue, claimed once, an
append after a claim opens a new one, dropped per kind or per user), switches, and the DM and App Home
builders as data."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.jira.issues import IssueSnapshot
from bot.jira.mentions import mentioned
from bot.services.personal import ALL_KINDS, Change, PersonalDm, PersonalKind, Switches
from bot.slack import ids
from bot.slack.views.personal import build_home_switches, build_personal_dm, switches_line
from storage.repositories.tenants import TenantRecord
from storage.store import Storage
from tests.unit.installs import install_cloud_tenant

NOW = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
WINDOW = timedelta(seconds=5)
LEASE = timedelta(seconds=60)


# Mentions ------------------------------------------------------------------------------------------


def test_mentions_in_adf_are_the_mention_nodes_account_ids() -> None:
    body = {
        "type": "doc",
        "version": 1,
        "content": [
            {
                "type": "paragraph",
                "content": [
                    {"type": "mention", "attrs": {"id": "acc-1", "text": "@Ada"}},
                    {"type": "text", "text": " and a typed [~bob], which ADF keeps as plain text"},
                    {"type": "mention", "attrs": {"id": "accountid:acc-2"}},
                    {"type": "mention", "attrs": {"text": "@nobody"}},
                ],
            }
        ],
    }
    assert mentioned(body) == {"acc-1", "acc-2"}


def test_mentions_in_wiki_markup_are_user_names_or_account_ids() -> None:
    assert mentioned("[~alice] and [~accountid:5b10ac] please, not ~carol or [~ x]") == {"alice", "5b10ac"}
    assert mentioned(None) == set() and mentioned(42) == set()


# Pending DMs ---------------------------------------------------------------------------------------


@pytest.fixture
async def tenant(storage: Storage) -> TenantRecord:
    tenant = await install_cloud_tenant(storage, NOW)
    return tenant


async def _change(storage: Storage, tenant: TenantRecord, user: str, key: str, kind: str, at=NOW) -> None:
    await storage.personal.add_changes(
        tenant_id=tenant.id,
        team_id="T1",
        issue_key=key,
        changes={user: [{"kind": kind, "actor": "Bob"}]},
        received_at=at,
        window=WINDOW,
    )


async def test_one_event_records_its_changes_for_several_recipients_at_once(
    storage: Storage, tenant: TenantRecord
) -> None:
    await _change(storage, tenant, "U2", "ENG-1", "assigned")
    await storage.personal.add_changes(
        tenant_id=tenant.id,
        team_id="T1",
        issue_key="ENG-1",
        changes={
            "U2": [{"kind": "commented", "actor": "Bob", "comment_id": "7"}],
            "U3": [
                {"kind": "commented", "actor": "Bob", "comment_id": "7"},
                {"kind": "mentioned", "actor": "Bob"},
            ],
        },
        received_at=NOW + timedelta(seconds=1),
        window=WINDOW,
    )
    due = await storage.personal.claim_due("r1", now=NOW + WINDOW + timedelta(seconds=1), lease=LEASE)
    assert {d.slack_user_id: [c["kind"] for c in d.changes] for d in due} == {
        "U2": ["assigned", "commented"],
        "U3": ["commented", "mentioned"],
    }
    assert {d.slack_user_id: d.first_at for d in due} == {"U2": NOW, "U3": NOW + timedelta(seconds=1)}


async def test_changes_of_one_issue_for_one_recipient_wait_together_until_due(
    storage: Storage, tenant: TenantRecord
) -> None:
    await _change(storage, tenant, "U2", "ENG-1", "assigned")
    await _change(storage, tenant, "U2", "ENG-1", "commented", at=NOW + timedelta(seconds=2))
    await _change(storage, tenant, "U2", "ENG-2", "commented")
    await _change(storage, tenant, "U3", "ENG-1", "transitioned")
    assert await storage.personal.claim_due("r1", now=NOW + timedelta(seconds=4), lease=LEASE) == []
    due = await storage.personal.claim_due("r1", now=NOW + WINDOW, lease=LEASE)
    grouped = {(d.slack_user_id, d.issue_key): [c["kind"] for c in d.changes] for d in due}
    assert grouped == {
        ("U2", "ENG-1"): ["assigned", "commented"],
        ("U2", "ENG-2"): ["commented"],
        ("U3", "ENG-1"): ["transitioned"],
    }
    assert await storage.personal.claim_due("r2", now=NOW + WINDOW, lease=LEASE) == []  # claimed once


async def test_a_change_after_the_claim_opens_a_new_message_and_a_lost_claim_is_taken_over(
    storage: Storage, tenant: TenantRecord
) -> None:
    await _change(storage, tenant, "U2", "ENG-1", "assigned")
    [first] = await storage.personal.claim_due("r1", now=NOW + WINDOW, lease=LEASE)
    await _change(storage, tenant, "U2", "ENG-1", "commented", at=NOW + WINDOW)
    later = NOW + WINDOW * 2
    [second] = await storage.personal.claim_due("r2", now=later, lease=LEASE)
    assert [c["kind"] for c in second.changes] == ["commented"]
    assert await storage.personal.finish(second.id, "r2")
    # r1 died holding `first`: once its lease is over, another replica sends it.
    [taken] = await storage.personal.claim_due("r2", now=NOW + WINDOW + LEASE, lease=LEASE)
    assert taken.id == first.id and taken.attempts == 2
    assert not await storage.personal.finish(first.id, "r1")
    assert await storage.personal.finish(first.id, "r2")
    assert await storage.personal.pending_count() == 0


async def test_replicas_claiming_at_once_share_the_due_messages_without_overlap(
    storage: Storage, tenant: TenantRecord
) -> None:
    for n in range(40):
        await _change(storage, tenant, f"U{n}", "ENG-1", "assigned")
    results = await asyncio.gather(
        *(storage.personal.claim_due(f"r{i}", now=NOW + WINDOW, lease=LEASE, limit=15) for i in range(4))
    )
    claimed = [d.id for batch in results for d in batch]
    assert len(claimed) == len(set(claimed)) == 40


async def test_dropping_by_kind_or_for_a_user(storage: Storage, tenant: TenantRecord) -> None:
    await _change(storage, tenant, "U2", "ENG-1", "assigned")
    await _change(storage, tenant, "U2", "ENG-1", "mentioned")
    await _change(storage, tenant, "U2", "ENG-2", "assigned")
    await _change(storage, tenant, "U3", "ENG-2", "assigned")
    assert await storage.personal.drop_pending("T1", "U2", {"assigned"}) == 2
    due = await storage.personal.claim_due("r1", now=NOW + WINDOW, lease=LEASE)
    assert sorted((d.slack_user_id, d.issue_key, len(d.changes)) for d in due) == [
        ("U2", "ENG-1", 1),
        ("U3", "ENG-2", 1),
    ]
    await storage.personal.save(
        tenant_id=tenant.id, team_id="T1", slack_user_id="U3", kinds_off=["assigned"], now=NOW
    )
    await storage.personal.save(
        tenant_id=tenant.id, team_id="T1", slack_user_id="U3", jira_name="carol", now=NOW
    )
    settings = await storage.personal.settings("T1", "U3")
    assert settings is not None and settings.kinds_off == {"assigned"} and settings.jira_name == "carol"
    await storage.personal.forget("T1", "U3")
    assert await storage.personal.settings("T1", "U3") is None
    assert [p.slack_user_id for p in await storage.personal.linked_people(tenant.id)] == ["U1"]


# Builders ------------------------------------------------------------------------------------------


def _issue() -> IssueSnapshot:
    return IssueSnapshot.parse(
        {
            "id": "10001",
            "key": "ENG-7",
            "fields": {
                "summary": "Printer on fire",
                "status": {"name": "In Progress", "statusCategory": {"key": "indeterminate"}},
                "issuetype": {"name": "Bug"},
                "project": {"key": "ENG", "name": "Engineering"},
            },
        }
    )


def _tenant() -> TenantRecord:
    return TenantRecord(
        id=1,
        team_id="T1",
        enterprise_id=None,
        kind="cloud",
        site_url="https://acme.atlassian.net",
        site_name="acme",
        cloud_id="cloud-1",
        dc_client_id=None,
        dc_client_secret=None,
        installed_by="U1",
        installed_at=NOW,
        default_project_key=None,
        default_project_name=None,
    )


def test_a_grouped_dm_lists_each_change_then_the_card() -> None:
    dm = PersonalDm(
        _tenant(),
        "U2",
        _issue(),
        (
            Change(PersonalKind.TRANSITIONED, "Bob", from_status="To Do", to_status="In Progress"),
            Change(PersonalKind.COMMENTED, "Bob", comment_id="5", quote="on it\n<b>now</b>"),
        ),
    )
    message = build_personal_dm(dm)
    assert message["text"] == "Bob moved ENG-7 from To Do to In Progress; Bob commented on ENG-7"
    first = message["blocks"][0]["text"]["text"]
    assert first.splitlines() == [
        "• Bob moved ENG-7 from To Do to In Progress",
        "• Bob commented on ENG-7",
        "> on it",
        "> &lt;b&gt;now&lt;/b&gt;",
    ]
    assert "<https://acme.atlassian.net/browse/ENG-7|ENG-7>" in message["blocks"][1]["text"]["text"]


def test_the_app_home_switches_and_the_status_line() -> None:
    some = Switches(True, frozenset({"mentioned", "commented"}))
    [_, _, _, row] = build_home_switches(some)
    [element] = row["elements"]
    assert element["action_id"] == ids.ACTION_PERSONAL_KINDS and element["type"] == "checkboxes"
    assert [o["text"]["text"] for o in element["options"]] == [
        "Assigned to me",
        "Mentioned",
        "Comments on my issues",
        "Status changes on my issues",
    ]
    assert [o["value"] for o in element["initial_options"]] == ["mentioned", "commented"]
    assert switches_line(some) == "Personal notifications are on for: Mentioned, Comments on my issues."
    assert "*on*" in switches_line(Switches(True, ALL_KINDS))
    assert "*off*" in switches_line(Switches(True, frozenset()))
    assert "initial_options" not in build_home_switches(Switches(True, frozenset()))[3]["elements"][0]
    assert build_home_switches(Switches(False, frozenset())) == []


async def test_a_dm_waits_while_an_event_of_its_window_is_still_in_the_inbox(
    storage: Storage, tenant: TenantRecord
) -> None:
    await _change(storage, tenant, "U2", "ENG-1", "assigned")
    for delivery, received in (("d1", NOW + timedelta(seconds=3)), ("d2", NOW + timedelta(seconds=30))):
        await storage.inbox.add(
            delivery_id=delivery,
            tenant_id=tenant.id,
            issue_key="ENG-1",
            event="comment_created",
            payload={"issue": {"key": "ENG-1"}},
            now=received,
        )
    late = NOW + timedelta(seconds=40)
    assert await storage.personal.claim_due("r1", now=late, lease=LEASE) == []  # d1 may still join it
    [first] = await storage.inbox.claim("w", now=late, lease=LEASE, limit=1)
    assert first.delivery_id == "d1"
    await _change(storage, tenant, "U2", "ENG-1", "commented", at=first.received_at)
    await storage.inbox.done(first.id, "w", now=late)
    # d2 came after the window: it does not hold the DM back, and would open the next one.
    [dm] = await storage.personal.claim_due("r1", now=late, lease=LEASE)
    assert [c["kind"] for c in dm.changes] == ["assigned", "commented"]
