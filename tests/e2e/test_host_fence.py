"""JIRABOT_JIRA_HOSTS end to end: an install pointed at a host the fence refuses posts nothing there, and
every refused or unreachable host gets the same page, after about the same time."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from bot.services.authorizations import DC_FAILURE_FLOOR_SECONDS
from tests.e2e.browser import Browser
from tests.e2e.flows import (
    ADMIN,
    ADMIN_ACCOUNT,
    DC_CLIENT_ID,
    DC_CLIENT_SECRET,
    World,
    button_url,
    datacenter_world,
    dms_to,
    open_install_modal,
)
from tests.emulators.live import free_port
from tests.emulators.slack_driver import SlackDriver
from tests.harness import SIGNING_SECRET, BotHarness

MESSAGE = (
    "the host is not allowed for Jira Data Center (JIRABOT_JIRA_HOSTS), could not be reached, or did not "
    "accept it. Nothing was connected."
)


def _world(jira_hosts: str, database_url, slack, atlassian, clock) -> Iterator[World]:
    bot = BotHarness.start(
        database_url=database_url,
        slack_api_url=slack.api_url,
        atlassian_url=atlassian.base_url,
        clock=clock,
        jirabot_jira_hosts=jira_hosts,
    )
    try:
        with SlackDriver(bot.url, SIGNING_SECRET, slack) as driver:
            yield datacenter_world(bot, slack, atlassian, driver)
    finally:
        bot.stop()


@pytest.fixture
def fenced(database_url, slack, atlassian, clock) -> Iterator[World]:
    """Only 192.0.2.10 (a documentation address) may be Jira: the emulators on 127.0.0.1 may not."""
    yield from _world("192.0.2.10", database_url, slack, atlassian, clock)


@pytest.fixture
def default_fence(database_url, slack, atlassian, clock) -> Iterator[World]:
    """JIRABOT_JIRA_HOSTS unset, single-workspace mode: anything but link-local and metadata."""
    yield from _world("", database_url, slack, atlassian, clock)


def start_install(world: World, base_url: str) -> str:
    before = len(world.slack.calls)
    assert world.driver.slash_command(ADMIN, "admin install").status_code == 200
    opened = world.slack.wait_for_call("views.open", after=before)
    modal = world.slack.view(opened.response["view"]["id"])
    submitted = world.driver.submit_view(
        ADMIN,
        modal,
        {
            "install_kind": "datacenter",
            "install_url": base_url,
            "install_client_id": DC_CLIENT_ID,
            "install_client_secret": DC_CLIENT_SECRET,
        },
    )
    assert submitted.response_action == "update", submitted.text
    return button_url(submitted.json()["view"])


def forged_callback(world: World, start_url: str) -> tuple[httpx.Response, float]:
    """A malicious admin: opens the start link, and instead of going to "Jira" (which may be anything),
    comes back to the callback at once with a made-up code. Returns the page and how long it took."""
    with Browser(ADMIN_ACCOUNT) as admin:
        location = admin.client.get(start_url, follow_redirects=False).headers["location"]
        state = httpx.URL(location).params["state"]
        began = time.monotonic()
        page = admin.client.get(
            f"{world.bot.url}/jira/oauth/callback", params={"state": state, "code": "abc"}
        )
    return page, time.monotonic() - began


def test_the_install_form_says_which_hosts_are_allowed(fenced: World) -> None:
    modal = open_install_modal(fenced)
    assert "Allowed Data Center hosts (JIRABOT_JIRA_HOSTS): 192.0.2.10." in json.dumps(modal)


def test_a_fenced_host_receives_nothing_and_the_admin_gets_the_common_message(fenced: World) -> None:
    url = start_install(fenced, fenced.site_url)  # the Data Center emulator, on 127.0.0.1
    with Browser(ADMIN_ACCOUNT) as admin:
        began = time.monotonic()
        page = admin.open(url)  # the browser may reach Jira; the bot may not
        took = time.monotonic() - began
    assert page.status_code == 502 and MESSAGE in page.text
    assert took >= DC_FAILURE_FLOOR_SECONDS - 0.5
    assert fenced.atlassian.requests_to(r"/rest/oauth2/latest/token$") == []
    assert fenced.atlassian.requests_to(r"/rest/api/") == []
    assert fenced.bot.run(fenced.bot.storage.tenants.get(fenced.slack.team_id)) is None
    dm = fenced.slack.wait_for(lambda: dms_to(fenced, ADMIN))
    assert MESSAGE in dm[-1]["text"]


def test_metadata_and_unreachable_hosts_look_alike(default_fence: World, caplog) -> None:
    metadata_page, metadata_took = forged_callback(
        default_fence, start_install(default_fence, "http://169.254.169.254/jira")
    )
    closed = f"http://127.0.0.1:{free_port()}/jira"  # allowed by default, but nothing listens there
    closed_page, closed_took = forged_callback(default_fence, start_install(default_fence, closed))
    assert metadata_page.status_code == closed_page.status_code == 502
    assert MESSAGE in metadata_page.text and MESSAGE in closed_page.text
    assert metadata_page.text.replace("169.254.169.254", "HOST") == closed_page.text.replace(
        closed.removeprefix("http://").removesuffix("/jira"), "HOST"
    )
    assert DC_FAILURE_FLOOR_SECONDS - 0.5 <= metadata_took and DC_FAILURE_FLOOR_SECONDS - 0.5 <= closed_took
    assert abs(metadata_took - closed_took) < 1.5
    assert any(r.getMessage() == "jira.host.refused" and r.host == "169.254.169.254" for r in caplog.records)
    assert default_fence.bot.run(default_fence.bot.storage.tenants.get(default_fence.slack.team_id)) is None
