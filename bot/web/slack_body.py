"""A Slack request's raw bytes, checked before anything else reads them: the v0 signature and its
timestamp first, then that the body is what Slack sends (UTF-8, the right content type, a JSON object
or a form, of the shape Bolt and the listeners read).

Pure functions: `verify_signature` answers whether the bytes came from Slack; `check_body` raises
`MalformedBody` (with a short reason) for anything else than a well-formed Slack request. Parsing
mirrors Bolt's own (`slack_bolt.request.internals.parse_body`): a body that starts with `{`, or is
sent as `application/json`, is JSON; else a form, whose `payload` field, when present, is JSON.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

#: Slack's replay window: a timestamp further than this from now is refused.
MAX_CLOCK_SKEW = 60 * 5
#: Slack's payloads are a dozen levels deep at most; far deeper ones are not Slack's.
MAX_DEPTH = 48

#: What Slack sends with every slash command.
COMMAND_FIELDS = ("team_id", "user_id", "channel_id", "response_url", "trigger_id")

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


class MalformedBody(ValueError):
    """The body is not a request Slack would send; `reason` is short and safe to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def verify_signature(
    body: bytes, timestamp: str | None, signature: str | None, *, secret: bytes, now: float
) -> bool:
    """Slack's v0 scheme: HMAC-SHA256 of `v0:{timestamp}:{body}`, within five minutes of now."""
    if not timestamp or not signature or not timestamp.isascii() or not timestamp.isdigit():
        return False
    if len(timestamp) > 12 or abs(now - int(timestamp)) > MAX_CLOCK_SKEW:
        return False
    digest = hmac.new(secret, b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(f"v0={digest}".encode(), signature.encode("utf-8", "replace"))


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def check_body(body: bytes, content_type: str | None) -> dict[str, Any]:
    """The parsed request (as Bolt will see it), or MalformedBody."""
    kind = media_type(content_type)
    if kind not in (FORM, JSON):
        raise MalformedBody("unsupported content type")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedBody("body is not UTF-8") from None
    if not text.strip():
        raise MalformedBody("empty body")
    if kind == JSON or text.startswith("{"):
        parsed = _json_object(text)
        _check_shape(parsed)
        _check_envelope(parsed)
        return parsed
    fields = dict(parse_qsl(text, keep_blank_values=True))
    if "payload" in text:  # Bolt looks for the word, not the field
        if "payload" not in fields:
            raise MalformedBody("form without a payload field")
        parsed = _json_object(fields["payload"])
        _check_shape(parsed)
        _check_interaction(parsed)
        return parsed
    if "ssl_check" in fields:
        return fields
    if not fields.get("command", "").startswith("/"):
        raise MalformedBody("form is neither a command nor an interaction")
    for key in COMMAND_FIELDS:
        if not fields.get(key):
            raise MalformedBody(f"command without {key}")
    _check_url(fields["response_url"])
    return fields


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise MalformedBody("invalid JSON") from None
    if not isinstance(value, dict):
        raise MalformedBody("JSON is not an object")
    return value


# Keys whose values Bolt and the listeners read with a fixed type wherever they appear. (`id`, `ts`,
# `type` and `value` are not among them: legacy message attachments carry numbers there; they are
# checked only where they are read, by `_check_read_fields`.)
_OBJECT_OR_ID = frozenset({"team", "user", "channel", "enterprise"})
_OBJECTS = frozenset(
    {
        "view",
        "container",
        "message",
        "previous_message",
        "item",
        "state",
        "function_data",
        "assistant_thread",
        "tokens",
        "workflow_step",
        "selected_option",
    }
)
_LISTS_OF_OBJECTS = frozenset({"actions", "authorizations", "selected_options", "blocks", "response_urls"})
_STRINGS = frozenset(
    {
        "thread_ts",
        "trigger_id",
        "response_url",
        "callback_id",
        "action_id",
        "block_id",
        "api_app_id",
        "token",
        "user_team",
        "private_metadata",
        "hash",
        "team_id",
        "user_id",
        "channel_id",
        "enterprise_id",
        "app_installed_team_id",
        "root_view_id",
        "previous_view_id",
        "external_id",
        "event_id",
        "subtype",
        "tab",
        "channel_type",
        "selected_date",
        "selected_user",
        "selected_channel",
        "selected_conversation",
        "challenge",
    }
)
_LISTS_OF_STRINGS = frozenset({"selected_users", "selected_channels", "selected_conversations"})


def _walk(value: Any, depth: int = 0) -> Iterator[tuple[str, Any, int]]:
    """Every (key, value, depth) of the JSON tree, without recursion (a hostile body is deep)."""
    stack: list[tuple[Any, int]] = [(value, depth)]
    while stack:
        node, level = stack.pop()
        if level > MAX_DEPTH:
            raise MalformedBody("JSON nested too deeply")
        if isinstance(node, dict):
            for key, item in node.items():
                yield key, item, level
                if isinstance(item, (dict, list)):
                    stack.append((item, level + 1))
        elif isinstance(node, list):
            stack.extend((item, level + 1) for item in node if isinstance(item, (dict, list)))


def _check_shape(payload: Mapping[str, Any]) -> None:
    for key, value, _ in _walk(payload):
        if value is None:
            continue
        if key in _OBJECT_OR_ID and not isinstance(value, (dict, str)):
            raise MalformedBody(f"{key} is neither an object nor an id")
        if key in _OBJECTS and not isinstance(value, dict):
            raise MalformedBody(f"{key} is not an object")
        if key in _LISTS_OF_OBJECTS and not (
            isinstance(value, list) and all(isinstance(item, dict) for item in value)
        ):
            raise MalformedBody(f"{key} is not a list of objects")
        if key in _LISTS_OF_STRINGS and not (
            isinstance(value, list) and all(isinstance(item, str) for item in value)
        ):
            raise MalformedBody(f"{key} is not a list of strings")
        if key in _STRINGS and not isinstance(value, str):
            raise MalformedBody(f"{key} is not a string")
        if key == "response_url":
            _check_url(value)
    _check_read_fields(payload)
    if isinstance(payload.get("event"), dict):
        _check_read_fields(payload["event"])


def _check_read_fields(payload: Mapping[str, Any]) -> None:
    """The ids, types and values that Bolt and the listeners read from a payload (or its event)."""
    for key in ("type", "ts", "value"):
        _string_or_absent(payload, key)
    for key in ("team", "user", "channel", "enterprise", "view", "container"):
        if isinstance(payload.get(key), dict):
            _string_or_absent(payload[key], "id")
            _string_or_absent(payload[key], "type")
    if isinstance(payload.get("message"), dict):
        for key in ("ts", "thread_ts", "text", "type"):
            _string_or_absent(payload["message"], key)
    for action in payload.get("actions") or []:
        for key in ("type", "value", "action_id", "block_id", "action_ts"):
            _string_or_absent(action, key)
        if isinstance(action.get("selected_option"), dict):
            _string_or_absent(action["selected_option"], "value")


def _string_or_absent(payload: Mapping[str, Any], key: str) -> None:
    if payload.get(key) is not None and not isinstance(payload[key], str):
        raise MalformedBody(f"{key} is not a string")


def _check_url(value: Any) -> None:
    """A response_url is where the bot will post: an absolute http(s) URL (Slack's are https)."""
    try:
        parts = urlsplit(value) if isinstance(value, str) else None
        valid = parts is not None and parts.scheme in ("http", "https") and bool(parts.hostname)
        if valid and parts is not None:
            parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError:
        valid = False
    if not valid:
        raise MalformedBody("response_url is not a URL")


def _require(payload: Mapping[str, Any], key: str, kind: type) -> Any:
    value = payload.get(key)
    if not isinstance(value, kind):
        raise MalformedBody(f"{key} is missing")
    return value


def _check_envelope(payload: Mapping[str, Any]) -> None:
    """Events API bodies (JSON)."""
    kind = _require(payload, "type", str)
    if kind == "url_verification":
        _require(payload, "challenge", str)
    elif kind == "event_callback":
        event = _require(payload, "event", dict)
        _require(event, "type", str)
    elif kind not in ("app_rate_limited",):
        raise MalformedBody("unknown Events API type")


def _check_interaction(payload: Mapping[str, Any]) -> None:
    """Interactivity and options bodies (form `payload`)."""
    kind = _require(payload, "type", str)
    if kind in ("block_actions", "interactive_message"):
        actions = _require(payload, "actions", list)
        if not actions:
            raise MalformedBody("actions is empty")
        for action in actions:
            _require(action, "action_id" if kind == "block_actions" else "name", str)
    if kind in ("view_submission", "view_closed"):
        view = _require(payload, "view", dict)
        _require(view, "id", str)
        _require(view, "callback_id", str)
        _require(view, "type", str)  # Bolt reads it to tell workflow steps from modals
    if kind in ("shortcut", "message_action"):
        _require(payload, "callback_id", str)
    if kind == "message_action":
        _require(payload, "response_url", str)
    if kind == "block_suggestion":
        _require(payload, "action_id", str)
    container = payload.get("container")
    if kind == "block_actions" and isinstance(container, dict) and container.get("type") == "view":
        view = _require(payload, "view", dict)
        _require(view, "id", str)
    if kind == "block_actions" and isinstance(container, dict) and container.get("type") == "message":
        _require(payload, "response_url", str)
