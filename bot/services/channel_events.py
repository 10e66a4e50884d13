"""Who in which channel should hear of a Jira event, bounded by what each subscriber can see.

For each channel with an active subscription to the event's project and kind: the issue (and the
comment) are read with the subscriber's own link; what they cannot see is not delivered; a comment with
a visibility restriction never goes to a channel; a filter that webhooks cannot apply is checked with a
search as the subscriber. One delivery per channel, whatever number of its subscriptions match.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.clock import Clock
from bot.jira import webhook_api
from bot.jira.errors import (
    JiraBadRequest,
    JiraForbidden,
    JiraHTTPError,
    JiraNotFound,
    JiraRateLimited,
    JiraServerError,
    JiraUnavailable,
    ReconnectRequired,
)
from bot.jira.events import JiraEvent
from bot.jira.issues import IssueSnapshot
from bot.jira.jql import project_filter, quote_value
from bot.services.inbox import Progress, TransientDeliveryError
from bot.services.tokens import TokenService
from storage.repositories.subscriptions import SubscriptionRecord
from storage.repositories.tenants import TenantRecord
from storage.store import Storage

log = logging.getLogger(__name__)

CHANNEL_UNREACHABLE = "channel_unreachable"


@dataclass(frozen=True)
class ChannelDelivery:
    """One event for one channel, with the issue as its subscriber sees it now."""

    key: str
    tenant: TenantRecord
    subscription: SubscriptionRecord
    event: JiraEvent
    issue: IssueSnapshot
    thread_ts: str | None


Delivered = Callable[[], Awaitable[None]]
#: Posts one delivery; calls `delivered()` as soon as its last new message is in Slack (before any
#: card update, which is safe to repeat), so that a crash repeats as little as possible.
ChannelPoster = Callable[[ChannelDelivery, Delivered], Awaitable[None]]


def delivery_key(subscription: SubscriptionRecord) -> str:
    return f"channel:{subscription.channel_id}"


class ChannelEventService:
    def __init__(self, storage: Storage, tokens: TokenService, clock: Clock) -> None:
        self._storage = storage
        self._tokens = tokens
        self._clock = clock

    async def handle(
        self, tenant: TenantRecord, event: JiraEvent, progress: Progress, post: ChannelPoster
    ) -> None:
        """Delivers `event` to every channel that should hear it and has not yet."""
        if not event.kinds:
            return
        subscriptions = await self._storage.subscriptions.active_for_project(tenant.id, event.project_key)
        by_channel: dict[str, list[SubscriptionRecord]] = {}
        for subscription in subscriptions:
            if any(kind.value in subscription.events for kind in event.kinds):
                by_channel.setdefault(subscription.channel_id, []).append(subscription)
        for candidates in by_channel.values():
            key = delivery_key(candidates[0])
            if progress.done(key):
                continue
            delivery = await self._first_visible(tenant, event, candidates, key)
            if delivery is not None:

                async def delivered(key: str = key) -> None:
                    await progress.mark(key)

                await post(delivery, delivered)
            if not progress.done(key):
                await progress.mark(key)

    async def _first_visible(
        self, tenant: TenantRecord, event: JiraEvent, candidates: list[SubscriptionRecord], key: str
    ) -> ChannelDelivery | None:
        for subscription in candidates:
            if subscription.jql_in_webhook and not await self._matched(subscription, event):
                continue
            issue = await self.visible_issue(tenant, subscription, event)
            if issue is not None:
                thread_ts = await self._storage.threads.get(
                    tenant.team_id, subscription.channel_id, issue.key
                )
                return ChannelDelivery(key, tenant, subscription, event, issue, thread_ts)
        return None

    async def _matched(self, subscription: SubscriptionRecord, event: JiraEvent) -> bool:
        """A filter Jira applies itself: the delivery must name this subscription's webhook."""
        hooks = await self._storage.webhooks.for_subscription(subscription.id)
        return any(h.jira_webhook_id in event.matched_webhook_ids for h in hooks)

    async def visible_issue(
        self, tenant: TenantRecord, subscription: SubscriptionRecord, event: JiraEvent
    ) -> IssueSnapshot | None:
        """The issue as the subscriber sees it, or None when they may not see this event."""
        if event.comment is not None and event.comment.restricted:
            return None
        _, account = await self._storage.tenants.get_with_account(tenant.team_id, subscription.created_by)
        if account is None or account.needs_reconnect:
            return None
        try:
            async with self._tokens.session(tenant, account) as client:
                issue = await client.issue(event.issue_key)
                if event.comment is not None:
                    comment = await webhook_api.get_comment(client, issue.key, event.comment.id)
                    if comment.restricted:
                        return None
                if subscription.jql and not subscription.jql_in_webhook:
                    jql = project_filter(subscription.project_key, subscription.jql)
                    jql = f"{jql} AND key = {quote_value(issue.key)}"
                    if not await webhook_api.search_keys(client, jql, limit=1):
                        return None
                elif subscription.project_key != issue.project_key:
                    return None
        except (JiraNotFound, JiraForbidden):
            return None
        except JiraBadRequest:
            log.warning("jira.subscription.filter_rejected", extra={"subscription": subscription.id})
            return None
        except ReconnectRequired:
            return None
        except (JiraUnavailable, JiraRateLimited, JiraServerError) as exc:
            raise TransientDeliveryError(type(exc).__name__) from exc
        except JiraHTTPError as exc:
            log.warning("jira.subscription.read_failed", extra={"status": exc.status})
            return None
        return issue

    async def remember_thread(self, delivery: ChannelDelivery, message_ts: str) -> str:
        return await self._storage.threads.put(
            tenant_id=delivery.tenant.id,
            team_id=delivery.tenant.team_id,
            channel_id=delivery.subscription.channel_id,
            issue_key=delivery.issue.key,
            message_ts=message_ts,
            now=self._clock.now(),
        )

    async def channel_unreachable(self, delivery: ChannelDelivery, error: str) -> None:
        """Slack says the bot cannot post there (removed, archived, deleted): the subscription stops."""
        if await self._storage.subscriptions.deactivate(
            delivery.subscription.id, reason=CHANNEL_UNREACHABLE, now=self._clock.now()
        ):
            log.warning(
                "slack.subscription.channel_unreachable",
                extra={"team_id": delivery.tenant.team_id, "error": error},
            )

    async def forget_thread(self, delivery: ChannelDelivery) -> None:
        await self._storage.threads.forget(
            delivery.tenant.team_id, delivery.subscription.channel_id, delivery.issue.key
        )
