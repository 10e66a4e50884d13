"""Unfurling Jira links shared in Slack, read with the sharing person's own link.

For the links Slack reports (``link_shared``), :meth:`UnfurlService.plan` decides what each one shows:
an issue of the workspace's site that the sharer can see becomes a card (only its key when it has a
security level and the workspace has not turned full previews of those on); a link to another site,
or to an issue the sharer cannot see, shows nothing. A sharer without a link is asked, privately, to
connect. Issues are cached per person for a few seconds (never shared between people), and one read
serves every concurrent request for the same person and issue.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from bot.actors import Actor
from bot.clock import Clock
from bot.jira.errors import JiraError, ReconnectRequired
from bot.jira.issues import IssueSnapshot
from bot.jira.links import issue_key_in
from bot.services.issues import Blocked, IssueService
from bot.services.tokens import TokenService
from storage.store import Storage

log = logging.getLogger(__name__)

DEFAULT_TTL = 20.0
CACHE_LIMIT = 5000
MAX_LINKS = 10  # Slack sends at most a handful per message; never read more than this


@dataclass(frozen=True)
class UnfurledIssue:
    url: str
    key: str
    issue: IssueSnapshot
    restricted_only: bool  # show the key and "Restricted issue", nothing else


@dataclass(frozen=True)
class UnfurlPlan:
    """What to tell Slack: cards for some URLs, or the sharer's connect prompt, or nothing."""

    site_url: str = ""
    cards: tuple[UnfurledIssue, ...] = ()
    connect_url: str | None = None
    site_host: str = ""

    @property
    def empty(self) -> bool:
        return not self.cards and self.connect_url is None


@dataclass
class _Entry:
    expires: float
    issue: IssueSnapshot | None  # None: the person cannot see it


@dataclass
class IssueCache:
    """Issues as one person saw them, for `ttl` seconds; keyed by workspace, person and issue."""

    ttl: float = DEFAULT_TTL
    limit: int = CACHE_LIMIT
    clock: Callable[[], float] = time.monotonic
    _entries: OrderedDict[tuple[str, str, str], _Entry] = field(default_factory=OrderedDict)
    _reading: dict[tuple[str, str, str], asyncio.Future[IssueSnapshot | None]] = field(default_factory=dict)

    async def get(
        self, team_id: str, user_id: str, key: str, read: Callable[[], Awaitable[IssueSnapshot | None]]
    ) -> IssueSnapshot | None:
        ident = (team_id, user_id, key)
        entry = self._entries.get(ident)
        if entry is not None and entry.expires > self.clock():
            return entry.issue
        pending = self._reading.get(ident)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[IssueSnapshot | None] = asyncio.get_running_loop().create_future()
        self._reading[ident] = future
        try:
            issue = await read()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody logs it as lost
            raise
        finally:
            self._reading.pop(ident, None)
        future.set_result(issue)
        self._entries[ident] = _Entry(self.clock() + self.ttl, issue)
        self._entries.move_to_end(ident)
        while len(self._entries) > self.limit:
            self._entries.popitem(last=False)
        return issue

    def forget(self, team_id: str, user_id: str, key: str) -> None:
        """After the person changed the issue: read it afresh next time."""
        self._entries.pop((team_id, user_id, key), None)


class UnfurlService:
    def __init__(
        self,
        storage: Storage,
        tokens: TokenService,
        issues: IssueService,
        clock: Clock,
        cache: IssueCache | None = None,
    ) -> None:
        self._clock = clock
        self._storage = storage
        self._tokens = tokens
        self._issues = issues
        self.cache = cache or IssueCache()

    async def plan(self, actor: Actor, urls: Iterable[str]) -> UnfurlPlan:
        tenant, account = await self._storage.tenants.get_with_account(actor.team_id, actor.user_id)
        if tenant is None:
            return UnfurlPlan()
        wanted: list[tuple[str, str]] = []
        for url in list(dict.fromkeys(urls))[:MAX_LINKS]:
            key = issue_key_in(url, tenant.site_url)
            if key is not None:
                wanted.append((url, key))
        if not wanted:
            return UnfurlPlan()
        if account is None or account.needs_reconnect:
            access = await self._issues.access(actor)
            url = access.connect_url if isinstance(access, Blocked) else None
            return UnfurlPlan(tenant.site_url, connect_url=url, site_host=tenant.site_host)

        async def read(key: str) -> IssueSnapshot | None:
            async def fetch() -> IssueSnapshot | None:
                try:
                    async with self._tokens.session(tenant, account) as jira:
                        return await jira.issue(key)
                except ReconnectRequired:
                    raise
                except JiraError as exc:  # not found, forbidden, or Jira down: no unfurl
                    log.info(
                        "jira.unfurl.unreadable",
                        extra={"team_id": actor.team_id, "error_type": type(exc).__name__},
                    )
                    return None

            return await self.cache.get(actor.team_id, actor.user_id, key, fetch)

        try:
            issues = await asyncio.gather(*(read(key) for _, key in wanted))
        except ReconnectRequired:
            access = await self._issues.access(actor)
            url = access.connect_url if isinstance(access, Blocked) else None
            return UnfurlPlan(tenant.site_url, connect_url=url, site_host=tenant.site_host)
        full = None
        cards: list[UnfurledIssue] = []
        for (url, _key), issue in zip(wanted, issues, strict=True):
            if issue is None:
                continue
            if issue.restricted and full is None:
                full = await self._storage.unfurl_settings.full_restricted(tenant.id)
            cards.append(UnfurledIssue(url, issue.key, issue, restricted_only=issue.restricted and not full))
        return UnfurlPlan(tenant.site_url, tuple(cards), site_host=tenant.site_host)

    async def full_restricted(self, team_id: str) -> bool | None:
        tenant = await self._storage.tenants.get(team_id)
        if tenant is None:
            return None
        return await self._storage.unfurl_settings.full_restricted(tenant.id)

    async def set_full_restricted(self, team_id: str, enabled: bool, *, actor: str) -> bool:
        """Turns full previews of restricted issues on or off; False when Jira is not installed."""
        tenant = await self._storage.tenants.get(team_id)
        if tenant is None:
            return False
        await self._storage.unfurl_settings.set_full_restricted(
            tenant.id, team_id, enabled, actor=actor, now=self._clock.now()
        )
        return True
