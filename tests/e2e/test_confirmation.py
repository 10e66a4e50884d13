"""The browser confirms every link and install: forwarded links link nobody behind anyone's back, one Jira
account per Slack user per workspace, and the pages are hardened (CSP, nosniff, cookie flags)."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.browser import Browser, confirmation_form, forms_of
from tests.e2e.flows import (
    ADMIN,
    ADMIN_ACCOUNT,
    ALICE,
    ALICE_ACCOUNT,
    BOB,
    BOB_ACCOUNT,
    CLOUD_SITE_URL,
    DC_CLIENT_ID,
    DC_CLIENT_SECRET,
    World,
    button_url,
    cloud_world,
    connect,
    datacenter_world,
    dms_to,
    install,
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


def connect_url(world: World, user: str = ALICE) -> str:
    return button_url(last_response(world, connect(world, user)))


def code_grants(world: World) -> list:
    return [g for g in world.atlassian.token_grants if g.grant_type == "authorization_code"]


def test_the_page_names_who_is_linked_to_whom_and_only_the_confirmation_links(world: World) -> None:
    install(world)
    with Browser(ALICE_ACCOUNT) as browser:
        page = browser.open(connect_url(world))
        assert page.status_code == 200
        for shown in ("Alice Anders (@alice)", "Acme", "Alice Anders (alice@acme.test)", world.site_host):
            assert shown in page.text
        [form] = [f for f in forms_of(page.text) if f.method == "post"]
        assert form.button("Confirm") and form.button("Cancel")
        assert "<script" not in page.text.lower()
        assert account_of(world, ALICE) is None  # the code was exchanged, but nothing is linked yet
        assert len(code_grants(world)) == 2  # the admin's install, and this one
        assert world.slack.wait_for(lambda: dms_to(world, ADMIN)) and not dms_to(world, ALICE)
        done = browser.confirm(page)
    assert done.status_code == 200 and f"Connected as Alice Anders on {world.site_host}" in done.text
    assert account_of(world, ALICE).display_name == "Alice Anders"
    dm = world.slack.wait_for(lambda: dms_to(world, ALICE))
    assert f"Connected as Alice Anders on {world.site_host}" in dm[-1]["text"]


def test_an_install_is_confirmed_for_the_whole_workspace(world: World) -> None:
    if world.cloud:
        result = world.driver.slash_command(ADMIN, f"admin install {CLOUD_SITE_URL}")
        url = button_url(last_response(world, result))
    else:
        submitted = world.driver.submit_view(
            ADMIN,
            open_install_modal(world),
            {
                "install_kind": "datacenter",
                "install_url": world.site_url,
                "install_client_id": DC_CLIENT_ID,
                "install_client_secret": DC_CLIENT_SECRET,
            },
        )
        url = button_url(submitted.json()["view"])
    with Browser(ADMIN_ACCOUNT) as browser:
        page = browser.open(url)
        assert f"connects the Jira site <strong>{world.site_host}</strong> for the whole Slack workspace" in (
            page.text
        )
        assert "Ada Admin" in page.text
        assert tenant_of(world) is None
        done = browser.confirm(page)
    assert done.status_code == 200 and "Jira is connected" in done.text
    assert tenant_of(world).installed_by == ADMIN
    assert account_of(world, ADMIN).display_name == "Ada Admin"


def test_pages_are_hardened_and_the_browser_cookie_is_httponly_and_lax(world: World) -> None:
    install(world)
    url = connect_url(world)
    with Browser(ALICE_ACCOUNT) as browser:
        start = browser.client.get(url, follow_redirects=False)
        assert start.status_code == 302 and urlsplit_path(start.headers["location"]).endswith("/authorize")
        cookie = start.headers["set-cookie"]
        assert "jirabot_browser=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
        assert "Path=/jira/oauth" in cookie and "Secure" not in cookie  # the test bot is served over http
        page = browser.open(url)
        done = browser.confirm(page)
        failure = browser.open(f"{world.bot.url}/jira/oauth/callback?state=unknown&code=x")
    for response in (page, done, failure):
        policy = response.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "script-src" not in policy
        assert "form-action 'self'" in policy
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-store"
    assert "jirabot_browser=" in page.headers["set-cookie"]  # the confirmation page sets it too
    health = httpx.get(f"{world.bot.url}/healthz", timeout=15)
    assert health.headers["x-content-type-options"] == "nosniff"


def urlsplit_path(url: str) -> str:
    return httpx.URL(url).path


def test_a_forwarded_jira_page_cannot_be_finished_in_another_browser(world: World) -> None:
    """Alice opens her link, then sends Jira's authorization page on to Bob, who allows access."""
    install(world)
    url = connect_url(world)
    with Browser(ALICE_ACCOUNT) as alice:
        forwarded = str(alice.client.get(url, follow_redirects=False).headers["location"])
        with Browser(BOB_ACCOUNT) as bob:
            page = bob.open(forwarded)
        assert page.status_code == 403 and "started in another browser" in page.text
        assert "run `/jira connect` in Slack yourself" in page.text
        assert confirmation_form(page) is None
        assert account_of(world, ALICE) is None
        assert len(code_grants(world)) == 1  # Bob's code was never exchanged: only the admin's was
        # Alice's own flow is untouched: she can still finish it in her browser.
        done = alice.confirm(alice.open(url))
    assert done.status_code == 200 and account_of(world, ALICE).display_name == "Alice Anders"


