"""A real browser, headless Chromium driven by Selenium, from the link in Slack through Jira's consent
page to the bot's confirmation page: confirming links, and a forwarded link cancelled links nothing.

Uses Debian's `chromium` and `chromium-driver` (/usr/bin/chromium, /usr/bin/chromedriver). Without them
these tests are skipped, except under CI (CI=true), where they fail.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.flows import (
    ALICE,
    ALICE_ACCOUNT,
    BOB,
    BOB_ACCOUNT,
    World,
    button_url,
    cloud_world,
    connect,
    datacenter_world,
    dms_to,
    install,
    last_response,
)
from tests.specs import under_ci

CHROMIUM = Path(os.environ.get("JIRABOT_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("JIRABOT_CHROMEDRIVER", "/usr/bin/chromedriver"))
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
WAIT = 30.0


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[Any]:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        reason = (
            f"headless Chromium is not installed ({', '.join(missing)} missing: "
            "apt-get install chromium chromium-driver)"
        )
        if under_ci():
            pytest.fail(f"CI requires it: {reason}")
        pytest.skip(reason)
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    driver = webdriver.Chrome(
        options=options, service=webdriver.ChromeService(executable_path=str(CHROMEDRIVER))
    )
    driver.set_page_load_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(params=["cloud", "datacenter"])
def world(request, bot, slack, atlassian, driver) -> World:
    build = cloud_world if request.param == "cloud" else datacenter_world
    built = build(bot, slack, atlassian, driver)
    install(built)  # the admin's install, by the simulated browser
    atlassian.consent_screen = True  # from here on, Jira asks for consent with a real form
    return built


def wait_until(browser: Any, condition: Callable[[Any], Any], what: str) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, WAIT, poll_frequency=0.1).until(condition, message=f"waiting for {what}")


def signed_in_to_jira(browser: Any, world: World, account_id: str) -> None:
    """Signs the browser in to the Atlassian emulator (its session cookie)."""
    browser.get(f"{world.atlassian.base_url}/signed-in")
    browser.add_cookie({"name": "atlassian_account", "value": account_id, "path": "/"})


def page_text(browser: Any) -> str:
    from selenium.webdriver.common.by import By

    return str(browser.find_element(By.TAG_NAME, "body").text)


def press(browser: Any, text_starts: str) -> None:
    """Clicks the submit button whose text begins with `text_starts`, as a person would."""
    from selenium.webdriver.common.by import By

    buttons = [
        b
        for b in browser.find_elements(By.CSS_SELECTOR, "button[type=submit]")
        if b.text.startswith(text_starts)
    ]
    assert buttons, f"no button {text_starts!r} on {browser.current_url}: {page_text(browser)[:300]}"
    buttons[0].click()


def through_consent(browser: Any, world: World, url: str) -> None:
    """Opens the link from Slack and accepts on Jira's consent page; ends on the bot's page."""
    browser.get(url)
    wait_until(browser, lambda b: "requesting access" in b.title, "Jira's consent page")
    press(browser, "Allow" if not world.cloud else "Accept")
    wait_until(browser, lambda b: b.current_url.startswith(world.bot.url), "the bot's page")
    wait_until(browser, lambda b: "Jira for Slack" in b.title, "the bot's page to load")


def account_of(world: World, user: str) -> Any:
    return world.bot.run(world.bot.storage.accounts.get(world.slack.team_id, user))


def test_a_person_links_their_account_in_a_real_browser(world: World, chromium: Any) -> None:
    url = button_url(last_response(world, connect(world, ALICE)))
    signed_in_to_jira(chromium, world, ALICE_ACCOUNT)
    through_consent(chromium, world, url)
    text = page_text(chromium)
    assert chromium.title.startswith("Link this Jira account to Slack?")
    assert (
        "Alice Anders (@alice)" in text
        and "Alice Anders (alice@acme.test)" in text
        and world.site_host in text
    )
    assert account_of(world, ALICE) is None  # nothing before the confirmation
    press(chromium, "Confirm")
    wait_until(chromium, lambda b: b.title.startswith("Connected to Jira"), "the linked page")
    assert f"Connected as Alice Anders on {world.site_host}." in page_text(chromium)
    assert account_of(world, ALICE).display_name == "Alice Anders"
    dm = world.slack.wait_for(lambda: dms_to(world, ALICE), timeout=15)
    assert f"Connected as Alice Anders on {world.site_host}" in dm[-1]["text"]


def test_a_forwarded_link_is_cancelled_in_a_real_browser_and_links_nothing(
    world: World, chromium: Any
) -> None:
    """Alice sends her connect link to Bob; Bob's browser says it would link Alice to his Jira account."""
    url = button_url(last_response(world, connect(world, ALICE)))
    signed_in_to_jira(chromium, world, BOB_ACCOUNT)
    through_consent(chromium, world, url)
    text = page_text(chromium)
    assert "the Slack user Alice Anders (@alice)" in text and "Bob Builder (bob@acme.test)" in text
    press(chromium, "Cancel")
    wait_until(chromium, lambda b: b.title.startswith("Cancelled"), "the cancelled page")
    assert "Nothing was connected" in page_text(chromium)
    assert account_of(world, ALICE) is None and account_of(world, BOB) is None
    # Going back and confirming the same form afterwards links nothing either.
    chromium.back()
    wait_until(chromium, lambda b: "Jira for Slack" in b.title, "the page before")
    if any(
        b.text.startswith("Confirm") for b in chromium.find_elements("css selector", "button[type=submit]")
    ):
        press(chromium, "Confirm")
        wait_until(chromium, lambda b: "Already answered" in b.title, "the refusal")
    assert account_of(world, ALICE) is None and account_of(world, BOB) is None
