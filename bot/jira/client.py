"""A thin Jira REST client: one method per endpoint, parsed results, typed errors.

Jira Cloud: `{ATLASSIAN_API_URL}/ex/jira/{cloudId}/rest/api/3/…` (descriptions in ADF).
Jira Data Center: `{base}/rest/api/2/…` (descriptions in wiki markup).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from bot.jira.errors import JiraNotFound
from bot.jira.http import RetryPolicy, send
from bot.jira.issues import CARD_FIELDS, Comment, FieldMeta, IssueSnapshot, Transition, Visibility, Watchers
from bot.jira.picker import IssuePicks

__all__ = [
    "BearerAuth",
    "Comment",
    "CreatedIssue",
    "FieldMeta",
    "IssueSnapshot",
    "IssueType",
    "JiraClient",
    "JiraUser",
    "Project",
    "RemoteLinkSaved",
    "TokenAuth",
    "Transition",
    "Visibility",
    "Watchers",
]


class TokenAuth(httpx.Auth):
    """Bearer auth that asks for a fresh token once when Jira answers 401."""

    def __init__(self, token: Callable[[], Awaitable[str]], refreshed: Callable[[], Awaitable[str]]):
        self._token = token
        self._refreshed = refreshed

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        request.headers["Authorization"] = f"Bearer {await self._token()}"
        response = yield request
        if response.status_code == 401:
            await response.aread()
            request.headers["Authorization"] = f"Bearer {await self._refreshed()}"
            yield request


class BearerAuth(httpx.Auth):
    """A fixed access token (used once, right after an authorization)."""

    def __init__(self, access_token: str) -> None:
        self._token = access_token

    def auth_flow(self, request: httpx.Request):  # type: ignore[no-untyped-def]
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


@dataclass(frozen=True)
class JiraUser:
    account_id: str
    display_name: str | None
    email: str | None
    name: str | None = None  # Data Center username (what its REST API names people by)


@dataclass(frozen=True)
class Project:
    id: str
    key: str
    name: str


@dataclass(frozen=True)
class IssueType:
    id: str
    name: str
    subtask: bool = False


@dataclass(frozen=True)
class RemoteLinkSaved:
    id: str
    created: bool  # False: an existing link with the same global id was updated


@dataclass(frozen=True)
class CreatedIssue:
    id: str
    key: str


@dataclass(frozen=True)
class FoundIssue:
    """An issue from a search: its id, key and summary (the fields a search asks for)."""

    id: str
    key: str
    summary: str


class JiraClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_base: str,
        cloud: bool,
        auth: httpx.Auth,
        policy: RetryPolicy | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._http = http
        self._base = api_base.rstrip("/")
        self.cloud = cloud
        self._auth = auth
        self._policy = policy or RetryPolicy()
        self._timeout = timeout

    @staticmethod
    def api_base_for(*, cloud: bool, api_url: str, cloud_id: str | None, site_url: str) -> str:
        if cloud:
            return f"{api_url.rstrip('/')}/ex/jira/{cloud_id}/rest/api/3"
        return f"{site_url.rstrip('/')}/rest/api/2"

    async def _get(self, path: str, **params: Any) -> Any:
        response = await send(
            self._http,
            "GET",
            f"{self._base}/{path}",
            policy=self._policy,
            auth=self._auth,
            params={k: v for k, v in params.items() if v is not None},
            headers={"Accept": "application/json"},
            timeout=self._timeout,
        )
        return response.json()

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        idempotent: bool | None = None,
    ) -> Any:
        """Any REST call under this client's API base (for endpoint groups kept in their own modules,
        such as `bot.jira.webhook_api`); an absolute URL on the same site works too. The parsed JSON, or
        None for an empty answer."""
        response = await send(
            self._http,
            method,
            path if path.startswith(("https://", "http://")) else f"{self._base}/{path}",
            policy=self._policy,
            auth=self._auth,
            idempotent=idempotent,
            params={k: v for k, v in (params or {}).items() if v is not None},
            json=json,
            headers={"Accept": "application/json"},
            timeout=self._timeout,
        )
        return response.json() if response.content else None

    @property
    def api_base(self) -> str:
        return self._base

    async def myself(self) -> JiraUser:
        data = await self._get("myself")
        account_id = data.get("accountId") or data.get("key") or data.get("name")
        return JiraUser(
            account_id=str(account_id),
            display_name=data.get("displayName"),
            email=data.get("emailAddress"),
            name=data.get("name"),
        )

    async def creatable_projects(self, query: str = "", limit: int = 50) -> list[Project]:
        """Projects the user may create issues in, matching `query` (key or name)."""
        if self.cloud:
            data = await self._get(
                "project/search", action="create", query=query or None, maxResults=limit, orderBy="name"
            )
            values = data.get("values", [])
        else:
            values = await self._get("project")
            needle = query.strip().lower()
            if needle:
                values = [
                    p
                    for p in values
                    if needle in str(p.get("key", "")).lower() or needle in str(p.get("name", "")).lower()
                ]
            values = values[:limit]
        return [
            Project(id=str(p["id"]), key=str(p["key"]), name=str(p.get("name") or p["key"]))
            for p in values
            if isinstance(p, dict) and p.get("key")
        ]

    async def project(self, key: str) -> Project:
        data = await self._get(f"project/{key}")
        return Project(id=str(data["id"]), key=str(data["key"]), name=str(data.get("name") or data["key"]))

    async def issue_types(self, project_key: str) -> list[IssueType]:
        items = await self._paged(f"issue/createmeta/{project_key}/issuetypes", ("issueTypes", "values"))
        return [
            IssueType(id=str(t["id"]), name=str(t.get("name") or t["id"]), subtask=bool(t.get("subtask")))
            for t in items
        ]

    async def fields(self, project_key: str, issue_type_id: str) -> list[FieldMeta]:
        items = await self._paged(
            f"issue/createmeta/{project_key}/issuetypes/{issue_type_id}", ("fields", "values")
        )
        return [FieldMeta.parse(f) for f in items]

    async def _paged(self, path: str, keys: tuple[str, ...], page_size: int = 50) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        start = 0
        while True:
            data = await self._get(path, startAt=start, maxResults=page_size)
            page = next((data[k] for k in keys if isinstance(data.get(k), list)), [])
            items.extend(p for p in page if isinstance(p, dict))
            start += len(page)
            total = data.get("total")
            if (
                not page
                or data.get("isLast", total is None) is True
                or (total is not None and start >= int(total))
            ):
                break
        return items

    async def create_issue(
        self, fields: dict[str, Any], properties: Mapping[str, Any] | None = None
    ) -> CreatedIssue:
        """Creates an issue; ``properties`` (issue entity properties) are set in the same request.
        Never resent unless Jira answered 429 (see bot.jira.http)."""
        body: dict[str, Any] = {"fields": fields}
        if properties:
            body["properties"] = [{"key": key, "value": value} for key, value in properties.items()]
        response = await send(
            self._http,
            "POST",
            f"{self._base}/issue",
            policy=self._policy,
            auth=self._auth,
            idempotent=False,
            json=body,
            headers={"Accept": "application/json"},
            timeout=self._timeout,
        )
        data = response.json()
        return CreatedIssue(id=str(data["id"]), key=str(data["key"]))

    async def issue(self, key: str) -> IssueSnapshot:
        """One issue as this user sees it (404 when it does not exist or they may not browse it)."""
        data = await self._get(f"issue/{_key(key)}", fields=",".join(CARD_FIELDS))
        return IssueSnapshot.parse(data)

    async def search_issues(self, jql: str, limit: int = 20) -> list[FoundIssue]:
        """The first ``limit`` issues a JQL search finds (Cloud: the enhanced `search/jql`; Data Center:
        `search`), with their summaries."""
        if self.cloud:
            response = await send(
                self._http,
                "POST",
                f"{self._base}/search/jql",
                policy=self._policy,
                auth=self._auth,
                idempotent=True,  # a read, sent as POST
                json={"jql": jql, "fields": ["summary"], "maxResults": limit},
                headers={"Accept": "application/json"},
                timeout=self._timeout,
            )
            data = response.json()
        else:
            data = await self._get("search", jql=jql, fields="summary", maxResults=limit)
        return [
            FoundIssue(
                id=str(item["id"]),
                key=str(item["key"]),
                summary=str((item.get("fields") or {}).get("summary") or ""),
            )
            for item in (data.get("issues") or [])[:limit]
            if isinstance(item, dict) and item.get("key") and item.get("id")
        ]

    async def issue_property(self, issue_key: str, property_key: str) -> Any | None:
        """The value of an issue's entity property; None when the issue has no such property."""
        try:
            data = await self._get(f"issue/{issue_key}/properties/{property_key}")
        except JiraNotFound:
            return None
        return data.get("value") if isinstance(data, dict) else None

    async def _write(self, method: str, path: str, body: Any, *, idempotent: bool) -> httpx.Response:
        return await send(
            self._http,
            method,
            f"{self._base}/{path}",
            policy=self._policy,
            auth=self._auth,
            idempotent=idempotent,
            json=body,
            headers={"Accept": "application/json"},
            timeout=self._timeout,
        )

    async def transitions(self, key: str) -> list[Transition]:
        """The transitions Jira offers this user on the issue now, with their screens' fields."""
        data = await self._get(f"issue/{_key(key)}/transitions", expand="transitions.fields")
        return [Transition.parse(t) for t in data.get("transitions") or [] if isinstance(t, dict)]

    async def transition(self, key: str, transition_id: str, fields: dict[str, Any] | None = None) -> None:
        """Run a transition; `fields` are its screen's values in Jira's REST shapes."""
        body: dict[str, Any] = {"transition": {"id": str(transition_id)}}
        if fields:
            body["fields"] = fields
        await self._write("POST", f"issue/{_key(key)}/transitions", body, idempotent=False)

    async def assign(self, key: str, account: str | None) -> None:
        """Assign to `account` (Cloud accountId, Data Center username); None unassigns."""
        body = {"accountId": account} if self.cloud else {"name": account}
        await self._write("PUT", f"issue/{_key(key)}/assignee", body, idempotent=True)

    async def watch(self, key: str, account: str) -> None:
        """Add `account` (Cloud accountId, Data Center username) to the issue's watchers."""
        await self._write("POST", f"issue/{_key(key)}/watchers", account, idempotent=True)

    async def watchers(self, key: str) -> Watchers:
        return Watchers.parse(await self._get(f"issue/{_key(key)}/watchers"))

    async def add_comment(self, key: str, body: Any, visibility: Visibility | None = None) -> str:
        """Add a comment (ADF on Cloud, wiki markup on Data Center); returns its id."""
        payload: dict[str, Any] = {"body": body}
        if visibility is not None:
            payload["visibility"] = visibility.as_json()
        response = await self._write("POST", f"issue/{_key(key)}/comment", payload, idempotent=False)
        return str(response.json()["id"])

    async def comment(self, key: str, comment_id: str) -> Comment:
        """One comment, as this user may see it (404 when its visibility leaves them out)."""
        return Comment.parse(await self._get(f"issue/{_key(key)}/comment/{_key(comment_id)}"))

    async def pick_issues(self, query: str, *, project_id: str | None = None) -> IssuePicks:
        """Jira's issue picker: the user's recent issues matching ``query`` (all of them when it is
        empty), and issues whose text matches it."""
        data = await self._get("issue/picker", query=query, currentProjectId=project_id)
        return IssuePicks.parse(data)

    async def add_remote_link(self, key: str, *, global_id: str, url: str, title: str,
                              application: str = "Slack") -> RemoteLinkSaved:
        """Creates, or updates in place, the issue's remote link with ``global_id`` (so sending it
        again never makes two: safe to resend)."""
        body = {
            "globalId": global_id[:255],
            "application": {"type": "com.slack", "name": application},
            "relationship": "mentioned in",
            "object": {"url": url, "title": title[:255]},
        }
        response = await self._write("POST", f"issue/{_key(key)}/remotelink", body, idempotent=True)
        data = response.json()
        return RemoteLinkSaved(id=str(data.get("id") or ""), created=response.status_code == 201)

    async def search_users(self, query: str, limit: int = 20) -> list[JiraUser]:
        params = (
            {"query": query, "maxResults": limit} if self.cloud else {"username": query, "maxResults": limit}
        )
        data = await self._get("user/search", **params)
        return [
            JiraUser(
                account_id=str(u.get("accountId") or u.get("name")),
                display_name=u.get("displayName"),
                email=u.get("emailAddress"),
            )
            for u in data
            if isinstance(u, dict)
        ]


def _key(value: str) -> str:
    """An issue key or id as one path segment."""
    return quote(str(value), safe="")
