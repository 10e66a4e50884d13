"""Listeners of personal notifications: `/jira notify on|off`, the switches line added to `/jira status`,
and the App Home checkboxes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond

from bot.services.personal import PersonalNotificationService
from bot.slack import ids
from bot.slack.context import actor_of
from bot.slack.listeners.commands import CommandRouter
from bot.slack.listeners.errors import guarded
from bot.slack.views import personal as views

RefreshHome = Callable[[str, str, str | None], Awaitable[None]]


@dataclass
class PersonalListeners:
    personal: PersonalNotificationService
    refresh_home: RefreshHome

    async def notify_command(
        self, ack: AsyncAck, respond: AsyncRespond, command: Any, context: AsyncBoltContext, **_: Any
    ) -> None:
        await ack()
        actor = actor_of(context)
        word = str(getattr(command, "args", "") or "").strip().lower()
        if word in {"on", "off"}:
            switches = await self.personal.set_all(actor.team_id, actor.user_id, word == "on")
            if switches.linked:
                await self.refresh_home(actor.team_id, actor.user_id, actor.enterprise_id)
        else:
            switches = await self.personal.switches(actor.team_id, actor.user_id)
        answer = views.build_notify_answer(switches)
        if word not in {"", "on", "off"} and switches.linked:
            answer["text"] = f"{views.NOTIFY_USAGE}\n{answer['text']}"
            answer["blocks"][0]["text"]["text"] = answer["text"]
        await respond(**answer)

    def status_addition(self, original: Any) -> Any:
        """`/jira status`, with (for a linked user) what personal notifications are on, in one answer."""

        async def handler(
            ack: AsyncAck, respond: AsyncRespond, context: AsyncBoltContext, **kwargs: Any
        ) -> None:
            answers: list[dict[str, Any]] = []

            async def collect(message: Any = None, **fields: Any) -> None:
                answers.append(dict(message) if isinstance(message, dict) else {"text": message, **fields})

            await original(ack=ack, respond=collect, context=context, **kwargs)
            actor = actor_of(context)
            switches = await self.personal.switches(actor.team_id, actor.user_id)
            if switches.linked and answers:
                extra = views.build_notify_answer(switches)
                last = answers[-1]
                answers[-1] = {**last, "text": f"{last.get('text') or ''}\n{extra['text']}",
                               "blocks": [*(last.get("blocks") or []), *extra["blocks"]]}
            for answer in answers:
                await respond(**answer)

        return handler

    async def on_kinds(
        self, ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext, **_: Any
    ) -> None:
        await ack()
        actor = actor_of(context)
        action = next(
            (a for a in body.get("actions") or [] if a.get("action_id") == ids.ACTION_PERSONAL_KINDS), {}
        )
        chosen = [str(o.get("value")) for o in action.get("selected_options") or [] if isinstance(o, dict)]
        await self.personal.set_kinds(actor.team_id, actor.user_id, chosen)
        await self.refresh_home(actor.team_id, actor.user_id, actor.enterprise_id)

    async def home_section(self, team_id: str, user_id: str, is_admin: bool) -> list[dict[str, Any]]:
        return views.build_home_switches(await self.personal.switches(team_id, user_id))


def register(app: AsyncApp, router: CommandRouter, listeners: PersonalListeners) -> None:
    router.add("notify", listeners.notify_command)
    original = router.get("status")
    if original is not None:
        router.add("status", listeners.status_addition(original))
    app.action(ids.ACTION_PERSONAL_KINDS)(guarded(listeners.on_kinds))
