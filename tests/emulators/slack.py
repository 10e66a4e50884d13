"""An emulator of the Slack Web API, strict enough that what passes here passes against Slack.

It serves (as a Starlette ASGI app, run with :class:`tests.emulators.live.LiveServer`):

* ``GET|POST /api/{method}``: the Web API methods the bot uses, with Slack's response shapes and
  error codes. Form-encoded (``blocks``, ``view`` and ``attachments`` as JSON strings), JSON (token
  only in ``Authorization: Bearer``) and multipart bodies; query parameters too.
* ``POST /response/{id}``: response URLs issued with :meth:`SlackEmulator.new_response_url`.
* ``GET /oauth/v2/authorize``: the install page; redirects at once with a code (or an error).

Every call is recorded (:attr:`SlackEmulator.calls`), and its effects kept as Slack would show
them (:attr:`SlackEmulator.messages`, :attr:`~SlackEmulator.ephemerals`,
:attr:`~SlackEmulator.views`, :attr:`~SlackEmulator.home_views`). Views and blocks are validated by
:func:`validate_view` and :func:`validate_blocks`, which tests may call directly.

Like Slack, stored views and messages get generated ``block_id`` / ``action_id`` values where the
app gave none; :attr:`SlackCall.params` keeps exactly what the app sent.

The emulator runs in the server's thread while tests read from theirs: state lives behind one lock,
and the public properties return copies.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import itertools
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import default as default_email_policy
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route, WebSocketRoute

from tests.emulators.live import LiveServer
from tests.emulators.slack_socket import SocketModeLink
from tests.emulators.slack_unfurl import SlackUnfurlMixin

T = TypeVar("T")

TRIGGER_TTL = 3.0
"""Seconds a trigger_id may be exchanged after Slack issued it."""
RESPONSE_URL_TTL = 30 * 60.0
RESPONSE_URL_MAX_USES = 5
OAUTH_CODE_TTL = 10 * 60.0
VIEW_MAX_BYTES = 250_000
VIEW_STACK_MAX = 3
MESSAGE_TEXT_MAX = 40_000
MESSAGE_BLOCKS_MAX = 50
VIEW_BLOCKS_MAX = 100
ATTACHMENTS_MAX = 100
DEFAULT_BOT_SCOPES = (
    "commands,chat:write,chat:write.public,im:write,users:read,users:read.email,"
    "channels:read,groups:read,im:read,mpim:read,team:read,links:read,links:write"
)
JSON_FIELDS = ("blocks", "attachments", "view", "metadata")


# --------------------------------------------------------------------------------------------
# Block Kit validation
# --------------------------------------------------------------------------------------------

SURFACES = ("message", "modal", "home")

SELECTS = {
    "static_select",
    "external_select",
    "users_select",
    "conversations_select",
    "channels_select",
}
MULTI_SELECTS = {f"multi_{name}" for name in SELECTS}
TEXT_INPUTS = {
    "plain_text_input",
    "email_text_input",
    "url_text_input",
    "number_input",
    "rich_text_input",
}
CHOICE_ELEMENTS = {"checkboxes", "radio_buttons"}
PICKERS = {"datepicker", "timepicker", "datetimepicker"}

SECTION_ACCESSORIES = (
    {"button", "image", "overflow", "workflow_button", "datepicker", "timepicker"}
    | SELECTS
    | MULTI_SELECTS
    | CHOICE_ELEMENTS
)
ACTIONS_ELEMENTS = (
    {"button", "overflow", "workflow_button", "rich_text_input"}
    | PICKERS
    | SELECTS
    | MULTI_SELECTS
    | CHOICE_ELEMENTS
)
INPUT_ELEMENTS = TEXT_INPUTS | PICKERS | SELECTS | MULTI_SELECTS | CHOICE_ELEMENTS | {"file_input"}

_COMMON_ELEMENT_KEYS = {"type", "action_id", "confirm", "focus_on_load", "placeholder"}
_SELECT_KEYS = _COMMON_ELEMENT_KEYS | {"min_query_length"}
ELEMENT_KEYS: dict[str, set[str]] = {
    "button": {"type", "text", "action_id", "url", "value", "style", "confirm", "accessibility_label"},
    "workflow_button": {"type", "text", "workflow", "style", "accessibility_label", "action_id"},
    "image": {"type", "image_url", "slack_file", "alt_text"},
    "overflow": {"type", "action_id", "options", "confirm"},
    "static_select": _COMMON_ELEMENT_KEYS | {"options", "option_groups", "initial_option"},
    "multi_static_select": _COMMON_ELEMENT_KEYS
    | {"options", "option_groups", "initial_options", "max_selected_items"},
    "external_select": _SELECT_KEYS | {"initial_option"},
    "multi_external_select": _SELECT_KEYS | {"initial_options", "max_selected_items"},
    "users_select": _COMMON_ELEMENT_KEYS | {"initial_user"},
    "multi_users_select": _COMMON_ELEMENT_KEYS | {"initial_users", "max_selected_items"},
    "conversations_select": _COMMON_ELEMENT_KEYS
    | {"initial_conversation", "default_to_current_conversation", "response_url_enabled", "filter"},
    "multi_conversations_select": _COMMON_ELEMENT_KEYS
    | {"initial_conversations", "default_to_current_conversation", "max_selected_items", "filter"},
    "channels_select": _COMMON_ELEMENT_KEYS | {"initial_channel", "response_url_enabled"},
    "multi_channels_select": _COMMON_ELEMENT_KEYS | {"initial_channels", "max_selected_items"},
    "checkboxes": {"type", "action_id", "options", "initial_options", "confirm", "focus_on_load"},
    "radio_buttons": {"type", "action_id", "options", "initial_option", "confirm", "focus_on_load"},
    "datepicker": _COMMON_ELEMENT_KEYS | {"initial_date"},
    "timepicker": _COMMON_ELEMENT_KEYS | {"initial_time", "timezone"},
    "datetimepicker": {"type", "action_id", "initial_date_time", "confirm", "focus_on_load"},
    "plain_text_input": {
        "type",
        "action_id",
        "initial_value",
        "multiline",
        "min_length",
        "max_length",
        "dispatch_action_config",
        "focus_on_load",
        "placeholder",
    },
    "email_text_input": {
        "type",
        "action_id",
        "initial_value",
        "dispatch_action_config",
        "focus_on_load",
        "placeholder",
    },
    "url_text_input": {
        "type",
        "action_id",
        "initial_value",
        "dispatch_action_config",
        "focus_on_load",
        "placeholder",
    },
    "number_input": {
        "type",
        "action_id",
        "is_decimal_allowed",
        "initial_value",
        "min_value",
        "max_value",
        "dispatch_action_config",
        "focus_on_load",
        "placeholder",
    },
    "rich_text_input": {
        "type",
        "action_id",
        "initial_value",
        "dispatch_action_config",
        "focus_on_load",
        "placeholder",
    },
    "file_input": {"type", "action_id", "filetypes", "max_files"},
}

BLOCK_KEYS: dict[str, set[str] | None] = {
    "section": {"type", "block_id", "text", "fields", "accessory", "expand"},
    "divider": {"type", "block_id"},
    "header": {"type", "block_id", "text"},
    "image": {"type", "block_id", "image_url", "slack_file", "alt_text", "title"},
    "context": {"type", "block_id", "elements"},
    "actions": {"type", "block_id", "elements"},
    "input": {"type", "block_id", "label", "element", "dispatch_action", "hint", "optional"},
    "markdown": {"type", "block_id", "text"},
    # Rich, media and file blocks: their inner structure is not checked here.
    "rich_text": None,
    "video": None,
    "file": None,
}

MODAL_KEYS = {
    "type",
    "title",
    "blocks",
    "close",
    "submit",
    "private_metadata",
    "callback_id",
    "clear_on_close",
    "notify_on_close",
    "external_id",
    "submit_disabled",
}
HOME_KEYS = {"type", "blocks", "private_metadata", "callback_id", "external_id"}


def _json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


class _Checker:
    """Walks Block Kit JSON, collecting Slack-style ``[ERROR] … [json-pointer:…]`` messages."""

    def __init__(self, surface: str) -> None:
        if surface not in SURFACES:
            raise ValueError(f"surface must be one of {SURFACES}, not {surface!r}")
        self.surface = surface
        self.errors: list[str] = []
        self.block_ids: set[str] = set()
        self.action_ids: set[str] = set()

    # -- primitives -----------------------------------------------------------------------

    def error(self, path: str, message: str) -> None:
        self.errors.append(f"[ERROR] {message} [json-pointer:{path}]")

    def keys(self, obj: dict[str, Any], allowed: set[str], path: str) -> None:
        for key in obj:
            if key not in allowed:
                self.error(f"{path}/{key}", f"invalid additional property: {key}")

    def is_object(self, value: Any, path: str) -> bool:
        if not isinstance(value, dict):
            self.error(path, "must be an object")
            return False
        return True

    def string(
        self,
        obj: dict[str, Any],
        key: str,
        path: str,
        *,
        max_len: int | None = None,
        required: bool = False,
        min_len: int = 0,
    ) -> str | None:
        if key not in obj or obj[key] is None:
            if required:
                self.error(path, f"missing required field: {key}")
            return None
        value = obj[key]
        if not isinstance(value, str):
            self.error(f"{path}/{key}", "must be a string")
            return None
        if len(value) < min_len:
            self.error(f"{path}/{key}", f"must be more than {min_len - 1} characters")
        if max_len is not None and len(value) > max_len:
            self.error(f"{path}/{key}", f"must be less than {max_len + 1} characters")
        return value

    def boolean(self, obj: dict[str, Any], key: str, path: str) -> None:
        if key in obj and not isinstance(obj[key], bool):
            self.error(f"{path}/{key}", "must be a boolean")

    def integer(
        self, obj: dict[str, Any], key: str, path: str, *, low: int, high: int | None = None
    ) -> int | None:
        if key not in obj:
            return None
        value = obj[key]
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(f"{path}/{key}", "must be an integer")
            return None
        if value < low:
            self.error(f"{path}/{key}", f"must be at least {low}")
        if high is not None and value > high:
            self.error(f"{path}/{key}", f"must be at most {high}")
        return value

    def array(
        self,
        obj: dict[str, Any],
        key: str,
        path: str,
        *,
        max_items: int,
        min_items: int = 0,
        required: bool = False,
    ) -> list[Any]:
        if key not in obj:
            if required:
                self.error(path, f"missing required field: {key}")
            return []
        value = obj[key]
        if not isinstance(value, list):
            self.error(f"{path}/{key}", "must be an array")
            return []
        if len(value) > max_items:
            self.error(f"{path}/{key}", f"no more than {max_items} items allowed")
        if len(value) < min_items:
            self.error(f"{path}/{key}", f"must provide at least {min_items} items")
        return value

    def text(
        self,
        obj: dict[str, Any],
        key: str,
        path: str,
        *,
        max_len: int,
        plain_only: bool = False,
        required: bool = False,
    ) -> dict[str, Any] | None:
        """A text object at ``obj[key]``."""
        if key not in obj or obj[key] is None:
            if required:
                self.error(path, f"missing required field: {key}")
            return None
        return self.text_object(obj[key], f"{path}/{key}", max_len=max_len, plain_only=plain_only)

    def text_object(
        self, value: Any, path: str, *, max_len: int | None, plain_only: bool = False
    ) -> dict[str, Any] | None:
        if not self.is_object(value, path):
            return None
        kind = value.get("type")
        if kind not in ("plain_text", "mrkdwn"):
            self.error(f"{path}/type", "must be one of [plain_text, mrkdwn]")
            return None
        if plain_only and kind != "plain_text":
            self.error(f"{path}/type", "must be plain_text")
        self.keys(
            value, {"type", "text", "emoji"} if kind == "plain_text" else {"type", "text", "verbatim"}, path
        )
        self.string(value, "text", path, max_len=max_len, required=True, min_len=1)
        self.boolean(value, "emoji" if kind == "plain_text" else "verbatim", path)
        return value

    def identifier(self, obj: dict[str, Any], key: str, path: str, seen: set[str]) -> None:
        value = self.string(obj, key, path, max_len=255, min_len=1)
        if value is None:
            return
        if value in seen:
            self.error(f"{path}/{key}", f"duplicate {key}: {value}")
        seen.add(value)

    def url(self, obj: dict[str, Any], key: str, path: str, *, required: bool = False) -> None:
        value = self.string(obj, key, path, max_len=3000, required=required, min_len=1)
        if value is not None and not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", value):
            self.error(f"{path}/{key}", "must be a valid URL")

    # -- composition objects ---------------------------------------------------------------

    def confirm(self, value: Any, path: str) -> None:
        if not self.is_object(value, path):
            return
        self.keys(value, {"title", "text", "confirm", "deny", "style"}, path)
        self.text(value, "title", path, max_len=100, plain_only=True, required=True)
        self.text(value, "text", path, max_len=300, required=True)
        self.text(value, "confirm", path, max_len=30, plain_only=True, required=True)
        self.text(value, "deny", path, max_len=30, plain_only=True, required=True)
        self.style(value, path)

    def style(self, obj: dict[str, Any], path: str) -> None:
        if "style" in obj and obj["style"] not in ("primary", "danger"):
            self.error(f"{path}/style", "must be one of [primary, danger]")

    def option(self, value: Any, path: str, *, mrkdwn_ok: bool, url_ok: bool) -> None:
        if not self.is_object(value, path):
            return
        self.keys(value, {"text", "value", "description"} | ({"url"} if url_ok else set()), path)
        self.text(value, "text", path, max_len=75, plain_only=not mrkdwn_ok, required=True)
        self.string(value, "value", path, max_len=150, required=True, min_len=1)
        self.text(value, "description", path, max_len=75, plain_only=not mrkdwn_ok)
        if url_ok and "url" in value:
            self.url(value, "url", path)

    def options(
        self,
        element: dict[str, Any],
        path: str,
        *,
        max_items: int,
        min_items: int = 1,
        mrkdwn_ok: bool = False,
        url_ok: bool = False,
        required: bool = True,
    ) -> list[Any]:
        items = self.array(
            element, "options", path, max_items=max_items, min_items=min_items, required=required
        )
        for index, item in enumerate(items):
            self.option(item, f"{path}/options/{index}", mrkdwn_ok=mrkdwn_ok, url_ok=url_ok)
        return items

    # -- elements --------------------------------------------------------------------------

    def element(self, element: Any, path: str, allowed: set[str], where: str) -> None:
        if not self.is_object(element, path):
            return
        kind = element.get("type")
        if kind not in ELEMENT_KEYS:
            self.error(path, f"failed to match all allowed schemas (unknown element type {kind!r})")
            return
        if kind not in allowed:
            self.error(f"{path}/type", f"element type {kind} is not allowed in {where}")
            return
        self.keys(element, ELEMENT_KEYS[kind], path)
        if "action_id" in element:
            self.identifier(element, "action_id", path, self.action_ids)
        if "placeholder" in element:
            self.text(element, "placeholder", path, max_len=150, plain_only=True)
        if "confirm" in element:
            self.confirm(element["confirm"], f"{path}/confirm")
        self.boolean(element, "focus_on_load", path)
        check = getattr(self, f"element_{kind}", None)
        if check is not None:
            check(element, path)

    def element_button(self, element: dict[str, Any], path: str) -> None:
        self.text(element, "text", path, max_len=75, plain_only=True, required=True)
        self.string(element, "value", path, max_len=2000)
        if "url" in element:
            self.url(element, "url", path)
        self.style(element, path)
        self.string(element, "accessibility_label", path, max_len=75, min_len=1)

    def element_workflow_button(self, element: dict[str, Any], path: str) -> None:
        self.text(element, "text", path, max_len=75, plain_only=True, required=True)
        if "workflow" not in element:
            self.error(path, "missing required field: workflow")
        self.style(element, path)

    def element_image(self, element: dict[str, Any], path: str) -> None:
        if "image_url" not in element and "slack_file" not in element:
            self.error(path, "missing required field: image_url")
        if "image_url" in element:
            self.url(element, "image_url", path)
        self.string(element, "alt_text", path, max_len=2000, required=True, min_len=1)

    def element_overflow(self, element: dict[str, Any], path: str) -> None:
        self.options(element, path, max_items=5, url_ok=True)

    def _static_choices(self, element: dict[str, Any], path: str) -> list[dict[str, Any]]:
        has_options = "options" in element
        has_groups = "option_groups" in element
        if has_options and has_groups:
            self.error(path, "must provide either options or option_groups, not both")
        if not has_options and not has_groups:
            self.error(path, "missing required field: options")
        choices: list[dict[str, Any]] = []
        if has_options:
            choices += [o for o in self.options(element, path, max_items=100) if isinstance(o, dict)]
        groups = self.array(element, "option_groups", path, max_items=100, min_items=1)
        for index, group in enumerate(groups):
            gpath = f"{path}/option_groups/{index}"
            if not self.is_object(group, gpath):
                continue
            self.keys(group, {"label", "options"}, gpath)
            self.text(group, "label", gpath, max_len=75, plain_only=True, required=True)
            choices += [o for o in self.options(group, gpath, max_items=100) if isinstance(o, dict)]
        return choices

    def _initial_options(
        self,
        element: dict[str, Any],
        path: str,
        choices: list[dict[str, Any]] | None,
        *,
        many: bool,
        mrkdwn_ok: bool = False,
    ) -> None:
        key = "initial_options" if many else "initial_option"
        if key not in element:
            return
        chosen = element[key]
        if many:
            if not isinstance(chosen, list):
                self.error(f"{path}/{key}", "must be an array")
                return
            items = list(enumerate(chosen))
            paths = [f"{path}/{key}/{i}" for i, _ in items]
        else:
            items = [(0, chosen)]
            paths = [f"{path}/{key}"]
        for (_, option), opath in zip(items, paths, strict=True):
            self.option(option, opath, mrkdwn_ok=mrkdwn_ok, url_ok=False)
            if choices is None or not isinstance(option, dict):
                continue
            if not any(_same_option(option, choice) for choice in choices):
                self.error(opath, f"{key} must match one of the provided options")

    def element_static_select(self, element: dict[str, Any], path: str) -> None:
        choices = self._static_choices(element, path)
        self._initial_options(element, path, choices, many=False)

    def element_multi_static_select(self, element: dict[str, Any], path: str) -> None:
        choices = self._static_choices(element, path)
        self._initial_options(element, path, choices, many=True)
        self.integer(element, "max_selected_items", path, low=1)

    def element_external_select(self, element: dict[str, Any], path: str) -> None:
        self._initial_options(element, path, None, many=False)
        self.integer(element, "min_query_length", path, low=0)

    def element_multi_external_select(self, element: dict[str, Any], path: str) -> None:
        self._initial_options(element, path, None, many=True)
        self.integer(element, "min_query_length", path, low=0)
        self.integer(element, "max_selected_items", path, low=1)

    def element_multi_users_select(self, element: dict[str, Any], path: str) -> None:
        self.integer(element, "max_selected_items", path, low=1)

    element_multi_conversations_select = element_multi_users_select
    element_multi_channels_select = element_multi_users_select

    def element_checkboxes(self, element: dict[str, Any], path: str) -> None:
        choices = self.options(element, path, max_items=10, mrkdwn_ok=True)
        self._initial_options(
            element, path, [c for c in choices if isinstance(c, dict)], many=True, mrkdwn_ok=True
        )

    def element_radio_buttons(self, element: dict[str, Any], path: str) -> None:
        choices = self.options(element, path, max_items=10, mrkdwn_ok=True)
        self._initial_options(
            element, path, [c for c in choices if isinstance(c, dict)], many=False, mrkdwn_ok=True
        )

    def element_datepicker(self, element: dict[str, Any], path: str) -> None:
        value = self.string(element, "initial_date", path)
        if value is not None and not _valid_datetime(value, "%Y-%m-%d"):
            self.error(f"{path}/initial_date", "must be a date in the format YYYY-MM-DD")

    def element_timepicker(self, element: dict[str, Any], path: str) -> None:
        value = self.string(element, "initial_time", path)
        if value is not None and not _valid_datetime(value, "%H:%M"):
            self.error(f"{path}/initial_time", "must be a time in the format HH:mm")

    def element_datetimepicker(self, element: dict[str, Any], path: str) -> None:
        self.integer(element, "initial_date_time", path, low=0)

    def element_plain_text_input(self, element: dict[str, Any], path: str) -> None:
        min_len = self.integer(element, "min_length", path, low=0, high=3000)
        max_len = self.integer(element, "max_length", path, low=1, high=3000)
        if min_len is not None and max_len is not None and min_len > max_len:
            self.error(f"{path}/min_length", "must not be greater than max_length")
        limit = min(max_len, 3000) if max_len is not None else 3000
        self.string(element, "initial_value", path, max_len=limit)
        self.boolean(element, "multiline", path)

    def element_email_text_input(self, element: dict[str, Any], path: str) -> None:
        self.string(element, "initial_value", path, max_len=3000)

    element_url_text_input = element_email_text_input

    def element_number_input(self, element: dict[str, Any], path: str) -> None:
        if "is_decimal_allowed" not in element:
            self.error(path, "missing required field: is_decimal_allowed")
        self.boolean(element, "is_decimal_allowed", path)
        for key in ("initial_value", "min_value", "max_value"):
            value = self.string(element, key, path, max_len=20)
            if value is not None and not re.fullmatch(r"-?\d+(\.\d+)?", value):
                self.error(f"{path}/{key}", "must be a number")

    def element_file_input(self, element: dict[str, Any], path: str) -> None:
        self.integer(element, "max_files", path, low=1, high=10)

    # -- blocks ----------------------------------------------------------------------------

    def blocks(self, blocks: Any, path: str, *, max_items: int) -> None:
        if not isinstance(blocks, list):
            self.error(path, "must be an array")
            return
        if len(blocks) > max_items:
            self.error(path, f"no more than {max_items} items allowed")
        for index, block in enumerate(blocks):
            self.block(block, f"{path}/{index}")

    def block(self, block: Any, path: str) -> None:
        if not self.is_object(block, path):
            return
        kind = block.get("type")
        if kind not in BLOCK_KEYS:
            self.error(path, f"failed to match all allowed schemas (unknown block type {kind!r})")
            return
        allowed_keys = BLOCK_KEYS[kind]
        if allowed_keys is not None:
            self.keys(block, allowed_keys, path)
        if "block_id" in block:
            self.identifier(block, "block_id", path, self.block_ids)
        check = getattr(self, f"block_{kind}", None)
        if check is not None:
            check(block, path)

    def block_section(self, block: dict[str, Any], path: str) -> None:
        if "text" not in block and "fields" not in block:
            self.error(path, "must provide either text or fields")
        self.text(block, "text", path, max_len=3000)
        fields = self.array(block, "fields", path, max_items=10, min_items=1)
        for index, item in enumerate(fields):
            self.text_object(item, f"{path}/fields/{index}", max_len=2000)
        if "accessory" in block:
            self.element(block["accessory"], f"{path}/accessory", SECTION_ACCESSORIES, "a section accessory")
        self.boolean(block, "expand", path)

    def block_header(self, block: dict[str, Any], path: str) -> None:
        self.text(block, "text", path, max_len=150, plain_only=True, required=True)

    def block_image(self, block: dict[str, Any], path: str) -> None:
        if "image_url" not in block and "slack_file" not in block:
            self.error(path, "missing required field: image_url")
        if "image_url" in block:
            self.url(block, "image_url", path)
        self.string(block, "alt_text", path, max_len=2000, required=True, min_len=1)
        self.text(block, "title", path, max_len=2000, plain_only=True)

    def block_context(self, block: dict[str, Any], path: str) -> None:
        elements = self.array(block, "elements", path, max_items=10, min_items=1, required=True)
        for index, item in enumerate(elements):
            ipath = f"{path}/elements/{index}"
            if isinstance(item, dict) and item.get("type") in ("plain_text", "mrkdwn"):
                self.text_object(item, ipath, max_len=None)
            else:
                self.element(item, ipath, {"image"}, "a context block")

    def block_actions(self, block: dict[str, Any], path: str) -> None:
        elements = self.array(block, "elements", path, max_items=25, min_items=1, required=True)
        for index, item in enumerate(elements):
            self.element(item, f"{path}/elements/{index}", ACTIONS_ELEMENTS, "an actions block")

    def block_input(self, block: dict[str, Any], path: str) -> None:
        if self.surface == "message":
            self.error(path, "input blocks are only allowed in modals and Home tabs")
        self.text(block, "label", path, max_len=2000, plain_only=True, required=True)
        self.text(block, "hint", path, max_len=2000, plain_only=True)
        self.boolean(block, "optional", path)
        self.boolean(block, "dispatch_action", path)
        if "element" not in block:
            self.error(path, "missing required field: element")
        else:
            self.element(block["element"], f"{path}/element", INPUT_ELEMENTS, "an input block")

    def block_markdown(self, block: dict[str, Any], path: str) -> None:
        if self.surface != "message":
            self.error(path, "markdown blocks are only allowed in messages")
        self.string(block, "text", path, max_len=12000, required=True, min_len=1)


def _valid_datetime(value: str, fmt: str) -> bool:
    try:
        datetime.strptime(value, fmt)
    except ValueError:
        return False
    return True


def _same_option(a: dict[str, Any], b: dict[str, Any]) -> bool:
    def key(option: dict[str, Any]) -> tuple[Any, Any]:
        text = option.get("text")
        return (text.get("text") if isinstance(text, dict) else text, option.get("value"))

    return key(a) == key(b)


def validate_blocks(blocks: Any, surface: str = "message", *, pointer: str = "/blocks") -> list[str]:
    """Slack's error messages for a list of blocks on a surface ("message", "modal" or "home").

    An empty list means Slack would accept the blocks.
    """
    checker = _Checker(surface)
    checker.blocks(blocks, pointer, max_items=MESSAGE_BLOCKS_MAX if surface == "message" else VIEW_BLOCKS_MAX)
    return checker.errors


def validate_view(view: Any, *, pointer: str = "/view") -> list[str]:
    """Slack's error messages for a modal or Home tab view; empty when Slack would accept it.

    (A view over 250 kB is refused separately, with ``view_too_large``.)
    """
    if not isinstance(view, dict):
        return [f"[ERROR] must be an object [json-pointer:{pointer}]"]
    kind = view.get("type")
    if kind not in ("modal", "home"):
        return [f"[ERROR] must be one of [modal, home] [json-pointer:{pointer}/type]"]
    checker = _Checker(kind)
    checker.keys(view, MODAL_KEYS if kind == "modal" else HOME_KEYS, pointer)
    if "blocks" not in view:
        checker.error(pointer, "missing required field: blocks")
    else:
        checker.blocks(view["blocks"], f"{pointer}/blocks", max_items=VIEW_BLOCKS_MAX)
    if kind == "modal":
        checker.text(view, "title", pointer, max_len=24, plain_only=True, required=True)
        checker.text(view, "submit", pointer, max_len=24, plain_only=True)
        checker.text(view, "close", pointer, max_len=24, plain_only=True)
        checker.boolean(view, "clear_on_close", pointer)
        checker.boolean(view, "notify_on_close", pointer)
        checker.boolean(view, "submit_disabled", pointer)
        raw_blocks = view.get("blocks")
        blocks: list[Any] = raw_blocks if isinstance(raw_blocks, list) else []
        has_input = any(isinstance(b, dict) and b.get("type") == "input" for b in blocks)
        if has_input and not view.get("submit"):
            checker.error(pointer, "must provide a submit property when an input block is within the blocks")
    checker.string(view, "private_metadata", pointer, max_len=3000)
    checker.string(view, "callback_id", pointer, max_len=255)
    checker.string(view, "external_id", pointer, max_len=255)
    return checker.errors


def validate_options_response(body: Any) -> list[str]:
    """Errors in an app's answer to a ``block_suggestion`` (external select) request."""
    checker = _Checker("modal")
    if not isinstance(body, dict):
        return ["[ERROR] must be an object [json-pointer:/]"]
    if "options" in body:
        checker.options(body, "", max_items=100, min_items=0)
    elif "option_groups" in body:
        groups = checker.array(body, "option_groups", "", max_items=100)
        for index, group in enumerate(groups):
            path = f"/option_groups/{index}"
            if checker.is_object(group, path):
                checker.text(group, "label", path, max_len=75, plain_only=True, required=True)
                checker.options(group, path, max_items=100)
    else:
        checker.error("", "missing required field: options")
    return checker.errors


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------


