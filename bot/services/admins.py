"""Who is an admin: Slack workspace admins, owners and primary owners, plus JIRABOT_ADMINS."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)


class AdminPolicy:
    def __init__(self, extra_admins: list[str]) -> None:
        self._extra = frozenset(extra_admins)

    async def is_admin(self, client: AsyncWebClient, slack_user_id: str) -> bool:
        if slack_user_id in self._extra:
            return True
        try:
            response = await client.users_info(user=slack_user_id)
        except SlackApiError as exc:
            log.warning(
                "slack.users_info_failed",
                extra={"slack_user_id": slack_user_id, "error": exc.response.get("error")},
            )
            return False
        user = response.get("user") or {}
        return bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))
