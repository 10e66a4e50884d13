"""The Atlassian emulator, exercised over real HTTP: it must reject what Atlassian and Jira reject."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.emulators import atlassian_specs
from tests.emulators.atlassian import AtlassianEmulator, pkce_challenge
from tests.emulators.atlassian_specs import adf_errors, issue_update_errors, schema_errors
from tests.emulators.live import LiveServer

CLIENT_ID, CLIENT_SECRET = "cloud-client", "cloud-secret"
REDIRECT = "https://bot.example/oauth/atlassian/callback"
DC_CLIENT, DC_SECRET = "dc-client", "dc-secret"
DC_REDIRECT = "https://bot.example/oauth/jira-dc/callback"
CLOUD_SCOPES = "read:jira-work write:jira-work read:jira-user offline_access"
ADF = {
    "type": "doc",
    "version": 1,
    "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Checkout fails."}]}],
}


class _Switch:
    """One server for the whole module, answering with the current test's emulator (starting a
    server per test would cost more than the tests themselves)."""

    def __init__(self) -> None:
        self.target: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        await self.target(scope, receive, send)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[_Switch, LiveServer]]:
    switch = _Switch()
    live = LiveServer(switch).start()
    yield switch, live
    live.stop()


@pytest.fixture
def emu(server: tuple[_Switch, LiveServer]) -> Iterator[AtlassianEmulator]:
    switch, live = server
    emulator = AtlassianEmulator()
    emulator.add_cloud_app(CLIENT_ID, CLIENT_SECRET, [REDIRECT])
    site = emulator.add_cloud_site("acme")
    emulator.add_datacenter("/jira")
    emulator.add_dc_app("/jira", DC_CLIENT, DC_SECRET, DC_REDIRECT)
    emulator.add_user("acc-ada", "Ada Lovelace", "ada@example.com", sites=["acme", "/jira"], name="ada")
    emulator.add_user("acc-bob", "Bob Builder", "bob@example.com", sites=["acme", "/jira"])
    emulator.add_user("acc-eve", "Eve Outsider", "eve@example.com", sites=[])
    emulator.default_project(site, "ENG")
    emulator.default_project(site, "OPS", "Operations", creatable_by={"acc-bob"})
    emulator.default_project("/jira", "DCP", "Data Center Project")
    emulator.logged_in = "acc-ada"
    emulator.base_url = live.url
    switch.target = emulator.app
    yield emulator
    assert not emulator.internal_errors, emulator.internal_errors[0]


@pytest.fixture
def http(emu: AtlassianEmulator) -> Iterator[httpx.Client]:
    assert emu.base_url is not None
    with httpx.Client(base_url=emu.base_url, timeout=5.0, follow_redirects=False) as client:
        yield client


def _conforms(schema: str, instance: Any, emu: AtlassianEmulator) -> None:
    """The emulator's own answers must fit the published OpenAPI schemas (where the spec is present)."""
    errors = schema_errors(schema, instance)
    assert errors is None or errors == [], errors
    assert (errors is not None) == emu.spec_validation


def _authorize(http: httpx.Client, **overrides: str | None) -> httpx.Response:
    params: dict[str, str | None] = {
        "audience": "api.atlassian.com",
        "client_id": CLIENT_ID,
        "scope": CLOUD_SCOPES,
        "redirect_uri": REDIRECT,
        "state": "st-123",
        "response_type": "code",
        "prompt": "consent",
    }
    params.update(overrides)
    return http.get("/authorize", params={k: v for k, v in params.items() if v is not None})


