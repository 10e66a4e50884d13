"""Jira-controlled text in Slack, end to end: a project named like a Slack link, and a Jira display name
holding a broadcast, reach Slack as text (escaped), never as a live link or mention."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.flows import (
    ADMIN,
    BOB,
    World,
    cloud_world,
    dms_to,
    find_elements,
    install,
    last_response,
    link_user,
)

EVIL_PROJECT = "<https://evil.example|Re-authorize>"
SHOWN_PROJECT = "&lt;https://evil.example|Re-authorize&gt;"
EVIL_NAME = "<!channel> Mallory"
EVIL_ACCOUNT = "5b10ac8d82e05b22cc7d4e11"


@pytest.fixture
def cloud(bot, slack, atlassian, driver) -> World:
    return cloud_world(bot, slack, atlassian, driver)


def mrkdwn_of(message: dict[str, Any]) -> str:
    texts = [str(message.get("text") or "")]

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if value.get("type") == "mrkdwn":
                texts.append(str(value.get("text")))
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(message.get("blocks"))
    return "\n".join(texts)


def test_a_project_named_like_a_link_is_not_a_link_in_admin_status(cloud: World) -> None:
    install(cloud)
    cloud.atlassian.add_project(cloud.site, "EVL", EVIL_PROJECT)
    cloud.driver.event({"type": "app_home_opened", "user": ADMIN, "channel": "D0ADMIN", "tab": "home"})
    home = cloud.slack.wait_for(
        lambda: (v := cloud.slack.home_views.get(ADMIN)) and "Workspace admin" in json.dumps(v) and v)
    block_id = next(b["block_id"] for b in home["blocks"]
                    if b.get("accessory", {}).get("action_id") == "jira_admin_default_project")
    assert find_elements(home["blocks"], "jira_admin_default_project")
    answer = cloud.driver.options(ADMIN, home, "jira_admin_default_project", block_id, "EVL")
    [chosen] = [o for o in answer["options"] if o["value"] == "EVL"]
    cloud.driver.select_option(ADMIN, home, "jira_admin_default_project", block_id, chosen)
    refreshed = cloud.slack.wait_for(
        lambda: (v := cloud.slack.home_views.get(ADMIN)) and "EVL" in json.dumps(v) and v)
    assert "<https://evil" not in mrkdwn_of(refreshed) and SHOWN_PROJECT in mrkdwn_of(refreshed)

    status = last_response(cloud, cloud.driver.slash_command(ADMIN, "admin status"))
    shown = mrkdwn_of(status)
    assert "<https://evil" not in shown
    assert f"Default project: {SHOWN_PROJECT} (EVL)" in shown


def test_a_display_name_with_a_broadcast_is_text_when_linking_and_in_status(cloud: World) -> None:
    install(cloud)
    cloud.atlassian.add_user(EVIL_ACCOUNT, EVIL_NAME, "mallory@acme.test", sites=[cloud.site])
    link_user(cloud, BOB, EVIL_ACCOUNT)
    connected = cloud.slack.wait_for(lambda: [m for m in dms_to(cloud, BOB) if "Connected as" in m["text"]])
    assert "<!channel>" not in connected[-1]["text"] and "&lt;!channel&gt; Mallory" in connected[-1]["text"]
    status = last_response(cloud, cloud.driver.slash_command(BOB, "status"))
    assert "<!channel>" not in mrkdwn_of(status) and "&lt;!channel&gt; Mallory" in mrkdwn_of(status)