def test_a_link_opened_in_a_second_browser_is_refused(world: World) -> None:
    install(world)
    url = connect_url(world)
    with Browser(ALICE_ACCOUNT) as alice:
        assert alice.client.get(url, follow_redirects=False).status_code == 302
    with Browser(BOB_ACCOUNT) as bob:
        page = bob.open(url)
    assert page.status_code == 403 and "started in another browser" in page.text
    assert account_of(world, ALICE) is None and code_grants(world) and len(code_grants(world)) == 1


def test_a_forwarded_link_shows_whose_slack_account_and_cancel_links_nothing(world: World) -> None:
    """Alice sends her unopened link to Bob: his page says it would link Alice to his Jira account."""
    install(world)
    url = connect_url(world)
    with Browser(BOB_ACCOUNT) as bob:
        page = bob.open(url)
        assert "the Slack user <strong>Alice Anders (@alice)</strong>" in page.text
        assert "Bob Builder (bob@acme.test)" in page.text
        assert "someone sent you this link, choose Cancel" in page.text
        cancelled = bob.cancel(page)
        assert cancelled.status_code == 200 and "Nothing was connected" in cancelled.text
        again = bob.confirm(page)  # the same form, after Cancel
    assert again.status_code == 400 and "already confirmed or cancelled" in again.text
    assert account_of(world, ALICE) is None and account_of(world, BOB) is None
    dm = world.slack.wait_for(lambda: dms_to(world, ALICE))
    assert "cancelled in the browser" in dm[-1]["text"]


def test_the_confirmation_needs_its_form_token_and_its_own_browser(cloud: World) -> None:
    install(cloud)
    with Browser(ALICE_ACCOUNT) as alice:
        page = alice.open(connect_url(cloud))
        form = confirmation_form(page)
        assert form is not None
        action = f"{cloud.bot.url}/jira/oauth/callback"
        no_token = alice.client.post(action, data={})
        wrong_token = alice.client.post(action, data={"confirmation": "not-the-token"})
        with Browser(ALICE_ACCOUNT) as other:
            other_browser = other.client.post(action, data=form.fields)
            forged_cookie = httpx.post(
                action, data=form.fields, cookies={"jirabot_browser": "x" * 43}, timeout=15
            )
        as_json = alice.client.post(action, json=form.fields)
        assert account_of(cloud, ALICE) is None
        done = alice.confirm(page)
    assert no_token.status_code == 403 and wrong_token.status_code == 403
    assert other_browser.status_code == 403 and "another browser" in other_browser.text
    assert forged_cookie.status_code == 403 and as_json.status_code == 403
    assert done.status_code == 200 and account_of(cloud, ALICE) is not None


