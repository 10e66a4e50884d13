"""Property-based: whatever arrives, signed or not, the bot answers without a 500, logs no traceback,
and stores nothing from unsigned input.

Hypothesis builds every kind of request the bot accepts (slash commands, each registered block action,
view submission, options request and event, the OAuth callback's query strings), mutates them (JSON
subtrees replaced or dropped, bytes cut or inserted, content types swapped) and sends them in-process
to the app, signed with the signing secret, unsigned, signed with another secret, or stale.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.slack import ids
from bot.slack.metadata import ModalState, encode_metadata
from bot.slack.views import create_issue as create_views
from storage.repositories.accounts import JiraIdentity, TokenSet
from tests.emulators.atlassian import AtlassianEmulator
from tests.emulators.slack import SlackEmulator
from tests.harness import CLOUD_CLIENT_ID, CLOUD_CLIENT_SECRET
from tests.inprocess import InProcessBot, slack_signature

ADMIN, ALICE, BOB = "U0ADMIN01", "U0ALICE01", "U0BOB0001"
ADMIN_ACCOUNT, ALICE_ACCOUNT = "5b10ac8d82e05b22cc7d4ada", "5b10ac8d82e05b22cc7d4a11"

# Bounded so the suite stays fast on two cores; JIRABOT_FUZZ_EXAMPLES=1000 for a longer hunt.
FAST = settings(
    max_examples=int(os.environ.get("JIRABOT_FUZZ_EXAMPLES", "100")),
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

ACTIONS = [
    ids.ACTION_CONNECT_LINK,
    ids.ACTION_CONNECT_START,
    ids.ACTION_DISCONNECT,
    ids.ACTION_UNINSTALL,
    ids.ACTION_DEFAULT_PROJECT,
    ids.ACTION_INSTALL_KIND,
    ids.ACTION_OPEN_IN_JIRA,
    create_views.ACTION_CREATE_ANOTHER,
    create_views.ACTION_PROJECT,
    create_views.ACTION_ISSUE_TYPE,
    create_views.ACTION_FINISH_IN_JIRA,
    create_views.ACTION_CHECK_IN_JIRA,
]
OPTIONS = [create_views.ACTION_PROJECT, ids.ACTION_DEFAULT_PROJECT, f"{create_views.ACTION_USER}.assignee"]
VIEWS = [ids.VIEW_ADMIN_INSTALL, ids.VIEW_CREATE_ISSUE, ids.VIEW_CONNECT, ids.VIEW_INFO]
EVENTS = ["app_home_opened", "app_uninstalled", "tokens_revoked", "user_change"]
COMMAND_TEXTS = [
    "",
    "help",
    "connect",
    "disconnect",
    "status",
    "create",
    "create Fix the build",
    "admin install",
    "admin install https://acme.atlassian.net",
    "admin install http://10.0.0.1/",
    "admin status",
    "admin uninstall",
]


@pytest.fixture
def app(database_url: str, slack: SlackEmulator, atlassian: AtlassianEmulator) -> Iterator[InProcessBot]:
    assert atlassian.base_url is not None
    bot = InProcessBot(
        database_url=database_url, slack_api_url=slack.api_url, atlassian_url=atlassian.base_url
    ).start()
    _seed(bot, slack, atlassian)
    yield bot
    bot.stop()


def _seed(bot: InProcessBot, slack: SlackEmulator, atlassian: AtlassianEmulator) -> None:
    """An installed Cloud site with a linked admin and a linked Alice; Bob is not linked."""
    slack.add_user(ADMIN, "ada", admin=True)
    slack.add_user(ALICE, "alice")
    slack.add_user(BOB, "bob")
    atlassian.add_cloud_app(
        CLOUD_CLIENT_ID, CLOUD_CLIENT_SECRET, [bot.components.settings.oauth_redirect_uri]
    )
    site = atlassian.add_cloud_site("acme")
    atlassian.add_user(ADMIN_ACCOUNT, "Ada Admin", "ada@acme.test", sites=[site])
    atlassian.add_user(ALICE_ACCOUNT, "Alice Anders", "alice@acme.test", sites=[site])
    atlassian.default_project(site, "ENG", "Engineering")
    storage = bot.components.storage
    now = bot.clock.now()

    def tokens(account: str) -> TokenSet:
        answer = atlassian.mint_cloud_tokens(CLOUD_CLIENT_ID, account)
        return TokenSet(
            answer["access_token"],
            answer.get("refresh_token"),
            now + timedelta(seconds=int(answer["expires_in"])),
            answer.get("scope"),
        )

    tenant, _ = bot.run(
        storage.tenants.install(
            team_id=slack.team_id,
            enterprise_id=None,
            kind="cloud",
            site_url=site.url,
            site_name="acme",
            cloud_id=site.cloud_id,
            dc_client_id=None,
            dc_client_secret=None,
            installed_by=ADMIN,
            identity=JiraIdentity(ADMIN_ACCOUNT, "Ada Admin", "ada@acme.test"),
            tokens=tokens(ADMIN_ACCOUNT),
            now=now,
        )
    )
    bot.run(
        storage.accounts.link(
            tenant_id=tenant.id,
            team_id=slack.team_id,
            slack_user_id=ALICE,
            identity=JiraIdentity(ALICE_ACCOUNT, "Alice Anders", "alice@acme.test"),
            tokens=tokens(ALICE_ACCOUNT),
            now=now,
        )
    )


# What Slack sends ---------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


def _common(slack: SlackEmulator, kind: str, user: str) -> dict[str, Any]:
    return {
        "type": kind,
        "token": "vErIfIcAtIoNtOkEn000000",
        "api_app_id": slack.app_id,
        "team": {"id": slack.team_id, "domain": "acme"},
        "user": {"id": user, "username": "someone", "team_id": slack.team_id},
        "is_enterprise_install": False,
        "enterprise": None,
        "trigger_id": slack.new_trigger_id(user),
    }


def _view(callback_id: str, state: dict[str, Any], metadata: str) -> dict[str, Any]:
    return {
        "id": "V0FUZZ0001",
        "type": "modal",
        "callback_id": callback_id,
        "hash": "1.abc",
        "team_id": "T0TEAM001",
        "app_id": "A0APP",
        "private_metadata": metadata,
        "blocks": [],
        "state": {"values": state},
        "title": {"type": "plain_text", "text": "Form"},
    }


def _metadata() -> st.SearchStrategy[str]:
    good = encode_metadata(
        ModalState(
            channel_id="C0GENERAL",
            message_ts="1700000000.000100",
            project_key="ENG",
            project_id="10000",
            issue_type_id="10001",
        )
    )
    return st.sampled_from([good, "", "{}", "[]", "{bad"]) | st.text(max_size=40)


def _state_values() -> st.SearchStrategy[dict[str, Any]]:
    text_input = st.builds(
        lambda v: {"type": "plain_text_input", "value": v}, st.none() | st.text(max_size=30)
    )
    selected = st.builds(
        lambda v: {
            "type": "static_select",
            "selected_option": {"value": v, "text": {"type": "plain_text", "text": v}},
        },
        st.sampled_from(["cloud", "datacenter", "ENG", "10001", "x"]),
    )
    value = text_input | selected
    return st.fixed_dictionaries(
        {
            ids.BLOCK_INSTALL_KIND: st.fixed_dictionaries({ids.ACTION_INSTALL_KIND: selected}),
            ids.BLOCK_INSTALL_URL: st.fixed_dictionaries({"install_url_input": text_input}),
            "summary": st.fixed_dictionaries({create_views.ACTION_SUMMARY: value}),
            "project": st.fixed_dictionaries({create_views.ACTION_PROJECT: value}),
        }
    )


@st.composite
def slack_requests(draw: st.DrawFn, slack: SlackEmulator) -> tuple[str, dict[str, Any]]:
    """(content type, parsed body) of a request Slack could send to this bot."""
    user = draw(st.sampled_from([ADMIN, ALICE, BOB]))
    kind = draw(st.sampled_from(["command", "action", "options", "submission", "shortcut", "event", "url"]))
    if kind == "command":
        text = draw(st.sampled_from(COMMAND_TEXTS) | st.text(max_size=40))
        return "form", {
            "token": "vErIfIcAtIoNtOkEn000000",
            "team_id": slack.team_id,
            "team_domain": "acme",
            "channel_id": "C0GENERAL",
            "channel_name": "general",
            "user_id": user,
            "user_name": "someone",
            "command": "/jira",
            "text": text,
            "api_app_id": slack.app_id,
            "is_enterprise_install": "false",
            "response_url": slack.new_response_url(channel_id="C0GENERAL", user_id=user),
            "trigger_id": slack.new_trigger_id(user),
        }
    if kind == "action":
        payload = _common(slack, "block_actions", user)
        action_id = draw(st.sampled_from(ACTIONS))
        payload["actions"] = [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "b1",
                "value": draw(st.text(max_size=20)),
                "action_ts": f"{time.time():.6f}",
                "selected_option": {
                    "value": draw(st.sampled_from(["ENG", "cloud", "x"])),
                    "text": {"type": "plain_text", "text": "x"},
                },
            }
        ]
        if draw(st.booleans()):
            payload["container"] = {"type": "view", "view_id": "V0FUZZ0001"}
            payload["view"] = _view(ids.VIEW_CREATE_ISSUE, draw(_state_values()), draw(_metadata()))
        else:
            payload["container"] = {
                "type": "message",
                "message_ts": "1700000000.000100",
                "channel_id": "C0GENERAL",
                "is_ephemeral": True,
            }
            payload["channel"] = {"id": "C0GENERAL", "name": "general"}
            payload["response_url"] = slack.new_response_url(channel_id="C0GENERAL", user_id=user)
        return "payload", payload
    if kind == "options":
        payload = _common(slack, "block_suggestion", user)
        payload.update(
            action_id=draw(st.sampled_from(OPTIONS)),
            block_id="b1",
            value=draw(st.text(max_size=20)),
            container={"type": "view", "view_id": "V0FUZZ0001"},
            view=_view(ids.VIEW_CREATE_ISSUE, {}, draw(_metadata())),
        )
        return "payload", payload
    if kind == "submission":
        payload = _common(slack, "view_submission", user)
        payload["view"] = _view(draw(st.sampled_from(VIEWS)), draw(_state_values()), draw(_metadata()))
        payload["response_urls"] = []
        return "payload", payload
    if kind == "shortcut":
        message = {
            "type": "message",
            "user": ALICE,
            "ts": "1700000000.000100",
            "text": draw(st.text(max_size=60)),
            # a legacy attachment: numbers where Block Kit has strings
            "attachments": [{"id": 1, "ts": 1700000000, "fallback": "old", "color": "36a64f"}],
        }
        payload = _common(slack, draw(st.sampled_from(["message_action", "shortcut"])), user)
        payload.update(
            callback_id=ids.SHORTCUT_CREATE_ISSUE,
            message=message,
            message_ts=message["ts"],
            channel={"id": "C0GENERAL", "name": "general"},
            response_url=slack.new_response_url(channel_id="C0GENERAL", user_id=user),
        )
        return "payload", payload
    if kind == "url":
        return "json", {
            "token": "vErIfIcAtIoNtOkEn000000",
            "type": "url_verification",
            "challenge": draw(st.text(max_size=20)),
        }
    event_type = draw(st.sampled_from(EVENTS))
    event: dict[str, Any] = {"type": event_type, "user": user, "tab": "home", "event_ts": "1700000000.1"}
    if event_type == "tokens_revoked":
        event["tokens"] = {"oauth": [user], "bot": []}
    if event_type == "user_change":
        event["user"] = {"id": user, "team_id": slack.team_id, "deleted": draw(st.booleans())}
    return "json", {
        "token": "vErIfIcAtIoNtOkEn000000",
        "team_id": slack.team_id,
        "api_app_id": slack.app_id,
        "event": event,
        "type": "event_callback",
        "event_id": "Ev0FUZZ",
        "event_time": 1700000000,
        "authorizations": [{"team_id": slack.team_id, "user_id": "U0BOT", "is_bot": True}],
    }


@st.composite
def mutated(draw: st.DrawFn, value: Any, depth: int = 0) -> Any:
    """The same JSON with some subtrees replaced, dropped or added."""
    roll = draw(st.integers(0, 19))
    if roll == 0:
        return draw(json_values)
    if isinstance(value, dict) and depth < 6:
        out: dict[str, Any] = {}
        for key, item in value.items():
            if draw(st.integers(0, 9)) == 0:
                continue
            out[key] = draw(mutated(item, depth + 1))
        if roll == 1:
            out[draw(st.text(max_size=8))] = draw(json_values)
        return out
    if isinstance(value, list) and depth < 6:
        return [draw(mutated(item, depth + 1)) for item in value if draw(st.integers(0, 9))]
    if isinstance(value, str) and roll == 2:
        return draw(st.text(max_size=30))
    return value


def encode(shape: str, body: Any) -> tuple[bytes, str]:
    if shape == "json":
        return json.dumps(body).encode(), "application/json"
    if shape == "payload":
        return urlencode({"payload": json.dumps(body)}).encode(), "application/x-www-form-urlencoded"
    if isinstance(body, dict):
        return urlencode(
            {str(k): json.dumps(v) if not isinstance(v, str) else v for k, v in body.items()}
        ).encode(), "application/x-www-form-urlencoded"
    return urlencode({"text": json.dumps(body)}).encode(), "application/x-www-form-urlencoded"


@st.composite
def raw_bytes(draw: st.DrawFn, body: bytes, content_type: str) -> tuple[bytes, str]:
    """Byte-level damage: cut, inserted bytes, a known-bad body, another content type."""
    how = draw(st.integers(0, 5))
    if how == 0 and body:
        body = body[: draw(st.integers(0, 1 << 16)) % len(body)]  # positions independent of the length
    elif how == 1:
        at = draw(st.integers(0, 1 << 16)) % (len(body) + 1)
        body = body[:at] + draw(st.binary(min_size=1, max_size=8)) + body[at:]
    elif how == 2:
        body = draw(
            st.sampled_from(
                [
                    b"payload={bad",
                    b"payload=[]",
                    b"{bad",
                    b"payload=%7B%7D",
                    b"\xff\xfe{",
                    b"[" * 5000,
                    b"payload=" + b"%5B" * 3000,
                    b"",
                    b"command=/jira&text=\xff",
                ]
            )
        )
    if draw(st.integers(0, 3)) == 0:
        content_type = draw(
            st.sampled_from(
                [
                    "text/plain",
                    "application/json",
                    "application/x-www-form-urlencoded",
                    "multipart/form-data; boundary=x",
                    "",
                    "application/json; charset=utf-8",
                ]
            )
        )
    return body, content_type


AUTH = st.sampled_from(["signed", "signed", "unsigned", "other-secret", "stale"])


def _headers(auth: str, body: bytes, content_type: str) -> dict[str, str]:
    headers = {"Content-Type": content_type} if content_type else {}
    if auth == "signed":
        headers.update(slack_signature(body))
    elif auth == "other-secret":
        headers.update(slack_signature(body, secret="not-the-signing-secret"))
    elif auth == "stale":
        headers.update(slack_signature(body, timestamp=int(time.time()) - 6 * 60))
    return headers


def _no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    bad = [
        r
        for r in caplog.records
        if r.exc_info or "Traceback" in r.getMessage() or r.getMessage() == "http.unhandled_error"
    ]
    assert not bad, [(r.name, r.getMessage(), getattr(r, "where", None)) for r in bad]


def _send(
    app: InProcessBot, caplog: pytest.LogCaptureFixture, auth: str, body: bytes, content_type: str
) -> None:
    caplog.clear()
    before = app.snapshot() if auth != "signed" else None
    response = app.request("POST", "/slack/events", content=body, headers=_headers(auth, body, content_type))
    assert response.status_code < 500, (response.status_code, body[:300])
    if auth != "signed":
        assert response.status_code == 401
        assert app.snapshot() == before
    _no_traceback(caplog)


@pytest.mark.usefixtures("slack")
@FAST
@given(data=st.data(), auth=AUTH)
def test_well_formed_and_mutated_slack_requests(
    app: InProcessBot, slack: SlackEmulator, caplog: pytest.LogCaptureFixture, data: st.DataObject, auth: str
) -> None:
    caplog.set_level(logging.INFO)
    shape, body = data.draw(slack_requests(slack))
    if data.draw(st.booleans()):
        body = data.draw(mutated(body))
    raw, content_type = encode(shape, body)
    _send(app, caplog, auth, raw, content_type)


@FAST
@given(data=st.data(), auth=AUTH)
def test_damaged_bytes(
    app: InProcessBot, slack: SlackEmulator, caplog: pytest.LogCaptureFixture, data: st.DataObject, auth: str
) -> None:
    caplog.set_level(logging.INFO)
    shape, body = data.draw(slack_requests(slack))
    raw, content_type = data.draw(raw_bytes(*encode(shape, body)))
    _send(app, caplog, auth, raw, content_type)


@FAST
@given(
    query=st.dictionaries(
        st.sampled_from(["state", "code", "error", "error_description", "x"]),
        st.text(max_size=40),
        max_size=5,
    )
    | st.text(max_size=80).map(lambda text: quote(text, safe="=&%+;"))
)
def test_oauth_callback_query_strings(
    app: InProcessBot, caplog: pytest.LogCaptureFixture, query: Any
) -> None:
    caplog.set_level(logging.INFO)
    caplog.clear()
    before = app.snapshot()
    if isinstance(query, str):  # raw, with broken escapes as they come
        response = app.request("GET", "/jira/oauth/callback?" + query)
    else:
        response = app.request("GET", "/jira/oauth/callback", params=query)
    assert response.status_code < 500
    assert response.status_code >= 400  # no state we issued: nothing is linked
    assert app.snapshot() == before
    _no_traceback(caplog)


@pytest.fixture
def multi_app(
    database_url: str, slack: SlackEmulator, atlassian: AtlassianEmulator
) -> Iterator[InProcessBot]:
    """Multi-workspace mode: Slack's own install and OAuth redirect routes are served too."""
    assert atlassian.base_url is not None
    bot = InProcessBot(
        database_url=database_url,
        slack_api_url=slack.api_url,
        atlassian_url=atlassian.base_url,
        slack_bot_token=None,
        slack_client_id="111.222",
        slack_client_secret="slack-client-secret",
    ).start()
    yield bot
    bot.stop()


SLACK_OAUTH_KEYS = st.sampled_from(["state", "code", "error", "x"])


@FAST
@given(
    path=st.sampled_from(["/slack/oauth_redirect", "/slack/install"]),
    query=st.dictionaries(SLACK_OAUTH_KEYS, st.text(max_size=40), max_size=4)
    | st.text(max_size=80).map(lambda text: quote(text, safe="=&%+;")),
)
def test_slack_install_routes_with_any_query_string(
    multi_app: InProcessBot, caplog: pytest.LogCaptureFixture, path: str, query: Any
) -> None:
    caplog.set_level(logging.INFO)
    caplog.clear()
    before = multi_app.snapshot()
    if isinstance(query, str):
        response = multi_app.request("GET", f"{path}?{query}")
    else:
        response = multi_app.request("GET", path, params=query)
    assert response.status_code < 500
    if path == "/slack/oauth_redirect":
        assert multi_app.snapshot() == before  # no state we issued: nothing is installed
    _no_traceback(caplog)
