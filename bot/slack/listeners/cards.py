"""Listeners of issue cards: `/jira show KEY` (and `/jira KEY`), "Share in channel", the card's
actions (Assign to me, Transition, Comment, Watch), their modals, link unfurls, and the admin switch
for full unfurls of restricted issues.

Every listener acks first; whatever waits on Jira happens after. Actions run as the person who clicks
(the service reads their own link). After one, the card the bot posted is updated in place (an
ephemeral card through its response URL), and the clicker is told privately what happened.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.jira.links import is_issue_key
from bot.services.admins import AdminPolicy
from bot.services.issue_cards import ActionDone, CardView, IssueCardService, Refusal, Refused, TransitionForm
from bot.services.issues import FieldInput
from bot.services.unfurls import UnfurlService
from bot.slack import ids
from bot.slack.card_metadata import CardModal, CardPlace, decode_card_modal
from bot.slack.commands import JiraCommand
from bot.slack.context import Actor, actor_of
from bot.slack.listeners.commands import CommandRouter
from bot.slack.listeners.errors import guarded
from bot.slack.metadata import MetadataError
from bot.slack.notifier import Notifier
from bot.slack.views import card_actions as views
from bot.slack.views.create_issue import field_action_id, field_block_id
from bot.slack.views.issue_card import card_issue_key
from bot.slack.views.linking import ADMINS_ONLY, NOT_INSTALLED_FOR_ADMIN

log = logging.getLogger(__name__)

#: How long a transition form's submission waits for Jira before closing the modal and telling later.
ACK_BUDGET = 2.0
WHICH_ISSUE = "Which issue? Try `/jira show ENG-42` (or just `/jira ENG-42`)."
UNFURLS_USAGE = "Use `/jira admin unfurls restricted on` or `/jira admin unfurls restricted off`."
UNFURLS_ON = (
    "Jira links to issues with a security level now unfurl in full, for whoever shares them "
    "(each preview is read with the sharer's own Jira account)."
)
UNFURLS_OFF = (
    'Jira links to issues with a security level now unfurl as their key and "Restricted issue" only.'
)
UNFURLS_NOW = "Full previews of issues with a security level are *{state}*. " + UNFURLS_USAGE


@dataclass
class CardListeners:
    cards: IssueCardService
    unfurls: UnfurlService
    admins: AdminPolicy
    notifier: Notifier
    ack_budget: float = ACK_BUDGET

    # /jira show --------------------------------------------------------------------------------
    async def show_command(
        self, ack: AsyncAck, respond: AsyncRespond, command: JiraCommand, context: AsyncBoltContext, **_: Any
    ) -> None:
        await ack()
        key = (command.args.split() or [""])[0].upper()
        if not is_issue_key(key):
            await respond({"response_type": "ephemeral", "text": WHICH_ISSUE})
            return
        result = await self.cards.show(actor_of(context), key)
        if isinstance(result, CardView):
            await respond(views.build_private_card(result))
        else:
            await respond(views.build_notice(result, key))

    async def on_share(
        self,
        ack: AsyncAck,
        body: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
        context: AsyncBoltContext,
    ) -> None:
        await ack()
        actor = actor_of(context)
        key = card_issue_key(_action(body))
        place = CardPlace.from_action(body, context.bot_user_id, context.bot_id)
        if key is None or place.channel_id is None:
            return
        result = await self.cards.show(actor, key)
        if isinstance(result, Refused):
            await respond(views.build_notice(result, key))
            return
        shared = views.build_shared_card(result, actor.user_id)
        try:
            await client.chat_postMessage(
                channel=place.channel_id,
                text=shared["text"],
                blocks=shared["blocks"],
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as exc:
            log.info(
                "slack.card.share_failed",
                extra={"team_id": actor.team_id, "error": exc.response.get("error")},
            )
            await respond({"response_type": "ephemeral", "replace_original": False, "text": views.CANT_SHARE})
            return
        await respond({"delete_original": True})

    # Buttons ------------------------------------------------------------------------------------
    async def on_assign(
        self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        await ack()
        key = card_issue_key(_action(body))
        if key is not None:
            result = await self.cards.assign_to_me(actor_of(context), key)
            await self._after(client, context, body, key, result)

    async def on_watch(
        self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        await ack()
        key = card_issue_key(_action(body))
        if key is not None:
            result = await self.cards.watch(actor_of(context), key)
            await self._after(client, context, body, key, result)

    async def on_comment(
        self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        await ack()
        actor = actor_of(context)
        key = card_issue_key(_action(body))
        if key is None:
            return
        place = CardPlace.from_action(body, context.bot_user_id, context.bot_id)
        refusal = await self.cards.check(actor)
        if refusal is not None:
            await self._tell(client, actor, place, views.build_notice(refusal, key))
            return
        await client.views_open(
            trigger_id=body["trigger_id"], view=views.build_comment_modal(CardModal(key, place))
        )

    async def on_comment_submit(
        self, ack: AsyncAck, view: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.ack_budget
        text = views.read_comment(view)
        if not text.strip():
            await ack(response_action="errors", errors={ids.BLOCK_CARD_COMMENT: views.COMMENT_EMPTY})
            return
        try:
            state = decode_card_modal(view.get("private_metadata"))
        except MetadataError:
            await ack(response_action="errors", errors={ids.BLOCK_CARD_COMMENT: views.INTERNAL})
            return
        actor = actor_of(context)
        # One comment per view: a repeated delivery of the same submission finds the first one's key.
        adding = asyncio.ensure_future(self.cards.comment(actor, state.key, text, submission=str(view["id"])))
        done, _ = await asyncio.wait({adding}, timeout=max(0.0, deadline - loop.time()))
        if adding in done:
            result = adding.result()
            if isinstance(result, Refused) and views.keeps_comment_open(result):
                # Jira refused: say why on the input, with the text still there to fix or retry.
                await ack(
                    response_action="errors", errors={ids.BLOCK_CARD_COMMENT: views.input_error(result)}
                )
                return
            await ack()
        else:
            await ack()
            result = await adding
        await self._finish(client, actor, state.place, state.key, result, comment=text)

    # The Transition select ------------------------------------------------------------------------
    async def on_transition_options(
        self, ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        key = card_issue_key({"action_id": ids.ACTION_CARD_TRANSITION, "block_id": body.get("block_id")})
        if key is None:
            await ack(options=[])
            return
        await ack(
            options=views.transition_options(await self.cards.transition_choices(actor_of(context), key))
        )

    async def on_transition_chosen(
        self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        await ack()
        actor = actor_of(context)
        action = _action(body)
        key = card_issue_key(action)
        if key is None:
            return
        place = CardPlace.from_action(body, context.bot_user_id, context.bot_id)
        value = str((action.get("selected_option") or {}).get("value") or "")
        choice = views.read_transition_choice(value)
        if choice is None:
            refusal = await self.cards.check(actor) if value == views.CHOICE_CONNECT else None
            await self._tell(
                client, actor, place, views.build_notice(refusal or Refused(Refusal.UNREACHABLE, key), key)
            )
            return
        transition_id, needs_form = choice
        view_id = None
        if needs_form:  # open at once: the trigger dies after 3 seconds, Jira may take longer
            opened = await client.views_open(
                trigger_id=body["trigger_id"], view=views.build_loading_modal(key)
            )
            view_id = str(opened["view"]["id"])
        step = await self.cards.start_transition(actor, key, transition_id)
        if isinstance(step, TransitionForm):
            modal = views.build_transition_modal(step, CardModal(key, place))
            if view_id is not None:
                await _update_view(client, view_id, modal)
                return
            try:  # Jira asks for fields it did not list a moment ago; the trigger may have expired
                await client.views_open(trigger_id=body["trigger_id"], view=modal)
            except SlackApiError as exc:
                log.info(
                    "slack.card.form_open_failed",
                    extra={"team_id": actor.team_id, "error": exc.response.get("error")},
                )
                await self._tell(client, actor, place, views.build_notice(Refused(Refusal.GONE, key), key))
            return
        if view_id is not None:
            await _update_view(client, view_id, views.build_result_modal(key, views.notice_text(step, key)))
        await self._after(client, context, body, key, step)

    async def on_transition_submit(
        self, ack: AsyncAck, view: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.ack_budget
        try:
            state = decode_card_modal(view.get("private_metadata"))
        except MetadataError:
            await ack(response_action="update", view=views.build_result_modal("issue", views.INTERNAL))
            return
        if state.transition_id is None:
            await ack()
            return
        actor = actor_of(context)
        values = (view.get("state") or {}).get("values") or {}
        form_state = views.transition_form_state(state, state.transition_id)
        inputs = tuple(
            FieldInput(
                field_id,
                kind,
                (values.get(field_block_id(field_id, form_state)) or {}).get(field_action_id(field_id, kind))
                or {},
            )
            for field_id, kind in state.fields
        )
        running = asyncio.ensure_future(
            self.cards.finish_transition(
                actor, state.key, state.transition_id, state.transition_name or "", inputs
            )
        )
        done, _ = await asyncio.wait({running}, timeout=max(0.0, deadline - loop.time()))
        if running in done:
            result = running.result()
            if isinstance(result, Refused) and result.reason == Refusal.REJECTED and result.field_errors:
                mapped, rest = views.field_errors_for_blocks(result.field_errors, state)
                if mapped and not rest and not result.messages:
                    await ack(response_action="errors", errors=mapped)
                    return
            await ack()
        else:
            await ack()
            result = await running
        await self._finish(client, actor, state.place, state.key, result)

    # Unfurls --------------------------------------------------------------------------------------
    async def on_link_shared(
        self, event: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        user = event.get("user")
        links = [str(link.get("url")) for link in event.get("links") or [] if link.get("url")]
        if not user or not links:
            return
        actor = Actor(
            team_id=context.team_id or context.enterprise_id or "",
            enterprise_id=context.enterprise_id,
            user_id=str(user),
        )
        plan = await self.unfurls.plan(actor, links)
        if plan.empty:
            return
        target: dict[str, Any] = (
            {"unfurl_id": event["unfurl_id"], "source": event["source"]}
            if event.get("unfurl_id") and event.get("source")
            else {"channel": event.get("channel"), "ts": event.get("message_ts")}
        )
        try:
            if plan.connect_url is not None:
                await client.chat_unfurl(
                    **target,
                    unfurls={},
                    user_auth_required=True,
                    user_auth_url=plan.connect_url,
                    user_auth_message=views.UNFURL_AUTH,
                )
            else:
                await client.chat_unfurl(**target, unfurls=views.build_unfurls(plan))
        except SlackApiError as exc:
            log.warning(
                "slack.unfurl.failed", extra={"team_id": actor.team_id, "error": exc.response.get("error")}
            )

    # The admin switch -----------------------------------------------------------------------------
    async def admin_unfurls(
        self,
        ack: AsyncAck,
        respond: AsyncRespond,
        command: JiraCommand,
        client: AsyncWebClient,
        context: AsyncBoltContext,
        **_: Any,
    ) -> None:
        await ack()
        actor = actor_of(context)
        if not await self.admins.is_admin(client, actor.user_id):
            log.warning("slack.admin.refused", extra={"team_id": actor.team_id, "command": "admin unfurls"})
            await respond({"response_type": "ephemeral", "text": ADMINS_ONLY})
            return
        words = command.args.lower().split()
        if (
            words[:1] != ["restricted"]
            or len(words) > 2
            or (len(words) == 2 and words[1] not in {"on", "off"})
        ):
            await respond({"response_type": "ephemeral", "text": UNFURLS_USAGE})
            return
        if len(words) == 1:
            current = await self.unfurls.full_restricted(actor.team_id)
            text = (
                NOT_INSTALLED_FOR_ADMIN
                if current is None
                else UNFURLS_NOW.format(state="on" if current else "off")
            )
            await respond({"response_type": "ephemeral", "text": text})
            return
        await respond({"response_type": "ephemeral", "text": await self._switch(actor, words[1] == "on")})
        await self.notifier.publish_home(client, actor.team_id, actor.user_id)

    async def on_home_switch(
        self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        await ack()
        actor = actor_of(context)
        if not await self.admins.is_admin(client, actor.user_id):
            log.warning("slack.admin.refused", extra={"team_id": actor.team_id, "command": "home unfurls"})
            return
        await self._switch(actor, _action(body).get("value") == "on")
        await self.notifier.publish_home(client, actor.team_id, actor.user_id)

    async def _switch(self, actor: Actor, enabled: bool) -> str:
        if not await self.unfurls.set_full_restricted(actor.team_id, enabled, actor=actor.user_id):
            return NOT_INSTALLED_FOR_ADMIN
        log.info("slack.admin.unfurls", extra={"team_id": actor.team_id, "full_restricted": enabled})
        return UNFURLS_ON if enabled else UNFURLS_OFF

    # After an action ------------------------------------------------------------------------------
    async def _after(
        self,
        client: AsyncWebClient,
        context: AsyncBoltContext,
        body: dict[str, Any],
        key: str,
        result: ActionDone | Refused | TransitionForm,
    ) -> None:
        if isinstance(result, TransitionForm):
            return
        place = CardPlace.from_action(body, context.bot_user_id, context.bot_id)
        await self._finish(client, actor_of(context), place, key, result)

    async def _finish(
        self,
        client: AsyncWebClient,
        actor: Actor,
        place: CardPlace,
        key: str,
        result: ActionDone | Refused,
        comment: str | None = None,
    ) -> None:
        """Updates the card to the issue's new state and tells the clicker what happened."""
        if isinstance(result, ActionDone):
            self.unfurls.cache.forget(actor.team_id, actor.user_id, key)
            if result.card is not None:
                await self._update_card(client, actor, place, result.card)
        await self._tell(client, actor, place, views.build_notice(result, key, comment=comment))

    async def _update_card(
        self, client: AsyncWebClient, actor: Actor, place: CardPlace, card: CardView
    ) -> None:
        try:
            if place.bot_message and place.channel_id and place.message_ts:
                message = views.build_updated_card(card, place.note, private=False)
                await client.chat_update(
                    channel=place.channel_id,
                    ts=place.message_ts,
                    text=message["text"],
                    blocks=message["blocks"],
                )
            elif place.ephemeral and place.response_url:
                message = views.build_updated_card(card, None, private=True)
                await AsyncWebhookClient(place.response_url, session=client.session).send_dict(
                    {**message, "replace_original": True}
                )
        except SlackApiError as exc:
            log.info(
                "slack.card.update_failed",
                extra={"team_id": actor.team_id, "error": exc.response.get("error")},
            )

    async def _tell(
        self, client: AsyncWebClient, actor: Actor, place: CardPlace, notice: dict[str, Any]
    ) -> None:
        """A private message to the clicker: through the card's response URL, else ephemeral, else DM."""
        if place.response_url:
            response = await AsyncWebhookClient(place.response_url, session=client.session).send_dict(notice)
            if response.status_code == 200:
                return
            log.info(
                "slack.card.response_url_failed",
                extra={"team_id": actor.team_id, "status": response.status_code},
            )
        message = {"text": notice["text"], "blocks": notice.get("blocks")}
        if place.channel_id:
            try:
                await client.chat_postEphemeral(channel=place.channel_id, user=actor.user_id, **message)
                return
            except SlackApiError as exc:
                log.info(
                    "slack.card.ephemeral_failed",
                    extra={"team_id": actor.team_id, "error": exc.response.get("error")},
                )
        try:
            await client.chat_postMessage(channel=actor.user_id, **message)
        except SlackApiError as exc:
            log.warning(
                "slack.dm_failed", extra={"team_id": actor.team_id, "error": exc.response.get("error")}
            )


