"""Creating Jira issues from Slack: who may, what the form starts with, and the create itself.

The modal opens at once and is filled in afterwards; each step here answers what to show next
(:data:`Step`). The create is idempotent per view submission (view id and hash): the first delivery
claims a key in the database, a repeated one (Slack retry, double click) sees the first one's outcome.
A create that failed for certain releases its key so the user can correct and resubmit; one whose
outcome is unknown (a timeout or 5xx after the request may have reached Jira) keeps it, so it is never
sent again behind the user's back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

import httpx

from bot.actors import Actor
from bot.clock import Clock
from bot.form_state import ModalState
from bot.jira.client import FoundIssue, IssueType, JiraUser, Project
from bot.jira.errors import (
    JiraBadRequest,
    JiraError,
    JiraForbidden,
    JiraHTTPError,
    JiraNotFound,
    JiraRateLimited,
    JiraServerError,
    JiraUnavailable,
    ReconnectRequired,
)
from bot.jira.formatting import truncate_for_slack_input
from bot.services.create_meta import (
    FieldPlan,
    FieldValueError,
    description_value,
    jira_value,
    plan_fields,
    rich_text_value,
)
from bot.services.issue_drafts import (
    SUMMARY_LIMIT,
    DraftStore,
    FormTexts,
    Prefill,
    SourceMessage,
    description_digest,
)
from bot.services.issue_recovery import (
    PendingCreate,
    find_created,
    is_stale,
    marker_property,
    since_of,
)
from bot.services.linking import CloudNotConfigured, LinkingService, NotInstalled
from bot.services.tokens import TokenService
from storage.repositories.accounts import AccountRecord
from storage.repositories.idempotency import PENDING, Claim
from storage.repositories.issue_links import IssueLinkRecord
from storage.repositories.tenants import TenantRecord
from storage.store import Storage

log = logging.getLogger(__name__)

CREATE_KEY_LIFETIME = timedelta(days=1)
CREATE_PREFIX = "create:"
#: A create still pending after this long is taken to be dead (its process stopped) and is resolved by
#: looking in Jira. Longer than any create can take: four attempts after 429s, each with its timeout.
STALE_AFTER = timedelta(minutes=3)
#: When a create got no clear answer, look for its issue after these pauses (a search may lag).
LOOKUP_DELAYS = (0.0, 0.5, 1.5)
#: The search window starts this much before the create was sent.
LOOKUP_MARGIN = timedelta(minutes=1)
# Slack waits 3 seconds for options; keep a margin for the round trip.
OPTIONS_DEADLINE = 2.2
# How often a repeated submission looks whether the first one is done.
CLAIM_POLL = 0.2

A = TypeVar("A")
B = TypeVar("B")


# ---------------------------------------------------------------------------------------------------
# Who is asking
# ---------------------------------------------------------------------------------------------------


class BlockedReason(StrEnum):
    NOT_INSTALLED = "not_installed"
    CLOUD_NOT_CONFIGURED = "cloud_not_configured"
    NOT_LINKED = "not_linked"
    NEEDS_RECONNECT = "needs_reconnect"


@dataclass(frozen=True)
class Blocked:
    """The user cannot create issues yet; ``connect_url`` starts a (re)link when that is the fix."""

    reason: BlockedReason
    site: str | None = None
    connect_url: str | None = None


@dataclass(frozen=True)
class Ready:
    tenant: TenantRecord
    account: AccountRecord

    @property
    def jira_user(self) -> str:
        return self.account.display_name or self.account.email or self.account.jira_account_id or "you"


Access = Ready | Blocked


# ---------------------------------------------------------------------------------------------------
# What to show next
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FormData:
    """What Jira says the form holds: the project (None while none is chosen), its issue types, the
    chosen one and its required fields."""

    site_url: str
    site_host: str
    jira_user: str
    project: Project | None = None
    issue_types: tuple[IssueType, ...] = ()
    issue_type: IssueType | None = None
    plan: FieldPlan = field(default_factory=FieldPlan)
    unavailable_project: str | None = None


@dataclass(frozen=True)
class ShowForm:
    data: FormData
    texts: FormTexts
    state: ModalState


@dataclass(frozen=True)
class ShowDuplicate:
    """The message already has issues: show them and ask before creating another."""

    links: tuple[IssueLinkRecord, ...]
    state: ModalState


@dataclass(frozen=True)
class ShowBlocked:
    blocked: Blocked


@dataclass(frozen=True)
class ShowJiraDown:
    """Jira did not answer (or answered with a server error) while loading the form."""


Step = ShowForm | ShowDuplicate | ShowBlocked | ShowJiraDown


# ---------------------------------------------------------------------------------------------------
# The create
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldInput:
    """A further field as submitted: its id, input kind and Slack state value."""

    field_id: str
    kind: str
    value: Mapping[str, Any]


@dataclass(frozen=True)
class IssueInput:
    """What the user submitted in the form."""

    project_key: str
    project_name: str
    issue_type_id: str
    issue_type_name: str
    summary: str
    description: str = ""
    fields: tuple[FieldInput, ...] = ()


@dataclass(frozen=True)
class IssueSubmission:
    actor: Actor
    view_id: str
    view_hash: str
    state: ModalState
    input: IssueInput

    @property
    def idempotency_key(self) -> str:
        return f"{CREATE_PREFIX}{self.actor.team_id}:{self.view_id}:{self.view_hash}"

    def pending(self, since: datetime) -> PendingCreate:
        return PendingCreate(
            actor=self.actor, state=self.state, view_id=self.view_id, project_key=self.input.project_key,
            project_name=self.input.project_name, issue_type=self.input.issue_type_name,
            summary=normalized_summary(self.input.summary), since=since)


@dataclass(frozen=True)
class IssueCreated:
    key: str
    url: str
    summary: str
    issue_type: str
    project_key: str
    project_name: str

    def to_json(self) -> dict[str, str]:
        return {"key": self.key, "url": self.url, "summary": self.summary, "issue_type": self.issue_type,
                "project_key": self.project_key, "project_name": self.project_name}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> IssueCreated:
        return cls(**{name: str(data.get(name) or "") for name in
                      ("key", "url", "summary", "issue_type", "project_key", "project_name")})


class OutcomeStatus(StrEnum):
    CREATED = "created"
    PENDING = "pending"  # another delivery of the same submission is creating it
    INVALID = "invalid"  # Jira (or we) found problems with fields: nothing was created
    FAILED = "failed"


class FailureReason(StrEnum):
    NO_PERMISSION = "no_permission"
    UNREACHABLE = "unreachable"
    RATE_LIMITED = "rate_limited"
    UNCERTAIN = "uncertain"  # the request may have reached Jira: not resent
    RECONNECT = "reconnect"
    NOT_LINKED = "not_linked"
    NOT_INSTALLED = "not_installed"
    REJECTED = "rejected"
    INTERNAL = "internal"


@dataclass(frozen=True)
class CreateOutcome:
    status: OutcomeStatus
    issue: IssueCreated | None = None
    field_errors: Mapping[str, str] = field(default_factory=dict)
    messages: tuple[str, ...] = ()
    reason: FailureReason | None = None
    connect_url: str | None = None
    check_url: str | None = None

    @property
    def created(self) -> bool:
        return self.status == OutcomeStatus.CREATED and self.issue is not None


@dataclass(frozen=True)
class Resolution:
    """How a submission that was left pending ended: its issue found (CREATED), or unsure."""

    pending: PendingCreate
    outcome: CreateOutcome


class _InvalidFields(Exception):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(", ".join(errors))
        self.errors = errors


# ---------------------------------------------------------------------------------------------------
# The service
# ---------------------------------------------------------------------------------------------------


class IssueService:
    def __init__(self, storage: Storage, tokens: TokenService, linking: LinkingService, clock: Clock, *,
                 stale_after: timedelta = STALE_AFTER,
                 lookup_delays: tuple[float, ...] = LOOKUP_DELAYS) -> None:
        self._storage = storage
        self._tokens = tokens
        self._linking = linking
        self._clock = clock
        self._stale_after = stale_after
        self.lookup_delays = lookup_delays
        # Submissions this process took over from a claim that was left: the create looks for the
        # earlier attempt's issue before sending anything (key -> when the submission began).
        self._taken_over: dict[str, datetime] = {}
        self.drafts = DraftStore(storage, clock)

    # Who is asking ------------------------------------------------------------------------------
    async def access(self, actor: Actor) -> Access:
        tenant, account = await self._storage.tenants.get_with_account(actor.team_id, actor.user_id)
        if tenant is None:
            return Blocked(BlockedReason.NOT_INSTALLED)
        if account is not None and not account.needs_reconnect:
            return Ready(tenant, account)
        reason = BlockedReason.NOT_LINKED if account is None else BlockedReason.NEEDS_RECONNECT
        return await self._blocked(actor, tenant, reason)

    async def _blocked(self, actor: Actor, tenant: TenantRecord, reason: BlockedReason) -> Blocked:
        try:
            url = await self._linking.begin_link(team_id=actor.team_id, enterprise_id=actor.enterprise_id,
                                                 slack_user_id=actor.user_id)
        except NotInstalled:
            return Blocked(BlockedReason.NOT_INSTALLED)
        except CloudNotConfigured:
            return Blocked(BlockedReason.CLOUD_NOT_CONFIGURED, tenant.site_host)
        return Blocked(reason, tenant.site_host, url)

    # Opening the form ---------------------------------------------------------------------------
    async def start_from_message(self, actor: Actor, view_id: str, source: SourceMessage,
                                 read: Callable[[SourceMessage], Awaitable[Prefill]]) -> Step:
        """The first view for a message: the form, or why not, or the message's existing issues.
        ``read`` turns the message into the form's texts (it asks Slack, so only once access is known)."""
        access = await self.access(actor)
        if isinstance(access, Blocked):
            return ShowBlocked(access)
        prefill = await read(source)
        state = ModalState(channel_id=source.channel_id, message_ts=source.ts, thread_ts=source.thread_ts,
                           description_digest=description_digest(prefill.description), has_draft=True,
                           truncated=prefill.truncated)
        await self.drafts.save(actor.team_id, view_id, prefill)
        links = await self._storage.issue_links.for_message(actor.team_id, source.channel_id, source.ts)
        if links:
            log.info("jira.issue.already_linked", extra={"team_id": actor.team_id, "count": len(links)})
            return ShowDuplicate(tuple(links), state)
        return await self._form(access, actor, state, prefill.texts)

    async def start_from_command(self, actor: Actor, channel_id: str | None, summary: str) -> Step:
        """The first view of `/jira create [summary]`: the form without a source message."""
        access = await self.access(actor)
        if isinstance(access, Blocked):
            return ShowBlocked(access)
        line = " ".join(summary.split())
        texts = FormTexts(summary=truncate_for_slack_input(line, SUMMARY_LIMIT))
        return await self._form(access, actor, ModalState(channel_id=channel_id or None), texts)

    async def resume(self, actor: Actor, view_id: str, state: ModalState) -> Step:
        """The form after the user confirmed creating another issue from the same message."""
        access = await self.access(actor)
        if isinstance(access, Blocked):
            return ShowBlocked(access)
        draft = await self.drafts.load(actor.team_id, view_id)
        texts = draft.texts if draft is not None else FormTexts()
        return await self._form(access, actor, state, texts)

    async def reload(self, actor: Actor, state: ModalState, texts: FormTexts, *, project_key: str | None,
                     issue_type_id: str | None) -> Step:
        """The form for another project or issue type, keeping what the user typed."""
        access = await self.access(actor)
        if isinstance(access, Blocked):
            return ShowBlocked(access)
        if project_key is None:
            return ShowForm(self._empty_form(access), texts, state)
        return await self._form(access, actor, state, texts, project_key=project_key,
                                issue_type_id=issue_type_id)

    async def _form(self, ready: Ready, actor: Actor, state: ModalState, texts: FormTexts, *,
                    project_key: str | None = None, issue_type_id: str | None = None) -> Step:
        try:
            data = await self.load_form(ready, project_key=project_key, issue_type_id=issue_type_id)
        except ReconnectRequired:
            return ShowBlocked(await self._blocked(actor, ready.tenant, BlockedReason.NEEDS_RECONNECT))
        except JiraError as exc:
            log.warning("jira.issue.form_failed", extra={"team_id": actor.team_id,
                                                         "error_type": type(exc).__name__})
            return ShowJiraDown()
        return ShowForm(data, texts, state)

    def _empty_form(self, ready: Ready, unavailable: str | None = None) -> FormData:
        return FormData(site_url=ready.tenant.site_url, site_host=ready.tenant.site_host,
                        jira_user=ready.jira_user, unavailable_project=unavailable)

    async def load_form(self, ready: Ready, *, project_key: str | None = None,
                        issue_type_id: str | None = None) -> FormData:
        """The form for ``project_key``, or else for the user's last project, the workspace default,
        or the only project the user can create in.

        A project the user cannot create in is skipped (and named, when they chose it).
        """
        tenant, account = ready.tenant, ready.account
        if project_key is not None:
            candidates = [project_key]
        else:
            preferred = (account.last_project_key, tenant.default_project_key)
            candidates = list(dict.fromkeys(k for k in preferred if k))
        async with self._tokens.session(tenant, account) as jira:
            if not candidates:
                only = await jira.creatable_projects("", limit=2)
                candidates = [only[0].key] if len(only) == 1 else []
            for key in candidates:
                try:
                    project, types = await _both(jira.project(key), jira.issue_types(key))
                    creatable = tuple(t for t in types if not t.subtask)
                    if not creatable:
                        continue
                    chosen = next((t for t in creatable if t.id == issue_type_id), creatable[0])
                    plan = plan_fields(await jira.fields(project.key, chosen.id))
                except (JiraNotFound, JiraForbidden, JiraBadRequest) as exc:
                    log.info("jira.issue.project_unavailable", extra={"team_id": tenant.team_id,
                                                                      "project": key, "status": exc.status})
                    continue
                return FormData(site_url=tenant.site_url, site_host=tenant.site_host,
                                jira_user=ready.jira_user, project=project, issue_types=creatable,
                                issue_type=chosen, plan=plan)
        return self._empty_form(ready, unavailable=project_key)

    async def search_users(self, actor: Actor, query: str,
                           deadline: float = OPTIONS_DEADLINE) -> list[JiraUser]:
        """Jira users matching ``query``, for user inputs; empty when not linked or Jira is too slow."""
        if not query.strip():
            return []
        access = await self._ready_or_none(actor)
        if access is None:
            return []
        try:
            async with asyncio.timeout(deadline), self._tokens.session(access.tenant, access.account) as jira:
                return await jira.search_users(query.strip())
        except TimeoutError:
            log.warning("jira.users.too_slow", extra={"team_id": actor.team_id})
        except JiraError as exc:
            log.warning("jira.users.failed", extra={"team_id": actor.team_id,
                                                    "error_type": type(exc).__name__})
        return []

    async def _ready_or_none(self, actor: Actor) -> Ready | None:
        tenant = await self._storage.tenants.get(actor.team_id)
        account = await self._storage.accounts.get(actor.team_id, actor.user_id)
        if tenant is None or account is None or account.needs_reconnect or account.tenant_id != tenant.id:
            return None
        return Ready(tenant, account)

    # Creating -----------------------------------------------------------------------------------
    async def claim(self, submission: IssueSubmission, *, wait: float = 0.0) -> CreateOutcome | None:
        """None when this delivery of a submission may create the issue; a repeated delivery gets the
        first one's outcome instead, waiting up to ``wait`` seconds while that is still being created
        (PENDING if it still is). When the first one failed for certain, the repeat may go ahead; when
        it was left pending (the process died) or unsure for longer than ``stale_after``, the repeat
        takes it over, and its create first looks in Jira for the issue the first one may have made."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        key = submission.idempotency_key
        while True:
            now = self._clock.now()
            claim = await self._storage.idempotency.claim(
                key, team_id=submission.actor.team_id, now=now, expires_at=now + CREATE_KEY_LIFETIME,
                context=submission.pending(now).to_json())
            if claim.claimed or await self._take_over(submission, claim, now):
                return None
            if claim.status != PENDING or loop.time() + CLAIM_POLL > deadline:
                break
            await asyncio.sleep(CLAIM_POLL)
        log.info("jira.issue.duplicate_submission", extra={
            "team_id": submission.actor.team_id, "view_id": submission.view_id, "status": claim.status})
        result = claim.result or {}
        if result.get("outcome") == OutcomeStatus.CREATED.value:
            issue = IssueCreated.from_json(result.get("issue") or {})
            return CreateOutcome(OutcomeStatus.CREATED, issue=issue)
        if result.get("outcome") == FailureReason.UNCERTAIN.value:
            return CreateOutcome(OutcomeStatus.FAILED, reason=FailureReason.UNCERTAIN,
                                 check_url=result.get("check_url"))
        return CreateOutcome(OutcomeStatus.PENDING)

    async def _take_over(self, submission: IssueSubmission, claim: Claim, now: datetime) -> bool:
        result = claim.result or {}
        left = claim.status == PENDING or result.get("outcome") == FailureReason.UNCERTAIN.value
        if not left or not is_stale(claim.created_at, now, self._stale_after):
            return False
        since = since_of(result, claim.created_at or now)
        key = submission.idempotency_key
        if not await self._storage.idempotency.take_over(key, seen=claim, now=now,
                                                         result=submission.pending(since).to_json()):
            return False
        self._taken_over[key] = since
        log.info("jira.issue.claim_taken_over", extra={"team_id": submission.actor.team_id,
                                                       "view_id": submission.view_id, "status": claim.status})
        return True

    async def create(self, submission: IssueSubmission) -> CreateOutcome:
        """Creates the issue of a claimed submission, as the user; never raises."""
        key = submission.idempotency_key
        since = self._taken_over.pop(key, None)
        try:
            ready_or_blocked = await self.access(submission.actor)
            if isinstance(ready_or_blocked, Blocked):
                await self._storage.idempotency.release(key)
                return self._blocked_outcome(ready_or_blocked)
            ready = ready_or_blocked
            fields = await self._fields(submission, cloud=ready.tenant.is_cloud)
        except _InvalidFields as exc:
            await self._storage.idempotency.release(key)
            return CreateOutcome(OutcomeStatus.INVALID, field_errors=exc.errors)
        except Exception:
            log.exception("jira.issue.prepare_failed", extra={"team_id": submission.actor.team_id})
            await self._storage.idempotency.release(key)
            return CreateOutcome(OutcomeStatus.FAILED, reason=FailureReason.INTERNAL)
        if since is not None:  # an earlier attempt may have made it: look before creating another
            pending = submission.pending(since)
            try:
                found = await self._find(ready, pending, key)
            except Exception as exc:
                return await self._unsure(pending, key, ready, exc)
            if found is not None:
                issue = await self._found(pending, key, ready, found)
                return CreateOutcome(OutcomeStatus.CREATED, issue=issue)
        return await self._send(submission, ready, fields)

    async def _send(self, submission: IssueSubmission, ready: Ready, fields: dict[str, Any]) -> CreateOutcome:
        key = submission.idempotency_key
        extra = {"team_id": submission.actor.team_id, "slack_user_id": submission.actor.user_id,
                 "project": submission.input.project_key}
        try:
            async with self._tokens.session(ready.tenant, ready.account) as jira:
                created = await jira.create_issue(fields, marker_property(key))
        except JiraBadRequest as exc:
            await self._storage.idempotency.release(key)
            log.info("jira.issue.rejected", extra={**extra, "fields": sorted(exc.errors)})
            return CreateOutcome(OutcomeStatus.INVALID, field_errors=exc.errors,
                                 messages=tuple(exc.error_messages))
        except ReconnectRequired:
            await self._storage.idempotency.release(key)
            blocked = await self._blocked(submission.actor, ready.tenant, BlockedReason.NEEDS_RECONNECT)
            return CreateOutcome(OutcomeStatus.FAILED, reason=FailureReason.RECONNECT,
                                 connect_url=blocked.connect_url)
        except (JiraForbidden, JiraNotFound) as exc:
            await self._storage.idempotency.release(key)
            log.info("jira.issue.forbidden", extra={**extra, "status": exc.status})
            return CreateOutcome(OutcomeStatus.FAILED, reason=FailureReason.NO_PERMISSION)
        except JiraRateLimited:
            await self._storage.idempotency.release(key)
            log.warning("jira.issue.rate_limited", extra=extra)
            return CreateOutcome(OutcomeStatus.FAILED, reason=FailureReason.RATE_LIMITED)
        except JiraUnavailable as exc:
            if _may_have_reached_jira(exc):
                return await self._uncertain(submission, ready, exc)
            await self._storage.idempotency.release(key)
            log.warning("jira.issue.unreachable", extra=extra)
            return CreateOutcome(OutcomeStatus.FAILED, reason=FailureReason.UNREACHABLE)
        except JiraServerError as exc:
            return await self._uncertain(submission, ready, exc)
        except JiraHTTPError as exc:
            await self._storage.idempotency.release(key)
            log.warning("jira.issue.refused", extra={**extra, "status": exc.status})
            return CreateOutcome(OutcomeStatus.FAILED, reason=FailureReason.REJECTED,
                                 messages=tuple(_messages_of(exc.body)))
        except JiraError as exc:  # a token refresh that failed before anything was sent
            await self._storage.idempotency.release(key)
            log.warning("jira.issue.unreachable", extra={**extra, "error_type": type(exc).__name__})
            return CreateOutcome(OutcomeStatus.FAILED, reason=FailureReason.UNREACHABLE)
        except Exception as exc:
            log.exception("jira.issue.create_crashed", extra=extra)
            return await self._uncertain(submission, ready, exc)
        issue = IssueCreated(
            key=created.key, url=issue_url(ready.tenant.site_url, created.key),
            summary=str(fields.get("summary") or ""), issue_type=submission.input.issue_type_name,
            project_key=submission.input.project_key, project_name=submission.input.project_name,
        )
        await self._record(submission.pending(self._clock.now()), key, ready, issue)
        log.info("jira.issue.created", extra={**extra, "issue_key": issue.key,
                                              "api": 3 if ready.tenant.is_cloud else 2,
                                              "from_message": submission.state.from_message})
        return CreateOutcome(OutcomeStatus.CREATED, issue=issue)

    async def _uncertain(self, submission: IssueSubmission, ready: Ready, exc: Exception) -> CreateOutcome:
        """The create got no clear answer: Jira may have made the issue. Looks for it (a few times, as a
        search may lag behind a create) rather than sending the create again."""
        key = submission.idempotency_key
        pending = submission.pending(self._clock.now() - LOOKUP_MARGIN)
        log.warning("jira.issue.outcome_unknown", extra={"team_id": submission.actor.team_id,
                                                         "project": submission.input.project_key,
                                                         "error_type": type(exc).__name__})
        for delay in self.lookup_delays:
            await asyncio.sleep(delay)
            try:
                found = await self._find(ready, pending, key)
            except Exception as lookup_error:
                log.warning("jira.issue.lookup_failed", extra={"team_id": submission.actor.team_id,
                                                               "error_type": type(lookup_error).__name__})
                continue
            if found is not None:
                issue = await self._found(pending, key, ready, found)
                return CreateOutcome(OutcomeStatus.CREATED, issue=issue)
        return await self._unsure(pending, key, ready, exc)

    async def _find(self, ready: Ready, pending: PendingCreate, key: str) -> FoundIssue | None:
        async with self._tokens.session(ready.tenant, ready.account) as jira:
            return await find_created(jira, idempotency_key=key, project_key=pending.project_key,
                                      since=pending.since, now=self._clock.now())

    async def _found(self, pending: PendingCreate, key: str, ready: Ready, found: FoundIssue) -> IssueCreated:
        """Records the issue that an earlier or unanswered attempt made, as if just created."""
        issue = IssueCreated(key=found.key, url=issue_url(ready.tenant.site_url, found.key),
                             summary=found.summary or pending.summary, issue_type=pending.issue_type,
                             project_key=pending.project_key, project_name=pending.project_name)
        log.info("jira.issue.found_after_unknown_outcome", extra={"team_id": pending.actor.team_id,
                                                                  "issue_key": issue.key})
        await self._record(pending, key, ready, issue)
        return issue

    async def _unsure(self, pending: PendingCreate, key: str, ready: Ready | None,
                      exc: Exception | None) -> CreateOutcome:
        """Nobody can tell whether the issue exists: keep the claim (never resent behind the user's back)
        and point the user at their recent issues."""
        if ready is not None:
            site: str | None = ready.tenant.site_url
        else:
            tenant = await self._storage.tenants.get(pending.actor.team_id)
            site = tenant.site_url if tenant is not None else None
        check_url = recent_issues_url(site) if site else None
        await self._storage.idempotency.complete(
            key, {**pending.to_json(), "outcome": FailureReason.UNCERTAIN.value, "check_url": check_url})
        if exc is not None:
            log.warning("jira.issue.outcome_still_unknown", extra={"team_id": pending.actor.team_id,
                                                                   "error_type": type(exc).__name__})
        return CreateOutcome(OutcomeStatus.FAILED, reason=FailureReason.UNCERTAIN, check_url=check_url)

    # Claims that were left ----------------------------------------------------------------------
    async def resolve_abandoned(self, limit: int = 20) -> list[Resolution]:
        """Submissions left pending (their process died mid-create) for longer than ``stale_after``:
        each is looked for in Jira and recorded as created, or else marked unsure; who submitted it is
        to be told either way."""
        now = self._clock.now()
        resolutions: list[Resolution] = []
        for left in await self._storage.idempotency.pending_before(CREATE_PREFIX, now - self._stale_after,
                                                                   limit):
            pending = PendingCreate.from_json(left.result)
            seen = Claim(False, PENDING, left.result, left.created_at)
            if not await self._storage.idempotency.take_over(left.key, seen=seen, now=now,
                                                             result=left.result):
                continue  # another replica, or the user's resubmission, has it
            if pending is None:  # nothing to look with, nobody to tell
                await self._storage.idempotency.complete(left.key, {"outcome": FailureReason.UNCERTAIN.value})
                continue
            resolutions.append(Resolution(pending, await self._resolve(pending, left.key)))
        return resolutions

    async def _resolve(self, pending: PendingCreate, key: str) -> CreateOutcome:
        access = await self._ready_or_none(pending.actor)
        if access is None:  # unlinked (or uninstalled) since: nothing to look with
            return await self._unsure(pending, key, None, None)
        try:
            found = await self._find(access, pending, key)
        except Exception as exc:
            return await self._unsure(pending, key, access, exc)
        if found is None:
            return await self._unsure(pending, key, access, None)
        return CreateOutcome(OutcomeStatus.CREATED, issue=await self._found(pending, key, access, found))

    @staticmethod
    def _blocked_outcome(blocked: Blocked) -> CreateOutcome:
        reason = {
            BlockedReason.NOT_INSTALLED: FailureReason.NOT_INSTALLED,
            BlockedReason.CLOUD_NOT_CONFIGURED: FailureReason.NOT_INSTALLED,
            BlockedReason.NOT_LINKED: FailureReason.NOT_LINKED,
            BlockedReason.NEEDS_RECONNECT: FailureReason.RECONNECT,
        }[blocked.reason]
        return CreateOutcome(OutcomeStatus.FAILED, reason=reason, connect_url=blocked.connect_url)

    async def _record(self, pending: PendingCreate, key: str, ready: Ready, issue: IssueCreated) -> None:
        """Remembers the created issue (against repeats, the message link, the last project) and
        forgets the form's draft, in one transaction.

        The issue exists in Jira whatever happens here, so a failure is logged, not raised.
        """
        actor, state = pending.actor, pending.state
        try:
            await self._storage.issue_links.record_created(
                team_id=actor.team_id, channel_id=state.channel_id, message_ts=state.message_ts,
                issue_key=issue.key, issue_url=issue.url, summary=issue.summary[:255],
                created_by=actor.user_id, now=self._clock.now(),
                idempotency_key=key,
                result={"outcome": OutcomeStatus.CREATED.value, "issue": issue.to_json()},
                account_id=ready.account.id, project_key=issue.project_key,
                forget_keys=(self.drafts.key(actor.team_id, pending.view_id),) if state.has_draft else (),
            )
        except Exception:
            log.exception("jira.issue.record_failed",
                          extra={"team_id": actor.team_id, "issue_key": issue.key})

    async def _fields(self, submission: IssueSubmission, *, cloud: bool) -> dict[str, Any]:
        form = submission.input
        fields: dict[str, Any] = {
            "project": {"key": form.project_key},
            "issuetype": {"id": form.issue_type_id},
            "summary": normalized_summary(form.summary),
        }
        description = await self._description(submission, cloud=cloud)
        if description is not None:
            fields["description"] = description
        errors: dict[str, str] = {}
        for item in form.fields:
            try:
                value = jira_value(item.kind, item.value, cloud=cloud)
            except (FieldValueError, ValueError) as exc:
                errors[item.field_id] = getattr(exc, "message", "This value isn't valid.")
                continue
            if value is not None:
                fields[item.field_id] = value
        if errors:
            raise _InvalidFields(errors)
        return fields

    async def _description(self, submission: IssueSubmission, *, cloud: bool) -> Any:
        """The description Jira gets: the whole message when the prefilled text was left as it was,
        otherwise what the user wrote."""
        state, text = submission.state, submission.input.description
        if state.has_draft and state.description_digest == description_digest(text):
            draft = await self.drafts.load(submission.actor.team_id, submission.view_id)
            if draft is not None and draft.body:
                return description_value(draft.body, cloud=cloud, permalink=draft.permalink)
        if not text.strip():
            return None
        return rich_text_value(text.strip(), cloud=cloud)


async def _both(first: Awaitable[A], second: Awaitable[B]) -> tuple[A, B]:
    """Two calls at once; the first failure is raised once both are over (none is left running)."""
    results = await asyncio.gather(first, second, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results[0], results[1]  # type: ignore[return-value]


def _may_have_reached_jira(exc: JiraUnavailable) -> bool:
    """Whether a create request that got no answer may still have been carried out.

    Not when the connection was never made, nor when the failed request was another one (a token
    refresh before the create was sent).
    """
    if isinstance(exc.__cause__, httpx.ConnectError):
        return False
    return not exc.url or httpx.URL(exc.url).path.rstrip("/").endswith("/issue")


def normalized_summary(summary: str) -> str:
    return " ".join(summary.split())[:SUMMARY_LIMIT]


def issue_url(site_url: str, key: str) -> str:
    return f"{site_url.rstrip('/')}/browse/{key}"


def recent_issues_url(site_url: str) -> str:
    """Jira's issue search for the user's own issues, newest first (to check for an uncertain create)."""
    query = httpx.QueryParams({"jql": "reporter = currentUser() ORDER BY created DESC"})
    return f"{site_url.rstrip('/')}/issues/?{query}"


def _messages_of(body: Any) -> list[str]:
    if isinstance(body, Mapping):
        messages = [str(m) for m in body.get("errorMessages") or []]
        messages += [str(m) for m in (body.get("errors") or {}).values()]
        return messages
    return [str(body)[:200]] if body else []
