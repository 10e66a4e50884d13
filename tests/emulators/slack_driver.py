"""Plays Slack's side towards the bot: signed HTTP requests to ``{bot_url}/slack/events``.

Synchronous (the bot runs in its own thread). Each request carries what Slack would send: a
``trigger_id`` and ``response_url`` issued by the :class:`~tests.emulators.slack.SlackEmulator`, the
user and team, and the view or message as the emulator stores it. It also behaves like the Slack
client: it only clicks elements that exist, only submits open views with their required inputs
filled, and applies the bot's ack to a view submission (``response_action``) or slash command
(an immediate message) to the emulator.

    driver = SlackDriver(bot.url, SIGNING_SECRET, emu)
    result = driver.slash_command("U0ALICE01", "create")
    view = emu.wait_for(lambda: emu.current_view("U0ALICE01"))
    driver.submit_view("U0ALICE01", view, {"summary": "Printer on fire"})
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx

from tests.emulators.slack import SlackEmulator, public_message, validate_options_response
from tests.tls import CONTEXT as TLS

ACK_DEADLINE = 3.0
"""Seconds Slack waits for an ack before showing the user an error."""

_TEXT_VALUE_ELEMENTS = {"plain_text_input", "email_text_input", "url_text_input", "number_input"}
_SINGLE_OPTION_ELEMENTS = {"static_select", "external_select", "radio_buttons"}
_MULTI_OPTION_ELEMENTS = {"multi_static_select", "multi_external_select", "checkboxes"}
_ID_SELECTS = {
    "users_select": ("selected_user", "initial_user"),
    "conversations_select": ("selected_conversation", "initial_conversation"),
    "channels_select": ("selected_channel", "initial_channel"),
}
_MULTI_ID_SELECTS = {
    "multi_users_select": ("selected_users", "initial_users"),
    "multi_conversations_select": ("selected_conversations", "initial_conversations"),
    "multi_channels_select": ("selected_channels", "initial_channels"),
}
_PICKERS = {
    "datepicker": ("selected_date", "initial_date"),
    "timepicker": ("selected_time", "initial_time"),
    "datetimepicker": ("selected_date_time", "initial_date_time"),
}


# --------------------------------------------------------------------------------------------
# state.values helpers
# --------------------------------------------------------------------------------------------


def plain_option(text: str, value: str | None = None) -> dict[str, Any]:
    """An option object as Slack sends it back."""
    return {
        "text": {"type": "plain_text", "text": text, "emoji": True},
        "value": value if value is not None else text,
    }


def state_value_text(value: str | None, type: str = "plain_text_input") -> dict[str, Any]:
    return {"type": type, "value": value}


def state_value_option(text: str, value: str | None = None, type: str = "static_select") -> dict[str, Any]:
    return {"type": type, "selected_option": plain_option(text, value)}


def state_value_options(options: list[tuple[str, str]], type: str = "multi_static_select") -> dict[str, Any]:
    return {"type": type, "selected_options": [plain_option(t, v) for t, v in options]}


def state_value_user(user_id: str | None) -> dict[str, Any]:
    return {"type": "users_select", "selected_user": user_id}


def state_value_date(date: str | None) -> dict[str, Any]:
    return {"type": "datepicker", "selected_date": date}


def _empty_value(element: dict[str, Any]) -> dict[str, Any]:
    kind = element["type"]
    if kind in _TEXT_VALUE_ELEMENTS:
        return {"type": kind, "value": None}
    if kind == "rich_text_input":
        return {"type": kind, "rich_text_value": None}
    if kind in _SINGLE_OPTION_ELEMENTS:
        return {"type": kind, "selected_option": None}
    if kind in _MULTI_OPTION_ELEMENTS:
        return {"type": kind, "selected_options": []}
    if kind in _ID_SELECTS:
        return {"type": kind, _ID_SELECTS[kind][0]: None}
    if kind in _MULTI_ID_SELECTS:
        return {"type": kind, _MULTI_ID_SELECTS[kind][0]: []}
    if kind in _PICKERS:
        return {"type": kind, _PICKERS[kind][0]: None}
    if kind == "file_input":
        return {"type": kind, "files": []}
    return {"type": kind}


def _initial_value(element: dict[str, Any]) -> dict[str, Any]:
    """What Slack reports for an input the user left as the app initialised it."""
    kind = element["type"]
    value = _empty_value(element)
    if kind in _TEXT_VALUE_ELEMENTS and element.get("initial_value"):
        value["value"] = element["initial_value"]
    elif kind == "rich_text_input" and element.get("initial_value"):
        value["rich_text_value"] = element["initial_value"]
    elif kind in _SINGLE_OPTION_ELEMENTS and element.get("initial_option"):
        value["selected_option"] = copy.deepcopy(element["initial_option"])
    elif kind in _MULTI_OPTION_ELEMENTS and element.get("initial_options"):
        value["selected_options"] = copy.deepcopy(element["initial_options"])
    elif kind in _ID_SELECTS and element.get(_ID_SELECTS[kind][1]):
        value[_ID_SELECTS[kind][0]] = element[_ID_SELECTS[kind][1]]
    elif kind in _MULTI_ID_SELECTS and element.get(_MULTI_ID_SELECTS[kind][1]):
        value[_MULTI_ID_SELECTS[kind][0]] = list(element[_MULTI_ID_SELECTS[kind][1]])
    elif kind in _PICKERS and element.get(_PICKERS[kind][1]) is not None:
        value[_PICKERS[kind][0]] = element[_PICKERS[kind][1]]
    return value


def _has_value(value: dict[str, Any]) -> bool:
    for key, item in value.items():
        if key != "type" and item not in (None, "", [], {}):
            return True
    return False


def _static_options(element: dict[str, Any]) -> list[dict[str, Any]]:
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options.extend(group.get("options") or [])
    return options


def _find_option(element: dict[str, Any], raw: Any) -> dict[str, Any]:
    """The option a user picks: given as an option object, its value, or its text."""
    kind = element["type"]
    if kind in ("external_select", "multi_external_select"):
        if isinstance(raw, dict):
            return copy.deepcopy(raw)
        return plain_option(str(raw))
    options = _static_options(element)
    for option in options:
        text = option.get("text", {}).get("text")
        if isinstance(raw, dict):
            if option.get("value") == raw.get("value"):
                return copy.deepcopy(option)
        elif raw in (option.get("value"), text):
            return copy.deepcopy(option)
    offered = [o.get("value") for o in options]
    raise ValueError(f"{raw!r} is not an option of {element.get('action_id')!r}; options: {offered}")


def coerce_value(element: dict[str, Any], raw: Any) -> dict[str, Any]:
    """A state value object for ``element``, from a full value object or a plain Python value.

    Strings for text inputs; an option's value, text or object for selects, radio buttons and
    checkboxes (lists for multi-selects); ids for user/conversation/channel selects.
    """
    kind = element["type"]
    if isinstance(raw, dict) and raw.get("type") == kind:
        return copy.deepcopy(raw)
    if isinstance(raw, dict) and "type" in raw and "text" not in raw:
        raise ValueError(f"value of type {raw['type']!r} given for a {kind} element")
    value = _empty_value(element)
    if kind in _TEXT_VALUE_ELEMENTS:
        value["value"] = None if raw is None else str(raw)
    elif kind == "rich_text_input":
        value["rich_text_value"] = (
            raw
            if isinstance(raw, dict)
            else {
                "type": "rich_text",
                "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": str(raw)}]}],
            }
        )
    elif kind in _SINGLE_OPTION_ELEMENTS:
        value["selected_option"] = None if raw is None else _find_option(element, raw)
    elif kind in _MULTI_OPTION_ELEMENTS:
        items = raw if isinstance(raw, list) else [raw]
        value["selected_options"] = [_find_option(element, item) for item in items]
    elif kind in _ID_SELECTS:
        value[_ID_SELECTS[kind][0]] = raw
    elif kind in _MULTI_ID_SELECTS:
        value[_MULTI_ID_SELECTS[kind][0]] = list(raw if isinstance(raw, list) else [raw])
    elif kind in _PICKERS:
        value[_PICKERS[kind][0]] = raw
    elif kind == "file_input":
        value["files"] = list(raw if isinstance(raw, list) else [raw])
    else:
        raise ValueError(f"a {kind} element holds no value")
    return value


def _elements(blocks: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(block, element) for every interactive element in blocks."""
    found: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for block in blocks:
        candidates: list[Any] = []
        if isinstance(block.get("accessory"), dict):
            candidates.append(block["accessory"])
        if isinstance(block.get("element"), dict):
            candidates.append(block["element"])
        if block.get("type") == "actions":
            candidates.extend(block.get("elements") or [])
        for element in candidates:
            if isinstance(element, dict) and element.get("action_id"):
                found.append((block, element))
    return found


