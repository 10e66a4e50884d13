"""Tenant installs by admins and account links by users, Cloud and Data Center, end to end."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from bot.jira.errors import ReconnectRequired
from tests.e2e.browser import Browser
from tests.e2e.flows import (
    ADMIN,
    ADMIN_ACCOUNT,
    ALICE,
    ALICE_ACCOUNT,
    BOB,
    CLOUD_SITE_URL,
    DC_CLIENT_ID,
    OUTSIDER_ACCOUNT,
    World,
    authorize,
    button_url,
    click,
    cloud_world,
    connect,
    datacenter_world,
    dms_to,
    find_elements,
    install,
    install_cloud,
    jira_authorize_url,
    last_ephemeral,
    last_response,
    link_user,
    open_install_modal,
)


@pytest.fixture(params=["cloud", "datacenter"])
def world(request, bot, slack, atlassian, driver) -> World:
    build = cloud_world if request.param == "cloud" else datacenter_world
    return build(bot, slack, atlassian, driver)


@pytest.fixture
def cloud(bot, slack, atlassian, driver) -> World:
    return cloud_world(bot, slack, atlassian, driver)


def account_of(world: World, user: str):
    return world.bot.run(world.bot.storage.accounts.get(world.slack.team_id, user))


def tenant_of(world: World):
    return world.bot.run(world.bot.storage.tenants.get(world.slack.team_id))


def audit_actions(world: World) -> list[str]:
    return [entry.action for entry in world.bot.run(world.bot.storage.audit.list(world.slack.team_id))]


# Before the install -------------------------------------------------------------------------------


def test_before_install_users_are_told_an_admin_must_install_and_nothing_is_stored(world: World) -> None:
    result = connect(world, ALICE)
    assert result.acked_in_time
    message = last_response(world, result)
    assert "admin must first run `/jira admin install`" in message["text"]
    assert not find_elements(message.get("blocks", []), "jira_connect_link")
    assert account_of(world, ALICE) is None
    assert tenant_of(world) is None
    assert world.atlassian.requests == []


def test_non_admins_cannot_install_and_see_no_authorization_link(world: World, caplog) -> None:
    for text in (f"admin install {CLOUD_SITE_URL}", "admin install", "admin status", "admin uninstall"):
        result = world.driver.slash_command(ALICE, text)
        message = last_response(world, result)
        assert "for workspace admins and owners only" in message["text"]
        assert "authorize" not in json.dumps(message)
    assert world.slack.calls_to("views.open") == []
    assert tenant_of(world) is None


def test_jirabot_admins_setting_grants_admin_rights(bot, slack, atlassian, driver, database_url) -> None:
    from tests.harness import BotHarness

    world = cloud_world(bot, slack, atlassian, driver)
    bot.stop()
    promoted = BotHarness.start(
        database_url=database_url,
        slack_api_url=slack.api_url,
        atlassian_url=atlassian.base_url,
        jirabot_admins=BOB,
    )
    try:
        from tests.emulators.slack_driver import SlackDriver
        from tests.harness import SIGNING_SECRET

        with SlackDriver(promoted.url, SIGNING_SECRET, slack) as bob_driver:
            result = bob_driver.slash_command(BOB, f"admin install {CLOUD_SITE_URL}")
            message = world.slack.wait_for(lambda: world.slack.responses(result.response_url))[-1].body
        assert "auth" in button_url(message)
    finally:
        promoted.stop()


# Installing ---------------------------------------------------------------------------------------


def test_cloud_install_authorize_url_has_the_3lo_parameters(cloud: World) -> None:
    result = cloud.driver.slash_command(ADMIN, f"admin install {CLOUD_SITE_URL}")
    url = jira_authorize_url(button_url(last_response(cloud, result)))
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert f"{parts.scheme}://{parts.netloc}" == cloud.atlassian.base_url
    assert parts.path == "/authorize"
    assert query["audience"] == "api.atlassian.com"
    assert query["client_id"] == "cloud-client-id"
    assert query["scope"].split() == [
        "read:jira-work", "write:jira-work", "read:jira-user", "manage:jira-webhook", "offline_access"
    ]
    assert query["redirect_uri"] == f"{cloud.bot.url}/jira/oauth/callback"
    assert query["response_type"] == "code" and query["prompt"] == "consent"
    assert len(query["state"]) >= 32


def test_install_stores_the_site_and_links_the_admin_at_once(world: World) -> None:
    page = install(world)
    assert "Connected as Ada Admin" in page.text
    tenant = tenant_of(world)
    assert tenant is not None and tenant.kind == ("cloud" if world.cloud else "datacenter")
    assert tenant.site_url == world.site_url
    assert tenant.installed_by == ADMIN
    if world.cloud:
        assert tenant.cloud_id == world.site.cloud_id
    else:
        assert tenant.dc_client_id == DC_CLIENT_ID
    admin = account_of(world, ADMIN)
    assert admin.display_name == "Ada Admin" and admin.email == "ada@acme.test"
    assert admin.status == "linked" and admin.refresh_token
    dm = world.slack.wait_for(lambda: dms_to(world, ADMIN))
    assert f"Connected as Ada Admin on {world.site_host}" in dm[-1]["text"]
    assert "tenant.installed" in audit_actions(world)
    # The admin is not asked to connect again.
    status = last_response(world, world.driver.slash_command(ADMIN, "status"))
    assert "connected as *Ada Admin*" in status["text"]


def test_datacenter_authorization_uses_pkce_s256_and_a_new_verifier_each_time(
    bot, slack, atlassian, driver
) -> None:
    world = datacenter_world(bot, slack, atlassian, driver)
    install(world)
    challenges = set()
    for _ in range(2):
        url = jira_authorize_url(button_url(last_response(world, connect(world, ALICE))))
        query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        assert urlsplit(url).path == "/jira/rest/oauth2/latest/authorize"
        assert query["code_challenge_method"] == "S256" and query["scope"] == "WRITE"
        challenges.add(query["code_challenge"])
    assert len(challenges) == 2
    token_calls = atlassian.requests_to(r"^/jira/rest/oauth2/latest/token$", method="POST")
    assert token_calls and token_calls[0].form["code_verifier"]


def test_admin_without_access_to_the_site_installs_nothing(cloud: World) -> None:
    page = install_cloud(cloud, account=OUTSIDER_ACCOUNT)
    assert page.status_code == 403
    assert "cannot reach acme.atlassian.net" in page.text
    assert tenant_of(cloud) is None and account_of(cloud, ADMIN) is None
    dm = cloud.slack.wait_for(lambda: dms_to(cloud, ADMIN))
    assert "nothing was installed" in dm[-1]["text"]


def test_reinstalling_the_same_site_refreshes_and_another_site_needs_uninstall(cloud: World) -> None:
    install(cloud)
    again = install_cloud(cloud)
    assert again.status_code == 200
    assert audit_actions(cloud).count("tenant.reinstalled") == 1
    result = cloud.driver.slash_command(ADMIN, "admin install https://elsewhere.atlassian.net")
    message = last_response(cloud, result)
    assert "already connected to acme.atlassian.net" in message["text"]
    assert "/jira admin uninstall" in message["text"]
    assert not find_elements(message.get("blocks", []), "jira_connect_link")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("admin install not a url", "without other words"),
        ("admin install ftp://acme.atlassian.net", "is not a web address"),
        ("admin install https://acme.atlassian.net please", "without other words"),
    ],
)
def test_bad_install_input_gets_a_clear_answer_with_an_example(
    cloud: World, text: str, expected: str
) -> None:
    message = last_response(cloud, cloud.driver.slash_command(ADMIN, text))
    assert expected in message["text"]
    assert "https://your-company.atlassian.net" in message["text"]


def test_a_url_copied_with_a_path_is_reduced_to_its_site(cloud: World) -> None:
    result = cloud.driver.slash_command(
        ADMIN, "admin install https://acme.atlassian.net/jira/software/projects/ENG/boards/1"
    )
    message = last_response(cloud, result)
    assert "I used the site https://acme.atlassian.net" in json.dumps(message)
    page = authorize(button_url(message), ADMIN_ACCOUNT)
    assert page.status_code == 200
    assert tenant_of(cloud).site_url == CLOUD_SITE_URL


def test_install_modal_reports_invalid_input_on_the_fields(bot, slack, atlassian, driver) -> None:
    world = datacenter_world(bot, slack, atlassian, driver)
    modal = open_install_modal(world)
    assert bot.redirect_uri in json.dumps(modal)
    result = world.driver.submit_view(
        ADMIN,
        modal,
        {
            "install_kind": "datacenter",
            "install_url": "not a url",
            "install_client_id": "",
            "install_client_secret": "",
        },
    )
    assert result.response_action == "errors"
    errors = result.json()["errors"]
    assert set(errors) == {"install_url", "install_client_id", "install_client_secret"}
    assert tenant_of(world) is None


def test_http_datacenter_url_is_accepted_with_a_warning(bot, slack, atlassian, driver) -> None:
    world = datacenter_world(bot, slack, atlassian, driver)
    assert world.site_url.startswith("http://")
    modal = open_install_modal(world, text=f"admin install {world.site_url}")
    assert world.site_url in json.dumps(modal)
    result = world.driver.submit_view(
        ADMIN,
        modal,
        {
            "install_kind": "datacenter",
            "install_url": world.site_url,
            "install_client_id": DC_CLIENT_ID,
            "install_client_secret": "dc-client-secret-value-4567",
        },
    )
    assert result.response_action == "update"
    assert "uses http://" in json.dumps(result.json()["view"])


# Linking ------------------------------------------------------------------------------------------


def test_users_link_themselves_after_the_install(world: World) -> None:
    install(world)
    page = link_user(world, ALICE, ALICE_ACCOUNT)
    assert page.status_code == 200
    assert f"Connected as Alice Anders on {world.site_host}" in page.text
    account = account_of(world, ALICE)
    if world.cloud:
        assert account.jira_account_id == ALICE_ACCOUNT
    assert account.display_name == "Alice Anders" and account.status == "linked"
    dm = world.slack.wait_for(lambda: dms_to(world, ALICE))
    assert f"Connected as Alice Anders on {world.site_host}" in dm[-1]["text"]
    home = world.slack.wait_for(lambda: world.slack.home_views.get(ALICE))
    assert "Alice Anders" in json.dumps(home)
    assert "account.linked" in audit_actions(world)


def test_a_user_without_access_to_the_site_is_not_linked(cloud: World) -> None:
    install(cloud)
    page = link_user(cloud, BOB, OUTSIDER_ACCOUNT)
    assert page.status_code == 403
    assert "no access to acme.atlassian.net" in page.text
    assert account_of(cloud, BOB) is None
    dm = cloud.slack.wait_for(lambda: dms_to(cloud, BOB))
    assert "no access" in dm[-1]["text"]


def test_reused_and_forged_states_are_refused(world: World) -> None:
    install(world)
    url = button_url(last_response(world, connect(world, ALICE)))
    with Browser(ALICE_ACCOUNT) as browser:
        page = browser.open(url)
        callback = str(page.url)
        assert browser.confirm(page).status_code == 200
        reused = browser.open(callback)
        forged = browser.client.get(
            f"{world.bot.url}/jira/oauth/callback", params={"state": "forged-state-value", "code": "whatever"}
        )
        missing = browser.client.get(f"{world.bot.url}/jira/oauth/callback", params={"code": "whatever"})
    assert reused.status_code == 400 and "already used" in reused.text
    assert forged.status_code == 400 and "not valid" in forged.text
    assert missing.status_code == 400


def test_an_expired_state_is_refused(world: World) -> None:
    install(world)
    url = button_url(last_response(world, connect(world, ALICE)))
    world.bot.clock.advance(11 * 60)
    page = authorize(url, ALICE_ACCOUNT)
    assert page.status_code == 400 and "expired" in page.text
    assert account_of(world, ALICE) is None


def test_denied_consent_links_nothing_and_tells_the_user(world: World) -> None:
    install(world)
    world.atlassian.deny_consent = True
    page = link_user(world, ALICE, ALICE_ACCOUNT)
    assert page.status_code == 403 and "declined" in page.text
    assert account_of(world, ALICE) is None
    dm = world.slack.wait_for(lambda: dms_to(world, ALICE))
    assert "declined access to Jira" in dm[-1]["text"]


# Status, disconnect, uninstall -----------------------------------------------------------------------


def test_status_tells_users_where_they_stand(cloud: World) -> None:
    assert (
        "isn't connected to this workspace"
        in last_response(cloud, cloud.driver.slash_command(ALICE, "status"))["text"]
    )
    install(cloud)
    assert (
        "not connected to Jira on acme.atlassian.net"
        in last_response(cloud, cloud.driver.slash_command(ALICE, "status"))["text"]
    )
    link_user(cloud)
    assert (
        "connected as *Alice Anders* on acme.atlassian.net"
        in last_response(cloud, cloud.driver.slash_command(ALICE, "status"))["text"]
    )


def test_disconnect_unlinks_only_after_the_confirmed_click(world: World) -> None:
    install(world)
    link_user(world)
    world.driver.slash_command(ALICE, "disconnect")
    prompt = last_ephemeral(world, ALICE, "Disconnect your Jira account")
    [button] = find_elements(prompt["blocks"], "jira_disconnect")
    assert button["confirm"]["confirm"]["text"] == "Disconnect"
    assert button["confirm"]["title"]["text"] == "Disconnect Jira?"
    assert account_of(world, ALICE) is not None  # nothing happens before the click
    after = click(world, ALICE, prompt, "jira_disconnect")
    assert "your Jira account is disconnected" in after["text"]
    assert account_of(world, ALICE) is None
    assert "account.unlinked" in audit_actions(world)
    world.slack.wait_for(lambda: "not connected to Jira" in json.dumps(world.slack.home_views.get(ALICE)))
    again = last_response(world, world.driver.slash_command(ALICE, "disconnect"))
    assert "nothing to disconnect" in again["text"]


def test_admin_status_counts_users_and_uninstall_removes_every_link(cloud: World) -> None:
    install(cloud)
    link_user(cloud)
    status = last_response(cloud, cloud.driver.slash_command(ADMIN, "admin status"))
    assert "Linked users: 2" in status["text"] and f"<@{ADMIN}>" in status["text"]
    cloud.driver.slash_command(ADMIN, "admin uninstall")
    prompt = last_ephemeral(cloud, ADMIN, "Disconnect this workspace")
    [button] = find_elements(prompt["blocks"], "jira_admin_uninstall")
    assert "confirm" in button
    assert tenant_of(cloud) is not None
    after = click(cloud, ADMIN, prompt, "jira_admin_uninstall")
    assert "disconnected from Jira, and 2 links removed" in after["text"]
    assert tenant_of(cloud) is None
    assert account_of(cloud, ALICE) is None and account_of(cloud, ADMIN) is None
    assert "tenant.uninstalled" in audit_actions(cloud)
    message = last_response(cloud, connect(cloud, ALICE))
    assert "admin must first run `/jira admin install`" in message["text"]


def test_admin_sets_the_default_project_from_the_home_tab(cloud: World) -> None:
    install(cloud)
    cloud.atlassian.add_project(cloud.site, "OPS", "Operations")
    cloud.driver.event({"type": "app_home_opened", "user": ADMIN, "channel": "D0ADMIN", "tab": "home"})
    home = cloud.slack.wait_for(
        lambda: (v := cloud.slack.home_views.get(ADMIN)) and "Workspace admin" in json.dumps(v) and v
    )
    [select] = find_elements(home["blocks"], "jira_admin_default_project")
    block_id = next(
        b["block_id"]
        for b in home["blocks"]
        if b.get("accessory", {}).get("action_id") == "jira_admin_default_project"
    )
    answer = cloud.driver.options(ADMIN, home, "jira_admin_default_project", block_id, "")
    assert [o["value"] for o in answer["options"]] == ["ENG", "OPS"]
    cloud.driver.select_option(ADMIN, home, "jira_admin_default_project", block_id, answer["options"][1])
    assert cloud.slack.wait_for(lambda: tenant_of(cloud).default_project_key == "OPS")
    assert tenant_of(cloud).default_project_name == "Operations"
    assert "Default project: Operations (OPS)" in json.dumps(
        cloud.slack.wait_for(
            lambda: (v := cloud.slack.home_views.get(ADMIN)) and "OPS" in json.dumps(v) and v
        )
    )


def test_non_admins_see_no_admin_section_on_the_home_tab(cloud: World) -> None:
    install(cloud)
    cloud.driver.event({"type": "app_home_opened", "user": ALICE, "channel": "D0ALICE", "tab": "home"})
    home = cloud.slack.wait_for(lambda: cloud.slack.home_views.get(ALICE))
    assert "Workspace admin" not in json.dumps(home)
    assert find_elements(home["blocks"], "jira_connect_start")


# Tokens ---------------------------------------------------------------------------------------------


def test_tokens_are_refreshed_before_expiry_with_rotation(world: World) -> None:
    install(world)
    link_user(world)
    before = account_of(world, ALICE)
    tenant = tenant_of(world)
    tokens = world.bot.components.services["tokens"]
    world.bot.clock.advance(3600 - 30)  # within a minute of expiry
    projects = world.bot.run(world.bot.components.services["projects"].search(world.slack.team_id, ALICE, ""))
    assert [p.key for p in projects] == ["ENG"]
    after = account_of(world, ALICE)
    assert after.access_token != before.access_token
    assert after.refresh_token != before.refresh_token
    assert after.expires_at > before.expires_at
    refreshes = [g for g in world.atlassian.token_grants if g.grant_type == "refresh_token"]
    assert len(refreshes) == 1 and refreshes[0].status == 200
    if not world.cloud:
        form = world.atlassian.requests_to(r"/rest/oauth2/latest/token$", method="POST")[-1].form
        assert form["grant_type"] == "refresh_token" and form["redirect_uri"] == world.bot.redirect_uri
    # A fresh token is not refreshed again.
    world.bot.run(tokens.refresh(tenant, after))
    assert len([g for g in world.atlassian.token_grants if g.grant_type == "refresh_token"]) == 1


def test_concurrent_refreshes_of_one_account_use_the_refresh_token_once(world: World) -> None:
    install(world)
    link_user(world)
    tenant = tenant_of(world)
    account = account_of(world, ALICE)
    tokens = world.bot.components.services["tokens"]
    world.bot.clock.advance(3600)

    async def many() -> list:
        return await asyncio.gather(*(tokens.refresh(tenant, account) for _ in range(5)))

    results = world.bot.run(many())
    assert len({r.access_token for r in results}) == 1
    refreshes = [g for g in world.atlassian.token_grants if g.grant_type == "refresh_token"]
    assert len(refreshes) == 1


def test_tasks_that_find_one_revoked_grant_at_once_send_one_message(world: World) -> None:
    install(world)
    link_user(world)
    tenant = tenant_of(world)
    account = account_of(world, ALICE)
    world.atlassian.revoke(ALICE_ACCOUNT)
    world.bot.clock.advance(3600)
    tokens = world.bot.components.services["tokens"]

    async def many() -> list:
        return await asyncio.gather(*(tokens.refresh(tenant, account) for _ in range(6)),
                                    return_exceptions=True)

    results = world.bot.run(many())
    assert all(isinstance(result, ReconnectRequired) for result in results)
    dms = world.slack.wait_for(lambda: [m for m in dms_to(world, ALICE) if "stopped working" in m["text"]])
    assert len(dms) == 1
    broken = world.bot.run(world.bot.storage.audit.list(tenant.team_id, action="account.needs_reconnect"))
    assert len(broken) == 1


def test_a_revoked_grant_leads_to_needs_reconnect_and_one_message(world: World) -> None:
    install(world)
    link_user(world)
    tenant = tenant_of(world)
    world.atlassian.revoke(ALICE_ACCOUNT)
    world.bot.clock.advance(3600)
    tokens = world.bot.components.services["tokens"]
    with pytest.raises(ReconnectRequired):
        world.bot.run(tokens.refresh(tenant, account_of(world, ALICE)))
    account = account_of(world, ALICE)
    assert account.status == "needs_reconnect" and account.access_token is None
    dm = world.slack.wait_for(lambda: [m for m in dms_to(world, ALICE) if "stopped working" in m["text"]])
    assert len(dm) == 1
    status = last_response(world, world.driver.slash_command(ALICE, "status"))
    assert "needs a reconnect" in status["text"]
    # Reconnecting repairs the link.
    world.atlassian.grant_site_access(ALICE_ACCOUNT, world.site if world.cloud else "/jira")
    page = link_user(world)
    assert page.status_code == 200
    assert account_of(world, ALICE).status == "linked"


def test_a_401_after_refresh_marks_the_link_broken(cloud: World) -> None:
    install(cloud)
    link_user(cloud)
    cloud.atlassian.fail_next(
        r"/rest/api/3/project/search", 401, {"code": 401, "message": "Unauthorized"}, times=2
    )
    projects = cloud.bot.run(cloud.bot.components.services["projects"].search(cloud.slack.team_id, ALICE, ""))
    assert projects == []
    assert account_of(cloud, ALICE).status == "needs_reconnect"


def test_the_database_holds_no_token_in_plain_text(world: World, database_url: str) -> None:
    from sqlalchemy import text

    install(world)
    link_user(world)
    account = account_of(world, ALICE)
    secrets = [account.access_token, account.refresh_token]
    if not world.cloud:
        secrets.append("dc-client-secret-value-4567")

    async def dump() -> str:
        rows = []
        async with world.bot.storage.db.engine.connect() as connection:
            for table in ("jira_accounts", "tenant_installs", "jira_oauth_states", "audit_log"):
                rows += [repr(tuple(r)) for r in await connection.execute(text(f"SELECT * FROM {table}"))]
        return "\n".join(rows)

    everything = world.bot.run(dump())
    assert account.display_name in everything  # the dump does see the rows
    for secret in secrets:
        assert secret and secret not in everything
    if database_url.startswith("sqlite"):
        path = Path(database_url.removeprefix("sqlite:///"))
        raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        for secret in secrets:
            assert secret.encode() not in raw


def test_admin_commands_before_the_install_say_what_to_do(cloud: World) -> None:
    status = last_response(cloud, cloud.driver.slash_command(ADMIN, "admin status"))
    assert "Run `/jira admin install <site-url>`" in status["text"]
    uninstall = last_response(cloud, cloud.driver.slash_command(ADMIN, "admin uninstall"))
    assert "nothing to uninstall" in uninstall["text"]
