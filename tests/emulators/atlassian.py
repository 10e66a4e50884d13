"""An emulator of Atlassian for end-to-end tests: Cloud 3LO auth server, API gateway (Jira Cloud REST v3
and personal data reporting) and any number of Jira Data Center servers (OAuth 2.0 provider with PKCE,
REST v2) under context paths, all in one Starlette app (``emu.app``) served by one ``LiveServer``.

It rejects what the real services reject, records every request and takes failure knobs. See the
``AtlassianEmulator`` docstring for the public API.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import datetime as dt
import hashlib
import hmac
import html
import itertools
import json
import re
import secrets
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.emulators.atlassian_consent import accepted, authorize_params, consent_page
from tests.emulators.atlassian_holds import RequestHolds
from tests.emulators.atlassian_issues import IssueActionsMixin
from tests.emulators.atlassian_jira import JiraRestMixin, RestCall
from tests.emulators.atlassian_model import (
    AccessToken,
    AuthCode,
    CloudApp,
    CloudSite,
    DataCenter,
    DcApp,
    IssueType,
    Project,
    RecordedRequest,
    RefreshToken,
    StoredIssue,
    TokenGrant,
    User,
    custom_field,
    description_field,
    reporter_field,
    summary_field,
    system_field,
)
from tests.emulators.atlassian_picker import IssuePickerMixin
from tests.emulators.atlassian_specs import is_known_scope, specs_available
from tests.emulators.atlassian_webhooks import WebhooksMixin
from tests.emulators.live import LiveServer

__all__ = [
    "AtlassianEmulator",
    "RecordedRequest",
    "StoredIssue",
    "TokenGrant",
    "custom_field",
    "serve",
    "standard_fields",
]

DC_SCOPES = ("READ", "WRITE", "ADMIN", "SYSTEM_ADMIN")
_PKCE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
_RESERVED_PREFIXES = ("/ex", "/oauth", "/authorize", "/app")
UNKNOWN_REFRESH = "Unknown or invalid refresh token."
_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]


def standard_fields(with_reporter: bool = True) -> list[dict[str, Any]]:
    """project, issuetype, summary (required), description, and reporter (required, has a default)."""
    fields = [
        system_field("project", "Project", "project", required=True),
        system_field("issuetype", "Issue Type", "issuetype", required=True, operations=[]),
        summary_field(),
        description_field(),
    ]
    if with_reporter:
        fields.append(reporter_field())
    return fields


@dataclass
class _Failure:
    pattern: re.Pattern[str]
    status: int
    body: Any
    headers: dict[str, str]
    times: int
    method: str | None


def _html(status: int, title: str, text: str) -> HTMLResponse:
    page = (
        f"<!doctype html><html><head><title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>"
    )
    return HTMLResponse(page, status_code=status)


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def _with_query(uri: str, params: dict[str, str]) -> str:
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def pkce_challenge(verifier: str) -> str:
    """BASE64URL(SHA256(verifier)) without padding: the S256 code challenge of a verifier."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class AtlassianEmulator(IssuePickerMixin, WebhooksMixin, IssueActionsMixin, JiraRestMixin):
    """Atlassian Cloud (auth server + API gateway) and Jira Data Center servers, in one ASGI app.

    Setup: ``add_cloud_app``, ``add_cloud_site``, ``add_datacenter``, ``add_dc_app``, ``add_user``,
    ``add_project`` / ``default_project``, ``add_issue_type``, ``add_field`` / ``add_custom_field``.
    Browser: ``logged_in``, cookie ``atlassian_account``, ``deny_consent``, ``consent_sites``,
    ``consent_screen`` (a real consent form, for real browsers).
    Knobs: ``set_latency``, ``fail_next``, ``revoke``, ``revoke_token``, ``expire_access_tokens``,
    ``advance``, ``close_account``, ``mark_account_updated``, TTL attributes; ``holds.hold`` (keep a
    request waiting until released) and ``holds.answer_after`` (handle it, answer something else).
    Issues (``atlassian_issues``): ``seed_issue``, ``workflow`` / ``add_transition``, ``set_security_level``,
    ``deny_permission`` / ``allow_permission``, ``add_group_member``, ``add_role_member``, ``issue_state``.
    Webhooks and search (``atlassian_webhooks``): ``jira_create``, ``jira_transition``, ``jira_assign``,
    ``jira_comment``, ``add_dc_webhook``, ``jira_admins``, ``pause_deliveries``; ``webhooks``, ``deliveries``.
    Records: ``requests``, ``requests_to``, ``issues``, ``issue``, ``token_grants``, ``token_refreshes``,
    ``report_batches``, ``internal_errors``, ``wait_for``.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._offset = 0.0
        self._lock = threading.RLock()
        self.base_url: str | None = None
        self.spec_validation: bool = specs_available()
        # browser
        self.logged_in: str | None = None
        self.deny_consent: bool = False
        self.consent_screen: bool = False  # a consent form (atlassian_consent) instead of consent at once
        self.consent_sites: list[str] | None = None  # Cloud sites granted on consent (None: all the user's)
        # lifetimes (seconds)
        self.access_token_ttl: int = 3600
        self.code_ttl: int = 600
        self.refresh_reuse_leeway: int = 600
        self.refresh_inactivity: int = 90 * 86400
        self.dc_refresh_ttl: int = 90 * 86400
        self.report_cycle_period: str | None = "604800"
        # state
        self._users: dict[str, User] = {}
        self._cloud_apps: dict[str, CloudApp] = {}
        self._sites: dict[str, CloudSite] = {}
        self._dcs: dict[str, DataCenter] = {}
        self._codes: dict[str, AuthCode] = {}
        self._access: dict[str, AccessToken] = {}
        self._refresh: dict[str, RefreshToken] = {}
        self._grants: dict[tuple[str, str], set[str]] = {}
        self._issues: list[StoredIssue] = []
        self._issue_ids = itertools.count(10000)
        self._project_ids = itertools.count(10000)
        self._type_ids = itertools.count(10001)
        self._type_id_by_name: dict[tuple[str, str], str] = {}
        self._closed: set[str] = set()
        self._updated: dict[str, float] = {}
        # records and knobs
        self._requests: list[RecordedRequest] = []
        self._failures: list[_Failure] = []
        self._latency: dict[tuple[str | None, str | None], float] = {}
        self.holds = RequestHolds(self._lock)  # hold a request / answer after handling it
        self._token_grants: list[TokenGrant] = []
        self._report_batches: list[list[dict[str, Any]]] = []
        self.internal_errors: list[str] = []
        self._init_issue_actions()
        self._init_webhooks()
        self._live: LiveServer | None = None
        self.app = Starlette(routes=[Route("/{path:path}", self._handle, methods=_METHODS)])

    # ================================================================= lifecycle, clock, waiting

    def start(self) -> AtlassianEmulator:
        """Serve on a LiveServer and set ``base_url``."""
        self._live = LiveServer(self.app).start()
        self.base_url = self._live.url
        return self

    def stop(self) -> None:
        self.holds.clear()  # a request still held would keep the server from stopping
        self._stop_deliveries()
        if self._live is not None:
            self._live.stop()
            self._live = None

    @property
    def live(self) -> LiveServer | None:
        return self._live

    def __enter__(self) -> AtlassianEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def now(self) -> float:
        return self._clock() + self._offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 15.0, interval: float = 0.02) -> Any:
        """Poll `predicate` until it returns something truthy (returned); TimeoutError after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met within {timeout}s")
            time.sleep(interval)

    # ================================================================= setup

    def add_cloud_app(
        self,
        client_id: str,
        client_secret: str,
        redirect_uris: Iterable[str],
        scopes: Iterable[str] | None = None,
    ) -> CloudApp:
        app = CloudApp(
            client_id, client_secret, list(redirect_uris), frozenset(scopes) if scopes is not None else None
        )
        with self._lock:
            self._cloud_apps[client_id] = app
        return app

    def add_cloud_site(self, name: str = "acme", cloud_id: str | None = None) -> CloudSite:
        site = CloudSite(
            name=name, cloud_id=cloud_id or str(uuid.uuid4()), url=f"https://{name}.atlassian.net"
        )
        with self._lock:
            self._sites[name] = site
        return site

    def add_datacenter(self, context_path: str = "/jira", version: str = "9.12.8") -> DataCenter:
        ctx = "/" + context_path.strip("/")
        if ctx == "/" or any(ctx == p or ctx.startswith(p + "/") for p in _RESERVED_PREFIXES):
            raise ValueError(f"context path {context_path!r} is empty or collides with the Cloud endpoints")
        dc = DataCenter(context_path=ctx, version=version)
        with self._lock:
            self._dcs[ctx] = dc
        return dc

    def add_dc_app(self, context_path: str, client_id: str, client_secret: str, redirect_uri: str) -> DcApp:
        dc = self._dc(context_path)
        app = DcApp(dc.context_path, client_id, client_secret, redirect_uri)
        with self._lock:
            dc.apps[client_id] = app
        return app

    def add_user(
        self,
        account_id: str,
        display_name: str,
        email: str,
        sites: Iterable[Any] = (),
        *,
        name: str | None = None,
        key: str | None = None,
        time_zone: str = "UTC",
    ) -> User:
        """A user; `sites` are Cloud site names / objects and DC context paths / objects they can use.

        DC identity: `name` (username, default: the email's local part) and `key` (default JIRAUSERnnnnn).
        """
        with self._lock:
            user = User(
                account_id=account_id,
                display_name=display_name,
                email=email,
                sites={self._site(s).ident for s in sites},
                name=name or email.split("@")[0],
                key=key or f"JIRAUSER{10000 + len(self._users)}",
                time_zone=time_zone,
            )
            self._users[account_id] = user
        return user

    def grant_site_access(self, account_id: str, site: Any) -> None:
        with self._lock:
            self._users[account_id].sites.add(self._site(site).ident)

    def remove_site_access(self, account_id: str, site: Any) -> None:
        with self._lock:
            self._users[account_id].sites.discard(self._site(site).ident)

    def add_project(
        self,
        site: Any,
        key: str,
        name: str | None = None,
        issue_types: Iterable[str | dict[str, Any] | IssueType] | None = None,
        creatable_by: Iterable[str] | None = None,
        visible_to: Iterable[str] | None = None,
    ) -> Project:
        """A project; `issue_types` items are names (standard fields), IssueType objects, or dicts
        ``{"name", "subtask"?, "description"?, "fields"?: [createmeta field dicts]}``. The project and
        issuetype fields are added to every issue type that lacks them."""
        target = self._site(site)
        with self._lock:
            project = Project(
                id=str(next(self._project_ids)),
                key=key,
                name=name or key.title(),
                site=target,
                creatable_by=set(creatable_by) if creatable_by is not None else None,
                visible_to=set(visible_to) if visible_to is not None else None,
            )
            target.projects[key] = project
        for spec in issue_types if issue_types is not None else ["Task", "Bug"]:
            if isinstance(spec, IssueType):
                self._attach_issue_type(project, spec)
            elif isinstance(spec, str):
                self.add_issue_type(target, key, spec)
            else:
                self.add_issue_type(
                    target,
                    key,
                    spec["name"],
                    fields=spec.get("fields"),
                    subtask=spec.get("subtask", False),
                    description=spec.get("description", ""),
                )
        return project

    def default_project(
        self,
        site: Any,
        key: str = "ENG",
        name: str = "Engineering",
        *,
        creatable_by: Iterable[str] | None = None,
        visible_to: Iterable[str] | None = None,
        with_reporter: bool = True,
    ) -> Project:
        """Task and Bug with project, issuetype, summary (required), description and, unless told
        otherwise, reporter (required but with a default value: clients may leave it out)."""
        fields = standard_fields(with_reporter)
        types = [
            {"name": "Task", "fields": copy.deepcopy(fields), "description": "A small piece of work."},
            {"name": "Bug", "fields": copy.deepcopy(fields), "description": "A problem or error."},
        ]
        return self.add_project(site, key, name, types, creatable_by=creatable_by, visible_to=visible_to)

    def add_issue_type(
        self,
        site: Any,
        project_key: str,
        name: str,
        fields: list[dict[str, Any]] | None = None,
        subtask: bool = False,
        description: str = "",
    ) -> IssueType:
        target = self._site(site)
        with self._lock:
            type_key = (target.ident, name)
            if type_key not in self._type_id_by_name:
                self._type_id_by_name[type_key] = str(next(self._type_ids))
            itype = IssueType(
                id=self._type_id_by_name[type_key],
                name=name,
                subtask=subtask,
                description=description,
                fields=copy.deepcopy(fields) if fields is not None else standard_fields(),
            )
        self._attach_issue_type(target.projects[project_key], itype)
        return itype

    def _attach_issue_type(self, project: Project, itype: IssueType) -> None:
        ids = {m["fieldId"] for m in itype.fields}
        extra = [
            system_field("project", "Project", "project", required=True),
            system_field("issuetype", "Issue Type", "issuetype", required=True, operations=[]),
        ]
        with self._lock:
            itype.fields[:0] = [m for m in extra if m["fieldId"] not in ids]
            project.issue_types = [t for t in project.issue_types if t.id != itype.id] + [itype]

    def add_field(
        self, site: Any, project_key: str, meta: dict[str, Any], issue_types: Iterable[str] | None = None
    ) -> dict[str, Any]:
        """Add a createmeta field entry to the project's issue types (all, or those named)."""
        project = self._site(site).projects[project_key]
        wanted = set(issue_types) if issue_types is not None else None
        with self._lock:
            for itype in project.issue_types:
                if wanted is None or itype.name in wanted or itype.id in wanted:
                    itype.fields = [m for m in itype.fields if m["fieldId"] != meta["fieldId"]]
                    itype.fields.append(copy.deepcopy(meta))
        return meta

    def add_custom_field(
        self,
        site: Any,
        project_key: str,
        kind: str,
        *,
        name: str | None = None,
        required: bool = True,
        options: list[str] | dict[str, list[str]] | None = None,
        issue_types: Iterable[str] | None = None,
        field_id: str | None = None,
        default_value: Any = None,
    ) -> dict[str, Any]:
        """A custom field of `kind` (option, radio, multiselect, checkboxes, number, string, textarea,
        date, datetime, labels, user, multiuser, url, cascading, any), added to the project's issue
        types; returns the field entry (``["fieldId"]`` is its id)."""
        meta = custom_field(
            kind,
            field_id=field_id,
            name=name,
            required=required,
            options=options,
            default_value=default_value,
        )
        return self.add_field(site, project_key, meta, issue_types)

    def close_account(self, account_id: str) -> None:
        with self._lock:
            self._closed.add(account_id)

    def mark_account_updated(self, account_id: str, at: float | None = None) -> None:
        """Personal data reporting answers "updated" for reports with an older ``updatedAt``."""
        with self._lock:
            self._updated[account_id] = self.now() if at is None else at

    # ================================================================= knobs

    def set_latency(self, seconds: float, path_regex: str | None = None, method: str | None = None) -> None:
        """Delay answers (to matching paths); 0 removes the rule. The largest matching delay applies."""
        with self._lock:
            rule = (path_regex, method.upper() if method else None)
            if seconds <= 0:
                self._latency.pop(rule, None)
            else:
                self._latency[rule] = seconds

    def clear_latency(self) -> None:
        with self._lock:
            self._latency.clear()

    def fail_next(
        self,
        path_regex: str,
        status: int,
        body: Any = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
        method: str | None = None,
    ) -> None:
        """Answer the next `times` matching requests (re.search on the path) with `status`.
        `body`: dict/list (JSON), str (text) or bytes; None for an empty body."""
        with self._lock:
            self._failures.append(
                _Failure(
                    re.compile(path_regex),
                    status,
                    body,
                    dict(headers or {}),
                    times,
                    method.upper() if method else None,
                )
            )

    def clear_failures(self) -> None:
        with self._lock:
            self._failures.clear()

    def revoke(self, account_id: str) -> None:
        """Kill every access and refresh token of the user and forget their consents."""
        with self._lock:
            tokens: list[AccessToken | RefreshToken] = [*self._access.values(), *self._refresh.values()]
            for token in tokens:
                if token.account_id == account_id:
                    token.revoked = True
            for grant_key in [k for k in self._grants if k[1] == account_id]:
                del self._grants[grant_key]

    def revoke_token(self, token: str) -> None:
        with self._lock:
            found = self._access.get(token) or self._refresh.get(token)
            if found is not None:
                found.revoked = True

    def expire_access_tokens(self) -> None:
        with self._lock:
            for token in self._access.values():
                token.expires_at = min(token.expires_at, self.now() - 1)

    def mint_cloud_tokens(
        self,
        client_id: str,
        account_id: str,
        scopes: Iterable[str] = ("read:jira-work", "write:jira-work", "read:jira-user", "offline_access"),
        sites: Iterable[Any] | None = None,
    ) -> dict[str, Any]:
        """Skip the browser: consent for (client, user) to `sites` (default: all the user's) and
        return a token response as ``POST /oauth/token`` would."""
        with self._lock:
            user = self._users[account_id]
            chosen = (
                [self.cloud_site(s) for s in sites]
                if sites is not None
                else [s for s in self._sites.values() if s.ident in user.sites]
            )
            self._grants.setdefault((client_id, account_id), set()).update(s.cloud_id for s in chosen)
            return self._issue_cloud_tokens(client_id, account_id, frozenset(scopes))

    def mint_dc_tokens(
        self, context_path: str, client_id: str, account_id: str, scopes: Iterable[str] = ("WRITE",)
    ) -> dict[str, Any]:
        """Skip the browser: a token response as ``POST {ctx}/rest/oauth2/latest/token`` would give."""
        with self._lock:
            return self._issue_dc_tokens(
                self._dc(context_path).context_path, client_id, account_id, frozenset(scopes)
            )

    # ================================================================= records

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def requests_to(self, path_regex: str, method: str | None = None) -> list[RecordedRequest]:
        pattern = re.compile(path_regex)
        with self._lock:
            return [
                r
                for r in self._requests
                if pattern.search(r.path) and (method is None or r.method == method.upper())
            ]

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def issues(self, site: Any = None) -> list[StoredIssue]:
        with self._lock:
            ident = self._site(site).ident if site is not None else None
            return [copy.deepcopy(i) for i in self._issues if ident is None or i.site == ident]

    def issue(self, key: str) -> StoredIssue | None:
        with self._lock:
            return next((copy.deepcopy(i) for i in self._issues if i.key == key or i.id == key), None)

    @property
    def token_grants(self) -> list[TokenGrant]:
        with self._lock:
            return list(self._token_grants)

    @property
    def token_refreshes(self) -> int:
        """Successful refresh_token grants (Cloud and DC)."""
        with self._lock:
            return sum(1 for g in self._token_grants if g.grant_type == "refresh_token" and g.status == 200)

    @property
    def report_batches(self) -> list[list[dict[str, Any]]]:
        with self._lock:
            return copy.deepcopy(self._report_batches)

    def live_access_tokens(self, account_id: str | None = None) -> list[AccessToken]:
        with self._lock:
            return [
                t
                for t in self._access.values()
                if not t.revoked
                and t.expires_at > self.now()
                and (account_id is None or t.account_id == account_id)
            ]

    # ================================================================= lookups

    def _site(self, site: Any) -> CloudSite | DataCenter:
        if isinstance(site, CloudSite | DataCenter):
            return site
        with self._lock:
            if site in self._sites:
                return self._sites[site]
            for cloud in self._sites.values():
                if cloud.cloud_id == site:
                    return cloud
            if isinstance(site, str) and "/" + site.strip("/") in self._dcs:
                return self._dcs["/" + site.strip("/")]
        raise KeyError(f"no Cloud site or Data Center {site!r}")

    def _dc(self, context_path: Any) -> DataCenter:
        found = self._site(context_path)
        if not isinstance(found, DataCenter):
            raise KeyError(f"{context_path!r} is not a Data Center")
        return found

    def site(self, ref: Any) -> CloudSite | DataCenter:
        """A Cloud site (by name or cloud id) or Data Center (by context path)."""
        return self._site(ref)

    def cloud_site(self, ref: Any) -> CloudSite:
        found = self._site(ref)
        if not isinstance(found, CloudSite):
            raise KeyError(f"{ref!r} is not a Cloud site")
        return found

    def datacenter(self, context_path: Any) -> DataCenter:
        return self._dc(context_path)

    def project(self, site: Any, key: str) -> Project:
        return self._site(site).projects[key]

    def _public_base(self, request: Request) -> str:
        return self.base_url or str(request.base_url).rstrip("/")

    def _browser_user(self, request: Request) -> User | None:
        account = request.cookies.get("atlassian_account") or self.logged_in
        with self._lock:
            return self._users.get(account) if account else None

    @staticmethod
    def _bearer(request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return None
        return value.strip()

    def _valid_access(self, request: Request, kind: str, context_path: str = "") -> AccessToken | None:
        token = self._bearer(request)
        with self._lock:
            found = self._access.get(token) if token else None
            if found is None or found.revoked or found.kind != kind or found.expires_at <= self.now():
                return None
            if kind == "dc" and found.context_path != context_path:
                return None
            if found.account_id not in self._users:
                return None
            return found

    # ================================================================= ASGI entry

    async def _handle(self, request: Request) -> Response:
        body = await request.body()
        path = request.url.path
        ctype = request.headers.get("content-type", "").lower()
        parsed_json: Any = None
        form: dict[str, str] | None = None
        if body and "json" in ctype:
            try:
                parsed_json = json.loads(body)
            except ValueError:
                parsed_json = None
        if body and "application/x-www-form-urlencoded" in ctype:
            form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        record = RecordedRequest(
            method=request.method,
            path=path,
            query=dict(request.query_params),
            headers={k.lower(): v for k, v in request.headers.items()},
            json=parsed_json,
            form=form,
            at=self.now(),
            body=body,
        )
        with self._lock:
            self._requests.append(record)
            delay = max(
                (
                    s
                    for (rx, m), s in self._latency.items()
                    if (rx is None or re.search(rx, path)) and (m is None or m == request.method)
                ),
                default=0.0,
            )
        if delay:
            await asyncio.sleep(delay)
        hold = self.holds.take_hold(request.method, path)
        if hold is not None:
            await hold.block()
        response = self._injected_failure(request.method, path)
        if response is None:
            try:
                response = await self._route(request, path, body)
            except Exception:  # an emulator bug must show up as a 500, and in internal_errors
                trace = traceback.format_exc()
                with self._lock:
                    self.internal_errors.append(trace)
                response = Response(trace, status_code=500, media_type="text/plain")
            response = self.holds.take_answer(request.method, path) or response
        if hold is not None:
            hold.handled.set()
        record.status = response.status_code
        return response

    def _injected_failure(self, method: str, path: str) -> Response | None:
        with self._lock:
            for failure in self._failures:
                if failure.pattern.search(path) and (failure.method is None or failure.method == method):
                    failure.times -= 1
                    if failure.times <= 0:
                        self._failures.remove(failure)
                    break
            else:
                return None
        body = failure.body
        if body is None:
            return Response(b"", status_code=failure.status, headers=failure.headers)
        if isinstance(body, dict | list):
            return JSONResponse(body, status_code=failure.status, headers=failure.headers)
        if isinstance(body, str):
            return Response(
                body, status_code=failure.status, headers=failure.headers, media_type="text/plain"
            )
        return Response(bytes(body), status_code=failure.status, headers=failure.headers)

    async def _route(self, request: Request, path: str, body: bytes) -> Response:
        method = request.method

        def only(verb: str, handler: Callable[[], Any]) -> Any:
            if method != verb:
                return Response("Method Not Allowed", status_code=405, headers={"Allow": verb})
            return handler()

        if path == "/authorize":
            if method == "POST" and self.consent_screen:
                return self._cloud_authorize(request, authorize_params(request, body))
            return only("GET", lambda: self._cloud_authorize(request, authorize_params(request, body)))
        if path == "/oauth/token":
            return only("POST", lambda: self._cloud_token(request, body))
        if path == "/oauth/token/accessible-resources":
            return only("GET", lambda: self._accessible_resources(request))
        if path in {"/app/report-accounts/", "/app/report-accounts"}:
            return only("POST", lambda: self._report_accounts(request, body))
        cloud = re.fullmatch(r"/ex/jira/([^/]+)/rest/api/3(/.*)?", path)
        if cloud:
            return await self._cloud_rest(request, body, cloud.group(1), cloud.group(2) or "")
        with self._lock:
            contexts = sorted(self._dcs, key=len, reverse=True)
        for ctx in contexts:
            if path == ctx or path.startswith(ctx + "/"):
                return await self._dc_route(request, body, self._dcs[ctx], path[len(ctx) :])
        return Response("Not Found", status_code=404, media_type="text/plain")

    # ================================================================= Cloud OAuth 2.0 (3LO)

    def _cloud_authorize(self, request: Request, q: dict[str, str]) -> Response:
        problems: list[str] = []
        with self._lock:
            app = self._cloud_apps.get(q.get("client_id", ""))
        if q.get("audience") != "api.atlassian.com":
            problems.append("audience must be api.atlassian.com")
        if app is None:
            problems.append("unknown client_id")
        elif q.get("redirect_uri") not in app.redirect_uris:
            problems.append("redirect_uri is not a registered callback URL")
        if q.get("response_type") != "code":
            problems.append("response_type must be code")
        if not q.get("state"):
            problems.append("state is required")
        scopes = (q.get("scope") or "").split()
        if not scopes:
            problems.append("scope is required")
        for scope in scopes:
            if not is_known_scope(scope):
                problems.append(f"unknown scope {scope}")
            elif (
                app is not None
                and app.scopes is not None
                and scope != "offline_access"
                and scope not in app.scopes
            ):
                problems.append(f"scope {scope} is not configured for this app")
        if problems:
            return _html(400, "Something went wrong", "; ".join(problems))
        assert app is not None
        user = self._browser_user(request)
        if user is None:
            return _html(200, "Log in to continue", "Log in to your Atlassian account to continue.")
        redirect_uri = q["redirect_uri"]
        if self.consent_screen and request.method == "GET":
            return consent_page(
                action=request.url.path,
                params=q,
                app_name=app.client_id,
                account=user.email,
                datacenter=False,
            )
        if self.deny_consent or (self.consent_screen and not accepted(q)):
            return RedirectResponse(
                _with_query(
                    redirect_uri,
                    {
                        "error": "access_denied",
                        "error_description": "The user did not authorize the request",
                        "state": q["state"],
                    },
                ),
                status_code=302,
            )
        with self._lock:
            names = self.consent_sites
            sites = [
                s
                for s in self._sites.values()
                if s.ident in user.sites and (names is None or s.name in names or s.cloud_id in names)
            ]
            self._grants.setdefault((app.client_id, user.account_id), set()).update(s.cloud_id for s in sites)
            code = AuthCode(
                code=secrets.token_urlsafe(24),
                kind="cloud",
                client_id=app.client_id,
                redirect_uri=redirect_uri,
                account_id=user.account_id,
                scopes=frozenset(scopes),
                expires_at=self.now() + self.code_ttl,
            )
            self._codes[code.code] = code
        return RedirectResponse(
            _with_query(redirect_uri, {"code": code.code, "state": q["state"]}), status_code=302
        )

    def _record_grant(
        self, kind: str, grant_type: str, client_id: str, account_id: str | None, response: JSONResponse
    ) -> JSONResponse:
        error = None
        if response.status_code != 200:
            error = json.loads(bytes(response.body)).get("error")
        with self._lock:
            self._token_grants.append(
                TokenGrant(kind, grant_type, client_id, account_id, response.status_code, error, self.now())
            )
        return response

    def _issue_cloud_tokens(self, client_id: str, account_id: str, scopes: frozenset[str]) -> dict[str, Any]:
        with self._lock:
            access = AccessToken(
                token=secrets.token_urlsafe(32),
                kind="cloud",
                client_id=client_id,
                account_id=account_id,
                scopes=scopes,
                expires_at=self.now() + self.access_token_ttl,
            )
            self._access[access.token] = access
            result: dict[str, Any] = {
                "access_token": access.token,
                "expires_in": self.access_token_ttl,
                "token_type": "Bearer",
                "scope": " ".join(sorted(scopes)),
            }
            if "offline_access" in scopes:
                refresh = RefreshToken(
                    token=secrets.token_urlsafe(32),
                    kind="cloud",
                    client_id=client_id,
                    account_id=account_id,
                    scopes=scopes,
                    issued_at=self.now(),
                )
                self._refresh[refresh.token] = refresh
                result["refresh_token"] = refresh.token
            return result

    def _cloud_token(self, request: Request, body: bytes) -> JSONResponse:
        if "application/json" not in request.headers.get("content-type", "").lower():
            return self._record_grant(
                "cloud",
                "",
                "",
                None,
                _oauth_error(
                    415,
                    "invalid_request",
                    "Unsupported Media Type: the request body must be application/json",
                ),
            )
        try:
            data = json.loads(body or b"null")
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return self._record_grant(
                "cloud",
                "",
                "",
                None,
                _oauth_error(400, "invalid_request", "The request body must be a JSON object"),
            )
        grant_type = str(data.get("grant_type") or "")
        client_id = str(data.get("client_id") or "")

        def fail(status: int, error: str, description: str, account: str | None = None) -> JSONResponse:
            return self._record_grant(
                "cloud", grant_type, client_id, account, _oauth_error(status, error, description)
            )

        if grant_type not in {"authorization_code", "refresh_token"}:
            return fail(
                400, "unsupported_grant_type", f"Grant type '{grant_type}' not allowed for the client."
            )
        with self._lock:
            app = self._cloud_apps.get(client_id)
        secret = data.get("client_secret")
        if app is None or not isinstance(secret, str) or not hmac.compare_digest(secret, app.client_secret):
            return fail(401, "access_denied", "Unauthorized")

        if grant_type == "authorization_code":
            for name in ("code", "redirect_uri"):
                if not data.get(name):
                    return fail(400, "invalid_request", f"Missing required parameter: {name}")
            with self._lock:
                code = self._codes.get(str(data["code"]))
                if (
                    code is None
                    or code.used
                    or code.kind != "cloud"
                    or code.expires_at <= self.now()
                    or code.client_id != client_id
                ):
                    return fail(403, "invalid_grant", "Invalid authorization code")
                if data["redirect_uri"] != code.redirect_uri:
                    return fail(
                        403,
                        "invalid_grant",
                        "The redirect_uri MUST match the registered callback URL for this application.",
                        code.account_id,
                    )
                code.used = True
                result = self._issue_cloud_tokens(client_id, code.account_id, code.scopes)
            return self._record_grant("cloud", grant_type, client_id, code.account_id, JSONResponse(result))

        token = data.get("refresh_token")
        if not token:
            return fail(400, "invalid_request", "Missing required parameter: refresh_token")
        with self._lock:
            refresh = self._refresh.get(str(token))
            now = self.now()
            if (
                refresh is None
                or refresh.kind != "cloud"
                or refresh.revoked
                or refresh.client_id != client_id
                or (refresh.rotated_at is not None and now - refresh.rotated_at > self.refresh_reuse_leeway)
                or now - refresh.issued_at > self.refresh_inactivity
                or refresh.account_id not in self._users
            ):
                return fail(403, "invalid_grant", UNKNOWN_REFRESH, refresh.account_id if refresh else None)
            if refresh.rotated_at is None:
                refresh.rotated_at = now
            result = self._issue_cloud_tokens(client_id, refresh.account_id, refresh.scopes)
        return self._record_grant("cloud", grant_type, client_id, refresh.account_id, JSONResponse(result))

    def _accessible_resources(self, request: Request) -> Response:
        access = self._valid_access(request, "cloud")
        if access is None:
            return JSONResponse({"code": 401, "message": "Unauthorized"}, status_code=401)
        with self._lock:
            user = self._users[access.account_id]
            granted = self._grants.get((access.client_id, access.account_id), set())
            sites = [s for s in self._sites.values() if s.cloud_id in granted and s.ident in user.sites]
        scopes = sorted(s for s in access.scopes if s != "offline_access")
        return JSONResponse(
            [
                {"id": s.cloud_id, "url": s.url, "name": s.name, "scopes": scopes, "avatarUrl": s.avatar_url}
                for s in sites
            ]
        )

    async def _cloud_rest(self, request: Request, body: bytes, cloud_id: str, rest: str) -> Response:
        access = self._valid_access(request, "cloud")
        unauthorized = JSONResponse({"code": 401, "message": "Unauthorized"}, status_code=401)
        if access is None:
            return unauthorized
        with self._lock:
            site = next((s for s in self._sites.values() if s.cloud_id == cloud_id), None)
            if site is None:
                return JSONResponse({"code": 404, "message": "Not Found"}, status_code=404)
            user = self._users[access.account_id]
            granted = self._grants.get((access.client_id, access.account_id), set())
            if site.cloud_id not in granted or site.ident not in user.sites:
                return unauthorized
        api = f"{self._public_base(request)}/ex/jira/{cloud_id}/rest/api/3"
        call = RestCall("cloud", site, user, access.scopes, api, request, body)
        return await self._jira_rest(call, rest)

    # ================================================================= personal data reporting

    def _report_accounts(self, request: Request, body: bytes) -> Response:
        access = self._valid_access(request, "cloud")
        if access is None:
            return JSONResponse({"code": 401, "message": "Unauthorized"}, status_code=401)
        if "application/json" not in request.headers.get("content-type", "").lower():
            return JSONResponse({"code": 415, "message": "Unsupported Media Type"}, status_code=415)
        try:
            data = json.loads(body or b"null")
        except ValueError:
            data = None
        accounts = data.get("accounts") if isinstance(data, dict) else None
        if not isinstance(accounts, list) or not 1 <= len(accounts) <= 90:
            return JSONResponse(
                {"code": 400, "message": "'accounts' must list between 1 and 90 accounts"}, status_code=400
            )
        answers: list[dict[str, str]] = []
        with self._lock:
            for entry in accounts:
                if not (
                    isinstance(entry, dict)
                    and isinstance(entry.get("accountId"), str)
                    and isinstance(entry.get("updatedAt"), str)
                ):
                    return JSONResponse(
                        {"code": 400, "message": f"invalid account entry {entry!r}"}, status_code=400
                    )
                try:
                    stamp = dt.datetime.fromisoformat(entry["updatedAt"].replace("Z", "+00:00"))
                except ValueError:
                    return JSONResponse(
                        {"code": 400, "message": f"invalid updatedAt {entry['updatedAt']!r}"}, status_code=400
                    )
                if stamp.tzinfo is None:
                    stamp = stamp.replace(tzinfo=dt.UTC)
                account = entry["accountId"]
                if account in self._closed:
                    answers.append({"accountId": account, "status": "closed"})
                elif account in self._updated and stamp.timestamp() < self._updated[account]:
                    answers.append({"accountId": account, "status": "updated"})
            self._report_batches.append(copy.deepcopy(accounts))
            headers = {"Cycle-Period": self.report_cycle_period} if self.report_cycle_period else {}
        if not answers:
            return Response(status_code=204, headers=headers)
        return JSONResponse({"accounts": answers}, headers=headers)

    # ================================================================= Data Center

    async def _dc_route(self, request: Request, body: bytes, dc: DataCenter, rest: str) -> Response:
        method = request.method
        if rest == "/rest/oauth2/latest/authorize":
            if method != "GET" and not (method == "POST" and self.consent_screen):
                return Response("Method Not Allowed", status_code=405)
            return self._dc_authorize(request, dc, authorize_params(request, body))
        if rest == "/rest/oauth2/latest/token":
            if method != "POST":
                return Response("Method Not Allowed", status_code=405)
            return self._dc_token(request, body, dc)
        api = re.fullmatch(r"/rest/api/(2|latest)(/.*)?", rest)
        if api:
            access = self._valid_access(request, "dc", dc.context_path)
            with self._lock:
                user = self._users.get(access.account_id) if access else None
            if access is None or user is None or dc.ident not in user.sites:
                return JSONResponse(
                    {
                        "errorMessages": [
                            "You are not authenticated. Authentication required to perform this operation."
                        ],
                        "errors": {},
                    },
                    status_code=401,
                    headers={"WWW-Authenticate": 'Bearer realm="Jira"'},
                )
            base = f"{self._public_base(request)}{dc.context_path}/rest/api/{api.group(1)}"
            call = RestCall("dc", dc, user, access.scopes, base, request, body)
            return await self._jira_rest(call, api.group(2) or "")
        if rest == "/rest/webhooks/1.0/webhook" or rest.startswith("/rest/webhooks/1.0/webhook/"):
            return await self._dc_webhooks_route(request, body, dc, rest)
        return Response("Not Found", status_code=404, media_type="text/plain")

    def _dc_authorize(self, request: Request, dc: DataCenter, q: dict[str, str]) -> Response:
        problems: list[str] = []
        with self._lock:
            app = dc.apps.get(q.get("client_id", ""))
        if app is None:
            problems.append("unknown client_id")
        elif q.get("redirect_uri") != app.redirect_uri:
            problems.append("redirect_uri does not match the application link")
        if q.get("response_type") != "code":
            problems.append("response_type must be code")
        if not q.get("state"):
            problems.append("state is required")
        scopes = (q.get("scope") or "").split()
        if not scopes or any(s not in DC_SCOPES for s in scopes):
            problems.append(f"scope must be among {', '.join(DC_SCOPES)}")
        challenge = q.get("code_challenge") or ""
        if not _PKCE.match(challenge):
            problems.append("code_challenge is required (PKCE)")
        if q.get("code_challenge_method") != "S256":
            problems.append("code_challenge_method must be S256")
        if problems:
            return _html(400, "OAuth 2.0 authorization failed", "; ".join(problems))
        assert app is not None
        user = self._browser_user(request)
        if user is None:
            return _html(200, "Log in", "Log in to Jira to continue.")
        if dc.ident not in user.sites:
            return _html(403, "Access denied", "You do not have access to this Jira instance.")
        redirect_uri = q["redirect_uri"]
        if self.consent_screen and request.method == "GET":
            return consent_page(
                action=request.url.path,
                params=q,
                app_name=app.client_id,
                account=user.email,
                datacenter=True,
            )
        if self.deny_consent or (self.consent_screen and not accepted(q)):
            return RedirectResponse(
                _with_query(
                    redirect_uri,
                    {
                        "error": "access_denied",
                        "error_description": "The resource owner denied the request.",
                        "state": q["state"],
                    },
                ),
                status_code=302,
            )
        with self._lock:
            code = AuthCode(
                code=secrets.token_hex(16),
                kind="dc",
                client_id=app.client_id,
                redirect_uri=redirect_uri,
                account_id=user.account_id,
                scopes=frozenset(scopes),
                expires_at=self.now() + self.code_ttl,
                context_path=dc.context_path,
                code_challenge=challenge,
            )
            self._codes[code.code] = code
        return RedirectResponse(
            _with_query(redirect_uri, {"code": code.code, "state": q["state"]}), status_code=302
        )

    def _issue_dc_tokens(
        self, ctx: str, client_id: str, account_id: str, scopes: frozenset[str]
    ) -> dict[str, Any]:
        with self._lock:
            access = AccessToken(
                token=secrets.token_hex(32),
                kind="dc",
                client_id=client_id,
                account_id=account_id,
                scopes=scopes,
                expires_at=self.now() + self.access_token_ttl,
                context_path=ctx,
            )
            refresh = RefreshToken(
                token=secrets.token_hex(32),
                kind="dc",
                client_id=client_id,
                account_id=account_id,
                scopes=scopes,
                issued_at=self.now(),
                context_path=ctx,
            )
            self._access[access.token] = access
            self._refresh[refresh.token] = refresh
            return {
                "access_token": access.token,
                "refresh_token": refresh.token,
                "expires_in": self.access_token_ttl,
                "token_type": "bearer",
                "scope": " ".join(sorted(scopes)),
            }

    def _dc_token(self, request: Request, body: bytes, dc: DataCenter) -> JSONResponse:
        if "application/x-www-form-urlencoded" not in request.headers.get("content-type", "").lower():
            return self._record_grant(
                "dc",
                "",
                "",
                None,
                _oauth_error(400, "invalid_request", "The request must be application/x-www-form-urlencoded"),
            )
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        grant_type = form.get("grant_type", "")
        client_id = form.get("client_id", "")

        def fail(status: int, error: str, description: str, account: str | None = None) -> JSONResponse:
            return self._record_grant(
                "dc", grant_type, client_id, account, _oauth_error(status, error, description)
            )

        if grant_type not in {"authorization_code", "refresh_token"}:
            return fail(400, "unsupported_grant_type", f"Unsupported grant type: {grant_type or '(none)'}")
        with self._lock:
            app = dc.apps.get(client_id)
        secret = form.get("client_secret", "")
        if app is None or not secret or not hmac.compare_digest(secret, app.client_secret):
            return fail(401, "invalid_client", "Client authentication failed")
        needed = (
            ("code", "redirect_uri", "code_verifier")
            if grant_type == "authorization_code"
            else ("refresh_token", "redirect_uri")
        )
        for name in needed:
            if not form.get(name):
                return fail(400, "invalid_request", f"Missing required parameter: {name}")
        if form["redirect_uri"] != app.redirect_uri:
            return fail(400, "invalid_grant", "redirect_uri does not match the one registered for the client")

        if grant_type == "authorization_code":
            with self._lock:
                code = self._codes.get(form["code"])
                if (
                    code is None
                    or code.used
                    or code.kind != "dc"
                    or code.context_path != dc.context_path
                    or code.client_id != client_id
                    or code.expires_at <= self.now()
                ):
                    return fail(400, "invalid_grant", "Invalid or expired authorization code")
                if form["redirect_uri"] != code.redirect_uri:
                    return fail(
                        400,
                        "invalid_grant",
                        "redirect_uri does not match the authorization request",
                        code.account_id,
                    )
                verifier = form["code_verifier"]
                if not _PKCE.match(verifier) or not hmac.compare_digest(
                    pkce_challenge(verifier), code.code_challenge
                ):
                    return fail(
                        400,
                        "invalid_grant",
                        "PKCE verification failed: code_verifier does not match",
                        code.account_id,
                    )
                code.used = True
                result = self._issue_dc_tokens(dc.context_path, client_id, code.account_id, code.scopes)
            return self._record_grant("dc", grant_type, client_id, code.account_id, JSONResponse(result))

        with self._lock:
            refresh = self._refresh.get(form["refresh_token"])
            now = self.now()
            if (
                refresh is None
                or refresh.kind != "dc"
                or refresh.context_path != dc.context_path
                or refresh.revoked
                or refresh.rotated_at is not None
                or refresh.client_id != client_id
                or now - refresh.issued_at > self.dc_refresh_ttl
                or refresh.account_id not in self._users
            ):
                return fail(
                    400, "invalid_grant", "Invalid refresh token", refresh.account_id if refresh else None
                )
            refresh.rotated_at = now
            result = self._issue_dc_tokens(dc.context_path, client_id, refresh.account_id, refresh.scopes)
        return self._record_grant("dc", grant_type, client_id, refresh.account_id, JSONResponse(result))


def serve(clock: Callable[[], float] = time.time) -> tuple[AtlassianEmulator, LiveServer]:
    """Start an emulator on a LiveServer; returns ``(emu, live)`` with ``emu.base_url`` set."""
    emu = AtlassianEmulator(clock=clock).start()
    assert emu.live is not None
    return emu, emu.live
