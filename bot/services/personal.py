"""Personal notifications: a linked user hears by direct message when someone else assigns an issue to
them, mentions them, or comments on or transitions an issue they reported or watch.

A second handler of the webhook inbox (beside channel subscriptions). For each event it finds the
tenant's linked users concerned (assignee, mentions in the comment or the description, the reporter,
and the watchers list the bot reads), never the person who acted, and records one change per recipient
in a pending DM (`storage.repositories.personal`). A pending DM waits `window` seconds so that several
events on one issue make one message; the dispatcher's loop then hands due ones to `flush`, which reads
the issue and each comment again with the RECIPIENT's own link: what they cannot see is dropped, a
restricted comment reaches only those who may read it. Switches are checked again at that moment, so
turning a kind off (or unlinking) stops what is still waiting.

Webhooks: on Jira Cloud each user's own link registers two dynamic webhooks, `assignee = <accountId>`
and `reporter = <accountId>` (the filters Jira allows), refreshed and re-registered by the webhook
upkeep job; watchers and mentions elsewhere reach the bot through the project webhooks of channel
subscriptions. On Data Center the tenant's one webhook brings every event.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from bot.clock import Clock
from bot.jira import webhook_api
from bot.jira.client import JiraClient
from bot.jira.errors import (
    JiraError,
    JiraForbidden,
    JiraHTTPError,
    JiraNotFound,
    JiraRateLimited,
    JiraServerError,
    JiraUnauthorized,
    JiraUnavailable,
    ReconnectRequired,
)
from bot.jira.events import JiraEvent, plain_text
from bot.jira.issues import IssueSnapshot
from bot.jira.jql import quote_value
from bot.jira.mentions import mentioned
from bot.jira.webhook_api import CLOUD_WEBHOOK_SCOPE, WebhookRegistrationFailed
from bot.services.inbox import Progress, TransientDeliveryError, holder_name
from bot.services.tokens import TokenService
from storage.repositories.accounts import AccountRecord
from storage.repositories.personal import LinkedPerson, PendingDm, PersonalSettingsRecord
from storage.repositories.tenants import TenantRecord
from storage.repositories.webhooks import EndpointRecord
from storage.store import Storage

log = logging.getLogger(__name__)

PERSONAL_PURPOSE = "personal"
PERSONAL_EVENTS = ["comment_created", "jira:issue_created", "jira:issue_updated"]
DEFAULT_WINDOW = timedelta(seconds=5)
MAX_WINDOW = timedelta(seconds=10)
QUOTE_LIMIT = 300
CACHE_SECONDS = 2.0


class PersonalKind(StrEnum):
    """The four switches, in the order the App Home shows them."""

    ASSIGNED = "assigned"
    MENTIONED = "mentioned"
    COMMENTED = "commented"
    TRANSITIONED = "transitioned"


ALL_KINDS = frozenset(k.value for k in PersonalKind)


@dataclass(frozen=True)
class Switches:
    """What a user receives: `linked` is False without a working link (then nothing is sent)."""

    linked: bool
    kinds_on: frozenset[str]
    cloud: bool = True
    webhooks_ready: bool = True  # False: a Cloud link without the webhook scope (reconnect to get all)

    @property
    def any_on(self) -> bool:
        return bool(self.kinds_on)


@dataclass(frozen=True)
class Change:
    """One thing that happened to the issue, for one recipient (stored as a dict while pending)."""

    kind: str
    actor: str
    from_status: str | None = None
    to_status: str | None = None
    comment_id: str | None = None
    quote: str | None = None
    where: str | None = None  # mentions: "comment" or "description"

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Change:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in names})  # type: ignore[arg-type]


@dataclass(frozen=True)
class PersonalDm:
    """A grouped DM ready to send: the issue as its recipient sees it now, and what changed."""

    tenant: TenantRecord
    slack_user_id: str
    issue: IssueSnapshot
    changes: tuple[Change, ...]


DmSender = Callable[[PersonalDm], Awaitable[None]]
DcWebhookEnsurer = Callable[[TenantRecord], Awaitable[object]]
WebhookUrl = Callable[[EndpointRecord], str]


def idents(person: Any) -> set[str]:
    """How Jira may name a person in a payload: Cloud accountId, Data Center name and key."""
    if not isinstance(person, Mapping):
        return set()
    return {str(person[k]) for k in ("accountId", "name", "key") if person.get(k)}


class PersonalNotificationService:
    def __init__(
        self,
        storage: Storage,
        tokens: TokenService,
        clock: Clock,
        *,
        webhook_url_for: WebhookUrl,
        ensure_dc_webhook: DcWebhookEnsurer,
        window: timedelta = DEFAULT_WINDOW,
        lease: timedelta = timedelta(seconds=60),
        concurrency: int = 20,
    ) -> None:
        self._storage = storage
        self._tokens = tokens
        self._clock = clock
        self._url_for = webhook_url_for
        self._ensure_dc = ensure_dc_webhook
        self._window = min(window, MAX_WINDOW)
        self._lease = lease
        self._concurrency = concurrency
        self.holder = holder_name()
        self._background: set[asyncio.Task[None]] = set()
        # A burst of events reads the same people and watchers again and again: keep them a moment.
        # (What is finally sent is checked against the database and Jira when the DM goes out.)
        self._people = _Recent[int, tuple[list[LinkedPerson], dict[str, PersonalSettingsRecord]]](
            CACHE_SECONDS
        )
        self._watching = _Recent[tuple[int, str], set[str]](CACHE_SECONDS)
        # One registration (or removal) of a user's webhooks at a time: the link's own start-up work,
        # the upkeep job and an unlink can meet, and two registrations would both find the hooks
        # missing and make each twice (and Jira would deliver each event twice).
        self._user_locks: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    def _user_lock(self, team_id: str, slack_user_id: str) -> asyncio.Lock:
        key = (team_id, slack_user_id)
        lock = self._user_locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._user_locks[key] = lock
        return lock

    # Switches -------------------------------------------------------------------------------------
    async def switches(self, team_id: str, slack_user_id: str) -> Switches:
        tenant, account = await self._storage.tenants.get_with_account(team_id, slack_user_id)
        if tenant is None or account is None or account.needs_reconnect:
            return Switches(False, frozenset())
        settings = await self._storage.personal.settings(team_id, slack_user_id)
        off = settings.kinds_off if settings else frozenset()
        ready = not tenant.is_cloud or CLOUD_WEBHOOK_SCOPE in (account.scopes or "").split()
        return Switches(True, ALL_KINDS - off, cloud=tenant.is_cloud, webhooks_ready=ready)

    async def set_kinds(self, team_id: str, slack_user_id: str, kinds_on: Iterable[str]) -> Switches:
        """Turns exactly `kinds_on` on (the rest off). Off kinds stop at once, waiting DMs included;
        with everything off the user's webhooks are removed, and registered again when one comes on."""
        tenant, account = await self._storage.tenants.get_with_account(team_id, slack_user_id)
        if tenant is None or account is None or account.needs_reconnect:
            return Switches(False, frozenset())
        on = frozenset(k for k in kinds_on if k in ALL_KINDS)
        off = ALL_KINDS - on
        self._people.forget(tenant.id)
        await self._storage.personal.save(
            tenant_id=tenant.id,
            team_id=team_id,
            slack_user_id=slack_user_id,
            kinds_off=sorted(off),
            now=self._clock.now(),
        )
        if off:
            await self._storage.personal.drop_pending(team_id, slack_user_id, set(off))
        if on:
            await self.ensure_webhooks(tenant, account)
        else:
            await self.remove_webhooks(tenant.team_id, slack_user_id)
        return await self.switches(team_id, slack_user_id)

    async def set_all(self, team_id: str, slack_user_id: str, on: bool) -> Switches:
        return await self.set_kinds(team_id, slack_user_id, ALL_KINDS if on else ())

    # Links coming and going -------------------------------------------------------------------------
    async def linked(self, tenant: TenantRecord, account: AccountRecord) -> None:
        """Right after a link is made: register what the user needs, in the background."""
        self._people.forget(tenant.id)
        task = asyncio.create_task(self._prepare(tenant, account))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _prepare(self, tenant: TenantRecord, account: AccountRecord) -> None:
        try:
            settings = await self._storage.personal.settings(tenant.team_id, account.slack_user_id)
            if settings is None or ALL_KINDS - settings.kinds_off:
                await self.ensure_webhooks(tenant, account)
        except Exception:
            log.exception("jira.personal.prepare_failed")

    async def user_left(self, team_id: str, slack_user_id: str, reason: str = "unlinked") -> None:
        """Unlinked or deactivated: their webhooks go (while the link still works) and nothing waits."""
        await self.remove_webhooks(team_id, slack_user_id)
        await self._storage.personal.forget(team_id, slack_user_id)
        self._people.clear()

    async def ensure_all(self) -> int:
        """For the upkeep job: every Cloud user with something on gets the webhooks they lack."""
        made = 0
        for tenant in await self._storage.tenants.list_all():
            if not tenant.is_cloud:
                continue
            settings = await self._storage.personal.settings_of_tenant(tenant.id)
            for person in await self._storage.personal.linked_people(tenant.id):
                mine = settings.get(person.slack_user_id)
                if mine is not None and not ALL_KINDS - mine.kinds_off:
                    continue
                if CLOUD_WEBHOOK_SCOPE not in person.scopes.split():
                    continue
                _, account = await self._storage.tenants.get_with_account(
                    tenant.team_id, person.slack_user_id
                )
                if account is not None and not account.needs_reconnect:
                    made += await self.ensure_webhooks(tenant, account)
        return made

    # Webhooks ---------------------------------------------------------------------------------------
    def _filters(self, account: AccountRecord) -> list[str]:
        who = quote_value(account.jira_account_id or "")
        return [f"assignee = {who}", f"reporter = {who}"]

    async def ensure_webhooks(self, tenant: TenantRecord, account: AccountRecord) -> int:
        """Registers the user's personal webhooks that are missing; returns how many it made."""
        if not tenant.is_cloud:
            # Data Center: the workspace's one webhook, registered with the installing admin's link.
            if account.slack_user_id == tenant.installed_by:
                await self._ensure_dc(tenant)
            return 0
        if not account.jira_account_id or CLOUD_WEBHOOK_SCOPE not in (account.scopes or "").split():
            return 0
        async with self._user_lock(tenant.team_id, account.slack_user_id):
            return await self._register_missing(tenant, account)

    async def _register_missing(self, tenant: TenantRecord, seen: AccountRecord) -> int:
        # Read again under the lock: the user may have unlinked while this waited for it.
        _, account = await self._storage.tenants.get_with_account(tenant.team_id, seen.slack_user_id)
        if account is None or account.needs_reconnect or account.jira_account_id != seen.jira_account_id:
            return 0
        have = {
            h.jql_filter
            for h in await self._storage.webhooks.of_user(tenant.team_id, account.slack_user_id)
            if h.purpose == PERSONAL_PURPOSE
        }
        wanted = [f for f in self._filters(account) if f not in have]
        if not wanted:
            return 0
        now = self._clock.now()
        endpoint = await self._storage.webhooks.endpoint(tenant.id, now=now, with_secret=False)
        made = 0
        try:
            async with self._tokens.session(tenant, account) as client:
                for jql in wanted:
                    jira_id = await webhook_api.register_cloud_webhook(
                        client, self._url_for(endpoint), jql=jql, events=PERSONAL_EVENTS
                    )
                    expires = next(
                        (
                            h.expires_at
                            for h in await webhook_api.list_cloud_webhooks(client)
                            if h.id == jira_id
                        ),
                        None,
                    )
                    await self._storage.webhooks.add(
                        tenant_id=tenant.id,
                        team_id=tenant.team_id,
                        slack_user_id=account.slack_user_id,
                        purpose=PERSONAL_PURPOSE,
                        subscription_id=None,
                        jira_webhook_id=jira_id,
                        jql_filter=jql,
                        events=PERSONAL_EVENTS,
                        expires_at=expires,
                        now=self._clock.now(),
                    )
                    made += 1
        except (WebhookRegistrationFailed, JiraError, ReconnectRequired) as exc:
            log.warning(
                "jira.personal.webhook_failed", extra={"team_id": tenant.team_id, "error": type(exc).__name__}
            )
        if made:
            log.info("jira.personal.webhooks_registered", extra={"team_id": tenant.team_id, "count": made})
        return made

    async def remove_webhooks(self, team_id: str, slack_user_id: str) -> None:
        async with self._user_lock(team_id, slack_user_id):
            await self._remove(team_id, slack_user_id)

    async def _remove(self, team_id: str, slack_user_id: str) -> None:
        hooks = [
            h
            for h in await self._storage.webhooks.of_user(team_id, slack_user_id)
            if h.purpose == PERSONAL_PURPOSE
        ]
        if not hooks:
            return
        tenant, account = await self._storage.tenants.get_with_account(team_id, slack_user_id)
        ids = [h.jira_webhook_id for h in hooks if h.jira_webhook_id]
        if tenant is not None and account is not None and not account.needs_reconnect and ids:
            try:
                async with self._tokens.session(tenant, account) as client:
                    await webhook_api.delete_cloud_webhooks(client, ids)
            except (JiraError, ReconnectRequired) as exc:
                # Unrefreshed, they lapse within 30 days; their deliveries reach nobody meanwhile.
                log.warning("jira.personal.webhook_delete_failed", extra={"error": type(exc).__name__})
        for hook in hooks:
            await self._storage.webhooks.remove(hook.id)

    # Who hears what ---------------------------------------------------------------------------------
    async def handle(self, tenant: TenantRecord, event: JiraEvent, progress: Progress) -> None:
        """Records the event's changes for every linked user it concerns (not the one who acted)."""
        raw = event.raw
        issue = raw.get("issue") if isinstance(raw.get("issue"), Mapping) else {}
        fields = issue.get("fields") if isinstance(issue.get("fields"), Mapping) else {}
        assert isinstance(fields, Mapping)
        comment = raw.get("comment") if isinstance(raw.get("comment"), Mapping) else None
        new_mentions, where = _new_mentions(event, fields, comment)
        if not (event.kinds or new_mentions):
            return
        known = self._people.get(tenant.id)
        if known is None:
            known = (
                await self._storage.personal.linked_people(tenant.id),
                await self._storage.personal.settings_of_tenant(tenant.id),
            )
            self._people.put(tenant.id, known)
        people, settings = known
        if not people:
            return
        actor = idents(raw.get("user")) | idents(comment.get("author") if comment else None)
        actor_name = event.actor.name if event.actor else "Someone"
        reporter = idents(fields.get("reporter"))
        assignee = idents(fields.get("assignee"))
        assigned = event.assignment is not None or (event.webhook_event == "jira:issue_created" and assignee)
        watchers: set[str] | None = None
        recorded: dict[str, list[dict[str, Any]]] = {}
        for person in people:
            mine = settings.get(person.slack_user_id)
            on = ALL_KINDS - (mine.kinds_off if mine else frozenset())
            if not on:
                continue
            who = {person.jira_account_id} | ({mine.jira_name} if mine and mine.jira_name else set())
            if new_mentions and not tenant.is_cloud and not (mine and mine.jira_name):
                who |= await self._dc_name_of(tenant, person)
            if who & actor:
                continue  # never about their own actions
            changes: list[Change] = []
            if PersonalKind.ASSIGNED in on and assigned and who & assignee:
                changes.append(Change(PersonalKind.ASSIGNED, actor_name))
            mentioned_here = PersonalKind.MENTIONED in on and bool(who & new_mentions)
            if mentioned_here:
                changes.append(
                    Change(
                        PersonalKind.MENTIONED,
                        actor_name,
                        comment_id=event.comment.id if event.comment and where == "comment" else None,
                        quote=_quote(comment.get("body") if comment and where == "comment" else None),
                        where=where,
                    )
                )
            wants_comment = PersonalKind.COMMENTED in on and event.comment is not None and not mentioned_here
            wants_move = PersonalKind.TRANSITIONED in on and event.transition is not None
            if (wants_comment or wants_move) and not who & reporter:
                if watchers is None:
                    # Read with the link of someone the issue surely shows to first (its reporter or
                    # assignee when linked), then with others'.
                    near = reporter | assignee
                    readers = sorted(people, key=lambda p: p.jira_account_id not in near)
                    watchers = self._watching.get((tenant.id, event.issue_key))
                    if watchers is None:
                        watchers = await self._watchers(tenant, event.issue_key, readers)
                        self._watching.put((tenant.id, event.issue_key), watchers)
                if not who & watchers:
                    wants_comment = wants_move = False
            if wants_comment and event.comment is not None:
                changes.append(
                    Change(
                        PersonalKind.COMMENTED,
                        actor_name,
                        comment_id=event.comment.id,
                        quote=_quote(comment.get("body") if comment else None),
                    )
                )
            if wants_move and event.transition is not None:
                changes.append(
                    Change(
                        PersonalKind.TRANSITIONED,
                        actor_name,
                        from_status=event.transition.from_status,
                        to_status=event.transition.to_status,
                    )
                )
            if changes and not progress.done(f"dm:{person.slack_user_id}"):
                recorded[person.slack_user_id] = [c.as_dict() for c in changes]
        if not recorded:
            return
        # One transaction for every recipient, then one write saying so (a retry skips them).
        await self._storage.personal.add_changes(
            tenant_id=tenant.id,
            team_id=tenant.team_id,
            issue_key=event.issue_key,
            changes=recorded,
            received_at=progress.received_at,
            window=self._window,
        )
        await progress.mark_all([f"dm:{user}" for user in recorded])

    async def _watchers(self, tenant: TenantRecord, issue_key: str, people: list[LinkedPerson]) -> set[str]:
        """The issue's watchers, read with the first linked user's link that may read them."""
        for person in people[:5]:
            _, account = await self._storage.tenants.get_with_account(tenant.team_id, person.slack_user_id)
            if account is None or account.needs_reconnect:
                continue
            try:
                async with self._tokens.session(tenant, account) as client:
                    data = await client.call("GET", f"issue/{quote(issue_key, safe='')}/watchers") or {}
            except (JiraNotFound, JiraForbidden, JiraUnauthorized, ReconnectRequired):
                continue
            except (JiraUnavailable, JiraRateLimited, JiraServerError) as exc:
                raise TransientDeliveryError(type(exc).__name__) from exc
            found: set[str] = set()
            for watcher in data.get("watchers") or []:
                found |= idents(watcher)
            return found
        return set()

    async def _dc_name_of(self, tenant: TenantRecord, person: LinkedPerson) -> set[str]:
        _, account = await self._storage.tenants.get_with_account(tenant.team_id, person.slack_user_id)
        if account is None or account.needs_reconnect:
            return set()
        try:
            name = await self._dc_name(tenant, account)
        except (JiraNotFound, JiraForbidden, JiraUnauthorized, ReconnectRequired):
            return set()
        except (JiraUnavailable, JiraRateLimited, JiraServerError) as exc:
            raise TransientDeliveryError(type(exc).__name__) from exc
        return {name} if name else set()

    async def _dc_name(self, tenant: TenantRecord, account: AccountRecord) -> str | None:
        """A Data Center user's login name (what `[~name]` mentions use); the link keeps the user key."""
        settings = await self._storage.personal.settings(tenant.team_id, account.slack_user_id)
        if settings is not None and settings.jira_name:
            return settings.jira_name
        async with self._tokens.session(tenant, account) as client:
            data = await client.call("GET", "myself") or {}
        name = str(data.get("name") or "") or None
        if name:
            self._people.forget(tenant.id)
            await self._storage.personal.save(
                tenant_id=tenant.id,
                team_id=tenant.team_id,
                slack_user_id=account.slack_user_id,
                jira_name=name,
                now=self._clock.now(),
            )
        return name

    # Flushing grouped DMs --------------------------------------------------------------------------
    async def flush(self, send: DmSender) -> int:
        """Sends every pending DM whose window has passed (the dispatcher calls this on each turn)."""
        due = await self._storage.personal.claim_due(
            self.holder, now=self._clock.now(), lease=self._lease, limit=self._concurrency * 5
        )
        if not due:
            return 0
        gate = asyncio.Semaphore(self._concurrency)

        async def one(pending: PendingDm) -> None:
            async with gate:
                await self._flush_one(pending, send)

        await asyncio.gather(*(one(p) for p in due))
        return len(due)

    async def _flush_one(self, pending: PendingDm, send: DmSender) -> None:
        try:
            dm = await self.prepare(pending)
            if dm is not None:
                await send(dm)
        except TransientDeliveryError as exc:
            if pending.attempts < 6:
                delay = timedelta(seconds=min(120.0, 2.0**pending.attempts))
                log.warning("slack.personal.retry_later", extra={"error": str(exc), "delay": delay.seconds})
                await self._storage.personal.release(pending.id, self.holder, at=self._clock.now() + delay)
                return
            log.error("slack.personal.gave_up", extra={"error": str(exc)})
        except Exception:
            log.exception("slack.personal.failed")
        await self._storage.personal.finish(pending.id, self.holder)

    async def prepare(self, pending: PendingDm) -> PersonalDm | None:
        """The DM as the recipient may see it now, or None when nothing of it is theirs to see."""
        tenant, account = await self._storage.tenants.get_with_account(pending.team_id, pending.slack_user_id)
        if tenant is None or account is None or account.needs_reconnect or tenant.id != pending.tenant_id:
            return None
        settings = await self._storage.personal.settings(pending.team_id, pending.slack_user_id)
        on = ALL_KINDS - (settings.kinds_off if settings else frozenset())
        changes = [Change.from_dict(c) for c in pending.changes]
        changes = [c for c in changes if c.kind in on]
        if not changes:
            return None
        try:
            async with self._tokens.session(tenant, account) as client:
                issue = await client.issue(pending.issue_key)
                readable = await _readable_comments(client, issue.key, [c.comment_id for c in changes])
                visible = [c for c in changes if c.comment_id is None or c.comment_id in readable]
        except (JiraNotFound, JiraForbidden, ReconnectRequired, JiraUnauthorized):
            return None
        except (JiraUnavailable, JiraRateLimited, JiraServerError) as exc:
            raise TransientDeliveryError(type(exc).__name__) from exc
        except JiraHTTPError as exc:
            log.warning("jira.personal.read_failed", extra={"status": exc.status})
            return None
        if not visible:
            return None
        return PersonalDm(tenant, pending.slack_user_id, issue, tuple(visible))


