"""Telling a channel about something done from one of its messages: a reply in the message's thread,
or, where the bot cannot post there, the same news told to the user alone (ephemerally in the
channel, else by direct message)."""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.actors import Actor

log = logging.getLogger(__name__)

Message = dict[str, Any]


class Delivery(StrEnum):
    THREAD = "thread"
    EPHEMERAL = "ephemeral"
    DM = "dm"
    NONE = "none"


async def reply_in_thread(client: AsyncWebClient, actor: Actor, *, channel_id: str | None,
                          thread_ts: str | None, reply: Message, fallback: Message) -> Delivery:
    """Posts ``reply`` in the thread of ``thread_ts``; where there is no such thread or the bot cannot
    post there, shows ``fallback`` to the user ephemerally in ``channel_id``, or else by DM."""
    if channel_id and thread_ts:
        try:
            await client.chat_postMessage(channel=channel_id, thread_ts=thread_ts, text=reply["text"],
                                          blocks=reply.get("blocks"), unfurl_links=False, unfurl_media=False)
            return Delivery.THREAD
        except SlackApiError as exc:
            log.info("slack.thread_reply_failed", extra={"team_id": actor.team_id, "channel_id": channel_id,
                                                         "error": exc.response.get("error")})
    if channel_id:
        try:
            await client.chat_postEphemeral(channel=channel_id, user=actor.user_id, text=fallback["text"],
                                            blocks=fallback.get("blocks"))
            return Delivery.EPHEMERAL
        except SlackApiError as exc:
            log.info("slack.ephemeral_failed", extra={"team_id": actor.team_id, "channel_id": channel_id,
                                                      "error": exc.response.get("error")})
    return Delivery.DM if await tell(client, actor, fallback) else Delivery.NONE


async def tell(client: AsyncWebClient, actor: Actor, message: Message) -> bool:
    """A direct message to the user; False when Slack refused it."""
    try:
        await client.chat_postMessage(channel=actor.user_id, text=message["text"],
                                      blocks=message.get("blocks"))
        return True
    except SlackApiError as exc:
        log.warning("slack.dm_failed", extra={"team_id": actor.team_id, "slack_user_id": actor.user_id,
                                              "error": exc.response.get("error")})
        return False