def _action(body: dict[str, Any]) -> dict[str, Any]:
    return (body.get("actions") or [{}])[0]


async def _update_view(client: AsyncWebClient, view_id: str, view: dict[str, Any]) -> None:
    try:
        await client.views_update(view_id=view_id, view=view)
    except SlackApiError as exc:
        log.info("slack.view.update_failed", extra={"view_id": view_id, "error": exc.response.get("error")})


def register(app: AsyncApp, router: CommandRouter, listeners: CardListeners) -> None:
    router.add("show", listeners.show_command)
    router.add("admin unfurls", listeners.admin_unfurls)
    app.action(ids.ACTION_CARD_ASSIGN)(guarded(listeners.on_assign))
    app.action(ids.ACTION_CARD_WATCH)(guarded(listeners.on_watch))
    app.action(ids.ACTION_CARD_COMMENT)(guarded(listeners.on_comment))
    app.action(ids.ACTION_CARD_SHARE)(guarded(listeners.on_share))
    app.action(ids.ACTION_CARD_TRANSITION)(guarded(listeners.on_transition_chosen))
    app.options(ids.ACTION_CARD_TRANSITION)(guarded(listeners.on_transition_options))
    app.action(ids.ACTION_CARD_OPEN)(guarded(_ack_only))
    app.action(ids.ACTION_UNFURL_RESTRICTED)(guarded(listeners.on_home_switch))
    app.view(ids.VIEW_CARD_COMMENT)(guarded(listeners.on_comment_submit))
    app.view(ids.VIEW_CARD_TRANSITION)(guarded(listeners.on_transition_submit))
    app.event("link_shared")(guarded(listeners.on_link_shared))


async def _ack_only(ack: AsyncAck) -> None:
    await ack()  # a URL button: the browser does the work
