"""Link unfurling in the Slack emulator: ``link_shared`` events and ``chat.unfurl``.

Mixed into ``SlackEmulator``. A test shares links with :meth:`SlackUnfurlMixin.share_links` (or the
driver's ``link_shared``, which also delivers the event to the bot); Slack only puts links whose
domain is one of the app's unfurl domains (``unfurl_domains``, subdomains included) into the event,
and only those may be unfurled. ``chat.unfurl`` follows Slack's rules:

- the target is ``unfurl_id`` + ``source`` or ``channel`` + ``ts`` of a message that had a
  ``link_shared`` event (``cannot_find_message`` otherwise; a half pair is ``missing_source`` ...);
- ``unfurls`` is a JSON object keyed by URLs that were in that event (``cannot_unfurl_url``), each an
  attachment with ``blocks`` (validated like message blocks, at most 50) or legacy attachment text;
- ``user_auth_required`` asks only the sharer to authenticate (``user_auth_url`` must be an http(s)
  URL, ``user_auth_blocks`` are validated blocks); nothing is attached to the message then, and
  ``unfurls`` may be empty;
- the bot token needs ``links:write``.

Records: ``unfurls`` (every accepted call), ``unfurl_for(channel, ts)`` (what the channel sees),
``auth_prompts`` (what sharers were asked privately).
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

UNFURL_BLOCKS_MAX = 50
SOURCES = ("composer", "conversations_history")
_ATTACHMENT_KEYS = {
    "blocks",
    "text",
    "title",
    "title_link",
    "fallback",
    "color",
    "pretext",
    "fields",
    "footer",
    "image_url",
    "thumb_url",
    "author_name",
    "author_link",
    "preview",
    "hideable",
}


@dataclass
class SharedLinks:
    """One message's links that Slack told the app about."""

    unfurl_id: str
    source: str
    channel: str
    ts: str
    user: str
    urls: list[str]
    thread_ts: str | None = None
    unfurls: dict[str, Any] = field(default_factory=dict)  # what the channel sees


