"""Adding a Slack message to an existing Jira issue: the issues to choose from, the comment the form
starts with, and the add itself (a comment as the user, a remote link back to the message, the
message→issue link kept for the create shortcut).

The modal opens at once and is filled in afterwards (:meth:`AddToIssueService.start`). The add is
idempotent per view submission (view id and hash), like the create: the first delivery claims a key,
a repeated one (Slack retry, double click) gets the first one's outcome. An add that failed for certain
releases its key so the user can correct and resubmit; one whose outcome is unknown keeps it, so the
comment is never posted twice behind the user's back. The remote link's global id is the message's
permalink, so Jira keeps one link per message however often it is added.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any, Protocol

import httpx

from bot.actors import Actor
from bot.clock import Clock
from bot.form_state import ModalState
from bot.jira.client import JiraClient
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
from bot.jira.formatting import (
    JIRA_DESCRIPTION_LIMIT,
    adf_paragraph_link,
    adf_text_length,
    append_adf,
    mrkdwn_to_adf,
    mrkdwn_to_wiki,
    truncate_for_slack_input,
    utf16_len,
    wiki_escape,
    wiki_link,
)
from bot.jira.issues import IssueSnapshot
from bot.jira.picker import PickedIssue
from bot.services.issue_drafts import Prefill, SourceMessage, description_digest
from bot.services.issues import Blocked, BlockedReason, IssueService, Ready
from bot.services.linking import CloudNotConfigured, LinkingService, NotInstalled
from bot.services.tokens import TokenService
from storage.repositories.idempotency import PENDING
from storage.store import Storage

log = logging.getLogger(__name__)


class MessageReader(Protocol):
    """What the service needs Slack to say about a message: its texts for a form, and people's names."""

    async def prefill(self, source: SourceMessage) -> Prefill: ...

    async def full_name(self, user_id: str) -> str | None: ...

ADD_KEY_LIFETIME = timedelta(days=1)
DRAFT_LIFETIME = timedelta(days=1)
#: Slack waits 3 seconds for options; keep a margin for the round trip.
OPTIONS_DEADLINE = 2.2
#: How long before the options deadline to stop waiting for the slower of two lookups.
PARTIAL_MARGIN = 0.2
CLAIM_POLL = 0.2
COMMENT_INPUT_LIMIT = 3000
TITLE_WORDS_LIMIT = 60
SOURCE_TEXT = "From a Slack message: "
#: Jira project keys: a letter, then letters, digits or underscores; then the issue number.
ISSUE_KEY = re.compile(r"^[A-Z][A-Z0-9_]+-[1-9][0-9]*$")


def issue_key_in(query: str) -> str | None:
    """The issue key a query names (`eng-12`, ` ENG-12 `), or None when it is text."""
    candidate = query.strip().upper()
    return candidate if ISSUE_KEY.match(candidate) else None


# ---------------------------------------------------------------------------------------------------
# The form
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MessageOrigin:
    """Who wrote the message and where (from the shortcut's payload)."""

    author_id: str | None = None
    author_name: str | None = None  # a bot's or app's own name, when it has no user
    channel_name: str | None = None


@dataclass(frozen=True)
class CommentDraft:
    """What the form starts with, kept server-side while the modal is open: ``text`` is what the
    Comment input shows; ``body`` is the whole message (Slack text) that Jira gets when the text is
    left as it was; ``permalink`` and ``title`` make the remote link."""

    text: str
    body: str
    permalink: str | None
    title: str
    truncated: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "body": self.body, "permalink": self.permalink, "title": self.title,
                "truncated": self.truncated}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CommentDraft:
        return cls(str(data.get("text") or ""), str(data.get("body") or ""), data.get("permalink"),
                   str(data.get("title") or ""), bool(data.get("truncated")))


@dataclass(frozen=True)
class AddForm:
    comment: str
    truncated: bool
    state: ModalState
    jira_user: str
    site_host: str


@dataclass(frozen=True)
class AddBlocked:
    blocked: Blocked


AddStep = AddForm | AddBlocked