async def _readable_comments(client: JiraClient, issue_key: str, wanted: list[str | None]) -> set[str]:
    """Which of these comments the client's user may read (Jira hides restricted ones from others):
    one comment is read by id; several through the issue's newest comments, then by id what is left."""
    ids = {c for c in wanted if c is not None}
    found: set[str] = set()
    if len(ids) > 1:
        data = await client.call(
            "GET",
            f"issue/{quote(issue_key, safe='')}/comment",
            params={"orderBy": "-created", "maxResults": 100},
        )
        found = {str(c.get("id")) for c in (data or {}).get("comments") or [] if isinstance(c, Mapping)} & ids
    for comment_id in ids - found:
        try:
            await client.comment(issue_key, comment_id)
        except (JiraNotFound, JiraForbidden):
            continue  # a restricted comment they may not read
        found.add(comment_id)
    return found


def _new_mentions(
    event: JiraEvent, fields: Mapping[str, Any], comment: Mapping[str, Any] | None
) -> tuple[set[str], str | None]:
    """Who this event newly mentions, and where: a new comment's mentions, or those a description
    gained (on creation, or an edit whose changelog shows the text before)."""
    if comment is not None and event.webhook_event == "comment_created":
        return mentioned(comment.get("body")), "comment"
    if event.webhook_event == "jira:issue_created":
        return mentioned(fields.get("description")), "description"
    if event.webhook_event == "jira:issue_updated":
        changelog = event.raw.get("changelog") if isinstance(event.raw.get("changelog"), Mapping) else {}
        for item in changelog.get("items") or []:
            if isinstance(item, Mapping) and str(item.get("field") or "").lower() == "description":
                now = mentioned(fields.get("description")) | mentioned(item.get("toString"))
                return now - mentioned(item.get("fromString")), "description"
    return set(), None


def _quote(body: Any) -> str | None:
    text = plain_text(body, QUOTE_LIMIT) if body is not None else ""
    return text or None


K = TypeVar("K")
V = TypeVar("V")


class _Recent(Generic[K, V]):
    """Values kept for `seconds` (this process only)."""

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._values: dict[K, tuple[float, V]] = {}

    def get(self, key: K) -> V | None:
        found = self._values.get(key)
        if found is None or time.monotonic() - found[0] > self._seconds:
            return None
        return found[1]

    def put(self, key: K, value: V) -> None:
        if len(self._values) > 10_000:
            self._values.clear()
        self._values[key] = (time.monotonic(), value)

    def forget(self, key: K) -> None:
        self._values.pop(key, None)

    def clear(self) -> None:
        self._values.clear()
