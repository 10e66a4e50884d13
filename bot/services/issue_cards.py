"""Issue cards: reading an issue and acting on it (assign, transition, comment, watch) as the person
who asks, with their own Jira link — never the poster's, never an admin's.

Returns data (:class:`CardView`, :class:`ActionDone`, :class:`Refused`, :class:`TransitionForm`); the
Slack side turns it into blocks and words. Every Jira failure becomes a :class:`Refused` with a reason,
so that nothing fails silently. A comment is sent at most once per view submission (idempotency key).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any, TypeVar

from bot.actors import Actor
from bot.clock import Clock
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
from bot.jira.issues import IssueSnapshot, Transition
from bot.services.create_meta import FieldPlan, FieldValueError, jira_value, plan_fields, rich_text_value
from bot.services.issues import Blocked, BlockedReason, FieldInput, IssueService, Ready
from bot.services.tokens import TokenService
from storage.repositories.idempotency import PENDING
from storage.store import Storage

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Slack waits 3 seconds for an options answer; keep a margin for the round trip.
OPTIONS_DEADLINE = 2.2
COMMENT_KEY_LIFETIME = timedelta(days=1)


class Refusal(StrEnum):
    NOT_INSTALLED = "not_installed"
    NOT_LINKED = "not_linked"
    RECONNECT = "reconnect"
    NOT_FOUND = "not_found"  # no such issue, or the person may not see it
    FORBIDDEN = "forbidden"  # Jira's 403: they may see it but not do this
    REJECTED = "rejected"  # Jira's 400: what was sent is not acceptable (field errors, messages)
    GONE = "gone"  # the transition chosen is no longer offered
    RATE_LIMITED = "rate_limited"
    UNREACHABLE = "unreachable"
    UNCERTAIN = "uncertain"  # the request may have been carried out: not resent
    IN_PROGRESS = "in_progress"  # the same submission is being handled by another delivery
    INTERNAL = "internal"


@dataclass(frozen=True)
class Refused:
    reason: Refusal
    key: str | None = None
    connect_url: str | None = None
    messages: tuple[str, ...] = ()
    field_errors: Mapping[str, str] = field(default_factory=dict)
    retry_after: float | None = None


@dataclass(frozen=True)
class CardView:
    """An issue as the reader sees it, and where people open it. ``channel_full``: whether a card that
    others see (in a channel) may show it in full — always, unless it has a security level and the
    workspace keeps those to their key (the same rule as link previews)."""

    issue: IssueSnapshot
    site_url: str
    channel_full: bool = True


class ActionKind(StrEnum):
    ASSIGN = "assign"
    TRANSITION = "transition"
    COMMENT = "comment"
    WATCH = "watch"


@dataclass(frozen=True)
class ActionDone:
    """An action went through; `card` is the issue read again afterwards (None when that read failed),
    `detail` what changed (the transition's name), `repeated` that this was a repeat of a done one."""

    kind: ActionKind
    key: str
    card: CardView | None
    detail: str = ""
    repeated: bool = False


@dataclass(frozen=True)
class TransitionForm:
    """The chosen transition's screen has required fields: ask for them first."""

    key: str
    transition: Transition
    plan: FieldPlan
    site_url: str


ActionResult = ActionDone | Refused
TransitionStep = ActionDone | Refused | TransitionForm


class IssueCardService:
    def __init__(self, storage: Storage, tokens: TokenService, issues: IssueService, clock: Clock) -> None:
        self._storage = storage
        self._tokens = tokens
        self._issues = issues
        self._clock = clock

    # Reading ------------------------------------------------------------------------------------
    async def check(self, actor: Actor) -> Refused | None:
        """Why `actor` cannot act on issues yet (not linked, link broken, no install), or None."""
        ready = await self._ready(actor)
        return ready if isinstance(ready, Refused) else None

    async def show(self, actor: Actor, key: str) -> CardView | Refused:
        """The issue as `actor` sees it."""
        ready = await self._ready(actor)
        if isinstance(ready, Refused):
            return ready
        return await self._guard(actor, ready, key, "show", lambda jira: self._card(ready, jira, key))

    async def transition_choices(
        self, actor: Actor, key: str, deadline: float = OPTIONS_DEADLINE
    ) -> list[Transition] | Refused:
        """What Jira offers `actor` on the issue now; answered within `deadline` seconds."""
        ready = await self._ready(actor)
        if isinstance(ready, Refused):
            return ready

        async def offered(jira: JiraClient) -> list[Transition]:
            return await jira.transitions(key)

        try:
            async with asyncio.timeout(deadline):
                return await self._guard(actor, ready, key, "transitions", offered)
        except TimeoutError:
            log.warning("jira.card.transitions_too_slow", extra={"team_id": actor.team_id})
            return Refused(Refusal.UNREACHABLE, key)

    # Acting -------------------------------------------------------------------------------------
    async def assign_to_me(self, actor: Actor, key: str) -> ActionResult:
        ready = await self._ready(actor)
        if isinstance(ready, Refused):
            return ready

        async def assign(jira: JiraClient) -> ActionDone:
            await jira.assign(key, await self._identity(ready, jira))
            return await self._done(ready, jira, ActionKind.ASSIGN, key)

        return await self._guard(actor, ready, key, "assign", assign)

    async def watch(self, actor: Actor, key: str) -> ActionResult:
        ready = await self._ready(actor)
        if isinstance(ready, Refused):
            return ready

        async def watch(jira: JiraClient) -> ActionDone:
            await jira.watch(key, await self._identity(ready, jira))
            return await self._done(ready, jira, ActionKind.WATCH, key)

        return await self._guard(actor, ready, key, "watch", watch)

    async def start_transition(self, actor: Actor, key: str, transition_id: str) -> TransitionStep:
        """Runs a transition without required screen fields; for one with them, the form to show."""
        ready = await self._ready(actor)
        if isinstance(ready, Refused):
            return ready

        async def start(jira: JiraClient) -> TransitionStep:
            chosen = next((t for t in await jira.transitions(key) if t.id == transition_id), None)
            if chosen is None:
                return Refused(Refusal.GONE, key)
            plan = plan_fields(chosen.required_fields)
            if plan.inputs or plan.unrenderable:
                return TransitionForm(key, chosen, plan, ready.tenant.site_url)
            await jira.transition(key, chosen.id)
            return await self._done(ready, jira, ActionKind.TRANSITION, key, chosen.to_status or chosen.name)

        return await self._guard(actor, ready, key, "transition", start)

    async def finish_transition(
        self, actor: Actor, key: str, transition_id: str, name: str, inputs: tuple[FieldInput, ...]
    ) -> ActionResult:
        """Runs a transition with the values entered on its form."""
        ready = await self._ready(actor)
        if isinstance(ready, Refused):
            return ready
        fields: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for item in inputs:
            try:
                value = jira_value(item.kind, item.value, cloud=ready.tenant.is_cloud)
            except (FieldValueError, ValueError) as exc:
                errors[item.field_id] = getattr(exc, "message", "This value isn't valid.")
                continue
            if value is not None:
                fields[item.field_id] = value
        if errors:
            return Refused(Refusal.REJECTED, key, field_errors=errors)

        async def run(jira: JiraClient) -> ActionDone:
            await jira.transition(key, transition_id, fields)
            return await self._done(ready, jira, ActionKind.TRANSITION, key, name)

        return await self._guard(actor, ready, key, "transition", run)

    async def comment(self, actor: Actor, key: str, text: str, submission: str) -> ActionResult:
        """Adds `text` (Slack markup, converted to ADF or wiki markup) once per `submission` id."""
        ready = await self._ready(actor)
        if isinstance(ready, Refused):
            return ready
        idem = f"comment:{actor.team_id}:{submission}"
        now = self._clock.now()
        claim = await self._storage.idempotency.claim(
            idem, team_id=actor.team_id, now=now, expires_at=now + COMMENT_KEY_LIFETIME
        )
        if not claim.claimed:
            log.info("jira.card.repeated_comment", extra={"team_id": actor.team_id, "status": claim.status})
            if claim.status == PENDING:
                return Refused(Refusal.IN_PROGRESS, key)
            if (claim.result or {}).get("outcome") == Refusal.UNCERTAIN.value:
                return Refused(Refusal.UNCERTAIN, key)
            card = await self._guard(actor, ready, key, "show", lambda jira: self._card(ready, jira, key))
            return ActionDone(
                ActionKind.COMMENT, key, card if isinstance(card, CardView) else None, repeated=True
            )
        body = rich_text_value(text.strip(), cloud=ready.tenant.is_cloud)
        comment_id: str | None = None

        async def add(jira: JiraClient) -> ActionDone:
            nonlocal comment_id
            comment_id = await jira.add_comment(key, body)
            await self._storage.idempotency.complete(idem, {"outcome": "commented", "comment_id": comment_id})
            return await self._done(ready, jira, ActionKind.COMMENT, key)

        result = await self._guard(actor, ready, key, "comment", add)
        if isinstance(result, Refused) and comment_id is None:
            if result.reason in (Refusal.UNCERTAIN, Refusal.INTERNAL):
                await self._storage.idempotency.complete(idem, {"outcome": Refusal.UNCERTAIN.value})
                return Refused(Refusal.UNCERTAIN, key)
            await self._storage.idempotency.release(idem)
        return result

    # Inner workings -----------------------------------------------------------------------------
    async def _ready(self, actor: Actor) -> Ready | Refused:
        access = await self._issues.access(actor)
        if isinstance(access, Blocked):
            reason = {
                BlockedReason.NOT_INSTALLED: Refusal.NOT_INSTALLED,
                BlockedReason.CLOUD_NOT_CONFIGURED: Refusal.NOT_INSTALLED,
                BlockedReason.NOT_LINKED: Refusal.NOT_LINKED,
                BlockedReason.NEEDS_RECONNECT: Refusal.RECONNECT,
            }[access.reason]
            return Refused(reason, connect_url=access.connect_url)
        return access

    async def _identity(self, ready: Ready, jira: JiraClient) -> str:
        """How Jira's REST API names this user: Cloud accountId, Data Center username."""
        if ready.tenant.is_cloud and ready.account.jira_account_id:
            return ready.account.jira_account_id
        me = await jira.myself()
        return me.name or me.account_id

    async def _card(self, ready: Ready, jira: JiraClient, key: str) -> CardView:
        issue = await jira.issue(key)
        full = not issue.restricted or await self._storage.unfurl_settings.full_restricted(ready.tenant.id)
        return CardView(issue, ready.tenant.site_url, channel_full=full)

    async def _done(
        self, ready: Ready, jira: JiraClient, kind: ActionKind, key: str, detail: str = ""
    ) -> ActionDone:
        """The action happened: read the issue again for the card (a failed read does not undo it)."""
        try:
            card: CardView | None = await self._card(ready, jira, key)
        except JiraError as exc:
            log.info(
                "jira.card.reread_failed",
                extra={"team_id": ready.tenant.team_id, "error_type": type(exc).__name__},
            )
            card = None
        log.info(
            "jira.card.action",
            extra={
                "team_id": ready.tenant.team_id,
                "action": kind.value,
                "api": 3 if ready.tenant.is_cloud else 2,
            },
        )
        return ActionDone(kind, key, card, detail)

    async def _guard(
        self,
        actor: Actor,
        ready: Ready,
        key: str,
        what: str,
        work: Callable[[JiraClient], Awaitable[T]],
    ) -> T | Refused:
        """Runs `work` with the user's client; Jira's failures become a Refused."""
        extra = {"team_id": actor.team_id, "action": what}
        try:
            async with self._tokens.session(ready.tenant, ready.account) as jira:
                return await work(jira)
        except ReconnectRequired:
            blocked = await self._issues.access(actor)
            url = blocked.connect_url if isinstance(blocked, Blocked) else None
            return Refused(Refusal.RECONNECT, key, connect_url=url)
        except JiraBadRequest as exc:
            log.info("jira.card.rejected", extra={**extra, "fields": sorted(exc.errors)})
            return Refused(Refusal.REJECTED, key, messages=tuple(exc.error_messages), field_errors=exc.errors)
        except JiraNotFound:
            return Refused(Refusal.NOT_FOUND, key)
        except JiraForbidden as exc:
            return Refused(Refusal.FORBIDDEN, key, messages=tuple(_messages_of(exc.body)))
        except JiraRateLimited as exc:
            log.warning("jira.card.rate_limited", extra=extra)
            return Refused(Refusal.RATE_LIMITED, key, retry_after=exc.retry_after)
        except JiraUnavailable as exc:
            log.warning("jira.card.unreachable", extra=extra)
            uncertain = what in {"comment", "transition"} and exc.method == "POST"
            return Refused(Refusal.UNCERTAIN if uncertain else Refusal.UNREACHABLE, key)
        except JiraServerError as exc:
            log.warning("jira.card.server_error", extra={**extra, "status": exc.status})
            uncertain = what in {"comment", "transition"} and exc.method == "POST"
            return Refused(Refusal.UNCERTAIN if uncertain else Refusal.UNREACHABLE, key)
        except JiraHTTPError as exc:
            log.warning("jira.card.refused", extra={**extra, "status": exc.status})
            return Refused(Refusal.REJECTED, key, messages=tuple(_messages_of(exc.body)))
        except JiraError as exc:
            log.warning("jira.card.failed", extra={**extra, "error_type": type(exc).__name__})
            return Refused(Refusal.UNREACHABLE, key)


def _messages_of(body: Any) -> list[str]:
    if isinstance(body, Mapping):
        messages = [str(m) for m in body.get("errorMessages") or []]
        messages += [str(m) for m in (body.get("errors") or {}).values()]
        return messages
    return []