def test_a_confirmation_expires_with_its_state(cloud: World) -> None:
    install(cloud)
    with Browser(ALICE_ACCOUNT) as alice:
        page = alice.open(connect_url(cloud))
        cloud.bot.clock.advance(11 * 60)
        late = alice.confirm(page)
    assert late.status_code == 400 and "expired" in late.text
    assert account_of(cloud, ALICE) is None
    hygiene = cloud.bot.run(cloud.bot.components.services["hygiene"].run())
    assert hygiene.oauth_confirmations >= 1


def test_one_jira_account_per_slack_user_per_workspace(world: World) -> None:
    install(world)
    assert link_user(world, ALICE, ALICE_ACCOUNT).status_code == 200
    with Browser(ALICE_ACCOUNT) as browser:  # Bob's link, authorized with Alice's Jira account
        page = browser.open(connect_url(world, BOB))
    assert page.status_code == 409 and "already linked to another Slack user" in page.text
    assert confirmation_form(page) is None
    assert account_of(world, BOB) is None
    assert account_of(world, ALICE).display_name == "Alice Anders"  # Alice keeps her link
    dm = world.slack.wait_for(lambda: dms_to(world, BOB))
    assert "already linked to another Slack user" in dm[-1]["text"]
    # Relinking one's own account stays possible.
    assert link_user(world, ALICE, ALICE_ACCOUNT).status_code == 200


def test_the_account_rule_holds_when_two_confirmations_race(cloud: World) -> None:
    install(cloud)
    with Browser(ALICE_ACCOUNT) as alice, Browser(ALICE_ACCOUNT) as bobs_browser:
        alice_page = alice.open(connect_url(cloud, ALICE))
        bob_page = bobs_browser.open(connect_url(cloud, BOB))  # both see a confirmation page
        assert confirmation_form(alice_page) and confirmation_form(bob_page)
        assert alice.confirm(alice_page).status_code == 200
        refused = bobs_browser.confirm(bob_page)
    assert refused.status_code == 409 and "already linked to another Slack user" in refused.text
    assert account_of(cloud, BOB) is None and account_of(cloud, ALICE).jira_account_id == ALICE_ACCOUNT


def test_the_provider_error_is_escaped_and_bounded_everywhere(cloud: World) -> None:
    install(cloud)
    url = connect_url(cloud)
    with Browser(ALICE_ACCOUNT) as alice:
        authorize = alice.client.get(url, follow_redirects=False).headers["location"]
        state = httpx.URL(authorize).params["state"]
        page = alice.client.get(
            f"{cloud.bot.url}/jira/oauth/callback",
            params={
                "state": state,
                "error": "server_error\nlevel=error <https://evil.test|Re-authorize>" + "x" * 500,
                "error_description": "<script>alert(1)</script>\r\nforged=1" + "y" * 1000,
            },
        )
    assert page.status_code == 400
    assert "<script>" not in page.text and "&lt;script&gt;" in page.text
    assert "y" * 250 not in page.text
    dm = cloud.slack.wait_for(lambda: dms_to(cloud, ALICE))[-1]["text"]
    assert "<" not in dm and "evil" in dm and "\n" not in dm and "x" * 100 not in dm
    assert "alert" not in dm  # the description stays out of Slack
    assert account_of(cloud, ALICE) is None


def test_a_link_checker_s_head_request_neither_claims_nor_uses_anything(cloud: World) -> None:
    install(cloud)
    url = connect_url(cloud)
    assert httpx.head(url, timeout=15).status_code == 200
    assert httpx.head(f"{cloud.bot.url}/jira/oauth/callback?state=x&code=y", timeout=15).status_code == 200
    with Browser(ALICE_ACCOUNT) as alice:
        done = alice.confirm(alice.open(url))
    assert done.status_code == 200 and account_of(cloud, ALICE) is not None
