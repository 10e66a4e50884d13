"""Reading a Slack message with Slack's help (names for its mentions, its permalink) into the texts the
create-issue form starts with."""

from __future__ import annotations

import asyncio
import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.jira.formatting import SlackMentions, mentioned_channel_ids, mentioned_user_ids, summary_from_text
from bot.services.issue_drafts import (
    SUMMARY_LIMIT,
    Prefill,
    SourceMessage,
    fit_description,
    readable_text,
)

log = logging.getLogger(__name__)

MENTION_LOOKUPS = 25


async def prefill_from_message(client: AsyncWebClient, source: SourceMessage) -> Prefill:
    """A message turned into form texts: names for its mentions, a summary from its first line (left for
    the user to write when the message has no text of its own), and a description ending with a link
    back to it."""
    mentions = await _mentions(client, source.text)
    body = readable_text(source.text, mentions)
    permalink = await _permalink(client, source)
    description, truncated = fit_description(body, permalink)
    summary = summary_from_text(source.text, mentions, SUMMARY_LIMIT) if source.has_own_text else ""
    return Prefill(summary=summary, description=description, body=body, permalink=permalink,
                   truncated=truncated)


async def _mentions(client: AsyncWebClient, text: str) -> SlackMentions:
    user_ids = sorted(mentioned_user_ids(text))[:MENTION_LOOKUPS]
    channel_ids = sorted(mentioned_channel_ids(text))[:MENTION_LOOKUPS]
    users = await asyncio.gather(*(_user_name(client, u) for u in user_ids))
    channels = await asyncio.gather(*(_channel_name(client, c) for c in channel_ids))
    return SlackMentions(
        users={u: n for u, n in zip(user_ids, users, strict=True) if n},
        channels={c: n for c, n in zip(channel_ids, channels, strict=True) if n},
    )


async def _user_name(client: AsyncWebClient, user_id: str) -> str | None:
    try:
        user = (await client.users_info(user=user_id)).get("user") or {}
    except SlackApiError as exc:
        log.info("slack.user_lookup_failed", extra={"slack_user_id": user_id,
                                                    "error": exc.response.get("error")})
        return None
    profile = user.get("profile") or {}
    return (profile.get("display_name") or profile.get("real_name") or user.get("real_name")
            or user.get("name"))


async def _channel_name(client: AsyncWebClient, channel_id: str) -> str | None:
    try:
        channel = (await client.conversations_info(channel=channel_id)).get("channel") or {}
    except SlackApiError as exc:
        log.info("slack.channel_lookup_failed", extra={"channel_id": channel_id,
                                                       "error": exc.response.get("error")})
        return None
    return channel.get("name")


async def _permalink(client: AsyncWebClient, source: SourceMessage) -> str | None:
    try:
        answer = await client.chat_getPermalink(channel=source.channel_id, message_ts=source.ts)
        return str(answer["permalink"])
    except (SlackApiError, KeyError) as exc:
        log.info("slack.permalink_failed", extra={"channel_id": source.channel_id,
                                                  "error": getattr(exc, "response", {}).get("error")})
    if not source.team_domain:
        return None
    ts = source.ts.replace(".", "")
    return f"https://{source.team_domain}.slack.com/archives/{source.channel_id}/p{ts}"


class SlackMessageReader:
    """The add-to-issue service's view of Slack: a message's form texts and people's full names."""

    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client

    async def prefill(self, source: SourceMessage) -> Prefill:
        return await prefill_from_message(self._client, source)

    async def full_name(self, user_id: str) -> str | None:
        """The full name (Jira's readers may not know Slack handles), else the display name."""
        try:
            user = (await self._client.users_info(user=user_id)).get("user") or {}
        except SlackApiError as exc:
            log.info("slack.user_lookup_failed", extra={"slack_user_id": user_id,
                                                        "error": exc.response.get("error")})
            return None
        profile = user.get("profile") or {}
        return (profile.get("real_name") or user.get("real_name") or profile.get("display_name")
                or user.get("name"))
