"""The emulator's issue picker and remote links, driven through the bot's own JiraClient on Cloud v3
and Data Center v2, and raw where the client would never send the bad request."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from bot.jira.errors import JiraNotFound
from bot.jira.picker import PickedIssue
from tests.emulators.atlassian import AtlassianEmulator
from tests.emulators.atlassian_specs import schema_errors, specs_available
from tests.unit.test_atlassian_emulator import (  # noqa: F401  (pytest fixtures)
    _Switch,
    emu,
    http,
    server,
)
from tests.unit.test_issue_actions_emulator import _auth, _cloud, _dc, _run

PERMALINK = "https://acme.slack.com/archives/C0GENERAL/p1700000000000100"


@pytest.fixture
def seeded(emu: AtlassianEmulator) -> Iterator[AtlassianEmulator]:  # noqa: F811
    for site, project in (("acme", "ENG"), ("/jira", "DCP")):
        emu.seed_issue(site, project, "Printer jams on page two", reporter="acc-ada")
        emu.advance(10)
        emu.seed_issue(site, project, "Coffee machine leaks", reporter="acc-ada")
        emu.advance(10)
        emu.seed_issue(site, project, "The printer is out of toner", reporter="acc-bob")
        emu.advance(10)
    yield emu


@pytest.mark.parametrize("cloud", [True, False])
def test_an_empty_query_gives_the_history_newest_first(seeded: AtlassianEmulator, cloud: bool) -> None:
    api, project = (_cloud, "ENG") if cloud else (_dc, "DCP")
    picks = _run(api(seeded), cloud, lambda j: j.pick_issues(""))
    assert picks.history == (PickedIssue(f"{project}-2", "Coffee machine leaks"),
                             PickedIssue(f"{project}-1", "Printer jams on page two"))
    assert picks.current == ()
    seeded.note_viewed("acc-ada", f"{project}-3")
    picks = _run(api(seeded), cloud, lambda j: j.pick_issues(""))
    assert [p.key for p in picks.history] == [f"{project}-3", f"{project}-2", f"{project}-1"]


@pytest.mark.parametrize("cloud", [True, False])
def test_text_matches_history_then_the_current_search(seeded: AtlassianEmulator, cloud: bool) -> None:
    api, project = (_cloud, "ENG") if cloud else (_dc, "DCP")
    picks = _run(api(seeded), cloud, lambda j: j.pick_issues("print"))
    assert [p.key for p in picks.history] == [f"{project}-1"]
    assert [p.key for p in picks.current] == [f"{project}-3"]
    assert [p.key for p in picks.all] == [f"{project}-1", f"{project}-3"]
    hidden = f"{project}-3"
    seeded.deny_permission("acc-ada", "browse", hidden)
    assert hidden not in [p.key for p in _run(api(seeded), cloud, lambda j: j.pick_issues("print")).all]


def test_the_cloud_answer_has_jiras_shape(seeded: AtlassianEmulator, http: httpx.Client) -> None:  # noqa: F811
    api, token = _cloud(seeded)
    raw = http.get(f"{api}/issue/picker", params={"query": "print"}, headers=_auth(token)).json()
    assert [(s["label"], s["id"]) for s in raw["sections"]] == [("History Search", "hs"),
                                                                ("Current Search", "cs")]
    issue = raw["sections"][0]["issues"][0]
    assert issue["summary"] == "<b>Print</b>er jams on page two" and issue["summaryText"] == (
        "Printer jams on page two")
    assert raw["sections"][0]["sub"] == "Showing 1 of 1 matching issues"
    if specs_available():
        assert schema_errors("IssuePickerSuggestions", raw) == []
    empty = http.get(f"{api}/issue/picker", params={"query": "zebra"}, headers=_auth(token)).json()
    assert [s["msg"] for s in empty["sections"]] == ["No matching issues found"] * 2


@pytest.mark.parametrize("cloud", [True, False])
def test_a_remote_link_with_the_same_global_id_is_updated_not_added(seeded: AtlassianEmulator,
                                                                    cloud: bool) -> None:
    api, key = (_cloud, "ENG-1") if cloud else (_dc, "DCP-1")
    first = _run(api(seeded), cloud, lambda j: j.add_remote_link(key, global_id=PERMALINK, url=PERMALINK,
                                                                 title="Slack: #general — one"))
    again = _run(api(seeded), cloud, lambda j: j.add_remote_link(key, global_id=PERMALINK, url=PERMALINK,
                                                                 title="Slack: #general — two"))
    assert first.created and not again.created and first.id == again.id
    (link,) = seeded.remote_links(key)
    assert link["globalId"] == PERMALINK and link["object"]["title"] == "Slack: #general — two"
    assert link["application"] == {"type": "com.slack", "name": "Slack"}
    other = PERMALINK + "?thread_ts=1700000000.000100"
    _run(api(seeded), cloud, lambda j: j.add_remote_link(key, global_id=other, url=other, title="t"))
    assert len(seeded.remote_links(key)) == 2


def test_remote_links_are_listed_and_checked(seeded: AtlassianEmulator, http: httpx.Client) -> None:  # noqa: F811
    api, token = _cloud(seeded)
    headers = _auth(token)
    missing_title = {"globalId": "x", "object": {"url": PERMALINK}}
    refused = http.post(f"{api}/issue/ENG-1/remotelink", json=missing_title, headers=headers)
    assert refused.status_code == 400
    if not specs_available():
        assert refused.json()["errors"] == {"title": "'title' is required."}
    too_long = {"globalId": "g" * 256, "object": {"url": PERMALINK, "title": "t"}}
    assert http.post(f"{api}/issue/ENG-1/remotelink", json=too_long, headers=headers).status_code == 400
    made = http.post(f"{api}/issue/ENG-1/remotelink", headers=headers,
                     json={"globalId": "g", "object": {"url": PERMALINK, "title": "t"}})
    assert made.status_code == 201 and made.json()["self"].endswith(f"/remotelink/{made.json()['id']}")
    listed = http.get(f"{api}/issue/ENG-1/remotelink", headers=headers).json()
    assert [link["globalId"] for link in listed] == ["g"]
    if specs_available():
        assert schema_errors("RemoteIssueLink", listed[0]) == []
        assert schema_errors("RemoteIssueLinkIdentifies", made.json()) == []
    assert http.get(f"{api}/issue/ENG-1/remotelink", params={"globalId": "g"}, headers=headers).json()["id"]
    assert http.put(f"{api}/issue/ENG-1/remotelink", json={}, headers=headers).status_code == 405
    seeded.deny_permission("acc-ada", "browse", "ENG-1")
    with pytest.raises(JiraNotFound):
        _run((api, token), True,
             lambda j: j.add_remote_link("ENG-1", global_id="g", url=PERMALINK, title="t"))


def test_a_read_only_token_may_pick_but_not_link(seeded: AtlassianEmulator, http: httpx.Client) -> None:  # noqa: F811
    site = seeded.cloud_site("acme")
    token = seeded.mint_cloud_tokens("cloud-client", "acc-ada", scopes=["read:jira-work"])["access_token"]
    api = f"{seeded.base_url}/ex/jira/{site.cloud_id}/rest/api/3"
    assert http.get(f"{api}/issue/picker", params={"query": ""}, headers=_auth(token)).status_code == 200
    denied = http.post(f"{api}/issue/ENG-1/remotelink", headers=_auth(token),
                       json={"object": {"url": PERMALINK, "title": "t"}})
    assert denied.status_code == 401
