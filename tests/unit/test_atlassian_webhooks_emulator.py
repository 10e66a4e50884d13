"""The emulator's webhook deliveries: realistic signed bodies, one per app URL with matchedWebhookIds,
JQL filters and the owner's visibility applied, and redelivery with the same identifier on failure."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.web.webhook_auth import verify_cloud_jwt, verify_dc_signature
from tests.emulators.atlassian import AtlassianEmulator
from tests.emulators.atlassian_issues import IN_PROGRESS
from tests.emulators.live import LiveServer

CLIENT_ID, SECRET = "cid", "csecret"


class Receiver:
    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.fail_first = 0

    async def hook(self, request: Request) -> Response:
        self.received.append(({k.lower(): v for k, v in request.headers.items()}, await request.body()))
        if self.fail_first:
            self.fail_first -= 1
            return Response(status_code=503)
        return Response(status_code=200)


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    receiver = Receiver()
    live = LiveServer(Starlette(routes=[Route("/hook", receiver.hook, methods=["POST"])])).start()
    yield receiver, f"{live.url}/hook"
    live.stop()


@pytest.fixture
def emu() -> Iterator[AtlassianEmulator]:
    emulator = AtlassianEmulator().start()
    emulator.webhook_retry_delays = (0.05, 0.05)
    emulator.add_cloud_app(CLIENT_ID, SECRET, ["http://bot/cb"])
    site = emulator.add_cloud_site("acme")
    emulator.add_datacenter("/jira")
    for account, name in (("acc-ada", "ada"), ("acc-bob", "bob")):
        emulator.add_user(account, name.title(), f"{name}@x.test", sites=[site, "/jira"], name=name)
    emulator.default_project(site, "ENG", "Engineering")
    emulator.default_project(site, "OPS", "Operations")
    emulator.default_project("/jira", "ENG", "Engineering")
    yield emulator
    emulator.stop()


def register(emu: AtlassianEmulator, url: str, jql: str, events: list[str], account: str = "acc-ada") -> int:
    token = emu.mint_cloud_tokens(CLIENT_ID, account, scopes=("read:jira-work", "manage:jira-webhook"))
    api = f"{emu.base_url}/ex/jira/{emu.cloud_site('acme').cloud_id}/rest/api/3"
    answer = httpx.post(
        f"{api}/webhook",
        json={"url": url, "webhooks": [{"jqlFilter": jql, "events": events}]},
        headers={"Authorization": f"Bearer {token['access_token']}"},
    ).json()
    return int(answer["webhookRegistrationResult"][0]["createdWebhookId"])


def wait(predicate: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not met")


def test_cloud_deliveries_are_signed_realistic_and_name_the_matched_webhooks(
    emu: AtlassianEmulator, receiver: tuple[Receiver, str]
) -> None:
    rec, url = receiver
    first = register(emu, url, "project = ENG", ["jira:issue_created", "jira:issue_updated"])
    second = register(emu, url, "project IN (ENG, OPS)", ["jira:issue_updated"])
    register(emu, url, "project = OPS", ["jira:issue_updated"])
    issue = emu.jira_create("acme", "ENG", "Printer on fire", by="acc-bob")
    emu.jira_transition(issue.key, IN_PROGRESS, by="acc-bob")
    wait(lambda: len(rec.received) == 2)
    (created_headers, created_raw), (moved_headers, moved_raw) = rec.received
    claims = verify_cloud_jwt(moved_headers["authorization"], SECRET, now=time.time())
    assert claims["exp"] > time.time()
    created, moved = json.loads(created_raw), json.loads(moved_raw)
    assert created["webhookEvent"] == "jira:issue_created" and created["matchedWebhookIds"] == [first]
    assert moved["matchedWebhookIds"] == [first, second]
    assert moved["issue_event_type_name"] == "issue_generic" and moved["user"]["accountId"] == "acc-bob"
    assert moved["changelog"]["items"][0] == {
        "field": "status",
        "fieldtype": "jira",
        "fieldId": "status",
        "from": "10000",
        "fromString": "To Do",
        "to": IN_PROGRESS.id,
        "toString": "In Progress",
    }
    assert moved["issue"]["key"] == issue.key and moved["issue"]["fields"]["status"]["name"] == "In Progress"
    assert isinstance(moved["timestamp"], int)
    assert (
        created_headers["x-atlassian-webhook-identifier"] != moved_headers["x-atlassian-webhook-identifier"]
    )


def test_a_webhook_owner_hears_only_of_issues_they_may_see(
    emu: AtlassianEmulator, receiver: tuple[Receiver, str]
) -> None:
    rec, url = receiver
    register(emu, url, "project = ENG", ["jira:issue_created"])
    emu.jira_create("acme", "ENG", "Secret", by="acc-bob", security=("Board", ["acc-bob"]))
    shown = emu.jira_create("acme", "ENG", "Open", by="acc-bob")
    wait(lambda: rec.received)
    time.sleep(0.2)
    assert [json.loads(body)["issue"]["key"] for _, body in rec.received] == [shown.key]


def test_a_failed_delivery_is_sent_again_with_the_same_identifier(
    emu: AtlassianEmulator, receiver: tuple[Receiver, str]
) -> None:
    rec, url = receiver
    rec.fail_first = 2
    register(emu, url, "project = ENG", ["comment_created"])
    issue = emu.seed_issue("acme", "ENG", "Quiet")
    emu.jira_comment(issue.key, {"type": "doc", "version": 1, "content": []}, by="acc-bob")
    wait(lambda: emu.deliveries and emu.deliveries[0].delivered)
    [delivery] = emu.deliveries
    assert delivery.statuses == [503, 503, 200]
    identifiers = {headers["x-atlassian-webhook-identifier"] for headers, _ in rec.received}
    assert identifiers == {delivery.identifier} and rec.received[-1][0]["x-atlassian-webhook-retry"] == "2"
    assert json.loads(rec.received[-1][1])["comment"]["author"]["accountId"] == "acc-bob"


def test_data_center_deliveries_carry_the_hmac_of_the_body(
    emu: AtlassianEmulator, receiver: tuple[Receiver, str]
) -> None:
    rec, url = receiver
    emu.add_dc_webhook("/jira", url, secret="dc-secret", jql="project = ENG")
    issue = emu.jira_create("/jira", "ENG", "On DC", by="acc-bob")
    emu.jira_assign(issue.key, "acc-ada", by="acc-bob")
    wait(lambda: len(rec.received) == 2)
    for headers, body in rec.received:
        verify_dc_signature(headers["x-hub-signature"], body, "dc-secret")
        assert "matchedWebhookIds" not in json.loads(body)
    assigned = json.loads(rec.received[1][1])
    assert assigned["issue_event_type_name"] == "issue_assigned"
    assert assigned["changelog"]["items"][0]["toString"] == "Ada" and assigned["user"]["name"] == "bob"
