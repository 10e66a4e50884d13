"""The emulator's issue resources (card fields, transitions, assignee, watchers, comments, security
levels, permissions), driven through the bot's own JiraClient on Cloud v3 and Data Center v2, and raw
where the client would never send the bad request."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bot.jira.client import BearerAuth, JiraClient
from bot.jira.errors import JiraBadRequest, JiraForbidden, JiraNotFound
from bot.jira.http import RetryPolicy
from bot.jira.issues import StatusCategory, Visibility
from tests.emulators.atlassian import AtlassianEmulator
from tests.emulators.atlassian_issues import DONE, IN_PROGRESS, resolution_field
from tests.emulators.atlassian_specs import schema_errors
from tests.emulators.live import LiveServer
from tests.unit.test_atlassian_emulator import (  # noqa: F401  (pytest fixtures)
    ADF,
    CLIENT_ID,
    DC_CLIENT,
    _Switch,
    emu,
    http,
    server,
)


def _cloud(emulator: AtlassianEmulator, account: str = "acc-ada") -> tuple[str, str]:
    token = emulator.mint_cloud_tokens(CLIENT_ID, account)["access_token"]
    return f"{emulator.base_url}/ex/jira/{emulator.cloud_site('acme').cloud_id}/rest/api/3", token


def _dc(emulator: AtlassianEmulator, account: str = "acc-ada") -> tuple[str, str]:
    token = emulator.mint_dc_tokens("/jira", DC_CLIENT, account)["access_token"]
    return f"{emulator.base_url}/jira/rest/api/2", token


def _run(api_token: tuple[str, str], cloud: bool, work: Any) -> Any:
    api, token = api_token

    async def go() -> Any:
        async with httpx.AsyncClient() as client:
            jira = JiraClient(
                client,
                api_base=api,
                cloud=cloud,
                auth=BearerAuth(token),
                policy=RetryPolicy(max_attempts=1),
            )
            return await work(jira)

    return asyncio.run(go())


def _conforms(schema: str, instance: Any) -> None:
    errors = schema_errors(schema, instance)
    assert not errors, errors


@pytest.fixture
def seeded(emu: AtlassianEmulator) -> Iterator[AtlassianEmulator]:  # noqa: F811
    emu.seed_issue("acme", "ENG", "Checkout fails", reporter="acc-bob", priority="High")
    emu.seed_issue("/jira", "DCP", "Disk full", reporter="acc-bob")
    yield emu


def test_cloud_card_fields_and_the_fields_parameter(seeded: AtlassianEmulator, http: httpx.Client) -> None:  # noqa: F811
    api, token = _cloud(seeded)
    raw = http.get(
        f"{api}/issue/ENG-1", params={"fields": "summary,status,watches"}, headers=_auth(token)
    ).json()
    assert set(raw["fields"]) == {"summary", "status", "watches"}
    _conforms("IssueBean", raw)
    issue = _run((api, token), True, lambda j: j.issue("ENG-1"))
    assert issue.summary == "Checkout fails" and issue.status == "To Do"
    assert issue.status_category is StatusCategory.TODO and issue.priority == "High"
    assert issue.reporter is not None and issue.reporter.account_id == "acc-bob"
    assert issue.assignee is None and not issue.restricted and issue.watching is False


def test_dc_card_names_people_by_login(seeded: AtlassianEmulator) -> None:
    seeded.seed_issue("/jira", "DCP", "Owned", reporter="acc-ada", assignee="acc-bob")
    issue = _run(_dc(seeded), False, lambda j: j.issue("DCP-2"))
    assert issue.assignee is not None and issue.assignee.account_id == "bob"
    assert issue.reporter is not None and issue.reporter.account_id == "ada"


@pytest.mark.parametrize("cloud", [True, False])
def test_security_levels_hide_issues_from_everyone_not_listed(seeded: AtlassianEmulator, cloud: bool) -> None:
    key = "ENG-1" if cloud else "DCP-1"
    seeded.set_security_level(key, "Staff only", {"acc-ada"})
    api = _cloud if cloud else _dc
    issue = _run(api(seeded, "acc-ada"), cloud, lambda j: j.issue(key))
    assert issue.restricted and issue.security_level == "Staff only"
    for work in (lambda j: j.issue(key), lambda j: j.transitions(key), lambda j: j.watch(key, "x")):
        with pytest.raises(JiraNotFound):
            _run(api(seeded, "acc-bob"), cloud, work)
    seeded.set_security_level(key, None)
    assert not _run(api(seeded, "acc-bob"), cloud, lambda j: j.issue(key)).restricted
    seeded.deny_permission("acc-bob", "browse", key)
    with pytest.raises(JiraNotFound):
        _run(api(seeded, "acc-bob"), cloud, lambda j: j.issue(key))


def test_transitions_with_and_without_screens_on_cloud(seeded: AtlassianEmulator, http: httpx.Client) -> None:  # noqa: F811
    api, token = _cloud(seeded)
    raw = http.get(
        f"{api}/issue/ENG-1/transitions", params={"expand": "transitions.fields"}, headers=_auth(token)
    ).json()
    _conforms("Transitions", raw)
    offered = _run((api, token), True, lambda j: j.transitions("ENG-1"))
    by_name = {t.name: t for t in offered}
    assert set(by_name) == {"In Progress", "Done"}  # not To Do: it is already there
    assert by_name["In Progress"].has_screen is False and by_name["In Progress"].fields == ()
    done = by_name["Done"]
    assert done.has_screen and [f.field_id for f in done.required_fields] == ["resolution"]
    assert done.to_category is StatusCategory.DONE

    with pytest.raises(JiraBadRequest) as missing:
        _run((api, token), True, lambda j: j.transition("ENG-1", done.id))
    assert missing.value.errors == {"resolution": "Resolution is required."}
    with pytest.raises(JiraBadRequest) as off_screen:
        _run((api, token), True, lambda j: j.transition("ENG-1", "21", {"summary": "x"}))
    assert "summary" in off_screen.value.errors
    with pytest.raises(JiraBadRequest):
        _run((api, token), True, lambda j: j.transition("ENG-1", "999"))

    _run((api, token), True, lambda j: j.transition("ENG-1", done.id, {"resolution": {"name": "Done"}}))
    state = seeded.issue_state("ENG-1")
    assert state.status == DONE and state.resolution == {"id": "10000", "name": "Done"}
    assert _run((api, token), True, lambda j: j.issue("ENG-1")).status_category is StatusCategory.DONE
    _run((api, token), True, lambda j: j.transition("ENG-1", "21"))
    assert (
        seeded.issue_state("ENG-1").status == IN_PROGRESS and seeded.issue_state("ENG-1").resolution is None
    )

    seeded.deny_permission("acc-ada", "transition")
    assert _run((api, token), True, lambda j: j.transitions("ENG-1")) == []
    with pytest.raises(JiraForbidden):
        _run((api, token), True, lambda j: j.transition("ENG-1", "11"))


def test_custom_transition_with_a_required_custom_field_on_dc(seeded: AtlassianEmulator) -> None:
    from tests.emulators.atlassian_model import custom_field

    cause = custom_field("string", name="Root cause")
    seeded.add_transition("/jira", "DCP", "Resolve", DONE, fields=[cause, resolution_field(required=False)])
    dc = _dc(seeded)
    resolve = next(t for t in _run(dc, False, lambda j: j.transitions("DCP-1")) if t.name == "Resolve")
    assert [f.name for f in resolve.required_fields] == ["Root cause"]
    with pytest.raises(JiraBadRequest):
        _run(dc, False, lambda j: j.transition("DCP-1", resolve.id, {cause["fieldId"]: 42}))
    _run(dc, False, lambda j: j.transition("DCP-1", resolve.id, {cause["fieldId"]: "Cosmic rays"}))
    assert seeded.issue_state("DCP-1").status == DONE


@pytest.mark.parametrize("cloud", [True, False])
def test_assign_and_watch_as_the_caller(seeded: AtlassianEmulator, cloud: bool) -> None:
    key, api = ("ENG-1", _cloud) if cloud else ("DCP-1", _dc)
    me = "acc-ada" if cloud else "ada"
    _run(api(seeded), cloud, lambda j: j.assign(key, me))
    assert seeded.issue_state(key).assignee == "acc-ada"
    _run(api(seeded), cloud, lambda j: j.watch(key, me))
    _run(api(seeded), cloud, lambda j: j.watch(key, me))  # twice: still one watcher
    watchers = _run(api(seeded), cloud, lambda j: j.watchers(key))
    assert watchers.watching and watchers.count == 2  # the reporter and Ada
    issue = _run(api(seeded), cloud, lambda j: j.issue(key))
    assert issue.watching and issue.assignee is not None and issue.assignee.display_name == "Ada Lovelace"

    with pytest.raises(JiraBadRequest):
        _run(api(seeded), cloud, lambda j: j.assign(key, "nobody-at-all"))
    with pytest.raises(JiraForbidden):  # adding someone else needs "manage watchers"
        _run(api(seeded), cloud, lambda j: j.watch(key, "acc-bob" if cloud else "bob"))
    seeded.deny_permission("acc-ada", "assign", key)
    with pytest.raises(JiraForbidden):
        _run(api(seeded), cloud, lambda j: j.assign(key, me))
    seeded.allow_permission("acc-ada", "assign", key)
    _run(api(seeded), cloud, lambda j: j.assign(key, None))
    assert seeded.issue_state(key).assignee is None


def test_raw_bodies_are_checked(seeded: AtlassianEmulator, http: httpx.Client) -> None:  # noqa: F811
    api, token = _cloud(seeded)
    auth = _auth(token)
    assert (
        http.post(f"{api}/issue/ENG-1/watchers", json={"accountId": "acc-ada"}, headers=auth).status_code
        == 400
    )
    assert http.put(f"{api}/issue/ENG-1/assignee", json={"name": "ada"}, headers=auth).status_code == 400
    assert http.put(f"{api}/issue/ENG-1/assignee", content=b"acc-ada", headers=auth).status_code == 415
    assert http.post(f"{api}/issue/ENG-1/transitions", json={}, headers=auth).status_code == 400
    assert http.delete(f"{api}/issue/ENG-1/transitions", headers=auth).status_code == 405
    unassign = http.put(f"{api}/issue/ENG-1/assignee", json={"accountId": None}, headers=auth)
    assert unassign.status_code == 204
    dc_api, dc_token = _dc(seeded)
    dc_watch = http.post(f"{dc_api}/issue/DCP-1/watchers", json="acc-ada", headers=_auth(dc_token))
    assert dc_watch.status_code == 404  # DC takes a username, not an account id


def test_comments_adf_on_cloud_and_visibility(seeded: AtlassianEmulator, http: httpx.Client) -> None:  # noqa: F811
    cloud = _cloud(seeded)
    comment_id = _run(cloud, True, lambda j: j.add_comment("ENG-1", ADF))
    [stored] = seeded.comments("ENG-1")
    assert stored.id == comment_id and stored.author == "acc-ada" and stored.body == ADF
    read = _run(cloud, True, lambda j: j.comment("ENG-1", comment_id))
    assert read.body == ADF and read.author is not None and read.author.account_id == "acc-ada"
    api, token = cloud
    _conforms("Comment", http.get(f"{api}/issue/ENG-1/comment/{comment_id}", headers=_auth(token)).json())

    with pytest.raises(JiraBadRequest):  # wiki text is not ADF
        _run(cloud, True, lambda j: j.add_comment("ENG-1", "plain text"))
    with pytest.raises(JiraBadRequest):  # an invalid ADF document
        _run(cloud, True, lambda j: j.add_comment("ENG-1", {"type": "doc", "version": 1, "content": [{}]}))

    staff = Visibility("role", "Developers")
    with pytest.raises(JiraBadRequest):  # Ada is not in the role
        _run(cloud, True, lambda j: j.add_comment("ENG-1", ADF, staff))
    seeded.add_role_member("acme", "ENG", "Developers", "acc-ada")
    hidden = _run(cloud, True, lambda j: j.add_comment("ENG-1", ADF, staff))
    assert _run(cloud, True, lambda j: j.comment("ENG-1", hidden)).visibility == staff
    with pytest.raises(JiraNotFound):
        _run(_cloud(seeded, "acc-bob"), True, lambda j: j.comment("ENG-1", hidden))
    assert _run(_cloud(seeded, "acc-bob"), True, lambda j: j.comment("ENG-1", comment_id)).id == comment_id

    seeded.deny_permission("acc-bob", "comment")
    with pytest.raises(JiraForbidden):
        _run(_cloud(seeded, "acc-bob"), True, lambda j: j.add_comment("ENG-1", ADF))


def test_comments_wiki_on_dc_with_group_visibility(seeded: AtlassianEmulator) -> None:
    dc = _dc(seeded)
    with pytest.raises(JiraBadRequest):
        _run(dc, False, lambda j: j.add_comment("DCP-1", ADF))
    seeded.add_group_member("jira-staff", "acc-ada")
    group = Visibility("group", "jira-staff")
    cid = _run(dc, False, lambda j: j.add_comment("DCP-1", "h1. *Done*", group))
    assert seeded.comments("DCP-1")[0].body == "h1. *Done*"
    with pytest.raises(JiraNotFound):
        _run(_dc(seeded, "acc-bob"), False, lambda j: j.comment("DCP-1", cid))


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


__all__ = ["LiveServer", "_Switch"]
