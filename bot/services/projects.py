"""Looking up Jira projects as a given Slack user (for selects that search as you type)."""

from __future__ import annotations

import asyncio
import logging

from bot.jira.client import Project
from bot.jira.errors import JiraError
from bot.services.tokens import TokenService
from storage.store import Storage

log = logging.getLogger(__name__)

# Slack waits 3 seconds for options; keep a margin for the round trip.
OPTIONS_DEADLINE = 2.2


class ProjectDirectory:
    def __init__(self, storage: Storage, tokens: TokenService) -> None:
        self._storage = storage
        self._tokens = tokens

    async def search(
        self, team_id: str, slack_user_id: str, query: str, deadline: float = OPTIONS_DEADLINE
    ) -> list[Project]:
        """Projects the user may create issues in; empty when not linked, or when Jira is too slow."""
        tenant = await self._storage.tenants.get(team_id)
        account = await self._storage.accounts.get(team_id, slack_user_id)
        if tenant is None or account is None or account.needs_reconnect or account.tenant_id != tenant.id:
            return []
        try:
            async with asyncio.timeout(deadline), self._tokens.session(tenant, account) as jira:
                return await jira.creatable_projects(query.strip())
        except TimeoutError:
            log.warning("jira.projects.too_slow", extra={"team_id": team_id})
        except JiraError as exc:
            log.warning("jira.projects.failed", extra={"team_id": team_id, "error_type": type(exc).__name__})
        return []