# ---------------------------------------------------------------------------------------------------
# The add
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AddSubmission:
    actor: Actor
    view_id: str
    view_hash: str
    state: ModalState
    issue_key: str
    comment: str

    @property
    def idempotency_key(self) -> str:
        return f"add:{self.actor.team_id}:{self.view_id}:{self.view_hash}"


class AddStatus(StrEnum):
    ADDED = "added"
    PENDING = "pending"  # another delivery of the same submission is adding it
    FAILED = "failed"


class AddFailure(StrEnum):
    ISSUE_GONE = "issue_gone"
    NO_PERMISSION = "no_permission"
    REJECTED = "rejected"
    EMPTY = "empty"
    UNREACHABLE = "unreachable"
    RATE_LIMITED = "rate_limited"
    UNCERTAIN = "uncertain"  # the comment may have reached Jira: not resent
    RECONNECT = "reconnect"
    NOT_LINKED = "not_linked"
    NOT_INSTALLED = "not_installed"
    INTERNAL = "internal"


@dataclass(frozen=True)
class AddedTo:
    key: str
    url: str
    summary: str

    def to_json(self) -> dict[str, str]:
        return {"key": self.key, "url": self.url, "summary": self.summary}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AddedTo:
        return cls(str(data.get("key") or ""), str(data.get("url") or ""), str(data.get("summary") or ""))


@dataclass(frozen=True)
class AddOutcome:
    status: AddStatus
    issue: AddedTo | None = None
    snapshot: IssueSnapshot | None = None  # the issue as the user sees it after the add
    site_url: str | None = None
    linked: bool = False  # the remote link to the message is in place
    reason: AddFailure | None = None
    issue_key: str | None = None  # the issue a failure is about
    messages: tuple[str, ...] = ()
    connect_url: str | None = None
    check_url: str | None = None
    repeated: bool = False  # another delivery did the add; this one only reports it

    @property
    def added(self) -> bool:
        return self.status == AddStatus.ADDED and self.issue is not None


# ---------------------------------------------------------------------------------------------------
# Comment bodies
# ---------------------------------------------------------------------------------------------------


def comment_heading(author: str | None, channel_name: str | None) -> str:
    where = f"#{channel_name}" if channel_name else "Slack"
    return f"{author} wrote in {where}:" if author else f"From {where}:"


def source_line(permalink: str) -> str:
    return f"{SOURCE_TEXT}{permalink}"


def comment_input_text(heading: str, body: str, permalink: str | None) -> tuple[str, bool]:
    """The Comment input's text (cut to fit Slack's 3,000 characters) and whether the message was cut."""
    link = source_line(permalink) if permalink else ""
    room = COMMENT_INPUT_LIMIT - utf16_len(heading) - 1 - (utf16_len(link) + 2 if link else 0)
    shown = truncate_for_slack_input(body, max(room, 0))
    text = "\n\n".join(part for part in (f"{heading}\n{shown}", link) if part)
    return text, shown != body


def comment_value(text: str, *, cloud: bool, permalink: str | None = None) -> Any:
    """A comment body from Slack text: ADF on Jira Cloud, wiki markup on Data Center, ending with a link
    to the message when there is one; cut (with a note) to Jira's limit, keeping the link."""
    if cloud:
        if permalink is None:
            return mrkdwn_to_adf(text, max_chars=JIRA_DESCRIPTION_LIMIT)
        link = adf_paragraph_link(SOURCE_TEXT, permalink)
        doc = mrkdwn_to_adf(text, max_chars=JIRA_DESCRIPTION_LIMIT - adf_text_length(link) - 2)
        return append_adf(doc, [link])
    if permalink is None:
        return mrkdwn_to_wiki(text, max_chars=JIRA_DESCRIPTION_LIMIT)
    line = wiki_escape(SOURCE_TEXT) + wiki_link(None, permalink)
    wiki = mrkdwn_to_wiki(text, max_chars=JIRA_DESCRIPTION_LIMIT - utf16_len(line) - 2)
    return f"{wiki}\n\n{line}" if wiki else line


def link_title(channel_name: str | None, first_words: str) -> str:
    """The remote link's title: "Slack: #channel — first words"."""
    where = f"#{channel_name}" if channel_name else "a conversation"
    words = " ".join(first_words.split())
    if len(words) > TITLE_WORDS_LIMIT:
        words = words[:TITLE_WORDS_LIMIT].rsplit(" ", 1)[0].rstrip(",.;:") + "…"
    return f"Slack: {where} — {words}" if words else f"Slack: {where}"


