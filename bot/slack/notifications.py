"""The Slack end of channel notifications: the first event of an issue in a channel posts its card; later
events go in the card's thread and the card is updated to the issue's current state.

What a crash may repeat: a card posted but not yet remembered is posted again on the retry; a thread
reply posted but not yet recorded as delivered is posted again. Nothing else is sent twice.
"""

from __future__ import annotations

import logging

from bot.jira.events import EventKind
from bot.services.channel_events import ChannelDelivery, ChannelEventService, Delivered
from bot.services.inbox import TransientDeliveryError
from bot.slack.sender import ChannelSender, SlackSendFailed, SlackUnavailable
from bot.slack.views.issue_card import build_card_message
from bot.slack.views.notifications import build_event_reply

log = logging.getLogger(__name__)

GONE = {"channel_not_found", "not_in_channel", "is_archived", "no_installation", "account_inactive"}


class ChannelNotificationPoster:
    def __init__(self, sender: ChannelSender, events: ChannelEventService) -> None:
        self._sender = sender
        self._events = events

    async def __call__(self, delivery: ChannelDelivery, delivered: Delivered) -> None:
        try:
            await self._deliver(delivery, delivered)
        except SlackUnavailable as exc:
            raise TransientDeliveryError(f"slack: {exc}") from exc
        except SlackSendFailed as exc:
            log.warning(
                "slack.notification.refused", extra={"team_id": delivery.tenant.team_id, "error": exc.error}
            )
            if exc.error in GONE:
                await self._events.channel_unreachable(delivery, exc.error)

    async def _deliver(self, delivery: ChannelDelivery, delivered: Delivered) -> None:
        tenant, channel = delivery.tenant, delivery.subscription.channel_id
        card = build_card_message(delivery.issue, site_url=tenant.site_url)
        thread_ts = delivery.thread_ts
        if thread_ts is None:
            posted = await self._sender.post(tenant.team_id, tenant.enterprise_id, channel, card)
            thread_ts = await self._events.remember_thread(delivery, posted)
            if thread_ts == posted:  # a new card, current already: the event's own line, if any
                if delivery.event.kinds != {EventKind.CREATED}:
                    await self._reply(delivery, thread_ts)
                await delivered()
                return
        await self._reply(delivery, thread_ts)
        await delivered()
        try:
            await self._sender.update(tenant.team_id, tenant.enterprise_id, channel, thread_ts, card)
        except SlackSendFailed as exc:
            if exc.error in {"message_not_found", "cant_update_message"}:
                await self._events.forget_thread(delivery)  # the card was deleted: the next event posts anew
            else:
                raise

    async def _reply(self, delivery: ChannelDelivery, thread_ts: str) -> None:
        tenant = delivery.tenant
        await self._sender.post(
            tenant.team_id,
            tenant.enterprise_id,
            delivery.subscription.channel_id,
            build_event_reply(delivery.event, delivery.issue.key),
            thread_ts=thread_ts,
        )
