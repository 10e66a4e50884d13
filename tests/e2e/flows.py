"""End-to-end building blocks: a Jira world on both emulators, and the flows people go through.

The browser step is simulated (tests.e2e.browser): it follows the link in Slack through the bot's start
page and Jira's authorize page back to the bot, and confirms on the bot's confirmation page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from bot.slack.views.create_issue import CREATING_TEXT
from tests.e2e.browser import Browser, confirmation_form
from tests.emulators.atlassian import AtlassianEmulator
from tests.emulators.slack import SlackEmulator
from tests.emulators.slack_driver import SlackDriver, SlackResult
from tests.harness import CLOUD_CLIENT_ID, CLOUD_CLIENT_SECRET, OUTCOME_TIMEOUT, BotHarness, wait_for
from tests.tls import CONTEXT as TLS

ADMIN = "U0ADMIN01"
ALICE = "U0ALICE01"
BOB = "U0BOB0001"
ADMIN_ACCOUNT = "5b10ac8d82e05b22cc7d4ada"
ALICE_ACCOUNT = "5b10ac8d82e05b22cc7d4a11"
BOB_ACCOUNT = "5b10ac8d82e05b22cc7d4b0b"
OUTSIDER_ACCOUNT = "5b10ac8d82e05b22cc7d4000"
CLOUD_SITE_URL = "https://acme.atlassian.net"
DC_CONTEXT = "/jira"
DC_CLIENT_ID = "dc-client-id-0123"
DC_CLIENT_SECRET = "dc-client-secret-value-4567"


@dataclass
class World:
    bot: BotHarness
    slack: SlackEmulator
    atlassian: AtlassianEmulator
    driver: SlackDriver
    cloud: bool
    site: Any

    @property
    def site_url(self) -> str:
        return CLOUD_SITE_URL if self.cloud else f"{self.atlassian.base_url}{DC_CONTEXT}"

    @property
    def site_host(self) -> str:
        return self.site_url.split("://", 1)[1]


def _slack_users(slack: SlackEmulator) -> None:
    slack.add_user(ADMIN, "ada", real_name="Ada Admin", email="ada@acme.test", admin=True)
    slack.add_user(ALICE, "alice", real_name="Alice Anders", email="alice@acme.test")
    slack.add_user(BOB, "bob", real_name="Bob Builder", email="bob@acme.test")


def cloud_world(
    bot: BotHarness, slack: SlackEmulator, atlassian: AtlassianEmulator, driver: SlackDriver
) -> World:
    _slack_users(slack)
    atlassian.add_cloud_app(CLOUD_CLIENT_ID, CLOUD_CLIENT_SECRET, [bot.redirect_uri])
    site = atlassian.add_cloud_site("acme")
    other = atlassian.add_cloud_site("elsewhere")
    atlassian.add_user(ADMIN_ACCOUNT, "Ada Admin", "ada@acme.test", sites=[site])
    atlassian.add_user(ALICE_ACCOUNT, "Alice Anders", "alice@acme.test", sites=[site])
    atlassian.add_user(BOB_ACCOUNT, "Bob Builder", "bob@acme.test", sites=[site])
    atlassian.add_user(OUTSIDER_ACCOUNT, "Olga Outsider", "olga@else.test", sites=[other])
    atlassian.default_project(site, "ENG", "Engineering")
    return World(bot, slack, atlassian, driver, cloud=True, site=site)


def datacenter_world(
    bot: BotHarness, slack: SlackEmulator, atlassian: AtlassianEmulator, driver: SlackDriver
) -> World:
    _slack_users(slack)
    dc = atlassian.add_datacenter(DC_CONTEXT)
    atlassian.add_dc_app(DC_CONTEXT, DC_CLIENT_ID, DC_CLIENT_SECRET, bot.redirect_uri)
    atlassian.add_user(ADMIN_ACCOUNT, "Ada Admin", "ada@acme.test", sites=[DC_CONTEXT], name="ada")
    atlassian.add_user(ALICE_ACCOUNT, "Alice Anders", "alice@acme.test", sites=[DC_CONTEXT], name="alice")
    atlassian.add_user(BOB_ACCOUNT, "Bob Builder", "bob@acme.test", sites=[DC_CONTEXT], name="bob")
    atlassian.default_project(DC_CONTEXT, "ENG", "Engineering")
    return World(bot, slack, atlassian, driver, cloud=False, site=dc)


# Reading what the bot said ----------------------------------------------------------------------


def responses_to(world: World, result: SlackResult, timeout: float = OUTCOME_TIMEOUT) -> list[dict[str, Any]]:
    """What the bot posted to the command's response_url (it answers after acking)."""
    posts = world.slack.wait_for(lambda: world.slack.responses(result.response_url), timeout=timeout)
    return [post.body for post in posts]


def last_response(world: World, result: SlackResult) -> dict[str, Any]:
    return responses_to(world, result)[-1]


