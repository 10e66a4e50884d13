"""The emulator's issue search, issue properties and request holds, over real HTTP: shaped as Jira
Cloud (validated against the OpenAPI spec where present) and Data Center answer, refusing what they
refuse."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.emulators.atlassian import AtlassianEmulator
from tests.emulators.atlassian_specs import schema_errors

CLIENT_ID, CLIENT_SECRET = "cloud-client", "cloud-secret"
DC_CLIENT = "dc-client"
MARKER = {"jirabot.submission": {"submission": "abc"}}


@pytest.fixture
def emu() -> Iterator[AtlassianEmulator]:
    emulator = AtlassianEmulator()
    emulator.add_cloud_app(CLIENT_ID, CLIENT_SECRET, ["https://bot.example/cb"])
    site = emulator.add_cloud_site("acme")
    emulator.add_datacenter("/jira")
    emulator.add_dc_app("/jira", DC_CLIENT, "dc-secret", "https://bot.example/dc")
    emulator.add_user("acc-ada", "Ada Lovelace", "ada@example.com", sites=["acme", "/jira"], name="ada")
    emulator.add_user("acc-bob", "Bob Builder", "bob@example.com", sites=["acme", "/jira"], name="bob")
    emulator.default_project(site, "ENG")
    emulator.default_project(site, "OPS", "Operations")
    emulator.default_project("/jira", "DCP", "Data Center Project")
    with emulator:
        yield emulator
    assert not emulator.internal_errors, emulator.internal_errors[0]


@pytest.fixture
def http(emu: AtlassianEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=str(emu.base_url), timeout=10.0) as client:
        yield client


def _cloud(emu: AtlassianEmulator, account: str = "acc-ada") -> dict[str, str]:
    return {"Authorization": f"Bearer {emu.mint_cloud_tokens(CLIENT_ID, account)['access_token']}"}


def _dc(emu: AtlassianEmulator, account: str = "acc-ada") -> dict[str, str]:
    return {"Authorization": f"Bearer {emu.mint_dc_tokens('/jira', DC_CLIENT, account)['access_token']}"}


def _api(emu: AtlassianEmulator) -> str:
    return f"/ex/jira/{emu.cloud_site('acme').cloud_id}/rest/api/3"


def _create(http: httpx.Client, url: str, auth: dict[str, str], project: str, summary: str,
            properties: list[dict[str, Any]] | None = None) -> httpx.Response:
    body: dict[str, Any] = {"fields": {"project": {"key": project}, "issuetype": {"name": "Task"},
                                       "summary": summary}}
    if properties is not None:
        body["properties"] = properties
    return http.post(f"{url}/issue", json=body, headers=auth)


def _conforms(schema: str, instance: Any) -> None:
    errors = schema_errors(schema, instance)
    assert errors is None or errors == [], errors


def test_cloud_create_keeps_properties_and_search_jql_finds_the_users_recent_issues(
        emu: AtlassianEmulator, http: httpx.Client) -> None:
    ada, bob, api = _cloud(emu), _cloud(emu, "acc-bob"), _api(emu)
    prop = [{"key": "jirabot.submission", "value": {"submission": "abc"}}]
    assert _create(http, api, ada, "ENG", "Old one").status_code == 201
    emu.advance(1800)  # half an hour: outside the window searched below
    assert _create(http, api, bob, "ENG", "Bob's").status_code == 201
    assert _create(http, api, ada, "OPS", "Other project").status_code == 201
    created = _create(http, api, ada, "ENG", "Marked", prop)
    assert created.status_code == 201, created.text
    assert emu.issue("ENG-3").properties == {"jirabot.submission": {"submission": "abc"}}

    jql = 'project = "ENG" AND reporter = currentUser() AND created >= -10m ORDER BY created DESC'
    found = http.post(f"{api}/search/jql", json={"jql": jql, "fields": ["summary"], "maxResults": 20},
                      headers=ada)
    assert found.status_code == 200, found.text
    body = found.json()
    _conforms("SearchAndReconcileResults", body)
    assert [(i["key"], i["fields"]["summary"]) for i in body["issues"]] == [("ENG-3", "Marked")]
    assert body["isLast"] is True
    by_get = http.get(f"{api}/search/jql", params={"jql": jql, "fields": "summary"}, headers=ada).json()
    assert [i["key"] for i in by_get["issues"]] == ["ENG-3"]
    everything = http.post(f"{api}/search/jql", json={"jql": "project = ENG ORDER BY created ASC",
                                                     "fields": ["summary"]}, headers=ada).json()
    assert [i["key"] for i in everything["issues"]] == ["ENG-1", "ENG-2", "ENG-3"]

    value = http.get(f"{api}/issue/ENG-3/properties/jirabot.submission", headers=ada)
    assert value.status_code == 200
    _conforms("EntityProperty", value.json())
    assert value.json() == {"key": "jirabot.submission", "value": {"submission": "abc"}}
    missing = http.get(f"{api}/issue/ENG-1/properties/jirabot.submission", headers=ada)
    assert missing.status_code == 404 and "does not exist" in missing.json()["errorMessages"][0]
    assert http.get(f"{api}/issue/ENG-404/properties/jirabot.submission", headers=ada).status_code == 404


def test_cloud_search_refuses_what_jira_refuses(emu: AtlassianEmulator, http: httpx.Client) -> None:
    ada, api = _cloud(emu), _api(emu)

    def refused(body: Any, status: int = 400) -> dict[str, Any]:
        response = http.post(f"{api}/search/jql", json=body, headers=ada)
        assert response.status_code == status, response.text
        return response.json()

    assert "search restriction" in refused({"jql": "ORDER BY created DESC"})["errorMessages"][0]
    assert "does not exist" in refused({"jql": "project = NOPE"})["errorMessages"][0]
    assert "does not exist" in refused({"jql": "nosuchfield = 1"})["errorMessages"][0]
    assert refused({"jql": "project = ENG AND"})["errorMessages"]
    assert refused({"jql": "created >= yesterday-ish"})["errorMessages"]
    if emu.spec_validation:  # the request schema says what a body may hold
        assert refused({"jql": "project = ENG", "unknownKey": 1})["errorMessages"]
    old = http.get(f"{api}/search", params={"jql": "project = ENG"}, headers=ada)
    assert old.status_code == 410  # Cloud removed the old search
    bad_property = _create(http, api, ada, "ENG", "x", [{"key": "", "value": 1}])
    assert bad_property.status_code == 400
    no_value = _create(http, api, ada, "ENG", "x", [{"key": "k"}])
    assert no_value.status_code == 400
    extra = _create(http, api, ada, "ENG", "x", [{"key": "k", "value": 1, "other": 2}])
    assert extra.status_code == 400  # EntityProperty has no other members
    assert emu.issues() == []


def test_datacenter_v2_search_and_properties(emu: AtlassianEmulator, http: httpx.Client) -> None:
    ada, bob, api = _dc(emu), _dc(emu, "acc-bob"), "/jira/rest/api/2"
    assert _create(http, api, bob, "DCP", "Bob's").status_code == 201
    created = _create(http, api, ada, "DCP", "Ada's", [{"key": "jirabot.submission", "value": {"s": 1}}])
    assert created.status_code == 201, created.text
    jql = "project = DCP AND reporter = currentUser() AND created >= -5m ORDER BY created DESC"
    found = http.get(f"{api}/search", params={"jql": jql, "fields": "summary", "maxResults": 20}, headers=ada)
    assert found.status_code == 200, found.text
    body = found.json()
    assert (body["startAt"], body["maxResults"], body["total"]) == (0, 20, 1)
    assert [(i["key"], i["fields"]["summary"]) for i in body["issues"]] == [("DCP-2", "Ada's")]
    value = http.get(f"{api}/issue/DCP-2/properties/jirabot.submission", headers=ada).json()
    assert value == {"key": "jirabot.submission", "value": {"s": 1}}
    assert http.get(f"{api}/search/jql", params={"jql": jql}, headers=ada).status_code == 404
    assert http.get(f"{api}/search", params={"jql": "project = DCP AND"}, headers=ada).status_code == 400


def test_a_held_request_is_handled_once_released_even_if_the_client_left(
        emu: AtlassianEmulator, http: httpx.Client) -> None:
    ada, api = _cloud(emu), _api(emu)
    hold = emu.holds.hold(r"/issue$", method="POST")
    answers: list[int] = []

    def client_that_gives_up() -> None:
        try:
            with httpx.Client(base_url=str(emu.base_url), timeout=0.5) as short:
                answers.append(_create(short, api, ada, "ENG", "Held").status_code)
        except httpx.TimeoutException:
            answers.append(0)

    thread = threading.Thread(target=client_that_gives_up)
    thread.start()
    assert hold.wait_arrived(10)
    thread.join(10)
    assert answers == [0] and emu.issues() == []  # the client left; Jira is still working on it
    hold.release()
    assert hold.wait_handled(10)
    assert [i.fields["summary"] for i in emu.issues()] == ["Held"]


def test_answer_after_handles_the_request_and_answers_otherwise(
        emu: AtlassianEmulator, http: httpx.Client) -> None:
    ada, api = _cloud(emu), _api(emu)
    emu.holds.answer_after(r"/issue$", 503, "Service Unavailable", headers={"Retry-After": "1"},
                           method="POST")
    response = _create(http, api, ada, "ENG", "Made anyway")
    assert response.status_code == 503 and response.headers["retry-after"] == "1"
    assert [i.key for i in emu.issues()] == ["ENG-1"]
    assert _create(http, api, ada, "ENG", "Next").status_code == 201  # only once
