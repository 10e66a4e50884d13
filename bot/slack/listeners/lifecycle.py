"""Slack lifecycle events: the app uninstalled, tokens revoked, a person deactivated.

Bolt acknowledges events itself; each listener reads the event and calls WorkspaceCleanup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext

from bot.services.upkeep import WorkspaceCleanup
from bot.slack.context import actor_of


@dataclass
class LifecycleListeners:
    cleanup: WorkspaceCleanup

    async def on_app_uninstalled(self, context: AsyncBoltContext) -> None:
        actor = actor_of(context)
        await self.cleanup.app_uninstalled(actor.team_id, actor.enterprise_id)

    async def on_tokens_revoked(self, event: dict[str, Any], context: AsyncBoltContext) -> None:
        actor = actor_of(context)
        tokens = event.get("tokens") or {}
        await self.cleanup.tokens_revoked(actor.team_id, actor.enterprise_id,
                                          user_ids=_ids(tokens.get("oauth")),
                                          bot_user_ids=_ids(tokens.get("bot")))

    async def on_user_change(self, event: dict[str, Any], context: AsyncBoltContext) -> None:
        user = event.get("user")
        if not isinstance(user, dict) or user.get("deleted") is not True or not user.get("id"):
            return
        teams = [team for team in (context.team_id, user.get("team_id")) if team]
        await self.cleanup.user_deactivated(list(dict.fromkeys(teams)), str(user["id"]))


def _ids(value: Any) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []


def register(app: AsyncApp, listeners: LifecycleListeners) -> None:
    app.event("app_uninstalled")(listeners.on_app_uninstalled)
    app.event("tokens_revoked")(listeners.on_tokens_revoked)
    app.event("user_change")(listeners.on_user_change)