@dataclass
class SlackCall:
    """One Web API call as the emulator received it, and what it answered."""

    method: str
    params: dict[str, Any]
    """Arguments (form, JSON and query merged), with JSON-string fields decoded; no token."""
    token: str | None
    at: float
    """The emulator clock when the call arrived."""
    response: dict[str, Any] = field(default_factory=dict)
    status: int = 200

    @property
    def ok(self) -> bool:
        return bool(self.response.get("ok"))

    @property
    def error(self) -> str | None:
        return self.response.get("error")


@dataclass
class ResponsePost:
    """One POST to a response URL."""

    response_url: str
    body: Any
    at: float
    status: int
    answer: Any
    context: dict[str, Any]


class ManualClock:
    """A monotonic clock that only moves when told to: ``SlackEmulator(clock=ManualClock())``."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._now += seconds
            return self._now


class SlackError(Exception):
    """Raised inside handlers; becomes ``{"ok": false, "error": …}``."""

    def __init__(self, error: str, messages: list[str] | None = None, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.messages = messages or []
        self.extra = extra

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error": self.error, **self.extra}
        if self.messages:
            body["response_metadata"] = {"messages": list(self.messages)}
        return body


@dataclass
class _Ctx:
    method: str
    params: dict[str, Any]
    token: str | None
    team_id: str
    basic_auth: tuple[str, str] | None = None


_TS_BASE_US = 1_700_000_000_000_000


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


# --------------------------------------------------------------------------------------------
# The emulator
# --------------------------------------------------------------------------------------------


class SlackEmulator(SlackUnfurlMixin):
    """The Slack Web API as a Starlette app; see the module docstring."""

    def __init__(
        self,
        bot_token: str = "xoxb-test-bot-token",
        team_id: str = "T0TEAM001",
        team_domain: str = "acme",
        bot_user_id: str = "U0BOT0001",
        app_id: str = "A0APP0001",
        client_id: str | None = None,
        client_secret: str | None = None,
        *,
        bot_id: str = "B0BOT0001",
        bot_name: str = "jirabot",
        team_name: str = "Acme",
        bot_scopes: str = DEFAULT_BOT_SCOPES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bot_token = bot_token
        self.team_id = team_id
        self.team_domain = team_domain
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.bot_name = bot_name
        self.app_id = app_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.bot_scopes = bot_scopes
        self.clock = clock
        self.base_url: str | None = None
        self.live: LiveServer | None = None

        self._lock = threading.RLock()
        self._seq = itertools.count(1)
        self._teams: dict[str, dict[str, Any]] = {}
        self._tokens: dict[str, str] = {}  # token -> team_id
        self._users: dict[str, dict[str, Any]] = {}
        self._channels: dict[str, dict[str, Any]] = {}
        self._reset_state()
        self.add_team(team_id, team_name, team_domain, bot_user_id=bot_user_id, bot_id=bot_id)
        self.add_bot_token(bot_token, team_id)
        self._installer: tuple[str, str, str | None] = (team_id, "U0INSTALL", None)
        self.socket_mode = SocketModeLink()
        self.app = Starlette(
            routes=[
                Route("/api/{method}", self._endpoint_api, methods=["GET", "POST"]),
                Route("/response/{hook_id}", self._endpoint_response_url, methods=["POST"]),
                Route("/oauth/v2/authorize", self._endpoint_authorize, methods=["GET"]),
                WebSocketRoute("/link/", self.socket_mode.endpoint),
            ]
        )

    # -- lifecycle -------------------------------------------------------------------------

    @classmethod
    def serve(cls, **kwargs: Any) -> tuple[SlackEmulator, LiveServer]:
        """A started emulator (``base_url`` set) and its server; call ``live.stop()`` after."""
        emulator = cls(**kwargs)
        live = emulator.start()
        return emulator, live

    def start(self) -> LiveServer:
        self.live = LiveServer(self.app).start()
        self.base_url = self.live.url
        return self.live

    def stop(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None

    @classmethod
    @contextmanager
    def running(cls, **kwargs: Any) -> Iterator[SlackEmulator]:
        """``with SlackEmulator.running() as emu:`` serves it for the duration of the block."""
        emulator, live = cls.serve(**kwargs)
        try:
            yield emulator
        finally:
            live.stop()

    @property
    def api_url(self) -> str:
        """The ``base_url`` for slack_sdk clients: ``{base_url}/api/``."""
        return f"{self._require_base_url()}/api/"

    def _require_base_url(self) -> str:
        if not self.base_url:
            raise RuntimeError("set emulator.base_url = live.url (or use SlackEmulator.serve())")
        return self.base_url.rstrip("/")

    def _reset_state(self) -> None:
        self._calls: list[SlackCall] = []
        self._messages: list[dict[str, Any]] = []
        self._deleted_messages: list[dict[str, Any]] = []
        self._ephemerals: list[dict[str, Any]] = []
        self._views: dict[str, dict[str, Any]] = {}
        self._view_users: dict[str, str | None] = {}
        self._stacks: dict[str, list[str]] = {}  # root view id -> open view ids, bottom first
        self._closed_views: set[str] = set()
        self._home_views: dict[str, dict[str, Any]] = {}
        self._view_responses: list[dict[str, Any]] = []
        self._triggers: dict[str, dict[str, Any]] = {}
        self._hooks: dict[str, dict[str, Any]] = {}
        self._responses: list[ResponsePost] = []
        self._oauth_codes: dict[str, dict[str, Any]] = {}
        self._revoked: set[str] = set()
        self._fail: dict[str, list[tuple[str, int]]] = {}
        self._rate_limits: dict[str, list[int]] = {}
        self._latency: dict[str, float] = {}
        self._not_in_channel: set[str] = set()
        self._missing_channels: set[str] = set()
        self._user_not_in_channel: set[tuple[str, str]] = set()
        self._ts_us = _TS_BASE_US
        self._init_unfurl_state()

    def reset(self) -> None:
        """Forget recordings, views, messages, issued ids and knobs; keep teams, tokens, users."""
        with self._lock:
            self._reset_state()

    # -- directory -------------------------------------------------------------------------

    def add_team(
        self,
        team_id: str,
        name: str | None = None,
        domain: str | None = None,
        *,
        bot_user_id: str | None = None,
        bot_id: str | None = None,
    ) -> dict[str, Any]:
        with self._lock:
            team = {
                "id": team_id,
                "name": name or team_id,
                "domain": domain or team_id.lower(),
                "bot_user_id": bot_user_id or f"U0BOT{team_id[-4:]}",
                "bot_id": bot_id or f"B0BOT{team_id[-4:]}",
            }
            self._teams[team_id] = team
            self._users[team["bot_user_id"]] = self._user_record(
                team["bot_user_id"], self.bot_name, team_id=team_id, is_bot=True
            )
            return dict(team)

    def add_bot_token(self, token: str, team_id: str) -> None:
        """Accept ``token`` as a bot token of ``team_id`` (created if unknown)."""
        with self._lock:
            if team_id not in self._teams:
                self.add_team(team_id)
            self._tokens[token] = team_id
            self._revoked.discard(token)

    def revoke_token(self, token: str) -> None:
        with self._lock:
            self._revoked.add(token)

    def add_user(
        self,
        user_id: str,
        name: str,
        real_name: str | None = None,
        email: str | None = None,
        admin: bool = False,
        owner: bool = False,
        primary_owner: bool = False,
        deleted: bool = False,
        tz: str = "Europe/London",
        *,
        team_id: str | None = None,
        display_name: str | None = None,
        is_bot: bool = False,
        restricted: bool = False,
    ) -> dict[str, Any]:
        with self._lock:
            record = self._user_record(
                user_id,
                name,
                real_name=real_name,
                email=email,
                admin=admin,
                owner=owner,
                primary_owner=primary_owner,
                deleted=deleted,
                tz=tz,
                team_id=team_id or self.team_id,
                display_name=display_name,
                is_bot=is_bot,
                restricted=restricted,
            )
            self._users[user_id] = record
            return copy.deepcopy(record)

    def _user_record(
        self,
        user_id: str,
        name: str,
        *,
        team_id: str,
        real_name: str | None = None,
        email: str | None = None,
        admin: bool = False,
        owner: bool = False,
        primary_owner: bool = False,
        deleted: bool = False,
        tz: str = "Europe/London",
        display_name: str | None = None,
        is_bot: bool = False,
        restricted: bool = False,
    ) -> dict[str, Any]:
        real = real_name if real_name is not None else name
        zone = ZoneInfo(tz)
        now = datetime.now(UTC).astimezone(zone)
        offset = now.utcoffset()
        profile: dict[str, Any] = {
            "real_name": real,
            "real_name_normalized": real,
            "display_name": display_name if display_name is not None else name,
            "display_name_normalized": display_name if display_name is not None else name,
            "first_name": real.split(" ")[0] if real else "",
            "last_name": " ".join(real.split(" ")[1:]) if real else "",
            "title": "",
            "phone": "",
            "skype": "",
            "status_text": "",
            "status_emoji": "",
            "avatar_hash": hashlib.md5(user_id.encode()).hexdigest()[:12],
            "image_24": f"https://avatars.slack-edge.com/{user_id}_24.png",
            "image_72": f"https://avatars.slack-edge.com/{user_id}_72.png",
            "team": team_id,
        }
        if email is not None:
            profile["email"] = email
        if is_bot:
            profile["bot_id"] = self._teams.get(team_id, {}).get("bot_id", self.bot_id)
            profile["api_app_id"] = self.app_id
        return {
            "id": user_id,
            "team_id": team_id,
            "name": name,
            "deleted": deleted,
            "color": "9f69e7",
            "real_name": real,
            "tz": tz,
            "tz_label": now.tzname() or tz,
            "tz_offset": int(offset.total_seconds()) if offset is not None else 0,
            "profile": profile,
            "is_admin": admin,
            "is_owner": owner,
            "is_primary_owner": primary_owner,
            "is_restricted": restricted,
            "is_ultra_restricted": False,
            "is_bot": is_bot,
            "is_app_user": False,
            "updated": 1_700_000_000,
            "is_email_confirmed": email is not None,
        }

    def add_channel(
        self,
        channel_id: str,
        name: str | None = None,
        *,
        is_private: bool = False,
        bot_member: bool = True,
        archived: bool = False,
        members: Iterable[str] | None = None,
    ) -> None:
        """Describe a channel. Unregistered C…/G… ids exist implicitly, with the bot a member."""
        with self._lock:
            self._channels[channel_id] = {
                "name": name or channel_id.lower(),
                "is_private": is_private,
                "archived": archived,
                "members": set(members) if members is not None else None,
            }
            if bot_member:
                self._not_in_channel.discard(channel_id)
            else:
                self._not_in_channel.add(channel_id)

    def team(self, team_id: str | None = None) -> dict[str, Any]:
        """A team's id, name, domain, bot_user_id and bot_id."""
        with self._lock:
            return dict(self._teams[team_id or self.team_id])

    def channel_name(self, channel_id: str) -> str:
        with self._lock:
            if channel_id in self._channels:
                return str(self._channels[channel_id]["name"])
        if channel_id.startswith("D"):
            return "directmessage"
        return "general" if channel_id == "C0GENERAL" else channel_id.lower()

    def dm_channel(self, user_id: str) -> str:
        """The stable IM channel id between the bot and ``user_id``."""
        return "D" + user_id[1:] if len(user_id) > 1 else "D" + user_id

    def user_name(self, user_id: str) -> str:
        with self._lock:
            user = self._users.get(user_id)
            return str(user["name"]) if user else user_id.lower()

    # -- knobs -----------------------------------------------------------------------------

    def fail_next(self, method: str, error: str, times: int = 1, *, status: int = 200) -> None:
        """The next ``times`` calls of ``method`` answer ``{"ok": false, "error": error}``."""
        with self._lock:
            self._fail.setdefault(method, []).extend([(error, status)] * times)

    def rate_limit(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` answer HTTP 429 with ``Retry-After``."""
        with self._lock:
            self._rate_limits.setdefault(method, []).extend([retry_after] * times)

    def set_latency(self, method: str, seconds: float) -> None:
        """Delay answers of ``method`` (``"*"`` for every method) by ``seconds``."""
        with self._lock:
            self._latency[method] = seconds

    def set_bot_not_in_channel(self, channel_id: str, not_in: bool = True) -> None:
        with self._lock:
            (self._not_in_channel.add if not_in else self._not_in_channel.discard)(channel_id)

    def set_channel_missing(self, channel_id: str, missing: bool = True) -> None:
        with self._lock:
            (self._missing_channels.add if missing else self._missing_channels.discard)(channel_id)

    def set_user_not_in_channel(self, channel_id: str, user_id: str) -> None:
        with self._lock:
            self._user_not_in_channel.add((channel_id, user_id))

    def set_installer(self, team_id: str, user_id: str, *, deny: str | None = None) -> None:
        """Who "clicks Allow" on ``/oauth/v2/authorize``; ``deny="access_denied"`` refuses."""
        with self._lock:
            if team_id not in self._teams:
                self.add_team(team_id)
            self._installer = (team_id, user_id, deny)

    # -- ids -------------------------------------------------------------------------------

    def _next_ts(self) -> str:
        self._ts_us += 100
        seconds, micros = divmod(self._ts_us, 1_000_000)
        return f"{seconds}.{micros:06d}"

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._seq):08d}{secrets.token_hex(1).upper()}"

    def new_trigger_id(
        self, user_id: str | None = None, *, view_id: str | None = None, team_id: str | None = None
    ) -> str:
        """Issue a trigger_id as Slack does with an interaction (``view_id``: from inside a view)."""
        with self._lock:
            trigger_id = f"{next(self._seq)}.{secrets.randbelow(10**10)}.{secrets.token_hex(16)}"
            self._triggers[trigger_id] = {
                "issued_at": self.clock(),
                "used_at": None,
                "user_id": user_id,
                "view_id": view_id,
                "team_id": team_id or self.team_id,
            }
            return trigger_id

    def trigger_latency(self, trigger_id: str) -> float | None:
        """Seconds from issuing ``trigger_id`` to the views.open/push that exchanged it."""
        with self._lock:
            trigger = self._triggers.get(trigger_id)
            if trigger is None or trigger["used_at"] is None:
                return None
            return float(trigger["used_at"] - trigger["issued_at"])

    def new_response_url(
        self,
        *,
        channel_id: str | None = None,
        user_id: str | None = None,
        message_ts: str | None = None,
        ephemeral: bool = False,
        team_id: str | None = None,
    ) -> str:
        """Issue ``{base_url}/response/{id}``; ``message_ts`` binds it to a message it may replace."""
        base = self._require_base_url()
        with self._lock:
            hook_id = f"{team_id or self.team_id}-{next(self._seq)}-{secrets.token_hex(12)}"
            self._hooks[hook_id] = {
                "issued_at": self.clock(),
                "uses": 0,
                "channel_id": channel_id,
                "user_id": user_id,
                "message_ts": message_ts,
                "ephemeral": ephemeral,
                "team_id": team_id or self.team_id,
            }
            return f"{base}/response/{hook_id}"

    def issue_oauth_code(
        self,
        team_id: str | None = None,
        user_id: str = "U0INSTALL",
        *,
        scope: str | None = None,
        redirect_uri: str | None = None,
    ) -> str:
        """A one-time code for ``oauth.v2.access`` installing the app in ``team_id``."""
        with self._lock:
            team = team_id or self.team_id
            if team not in self._teams:
                self.add_team(team)
            code = f"{next(self._seq)}.{secrets.token_hex(20)}"
            self._oauth_codes[code] = {
                "team_id": team,
                "user_id": user_id,
                "scope": scope or self.bot_scopes,
                "redirect_uri": redirect_uri,
                "issued_at": self.clock(),
                "used": False,
            }
            return code

    # -- inspection ------------------------------------------------------------------------

    @property
    def calls(self) -> list[SlackCall]:
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[SlackCall]:
        with self._lock:
            return [call for call in self._calls if call.method == method]

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Messages in channels (bot posts, in-channel responses, seeded ones), updates applied."""
        with self._lock:
            return copy.deepcopy(self._messages)

    @property
    def deleted_messages(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._deleted_messages)

    @property
    def ephemerals(self) -> list[dict[str, Any]]:
        """Ephemeral messages (chat.postEphemeral and ephemeral response-URL posts)."""
        with self._lock:
            return copy.deepcopy(self._ephemerals)

    @property
    def views(self) -> dict[str, dict[str, Any]]:
        """view_id -> the view as Slack stores it now (modals and Home tabs)."""
        with self._lock:
            return copy.deepcopy(self._views)

    @property
    def home_views(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._home_views)

    @property
    def view_responses(self) -> list[dict[str, Any]]:
        """Ack bodies of view submissions (response_action …) as applied by the driver."""
        with self._lock:
            return copy.deepcopy(self._view_responses)

    def view(self, view_id: str) -> dict[str, Any]:
        with self._lock:
            if view_id not in self._views:
                raise KeyError(f"no view {view_id}; views: {sorted(self._views)}")
            return copy.deepcopy(self._views[view_id])

    def view_user(self, view_id: str) -> str | None:
        with self._lock:
            return self._view_users.get(view_id)

    def is_view_open(self, view_id: str) -> bool:
        with self._lock:
            view = self._views.get(view_id)
            if view is None or view_id in self._closed_views:
                return False
            return view["type"] == "home" or view_id in self._stacks.get(view["root_view_id"], [])

    def view_stack(self, view_id: str) -> list[str]:
        """The open views of the modal ``view_id`` belongs to, bottom first."""
        with self._lock:
            view = self._views.get(view_id)
            return list(self._stacks.get(view["root_view_id"], [])) if view else []

    def current_view(self, user_id: str) -> dict[str, Any] | None:
        """The modal view on top of the most recently opened open modal of ``user_id``."""
        with self._lock:
            for root, stack in reversed(list(self._stacks.items())):
                if stack and self._view_users.get(root) == user_id:
                    return copy.deepcopy(self._views[stack[-1]])
            return None

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._find_message(channel, ts)
            return copy.deepcopy(found) if found else None

    def responses(self, response_url: str | None = None) -> list[ResponsePost]:
        with self._lock:
            return [
                post for post in self._responses if response_url is None or post.response_url == response_url
            ]

    def wait_for(
        self,
        predicate: Callable[[], T | None],
        timeout: float = 5.0,
        *,
        interval: float = 0.01,
        message: str | None = None,
    ) -> T:
        """Poll ``predicate`` until truthy; return its value, or fail with what was recorded."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() >= deadline:
                break
            time.sleep(interval)
        recent = ", ".join(f"{c.method}({'ok' if c.ok else c.error})" for c in self.calls[-15:]) or "none"
        raise AssertionError(
            f"{message or 'condition'} not met within {timeout}s; recent Slack calls: {recent}"
        )

    def wait_for_call(
        self,
        method: str,
        timeout: float = 5.0,
        where: Callable[[SlackCall], bool] = lambda call: True,
        *,
        after: int = 0,
    ) -> SlackCall:
        """The first call of ``method`` (at index ≥ ``after`` in :attr:`calls`) matching ``where``."""

        def find() -> SlackCall | None:
            for call in self.calls[after:]:
                if call.method == method and where(call):
                    return call
            return None

        return self.wait_for(find, timeout, message=f"a matching {method} call")

    # -- seeding ---------------------------------------------------------------------------

    def add_message(
        self,
        channel: str,
        text: str,
        user: str,
        *,
        ts: str | None = None,
        thread_ts: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
        files: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Seed a message written by a person (e.g. the one a message shortcut acts on)."""
        with self._lock:
            message: dict[str, Any] = {
                "type": "message",
                "channel": channel,
                "user": user,
                "text": text,
                "ts": ts or self._next_ts(),
                "team": self.team_id,
            }
            message["thread_ts"] = thread_ts
            message["blocks"] = copy.deepcopy(blocks) if blocks is not None else []
            if files is not None:
                message["files"] = copy.deepcopy(files)
            if self._find_message(channel, message["ts"]) is None:
                self._messages.append(message)
            return copy.deepcopy(message)

    # -- HTTP: Web API ---------------------------------------------------------------------

    async def _endpoint_api(self, request: Request) -> Response:
        method = request.path_params["method"]
        at = self.clock()
        body = await request.body()
        try:
            params, files, json_body = self._parse_params(request, body)
        except SlackError as exc:
            return self._finish(method, {}, None, at, exc.body())
        token = self._token_from(request, params, json_body)
        params.pop("token", None)
        if files:
            params.update({name: f"<file {len(content)} bytes>" for name, content in files.items()})

        with self._lock:
            delay = self._latency.get(method, self._latency.get("*", 0.0))
        if delay:
            await asyncio.sleep(delay)

        if method == "apps.connections.open":  # app-level tokens, not bot tokens
            ws_base = self._require_base_url().replace("http://", "ws://", 1)
            return self._finish(method, params, token, at, self.socket_mode.open_connection(token, ws_base))
        handler = self._handlers().get(method)
        if handler is None:
            return self._finish(method, params, token, at, {"ok": False, "error": "unknown_method"})
        needs_token = method not in ("oauth.v2.access", "api.test")
        with self._lock:
            team_id = self.team_id
            if needs_token:
                if not token:
                    return self._finish(method, params, token, at, {"ok": False, "error": "not_authed"})
                if token in self._revoked:
                    return self._finish(method, params, token, at, {"ok": False, "error": "token_revoked"})
                if token not in self._tokens:
                    return self._finish(method, params, token, at, {"ok": False, "error": "invalid_auth"})
                team_id = self._tokens[token]
            limits = self._rate_limits.get(method)
            if limits:
                retry_after = limits.pop(0)
                return self._finish(
                    method,
                    params,
                    token,
                    at,
                    {"ok": False, "error": "ratelimited"},
                    status=429,
                    headers={"Retry-After": str(retry_after)},
                )
            failures = self._fail.get(method)
            if failures:
                error, status = failures.pop(0)
                return self._finish(method, params, token, at, {"ok": False, "error": error}, status=status)
            ctx = _Ctx(method, params, token, team_id, self._basic_auth(request))
            try:
                answer = handler(ctx)
                answer = {"ok": True, **answer}
            except SlackError as exc:
                answer = exc.body()
            return self._finish(method, params, token, at, answer)

    def _finish(
        self,
        method: str,
        params: dict[str, Any],
        token: str | None,
        at: float,
        answer: dict[str, Any],
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> Response:
        call = SlackCall(method, params, token, at, copy.deepcopy(answer), status)
        with self._lock:
            self._calls.append(call)
        all_headers = {
            "x-oauth-scopes": self.bot_scopes,
            "x-accepted-oauth-scopes": "",
            **(headers or {}),
        }
        return JSONResponse(answer, status_code=status, headers=all_headers)

    def _parse_params(self, request: Request, body: bytes) -> tuple[dict[str, Any], dict[str, bytes], bool]:
        params: dict[str, Any] = dict(request.query_params)
        files: dict[str, bytes] = {}
        content_type = request.headers.get("content-type", "")
        media = content_type.split(";")[0].strip().lower()
        json_body = False
        if body:
            if media == "application/json":
                try:
                    data = json.loads(body)
                except ValueError as exc:
                    raise SlackError("invalid_json") from exc
                if not isinstance(data, dict):
                    raise SlackError("json_not_object")
                params.update(data)
                json_body = True
            elif media == "application/x-www-form-urlencoded":
                try:
                    params.update(dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True)))
                except UnicodeDecodeError as exc:
                    raise SlackError("invalid_form_data") from exc
            elif media == "multipart/form-data":
                message = BytesParser(policy=default_email_policy).parsebytes(
                    b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
                )
                if not message.is_multipart():
                    raise SlackError("invalid_form_data")
                for part in message.iter_parts():
                    name = part.get_param("name", header="content-disposition")
                    payload = part.get_payload(decode=True)
                    if not isinstance(name, str) or not isinstance(payload, bytes):
                        continue
                    if part.get_filename():
                        files[name] = payload
                    else:
                        params[name] = payload.decode("utf-8")
            elif not media:
                raise SlackError("missing_post_type")
            elif media != "text/plain":
                raise SlackError("invalid_post_type")
        for key in JSON_FIELDS:
            value = params.get(key)
            if isinstance(value, str) and value.strip():
                try:
                    params[key] = json.loads(value)
                except ValueError as exc:
                    error = {
                        "blocks": "invalid_blocks_format",
                        "attachments": "invalid_attachments",
                    }.get(key, "invalid_arguments")
                    raise SlackError(
                        error, [f"[ERROR] {key} is not valid JSON [json-pointer:/{key}]"]
                    ) from exc
        return params, files, json_body

    @staticmethod
    def _token_from(request: Request, params: dict[str, Any], json_body: bool) -> str | None:
        authorization = request.headers.get("authorization", "")
        if authorization.lower().startswith("bearer "):
            return authorization[7:].strip() or None
        if json_body:
            # Slack does not read a token from a JSON body: it must come in the header.
            return None
        token = params.get("token")
        return str(token) if token else None

    @staticmethod
    def _basic_auth(request: Request) -> tuple[str, str] | None:
        authorization = request.headers.get("authorization", "")
        if not authorization.lower().startswith("basic "):
            return None
        try:
            decoded = base64.b64decode(authorization[6:].strip()).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return None
        user, _, password = decoded.partition(":")
        return user, password

    def _handlers(self) -> dict[str, Callable[[_Ctx], dict[str, Any]]]:
        return {
            "api.test": lambda ctx: {"args": ctx.params},
            "auth.test": self._auth_test,
            "auth.revoke": self._auth_revoke,
            "team.info": self._team_info,
            "users.info": self._users_info,
            "users.lookupByEmail": self._users_lookup_by_email,
            "conversations.open": self._conversations_open,
            "conversations.info": self._conversations_info,
            "chat.postMessage": self._chat_post_message,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.getPermalink": self._chat_get_permalink,
            "chat.unfurl": self._chat_unfurl,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "oauth.v2.access": self._oauth_v2_access,
        }

    # -- methods: auth, team, users --------------------------------------------------------

    def _team(self, team_id: str) -> dict[str, Any]:
        return self._teams[team_id]

    def _auth_test(self, ctx: _Ctx) -> dict[str, Any]:
        team = self._team(ctx.team_id)
        return {
            "url": f"https://{team['domain']}.slack.com/",
            "team": team["name"],
            "user": self.bot_name,
            "team_id": team["id"],
            "user_id": team["bot_user_id"],
            "bot_id": team["bot_id"],
            "is_enterprise_install": False,
        }

    def _auth_revoke(self, ctx: _Ctx) -> dict[str, Any]:
        if not _flag(ctx.params.get("test", False)):
            assert ctx.token is not None
            self._revoked.add(ctx.token)
        return {"revoked": True}

    def _team_info(self, ctx: _Ctx) -> dict[str, Any]:
        team_id = str(ctx.params.get("team") or ctx.team_id)
        if team_id not in self._teams:
            raise SlackError("team_not_found")
        team = self._team(team_id)
        return {
            "team": {
                "id": team["id"],
                "name": team["name"],
                "domain": team["domain"],
                "email_domain": "",
                "url": f"https://{team['domain']}.slack.com/",
                "icon": {"image_default": True},
                "is_verified": False,
            }
        }

    def _users_info(self, ctx: _Ctx) -> dict[str, Any]:
        user = self._users.get(str(ctx.params.get("user") or ""))
        if user is None:
            raise SlackError("user_not_found")
        return {"user": copy.deepcopy(user)}

    def _users_lookup_by_email(self, ctx: _Ctx) -> dict[str, Any]:
        email = str(ctx.params.get("email") or "").lower()
        for user in self._users.values():
            if email and str(user["profile"].get("email", "")).lower() == email:
                return {"user": copy.deepcopy(user)}
        raise SlackError("users_not_found")

    # -- methods: conversations ------------------------------------------------------------

    def _conversations_open(self, ctx: _Ctx) -> dict[str, Any]:
        channel = ctx.params.get("channel")
        users_param = ctx.params.get("users")
        if channel:
            if not str(channel).startswith(("D", "G")):
                raise SlackError("method_not_supported_for_channel_type")
            return {"no_op": True, "already_open": True, "channel": {"id": str(channel)}}
        if not users_param:
            raise SlackError("users_list_not_supplied")
        if isinstance(users_param, list):
            users = [str(u) for u in users_param]
        else:
            users = [u.strip() for u in str(users_param).split(",") if u.strip()]
        if len(users) > 8:
            raise SlackError("too_many_users")
        for user_id in users:
            user = self._users.get(user_id)
            if user is not None and user["deleted"]:
                raise SlackError("user_disabled")
            if not user_id.startswith(("U", "W")):
                raise SlackError("user_not_found")
        if len(users) == 1:
            channel_id = self.dm_channel(users[0])
        else:
            digest = hashlib.sha1(",".join(sorted(users)).encode()).hexdigest()[:8].upper()
            channel_id = f"G0MP{digest}"
        result: dict[str, Any] = {"channel": {"id": channel_id}}
        if _flag(ctx.params.get("return_im", False)):
            result["channel"] = self._channel_object(channel_id)
        return result

    def _channel_object(self, channel_id: str) -> dict[str, Any]:
        if channel_id.startswith("D"):
            return {
                "id": channel_id,
                "created": 1_700_000_000,
                "is_im": True,
                "is_org_shared": False,
                "user": "U" + channel_id[1:],
                "is_user_deleted": False,
                "priority": 0,
            }
        info = self._channels.get(channel_id, {})
        name = self.channel_name(channel_id)
        is_private = bool(info.get("is_private", channel_id.startswith("G")))
        return {
            "id": channel_id,
            "name": name,
            "is_channel": not is_private,
            "is_group": is_private,
            "is_im": False,
            "is_mpim": channel_id.startswith("G0MP"),
            "is_private": is_private,
            "created": 1_700_000_000,
            "is_archived": bool(info.get("archived", False)),
            "is_general": name == "general",
            "unlinked": 0,
            "name_normalized": name,
            "is_shared": False,
            "is_org_shared": False,
            "is_ext_shared": False,
            "is_pending_ext_shared": False,
            "is_member": channel_id not in self._not_in_channel,
            "creator": "U0CREATOR",
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
        }

    def _conversations_info(self, ctx: _Ctx) -> dict[str, Any]:
        channel_id = str(ctx.params.get("channel") or "")
        if not channel_id or channel_id in self._missing_channels:
            raise SlackError("channel_not_found")
        if not channel_id.startswith(("C", "G", "D")):
            raise SlackError("channel_not_found")
        return {"channel": self._channel_object(channel_id)}

    # -- methods: chat ---------------------------------------------------------------------

    def _resolve_post_channel(self, raw: Any) -> str:
        """The conversation a chat.post* call targets; user ids mean the bot's DM with them."""
        channel = str(raw or "").strip()
        if not channel or channel in self._missing_channels:
            raise SlackError("channel_not_found")
        if channel.startswith("#"):
            for channel_id, info in self._channels.items():
                if info["name"] == channel[1:]:
                    channel = channel_id
                    break
            else:
                raise SlackError("channel_not_found")
        if channel.startswith(("U", "W")):
            return self.dm_channel(channel)
        if channel.startswith("D"):
            return channel
        if not channel.startswith(("C", "G")):
            raise SlackError("channel_not_found")
        if self._channels.get(channel, {}).get("archived"):
            raise SlackError("is_archived")
        if channel in self._not_in_channel:
            raise SlackError("not_in_channel")
        return channel

    def _check_content(self, params: dict[str, Any], *, require: bool = True) -> None:
        """Slack's checks of text, blocks and attachments for chat.* methods."""
        text = params.get("text")
        blocks = params.get("blocks")
        attachments = params.get("attachments")
        if text is not None and not isinstance(text, str):
            raise SlackError("invalid_arguments", ["[ERROR] must be a string [json-pointer:/text]"])
        if blocks is not None:
            if not isinstance(blocks, list):
                raise SlackError("invalid_blocks_format")
            errors = validate_blocks(blocks, "message")
            if errors:
                raise SlackError("invalid_blocks", errors, errors=list(errors))
        if attachments is not None:
            if not isinstance(attachments, list):
                raise SlackError("invalid_attachments")
            if len(attachments) > ATTACHMENTS_MAX:
                raise SlackError("too_many_attachments")
        if require and not text and not blocks and not attachments:
            raise SlackError("no_text")
        if text and len(text) > MESSAGE_TEXT_MAX:
            raise SlackError("msg_too_long")

    def _bot_message(self, ctx: _Ctx, ts: str) -> dict[str, Any]:
        team = self._team(ctx.team_id)
        message: dict[str, Any] = {
            "type": "message",
            "user": team["bot_user_id"],
            "bot_id": team["bot_id"],
            "app_id": self.app_id,
            "text": ctx.params.get("text") or "",
            "ts": ts,
            "team": team["id"],
            "bot_profile": {
                "id": team["bot_id"],
                "app_id": self.app_id,
                "name": self.bot_name,
                "deleted": False,
                "team_id": team["id"],
            },
        }
        if ctx.params.get("blocks") is not None:
            message["blocks"] = _normalize_blocks(ctx.params["blocks"])
        if ctx.params.get("attachments") is not None:
            message["attachments"] = copy.deepcopy(ctx.params["attachments"])
        if ctx.params.get("thread_ts"):
            message["thread_ts"] = str(ctx.params["thread_ts"])
        if ctx.params.get("metadata") is not None:
            message["metadata"] = copy.deepcopy(ctx.params["metadata"])
        return message

    def _chat_post_message(self, ctx: _Ctx) -> dict[str, Any]:
        channel = self._resolve_post_channel(ctx.params.get("channel"))
        self._check_content(ctx.params)
        ts = self._next_ts()
        message = self._bot_message(ctx, ts)
        record = {
            "channel": channel,
            "thread_ts": None,
            "blocks": [],
            **copy.deepcopy(message),
            "via": "chat.postMessage",
        }
        for flag in ("unfurl_links", "unfurl_media", "reply_broadcast", "mrkdwn"):
            if flag in ctx.params:
                record[flag] = _flag(ctx.params[flag])
        self._messages.append(record)
        return {"channel": channel, "ts": ts, "message": message}

    def _chat_post_ephemeral(self, ctx: _Ctx) -> dict[str, Any]:
        channel = self._resolve_post_channel(ctx.params.get("channel"))
        user = str(ctx.params.get("user") or "")
        if not user:
            raise SlackError("user_not_found")
        self._check_content(ctx.params)
        members = self._channels.get(channel, {}).get("members")
        if (channel, user) in self._user_not_in_channel or (members is not None and user not in members):
            raise SlackError("user_not_in_channel")
        if channel.startswith("D") and channel != self.dm_channel(user):
            raise SlackError("user_not_in_channel")
        ts = self._next_ts()
        record = {
            "channel": channel,
            "user": user,
            "ts": ts,
            "text": ctx.params.get("text") or "",
            "blocks": _normalize_blocks(ctx.params.get("blocks") or []),
            "thread_ts": None,
            "via": "chat.postEphemeral",
            "is_ephemeral": True,
        }
        if ctx.params.get("attachments") is not None:
            record["attachments"] = copy.deepcopy(ctx.params["attachments"])
        if ctx.params.get("thread_ts"):
            record["thread_ts"] = str(ctx.params["thread_ts"])
        self._ephemerals.append(record)
        return {"message_ts": ts}

    def _find_message(self, channel: str, ts: str) -> dict[str, Any] | None:
        for message in self._messages:
            if message["channel"] == channel and message["ts"] == ts:
                return message
        return None

    def _existing_message(self, ctx: _Ctx, ts_key: str = "ts") -> dict[str, Any]:
        channel = str(ctx.params.get("channel") or "")
        if not channel or channel in self._missing_channels:
            raise SlackError("channel_not_found")
        if not channel.startswith(("C", "G", "D")):
            # chat.update / chat.delete / chat.getPermalink need a conversation id, not a user id.
            raise SlackError("channel_not_found")
        message = self._find_message(channel, str(ctx.params.get(ts_key) or ""))
        if message is None:
            raise SlackError("message_not_found")
        return message

    def _chat_update(self, ctx: _Ctx) -> dict[str, Any]:
        message = self._existing_message(ctx)
        if message.get("user") != self._team(ctx.team_id)["bot_user_id"]:
            raise SlackError("cant_update_message")
        if not any(ctx.params.get(k) is not None for k in ("text", "blocks", "attachments")):
            raise SlackError("no_text")
        self._check_content(ctx.params, require=False)
        if "text" in ctx.params:
            message["text"] = ctx.params.get("text") or ""
        if ctx.params.get("blocks") is not None:
            message["blocks"] = _normalize_blocks(ctx.params["blocks"])
        if ctx.params.get("attachments") is not None:
            message["attachments"] = copy.deepcopy(ctx.params["attachments"])
        message["edited"] = {"user": message["user"], "ts": self._next_ts()}
        public = public_message(message)
        return {
            "channel": message["channel"],
            "ts": message["ts"],
            "text": message["text"],
            "message": copy.deepcopy(public),
        }

    def _chat_delete(self, ctx: _Ctx) -> dict[str, Any]:
        message = self._existing_message(ctx)
        if message.get("user") != self._team(ctx.team_id)["bot_user_id"]:
            raise SlackError("cant_delete_message")
        self._messages.remove(message)
        self._deleted_messages.append(message)
        return {"channel": message["channel"], "ts": message["ts"]}

    def _chat_get_permalink(self, ctx: _Ctx) -> dict[str, Any]:
        message = self._existing_message(ctx, "message_ts")
        return {
            "channel": message["channel"],
            "permalink": self.permalink(
                message["channel"],
                message["ts"],
                thread_ts=message.get("thread_ts"),
                team_id=ctx.team_id,
            ),
        }

    def permalink(
        self, channel: str, ts: str, *, thread_ts: str | None = None, team_id: str | None = None
    ) -> str:
        with self._lock:
            domain = self._team(team_id or self.team_id)["domain"]
        link = f"https://{domain}.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        if thread_ts and thread_ts != ts:
            link += "?" + urlencode({"thread_ts": thread_ts, "cid": channel})
        return link

    # -- methods: views --------------------------------------------------------------------

    def _view_param(self, ctx: _Ctx) -> dict[str, Any]:
        view = ctx.params.get("view")
        if view is None:
            raise SlackError("invalid_arguments", ["[ERROR] missing required field: view"])
        if not isinstance(view, dict):
            raise SlackError("invalid_arguments", ["[ERROR] must be an object [json-pointer:/view]"])
        return view

    def _check_view(self, view: dict[str, Any], *, exclude_view: str | None = None) -> None:
        if _json_size(view) > VIEW_MAX_BYTES:
            raise SlackError("view_too_large")
        errors = validate_view(view)
        if errors:
            raise SlackError("invalid_arguments", errors)
        external_id = view.get("external_id")
        if external_id:
            for view_id, existing in self._views.items():
                if view_id != exclude_view and existing.get("external_id") == external_id:
                    raise SlackError("duplicate_external_id")

    def _exchange_trigger(self, ctx: _Ctx) -> dict[str, Any]:
        trigger_id = ctx.params.get("trigger_id") or ctx.params.get("interactivity_pointer")
        if not trigger_id:
            raise SlackError(
                "invalid_arguments",
                ["[ERROR] missing required field: trigger_id [json-pointer:/trigger_id]"],
            )
        trigger = self._triggers.get(str(trigger_id))
        if trigger is None:
            raise SlackError("invalid_trigger_id")
        if trigger["used_at"] is not None:
            raise SlackError("exchanged_trigger_id")
        now = self.clock()
        if now - trigger["issued_at"] > TRIGGER_TTL:
            raise SlackError("expired_trigger_id")
        return trigger

    def _store_view(
        self,
        ctx: _Ctx,
        view: dict[str, Any],
        *,
        view_id: str | None = None,
        root_view_id: str | None = None,
        previous_view_id: str | None = None,
        user_id: str | None = None,
    ) -> dict[str, Any]:
        team = self._team(ctx.team_id)
        view_id = view_id or self._new_id("V")
        stored: dict[str, Any] = {
            "id": view_id,
            "team_id": team["id"],
            "type": view["type"],
            "blocks": _normalize_blocks(view.get("blocks", [])),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "title": copy.deepcopy(view.get("title")),
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "close": copy.deepcopy(view.get("close")),
            "submit": copy.deepcopy(view.get("submit")),
            "previous_view_id": previous_view_id,
            "root_view_id": root_view_id or view_id,
            "app_id": self.app_id,
            "external_id": view.get("external_id", ""),
            "app_installed_team_id": team["id"],
            "bot_id": team["bot_id"],
        }
        if "submit_disabled" in view:
            stored["submit_disabled"] = bool(view["submit_disabled"])
        self._views[view_id] = stored
        if user_id is not None or view_id not in self._view_users:
            self._view_users[view_id] = user_id
        return stored

    def _views_open(self, ctx: _Ctx) -> dict[str, Any]:
        view = self._view_param(ctx)
        self._check_view(view)
        if view["type"] != "modal":
            raise SlackError("invalid_arguments", ["[ERROR] must be modal [json-pointer:/view/type]"])
        trigger = self._exchange_trigger(ctx)
        trigger["used_at"] = self.clock()
        stored = self._store_view(ctx, view, user_id=trigger["user_id"])
        self._stacks[stored["id"]] = [stored["id"]]
        return {"view": copy.deepcopy(stored)}

    def _views_push(self, ctx: _Ctx) -> dict[str, Any]:
        view = self._view_param(ctx)
        self._check_view(view)
        if view["type"] != "modal":
            raise SlackError("invalid_arguments", ["[ERROR] must be modal [json-pointer:/view/type]"])
        trigger = self._exchange_trigger(ctx)
        source = trigger.get("view_id")
        if source is None or source not in self._views or not self.is_view_open(source):
            raise SlackError(
                "invalid_trigger_id",
                ["[ERROR] views.push needs a trigger_id from an interaction in an open modal"],
            )
        root = self._views[source]["root_view_id"]
        stack = self._stacks[root]
        if len(stack) >= VIEW_STACK_MAX:
            raise SlackError("push_limit_reached")
        trigger["used_at"] = self.clock()
        stored = self._store_view(
            ctx, view, root_view_id=root, previous_view_id=stack[-1], user_id=trigger["user_id"]
        )
        stack.append(stored["id"])
        return {"view": copy.deepcopy(stored)}

    def _views_update(self, ctx: _Ctx) -> dict[str, Any]:
        view = self._view_param(ctx)
        view_id = ctx.params.get("view_id")
        external_id = ctx.params.get("external_id")
        if not view_id and not external_id:
            raise SlackError("invalid_arguments", ["[ERROR] either view_id or external_id is required"])
        current: dict[str, Any] | None = None
        if view_id:
            current = self._views.get(str(view_id))
        else:
            current = next((v for v in self._views.values() if v.get("external_id") == external_id), None)
        if current is None or not self.is_view_open(current["id"]):
            raise SlackError("not_found")
        self._check_view(view, exclude_view=current["id"])
        expected_hash = ctx.params.get("hash")
        if expected_hash and expected_hash != current["hash"]:
            raise SlackError("hash_conflict")
        if view["type"] != current["type"]:
            raise SlackError("invalid_arguments", ["[ERROR] view type cannot change"])
        return {"view": copy.deepcopy(self._replace_view(ctx, current, view))}

    def _replace_view(self, ctx: _Ctx, current: dict[str, Any], view: dict[str, Any]) -> dict[str, Any]:
        replacement = dict(view)
        if not replacement.get("external_id") and current.get("external_id"):
            replacement["external_id"] = current["external_id"]
        return self._store_view(
            ctx,
            replacement,
            view_id=current["id"],
            root_view_id=current["root_view_id"],
            previous_view_id=current["previous_view_id"],
        )

    def _views_publish(self, ctx: _Ctx) -> dict[str, Any]:
        user_id = str(ctx.params.get("user_id") or "")
        if not user_id:
            raise SlackError("invalid_arguments", ["[ERROR] missing required field: user_id"])
        user = self._users.get(user_id)
        if user is None and not user_id.startswith(("U", "W")):
            raise SlackError("user_not_found")
        view = self._view_param(ctx)
        if view.get("type") != "home":
            raise SlackError("invalid_arguments", ["[ERROR] must be home [json-pointer:/view/type]"])
        current = self._home_views.get(user_id)
        self._check_view(view, exclude_view=current["id"] if current else None)
        expected_hash = ctx.params.get("hash")
        if expected_hash and (current is None or expected_hash != current["hash"]):
            raise SlackError("hash_conflict")
        stored = self._store_view(ctx, view, view_id=current["id"] if current else None, user_id=user_id)
        self._home_views[user_id] = stored
        return {"view": copy.deepcopy(stored)}

    # -- methods: oauth --------------------------------------------------------------------

    def _oauth_v2_access(self, ctx: _Ctx) -> dict[str, Any]:
        client_id = ctx.params.get("client_id")
        client_secret = ctx.params.get("client_secret")
        if ctx.basic_auth is not None:
            client_id, client_secret = ctx.basic_auth
        if not client_id:
            raise SlackError("invalid_client_id")
        if self.client_id is not None and client_id != self.client_id:
            raise SlackError("invalid_client_id")
        if self.client_secret is not None and client_secret != self.client_secret:
            raise SlackError("bad_client_secret")
        grant_type = ctx.params.get("grant_type") or "authorization_code"
        if grant_type != "authorization_code":
            raise SlackError("invalid_grant_type")
        code = self._oauth_codes.get(str(ctx.params.get("code") or ""))
        if code is None or code["used"] or self.clock() - code["issued_at"] > OAUTH_CODE_TTL:
            raise SlackError("invalid_code")
        if code["redirect_uri"] and ctx.params.get("redirect_uri") != code["redirect_uri"]:
            raise SlackError("bad_redirect_uri")
        code["used"] = True
        team = self._team(code["team_id"])
        token = f"xoxb-{team['id']}-{next(self._seq)}-{secrets.token_hex(12)}"
        self.add_bot_token(token, team["id"])
        return {
            "access_token": token,
            "token_type": "bot",
            "scope": code["scope"],
            "bot_user_id": team["bot_user_id"],
            "app_id": self.app_id,
            "team": {"id": team["id"], "name": team["name"]},
            "enterprise": None,
            "authed_user": {"id": code["user_id"]},
            "is_enterprise_install": False,
        }

    async def _endpoint_authorize(self, request: Request) -> Response:
        query = request.query_params
        if self.client_id is not None and query.get("client_id") != self.client_id:
            return PlainTextResponse("invalid_client_id", status_code=400)
        redirect_uri = query.get("redirect_uri")
        if not redirect_uri:
            return PlainTextResponse("bad_redirect_uri", status_code=400)
        with self._lock:
            team_id, user_id, deny = self._installer
        state = query.get("state")
        args: dict[str, str] = {}
        if deny:
            args["error"] = deny
        else:
            args["code"] = self.issue_oauth_code(
                team_id, user_id, scope=query.get("scope"), redirect_uri=redirect_uri
            )
        if state is not None:
            args["state"] = state
        separator = "&" if "?" in redirect_uri else "?"
        return RedirectResponse(f"{redirect_uri}{separator}{urlencode(args)}", status_code=302)

    # -- response URLs ---------------------------------------------------------------------

    async def _endpoint_response_url(self, request: Request) -> Response:
        hook_key = request.path_params["hook_id"]
        url = f"{self._require_base_url()}/response/{hook_key}"
        at = self.clock()
        raw = await request.body()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        with self._lock:
            hook = self._hooks.get(hook_key)

            def answer(status: int, payload: Any) -> Response:
                context = dict(hook) if hook else {}
                self._responses.append(ResponsePost(url, body, at, status, payload, context))
                if isinstance(payload, dict):
                    return JSONResponse(payload, status_code=status)
                return PlainTextResponse(str(payload), status_code=status)

            if hook is None:
                return answer(404, "no_active_hooks")
            if at - hook["issued_at"] > RESPONSE_URL_TTL:
                return answer(404, "expired_url")
            if hook["uses"] >= RESPONSE_URL_MAX_USES:
                return answer(404, "used_url")
            if not isinstance(body, dict):
                return answer(400, "invalid_payload")
            try:
                self._apply_response(hook, body)
            except SlackError as exc:
                return answer(400, exc.body())
            hook["uses"] += 1
            return answer(200, {"ok": True})

    def _apply_response(self, hook: dict[str, Any], body: dict[str, Any], via: str = "response_url") -> None:
        bound_ts = hook.get("message_ts")
        channel = hook.get("channel_id")
        if _flag(body.get("delete_original", False)):
            if not bound_ts:
                raise SlackError("no_original_message")
            original = self._hook_original(hook)
            if original is None:
                raise SlackError("message_not_found")
            if hook["ephemeral"]:
                original["deleted"] = True
            else:
                self._messages.remove(original)
                self._deleted_messages.append(original)
            return
        params: dict[str, Any] = {k: body[k] for k in ("text", "blocks", "attachments") if k in body}
        self._check_content(params)
        blocks = _normalize_blocks(body["blocks"]) if body.get("blocks") is not None else None
        if _flag(body.get("replace_original", False)) and bound_ts:
            original = self._hook_original(hook)
            if original is None:
                raise SlackError("message_not_found")
            original["text"] = body.get("text") or ""
            original["blocks"] = blocks if blocks is not None else []
            original["replaced_via"] = "response_url"
            return
        team = self._team(hook["team_id"])
        record: dict[str, Any] = {
            "channel": channel,
            "ts": self._next_ts(),
            "text": body.get("text") or "",
            "blocks": blocks if blocks is not None else [],
            "thread_ts": str(body["thread_ts"]) if body.get("thread_ts") else None,
            "via": via,
        }
        if body.get("response_type") == "in_channel":
            record.update(
                type="message",
                user=team["bot_user_id"],
                bot_id=team["bot_id"],
                app_id=self.app_id,
                team=team["id"],
            )
            self._messages.append(record)
        else:
            record["user"] = hook.get("user_id")
            record["is_ephemeral"] = True
            self._ephemerals.append(record)

    def apply_command_ack(self, channel_id: str, user_id: str, body: Any) -> list[str]:
        """Show an app's immediate answer to a slash command as Slack does; return problems.

        A JSON body is a message (ephemeral unless ``response_type`` is ``in_channel``); a text
        body is shown as ephemeral text.
        """
        if isinstance(body, str):
            body = {"text": body}
        if not isinstance(body, dict):
            return ["the ack body is neither text nor a JSON object"]
        hook = {
            "channel_id": channel_id,
            "user_id": user_id,
            "message_ts": None,
            "ephemeral": False,
            "team_id": self.team_id,
        }
        with self._lock:
            try:
                self._apply_response(hook, body, via="ack")
            except SlackError as exc:
                return [exc.error, *exc.messages]
        return []

    def ephemeral(self, channel: str, ts: str) -> dict[str, Any] | None:
        with self._lock:
            for record in self._ephemerals:
                if record["channel"] == channel and record["ts"] == ts:
                    return copy.deepcopy(record)
            return None

    def _hook_original(self, hook: dict[str, Any]) -> dict[str, Any] | None:
        ts = hook.get("message_ts")
        channel = hook.get("channel_id")
        if hook["ephemeral"]:
            for record in self._ephemerals:
                if record["ts"] == ts and record["channel"] == channel:
                    return record
            return None
        return self._find_message(str(channel), str(ts))

    # -- view lifecycle as the Slack client drives it (used by SlackDriver) ------------------

    def close_view(self, view_id: str, *, back: bool = False) -> list[str]:
        """The user closes the modal (X, or Close on the root view): the whole stack goes.

        ``back=True``: the user pressed the close ("Back") button of a pushed view on top, which
        only pops that view. Returns the ids of the views closed.
        """
        with self._lock:
            view = self._views.get(view_id)
            if view is None:
                return []
            stack = self._stacks.get(view["root_view_id"], [])
            if back and len(stack) > 1 and stack[-1] == view_id:
                stack.pop()
                self._closed_views.add(view_id)
                return [view_id]
            closed = self._stacks.pop(view["root_view_id"], [])
            self._closed_views.update(closed)
            return closed

    def apply_view_submission_ack(self, view_id: str, ack: dict[str, Any] | None) -> list[str]:
        """Do what Slack does with the app's ack to a view_submission; return the problems.

        Empty ack: the submitted view closes (with those above it). ``update``: the view is
        replaced (validated). ``push``: a new view goes on the stack. ``clear``: all close.
        ``errors``: shown on input blocks, whose block_ids must exist in the view.
        """
        with self._lock:
            self._view_responses.append({"view_id": view_id, "ack": copy.deepcopy(ack)})
            view = self._views.get(view_id)
            if view is None:
                return [f"unknown view {view_id}"]
            stack = self._stacks.get(view["root_view_id"], [])
            action = (ack or {}).get("response_action")
            ctx = _Ctx("view_submission", {}, None, view["team_id"])
            if not ack or action is None:
                if view_id in stack:
                    for closed in stack[stack.index(view_id) :]:
                        self._closed_views.add(closed)
                    del stack[stack.index(view_id) :]
                if not stack:
                    self._stacks.pop(view["root_view_id"], None)
                return []
            if action == "clear":
                self.close_view(view_id)
                return []
            if action == "errors":
                errors = ack.get("errors")
                if not isinstance(errors, dict) or not errors:
                    return ["response_action errors needs a non-empty errors object"]
                input_ids = {b.get("block_id") for b in view["blocks"] if b.get("type") == "input"}
                return [
                    f"errors key {key!r} is not the block_id of an input block in the view"
                    for key in errors
                    if key not in input_ids
                ]
            if action in ("update", "push"):
                new_view = ack.get("view")
                if not isinstance(new_view, dict):
                    return [f"response_action {action} needs a view"]
                try:
                    self._check_view(new_view, exclude_view=view_id if action == "update" else None)
                except SlackError as exc:
                    return [exc.error, *exc.messages]
                if new_view.get("type") != "modal":
                    return ["only modal views can be pushed or updated from a submission"]
                if action == "update":
                    self._replace_view(ctx, view, new_view)
                    return []
                if len(stack) >= VIEW_STACK_MAX:
                    return ["push_limit_reached"]
                stored = self._store_view(
                    ctx,
                    new_view,
                    root_view_id=view["root_view_id"],
                    previous_view_id=stack[-1] if stack else view_id,
                    user_id=self._view_users.get(view_id),
                )
                stack.append(stored["id"])
                return []
            return [f"unknown response_action {action!r}"]


RECORD_ONLY_KEYS = frozenset(
    {
        "channel",
        "via",
        "is_ephemeral",
        "replaced_via",
        "deleted",
        "unfurl_links",
        "unfurl_media",
        "reply_broadcast",
        "mrkdwn",
    }
)


def public_message(record: dict[str, Any]) -> dict[str, Any]:
    """A message record as Slack shows it in payloads: without the emulator's bookkeeping keys,
    an empty ``thread_ts`` or an empty ``blocks``."""
    message = {k: copy.deepcopy(v) for k, v in record.items() if k not in RECORD_ONLY_KEYS}
    if message.get("thread_ts") is None:
        message.pop("thread_ts", None)
    if not message.get("blocks"):
        message.pop("blocks", None)
    return message


def _normalize_blocks(blocks: Any) -> Any:
    """Blocks as Slack stores them: a block_id and action_ids generated where none was given."""
    if not isinstance(blocks, list):
        return copy.deepcopy(blocks)
    result = copy.deepcopy(blocks)
    for index, block in enumerate(result):
        if not isinstance(block, dict):
            continue
        block.setdefault("block_id", _generated_id("b", index, block))
        elements: list[Any] = []
        if isinstance(block.get("accessory"), dict):
            elements.append(block["accessory"])
        if isinstance(block.get("element"), dict):
            elements.append(block["element"])
        if block.get("type") == "actions" and isinstance(block.get("elements"), list):
            elements.extend(e for e in block["elements"] if isinstance(e, dict))
        for position, element in enumerate(elements):
            if element.get("type") not in ("image", None):
                element.setdefault("action_id", _generated_id("a", f"{index}.{position}", element))
    return result


def _generated_id(prefix: str, index: object, obj: dict[str, Any]) -> str:
    digest = hashlib.sha1(
        json.dumps(obj, sort_keys=True, default=str).encode() + str(index).encode()
    ).digest()
    return prefix + base64.b32encode(digest).decode()[:4].replace("=", "")
