"""Listeners of "Add to Jira issue": the message shortcut, the Issue select's options, the submission.

The shortcut opens a loading modal at once (the trigger_id dies after 3 seconds) and fills it with
`views.update`. A submission is answered within Slack's 3 seconds: with the result when Jira is quick,
otherwise with an "Adding…" view that the result replaces.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.services.add_to_issue import AddOutcome, AddSubmission, AddToIssueService, MessageOrigin
from bot.services.issue_drafts import SourceMessage
from bot.slack import ids
from bot.slack.context import Actor, actor_of
from bot.slack.listeners.errors import guarded
from bot.slack.metadata import MetadataError
from bot.slack.prefill import SlackMessageReader
from bot.slack.thread_reply import reply_in_thread, tell
from bot.slack.views import add_to_issue as views

log = logging.getLogger(__name__)

#: How long a submission may wait for Jira before the "Adding…" view is shown instead.
ACK_BUDGET = 2.0
#: The least time between acking with "Adding…" and replacing it with the result.
ACK_SETTLE = 0.5
#: Channel names Slack gives conversations that have none of their own.
UNNAMED_CHANNELS = frozenset({"directmessage", "privategroup"})


def origin_of(body: dict[str, Any]) -> MessageOrigin:
    message = body.get("message") or {}
    channel = str((body.get("channel") or {}).get("name") or "")
    return MessageOrigin(
        author_id=message.get("user"),
        author_name=message.get("username") or (message.get("bot_profile") or {}).get("name"),
        channel_name=channel if channel and channel not in UNNAMED_CHANNELS else None,
    )


@dataclass
class AddToIssueListeners:
    service: AddToIssueService
    ack_budget: float = ACK_BUDGET

    async def on_shortcut(self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient,
                          context: AsyncBoltContext) -> None:
        await ack()
        actor = actor_of(context)
        view_id = await self._open(client, body.get("trigger_id"), actor)
        if view_id is None:
            return
        step = await self.service.start(SlackMessageReader(client), actor, view_id,
                                        SourceMessage.from_payload(body), origin_of(body))
        await self._show(client, view_id, views.build_step_view(step))

    async def on_issue_options(self, ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
        issues = await self.service.issue_choices(actor_of(context), str(body.get("value") or ""))
        await ack(options=views.issue_options(issues))

    async def on_link_button(self, ack: AsyncAck) -> None:
        await ack()  # a URL button: the browser does the work

    async def on_submit(self, ack: AsyncAck, view: dict[str, Any], client: AsyncWebClient,
                        context: AsyncBoltContext) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.ack_budget
        actor = actor_of(context)
        try:
            form = views.read_submission(view)
        except MetadataError:
            log.warning("slack.add.bad_metadata", extra={"team_id": actor.team_id})
            await ack(response_action="update", view=views.build_error_view(views.BROKEN_FORM))
            return
        if form.errors or form.issue_key is None:
            await ack(response_action="errors", errors=form.errors)
            return
        submission = AddSubmission(actor=actor, view_id=view["id"], view_hash=str(view.get("hash") or ""),
                                   state=form.state, issue_key=form.issue_key, comment=form.comment)
        earlier = await self.service.claim(submission, wait=max(0.0, deadline - loop.time()))
        if earlier is not None:
            await ack(**views.submission_ack(earlier, view))
            return
        adding = asyncio.ensure_future(self.service.add(SlackMessageReader(client), submission))
        done, _ = await asyncio.wait({adding}, timeout=max(0.0, deadline - loop.time()))
        if adding in done:
            outcome = adding.result()
            await ack(**views.submission_ack(outcome, view))
        else:
            await ack(response_action="update", view=views.build_adding_view(submission.issue_key))
            acked_at = loop.time()
            outcome = await adding
            # Slack applies the "Adding…" view when our answer reaches it; an update sent right on its
            # heels could arrive first and be covered by it.
            await asyncio.sleep(max(0.0, acked_at + ACK_SETTLE - loop.time()))
            shown = await self._show(client, view["id"], views.result_view(outcome, view))
            if not shown and not outcome.added:
                await tell(client, actor, views.build_failed_message(views.failure_notice(outcome)))
        await self._announce(client, submission, outcome)

    async def _announce(self, client: AsyncWebClient, submission: AddSubmission, outcome: AddOutcome) -> None:
        state = submission.state
        if not outcome.added or outcome.repeated or outcome.issue is None:
            return
        if not (state.channel_id and state.message_ts):
            return
        actor = submission.actor
        await reply_in_thread(
            client, actor, channel_id=state.channel_id, thread_ts=state.thread_ts or state.message_ts,
            reply=views.build_thread_reply(outcome.issue, outcome.snapshot, outcome.site_url, actor.user_id),
            fallback=views.build_private_notice(outcome.issue, outcome.snapshot, outcome.site_url, state))

    async def _open(self, client: AsyncWebClient, trigger_id: str | None, actor: Actor) -> str | None:
        try:
            answer = await client.views_open(trigger_id=trigger_id, view=views.build_loading_view())
        except SlackApiError as exc:
            log.warning("slack.view.open_failed", extra={"team_id": actor.team_id,
                                                         "error": exc.response.get("error")})
            return None
        return str(answer["view"]["id"])

    async def _show(self, client: AsyncWebClient, view_id: str, view: dict[str, Any]) -> bool:
        """Replaces an open view; False when Slack refused (the user closed it)."""
        try:
            await client.views_update(view_id=view_id, view=view)
            return True
        except SlackApiError as exc:
            log.info("slack.view.update_failed", extra={"view_id": view_id,
                                                        "error": exc.response.get("error")})
            return False


def register(app: AsyncApp, listeners: AddToIssueListeners) -> None:
    app.shortcut(ids.SHORTCUT_ADD_TO_ISSUE)(guarded(listeners.on_shortcut))
    app.view(ids.VIEW_ADD_TO_ISSUE)(guarded(listeners.on_submit))
    app.options(views.ACTION_ISSUE)(guarded(listeners.on_issue_options))
    app.action(views.ACTION_CHECK_ISSUE)(guarded(listeners.on_link_button))
