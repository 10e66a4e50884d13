"""The Slack gate's pure checks: the v0 signature on raw bytes, and what counts as a request Slack sends."""

from __future__ import annotations

import hashlib
import hmac
import json
from urllib.parse import urlencode

import pytest

from bot.web.slack_body import MalformedBody, check_body, verify_signature

SECRET = b"8f742231b10e8888abcd99yyyzzz85a5"
NOW = 1_700_000_000.0
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


def sign(body: bytes, ts: int = int(NOW), secret: bytes = SECRET) -> tuple[str, str]:
    digest = hmac.new(secret, b"v0:" + str(ts).encode() + b":" + body, hashlib.sha256).hexdigest()
    return str(ts), f"v0={digest}"


def test_a_signature_over_the_exact_bytes_within_five_minutes_is_valid() -> None:
    body = b"command=%2Fjira&text=help"
    assert verify_signature(body, *sign(body), secret=SECRET, now=NOW)
    assert verify_signature(body, *sign(body, int(NOW) - 299), secret=SECRET, now=NOW)


@pytest.mark.parametrize(
    ("timestamp", "signature"),
    [
        (None, None),
        ("1700000000", None),
        (None, "v0=00"),
        ("1700000000", "v0=" + "0" * 64),
        (str(int(NOW) - 301), sign(b"x", int(NOW) - 301)[1]),  # stale, though correctly signed
        (str(int(NOW) + 301), sign(b"x", int(NOW) + 301)[1]),
        ("-1", "v0=00"),
        ("1e9", "v0=00"),
        ("١٧٠٠٠٠٠٠٠٠", "v0=00"),  # digits, but not ASCII ones
        ("1700000000", "v0=ü"),
    ],
)
def test_missing_wrong_or_stale_signatures_are_refused(timestamp: str | None, signature: str | None) -> None:
    assert not verify_signature(b"x", timestamp, signature, secret=SECRET, now=NOW)


def test_another_secret_or_other_bytes_are_refused() -> None:
    ts, signature = sign(b"text=help", secret=b"another-secret")
    assert not verify_signature(b"text=help", ts, signature, secret=SECRET, now=NOW)
    ts, signature = sign(b"text=help")
    assert not verify_signature(b"text=help ", ts, signature, secret=SECRET, now=NOW)


COMMAND = {
    "token": "x",
    "team_id": "T0TEAM001",
    "team_domain": "acme",
    "channel_id": "C0GENERAL",
    "user_id": "U0ALICE01",
    "command": "/jira",
    "text": "help",
    "api_app_id": "A0APP",
    "response_url": "https://hooks.slack.com/commands/T0/1/x",
    "trigger_id": "1.2.3",
}
SUBMISSION = {
    "type": "view_submission",
    "team": {"id": "T0TEAM001", "domain": "acme"},
    "user": {"id": "U0ALICE01", "team_id": "T0TEAM001"},
    "api_app_id": "A0APP",
    "trigger_id": "1.2.3",
    "view": {
        "id": "V0001",
        "type": "modal",
        "callback_id": "jira_create_issue",
        "private_metadata": "",
        "state": {"values": {"summary": {"s": {"type": "plain_text_input", "value": "Fix"}}}},
        "hash": "1.a",
        "blocks": [{"type": "input", "block_id": "summary"}],
        "root_view_id": "V0001",
        "previous_view_id": None,
        "app_installed_team_id": "T0TEAM001",
    },
    "response_urls": [{"block_id": "c", "action_id": "c", "channel_id": "C1", "response_url": "https://x"}],
    "is_enterprise_install": False,
    "enterprise": None,
}
ACTION = {
    "type": "block_actions",
    "team": {"id": "T0TEAM001"},
    "user": {"id": "U0ALICE01"},
    "container": {"type": "message", "message_ts": "1.2", "channel_id": "C1", "is_ephemeral": True},
    "channel": {"id": "C1", "name": "general"},
    "response_url": "https://hooks.slack.com/actions/x",
    "trigger_id": "1.2.3",
    "actions": [
        {
            "type": "static_select",
            "action_id": "jira_admin_default_project",
            "block_id": "b",
            "selected_option": {"text": {"type": "plain_text", "text": "ENG"}, "value": "ENG"},
            "action_ts": "1.3",
        }
    ],
}
EVENT = {
    "type": "event_callback",
    "team_id": "T0TEAM001",
    "api_app_id": "A0APP",
    "event_id": "Ev1",
    "event": {
        "type": "user_change",
        "user": {"id": "U0ALICE01", "deleted": True, "tz_offset": 3600, "profile": {"email": "a@acme.test"}},
        "event_ts": "1.2",
    },
    "authorizations": [{"team_id": "T0TEAM001", "user_id": "U0BOT", "is_bot": True}],
    "event_time": 1700000000,
}