def _query(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def _cloud_login(http: httpx.Client, scope: str = CLOUD_SCOPES) -> dict[str, Any]:
    redirect = _authorize(http, scope=scope)
    assert redirect.status_code == 302, redirect.text
    code = _query(redirect.headers["location"])["code"]
    token = http.post(
        "/oauth/token",
        json={
            "grant_type": "authorization_code",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "code": code,
            "redirect_uri": REDIRECT,
        },
    )
    assert token.status_code == 200, token.text
    return token.json()


def _refresh(http: httpx.Client, refresh_token: str) -> httpx.Response:
    return http.post(
        "/oauth/token",
        json={
            "grant_type": "refresh_token",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "refresh_token": refresh_token,
        },
    )


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _api(emu: AtlassianEmulator, site: str = "acme") -> str:
    return f"/ex/jira/{emu.cloud_site(site).cloud_id}/rest/api/3"


# ------------------------------------------------------------------------------------ Cloud OAuth


def test_cloud_3lo_round_trip(emu: AtlassianEmulator, http: httpx.Client) -> None:
    redirect = _authorize(http)
    assert redirect.status_code == 302
    location = redirect.headers["location"]
    assert location.startswith(REDIRECT + "?")
    params = _query(location)
    assert params["state"] == "st-123" and params["code"]

    token = http.post(
        "/oauth/token",
        json={
            "grant_type": "authorization_code",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "code": params["code"],
            "redirect_uri": REDIRECT,
        },
    ).json()
    assert token["token_type"] == "Bearer" and token["expires_in"] == 3600
    assert set(token["scope"].split()) == set(CLOUD_SCOPES.split())
    assert token["refresh_token"] and token["access_token"]

    resources = http.get("/oauth/token/accessible-resources", headers=_bearer(token["access_token"]))
    assert resources.status_code == 200
    [site] = resources.json()
    assert site["id"] == emu.cloud_site("acme").cloud_id
    assert site["url"] == "https://acme.atlassian.net" and site["name"] == "acme"
    assert "read:jira-work" in site["scopes"] and site["avatarUrl"]

    me = http.get(f"/ex/jira/{site['id']}/rest/api/3/myself", headers=_bearer(token["access_token"]))
    assert me.status_code == 200
    body = me.json()
    assert body["accountId"] == "acc-ada" and body["accountType"] == "atlassian"
    assert body["emailAddress"] == "ada@example.com" and body["displayName"] == "Ada Lovelace"
    assert body["active"] is True and body["timeZone"] == "UTC" and body["self"].startswith(emu.base_url)
    _conforms("User", body, emu)

    # The code is single-use; a token without offline_access gets no refresh token.
    again = http.post(
        "/oauth/token",
        json={
            "grant_type": "authorization_code",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "code": params["code"],
            "redirect_uri": REDIRECT,
        },
    )
    assert again.status_code == 403 and again.json()["error"] == "invalid_grant"
    assert "refresh_token" not in _cloud_login(http, scope="read:jira-work read:jira-user")


def test_authorize_validates_strictly(emu: AtlassianEmulator, http: httpx.Client) -> None:
    bad: list[dict[str, Any]] = [
        {"redirect_uri": REDIRECT + "/other"},
        {"audience": "api.example.com"},
        {"client_id": "nobody"},
        {"response_type": "token"},
        {"state": None},
        {"scope": "read:jira-work bogus:scope"},
        {"scope": None},
    ]
    for overrides in bad:
        response = _authorize(http, **overrides)
        assert response.status_code == 400, overrides
        assert "location" not in response.headers
        assert response.headers["content-type"].startswith("text/html")

    emu.logged_in = None
    assert _authorize(http).status_code == 200  # the login page, no redirect
    # A cookie picks the browser's user.
    by_cookie = http.get(
        "/authorize",
        params={
            "audience": "api.atlassian.com",
            "client_id": CLIENT_ID,
            "scope": CLOUD_SCOPES,
            "redirect_uri": REDIRECT,
            "state": "s",
            "response_type": "code",
        },
        headers={"Cookie": "atlassian_account=acc-bob"},
    )
    assert by_cookie.status_code == 302

    emu.logged_in = "acc-ada"
    emu.deny_consent = True
    denied = _query(_authorize(http).headers["location"])
    assert denied["error"] == "access_denied" and denied["state"] == "st-123" and denied["error_description"]


def test_cloud_token_endpoint_rejects(emu: AtlassianEmulator, http: httpx.Client) -> None:
    code = _query(_authorize(http).headers["location"])["code"]
    base = {
        "grant_type": "authorization_code",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "code": code,
        "redirect_uri": REDIRECT,
    }
    form = http.post("/oauth/token", data=base)
    assert form.status_code == 415
    basic = http.post(
        "/oauth/token",
        json={k: v for k, v in base.items() if k not in {"client_id", "client_secret"}},
        auth=(CLIENT_ID, CLIENT_SECRET),
    )
    assert basic.status_code == 401
    wrong_secret = http.post("/oauth/token", json={**base, "client_secret": "nope"})
    assert wrong_secret.status_code == 401 and wrong_secret.json()["error"] == "access_denied"
    wrong_redirect = http.post("/oauth/token", json={**base, "redirect_uri": REDIRECT + "x"})
    assert wrong_redirect.status_code == 403 and wrong_redirect.json()["error"] == "invalid_grant"
    assert http.post("/oauth/token", json={**base, "grant_type": "password"}).status_code == 400

    emu.advance(601)  # codes live 10 minutes
    expired = http.post("/oauth/token", json=base)
    assert expired.status_code == 403 and expired.json()["error"] == "invalid_grant"
    assert [g.status for g in emu.token_grants] == [415, 401, 401, 403, 400, 403]


def test_refresh_rotation_and_reuse_leeway(emu: AtlassianEmulator, http: httpx.Client) -> None:
    first = _cloud_login(http)
    second = _refresh(http, first["refresh_token"])
    assert second.status_code == 200
    rotated = second.json()
    assert rotated["refresh_token"] != first["refresh_token"]
    assert rotated["access_token"] != first["access_token"] and rotated["token_type"] == "Bearer"

    emu.advance(300)  # within the 10-minute reuse leeway the old one still works
    assert _refresh(http, first["refresh_token"]).status_code == 200
    emu.advance(301)
    reused = _refresh(http, first["refresh_token"])
    assert reused.status_code == 403
    assert reused.json() == {
        "error": "invalid_grant",
        "error_description": "Unknown or invalid refresh token.",
    }
    assert _refresh(http, "never-issued").status_code == 403

    latest = _refresh(http, rotated["refresh_token"])
    assert latest.status_code == 200
    assert emu.token_refreshes == 3

    emu.advance(91 * 86400)  # 90 days of inactivity expire refresh tokens
    assert _refresh(http, latest.json()["refresh_token"]).status_code == 403


def test_access_tokens_expire_and_revoke(emu: AtlassianEmulator, http: httpx.Client) -> None:
    token = _cloud_login(http)
    myself = f"{_api(emu)}/myself"
    assert http.get(myself, headers=_bearer(token["access_token"])).status_code == 200

    bad = http.get(myself, headers=_bearer("garbage"))
    assert bad.status_code == 401 and bad.json() == {"code": 401, "message": "Unauthorized"}
    assert http.get(myself).status_code == 401
    unknown_site = http.get(
        "/ex/jira/00000000-0000-0000-0000-000000000000/rest/api/3/myself",
        headers=_bearer(token["access_token"]),
    )
    assert unknown_site.status_code == 404

    emu.advance(3601)
    assert http.get(myself, headers=_bearer(token["access_token"])).status_code == 401
    fresh = _refresh(http, token["refresh_token"]).json()
    assert http.get(myself, headers=_bearer(fresh["access_token"])).status_code == 200

    emu.revoke("acc-ada")
    assert http.get(myself, headers=_bearer(fresh["access_token"])).status_code == 401
    assert _refresh(http, fresh["refresh_token"]).json()["error"] == "invalid_grant"

    # A token whose scopes do not cover the operation is refused by the gateway.
    narrow = _cloud_login(http, scope="read:jira-work")
    refused = http.get(myself, headers=_bearer(narrow["access_token"]))
    assert refused.status_code == 401 and "scope" in refused.json()["message"]

    # Losing access to the site loses the API too.
    emu.remove_site_access("acc-ada", "acme")
    assert http.get(f"{_api(emu)}/project/search", headers=_bearer(narrow["access_token"])).status_code == 401


# ------------------------------------------------------------------------------------ Data Center


def _dc_authorize(http: httpx.Client, challenge: str, **overrides: str | None) -> httpx.Response:
    params: dict[str, str | None] = {
        "client_id": DC_CLIENT,
        "redirect_uri": DC_REDIRECT,
        "response_type": "code",
        "scope": "WRITE",
        "state": "dc-state",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    return http.get("/jira/rest/oauth2/latest/authorize", params={k: v for k, v in params.items() if v})


def test_dc_pkce_round_trip(emu: AtlassianEmulator, http: httpx.Client) -> None:
    verifier = secrets.token_urlsafe(48)
    challenge = pkce_challenge(verifier)
    assert _dc_authorize(http, challenge, code_challenge_method="plain").status_code == 400
    assert _dc_authorize(http, challenge, code_challenge_method=None).status_code == 400
    assert _dc_authorize(http, "", code_challenge=None).status_code == 400
    assert _dc_authorize(http, challenge, scope="write:jira-work").status_code == 400

    redirect = _dc_authorize(http, challenge)
    assert redirect.status_code == 302
    params = _query(redirect.headers["location"])
    assert params["state"] == "dc-state"
    token_url = "/jira/rest/oauth2/latest/token"
    form = {
        "grant_type": "authorization_code",
        "client_id": DC_CLIENT,
        "client_secret": DC_SECRET,
        "code": params["code"],
        "redirect_uri": DC_REDIRECT,
        "code_verifier": secrets.token_urlsafe(48),
    }
    wrong = http.post(token_url, data=form)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    assert http.post(token_url, json={**form, "code_verifier": verifier}).status_code == 400  # JSON refused
    no_secret = http.post(token_url, data={**form, "client_secret": "x", "code_verifier": verifier})
    assert no_secret.status_code == 401

    ok = http.post(token_url, data={**form, "code_verifier": verifier})
    assert ok.status_code == 200, ok.text
    token = ok.json()
    assert token["token_type"] == "bearer" and token["expires_in"] == 3600 and token["scope"] == "WRITE"

    me = http.get("/jira/rest/api/2/myself", headers=_bearer(token["access_token"]))
    assert me.status_code == 200
    assert {k: me.json()[k] for k in ("name", "displayName", "emailAddress", "active")} == {
        "name": "ada",
        "displayName": "Ada Lovelace",
        "emailAddress": "ada@example.com",
        "active": True,
    }
    assert me.json()["key"].startswith("JIRAUSER") and me.json()["timeZone"] == "UTC"
    # A DC token is no good on Cloud, nor a Cloud token on DC.
    assert http.get(f"{_api(emu)}/myself", headers=_bearer(token["access_token"])).status_code == 401

    refresh = {
        "grant_type": "refresh_token",
        "client_id": DC_CLIENT,
        "client_secret": DC_SECRET,
        "refresh_token": token["refresh_token"],
    }
    no_redirect = http.post(token_url, data=refresh)
    assert no_redirect.status_code == 400 and no_redirect.json()["error"] == "invalid_request"
    renewed = http.post(token_url, data={**refresh, "redirect_uri": DC_REDIRECT})
    assert renewed.status_code == 200
    assert renewed.json()["refresh_token"] != token["refresh_token"]
    stale = http.post(token_url, data={**refresh, "redirect_uri": DC_REDIRECT})  # rotated: dead at once
    assert stale.status_code == 400 and stale.json()["error"] == "invalid_grant"
    assert emu.token_refreshes == 1

    emu.deny_consent = True
    denied = _query(_dc_authorize(http, challenge).headers["location"])
    assert denied["error"] == "access_denied" and denied["state"] == "dc-state"


# ------------------------------------------------------------------------------------ Jira Cloud REST


def _cloud_token(emu: AtlassianEmulator, account: str = "acc-ada") -> dict[str, str]:
    return _bearer(emu.mint_cloud_tokens(CLIENT_ID, account)["access_token"])


def test_project_search_and_createmeta_shapes(emu: AtlassianEmulator, http: httpx.Client) -> None:
    auth = _cloud_token(emu)
    api = _api(emu)
    page = http.get(f"{api}/project/search", headers=auth).json()
    assert [p["key"] for p in page["values"]] == ["ENG", "OPS"] and page["isLast"] is True
    _conforms("PageBeanProject", page, emu)
    creatable = http.get(f"{api}/project/search", params={"action": "create"}, headers=auth).json()
    assert [p["key"] for p in creatable["values"]] == ["ENG"]
    paged = http.get(f"{api}/project/search", params={"maxResults": 1, "query": ""}, headers=auth).json()
    assert paged["total"] == 2 and paged["isLast"] is False and "startAt=1" in paged["nextPage"]
    assert http.get(f"{api}/project/search", params={"query": "oper"}, headers=auth).json()["total"] == 1

    types = http.get(f"{api}/issue/createmeta/ENG/issuetypes", headers=auth).json()
    assert [t["name"] for t in types["issueTypes"]] == ["Task", "Bug"] and types["total"] == 2
    _conforms("PageOfCreateMetaIssueTypes", types, emu)
    task_id = types["issueTypes"][0]["id"]
    fields = http.get(f"{api}/issue/createmeta/ENG/issuetypes/{task_id}", headers=auth).json()
    _conforms("PageOfCreateMetaIssueTypeWithField", fields, emu)
    by_id = {f["fieldId"]: f for f in fields["fields"]}
    assert set(by_id) == {"project", "issuetype", "summary", "description", "reporter"}
    assert by_id["summary"]["required"] is True and by_id["summary"]["schema"] == {
        "type": "string",
        "system": "summary",
    }
    assert by_id["reporter"]["hasDefaultValue"] is True
    assert by_id["project"]["allowedValues"][0]["key"] == "ENG"
    too_many = http.get(f"{api}/issue/createmeta/ENG/issuetypes", params={"maxResults": 201}, headers=auth)
    assert too_many.status_code == 400
    assert http.get(f"{api}/issue/createmeta/NOPE/issuetypes", headers=auth).status_code == 404


def test_v3_create_issue_validation(emu: AtlassianEmulator, http: httpx.Client) -> None:
    severity = emu.add_custom_field("acme", "ENG", "option", name="Severity", options=["S1", "S2"])
    auth = _cloud_token(emu)
    api = _api(emu)
    task = emu.project("acme", "ENG").issue_type({"name": "Task"})
    assert task is not None
    sev_id = severity["fieldId"]
    good = {
        "project": {"key": "ENG"},
        "issuetype": {"id": task.id},
        "summary": "Checkout is broken",
        "description": ADF,
        sev_id: {"value": "S1"},
    }
    created = http.post(f"{api}/issue", json={"fields": good}, headers=auth)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["key"] == "ENG-1" and body["self"].endswith(f"/rest/api/3/issue/{body['id']}")
    _conforms("CreatedIssue", body, emu)
    [stored] = emu.issues("acme")
    assert stored.fields["description"] == ADF and stored.fields[sev_id] == {"value": "S1"}
    fetched = http.get(f"{api}/issue/ENG-1", headers=auth).json()
    assert fetched["fields"][sev_id]["value"] == "S1" and fetched["fields"]["summary"] == "Checkout is broken"
    assert fetched["fields"]["reporter"]["accountId"] == "acc-ada"
    by_id = http.post(
        f"{api}/issue",
        json={"fields": {**good, sev_id: {"id": severity["allowedValues"][1]["id"]}}},
        headers=auth,
    )
    assert by_id.json()["key"] == "ENG-2"

    def rejected(fields: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        response = http.post(f"{api}/issue", json={"fields": fields}, headers=kwargs.get("headers", auth))
        assert response.status_code == 400, response.text
        error = response.json()
        _conforms("ErrorCollection", error, emu)
        assert set(error) == {"errorMessages", "errors"}
        return error

    bad_adf = {**ADF, "content": [{"type": "paragraph", "content": [{"type": "text", "text": ""}]}]}
    assert rejected({**good, "description": bad_adf})["errorMessages"] == ["INVALID_INPUT"]
    assert rejected({**good, "description": {"type": "doc", "content": []}})["errorMessages"] == [
        "INVALID_INPUT"
    ]
    as_string = rejected({**good, "description": "plain text"})
    assert "Atlassian Document" in as_string["errors"]["description"]
    missing = rejected({k: v for k, v in good.items() if k != sev_id})
    assert missing["errors"] == {sev_id: "Severity is required."}
    assert "summary" in rejected({**good, "summary": ""})["errors"]
    assert "newline" in rejected({**good, "summary": "two\nlines"})["errors"]["summary"]
    assert "255" in rejected({**good, "summary": "x" * 256})["errors"]["summary"]
    assert "not valid" in rejected({**good, sev_id: {"value": "S9"}})["errors"][sev_id]
    assert "appropriate screen" in rejected({**good, "customfield_99999": "x"})["errors"]["customfield_99999"]
    assert rejected({**good, "project": {"key": "NOPE"}})["errors"]["project"]
    assert rejected({**good, "issuetype": {"id": "999"}})["errors"]["issuetype"]
    no_permission = rejected({**good, "project": {"key": "OPS"}})
    assert no_permission["errors"] == {
        "project": "You do not have permission to create issues in this project."
    }
    shape = http.post(f"{api}/issue", json={"fields": good, "update": {"labels": "oops"}}, headers=auth)
    assert shape.status_code == 400 and shape.json()["errorMessages"]
    not_json = http.post(f"{api}/issue", content=b"fields=1", headers={**auth, "Content-Type": "text/plain"})
    assert not_json.status_code == 415
    assert len(emu.issues()) == 2


def test_every_custom_field_kind(emu: AtlassianEmulator, http: httpx.Client) -> None:
    kinds = ["number", "string", "date", "multiselect", "labels", "user", "cascading", "any", "textarea"]
    ids = {kind: emu.add_custom_field("acme", "ENG", kind, name=f"{kind} field")["fieldId"] for kind in kinds}
    meta = {m["fieldId"]: m for m in emu.project("acme", "ENG").issue_types[0].fields}
    cascade = meta[ids["cascading"]]["allowedValues"][0]
    valid = {
        ids["number"]: 3.5,
        ids["string"]: "one line",
        ids["date"]: "2025-01-31",
        ids["multiselect"]: [{"value": "Low"}, {"id": meta[ids["multiselect"]]["allowedValues"][2]["id"]}],
        ids["labels"]: ["ops", "urgent"],
        ids["user"]: {"accountId": "acc-bob"},
        ids["cascading"]: {"value": cascade["value"], "child": {"value": cascade["children"][0]["value"]}},
        ids["any"]: {"whatever": True},
        ids["textarea"]: ADF,
    }
    auth = _cloud_token(emu)
    api = _api(emu)
    base: dict[str, Any] = {"project": {"key": "ENG"}, "issuetype": {"name": "Task"}, "summary": "Kinds"}
    assert http.post(f"{api}/issue", json={"fields": {**base, **valid}}, headers=auth).status_code == 201
    invalid = {
        "number": "3",
        "string": {"text": "x"},
        "date": "31/01/2025",
        "multiselect": {"value": "Low"},
        "labels": ["has space"],
        "user": {"accountId": "acc-nobody"},
        "cascading": {"value": cascade["value"], "child": {"value": "Nope"}},
        "textarea": "plain",
    }
    for kind, value in invalid.items():
        response = http.post(
            f"{api}/issue", json={"fields": {**base, **valid, ids[kind]: value}}, headers=auth
        )
        assert response.status_code == 400, kind
        assert ids[kind] in response.json()["errors"], (kind, response.json())
    # Users without access to the site are not valid values either.
    outsider = {**base, **valid, ids["user"]: {"accountId": "acc-eve"}}
    assert http.post(f"{api}/issue", json={"fields": outsider}, headers=auth).status_code == 400
    users = http.get(f"{api}/user/search", params={"query": "bob"}, headers=auth).json()
    assert [u["accountId"] for u in users] == ["acc-bob"]


def test_v2_datacenter_rest(emu: AtlassianEmulator, http: httpx.Client) -> None:
    token = emu.mint_dc_tokens("/jira", DC_CLIENT, "acc-ada")
    auth = _bearer(token["access_token"])
    api = "/jira/rest/api/2"
    projects = http.get(f"{api}/project", headers=auth).json()
    assert [p["key"] for p in projects] == ["DCP"]
    assert http.get(f"{api}/project/search", headers=auth).status_code == 404
    types = http.get(f"{api}/issue/createmeta/DCP/issuetypes", headers=auth).json()
    assert types["isLast"] is True and [t["name"] for t in types["values"]] == ["Task", "Bug"]
    fields = http.get(
        f"{api}/issue/createmeta/DCP/issuetypes/{types['values'][0]['id']}", headers=auth
    ).json()
    assert {f["fieldId"] for f in fields["values"]} >= {"summary", "description", "project", "issuetype"}
    assert "fields" not in fields and "issueTypes" not in types

    base: dict[str, Any] = {"project": {"key": "DCP"}, "issuetype": {"name": "Bug"}, "summary": "Broken"}
    adf = http.post(f"{api}/issue", json={"fields": {**base, "description": ADF}}, headers=auth)
    assert adf.status_code == 400 and adf.json()["errors"] == {
        "description": "Operation value must be a string"
    }
    created = http.post(
        f"{api}/issue", json={"fields": {**base, "description": "h1. Wiki *markup*"}}, headers=auth
    )
    assert created.status_code == 201 and created.json()["key"] == "DCP-1"
    assert created.json()["self"] == f"{emu.base_url}/jira/rest/api/2/issue/{created.json()['id']}"
    assert http.get(f"{api}/issue/DCP-1", headers=auth).json()["fields"]["description"] == "h1. Wiki *markup*"
    assert emu.issues("/jira")[0].api_version == "2"
    missing = http.post(f"{api}/issue", json={"fields": {**base, "summary": ""}}, headers=auth)
    assert missing.status_code == 400 and "summary" in missing.json()["errors"]

    read_only = _bearer(emu.mint_dc_tokens("/jira", DC_CLIENT, "acc-ada", scopes=["READ"])["access_token"])
    assert http.get(f"{api}/myself", headers=read_only).status_code == 200
    assert http.post(f"{api}/issue", json={"fields": base}, headers=read_only).status_code == 403
    assert http.get(f"{api}/myself", headers=_bearer("nope")).status_code == 401
    perms = http.get(
        f"{api}/mypermissions", params={"projectKey": "DCP", "permissions": "CREATE_ISSUES"}, headers=auth
    ).json()
    assert perms["permissions"]["CREATE_ISSUES"]["havePermission"] is True


# ------------------------------------------------------------------------------------ knobs, records


def test_fail_next_and_latency(emu: AtlassianEmulator, http: httpx.Client) -> None:
    auth = _cloud_token(emu)
    myself = f"{_api(emu)}/myself"
    emu.fail_next(
        r"/myself$", 429, body={"errorMessages": ["Rate limited"]}, headers={"Retry-After": "1"}, times=2
    )
    for _ in range(2):
        limited = http.get(myself, headers=auth)
        assert limited.status_code == 429 and limited.headers["retry-after"] == "1"
    assert http.get(myself, headers=auth).status_code == 200
    emu.fail_next(r"/oauth/token$", 503, method="POST")
    assert http.post("/oauth/token", json={}).status_code == 503
    assert http.post("/oauth/token", json={}).status_code == 400

    emu.set_latency(0.2, r"/myself$")
    started = time.monotonic()
    assert http.get(myself, headers=auth).status_code == 200
    assert time.monotonic() - started >= 0.2
    emu.set_latency(0, r"/myself$")

    recorded = emu.requests_to(r"/myself$", method="GET")
    assert [r.status for r in recorded] == [429, 429, 200, 200]
    assert recorded[0].headers["authorization"].startswith("Bearer ")
    assert emu.requests_to(r"/oauth/token$")[-1].json == {}
    assert emu.wait_for(lambda: len(emu.requests_to("/myself")) == 4)
    with pytest.raises(TimeoutError):
        emu.wait_for(lambda: False, timeout=0.05)


def test_report_accounts(emu: AtlassianEmulator, http: httpx.Client) -> None:
    auth = _cloud_token(emu)
    stamp = "2024-01-01T00:00:00Z"
    batch = [{"accountId": f"acc-{i}", "updatedAt": stamp} for i in range(91)]
    assert http.post("/app/report-accounts/", json={"accounts": batch}, headers=auth).status_code == 400
    assert http.post("/app/report-accounts/", json={"accounts": []}, headers=auth).status_code == 400
    assert http.post("/app/report-accounts/", json={"accounts": batch[:90]}).status_code == 401
    nothing = http.post("/app/report-accounts/", json={"accounts": batch[:90]}, headers=auth)
    assert nothing.status_code == 204 and nothing.headers["cycle-period"] == "604800"

    emu.close_account("acc-1")
    emu.mark_account_updated("acc-2")
    answer = http.post("/app/report-accounts/", json={"accounts": batch[:3]}, headers=auth)
    assert answer.status_code == 200
    assert answer.json() == {
        "accounts": [{"accountId": "acc-1", "status": "closed"}, {"accountId": "acc-2", "status": "updated"}]
    }
    assert [len(b) for b in emu.report_batches] == [90, 3]


# ------------------------------------------------------------------------------------ without specs


def test_structural_fallbacks_without_specs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(atlassian_specs, "schema_errors", lambda name, instance: None)
    monkeypatch.setattr(atlassian_specs, "_adf_validator", lambda: None)
    assert adf_errors(ADF) == []
    assert adf_errors({"type": "doc", "version": 1, "content": [{"type": "text", "text": ""}]})
    assert adf_errors("text")
    assert adf_errors({"type": "doc", "version": 2, "content": []})
    assert issue_update_errors({"fields": {"summary": "x"}}) == []
    assert issue_update_errors({"fields": []})
    assert issue_update_errors({"update": {"labels": [{"bogus": 1}]}})


def test_serve_helper_and_dc_browser_checks() -> None:
    from tests.emulators.atlassian import serve

    emulator, live = serve()
    try:
        assert emulator.base_url == live.url
        emulator.add_datacenter("/jira2")
        emulator.add_dc_app("/jira2", DC_CLIENT, DC_SECRET, DC_REDIRECT)
        emulator.add_user("acc-x", "X", "x@example.com", sites=[])
        challenge = pkce_challenge(secrets.token_urlsafe(48))
        with httpx.Client(base_url=live.url, follow_redirects=False) as client:
            params = {
                "client_id": DC_CLIENT,
                "redirect_uri": DC_REDIRECT,
                "response_type": "code",
                "scope": "READ",
                "state": "s",
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
            url = "/jira2/rest/oauth2/latest/authorize"
            assert client.get(url, params=params).status_code == 200  # nobody logged in: login page
            emulator.logged_in = "acc-x"
            assert client.get(url, params=params).status_code == 403  # no access to this Jira
            emulator.grant_site_access("acc-x", "/jira2")
            assert client.get(url, params=params).status_code == 302
            assert client.get("/jira/rest/api/2/myself").status_code == 404  # no such context path
    finally:
        emulator.stop()