def last_ephemeral(world: World, user: str, containing: str = "") -> dict[str, Any]:
    """The newest ephemeral message `user` sees (with its channel and ts, so it can be clicked)."""

    def newest() -> dict[str, Any] | None:
        found = [e for e in world.slack.ephemerals if e.get("user") == user and containing in e["text"]]
        return found[-1] if found else None

    return world.slack.wait_for(newest)


def click(world: World, user: str, message: dict[str, Any], action_id: str) -> dict[str, Any]:
    """Clicks a button of an ephemeral message (confirming its dialog); returns the message after."""
    world.driver.click_button(user, {"action_id": action_id}, message=message)
    return world.slack.wait_for(
        lambda: (
            (m := world.slack.ephemeral(message["channel"], message["ts"]))
            and m["text"] != message["text"]
            and m
        )
    )


def find_elements(blocks: list[dict[str, Any]], action_id: str) -> list[dict[str, Any]]:
    found = []
    for block in blocks:
        elements = list(block.get("elements") or [])
        if block.get("accessory"):
            elements.append(block["accessory"])
        if block.get("element"):
            elements.append(block["element"])
        found += [e for e in elements if isinstance(e, dict) and e.get("action_id") == action_id]
    return found


def button_url(message: dict[str, Any], action_id: str = "jira_connect_link") -> str:
    buttons = find_elements(message.get("blocks") or [], action_id)
    assert buttons, f"no {action_id} button in {message}"
    return str(buttons[0]["url"])


def jira_authorize_url(url: str) -> str:
    """Where the link in Slack leads: the bot's start page redirects once, to Jira's authorize page."""
    assert urlsplit(url).path == "/jira/oauth/start", url
    response = httpx.get(url, follow_redirects=False, timeout=15, verify=TLS)
    assert response.status_code == 302, response.text
    return response.headers["location"]


def authorize(url: str, account_id: str | None, *, confirm: bool = True) -> httpx.Response:
    """The browser: opens the link from Slack as `account_id`, follows back to the bot and, when the bot
    asks for a confirmation, confirms (unless `confirm` is False: then the confirmation page)."""
    with Browser(account_id) as browser:
        page = browser.open(url)
        if confirm and confirmation_form(page) is not None:
            return browser.confirm(page)
        return page


# Flows ------------------------------------------------------------------------------------------


def install_cloud(
    world: World, admin: str = ADMIN, account: str = ADMIN_ACCOUNT, site_url: str = CLOUD_SITE_URL
) -> httpx.Response:
    result = world.driver.slash_command(admin, f"admin install {site_url}")
    assert result.status_code == 200
    return authorize(button_url(last_response(world, result)), account)


def open_install_modal(world: World, admin: str = ADMIN, text: str = "admin install") -> dict[str, Any]:
    result = world.driver.slash_command(admin, text)
    assert result.status_code == 200
    call = world.slack.wait_for_call("views.open")
    return world.slack.view(call.response["view"]["id"])


def install_datacenter(world: World, admin: str = ADMIN, account: str = ADMIN_ACCOUNT) -> httpx.Response:
    modal = open_install_modal(world, admin)
    submitted = world.driver.submit_view(
        admin,
        modal,
        {
            "install_kind": "datacenter",
            "install_url": world.site_url,
            "install_client_id": DC_CLIENT_ID,
            "install_client_secret": DC_CLIENT_SECRET,
        },
    )
    assert submitted.response_action == "update", submitted.text
    view = submitted.json()["view"]
    return authorize(button_url(view), account)


def install(world: World) -> httpx.Response:
    response = install_cloud(world) if world.cloud else install_datacenter(world)
    assert response.status_code == 200, response.text
    return response


def connect(world: World, user: str) -> SlackResult:
    return world.driver.slash_command(user, "connect")


def link_user(world: World, user: str = ALICE, account: str = ALICE_ACCOUNT) -> httpx.Response:
    result = connect(world, user)
    return authorize(button_url(last_response(world, result)), account)


def jira_issues(world: World, count: int = 1) -> list[Any]:
    """The issues Jira holds once there are `count` of them. A submission may be acked with
    "Creating…" and reach Jira after the ack, so a test never reads them right after submitting."""
    def enough() -> list[Any] | None:
        found = world.atlassian.issues()
        return found if len(found) >= count else None

    return wait_for(enough, message=f"{count} issue(s) created in Jira")


def settled_view(world: World, answer: SlackResult) -> dict[str, Any]:
    """The modal once a submission is over: the view of the ack, or, when the ack showed "Creating…"
    (Jira slower than the ack budget), the view that replaced it."""
    view = answer.json()["view"]
    if CREATING_TEXT not in json.dumps(view, ensure_ascii=False):
        return dict(view)

    def replaced() -> dict[str, Any] | None:
        current = world.slack.view(str(answer.view_id))
        return None if CREATING_TEXT in json.dumps(current, ensure_ascii=False) else current

    return wait_for(replaced, message=f"view {answer.view_id} past the creating view")


def dms_to(world: World, user: str) -> list[dict[str, Any]]:
    return [c.params for c in world.slack.calls_to("chat.postMessage") if c.params.get("channel") == user]
