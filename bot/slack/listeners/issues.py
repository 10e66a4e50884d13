"""Listeners of the create-issue flow: the message shortcut, `/jira create`, the form's selects and
options, and its submission.

The shortcut and the command open a loading modal at once (the trigger_id dies after 3 seconds) and
fill it with `views.update` once Jira has answered. A submission is answered within Slack's 3
seconds: with the result when Jira is quick, otherwise with a "Creating…" view that the result
replaces.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from functools import partial
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.services.issue_cards import CardView, IssueCardService
from bot.services.issue_drafts import SourceMessage
from bot.services.issues import IssueService, IssueSubmission
from bot.services.projects import ProjectDirectory
from bot.slack import ids
from bot.slack.commands import JiraCommand
from bot.slack.context import Actor, actor_of
from bot.slack.listeners.commands import CommandRouter
from bot.slack.listeners.errors import guarded
from bot.slack.metadata import MetadataError, decode_metadata
from bot.slack.notifier import Notifier
from bot.slack.prefill import prefill_from_message
from bot.slack.views import create_issue as views

log = logging.getLogger(__name__)

#: How long a submission may wait for Jira before the "Creating…" view is shown instead.
ACK_BUDGET = 2.0
#: The least time between acking with "Creating…" and replacing it with the result.
ACK_SETTLE = 0.5


@dataclass
class IssueListeners:
    issues: IssueService
    projects: ProjectDirectory
    notifier: Notifier
    cards: IssueCardService | None = None
    ack_budget: float = ACK_BUDGET

    # Opening the modal -------------------------------------------------------------------------
    async def on_shortcut(self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient,
                          context: AsyncBoltContext) -> None:
        await ack()
        actor = actor_of(context)
        view_id = await self._open(client, body.get("trigger_id"), actor)
        if view_id is None:
            return
        if body.get("type") != "message_action":  # a global shortcut: no message to start from
            step = await self.issues.start_from_command(actor, None, "")
        else:
            source = SourceMessage.from_payload(body)
            step = await self.issues.start_from_message(actor, view_id, source,
                                                        read=partial(prefill_from_message, client))
        await self._show(client, view_id, views.build_step_view(step))

    async def create_command(self, ack: AsyncAck, body: dict[str, Any], command: JiraCommand,
                             client: AsyncWebClient, context: AsyncBoltContext, **_: Any) -> None:
        await ack()
        actor = actor_of(context)
        view_id = await self._open(client, body.get("trigger_id"), actor)
        if view_id is None:
            return
        step = await self.issues.start_from_command(actor, body.get("channel_id"), command.args)
        await self._show(client, view_id, views.build_step_view(step))

    async def on_create_another(self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient,
                                context: AsyncBoltContext) -> None:
        await ack()
        view = body.get("view") or {}
        if not await self._show(client, view["id"], views.build_loading_view(), view_hash=view.get("hash")):
            return  # closed, or already moving on (a double click)
        state = decode_metadata(view.get("private_metadata"))
        step = await self.issues.resume(actor_of(context), view["id"], state)
        await self._show(client, view["id"], views.build_step_view(step))

    # Changing the form -------------------------------------------------------------------------
    async def on_project_selected(self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient,
                                  context: AsyncBoltContext) -> None:
        await ack()
        chosen = views.selected_value((body.get("actions") or [{}])[0])
        await self._reload(body, client, actor_of(context), project_key=chosen, issue_type_id=None)

    async def on_issue_type_selected(self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient,
                                     context: AsyncBoltContext) -> None:
        await ack()
        view = body.get("view") or {}
        state = decode_metadata(view.get("private_metadata"))
        await self._reload(body, client, actor_of(context), project_key=state.project_key,
                           issue_type_id=views.selected_value((body.get("actions") or [{}])[0]))

    async def _reload(self, body: dict[str, Any], client: AsyncWebClient, actor: Actor, *,
                      project_key: str | None, issue_type_id: str | None) -> None:
        view = body.get("view") or {}
        state = decode_metadata(view.get("private_metadata"))
        step = await self.issues.reload(actor, state, views.read_texts(view), project_key=project_key,
                                        issue_type_id=issue_type_id)
        # No `hash`: when the user changes the project twice quickly, the later change must win.
        await self._show(client, view["id"], views.build_step_view(step, current=view))

    async def on_project_options(self, ack: AsyncAck, body: dict[str, Any],
                                 context: AsyncBoltContext) -> None:
        actor = actor_of(context)
        projects = await self.projects.search(actor.team_id, actor.user_id, body.get("value") or "")
        await ack(options=views.project_options(projects))

    async def on_user_options(self, ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
        users = await self.issues.search_users(actor_of(context), body.get("value") or "")
        await ack(options=views.user_options(users))

    async def on_link_button(self, ack: AsyncAck) -> None:
        await ack()  # a URL button: the browser does the work

    # Submitting --------------------------------------------------------------------------------
    async def on_submit(self, ack: AsyncAck, view: dict[str, Any], client: AsyncWebClient,
                        context: AsyncBoltContext) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.ack_budget
        actor = actor_of(context)
        try:
            form = views.read_submission(view)
        except MetadataError:
            log.warning("slack.issue.bad_metadata", extra={"team_id": actor.team_id})
            await ack(response_action="update", view=views.build_error_view(views.BROKEN_FORM))
            return
        if form.input is None:
            await ack(response_action="errors", errors=form.errors)
            return
        submission = IssueSubmission(actor=actor, view_id=view["id"], view_hash=str(view.get("hash") or ""),
                                     state=form.state, input=form.input)
        earlier = await self.issues.claim(submission, wait=max(0.0, deadline - loop.time()))
        if earlier is not None:
            await ack(**views.submission_ack(earlier, view))
            return
        creating = asyncio.ensure_future(self.issues.create(submission))
        done, _ = await asyncio.wait({creating}, timeout=max(0.0, deadline - loop.time()))
        if creating in done:
            outcome = creating.result()
            await ack(**views.submission_ack(outcome, view))
        else:
            await ack(response_action="update", view=views.build_creating_view())
            acked_at = loop.time()
            outcome = await creating
            # Slack applies the "Creating…" view when our answer reaches it; an update sent right on its
            # heels could arrive first and be covered by it.
            await asyncio.sleep(max(0.0, acked_at + ACK_SETTLE - loop.time()))
            shown = await self._show(client, view["id"], views.result_view(outcome, view))
            if not shown and not outcome.created:
                notice = views.failure_notice(outcome, project=form.input.project_name,
                                              labels=views.field_labels(view))
                await self.notifier.tell(client, actor, views.build_failed_message(notice))
        if outcome.created and outcome.issue is not None:
            # The reply is the issue card, as the creator reads the new issue.
            read = await self.cards.show(actor, outcome.issue.key) if self.cards is not None else None
            card = read.issue if isinstance(read, CardView) else None
            full = read.channel_full if isinstance(read, CardView) else True
            await self.notifier.announce_created(client, actor, form.state, outcome.issue, card, full=full)

    # Slack calls ------------------------------------------------------------------------------
    async def _open(self, client: AsyncWebClient, trigger_id: str | None, actor: Actor) -> str | None:
        try:
            answer = await client.views_open(trigger_id=trigger_id, view=views.build_loading_view())
        except SlackApiError as exc:
            log.warning("slack.view.open_failed", extra={"team_id": actor.team_id,
                                                         "error": exc.response.get("error")})
            return None
        return str(answer["view"]["id"])

    async def _show(self, client: AsyncWebClient, view_id: str, view: dict[str, Any],
                    view_hash: str | None = None) -> bool:
        """Replaces an open view (only if still at `view_hash`, when given); False when Slack refused
        (the user closed it, or it changed meanwhile)."""
        try:
            await client.views_update(view_id=view_id, view=view, hash=view_hash)
            return True
        except SlackApiError as exc:
            log.info("slack.view.update_failed", extra={"view_id": view_id,
                                                        "error": exc.response.get("error")})
            return False


def register(app: AsyncApp, router: CommandRouter, listeners: IssueListeners) -> None:
    router.add("create", listeners.create_command)

    # Bolt passes listener arguments by name; bound methods work as listeners.
    link_actions = re.compile("^(" + "|".join(re.escape(a) for a in views.LINK_ACTIONS) + ")$")
    app.shortcut(ids.SHORTCUT_CREATE_ISSUE)(guarded(listeners.on_shortcut))
    app.view(ids.VIEW_CREATE_ISSUE)(guarded(listeners.on_submit))
    app.action(views.ACTION_CREATE_ANOTHER)(guarded(listeners.on_create_another))
    app.action(views.ACTION_PROJECT)(guarded(listeners.on_project_selected))
    app.options(views.ACTION_PROJECT)(guarded(listeners.on_project_options))
    app.action(views.ACTION_ISSUE_TYPE)(guarded(listeners.on_issue_type_selected))
    app.options(re.compile(rf"^{re.escape(views.ACTION_USER)}\."))(guarded(listeners.on_user_options))
    app.action(link_actions)(guarded(listeners.on_link_button))