def link_domain(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def domain_matches(host: str, domains: Iterable[str]) -> bool:
    return any(host == d.lower() or host.endswith("." + d.lower()) for d in domains)


class SlackUnfurlMixin:
    _lock: threading.RLock
    team_id: str
    bot_scopes: str
    add_message: Callable[..., dict[str, Any]]
    _next_ts: Callable[[], str]
    _new_id: Callable[[str], str]

    unfurl_domains: tuple[str, ...] = ("atlassian.net",)

    def _init_unfurl_state(self) -> None:
        self._shared: dict[str, SharedLinks] = {}
        self._unfurl_calls: list[dict[str, Any]] = []
        self._auth_prompts: list[dict[str, Any]] = []

    # -- test side ---------------------------------------------------------------------------

    def share_links(
        self,
        channel: str,
        user: str,
        urls: Iterable[str],
        *,
        text: str | None = None,
        source: str = "conversations_history",
        thread_ts: str | None = None,
    ) -> dict[str, Any] | None:
        """`user` posts a message with `urls` (or types them in the composer); returns the
        ``link_shared`` event Slack would send, or None when no link is on an unfurl domain."""
        if source not in SOURCES:
            raise ValueError(f"source is one of {SOURCES}")
        urls = list(urls)
        with self._lock:
            if source == "conversations_history":
                body = text if text is not None else " ".join(f"<{u}>" for u in urls)
                message = self.add_message(channel, body, user, thread_ts=thread_ts)
                ts, where = message["ts"], channel
            else:
                ts, where = self._next_ts(), "COMPOSER"
            links = [
                {"domain": link_domain(u), "url": u}
                for u in urls
                if domain_matches(link_domain(u), self.unfurl_domains)
            ]
            if not links:
                return None
            unfurl_id = f"{where}-{ts}-{self._new_id('U')}"
            self._shared[unfurl_id] = SharedLinks(
                unfurl_id, source, where, ts, user, [x["url"] for x in links], thread_ts
            )
        event: dict[str, Any] = {
            "type": "link_shared",
            "channel": where,
            "is_bot_user_member": True,
            "user": user,
            "message_ts": ts,
            "unfurl_id": unfurl_id,
            "source": source,
            "links": links,
            "event_ts": ts,
        }
        if thread_ts:
            event["thread_ts"] = thread_ts
        return event

    @property
    def unfurls(self) -> list[dict[str, Any]]:
        """Every accepted ``chat.unfurl`` call: target, unfurls, and any auth prompt."""
        with self._lock:
            return copy.deepcopy(self._unfurl_calls)

    @property
    def auth_prompts(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._auth_prompts)

    def unfurl_for(self, channel: str, ts: str) -> dict[str, Any]:
        """url -> unfurl that everyone in the channel sees under the message."""
        with self._lock:
            for shared in self._shared.values():
                if shared.channel == channel and shared.ts == ts:
                    return copy.deepcopy(shared.unfurls)
        return {}

    # -- chat.unfurl -------------------------------------------------------------------------

    def _chat_unfurl(self, ctx: Any) -> dict[str, Any]:
        from tests.emulators.slack import SlackError, _flag, validate_blocks

        params = ctx.params
        if "links:write" not in {s.strip() for s in self.bot_scopes.split(",")}:
            raise SlackError("missing_scope", needed="links:write", provided=self.bot_scopes)
        shared = self._unfurl_target(params, SlackError)
        unfurls = params.get("unfurls")
        if isinstance(unfurls, str):
            try:
                unfurls = json.loads(unfurls) if unfurls.strip() else None
            except ValueError as exc:
                raise SlackError("invalid_unfurls_format") from exc
        auth_required = _flag(params.get("user_auth_required", False))
        if unfurls is None and not auth_required:
            raise SlackError("invalid_unfurls_format", ["[ERROR] unfurls is required"])
        if unfurls is not None and not isinstance(unfurls, dict):
            raise SlackError("invalid_unfurls_format")
        for url, unfurl in (unfurls or {}).items():
            if url not in shared.urls:
                raise SlackError("cannot_unfurl_url")
            if not isinstance(unfurl, dict) or not unfurl or set(unfurl) - _ATTACHMENT_KEYS:
                raise SlackError("invalid_unfurls_format")
            blocks = unfurl.get("blocks")
            if blocks is not None:
                if not isinstance(blocks, list) or len(blocks) > UNFURL_BLOCKS_MAX:
                    raise SlackError("invalid_blocks", [f"[ERROR] at most {UNFURL_BLOCKS_MAX} blocks"])
                errors = validate_blocks(blocks, "message", pointer=f"/unfurls/{url}/blocks")
                if errors:
                    raise SlackError("invalid_blocks", errors, errors=list(errors))
        prompt: dict[str, Any] | None = None
        if auth_required:
            prompt = {"user": shared.user, "channel": shared.channel, "ts": shared.ts}
            auth_url = params.get("user_auth_url")
            if auth_url is not None:
                parts = urlsplit(str(auth_url))
                if parts.scheme not in {"http", "https"} or not parts.netloc:
                    raise SlackError("invalid_arguments", ["[ERROR] user_auth_url must be an http(s) URL"])
                prompt["url"] = str(auth_url)
            auth_blocks = params.get("user_auth_blocks")
            if isinstance(auth_blocks, str):
                try:
                    auth_blocks = json.loads(auth_blocks)
                except ValueError as exc:
                    raise SlackError("invalid_blocks_format") from exc
            if auth_blocks is not None:
                errors = validate_blocks(auth_blocks, "message", pointer="/user_auth_blocks")
                if errors:
                    raise SlackError("invalid_blocks", errors, errors=list(errors))
                prompt["blocks"] = copy.deepcopy(auth_blocks)
            if params.get("user_auth_message"):
                prompt["message"] = str(params["user_auth_message"])
        with self._lock:
            if prompt is not None:
                self._auth_prompts.append(prompt)
            else:
                shared.unfurls.update(copy.deepcopy(unfurls or {}))
            self._unfurl_calls.append(
                {
                    "unfurl_id": shared.unfurl_id,
                    "channel": shared.channel,
                    "ts": shared.ts,
                    "user": shared.user,
                    "unfurls": copy.deepcopy(unfurls or {}),
                    "user_auth": copy.deepcopy(prompt),
                }
            )
        return {}

    def _unfurl_target(self, params: dict[str, Any], error: Any) -> SharedLinks:
        unfurl_id, source = params.get("unfurl_id"), params.get("source")
        channel, ts = params.get("channel"), params.get("ts")
        with self._lock:
            if unfurl_id or source:
                if not unfurl_id:
                    raise error("missing_unfurl_id")
                if not source:
                    raise error("missing_source")
                if source not in SOURCES:
                    raise error("invalid_source")
                shared = self._shared.get(str(unfurl_id))
                if shared is None or shared.source != source:
                    raise error("cannot_find_message")
                return shared
            if not channel:
                raise error("missing_channel")
            if not ts:
                raise error("missing_ts")
            for shared in self._shared.values():
                if shared.channel == channel and shared.ts == str(ts):
                    return shared
            raise error("cannot_find_message")
