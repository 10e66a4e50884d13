"""Creates whose process died mid-way: the service finds out how each ended, and here their creators
are told in Slack, as they would have been (the thread reply, or "could not tell, check Jira")."""

from __future__ import annotations

from bot.services.issues import IssueService, Resolution
from bot.slack.notifier import Notifier
from bot.slack.views import create_issue as views


class AbandonedCreates:
    def __init__(self, issues: IssueService, notifier: Notifier) -> None:
        self._issues = issues
        self._notifier = notifier

    async def run(self) -> dict[str, int]:
        found = unsure = 0
        for resolution in await self._issues.resolve_abandoned():
            if resolution.outcome.created:
                found += 1
            else:
                unsure += 1
            await self.tell(resolution)
        return {"abandoned_creates_found": found, "abandoned_creates_unsure": unsure}

    async def tell(self, resolution: Resolution) -> None:
        pending, outcome = resolution.pending, resolution.outcome
        actor = pending.actor
        client = await self._notifier.client_for(actor.team_id, actor.enterprise_id)
        if client is None:
            return
        if outcome.created and outcome.issue is not None:
            await self._notifier.announce_created(client, actor, pending.state, outcome.issue)
            return
        notice = views.failure_notice(outcome, project=pending.project_name)
        await self._notifier.tell(client, actor, views.build_failed_message(notice))
