"""The issue card as data: what it shows, what it escapes, and how its actions name their issue."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from bot.jira.client import BearerAuth, JiraClient
from bot.jira.errors import JiraNotFound
from bot.jira.issues import CARD_FIELDS, IssueSnapshot, JiraPerson, StatusCategory, parse_jira_time
from bot.slack import ids
from bot.slack.views.issue_card import (
    build_card_message,
    build_issue_card,
    build_restricted_card,
    card_issue_key,
    issue_url,
)

SITE = "https://acme.atlassian.net"

CLOUD_ISSUE = {
    "id": "10042",
    "key": "ENG-42",
    "fields": {
        "summary": "Checkout fails for <b>bold</b> & friends",
        "status": {"name": "In Progress", "statusCategory": {"key": "indeterminate", "name": "In Progress"}},
        "issuetype": {"name": "Bug"},
        "priority": {"name": "High"},
        "assignee": {"accountId": "5b10ac8d82e05b22cc7d4a11", "displayName": "Alice Anders"},
        "reporter": {"accountId": "5b10ac8d82e05b22cc7d4ada", "displayName": "Ada <Admin>"},
        "updated": "2026-11-29T10:15:00.000+0100",
        "project": {"key": "ENG", "name": "Engineering"},
        "watches": {"watchCount": 2, "isWatching": False},
    },
}

DC_ISSUE = {
    "id": "20001",
    "key": "OPS-7",
    "fields": {
        "summary": "Disk full",
        "status": {"name": "Done", "statusCategory": {"key": "done"}},
        "issuetype": {"name": "Task"},
        "priority": None,
        "assignee": None,
        "reporter": {"name": "bob", "key": "JIRAUSER10100", "displayName": "Bob Builder"},
        "updated": "2026-11-28T08:00:00.000+0000",
        "security": {"id": "10000", "name": "Staff only"},
        "project": {"key": "OPS", "name": "Operations"},
        "watches": {"watchCount": 1, "isWatching": True},
    },
}


def snapshot(data: dict = CLOUD_ISSUE) -> IssueSnapshot:
    return IssueSnapshot.parse(data)


def texts(blocks: list[dict]) -> str:
    return json.dumps(blocks)


def test_a_cloud_issue_is_read_into_a_snapshot() -> None:
    issue = snapshot()
    assert issue.key == "ENG-42"
    assert issue.status == "In Progress"
    assert issue.status_category is StatusCategory.IN_PROGRESS
    assert issue.assignee == JiraPerson("5b10ac8d82e05b22cc7d4a11", "Alice Anders")
    assert issue.updated == datetime(2026, 11, 29, 9, 15, tzinfo=UTC)
    assert issue.project_name == "Engineering"
    assert (issue.watch_count, issue.watching, issue.restricted) == (2, False, False)


def test_a_data_center_issue_names_people_by_login_and_carries_its_security_level() -> None:
    issue = snapshot(DC_ISSUE)
    assert issue.reporter == JiraPerson("bob", "Bob Builder")
    assert issue.assignee is None and issue.priority is None
    assert issue.restricted and issue.security_level == "Staff only"
    assert issue.status_category is StatusCategory.DONE


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-11-29T10:15:00.000+0100", datetime(2026, 11, 29, 9, 15, tzinfo=UTC)),
        ("2026-11-29T09:15:00Z", datetime(2026, 11, 29, 9, 15, tzinfo=UTC)),
        ("2026-11-29T09:15:00+00:00", datetime(2026, 11, 29, 9, 15, tzinfo=UTC)),
        ("yesterday", None),
        (None, None),
        ("2026-11-29T09:15:00", None),
    ],
)
def test_jira_times_are_read_with_their_offset(raw: object, expected: datetime | None) -> None:
    assert parse_jira_time(raw) == expected


def test_an_unknown_status_category_still_renders() -> None:
    data = json.loads(json.dumps(CLOUD_ISSUE))
    data["fields"]["status"]["statusCategory"] = {"key": "purple"}
    assert snapshot(data).status_category is StatusCategory.UNKNOWN
    assert ":black_circle:" in texts(build_issue_card(snapshot(data), site_url=SITE))


def test_the_card_links_the_key_to_the_site_and_shows_the_facts() -> None:
    blocks = build_issue_card(snapshot(), site_url=SITE + "/")
    assert blocks[0]["text"]["text"].startswith(f"*<{SITE}/browse/ENG-42|ENG-42>* ")
    facts = [f["text"] for f in blocks[1]["fields"]]
    assert facts == [
        "*Status*\n:large_blue_circle: In Progress",
        "*Type*\nBug",
        "*Priority*\nHigh",
        "*Assignee*\nAlice Anders",
    ]
    context = [e["text"] for e in blocks[2]["elements"]]
    assert context[0] == "Reporter: Ada &lt;Admin&gt;"
    assert context[1].startswith("Updated <!date^1795943700^")
    assert context[2] == ":eyes: 2 watching"


def test_every_string_jira_controls_is_escaped() -> None:
    data = json.loads(json.dumps(CLOUD_ISSUE))
    data["fields"]["summary"] = "<https://evil.example|Re-authorize>"
    data["fields"]["assignee"]["displayName"] = "<!channel>"
    data["fields"]["status"]["name"] = "<@U0ADMIN01>"
    rendered = texts(build_issue_card(snapshot(data), site_url=SITE))
    assert "<https://evil" not in rendered and "<!channel>" not in rendered and "<@U0ADMIN01>" not in rendered
    assert "&lt;https://evil.example|Re-authorize&gt;" in rendered


def test_the_actions_carry_the_issue_key_and_the_transition_select_finds_it_in_its_block() -> None:
    blocks = build_issue_card(snapshot(), site_url=SITE)
    bar = blocks[-1]
    assert bar["type"] == "actions"
    labels = [e.get("text", e.get("placeholder", {})).get("text") for e in bar["elements"]]
    assert labels == ["Assign to me", "Transition", "Comment", "Watch"]
    for element in bar["elements"]:
        action = {**element, "block_id": bar["block_id"]}
        if element["type"] == "button":
            action["value"] = element["value"]
        assert card_issue_key(action) == "ENG-42"
    transition = bar["elements"][1]
    assert transition["type"] == "external_select" and transition["min_query_length"] == 0
    action_ids = [e["action_id"] for e in bar["elements"]]
    assert len(set(action_ids)) == len(action_ids)


def test_card_issue_key_refuses_a_select_from_another_block() -> None:
    assert card_issue_key({"action_id": ids.ACTION_CARD_TRANSITION, "block_id": "something_else"}) is None
    assert card_issue_key({"action_id": ids.ACTION_CARD_TRANSITION, "block_id": "jira_card_actions:"}) is None
    assert card_issue_key({"action_id": ids.ACTION_CARD_ASSIGN}) is None


def test_a_private_card_can_be_shared_and_says_the_viewer_watches() -> None:
    blocks = build_issue_card(snapshot(DC_ISSUE), site_url="https://jira.acme.test/jira", share=True,
                              viewer_watching=True)
    assert blocks[-1]["elements"][-1]["text"]["text"] == "Share in channel"
    context = [e["text"] for e in blocks[2]["elements"]]
    assert ":lock: Staff only" in context and ":eyes: You are watching" in context
    facts = [f["text"] for f in blocks[1]["fields"]]
    assert facts[2:] == ["*Priority*\nNone", "*Assignee*\nUnassigned"]


def test_a_card_without_actions_and_the_restricted_card() -> None:
    bare = build_issue_card(snapshot(), site_url=SITE, with_actions=False)
    assert all(b["type"] != "actions" for b in bare)
    (only,) = build_restricted_card("OPS-7", site_url="https://jira.acme.test/jira")
    assert only["text"]["text"] == (
        "*<https://jira.acme.test/jira/browse/OPS-7|OPS-7>* · :lock: Restricted issue"
    )


def test_the_card_message_has_a_plain_text_fallback() -> None:
    message = build_card_message(snapshot(), site_url=SITE)
    assert message["text"] == "ENG-42: Checkout fails for <b>bold</b> & friends [In Progress]"
    assert message["blocks"][0]["type"] == "section"
    assert issue_url(SITE, "ENG-42") == f"{SITE}/browse/ENG-42"


async def test_the_client_reads_an_issue_with_the_card_fields_only() -> None:
    seen: list[httpx.Request] = []

    def jira(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/issue/ENG-42"):
            return httpx.Response(200, json=CLOUD_ISSUE)
        return httpx.Response(404, json={"errorMessages": ["Issue does not exist or you do not have "
                                                           "permission to see it."], "errors": {}})

    async with httpx.AsyncClient(transport=httpx.MockTransport(jira)) as http:
        client = JiraClient(http, api_base="https://api.example/ex/jira/c1/rest/api/3", cloud=True,
                            auth=BearerAuth("token"))
        issue = await client.issue("ENG-42")
        with pytest.raises(JiraNotFound):
            await client.issue("ENG-404")
    assert issue == snapshot()
    assert seen[0].url.params["fields"] == ",".join(CARD_FIELDS)
    assert seen[0].headers["Authorization"] == "Bearer token"