SHORTCUT = {
    "type": "message_action",
    "callback_id": "create_jira_issue",
    "trigger_id": "1.2.3",
    "team": {"id": "T0TEAM001"},
    "user": {"id": "U0ALICE01"},
    "channel": {"id": "C1"},
    "response_url": "https://hooks.slack.com/app/x",
    "message_ts": "1.2",
    "message": {
        "type": "message",
        "user": "U0BOB0001",
        "ts": "1.2",
        "text": "Printer on fire",
        # legacy attachments carry numbers where Block Kit has strings
        "attachments": [
            {
                "id": 1,
                "ts": 1700000000,
                "fallback": "x",
                "fields": [{"value": "y"}],
                "actions": [{"id": "1", "type": "button", "value": "v"}],
            }
        ],
    },
}


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (urlencode(COMMAND).encode(), FORM),
        (urlencode({"payload": json.dumps(SHORTCUT)}).encode(), FORM),
        (urlencode(COMMAND).encode(), FORM + "; charset=utf-8"),
        (urlencode({"payload": json.dumps(SUBMISSION)}).encode(), FORM),
        (urlencode({"payload": json.dumps(ACTION)}).encode(), FORM),
        (json.dumps(EVENT).encode(), JSON),
        (json.dumps({"type": "url_verification", "token": "x", "challenge": "abc"}).encode(), JSON),
        (b"ssl_check=1&token=x", FORM),
    ],
)
def test_what_slack_sends_is_accepted(body: bytes, content_type: str) -> None:
    assert isinstance(check_body(body, content_type), dict)


def _without(payload: dict, key: str) -> dict:
    return {k: v for k, v in payload.items() if k != key}


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"payload={bad", FORM),
        (b"payload=[]", FORM),
        (b"payload=%22text%22", FORM),
        (b"{bad", FORM),
        (b"{bad", JSON),
        (b"[1]", JSON),
        (b"", FORM),
        (urlencode(COMMAND).encode(), "text/plain"),
        (urlencode(COMMAND).encode(), None),
        ("text=é".encode("latin-1"), FORM),
        (b"[" * 200 + b"]" * 200, JSON),
        (json.dumps({"type": "event_callback", "event": "x"}).encode(), JSON),
        (json.dumps({"type": "event_callback", "event": {"type": "x", "user": ["U1"]}}).encode(), JSON),
        (json.dumps({"type": "something_else"}).encode(), JSON),
        (urlencode(_without(COMMAND, "response_url")).encode(), FORM),
        (b"text=help&user_id=U1", FORM),
        (urlencode({**COMMAND, "response_url": "0"}).encode(), FORM),
        (urlencode({**COMMAND, "response_url": "ftp://hooks.slack.com/x"}).encode(), FORM),
        (urlencode({**COMMAND, "response_url": "https://hooks.slack.com:x/y"}).encode(), FORM),
        (urlencode({"payload": json.dumps({**ACTION, "response_url": "/relative"})}).encode(), FORM),
        (urlencode({"payload": json.dumps({**ACTION, "actions": []})}).encode(), FORM),
        (urlencode({"payload": json.dumps({**ACTION, "actions": [{"type": "button"}]})}).encode(), FORM),
        (urlencode({"payload": json.dumps(_without(ACTION, "response_url"))}).encode(), FORM),
        (urlencode({"payload": json.dumps({**ACTION, "team": 7})}).encode(), FORM),
        (urlencode({"payload": json.dumps({**ACTION, "user": {"id": 7}})}).encode(), FORM),
        (
            urlencode({"payload": json.dumps({**SHORTCUT, "message": {"ts": 1.2, "text": "x"}})}).encode(),
            FORM,
        ),
        (urlencode({"payload": json.dumps(_without(SUBMISSION, "view"))}).encode(), FORM),
        (
            urlencode(
                {"payload": json.dumps({**SUBMISSION, "view": {"id": 1, "callback_id": "x"}})}
            ).encode(),
            FORM,
        ),
        (urlencode({"payload": json.dumps({**SUBMISSION, "response_urls": {}})}).encode(), FORM),
    ],
)
def test_anything_else_is_malformed(body: bytes, content_type: str | None) -> None:
    with pytest.raises(MalformedBody):
        check_body(body, content_type)


def test_nesting_deeper_than_slack_uses_is_malformed_without_recursion() -> None:
    deep = '{"type": "block_actions", "x": ' + "[" * 60 + "]" * 60 + "}"
    with pytest.raises(MalformedBody, match="deeply"):
        check_body(deep.encode(), JSON)
