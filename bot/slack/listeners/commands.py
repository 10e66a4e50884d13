"""The `/jira` slash command router."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import ids
from bot.slack.commands import JiraCommand, parse_command
from bot.slack.listeners.errors import guarded
from bot.slack.views.help import build_help_message

Handler = Callable[..., Awaitable[None]]


class CommandRouter:
    """Maps `/jira` subcommands to handlers; other listener modules add theirs with `add`."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def add(self, name: str, handler: Handler) -> None:
        self._handlers[name] = handler

    def get(self, name: str) -> Handler | None:
        return self._handlers.get(name)

    async def dispatch(
        self,
        ack: AsyncAck,
        respond: AsyncRespond,
        body: dict[str, Any],
        client: AsyncWebClient,
        context: AsyncBoltContext,
    ) -> None:
        command = parse_command(body.get("text"))
        handler = self._handlers.get(command.name)
        if handler is None:
            await ack(**build_help_message(command.raw if command.name == "unknown" else None))
            return
        await handler(ack=ack, respond=respond, body=body, command=command, client=client, context=context)


async def handle_help(ack: AsyncAck, command: JiraCommand, **_: Any) -> None:
    await ack(**build_help_message())


def register(app: AsyncApp, router: CommandRouter) -> None:
    router.add("help", handle_help)

    app.command(ids.COMMAND)(guarded(router.dispatch))
