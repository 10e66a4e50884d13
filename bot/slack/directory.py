"""Names of Slack users and workspaces, for pages that must say plainly whose Slack account is meant."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import aiohttp
from slack_sdk.errors import SlackApiError

from bot.slack.app import SlackGateway

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SlackNames:
    user: str
    workspace: str


class SlackDirectory:
    def __init__(self, gateway: SlackGateway) -> None:
        self._gateway = gateway

    async def names(self, team_id: str, user_id: str, enterprise_id: str | None = None) -> SlackNames:
        """ "Alice Anders (@alice)" and "Acme (acme.slack.com)"; the IDs where Slack does not answer."""
        user, workspace = user_id, team_id
        client = await self._gateway.client_for(team_id, enterprise_id)
        if client is None:
            return SlackNames(user, workspace)
        try:
            found = (await client.users_info(user=user_id)).get("user") or {}
            profile = found.get("profile") or {}
            real = profile.get("real_name") or found.get("real_name") or ""
            handle = profile.get("display_name") or found.get("name") or ""
            if real and handle and handle != real:
                user = f"{real} (@{handle})"
            elif real or handle:
                user = real or f"@{handle}"
            auth = await client.auth_test()
            team_name = str(auth.get("team") or "")
            host = str(auth.get("url") or "").split("://", 1)[-1].rstrip("/")
            if team_name:
                workspace = f"{team_name} ({host})" if host else team_name
        except SlackApiError as exc:
            log.warning("slack.names_failed", extra={"team_id": team_id, "error": exc.response.get("error")})
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("slack.names_failed", extra={"team_id": team_id, "error": type(exc).__name__})
        return SlackNames(user, workspace)