def _find_element(
    blocks: list[dict[str, Any]], action_id: str, block_id: str | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    for block, element in _elements(blocks):
        if element.get("action_id") == action_id and block_id in (None, block.get("block_id")):
            return block, element
    present = [(b.get("block_id"), e.get("action_id")) for b, e in _elements(blocks)]
    raise AssertionError(
        f"no element with action_id={action_id!r}"
        + (f" in block {block_id!r}" if block_id else "")
        + f"; the user sees (block_id, action_id): {present}"
    )


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


@dataclass
class SlackResult:
    """The bot's answer to one request from "Slack"."""

    response: httpx.Response
    elapsed: float
    """Seconds from sending the request to receiving the ack."""
    payload: Any = None
    """What was sent (the decoded payload or form fields)."""
    trigger_id: str | None = None
    response_url: str | None = None
    view_id: str | None = None
    problems: list[str] = field(default_factory=list)
    """What Slack would have refused in the bot's ack (bad response_action, invalid blocks …)."""

    @property
    def status_code(self) -> int:
        return self.response.status_code

    @property
    def text(self) -> str:
        return self.response.text

    def json(self) -> Any:
        """The ack body as JSON; None when it is empty."""
        if not self.response.content:
            return None
        return self.response.json()

    @property
    def acked_in_time(self) -> bool:
        return self.response.status_code == 200 and self.elapsed < ACK_DEADLINE

    @property
    def response_action(self) -> str | None:
        try:
            body = self.json()
        except ValueError:
            return None
        return body.get("response_action") if isinstance(body, dict) else None


# --------------------------------------------------------------------------------------------
# The driver
# --------------------------------------------------------------------------------------------


class SlackDriver:
    """Sends the bot what Slack would send, signed with its signing secret."""

    def __init__(
        self,
        bot_url: str,
        signing_secret: str,
        emulator: SlackEmulator,
        team_id: str | None = None,
        api_app_id: str | None = None,
        *,
        verification_token: str = "vErIfIcAtIoNtOkEn000000",
        path: str = "/slack/events",
        timeout: float = 15.0,
    ) -> None:
        self.bot_url = bot_url.rstrip("/")
        self.events_url = f"{self.bot_url}{path}"
        self.signing_secret = signing_secret
        self.emulator = emulator
        self.team_id = team_id or emulator.team_id
        self.api_app_id = api_app_id or emulator.app_id
        self.verification_token = verification_token
        self.client = httpx.Client(timeout=timeout, verify=TLS)
        self.last: SlackResult | None = None
        self._typed: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> SlackDriver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transport -------------------------------------------------------------------------

    def signature_headers(
        self, body: bytes, *, timestamp: int | None = None, secret: str | None = None
    ) -> dict[str, str]:
        """``X-Slack-Request-Timestamp`` and ``X-Slack-Signature`` (v0) for ``body``."""
        ts = str(int(time.time()) if timestamp is None else timestamp)
        base = b"v0:" + ts.encode() + b":" + body
        key = (self.signing_secret if secret is None else secret).encode()
        digest = hmac.new(key, base, hashlib.sha256).hexdigest()
        return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}

    def post_raw(
        self,
        body: bytes,
        headers: dict[str, str] | None = None,
        *,
        content_type: str = "application/x-www-form-urlencoded",
        sign: bool = True,
        secret: str | None = None,
        timestamp: int | None = None,
        retry_num: int | None = None,
        retry_reason: str | None = None,
    ) -> SlackResult:
        """POST ``body`` to the bot. ``sign=False`` sends it unsigned; ``secret`` signs with
        another secret; ``timestamp`` (e.g. ``time.time() - 600``) signs with an old one;
        ``retry_num``/``retry_reason`` add Slack's retry headers."""
        all_headers = {
            "Content-Type": content_type,
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        }
        if sign:
            all_headers.update(self.signature_headers(body, timestamp=timestamp, secret=secret))
        if retry_num is not None:
            all_headers["X-Slack-Retry-Num"] = str(retry_num)
            all_headers["X-Slack-Retry-Reason"] = retry_reason or "http_timeout"
        all_headers.update(headers or {})
        started = time.perf_counter()
        response = self.client.post(self.events_url, content=body, headers=all_headers)
        elapsed = time.perf_counter() - started
        result = SlackResult(response=response, elapsed=elapsed)
        self.last = result
        return result

    def _post_form(self, fields: dict[str, str], **send: Any) -> SlackResult:
        return self.post_raw(urlencode(fields).encode(), **send)

    def _post_payload(self, payload: dict[str, Any], **send: Any) -> SlackResult:
        body = urlencode({"payload": json.dumps(payload, separators=(",", ":"))}).encode()
        result = self.post_raw(body, **send)
        result.payload = payload
        return result

    # -- shared payload parts --------------------------------------------------------------

    def _user(self, user_id: str) -> dict[str, Any]:
        name = self.emulator.user_name(user_id)
        return {"id": user_id, "username": name, "name": name, "team_id": self.team_id}

    def _team(self) -> dict[str, Any]:
        return {"id": self.team_id, "domain": self.emulator.team(self.team_id)["domain"]}

    def _common(self, kind: str, user_id: str) -> dict[str, Any]:
        return {
            "type": kind,
            "token": self.verification_token,
            "team": self._team(),
            "user": self._user(user_id),
            "api_app_id": self.api_app_id,
            "is_enterprise_install": False,
            "enterprise": None,
        }

    @staticmethod
    def _action_ts() -> str:
        return f"{time.time():.6f}"

    # -- commands and shortcuts ------------------------------------------------------------

    def slash_command(
        self,
        user_id: str,
        text: str,
        command: str = "/jira",
        channel_id: str = "C0GENERAL",
        channel_name: str | None = None,
        **send: Any,
    ) -> SlackResult:
        """Run ``{command} {text}``. A body in the ack is shown (and checked) like Slack does."""
        trigger_id = self.emulator.new_trigger_id(user_id, team_id=self.team_id)
        response_url = self.emulator.new_response_url(
            channel_id=channel_id, user_id=user_id, team_id=self.team_id
        )
        fields = {
            "token": self.verification_token,
            "team_id": self.team_id,
            "team_domain": self.emulator.team(self.team_id)["domain"],
            "channel_id": channel_id,
            "channel_name": channel_name or self.emulator.channel_name(channel_id),
            "user_id": user_id,
            "user_name": self.emulator.user_name(user_id),
            "command": command,
            "text": text,
            "api_app_id": self.api_app_id,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id,
        }
        result = self._post_form(fields, **send)
        result.payload = fields
        result.trigger_id = trigger_id
        result.response_url = response_url
        if result.status_code == 200 and result.response.content:
            try:
                body: Any = result.response.json()
            except ValueError:
                body = result.text
            result.problems = self.emulator.apply_command_ack(channel_id, user_id, body)
        return result

    def message_shortcut(
        self,
        user_id: str,
        channel_id: str,
        message: dict[str, Any],
        callback_id: str = "create_jira_issue",
        **send: Any,
    ) -> SlackResult:
        """Run a message shortcut on ``message`` (text, user, ts, blocks, files…).

        The message is seeded into the emulator (given a ts if it has none), so that
        chat.getPermalink works on it.
        """
        seeded = self.emulator.add_message(
            channel_id,
            message.get("text", ""),
            message.get("user", user_id),
            ts=message.get("ts"),
            thread_ts=message.get("thread_ts"),
            blocks=message.get("blocks"),
            files=message.get("files"),
        )
        slack_message = public_message(seeded)
        for key, value in message.items():
            slack_message.setdefault(key, copy.deepcopy(value))
        slack_message.setdefault("client_msg_id", str(uuid.uuid4()))
        trigger_id = self.emulator.new_trigger_id(user_id, team_id=self.team_id)
        response_url = self.emulator.new_response_url(
            channel_id=channel_id, user_id=user_id, team_id=self.team_id
        )
        payload = {
            **self._common("message_action", user_id),
            "action_ts": self._action_ts(),
            "callback_id": callback_id,
            "trigger_id": trigger_id,
            "response_url": response_url,
            "message_ts": slack_message["ts"],
            "message": slack_message,
            "channel": {"id": channel_id, "name": self.emulator.channel_name(channel_id)},
        }
        result = self._post_payload(payload, **send)
        result.trigger_id = trigger_id
        result.response_url = response_url
        return result

    def global_shortcut(self, user_id: str, callback_id: str, **send: Any) -> SlackResult:
        trigger_id = self.emulator.new_trigger_id(user_id, team_id=self.team_id)
        payload = {
            **self._common("shortcut", user_id),
            "action_ts": self._action_ts(),
            "callback_id": callback_id,
            "trigger_id": trigger_id,
        }
        result = self._post_payload(payload, **send)
        result.trigger_id = trigger_id
        return result

    # -- interactions in messages and views ------------------------------------------------

    def _fresh_view(self, view: dict[str, Any] | str, *, require_open: bool = True) -> dict[str, Any]:
        view_id = view if isinstance(view, str) else view.get("id")
        if not view_id:
            raise ValueError("pass the view as the emulator stores it (with its id), or its id")
        fresh = self.emulator.view(view_id)
        if require_open and not self.emulator.is_view_open(view_id):
            raise AssertionError(f"view {view_id} is not open: the user cannot interact with it")
        return fresh

    def _fresh_message(self, message: dict[str, Any], channel_id: str | None) -> dict[str, Any]:
        channel = message.get("channel") or channel_id
        if not channel or not message.get("ts"):
            raise ValueError("the message needs its channel (or pass channel_id) and ts")
        if message.get("is_ephemeral"):
            fresh = self.emulator.ephemeral(channel, message["ts"])
            if fresh is None or fresh.get("deleted"):
                raise AssertionError(f"ephemeral message {message['ts']} is gone")
        else:
            fresh = self.emulator.message(channel, message["ts"])
            if fresh is None:
                raise AssertionError(f"message {message['ts']} is not in {channel}")
        return fresh

    def _view_with_state(self, view: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
        view = copy.deepcopy(view)
        view["state"] = {"values": copy.deepcopy(values)}
        return view

    def _block_action(
        self,
        user_id: str,
        action: dict[str, Any],
        *,
        message: dict[str, Any] | None,
        view: dict[str, Any] | str | None,
        channel_id: str | None,
        state_values: dict[str, Any] | None = None,
        **send: Any,
    ) -> SlackResult:
        if (message is None) == (view is None):
            raise ValueError("pass exactly one of message= or view=")
        payload = self._common("block_actions", user_id)
        response_url = None
        view_id = None
        if view is not None:
            fresh = self._fresh_view(view)
            view_id = fresh["id"]
            values = copy.deepcopy(self._typed.get(view_id, {}))
            for block_id, by_action in (state_values or {}).items():
                values.setdefault(block_id, {}).update(by_action)
            payload["container"] = {"type": "view", "view_id": view_id}
            payload["view"] = self._view_with_state(fresh, values)
        else:
            assert message is not None
            fresh = self._fresh_message(message, channel_id)
            channel = fresh["channel"]
            ephemeral = bool(fresh.get("is_ephemeral"))
            response_url = self.emulator.new_response_url(
                channel_id=channel,
                user_id=user_id,
                message_ts=fresh["ts"],
                ephemeral=ephemeral,
                team_id=self.team_id,
            )
            payload["container"] = {
                "type": "message",
                "message_ts": fresh["ts"],
                "channel_id": channel,
                "is_ephemeral": ephemeral,
            }
            payload["channel"] = {"id": channel, "name": self.emulator.channel_name(channel)}
            if not ephemeral:
                payload["message"] = public_message(fresh)
            payload["state"] = {"values": copy.deepcopy(state_values or {})}
            payload["response_url"] = response_url
        trigger_id = self.emulator.new_trigger_id(user_id, view_id=view_id, team_id=self.team_id)
        payload["trigger_id"] = trigger_id
        payload["actions"] = [action]
        result = self._post_payload(payload, **send)
        result.trigger_id = trigger_id
        result.response_url = response_url
        result.view_id = view_id
        return result

    def _surface_blocks(
        self,
        message: dict[str, Any] | None,
        view: dict[str, Any] | str | None,
        channel_id: str | None,
    ) -> list[dict[str, Any]]:
        if view is not None:
            return list(self._fresh_view(view).get("blocks") or [])
        if message is not None:
            return list(self._fresh_message(message, channel_id).get("blocks") or [])
        raise ValueError("pass exactly one of message= or view=")

    def click_button(
        self,
        user_id: str,
        action: dict[str, Any],
        *,
        message: dict[str, Any] | None = None,
        view: dict[str, Any] | str | None = None,
        channel_id: str | None = None,
        **send: Any,
    ) -> SlackResult:
        """Click the button ``action["action_id"]`` (optionally ``block_id``) in a message or view.

        The button must exist there; its block_id, text, value, url and style are filled in from
        it, with anything in ``action`` taking precedence. A button with a ``confirm`` dialog is
        clicked as if the user confirmed.
        """
        blocks = self._surface_blocks(message, view, channel_id)
        block, element = _find_element(blocks, action["action_id"], action.get("block_id"))
        if element.get("type") not in ("button", "workflow_button"):
            raise AssertionError(f"{action['action_id']!r} is a {element.get('type')}, not a button")
        full: dict[str, Any] = {
            "type": "button",
            "action_id": element["action_id"],
            "block_id": block.get("block_id"),
            "text": copy.deepcopy(element.get("text")),
            "action_ts": self._action_ts(),
        }
        for key in ("value", "url", "style"):
            if key in element:
                full[key] = element[key]
        full.update(action)
        return self._block_action(user_id, full, message=message, view=view, channel_id=channel_id, **send)

    def select_option(
        self,
        user_id: str,
        view: dict[str, Any] | str | None,
        action_id: str,
        block_id: str | None,
        selected_option: Any,
        *,
        message: dict[str, Any] | None = None,
        channel_id: str | None = None,
        **send: Any,
    ) -> SlackResult:
        """Pick an option (object, value or text) of a select, radio or checkbox element.

        Slack only sends this for elements outside input blocks, or in input blocks with
        ``dispatch_action``. The choice is remembered and sent again on submission.
        """
        blocks = self._surface_blocks(message, view, channel_id)
        block, element = _find_element(blocks, action_id, block_id)
        if block.get("type") == "input" and not block.get("dispatch_action"):
            raise AssertionError(
                f"Slack sends no block_actions for {action_id!r}: it is in an input block "
                "without dispatch_action (its value only arrives with the submission)"
            )
        value = coerce_value(element, selected_option)
        action = {
            **value,
            "action_id": action_id,
            "block_id": block.get("block_id"),
            "action_ts": self._action_ts(),
        }
        if "placeholder" in element:
            action["placeholder"] = copy.deepcopy(element["placeholder"])
        state: dict[str, Any] = {}
        if view is not None:
            view_id = view if isinstance(view, str) else view["id"]
            typed = self._typed.setdefault(view_id, {})
            typed.setdefault(block["block_id"], {})[action_id] = value
        else:
            state = {block["block_id"]: {action_id: value}}
        return self._block_action(
            user_id,
            action,
            message=message,
            view=view,
            channel_id=channel_id,
            state_values=state,
            **send,
        )

    def options(
        self,
        user_id: str,
        view: dict[str, Any] | str,
        action_id: str,
        block_id: str | None,
        value: str,
        *,
        strict: bool = True,
        **send: Any,
    ) -> Any:
        """Type ``value`` into an external select; return the bot's options JSON.

        With ``strict`` the answer must come in time and be options Slack would show.
        """
        fresh = self._fresh_view(view)
        block, element = _find_element(fresh["blocks"], action_id, block_id)
        if element["type"] not in ("external_select", "multi_external_select"):
            raise AssertionError(f"{action_id!r} is a {element['type']}, not an external select")
        min_query = element.get("min_query_length", 3)
        if len(value) < min_query:
            raise AssertionError(
                f"Slack sends no block_suggestion for {value!r}: min_query_length is {min_query}"
            )
        payload = {
            **self._common("block_suggestion", user_id),
            "container": {"type": "view", "view_id": fresh["id"]},
            "action_id": action_id,
            "block_id": block.get("block_id"),
            "value": value,
            "view": self._view_with_state(fresh, self._typed.get(fresh["id"], {})),
        }
        result = self._post_payload(payload, **send)
        result.view_id = fresh["id"]
        body = result.json() if result.response.content else None
        if strict:
            if not result.acked_in_time:
                raise AssertionError(f"options answered {result.status_code} after {result.elapsed:.2f}s")
            errors = validate_options_response(body)
            if errors:
                raise AssertionError(f"Slack would not show these options: {errors}")
        return body

    def submit_view(
        self,
        user_id: str,
        view: dict[str, Any] | str,
        values: dict[str, Any] | None = None,
        *,
        force: bool = False,
        **send: Any,
    ) -> SlackResult:
        """Submit a modal with ``values``: ``{block_id: {action_id: value}}`` or, for a block
        with one element, ``{block_id: value}``. A value is a state value object or a plain
        value (see :func:`coerce_value`). Inputs not given keep their initial value.

        Like the Slack client, refuses (AssertionError) to submit a view that is closed or not on
        top, or with a required input empty or a text outside min/max length; ``force`` skips
        these checks. The bot's ack is then applied to the emulator; ``result.problems`` lists
        what Slack would have refused in it.
        """
        fresh = self._fresh_view(view, require_open=not force)
        view_id = fresh["id"]
        if not force:
            stack = self.emulator.view_stack(view_id)
            if stack and stack[-1] != view_id:
                raise AssertionError(f"view {view_id} is covered by {stack[-1]}")
            if fresh["type"] != "modal" or not fresh.get("submit"):
                raise AssertionError(f"view {view_id} has no submit button")
            if fresh.get("submit_disabled"):
                raise AssertionError(f"view {view_id} has its submit button disabled")
        state = self._submission_state(fresh, values or {}, check=not force)
        trigger_id = self.emulator.new_trigger_id(user_id, view_id=view_id, team_id=self.team_id)
        payload = {
            **self._common("view_submission", user_id),
            "trigger_id": trigger_id,
            "view": self._view_with_state(fresh, state),
            "response_urls": [],
        }
        result = self._post_payload(payload, **send)
        result.trigger_id = trigger_id
        result.view_id = view_id
        result.problems = self._apply_submission_ack(view_id, result)
        return result

    def _submission_state(
        self, view: dict[str, Any], values: dict[str, Any], *, check: bool
    ) -> dict[str, dict[str, Any]]:
        elements = {
            (str(block.get("block_id")), str(element.get("action_id"))): (block, element)
            for block, element in _elements(view.get("blocks") or [])
        }
        given: dict[tuple[str, str], Any] = {}
        for block_id, entry in values.items():
            in_block = [key for key in elements if key[0] == block_id]
            if not in_block:
                present = sorted({key[0] for key in elements if key[0]})
                raise ValueError(f"no block {block_id!r} with inputs in the view; blocks: {present}")
            action_ids = {key[1] for key in in_block}
            if isinstance(entry, dict) and entry and set(entry) <= action_ids:
                for action_id, raw in entry.items():
                    given[(block_id, action_id)] = raw
            elif len(in_block) == 1:
                given[in_block[0]] = entry
            else:
                raise ValueError(f"block {block_id!r} has several elements: key values by action_id")

        typed = self._typed.get(view["id"], {})
        state: dict[str, dict[str, Any]] = {}
        missing: list[str] = []
        for (block_id, action_id), (block, element) in elements.items():
            if (block_id, action_id) in given:
                value = coerce_value(element, given[(block_id, action_id)])
            elif action_id in typed.get(block_id, {}):
                value = copy.deepcopy(typed[block_id][action_id])
            elif block.get("type") == "input":
                value = _initial_value(element)
            else:
                continue
            state.setdefault(block_id, {})[action_id] = value
            if block.get("type") != "input" or not check:
                continue
            label = block.get("label", {}).get("text", block_id)
            if not block.get("optional") and not _has_value(value):
                missing.append(f"{label!r} ({block_id}) is required")
            text = value.get("value")
            if element["type"] == "plain_text_input" and text:
                if "min_length" in element and len(text) < element["min_length"]:
                    missing.append(f"{label!r} needs at least {element['min_length']} characters")
                if len(text) > element.get("max_length", 3000):
                    missing.append(f"{label!r} allows at most {element.get('max_length', 3000)}")
        if missing:
            raise AssertionError("the Slack client would not submit: " + "; ".join(missing))
        return state

    def _apply_submission_ack(self, view_id: str, result: SlackResult) -> list[str]:
        if result.status_code != 200:
            return [f"the ack was HTTP {result.status_code}; Slack shows an error in the modal"]
        if result.elapsed >= ACK_DEADLINE:
            return [f"the ack took {result.elapsed:.2f}s; Slack gave up after {ACK_DEADLINE}s"]
        ack: Any = None
        if result.response.content:
            try:
                ack = result.response.json()
            except ValueError:
                return ["the ack body is not JSON"]
            if not isinstance(ack, dict):
                return ["the ack body is not a JSON object"]
        problems = self.emulator.apply_view_submission_ack(view_id, ack)
        if ack is None or not problems:
            self._typed.pop(view_id, None)
        return problems

    def close_view(
        self, user_id: str, view: dict[str, Any] | str, *, back: bool = False, **send: Any
    ) -> SlackResult | None:
        """The user closes the modal (X): the whole stack closes. ``back=True``: the user
        presses the close ("Back") button of the pushed view on top, which pops only that view.

        Sends ``view_closed`` for the view on top only if it asked (``notify_on_close``), as
        Slack does; returns None otherwise."""
        fresh = self._fresh_view(view)
        stack = self.emulator.view_stack(fresh["id"])
        top = self.emulator.view(stack[-1]) if stack else fresh
        if back and top["id"] != fresh["id"]:
            raise AssertionError(f"view {fresh['id']} is covered by {top['id']}: no Back button for it")
        closed = self.emulator.close_view(fresh["id"], back=back)
        for view_id in closed:
            self._typed.pop(view_id, None)
        if not top.get("notify_on_close"):
            return None
        payload = {
            **self._common("view_closed", user_id),
            "view": self._view_with_state(top, {}),
            "is_cleared": len(closed) > 1,
        }
        result = self._post_payload(payload, **send)
        result.view_id = fresh["id"]
        return result

    # -- Events API ------------------------------------------------------------------------

    def event(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        team_id: str | None = None,
        **send: Any,
    ) -> SlackResult:
        """Deliver ``event`` in an ``event_callback`` envelope."""
        team = team_id or self.team_id
        envelope = {
            "token": self.verification_token,
            "team_id": team,
            "context_team_id": team,
            "context_enterprise_id": None,
            "api_app_id": self.api_app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": team,
                    "user_id": self.emulator.team(team)["bot_user_id"],
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": f"4-{uuid.uuid4().hex}",
        }
        result = self.post_raw(json.dumps(envelope).encode(), content_type="application/json", **send)
        result.payload = envelope
        return result

    def link_shared(
        self,
        user_id: str,
        urls: list[str],
        channel_id: str = "C0GENERAL",
        *,
        source: str = "conversations_history",
        **send: Any,
    ) -> SlackResult | None:
        """`user_id` posts `urls` in a channel; Slack sends ``link_shared`` for those on the app's
        unfurl domains (None, and no request, when there are none)."""
        event = self.emulator.share_links(channel_id, user_id, urls, source=source)
        if event is None:
            return None
        return self.event(event, **send)

    def message_options(
        self,
        user_id: str,
        message: dict[str, Any],
        action_id: str,
        value: str = "",
        *,
        block_id: str | None = None,
        channel_id: str | None = None,
        strict: bool = True,
        **send: Any,
    ) -> Any:
        """Open (or type into) an external select in a message; return the bot's options JSON."""
        fresh = self._fresh_message(message, channel_id)
        block, element = _find_element(fresh.get("blocks") or [], action_id, block_id)
        if element["type"] not in ("external_select", "multi_external_select"):
            raise AssertionError(f"{action_id!r} is a {element['type']}, not an external select")
        min_query = element.get("min_query_length", 3)
        if len(value) < min_query:
            raise AssertionError(
                f"Slack sends no block_suggestion for {value!r}: min_query_length is {min_query}"
            )
        ephemeral = bool(fresh.get("is_ephemeral"))
        payload = {
            **self._common("block_suggestion", user_id),
            "container": {
                "type": "message",
                "message_ts": fresh["ts"],
                "channel_id": fresh["channel"],
                "is_ephemeral": ephemeral,
            },
            "channel": {"id": fresh["channel"], "name": self.emulator.channel_name(fresh["channel"])},
            "action_id": action_id,
            "block_id": block.get("block_id"),
            "value": value,
        }
        if not ephemeral:
            payload["message"] = public_message(fresh)
        result = self._post_payload(payload, **send)
        body = result.json() if result.response.content else None
        if strict:
            if not result.acked_in_time:
                raise AssertionError(f"options answered {result.status_code} after {result.elapsed:.2f}s")
            errors = validate_options_response(body)
            if errors:
                raise AssertionError(f"Slack would not show these options: {errors}")
        return body

    def url_verification(self, challenge: str, **send: Any) -> SlackResult:
        body = {"token": self.verification_token, "challenge": challenge, "type": "url_verification"}
        result = self.post_raw(json.dumps(body).encode(), content_type="application/json", **send)
        result.payload = body
        return result
