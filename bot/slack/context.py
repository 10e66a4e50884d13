"""Who and where a Slack request comes from, read once from Bolt's context."""

from __future__ import annotations

from slack_bolt.async_app import AsyncBoltContext

from bot.actors import Actor

__all__ = ["Actor", "actor_of"]


def actor_of(context: AsyncBoltContext) -> Actor:
    team = context.team_id or context.enterprise_id or ""
    return Actor(team_id=team, enterprise_id=context.enterprise_id, user_id=context.user_id or "")