# ---------------------------------------------------------------------------------------------------
# The service
# ---------------------------------------------------------------------------------------------------


class AddToIssueService:
    def __init__(self, storage: Storage, tokens: TokenService, linking: LinkingService, issues: IssueService,
                 clock: Clock) -> None:
        self._storage = storage
        self._tokens = tokens
        self._linking = linking
        self._issues = issues
        self._clock = clock

    # The form ------------------------------------------------------------------------------------
    async def start(self, reader: MessageReader, actor: Actor, view_id: str, source: SourceMessage,
                    origin: MessageOrigin) -> AddStep:
        """The form for a message (its comment kept as a draft), or why the user cannot add yet."""
        access = await self._issues.access(actor)
        if isinstance(access, Blocked):
            return AddBlocked(access)
        draft = await self._draft_for(reader, source, origin)
        await self._save_draft(actor.team_id, view_id, draft)
        state = ModalState(channel_id=source.channel_id, message_ts=source.ts, thread_ts=source.thread_ts,
                           description_digest=description_digest(draft.text), has_draft=True,
                           truncated=draft.truncated)
        return AddForm(draft.text, draft.truncated, state, access.jira_user, access.tenant.site_host)

    async def _draft_for(self, reader: MessageReader, source: SourceMessage,
                         origin: MessageOrigin) -> CommentDraft:
        prefill, author = await asyncio.gather(reader.prefill(source), self._author(reader, origin))
        heading = comment_heading(author, origin.channel_name)
        text, truncated = comment_input_text(heading, prefill.body, prefill.permalink)
        return CommentDraft(text=text, body=f"{heading}\n{prefill.body}", permalink=prefill.permalink,
                            title=link_title(origin.channel_name, prefill.summary), truncated=truncated)

    @staticmethod
    async def _author(reader: MessageReader, origin: MessageOrigin) -> str | None:
        if not origin.author_id:
            return origin.author_name
        return await reader.full_name(origin.author_id) or origin.author_name

    @staticmethod
    def draft_key(team_id: str, view_id: str) -> str:
        return f"adddraft:{team_id}:{view_id}"

    async def _save_draft(self, team_id: str, view_id: str, draft: CommentDraft) -> None:
        now = self._clock.now()
        sealed = self._storage.encryptor.encrypt(json.dumps(draft.to_json()))
        await self._storage.idempotency.put(self.draft_key(team_id, view_id), team_id=team_id,
                                            result={"draft": sealed}, now=now,
                                            expires_at=now + DRAFT_LIFETIME)

    async def _load_draft(self, team_id: str, view_id: str) -> CommentDraft | None:
        found = await self._storage.idempotency.get(self.draft_key(team_id, view_id), now=self._clock.now())
        sealed = (found or {}).get("draft")
        if not sealed:
            return None
        return CommentDraft.from_json(json.loads(self._storage.encryptor.decrypt(sealed)))

    # Choosing the issue ------------------------------------------------------------------------
    async def issue_choices(self, actor: Actor, query: str,
                            deadline: float = OPTIONS_DEADLINE) -> list[PickedIssue]:
        """The issues to offer for ``query``: the user's recent issues when it is empty; the issue a
        key names (read directly, so found even when the picker does not list it) followed by the
        picker's matches; otherwise the picker's matches. Empty when not linked or Jira is too slow."""
        ready = await self._ready_or_none(actor)
        if ready is None:
            return []
        loop = asyncio.get_running_loop()
        until = loop.time() + deadline
        key = issue_key_in(query)
        try:
            async with asyncio.timeout(deadline), self._tokens.session(ready.tenant, ready.account) as jira:
                picking = asyncio.ensure_future(jira.pick_issues(query.strip()))
                named = asyncio.ensure_future(jira.issue(key)) if key else None
                waiting = {picking} | ({named} if named else set())
                # Stop waiting a little before the overall deadline, to keep what did arrive.
                done, pending = await asyncio.wait(
                    waiting, timeout=max(0.0, until - PARTIAL_MARGIN - loop.time()))
                for task in pending:
                    task.cancel()
        except TimeoutError:
            log.warning("jira.picker.too_slow", extra={"team_id": actor.team_id})
            return []
        except JiraError as exc:
            log.warning("jira.picker.failed", extra={"team_id": actor.team_id,
                                                     "error_type": type(exc).__name__})
            return []
        found: list[PickedIssue] = []
        if named is not None and named in done and named.exception() is None:
            snapshot = named.result()
            found.append(PickedIssue(snapshot.key, snapshot.summary))
        elif named is not None and named in done:
            log.info("jira.picker.key_not_found", extra={"team_id": actor.team_id,
                                                        "error_type": type(named.exception()).__name__})
        if picking in done and picking.exception() is None:
            found += picking.result().all
        elif picking in done:
            log.warning("jira.picker.failed", extra={"team_id": actor.team_id,
                                                     "error_type": type(picking.exception()).__name__})
        else:
            log.warning("jira.picker.too_slow", extra={"team_id": actor.team_id})
        unique: dict[str, PickedIssue] = {}
        for issue in found:
            unique.setdefault(issue.key, issue)
        return list(unique.values())

    async def _ready_or_none(self, actor: Actor) -> Ready | None:
        tenant = await self._storage.tenants.get(actor.team_id)
        account = await self._storage.accounts.get(actor.team_id, actor.user_id)
        if tenant is None or account is None or account.needs_reconnect or account.tenant_id != tenant.id:
            return None
        return Ready(tenant, account)

    # Adding ---------------------------------------------------------------------------------------
    async def claim(self, submission: AddSubmission, *, wait: float = 0.0) -> AddOutcome | None:
        """None when this delivery may add; a repeated delivery gets the first one's outcome instead,
        waiting up to ``wait`` seconds while that is still running (PENDING if it still is)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            now = self._clock.now()
            claim = await self._storage.idempotency.claim(
                submission.idempotency_key, team_id=submission.actor.team_id, now=now,
                expires_at=now + ADD_KEY_LIFETIME)
            if claim.claimed:
                return None
            if claim.status != PENDING or loop.time() + CLAIM_POLL > deadline:
                break
            await asyncio.sleep(CLAIM_POLL)
        log.info("jira.add.duplicate_submission", extra={
            "team_id": submission.actor.team_id, "view_id": submission.view_id, "status": claim.status})
        result = claim.result or {}
        if result.get("outcome") == AddStatus.ADDED.value:
            return AddOutcome(AddStatus.ADDED, issue=AddedTo.from_json(result.get("issue") or {}),
                              linked=bool(result.get("linked")), repeated=True)
        if result.get("outcome") == AddFailure.UNCERTAIN.value:
            return AddOutcome(AddStatus.FAILED, reason=AddFailure.UNCERTAIN, issue_key=submission.issue_key,
                              check_url=result.get("check_url"), repeated=True)
        return AddOutcome(AddStatus.PENDING, repeated=True)

    async def add(self, reader: MessageReader, submission: AddSubmission) -> AddOutcome:
        """Adds the comment and the remote link of a claimed submission, as the user; never raises."""
        key = submission.idempotency_key
        try:
            access = await self._issues.access(submission.actor)
            if isinstance(access, Blocked):
                await self._storage.idempotency.release(key)
                return _blocked_outcome(access, submission.issue_key)
            draft = await self._load_draft(submission.actor.team_id, submission.view_id)
            if draft is None and submission.state.from_message:
                draft = await self._draft_for(reader, _source_of(submission.state), MessageOrigin())
            body = self._comment_body(submission, draft, cloud=access.tenant.is_cloud)
        except Exception:
            log.exception("jira.add.prepare_failed", extra={"team_id": submission.actor.team_id})
            await self._storage.idempotency.release(key)
            return AddOutcome(AddStatus.FAILED, reason=AddFailure.INTERNAL, issue_key=submission.issue_key)
        if body is None:
            await self._storage.idempotency.release(key)
            return AddOutcome(AddStatus.FAILED, reason=AddFailure.EMPTY, issue_key=submission.issue_key)
        return await self._send(submission, access, body, draft)

    def _comment_body(self, submission: AddSubmission, draft: CommentDraft | None, *, cloud: bool) -> Any:
        """The whole message when the prefilled comment was left as it was, else what the user wrote."""
        state, text = submission.state, submission.comment
        if draft is not None and state.description_digest == description_digest(text) and draft.body:
            return comment_value(draft.body, cloud=cloud, permalink=draft.permalink)
        if not text.strip():
            return None
        return comment_value(text.strip(), cloud=cloud)

    async def _send(self, submission: AddSubmission, ready: Ready, body: Any,
                    draft: CommentDraft | None) -> AddOutcome:
        key, issue_key = submission.idempotency_key, submission.issue_key
        extra = {"team_id": submission.actor.team_id, "slack_user_id": submission.actor.user_id,
                 "issue_key": issue_key}
        site_url = ready.tenant.site_url.rstrip("/")
        try:
            async with self._tokens.session(ready.tenant, ready.account) as jira:
                await jira.add_comment(issue_key, body)
                linked = await self._link(jira, submission, draft, extra)
                snapshot = await self._snapshot(jira, issue_key, extra)
        except JiraNotFound:
            await self._storage.idempotency.release(key)
            log.info("jira.add.issue_gone", extra=extra)
            return AddOutcome(AddStatus.FAILED, reason=AddFailure.ISSUE_GONE, issue_key=issue_key)
        except JiraForbidden:
            await self._storage.idempotency.release(key)
            log.info("jira.add.forbidden", extra=extra)
            return AddOutcome(AddStatus.FAILED, reason=AddFailure.NO_PERMISSION, issue_key=issue_key)
        except JiraBadRequest as exc:
            await self._storage.idempotency.release(key)
            log.info("jira.add.rejected", extra={**extra, "fields": sorted(exc.errors)})
            return AddOutcome(AddStatus.FAILED, reason=AddFailure.REJECTED, issue_key=issue_key,
                              messages=tuple([*exc.error_messages, *exc.errors.values()]))
        except ReconnectRequired:
            await self._storage.idempotency.release(key)
            return AddOutcome(AddStatus.FAILED, reason=AddFailure.RECONNECT, issue_key=issue_key,
                              connect_url=await self._connect_url(submission.actor))
        except JiraRateLimited:
            await self._storage.idempotency.release(key)
            log.warning("jira.add.rate_limited", extra=extra)
            return AddOutcome(AddStatus.FAILED, reason=AddFailure.RATE_LIMITED, issue_key=issue_key)
        except JiraUnavailable as exc:
            if _may_have_reached_jira(exc):
                return await self._uncertain(submission, site_url, exc)
            await self._storage.idempotency.release(key)
            log.warning("jira.add.unreachable", extra=extra)
            return AddOutcome(AddStatus.FAILED, reason=AddFailure.UNREACHABLE, issue_key=issue_key)
        except JiraServerError as exc:
            return await self._uncertain(submission, site_url, exc)
        except JiraHTTPError as exc:
            await self._storage.idempotency.release(key)
            log.warning("jira.add.refused", extra={**extra, "status": exc.status})
            return AddOutcome(AddStatus.FAILED, reason=AddFailure.REJECTED, issue_key=issue_key)
        except JiraError as exc:  # a token refresh that failed before anything was sent
            await self._storage.idempotency.release(key)
            log.warning("jira.add.unreachable", extra={**extra, "error_type": type(exc).__name__})
            return AddOutcome(AddStatus.FAILED, reason=AddFailure.UNREACHABLE, issue_key=issue_key)
        except Exception as exc:
            log.exception("jira.add.crashed", extra=extra)
            return await self._uncertain(submission, site_url, exc)
        issue = AddedTo(key=issue_key, url=f"{site_url}/browse/{issue_key}",
                        summary=snapshot.summary if snapshot else "")
        await self._record(submission, issue, linked)
        log.info("jira.add.added", extra={**extra, "linked": linked,
                                          "api": 3 if ready.tenant.is_cloud else 2})
        return AddOutcome(AddStatus.ADDED, issue=issue, snapshot=snapshot, site_url=site_url, linked=linked)

    async def _link(self, jira: JiraClient, submission: AddSubmission, draft: CommentDraft | None,
                    extra: dict[str, Any]) -> bool:
        """The remote link to the message; the comment is in Jira whatever happens here."""
        if draft is None or not draft.permalink:
            log.info("jira.add.no_permalink", extra=extra)
            return False
        try:
            await jira.add_remote_link(submission.issue_key, global_id=draft.permalink, url=draft.permalink,
                                       title=draft.title)
            return True
        except JiraError as exc:
            log.warning("jira.add.remote_link_failed", extra={**extra, "error_type": type(exc).__name__,
                                                               "status": getattr(exc, "status", None)})
            return False

    @staticmethod
    async def _snapshot(jira: JiraClient, issue_key: str, extra: dict[str, Any]) -> IssueSnapshot | None:
        try:
            return await jira.issue(issue_key)
        except JiraError as exc:
            log.warning("jira.add.read_failed", extra={**extra, "error_type": type(exc).__name__})
            return None

    async def _record(self, submission: AddSubmission, issue: AddedTo, linked: bool) -> None:
        actor, state = submission.actor, submission.state
        result = {"outcome": AddStatus.ADDED.value, "issue": issue.to_json(), "linked": linked}
        try:
            if state.channel_id and state.message_ts:
                await self._storage.issue_links.record_added(
                    team_id=actor.team_id, channel_id=state.channel_id, message_ts=state.message_ts,
                    issue_key=issue.key, issue_url=issue.url, summary=issue.summary[:255] or None,
                    added_by=actor.user_id, now=self._clock.now(), idempotency_key=submission.idempotency_key,
                    result=result, forget_keys=(self.draft_key(actor.team_id, submission.view_id),))
            else:
                await self._storage.idempotency.complete(submission.idempotency_key, result)
        except Exception:
            log.exception("jira.add.record_failed", extra={"team_id": actor.team_id, "issue_key": issue.key})

    async def _uncertain(self, submission: AddSubmission, site_url: str, exc: Exception) -> AddOutcome:
        check_url = f"{site_url}/browse/{submission.issue_key}"
        await self._storage.idempotency.complete(
            submission.idempotency_key, {"outcome": AddFailure.UNCERTAIN.value, "check_url": check_url})
        log.warning("jira.add.outcome_unknown", extra={"team_id": submission.actor.team_id,
                                                       "issue_key": submission.issue_key,
                                                       "error_type": type(exc).__name__})
        return AddOutcome(AddStatus.FAILED, reason=AddFailure.UNCERTAIN, issue_key=submission.issue_key,
                          check_url=check_url)

    async def _connect_url(self, actor: Actor) -> str | None:
        try:
            return await self._linking.begin_link(team_id=actor.team_id, enterprise_id=actor.enterprise_id,
                                                  slack_user_id=actor.user_id)
        except (NotInstalled, CloudNotConfigured):
            return None


def _blocked_outcome(blocked: Blocked, issue_key: str) -> AddOutcome:
    reason = {
        BlockedReason.NOT_INSTALLED: AddFailure.NOT_INSTALLED,
        BlockedReason.CLOUD_NOT_CONFIGURED: AddFailure.NOT_INSTALLED,
        BlockedReason.NOT_LINKED: AddFailure.NOT_LINKED,
        BlockedReason.NEEDS_RECONNECT: AddFailure.RECONNECT,
    }[blocked.reason]
    return AddOutcome(AddStatus.FAILED, reason=reason, issue_key=issue_key, connect_url=blocked.connect_url)


def _source_of(state: ModalState) -> SourceMessage:
    return SourceMessage(channel_id=state.channel_id or "", ts=state.message_ts or "",
                         thread_ts=state.thread_ts, text="", team_domain=None, has_own_text=False)


def _may_have_reached_jira(exc: JiraUnavailable) -> bool:
    """Whether a comment request that got no answer may still have been carried out: not when the
    connection was never made, nor when the request that failed was another one."""
    if isinstance(exc.__cause__, httpx.ConnectError):
        return False
    return not exc.url or httpx.URL(exc.url).path.rstrip("/").endswith("/comment")

