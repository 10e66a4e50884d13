"""Webhooks of the Atlassian emulator, mixed into ``AtlassianEmulator``.

Jira Cloud dynamic webhooks (OAuth 2.0 apps, REST v3, scope ``manage:jira-webhook``):

    POST   webhook            register; errors come back as HTTP 200 in webhookRegistrationResult[].errors
    GET    webhook            the calling app's webhooks (of the calling user), with expirationDate (ms)
    DELETE webhook            {"webhookIds": [...]}
    PUT    webhook/refresh    {"webhookIds": [...]} → {"expirationDate": ms}: 30 more days (emulator clock)

Jira Data Center (``{ctx}/rest/webhooks/1.0/webhook``, Jira administrators with an ADMIN-scoped token):
POST registers (name, url, events, filters, secret), GET lists, DELETE ``…/webhook/{id}`` removes.
A Jira admin's manual entry is ``add_dc_webhook``.

The JQL search (atlassian_search.py) reads issues' values for JQL through ``_jql_values``.

Deliveries: when an issue is created, transitioned, assigned or commented (through the REST API, or by
the test helpers ``jira_create``, ``jira_transition``, ``jira_assign``, ``jira_comment``), every live
webhook whose events and JQL filter match gets one signed POST: Cloud with ``Authorization: Bearer``
JWT (HS256, the app's client secret) and one delivery per app URL naming ``matchedWebhookIds``, only for
issues the registering user may browse; Data Center with ``X-Hub-Signature: sha256=…`` when the webhook
has a secret. Each carries ``X-Atlassian-Webhook-Identifier``; a delivery that fails (no answer, or not
2xx) is sent again with the same identifier after ``webhook_retry_delays``. Records: ``deliveries``,
``webhooks``. Knob: ``pause_deliveries``.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import itertools
import json
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.emulators import jql as jql_engine
from tests.emulators.atlassian_issues import IssueState, Status, StoredComment
from tests.emulators.atlassian_jira import DC_SCOPE_LEVEL, RestCall, jira_error
from tests.emulators.atlassian_model import CloudApp, StoredIssue, User
from tests.emulators.atlassian_specs import schema_errors

WEBHOOK_TTL = 30 * 86400
CLOUD_EVENTS = {
    "jira:issue_created",
    "jira:issue_updated",
    "jira:issue_deleted",
    "comment_created",
    "comment_updated",
    "comment_deleted",
    "issue_property_set",
    "issue_property_deleted",
}
WEBHOOK_SCOPES = {"manage:jira-webhook"}
GRANULAR_WEBHOOK = {"read:webhook:jira", "write:webhook:jira", "delete:webhook:jira"}


@dataclass
class EmulatedWebhook:
    id: int
    site: str  # cloud site name or DC context path
    kind: str  # "cloud" | "dc"
    url: str
    events: list[str]
    jql: str | None
    client_id: str | None = None  # Cloud: the OAuth app
    owner: str | None = None  # Cloud: the account that registered it
    secret: str | None = None  # DC
    name: str = ""
    expires_at: float | None = None  # Cloud only


@dataclass
class Delivery:
    identifier: str
    url: str
    headers: dict[str, str]
    body: bytes
    payload: dict[str, Any]
    webhook_ids: list[int]
    statuses: list[int | str] = field(default_factory=list)  # per attempt: HTTP status or error name
    delivered: bool = False


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def sign_jwt(claims: dict[str, Any], secret: str) -> str:
    """An HS256 JWT, as Atlassian signs deliveries to OAuth 2.0 apps."""
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(signature)}"


class WebhooksMixin:
    """See the module docstring; expects AtlassianEmulator's attributes."""

    _lock: threading.RLock
    _users: dict[str, User]
    _issues: list[StoredIssue]
    _cloud_apps: dict[str, CloudApp]
    base_url: str | None
    now: Callable[[], float]
    _site: Callable[[Any], Any]
    _state: Callable[[StoredIssue], IssueState]
    _stored: Callable[[str], StoredIssue]
    _allowed: Callable[[str, str, StoredIssue], bool]
    _user_json: Callable[..., dict[str, Any]]
    _status_json: Callable[..., dict[str, Any]]
    _comment_json: Callable[..., dict[str, Any]]
    _visible_issue: Callable[..., Any]
    _find_project: Callable[..., Any]
    _bearer: Callable[[Request], str | None]
    _access: dict[str, Any]
    _valid_access: Callable[..., Any]
    workflow: Callable[..., Any]

    def _init_webhooks(self) -> None:
        self._webhooks: dict[int, EmulatedWebhook] = {}
        self._webhook_ids = itertools.count(1000)
        self._deliveries: list[Delivery] = []
        self._changelog_ids = itertools.count(10500)
        self.webhook_ttl: int = WEBHOOK_TTL
        self.webhook_retry_delays: tuple[float, ...] = (0.2, 0.5, 1.0, 2.0, 4.0)
        self.jwt_ttl: int = 180
        self.jira_admins: set[str] = set()
        self._outbox: queue.Queue[tuple[float, Delivery, int] | None] = queue.Queue()
        self._paused = threading.Event()
        self._sender: threading.Thread | None = None

    # ============================================================ setup, records (tests)

    def add_dc_webhook(
        self,
        context_path: str,
        url: str,
        *,
        secret: str | None,
        events: Iterable[str] = ("jira:issue_created", "jira:issue_updated", "comment_created"),
        jql: str | None = None,
        name: str = "Webhook",
    ) -> EmulatedWebhook:
        """What a Jira administrator enters under Administration → System → WebHooks."""
        with self._lock:
            hook = EmulatedWebhook(
                next(self._webhook_ids),
                self._site(context_path).ident,
                "dc",
                url,
                list(events),
                jql,
                secret=secret,
                name=name,
            )
            self._webhooks[hook.id] = hook
            return copy.deepcopy(hook)

    @property
    def webhooks(self) -> list[EmulatedWebhook]:
        with self._lock:
            return [copy.deepcopy(h) for h in self._webhooks.values()]

    @property
    def deliveries(self) -> list[Delivery]:
        with self._lock:
            return [copy.deepcopy(d) for d in self._deliveries]

    def pause_deliveries(self, paused: bool = True) -> None:
        """Hold deliveries (they queue up) until unpaused."""
        (self._paused.set if paused else self._paused.clear)()

    def _stop_deliveries(self) -> None:
        with self._lock:
            sender, self._sender = self._sender, None
        if sender is not None:
            self._outbox.put(None)
            sender.join(timeout=5)

    def _hook_alive(self, hook: EmulatedWebhook) -> bool:
        return hook.expires_at is None or hook.expires_at > self.now()

    # ============================================================ test helpers acting in Jira

    def jira_create(
        self, site: Any, project_key: str, summary: str, *, by: str, **options: Any
    ) -> StoredIssue:
        issue = self.seed_issue(site, project_key, summary, reporter=by, **options)  # type: ignore[attr-defined]
        self._emit_created(issue.key, by)
        return issue

    def jira_transition(self, key: str, to: Status, *, by: str) -> None:
        with self._lock:
            state = self._state(self._stored(key))
            before = state.status
            state.status = to
            state.updated_at = self.now()
        self._emit_updated(key, by, [self._status_item(before, to)])

    def jira_assign(self, key: str, account_id: str | None, *, by: str) -> None:
        with self._lock:
            state = self._state(self._stored(key))
            before = state.assignee
            state.assignee = account_id
            state.updated_at = self.now()
        self._emit_updated(key, by, [self._assignee_item(before, account_id)])

    def jira_comment(self, key: str, body: Any, *, by: str, visibility: dict[str, str] | None = None) -> str:
        with self._lock:
            issue = self._stored(key)
            state = self._state(issue)
            comment = StoredComment(
                str(next(self._comment_ids)),
                by,
                copy.deepcopy(body),  # type: ignore[attr-defined]
                dict(visibility) if visibility else None,
                self.now(),
            )
            state.comments.append(comment)
            state.updated_at = self.now()
        self._emit_comment(key, by, comment.id)
        return comment.id

    def jira_watch(self, key: str, account_id: str) -> None:
        """`account_id` starts watching the issue (no webhook event, as in Jira)."""
        with self._lock:
            state = self._state(self._stored(key))
            if account_id not in state.watchers:
                state.watchers.append(account_id)

    def jira_edit_description(self, key: str, body: Any, *, by: str) -> None:
        """Replaces the description (ADF on Cloud, wiki markup on DC): `jira:issue_updated` whose
        changelog names the `description` field with wiki text before and after, as Jira sends it."""
        with self._lock:
            issue = self._stored(key)
            before = issue.fields.get("description")
            issue.fields["description"] = copy.deepcopy(body)
            self._state(issue).updated_at = self.now()
        item = {
            "field": "description",
            "fieldtype": "jira",
            "fieldId": "description",
            "from": None,
            "fromString": _wiki(before),
            "to": None,
            "toString": _wiki(body),
        }
        self._emit_updated(key, by, [item])

    # ============================================================ REST hooks

    def _before_rest(self, call: RestCall, method: str, path: str) -> Any:
        parts = path.split("/")
        if method in {"POST", "PUT"} and len(parts) == 3 and parts[0] == "issue":
            try:
                with self._lock:
                    state = self._state(self._stored(parts[1]))
                    return (state.status, state.assignee)
            except KeyError:
                return None
        return None

    def _after_rest(self, call: RestCall, method: str, path: str, before: Any, response: Response) -> None:
        if response.status_code >= 300:
            return
        parts = path.split("/")
        actor = call.user.account_id
        if method == "POST" and path == "issue":
            key = json.loads(bytes(response.body)).get("key")
            if key:
                self._emit_created(key, actor)
        elif len(parts) == 3 and parts[0] == "issue" and before is not None:
            key = parts[1]
            with self._lock:
                state = self._state(self._stored(key))
                after = (state.status, state.assignee)
            if method == "POST" and parts[2] == "transitions" and after[0] != before[0]:
                self._emit_updated(key, actor, [self._status_item(before[0], after[0])])
            elif method == "PUT" and parts[2] == "assignee" and after[1] != before[1]:
                self._emit_updated(key, actor, [self._assignee_item(before[1], after[1])])
            elif method == "POST" and parts[2] == "comment":
                comment_id = json.loads(bytes(response.body)).get("id")
                if comment_id:
                    self._emit_comment(key, actor, str(comment_id))

    def _webhook_routes(self) -> list[tuple[str, str, str, Any]]:
        return [
            ("GET", r"webhook", "", self._rest_list_webhooks),
            ("POST", r"webhook", "", self._rest_register_webhooks),
            ("DELETE", r"webhook", "", self._rest_delete_webhooks),
            ("PUT", r"webhook/refresh", "", self._rest_refresh_webhooks),
        ]

    # ============================================================ Cloud webhook REST

    def _webhook_caller(self, call: RestCall) -> tuple[str, Response | None]:
        if not call.cloud:
            return "", jira_error(404, [f"null for uri: {call.request.url}"])
        token = self._bearer(call.request)
        access = self._access.get(token) if token else None
        if access is None:
            return "", jira_error(401, ["Unauthorized"])
        if not (call.scopes & WEBHOOK_SCOPES or GRANULAR_WEBHOOK <= call.scopes):
            return "", JSONResponse(
                {"code": 401, "message": "Unauthorized; scope does not match"}, status_code=401
            )
        return str(access.client_id), None

    def _mine(self, call: RestCall, client_id: str) -> list[EmulatedWebhook]:
        return [
            h
            for h in self._webhooks.values()
            if h.kind == "cloud"
            and h.site == call.site.ident
            and h.client_id == client_id
            and h.owner == call.user.account_id
            and self._hook_alive(h)
        ]

    async def _rest_register_webhooks(self, call: RestCall) -> Response:
        client_id, denied = self._webhook_caller(call)
        if denied is not None:
            return denied
        try:
            body = json.loads(call.body or b"")
        except ValueError:
            return jira_error(400, ["Unexpected character: the body is not JSON."])
        shape = schema_errors("WebhookRegistrationDetails", body)
        if shape:
            return jira_error(400, ["Invalid request payload.", *shape[:5]])
        url = str(body["url"])
        results: list[dict[str, Any]] = []
        with self._lock:
            others = {
                h.url
                for h in self._webhooks.values()
                if h.kind == "cloud"
                and h.site == call.site.ident
                and h.client_id == client_id
                and self._hook_alive(h)
            }
            for details in body["webhooks"]:
                errors: list[str] = []
                if others and url not in others:
                    errors.append("Only a single URL per app is allowed to be registered.")
                jql = details.get("jqlFilter")
                if not jql:
                    errors.append("The JQL filter is required.")
                else:
                    errors += jql_engine.webhook_filter_errors(str(jql))
                events = list(details.get("events") or [])
                if not events:
                    errors.append("At least one event is required.")
                if errors:
                    results.append({"errors": errors})
                    continue
                hook = EmulatedWebhook(
                    next(self._webhook_ids),
                    call.site.ident,
                    "cloud",
                    url,
                    events,
                    str(jql),
                    client_id=client_id,
                    owner=call.user.account_id,
                    expires_at=self.now() + self.webhook_ttl,
                )
                self._webhooks[hook.id] = hook
                results.append({"createdWebhookId": hook.id})
        return JSONResponse({"webhookRegistrationResult": results})

    async def _rest_list_webhooks(self, call: RestCall) -> Response:
        client_id, denied = self._webhook_caller(call)
        if denied is not None:
            return denied
        start = int(call.request.query_params.get("startAt") or 0)
        size = int(call.request.query_params.get("maxResults") or 100)
        with self._lock:
            mine = sorted(self._mine(call, client_id), key=lambda h: h.id)
        page = mine[start : start + size]
        values = [
            {
                "id": h.id,
                "jqlFilter": h.jql,
                "events": h.events,
                "url": h.url,
                "expirationDate": int((h.expires_at or 0) * 1000),
            }
            for h in page
        ]
        return JSONResponse(
            {
                "startAt": start,
                "maxResults": size,
                "total": len(mine),
                "isLast": start + len(page) >= len(mine),
                "values": values,
            }
        )

    def _ids_body(self, call: RestCall) -> list[int] | Response:
        try:
            body = json.loads(call.body or b"")
        except ValueError:
            return jira_error(400, ["Unexpected character: the body is not JSON."])
        shape = schema_errors("ContainerForWebhookIDs", body)
        if shape:
            return jira_error(400, ["Invalid request payload.", *shape[:5]])
        return [int(i) for i in body["webhookIds"]]

    async def _rest_delete_webhooks(self, call: RestCall) -> Response:
        client_id, denied = self._webhook_caller(call)
        if denied is not None:
            return denied
        ids = self._ids_body(call)
        if isinstance(ids, Response):
            return ids
        with self._lock:
            for hook in self._mine(call, client_id):
                if hook.id in ids:
                    del self._webhooks[hook.id]
        return Response(status_code=202)

    async def _rest_refresh_webhooks(self, call: RestCall) -> Response:
        client_id, denied = self._webhook_caller(call)
        if denied is not None:
            return denied
        ids = self._ids_body(call)
        if isinstance(ids, Response):
            return ids
        expires = self.now() + self.webhook_ttl
        with self._lock:
            for hook in self._mine(call, client_id):
                if hook.id in ids:
                    hook.expires_at = expires
        return JSONResponse({"expirationDate": int(expires * 1000)})

    def _jql_values(self, issue: StoredIssue) -> dict[str, list[str]]:
        with self._lock:
            state = self._state(issue)
            project = self._site(issue.site).projects.get(issue.project_key)

            def person(account: str | None) -> list[str]:
                user = self._users.get(account) if account else None
                if user is None:
                    return []
                return [v for v in (user.account_id, user.name, user.key, user.display_name, user.email) if v]

            priority = issue.fields.get("priority")
            return {
                "project": [issue.project_key, *([project.name, project.id] if project else [])],
                "issuetype": [issue.issue_type_name, issue.issue_type_id],
                "status": [state.status.name, state.status.id],
                "statuscategory": [state.status.category],
                "assignee": person(state.assignee),
                "reporter": person(state.reporter),
                "key": [issue.key, issue.id],
                "id": [issue.id],
                "priority": [str(priority.get("name"))] if isinstance(priority, dict) else [],
                "labels": [str(x) for x in issue.fields.get("labels") or []],
                "summary": [str(issue.fields.get("summary") or "")],
                "text": [str(issue.fields.get("summary") or ""), json.dumps(issue.fields.get("description"))],
            }

    # ============================================================ Data Center webhook REST

    async def _dc_webhooks_route(self, request: Request, body: bytes, dc: Any, rest: str) -> Response:
        access = self._valid_access(request, "dc", dc.context_path)
        if access is None:
            return JSONResponse(
                {"errorMessages": ["You are not authenticated."], "errors": {}}, status_code=401
            )
        level = max((DC_SCOPE_LEVEL.get(s, 0) for s in access.scopes), default=0)
        if level < DC_SCOPE_LEVEL["ADMIN"] or access.account_id not in self.jira_admins:
            return JSONResponse(
                {"errorMessages": ["You do not have the permission to manage webhooks."], "errors": {}},
                status_code=403,
            )
        base = f"{self.base_url}{dc.context_path}/rest/webhooks/1.0/webhook"
        one = rest.removeprefix("/rest/webhooks/1.0/webhook").strip("/")
        method = request.method

        def described(hook: EmulatedWebhook) -> dict[str, Any]:
            return {
                "name": hook.name,
                "url": hook.url,
                "events": hook.events,
                "enabled": True,
                "excludeBody": False,
                "filters": {"issue-related-events-section": hook.jql or ""},
                "self": f"{base}/{hook.id}",
            }

        if not one and method == "GET":
            with self._lock:
                hooks = [h for h in self._webhooks.values() if h.kind == "dc" and h.site == dc.ident]
            return JSONResponse([described(h) for h in hooks])
        if not one and method == "POST":
            try:
                data = json.loads(body or b"")
            except ValueError:
                return JSONResponse({"errorMessages": ["Invalid JSON"], "errors": {}}, status_code=400)
            if not isinstance(data, dict) or not data.get("url") or not data.get("name"):
                return JSONResponse(
                    {"errorMessages": ["name and url are required"], "errors": {}}, status_code=400
                )
            jql = str((data.get("filters") or {}).get("issue-related-events-section") or "") or None
            if jql:
                try:
                    jql_engine.parse(jql)
                except jql_engine.JqlError as exc:
                    return JSONResponse({"errorMessages": exc.messages, "errors": {}}, status_code=400)
            hook = self.add_dc_webhook(
                dc.context_path,
                str(data["url"]),
                secret=data.get("secret") or None,
                events=list(data.get("events") or []),
                jql=jql,
                name=str(data["name"]),
            )
            return JSONResponse(described(hook), status_code=201)
        if one.isdigit() and method == "DELETE":
            with self._lock:
                hook = self._webhooks.get(int(one))
                if hook is None or hook.kind != "dc" or hook.site != dc.ident:
                    return Response(status_code=404)
                del self._webhooks[hook.id]
            return Response(status_code=204)
        return Response("Method Not Allowed", status_code=405)

    # ============================================================ events → deliveries

    def _status_item(self, before: Status, after: Status) -> dict[str, Any]:
        return {
            "field": "status",
            "fieldtype": "jira",
            "fieldId": "status",
            "from": before.id,
            "fromString": before.name,
            "to": after.id,
            "toString": after.name,
        }

    def _assignee_item(self, before: str | None, after: str | None) -> dict[str, Any]:
        def name(account: str | None) -> str | None:
            user = self._users.get(account) if account else None
            return user.display_name if user else None

        return {
            "field": "assignee",
            "fieldtype": "jira",
            "fieldId": "assignee",
            "from": before,
            "fromString": name(before),
            "to": after,
            "toString": name(after),
            "tmpFromAccountId": before,
            "tmpToAccountId": after,
        }

    def _call_for(self, issue: StoredIssue, actor: str) -> RestCall:
        site = self._site(issue.site)
        user = self._users[actor]
        if site.kind == "cloud":
            api = f"{self.base_url}/ex/jira/{site.cloud_id}/rest/api/3"
            return RestCall("cloud", site, user, frozenset(), api, None, b"")  # type: ignore[arg-type]
        return RestCall(
            "dc", site, user, frozenset(), f"{self.base_url}{site.context_path}/rest/api/2", None, b""
        )  # type: ignore[arg-type]

    def _issue_body(self, call: RestCall, issue: StoredIssue) -> dict[str, Any]:
        with self._lock:
            state = self._state(issue)
            project = self._site(issue.site).projects.get(issue.project_key)
            assignee = self._users.get(state.assignee) if state.assignee else None
            reporter = self._users.get(state.reporter) if state.reporter else None
            fields: dict[str, Any] = {
                "summary": issue.fields.get("summary"),
                "issuetype": {"id": issue.issue_type_id, "name": issue.issue_type_name},
                "project": {
                    "id": project.id if project else "",
                    "key": issue.project_key,
                    "name": project.name if project else issue.project_key,
                },
                "status": self._status_json(call, state.status),
                "assignee": self._user_json(call, assignee) if assignee else None,
                "reporter": self._user_json(call, reporter) if reporter else None,
                "priority": issue.fields.get("priority"),
                "description": copy.deepcopy(issue.fields.get("description")),
                "created": _fmt(issue.created_at),
                "updated": _fmt(state.updated_at),
            }
            if state.security is not None:
                fields["security"] = {"id": state.security.id, "name": state.security.name}
        return {"id": issue.id, "self": f"{call.api}/issue/{issue.id}", "key": issue.key, "fields": fields}

    def _emit_created(self, key: str, actor: str) -> None:
        self._emit(key, actor, "jira:issue_created", {"issue_event_type_name": "issue_created"})

    def _emit_updated(self, key: str, actor: str, items: list[dict[str, Any]]) -> None:
        kind = "issue_assigned" if items and items[0]["field"] == "assignee" else "issue_generic"
        self._emit(
            key,
            actor,
            "jira:issue_updated",
            {
                "issue_event_type_name": kind,
                "changelog": {"id": str(next(self._changelog_ids)), "items": items},
            },
        )

    def _emit_comment(self, key: str, actor: str, comment_id: str) -> None:
        with self._lock:
            issue = self._stored(key)
            comment = next(c for c in self._state(issue).comments if c.id == comment_id)
        call = self._call_for(issue, actor)
        body = self._comment_json(call, issue, comment)
        self._emit(key, actor, "comment_created", {"comment": body})

    def _emit(self, key: str, actor: str, event: str, extra: dict[str, Any]) -> None:
        with self._lock:
            issue = self._stored(key)
            hooks = [
                h
                for h in self._webhooks.values()
                if h.site == issue.site and self._hook_alive(h) and event in h.events
            ]
        call = self._call_for(issue, actor)
        payload: dict[str, Any] = {
            "timestamp": int(self.now() * 1000),
            "webhookEvent": event,
            **extra,
            "user": self._user_json(call, self._users[actor]),
            "issue": self._issue_body(call, issue),
        }
        values = self._jql_values(issue)
        groups: dict[tuple[str, str | None], list[EmulatedWebhook]] = {}
        for hook in hooks:
            if hook.jql:
                try:
                    if not jql_engine.evaluate(hook.jql, values):
                        continue
                except jql_engine.JqlError:
                    continue
            if hook.kind == "cloud":
                if not self._owner_sees(hook.owner or "", issue):
                    continue
                groups.setdefault((hook.url, hook.client_id), []).append(hook)
            else:
                groups.setdefault((hook.url, f"dc:{hook.id}"), []).append(hook)
        for (url, _), matched in groups.items():
            body = dict(payload)
            if matched[0].kind == "cloud":
                body["matchedWebhookIds"] = [h.id for h in matched]
            self._queue_delivery(url, body, matched)

    def _owner_sees(self, owner: str, issue: StoredIssue) -> bool:
        with self._lock:
            state = self._state(issue)
            if not self._allowed(owner, "browse", issue):
                return False
            if state.security is not None and owner not in state.security.allowed:
                return False
            user = self._users.get(owner)
            return user is not None and issue.site in user.sites

    def _queue_delivery(self, url: str, payload: dict[str, Any], matched: list[EmulatedWebhook]) -> None:
        raw = json.dumps(payload).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Atlassian-Webhook-Identifier": uuid.uuid4().hex,
            "User-Agent": "Atlassian Webhook HTTP Client",
        }
        delivery = Delivery(
            headers["X-Atlassian-Webhook-Identifier"], url, headers, raw, payload, [h.id for h in matched]
        )
        hook = matched[0]
        if hook.kind == "dc" and hook.secret:
            headers["X-Hub-Signature"] = (
                "sha256=" + hmac.new(hook.secret.encode(), raw, hashlib.sha256).hexdigest()
            )
        with self._lock:
            self._deliveries.append(delivery)
            if self._sender is None:
                self._sender = threading.Thread(target=self._send_loop, name="webhook-sender", daemon=True)
                self._sender.start()
        self._outbox.put((time.monotonic(), delivery, 0))

    def _signed_headers(self, delivery: Delivery, attempt: int) -> dict[str, str]:
        headers = dict(delivery.headers)
        if attempt:
            headers["X-Atlassian-Webhook-Retry"] = str(attempt)
        with self._lock:
            hook = self._webhooks.get(delivery.webhook_ids[0]) if delivery.webhook_ids else None
            app = (
                self._cloud_apps.get(hook.client_id or "")
                if hook is not None and hook.kind == "cloud"
                else None
            )
        if app is not None:
            now = int(self.now())
            claims = {
                "iss": app.client_id,
                "iat": now,
                "exp": now + self.jwt_ttl,
                "jti": uuid.uuid4().hex,
                "context": {"webhookIds": delivery.webhook_ids},
            }
            headers["Authorization"] = f"Bearer {sign_jwt(claims, app.client_secret)}"
        return headers

    def _send_loop(self) -> None:
        waiting: list[tuple[float, Delivery, int]] = []
        with httpx.Client(timeout=10) as client:
            while True:
                timeout = max(
                    0.0, min((w[0] for w in waiting), default=time.monotonic() + 0.2) - time.monotonic()
                )
                try:
                    item = self._outbox.get(timeout=min(timeout, 0.2) if waiting else 0.2)
                    if item is None:
                        return
                    waiting.append(item)
                except queue.Empty:
                    pass
                if self._paused.is_set():
                    continue
                now = time.monotonic()
                due = [w for w in waiting if w[0] <= now]
                waiting = [w for w in waiting if w[0] > now]
                for _, delivery, attempt in due:
                    try:
                        status: int | str = client.post(
                            delivery.url,
                            content=delivery.body,
                            headers=self._signed_headers(delivery, attempt),
                        ).status_code
                    except httpx.HTTPError as exc:
                        status = type(exc).__name__
                    with self._lock:
                        record = next(d for d in self._deliveries if d is delivery)
                        record.statuses.append(status)
                        record.delivered = isinstance(status, int) and 200 <= status < 300
                    if not record.delivered and attempt < len(self.webhook_retry_delays):
                        waiting.append(
                            (time.monotonic() + self.webhook_retry_delays[attempt], delivery, attempt + 1)
                        )


def _wiki(body: Any) -> str | None:
    """A description as a changelog shows it: wiki markup; ADF mentions become `[~accountid:ID]`."""
    if body is None or isinstance(body, str):
        return body
    parts: list[str] = []

    def walk(node: Any) -> None:
        if not isinstance(node, dict):
            return
        if node.get("type") == "text":
            parts.append(str(node.get("text") or ""))
        elif node.get("type") == "mention":
            parts.append(f"[~accountid:{(node.get('attrs') or {}).get('id')}]")
        for child in node.get("content") or []:
            walk(child)
        if node.get("type") == "paragraph":
            parts.append("\n")

    walk(body)
    return "".join(parts).strip()


def _fmt(epoch: float) -> str:
    import datetime as dt

    stamp = dt.datetime.fromtimestamp(epoch, tz=dt.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}+0000"
