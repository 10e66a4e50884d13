"""The bot's webhook and search calls against the Atlassian emulator: Cloud dynamic webhooks (register,
errors at HTTP 200, list, refresh on the emulator's clock, delete, the scope they need), the Data Center
webhook REST API (Jira admins with an ADMIN token only), and JQL search with Jira's error words."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from bot.jira import webhook_api
from bot.jira.client import BearerAuth, JiraClient
from bot.jira.errors import JiraBadRequest, JiraForbidden, JiraUnauthorized
from bot.jira.http import RetryPolicy
from tests.emulators.atlassian import AtlassianEmulator

CLIENT_ID, SECRET = "cid", "csecret"
SCOPES = ("read:jira-work", "write:jira-work", "manage:jira-webhook")


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def emu(clock: Clock) -> Iterator[AtlassianEmulator]:
    emulator = AtlassianEmulator(clock=clock).start()
    emulator.add_cloud_app(CLIENT_ID, SECRET, ["http://bot/cb"])
    site = emulator.add_cloud_site("acme")
    emulator.add_datacenter("/jira")
    for account, name in (("acc-ada", "ada"), ("acc-bob", "bob")):
        emulator.add_user(account, name.title(), f"{name}@x.test", sites=[site, "/jira"], name=name)
    emulator.default_project(site, "ENG", "Engineering")
    emulator.default_project("/jira", "ENG", "Engineering")
    yield emulator
    emulator.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def cloud_client(
    emu: AtlassianEmulator,
    http: httpx.AsyncClient,
    account: str = "acc-ada",
    scopes: tuple[str, ...] = SCOPES,
) -> JiraClient:
    token = emu.mint_cloud_tokens(CLIENT_ID, account, scopes=scopes)["access_token"]
    site = emu.cloud_site("acme")
    base = JiraClient.api_base_for(cloud=True, api_url=str(emu.base_url), cloud_id=site.cloud_id, site_url="")
    return JiraClient(
        http, api_base=base, cloud=True, auth=BearerAuth(token), policy=RetryPolicy(max_attempts=1)
    )


def dc_client(emu: AtlassianEmulator, http: httpx.AsyncClient, scopes: tuple[str, ...]) -> JiraClient:
    token = emu.mint_dc_tokens("/jira", "dc-app", "acc-ada", scopes=scopes)["access_token"]
    return JiraClient(
        http,
        api_base=f"{emu.base_url}/jira/rest/api/2",
        cloud=False,
        auth=BearerAuth(token),
        policy=RetryPolicy(max_attempts=1),
    )


async def test_cloud_webhooks_register_list_refresh_and_delete(
    emu: AtlassianEmulator, clock: Clock, http: httpx.AsyncClient
) -> None:
    client = cloud_client(emu, http)
    hook_id = await webhook_api.register_cloud_webhook(
        client, "http://bot/jira/webhooks/t", jql='project = "ENG"', events=["jira:issue_created"]
    )
    [listed] = await webhook_api.list_cloud_webhooks(client)
    assert listed.id == hook_id and listed.jql_filter == 'project = "ENG"'
    assert listed.expires_at is not None and listed.expires_at.timestamp() == pytest.approx(
        clock.now + 30 * 86400
    )
    clock.now += 20 * 86400
    client = cloud_client(emu, http)  # a fresh token: the first expired meanwhile
    expiry = await webhook_api.refresh_cloud_webhooks(client, [hook_id])
    assert expiry is not None and expiry.timestamp() == pytest.approx(clock.now + 30 * 86400)
    assert await webhook_api.list_cloud_webhooks(cloud_client(emu, http, "acc-bob")) == []  # per user
    await webhook_api.delete_cloud_webhooks(client, [hook_id])
    assert await webhook_api.list_cloud_webhooks(client) == []


async def test_a_cloud_webhook_expires_unless_refreshed(
    emu: AtlassianEmulator, clock: Clock, http: httpx.AsyncClient
) -> None:
    client = cloud_client(emu, http)
    await webhook_api.register_cloud_webhook(
        client, "http://bot/h", jql="project = ENG", events=["jira:issue_created"]
    )
    clock.now += 30 * 86400 + 1
    assert await webhook_api.list_cloud_webhooks(cloud_client(emu, http)) == []


async def test_registration_errors_come_back_as_http_200(
    emu: AtlassianEmulator, http: httpx.AsyncClient
) -> None:
    client = cloud_client(emu, http)
    with pytest.raises(webhook_api.WebhookRegistrationFailed) as refused:
        await webhook_api.register_cloud_webhook(
            client, "http://bot/h", jql="priority = High", events=["jira:issue_created"]
        )
    assert refused.value.errors == ["The field 'priority' is not supported in webhook JQL filters."]
    await webhook_api.register_cloud_webhook(
        client, "http://bot/h", jql="project = ENG", events=["comment_created"]
    )
    with pytest.raises(webhook_api.WebhookRegistrationFailed) as second_url:
        await webhook_api.register_cloud_webhook(
            client, "http://other/h", jql="project = ENG", events=["comment_created"]
        )
    assert "single URL per app" in str(second_url.value)


async def test_webhooks_need_the_manage_scope(emu: AtlassianEmulator, http: httpx.AsyncClient) -> None:
    client = cloud_client(emu, http, scopes=("read:jira-work", "write:jira-work"))
    with pytest.raises(JiraUnauthorized):
        await webhook_api.list_cloud_webhooks(client)


async def test_data_center_webhooks_need_a_jira_admin_with_an_admin_token(
    emu: AtlassianEmulator, http: httpx.AsyncClient
) -> None:
    with pytest.raises(JiraForbidden):
        await webhook_api.register_dc_webhook(
            dc_client(emu, http, ("WRITE",)),
            "http://bot/h",
            name="Slack",
            secret="s",
            events=["jira:issue_created"],
        )
    emu.jira_admins.add("acc-ada")
    admin = dc_client(emu, http, ("ADMIN",))
    ref = await webhook_api.register_dc_webhook(
        admin, "http://bot/h", name="Slack", secret="s", events=["jira:issue_created"]
    )
    [hook] = emu.webhooks
    assert ref.endswith(f"/jira/rest/webhooks/1.0/webhook/{hook.id}") and hook.secret == "s"
    await webhook_api.delete_dc_webhook(admin, ref)
    assert emu.webhooks == []


async def test_search_answers_as_the_user_and_bad_jql_in_jiras_words(
    emu: AtlassianEmulator, http: httpx.AsyncClient
) -> None:
    site = emu.cloud_site("acme")
    high = emu.seed_issue(site, "ENG", "Site down", priority="High", reporter="acc-bob")
    emu.seed_issue(site, "ENG", "Typo", priority="Low", reporter="acc-bob")
    hidden = emu.seed_issue(site, "ENG", "Secret", priority="High", security=("Board", ["acc-bob"]))
    client = cloud_client(emu, http)
    assert await webhook_api.search_keys(client, 'project = "ENG" AND (priority = High)', limit=10) == [
        high.key
    ]
    found = await webhook_api.search_keys(cloud_client(emu, http, "acc-bob"), "priority = High", limit=10)
    assert sorted(found) == sorted([high.key, hidden.key])
    with pytest.raises(JiraBadRequest) as bad:
        await webhook_api.search_keys(client, "colour = red")
    assert bad.value.error_messages == [
        "Field 'colour' does not exist or you do not have permission to view it."
    ]
    dc_issue = emu.seed_issue("/jira", "ENG", "On DC", reporter="acc-bob")
    assert await webhook_api.search_keys(dc_client(emu, http, ("WRITE",)), "reporter = bob", limit=5) == [
        dc_issue.key
    ]
