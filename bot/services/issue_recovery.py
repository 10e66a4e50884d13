"""Finding a create's issue again, when the bot cannot tell whether Jira made it.

Every create carries an issue property (:data:`SUBMISSION_PROPERTY`) whose value names the submission
(a digest of its idempotency key). Jira Cloud does not index an OAuth app's properties for JQL, so the
issue is found by searching the user's own issues created in the project since the submission began,
newest first, and reading each candidate's property. The same works on Data Center.

A submission whose outcome is unknown keeps :class:`PendingCreate` in its claim: what another process
needs to look for the issue and tell its creator, should this one die.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.actors import Actor
from bot.form_state import ModalState
from bot.jira.client import FoundIssue, JiraClient

SUBMISSION_PROPERTY = "jirabot.submission"
#: The user's issues read at most, newest first, when looking for one.
LOOKUP_CANDIDATES = 20
#: Minutes added to the search window, for clocks that disagree.
WINDOW_MARGIN_MINUTES = 5


def submission_marker(idempotency_key: str) -> str:
    """What the issue property holds: names the submission without repeating its ids."""
    return hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]


def marker_property(idempotency_key: str) -> dict[str, Any]:
    return {SUBMISSION_PROPERTY: {"submission": submission_marker(idempotency_key)}}


def recent_issues_jql(project_key: str, since: datetime, now: datetime) -> str:
    """The user's own issues in the project created since ``since`` (with a margin), newest first."""
    minutes = math.ceil(max(0.0, (now - since).total_seconds()) / 60) + WINDOW_MARGIN_MINUTES
    project = project_key.replace("\\", "\\\\").replace('"', '\\"')
    return (f'project = "{project}" AND reporter = currentUser() AND created >= -{minutes}m '
            "ORDER BY created DESC")


async def find_created(jira: JiraClient, *, idempotency_key: str, project_key: str, since: datetime,
                       now: datetime) -> FoundIssue | None:
    """The issue that the submission ``idempotency_key`` created, if Jira has it; JiraError when Jira
    could not be asked."""
    marker = submission_marker(idempotency_key)
    for candidate in await jira.search_issues(recent_issues_jql(project_key, since, now),
                                              limit=LOOKUP_CANDIDATES):
        value = await jira.issue_property(candidate.key, SUBMISSION_PROPERTY)
        if isinstance(value, Mapping) and value.get("submission") == marker:
            return candidate
    return None


@dataclass(frozen=True)
class PendingCreate:
    """A submission being created, as kept in its claim (JSON): who, where to tell them, what."""

    actor: Actor
    state: ModalState
    view_id: str
    project_key: str
    project_name: str
    issue_type: str
    summary: str
    since: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "pending": {
                "team_id": self.actor.team_id, "enterprise_id": self.actor.enterprise_id,
                "user_id": self.actor.user_id, "channel_id": self.state.channel_id,
                "message_ts": self.state.message_ts, "thread_ts": self.state.thread_ts,
                "has_draft": self.state.has_draft, "view_id": self.view_id,
                "project_key": self.project_key, "project_name": self.project_name,
                "issue_type": self.issue_type, "summary": self.summary,
            },
            "since": self.since.isoformat(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> PendingCreate | None:
        """None for a claim that holds no (or a damaged) pending create."""
        pending = (data or {}).get("pending")
        if not isinstance(pending, Mapping):
            return None
        try:
            since = datetime.fromisoformat(str((data or {})["since"]))
            return cls(
                actor=Actor(str(pending["team_id"]), pending.get("enterprise_id"), str(pending["user_id"])),
                state=ModalState(channel_id=pending.get("channel_id"), message_ts=pending.get("message_ts"),
                                 thread_ts=pending.get("thread_ts"),
                                 has_draft=bool(pending.get("has_draft"))),
                view_id=str(pending["view_id"]), project_key=str(pending["project_key"]),
                project_name=str(pending.get("project_name") or pending["project_key"]),
                issue_type=str(pending.get("issue_type") or ""), summary=str(pending.get("summary") or ""),
                since=since,
            )
        except (KeyError, TypeError, ValueError):
            return None


def since_of(data: Mapping[str, Any] | None, default: datetime) -> datetime:
    try:
        return datetime.fromisoformat(str((data or {})["since"]))
    except (KeyError, TypeError, ValueError):
        return default


def is_stale(created_at: datetime | None, now: datetime, stale_after: timedelta) -> bool:
    return created_at is not None and created_at <= now - stale_after
