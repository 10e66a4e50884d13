"""Jira REST resources of the Atlassian emulator: Cloud v3 (behind the API gateway) and DC v2.

Mixed into ``AtlassianEmulator``; everything touching shared state holds ``self._lock``.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.emulators.atlassian_model import (
    IssueType,
    Project,
    StoredIssue,
    User,
)
from tests.emulators.atlassian_search import JiraSearchMixin
from tests.emulators.atlassian_specs import adf_errors, issue_update_errors

AVATAR_SIZES = ("48x48", "24x24", "16x16", "32x32")
RICH_TEXT_SYSTEM_FIELDS = {"description", "environment"}
NOT_ON_SCREEN = "Field '{f}' cannot be set. It is not on the appropriate screen, or unknown."
INVALID_PAYLOAD = "Invalid request payload. Refer to the REST API documentation and try again."
ADF_REQUIRED = "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# Classic scope, or the full set of granular scopes, that each Cloud operation needs.
CLOUD_SCOPES: dict[str, tuple[str, frozenset[str]]] = {
    "myself": (
        "read:jira-user",
        frozenset({"read:application-role:jira", "read:group:jira", "read:user:jira", "read:avatar:jira"}),
    ),
    "user": ("read:jira-user", frozenset({"read:user:jira"})),
    "project": ("read:jira-work", frozenset({"read:project:jira"})),
    "createmeta": (
        "read:jira-work",
        frozenset({"read:issue-meta:jira", "read:avatar:jira", "read:field-configuration:jira"}),
    ),
    "issue.read": (
        "read:jira-work",
        frozenset(
            {"read:issue-meta:jira", "read:issue:jira", "read:user:jira", "read:field-configuration:jira"}
        ),
    ),
    "issue.write": ("write:jira-work", frozenset({"write:issue:jira"})),
    "permissions": ("read:jira-work", frozenset({"read:permission:jira"})),
    "issue.property": ("read:jira-work", frozenset({"read:issue.property:jira"})),
    "search": (
        "read:jira-work",
        frozenset({"read:issue-details:jira", "read:field-configuration:jira", "read:issue-meta:jira"}),
    ),
}
DC_SCOPE_LEVEL = {"READ": 1, "WRITE": 2, "ADMIN": 3, "SYSTEM_ADMIN": 4}


@dataclass
class RestCall:
    flavor: str  # "cloud" | "dc"
    site: Any  # CloudSite | DataCenter
    user: User
    scopes: frozenset[str]
    api: str  # absolute prefix for `self` links, e.g. http://host/ex/jira/<id>/rest/api/3
    request: Request
    body: bytes

    @property
    def cloud(self) -> bool:
        return self.flavor == "cloud"


def jira_error(
    status: int, messages: list[str] | None = None, errors: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"errorMessages": messages or [], "errors": errors or {}}, status_code=status)


def _int_param(request: Request, name: str, default: int) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        return None


def _avatars(base: str, kind: str, ident: str) -> dict[str, str]:
    sizes = {"48x48": "large", "24x24": "small", "16x16": "xsmall", "32x32": "medium"}
    return {
        size: f"{base}/secure/{kind}avatar?size={label}&{kind[0]}id={ident}" for size, label in sizes.items()
    }


def _fmt_time(epoch: float) -> str:
    stamp = dt.datetime.fromtimestamp(epoch, tz=dt.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}+0000"


class JiraRestMixin(JiraSearchMixin):
    """REST v2/v3 resources; expects the attributes that AtlassianEmulator defines."""

    _lock: threading.RLock
    _users: dict[str, User]
    _issues: list[StoredIssue]
    _issue_ids: Iterator[int]

    def now(self) -> float:
        raise NotImplementedError

    def _public_base(self, request: Request) -> str:
        raise NotImplementedError

    def _issue_action_routes(self) -> list[tuple[str, str, str, Any]]:
        return []  # tests/emulators/atlassian_issues.py

    def _webhook_routes(self) -> list[tuple[str, str, str, Any]]:
        return []  # tests/emulators/atlassian_webhooks.py

    def _before_rest(self, call: RestCall, method: str, path: str) -> Any:
        return None  # tests/emulators/atlassian_webhooks.py: what a change started from

    def _after_rest(self, call: RestCall, method: str, path: str, before: Any, response: Response) -> None:
        return None  # tests/emulators/atlassian_webhooks.py: the webhook deliveries of a change

    def _visible_issue(self, call: RestCall, ref: str) -> Any:
        raise NotImplementedError

    def _card_fields(self, call: RestCall, issue: StoredIssue, state: Any, fields: dict[str, Any]) -> None:
        raise NotImplementedError

    def _only_requested(self, call: RestCall, fields: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    # -- dispatch ---------------------------------------------------------------------------------

    async def _extra_rest(self, call: RestCall, path: str) -> Response | None:
        """Resources that other mixins (listed before this one) serve; None: not theirs."""
        return None

    async def _jira_rest(self, call: RestCall, rest: str) -> Response:
        method = call.request.method
        parts = [p for p in rest.split("/") if p]
        routes: list[tuple[str, str, str, Any]] = [
            ("GET", r"myself", "myself", self._rest_myself),
            ("GET", r"serverInfo", "", self._rest_server_info),
            ("GET", r"project/search", "project", self._rest_project_search),
            ("GET", r"project", "project", self._rest_project_list),
            ("GET", r"project/(?P<p>[^/]+)", "project", self._rest_project_get),
            ("GET", r"issue/createmeta/(?P<p>[^/]+)/issuetypes", "createmeta", self._rest_createmeta_types),
            (
                "GET",
                r"issue/createmeta/(?P<p>[^/]+)/issuetypes/(?P<t>[^/]+)",
                "createmeta",
                self._rest_createmeta_fields,
            ),
            ("POST", r"issue", "issue.write", self._rest_create_issue),
            ("GET", r"issue/(?P<i>[^/]+)", "issue.read", self._rest_get_issue),
            ("GET", r"issue/(?P<i>[^/]+)/properties/(?P<k>[^/]+)", "issue.property",
             self._rest_issue_property),
            ("POST", r"search/jql", "search", self._rest_search_jql),
            ("GET", r"search/jql", "search", self._rest_search_jql),
            ("GET", r"search", "search", self._rest_search_removed),
            ("POST", r"search", "search", self._rest_search_removed),
            ("GET", r"user/search", "user", self._rest_user_search),
            ("GET", r"user/picker", "user", self._rest_user_picker),
            ("GET", r"mypermissions", "permissions", self._rest_mypermissions),
            *self._issue_action_routes(),
            *self._webhook_routes(),
        ]
        path = "/".join(parts)
        extended = await self._extra_rest(call, path)
        if extended is not None:
            return extended
        matching = [r for r in routes if re.fullmatch(r[1], path)]
        if matching and not any(verb == method for verb, *_ in matching):
            return jira_error(405, [f"HTTP method {method} is not supported by this resource"])
        for verb, pattern, scope_key, handler in matching:
            match = re.fullmatch(pattern, path)
            if verb != method or not match:
                continue
            if pattern in {"project/search", "search/jql"} and not call.cloud:
                break  # Jira Data Center has neither
            if pattern == "search" and not call.cloud and method == "POST":
                break  # the emulated Data Center searches by GET only
            denied = self._scope_denied(call, scope_key, verb)
            if denied is not None:
                return denied
            before = self._before_rest(call, method, path)
            response = await handler(call, **match.groupdict())
            self._after_rest(call, method, path, before, response)
            return response
        return jira_error(404, [f"null for uri: {call.request.url}"])

    def _scope_denied(self, call: RestCall, scope_key: str, verb: str) -> Response | None:
        if not scope_key:
            return None
        if call.cloud:
            classic, granular = CLOUD_SCOPES[scope_key]
            if classic in call.scopes or granular <= call.scopes:
                return None
            return JSONResponse(
                {"code": 401, "message": "Unauthorized; scope does not match"}, status_code=401
            )
        level = max((DC_SCOPE_LEVEL.get(s, 0) for s in call.scopes), default=0)
        needed = 1 if verb == "GET" else 2
        if level >= needed:
            return None
        return jira_error(403, ["The access token's scope does not allow this operation."])

    # -- users ------------------------------------------------------------------------------------

    def _user_json(self, call: RestCall, user: User) -> dict[str, Any]:
        base = self._public_base(call.request)
        if call.cloud:
            return {
                "self": f"{call.api}/user?accountId={user.account_id}",
                "accountId": user.account_id,
                "accountType": "atlassian",
                "emailAddress": user.email,
                "avatarUrls": _avatars(base, "user", user.account_id),
                "displayName": user.display_name,
                "active": user.active,
                "timeZone": user.time_zone,
                "locale": "en_US",
            }
        return {
            "self": f"{call.api}/user?username={user.name}",
            "key": user.key,
            "name": user.name,
            "emailAddress": user.email,
            "avatarUrls": _avatars(base + call.site.context_path, "user", user.key),
            "displayName": user.display_name,
            "active": user.active,
            "deleted": False,
            "timeZone": user.time_zone,
            "locale": "en_US",
        }

    async def _rest_myself(self, call: RestCall) -> Response:
        data = self._user_json(call, call.user)
        if not call.cloud:
            data["groups"] = {"size": 1, "items": []}
            data["applicationRoles"] = {"size": 1, "items": []}
            data["expand"] = "groups,applicationRoles"
        return JSONResponse(data)

    async def _rest_server_info(self, call: RestCall) -> Response:
        base = self._public_base(call.request)
        if call.cloud:
            url, version, deployment = call.site.url, "1001.0.0-SNAPSHOT", "Cloud"
        else:
            url, version, deployment = base + call.site.context_path, call.site.version, "Server"
        numbers = [int(x) for x in version.split(".")[:3] if x.isdigit()]
        return JSONResponse(
            {
                "baseUrl": url,
                "version": version,
                "versionNumbers": numbers,
                "deploymentType": deployment,
                "buildNumber": 100000,
                "serverTitle": "Jira",
            }
        )

    def _site_users(self, site: Any) -> list[User]:
        with self._lock:
            return [u for u in self._users.values() if site.ident in u.sites]

    def _matches_user(self, user: User, query: str) -> bool:
        q = query.lower()
        names = [user.display_name, user.email, user.name]
        return any(
            n.lower().startswith(q) or any(w.startswith(q) for w in n.lower().split()) for n in names if n
        )

    async def _rest_user_search(self, call: RestCall) -> Response:
        params = call.request.query_params
        query = params.get("query") or params.get("username") or ""
        if call.cloud and not query and not params.get("accountId"):
            return jira_error(400, ["The query parameter 'query' or 'accountId' is required."])
        if params.get("accountId"):
            found = [u for u in self._site_users(call.site) if u.account_id == params["accountId"]]
        else:
            found = [u for u in self._site_users(call.site) if self._matches_user(u, query)]
        start = _int_param(call.request, "startAt", 0) or 0
        limit = _int_param(call.request, "maxResults", 50) or 50
        return JSONResponse([self._user_json(call, u) for u in found[start : start + limit]])

    async def _rest_user_picker(self, call: RestCall) -> Response:
        query = call.request.query_params.get("query")
        if query is None:
            return jira_error(400, ["The query parameter 'query' is required."])
        found = [u for u in self._site_users(call.site) if self._matches_user(u, query)]
        limit = _int_param(call.request, "maxResults", 50) or 50
        users = []
        for u in found[:limit]:
            entry: dict[str, Any] = {"displayName": u.display_name, "html": f"{u.display_name} - {u.email}"}
            if call.cloud:
                entry.update(accountId=u.account_id, accountType="atlassian")
            else:
                entry.update(name=u.name, key=u.key)
            users.append(entry)
        return JSONResponse(
            {
                "users": users,
                "total": len(found),
                "header": f"Showing {len(users)} of {len(found)} matching users",
            }
        )

    def _find_user_ref(self, call: RestCall, ref: Any) -> User | None:
        if not isinstance(ref, dict):
            return None
        for user in self._site_users(call.site):
            if call.cloud:
                wanted = ref.get("accountId", ref.get("id"))
                if wanted is not None and wanted == user.account_id:
                    return user
            else:
                if "name" in ref and ref["name"] == user.name:
                    return user
                if "key" in ref and ref["key"] == user.key:
                    return user
        return None

    # -- projects ---------------------------------------------------------------------------------

    def _visible_projects(self, call: RestCall) -> list[Project]:
        with self._lock:
            projects = list(call.site.projects.values())
        return [p for p in projects if p.visible_to is None or call.user.account_id in p.visible_to]

    def _can_create(self, project: Project, user: User) -> bool:
        visible = project.visible_to is None or user.account_id in project.visible_to
        return visible and (project.creatable_by is None or user.account_id in project.creatable_by)

    def _find_project(self, call: RestCall, ref: str) -> Project | None:
        for project in self._visible_projects(call):
            if ref in (project.key, project.id):
                return project
        return None

    def _project_json(self, call: RestCall, project: Project) -> dict[str, Any]:
        base = self._public_base(call.request)
        if not call.cloud:
            base += call.site.context_path
        data: dict[str, Any] = {
            "expand": "description,lead,issueTypes,url,projectKeys,permissions,insight",
            "self": f"{call.api}/project/{project.id}",
            "id": project.id,
            "key": project.key,
            "name": project.name,
            "avatarUrls": _avatars(base, "project", project.id),
            "projectTypeKey": project.project_type_key,
        }
        if call.cloud:
            data.update(simplified=False, style="classic", isPrivate=False, properties={})
        else:
            data["archived"] = False
        return data

    async def _rest_project_list(self, call: RestCall) -> Response:
        projects = sorted(self._visible_projects(call), key=lambda p: p.key)
        return JSONResponse([self._project_json(call, p) for p in projects])

    async def _rest_project_get(self, call: RestCall, p: str) -> Response:
        project = self._find_project(call, p)
        if project is None:
            return jira_error(404, [f"No project could be found with key '{p}'."])
        data = self._project_json(call, project)
        data["issueTypes"] = [self._issue_type_json(call, t) for t in project.issue_types]
        return JSONResponse(data)

    async def _rest_project_search(self, call: RestCall) -> Response:
        params = call.request.query_params
        start = _int_param(call.request, "startAt", 0)
        limit = _int_param(call.request, "maxResults", 50)
        if start is None or limit is None or start < 0 or limit < 0:
            return jira_error(400, ["startAt and maxResults must be non-negative integers."])
        limit = min(limit, 100)
        action = params.get("action", "view")
        if action not in {"view", "browse", "edit", "create"}:
            return jira_error(400, [f"Invalid action '{action}'."])
        projects = self._visible_projects(call)
        if action == "create":
            projects = [p for p in projects if self._can_create(p, call.user)]
        query = (params.get("query") or "").lower()
        if query:
            projects = [p for p in projects if query in p.key.lower() or query in p.name.lower()]
        keys = params.getlist("keys")
        if keys:
            projects = [p for p in projects if p.key in keys]
        ids = params.getlist("id")
        if ids:
            projects = [p for p in projects if p.id in ids]
        order = params.get("orderBy", "key")
        reverse = order.startswith("-")
        field_name = order.lstrip("+-")
        sort_key = (lambda p: p.name.lower()) if field_name == "name" else (lambda p: p.key)
        projects = sorted(projects, key=sort_key, reverse=reverse)
        page = projects[start : start + limit]
        is_last = start + len(page) >= len(projects)

        def page_url(offset: int) -> str:
            query_items = [(k, v) for k, v in params.multi_items() if k not in {"startAt", "maxResults"}]
            query_items += [("startAt", str(offset)), ("maxResults", str(limit))]
            return f"{call.api}/project/search?{urlencode(query_items)}"

        body: dict[str, Any] = {
            "self": page_url(start),
            "maxResults": limit,
            "startAt": start,
            "total": len(projects),
            "isLast": is_last,
            "values": [self._project_json(call, p) for p in page],
        }
        if not is_last:
            body["nextPage"] = page_url(start + limit)
        return JSONResponse(body)

    async def _rest_mypermissions(self, call: RestCall) -> Response:
        params = call.request.query_params
        wanted = [p for p in (params.get("permissions") or "").split(",") if p]
        if call.cloud and not wanted:
            return jira_error(400, ["The 'permissions' query parameter is required."])
        project = None
        project_ref = params.get("projectKey") or params.get("projectId")
        if project_ref:
            project = self._find_project(call, project_ref)
            if project is None:
                return jira_error(404, [f"No project could be found with key '{project_ref}'."])
        known = {
            "BROWSE_PROJECTS": ("10", "Browse Projects"),
            "CREATE_ISSUES": ("11", "Create Issues"),
            "ASSIGNABLE_USER": ("17", "Assignable User"),
        }
        perms: dict[str, Any] = {}
        for key in wanted or list(known):
            if key not in known:
                return jira_error(400, [f"Unrecognized permission key: '{key}'"])
            pid, name = known[key]
            if key == "CREATE_ISSUES":
                have = (
                    self._can_create(project, call.user)
                    if project
                    else any(self._can_create(p, call.user) for p in self._visible_projects(call))
                )
            else:
                have = True if project else bool(self._visible_projects(call))
            perms[key] = {
                "id": pid,
                "key": key,
                "name": name,
                "type": "PROJECT",
                "description": name,
                "havePermission": have,
            }
        return JSONResponse({"permissions": perms})

    # -- createmeta -------------------------------------------------------------------------------

    def _issue_type_json(self, call: RestCall, itype: IssueType) -> dict[str, Any]:
        base = self._public_base(call.request)
        if not call.cloud:
            base += call.site.context_path
        data: dict[str, Any] = {
            "self": f"{call.api}/issuetype/{itype.id}",
            "id": itype.id,
            "description": itype.description or f"A {itype.name.lower()}.",
            "iconUrl": f"{base}/secure/viewavatar?size=medium&avatarId=10318&avatarType=issuetype",
            "name": itype.name,
            "subtask": itype.subtask,
            "avatarId": 10318,
        }
        if call.cloud:
            data["hierarchyLevel"] = -1 if itype.subtask else 0
        return data

    def _field_json(
        self, call: RestCall, project: Project, itype: IssueType, meta: dict[str, Any]
    ) -> dict[str, Any]:
        data = copy.deepcopy(meta)
        if "autoCompleteUrl" in data:
            data["autoCompleteUrl"] = data["autoCompleteUrl"].replace("{api}", call.api)
        if data["fieldId"] == "project":
            short = self._project_json(call, project)
            short.pop("expand", None)
            data["allowedValues"] = [short]
        elif data["fieldId"] == "issuetype":
            data["allowedValues"] = [self._issue_type_json(call, itype)]
        if not call.cloud:
            data.pop("key", None)
        return data

    def _creatable_project(self, call: RestCall, ref: str) -> Project | Response:
        project = self._find_project(call, ref)
        if project is None:
            return jira_error(404, [f"No project could be found with key '{ref}'."])
        return project

    def _paging(self, call: RestCall) -> tuple[int, int] | Response:
        start = _int_param(call.request, "startAt", 0)
        limit = _int_param(call.request, "maxResults", 50)
        if start is None or limit is None or start < 0 or limit < 0:
            return jira_error(400, ["startAt and maxResults must be non-negative integers."])
        if call.cloud and limit > 200:
            return jira_error(400, ["Parameter 'maxResults' must not exceed the limit '200'"])
        return start, limit

    def _paged(
        self, call: RestCall, items: list[Any], start: int, limit: int, cloud_key: str
    ) -> JSONResponse:
        page = items[start : start + limit]
        body: dict[str, Any] = {"maxResults": limit, "startAt": start, "total": len(items)}
        if call.cloud:
            body[cloud_key] = page
        else:
            body["isLast"] = start + len(page) >= len(items)
            body["values"] = page
        return JSONResponse(body)

    async def _rest_createmeta_types(self, call: RestCall, p: str) -> Response:
        paging = self._paging(call)
        if isinstance(paging, Response):
            return paging
        project = self._creatable_project(call, p)
        if isinstance(project, Response):
            return project
        types = project.issue_types if self._can_create(project, call.user) else []
        items = [self._issue_type_json(call, t) for t in types]
        return self._paged(call, items, *paging, cloud_key="issueTypes")

    async def _rest_createmeta_fields(self, call: RestCall, p: str, t: str) -> Response:
        paging = self._paging(call)
        if isinstance(paging, Response):
            return paging
        project = self._creatable_project(call, p)
        if isinstance(project, Response):
            return project
        itype = project.issue_type(t)
        if itype is None or not self._can_create(project, call.user):
            return jira_error(
                404, [f"Issue type with id '{t}' does not exist or is not available for this project."]
            )
        items = [self._field_json(call, project, itype, meta) for meta in itype.fields]
        return self._paged(call, items, *paging, cloud_key="fields")

    # -- issues -----------------------------------------------------------------------------------

    async def _rest_create_issue(self, call: RestCall) -> Response:
        ctype = call.request.headers.get("content-type", "")
        if "application/json" not in ctype.lower():
            return Response("Unsupported Media Type", status_code=415, media_type="text/plain")
        try:
            body = json.loads(call.body or b"null")
        except ValueError:
            return jira_error(400, [INVALID_PAYLOAD])
        shape = issue_update_errors(body)
        if shape:
            return jira_error(400, [INVALID_PAYLOAD, *shape[:5]])
        property_problems = self._property_errors(body.get("properties"))
        if property_problems:
            return jira_error(400, property_problems)
        fields = dict(body.get("fields") or {})
        errors: dict[str, str] = {}
        for name, ops in (body.get("update") or {}).items():
            if name in fields:
                errors[name] = f"Field '{name}' cannot be set in both 'fields' and 'update'."
                continue
            for op in ops:
                if "set" in op:
                    fields[name] = op["set"]
                elif "add" in op:
                    fields.setdefault(name, [])
                    if isinstance(fields[name], list):
                        fields[name].append(op["add"])
        if errors:
            return jira_error(400, errors=errors)

        project_ref = fields.get("project")
        project = None
        if isinstance(project_ref, dict):
            ref = project_ref.get("id", project_ref.get("key"))
            if ref is not None:
                project = self._find_project(call, str(ref))
        if project is None:
            message = "Specify a valid project ID or key" if call.cloud else "project is required"
            return jira_error(400, errors={"project": message})
        if not self._can_create(project, call.user):
            return jira_error(
                400, errors={"project": "You do not have permission to create issues in this project."}
            )
        itype_ref = fields.get("issuetype")
        itype = project.issue_type(itype_ref) if isinstance(itype_ref, dict) else None
        if itype is None:
            if itype_ref is None:
                message = "Specify an issue type" if call.cloud else "issue type is required"
            else:
                message = "The issue type selected is invalid."
            return jira_error(400, errors={"issuetype": message})

        invalid_input = False
        for field_id, value in fields.items():
            if field_id in {"project", "issuetype"}:
                continue
            meta = itype.field(field_id)
            if meta is None:
                errors[field_id] = NOT_ON_SCREEN.format(f=field_id)
                continue
            problem = self._check_value(call, meta, value)
            if problem == "INVALID_INPUT":
                invalid_input = True
            elif problem:
                errors[field_id] = problem
        for meta in itype.fields:
            fid = meta["fieldId"]
            if not meta.get("required") or meta.get("hasDefaultValue") or fid in errors:
                continue
            if fid in {"project", "issuetype"}:
                continue
            value = fields.get(fid)
            empty = value is None or value == "" or value == [] or value == {}
            if isinstance(value, str) and not value.strip():
                empty = True
            if empty:
                errors[fid] = (
                    "You must specify a summary of the issue."
                    if fid == "summary"
                    else f"{meta['name']} is required."
                )
        if invalid_input:
            return jira_error(400, ["INVALID_INPUT"], errors)
        if errors:
            return jira_error(400, errors=errors)

        with self._lock:
            project.counter += 1
            issue_id = str(next(self._issue_ids))
            issue = StoredIssue(
                id=issue_id,
                key=f"{project.key}-{project.counter}",
                site=call.site.ident,
                project_key=project.key,
                issue_type_id=itype.id,
                issue_type_name=itype.name,
                fields=copy.deepcopy(fields),
                creator=call.user.account_id,
                created_at=self.now(),
                api_version="3" if call.cloud else "2",
                properties={p["key"]: copy.deepcopy(p["value"]) for p in body.get("properties") or []},
            )
            self._issues.append(issue)
        return JSONResponse(
            {"id": issue.id, "key": issue.key, "self": f"{call.api}/issue/{issue.id}"}, status_code=201
        )

    def _check_value(self, call: RestCall, meta: dict[str, Any], value: Any) -> str | None:
        """An error message for a field value (None when fine, "INVALID_INPUT" for broken ADF)."""
        schema = meta.get("schema", {})
        kind = schema.get("type")
        fid = meta["fieldId"]
        name = meta.get("name", fid)
        if value is None:
            return None  # "required" is checked separately
        if fid == "summary":
            if not isinstance(value, str):
                return "Operation value must be a string"
            if "\n" in value or "\r" in value:
                return "The summary is invalid because it contains newline characters."
            if len(value) > 255:
                return "Summary must be less than 255 characters."
            return None
        rich = schema.get("system") in RICH_TEXT_SYSTEM_FIELDS or str(schema.get("custom", "")).endswith(
            ":textarea"
        )
        if kind == "string":
            if rich and call.cloud:
                if not isinstance(value, dict):
                    return ADF_REQUIRED
                return "INVALID_INPUT" if adf_errors(value) else None
            if not isinstance(value, str):
                return "Operation value must be a string"
            if not rich and len(value) > 255:
                return f"{name}: the text is too long (255 characters at most)."
            return None
        if kind == "number":
            if isinstance(value, bool) or not isinstance(value, int | float):
                return "Operation value must be a number"
            return None
        if kind == "date":
            if not isinstance(value, str) or not _DATE.match(value):
                return f"Error parsing date string: {value}"
            try:
                dt.date.fromisoformat(value)
            except ValueError:
                return f"Error parsing date string: {value}"
            return None
        if kind == "datetime":
            if not isinstance(value, str):
                return f"Error parsing time string: {value}"
            try:
                dt.datetime.fromisoformat(value.replace("+0000", "+00:00"))
            except ValueError:
                return f"Error parsing time string: {value}"
            return None
        if kind in {"option", "priority"}:
            return self._check_option(meta, value)
        if kind == "option-with-child":
            return self._check_cascading(meta, value)
        if kind == "user":
            return None if self._find_user_ref(call, value) else self._bad_user(call, meta, value)
        if kind == "array":
            if not isinstance(value, list):
                return f"Operation value for {name} must be an array"
            items = schema.get("items")
            for item in value:
                if items == "option":
                    problem = self._check_option(meta, item)
                elif items == "string":
                    if not isinstance(item, str) or not item:
                        problem = f"{name}: each value must be a non-empty string"
                    elif (
                        schema.get("system") == "labels" or str(schema.get("custom", "")).endswith(":labels")
                    ) and (" " in item):
                        problem = f"The label '{item}' contains spaces which is invalid."
                    else:
                        problem = None
                elif items == "user":
                    problem = None if self._find_user_ref(call, item) else self._bad_user(call, meta, item)
                else:
                    problem = None
                if problem:
                    return problem
            return None
        return None  # "any" and unknown kinds take whatever they are given

    def _bad_user(self, call: RestCall, meta: dict[str, Any], value: Any) -> str:
        if call.cloud:
            if isinstance(value, dict) and ("accountId" in value or "id" in value):
                account = value.get("accountId", value.get("id"))
                return f"Specify a valid value for {meta.get('name')}: account '{account}' does not exist."
            return f'Specify a valid value for {meta.get("name")}: expected {{"accountId": ...}}'
        if isinstance(value, dict) and ("name" in value or "key" in value):
            return f"User '{value.get('name', value.get('key'))}' does not exist."
        return f'Specify a valid value for {meta.get("name")}: expected {{"name": ...}}'

    @staticmethod
    def _match_option(
        options: list[dict[str, Any]], value: dict[str, Any], label: str = "value"
    ) -> dict[str, Any] | None:
        for option in options:
            if option.get("disabled"):
                continue
            if "id" in value and str(value["id"]) == str(option.get("id")):
                return option
            if "id" not in value and label in value and value[label] == option.get(label):
                return option
        return None

    def _check_option(self, meta: dict[str, Any], value: Any) -> str | None:
        label = "name" if meta.get("schema", {}).get("type") == "priority" else "value"
        if not isinstance(value, dict) or ("id" not in value and label not in value):
            return f"Could not find valid 'id' or '{label}' in the {meta.get('name')} object."
        if self._match_option(meta.get("allowedValues", []), value, label) is None:
            if "id" in value:
                return f"Option id '{value['id']}' is not valid"
            return f"Option value '{value[label]}' is not valid"
        return None

    def _check_cascading(self, meta: dict[str, Any], value: Any) -> str | None:
        problem = self._check_option(meta, value)
        if problem:
            return problem
        parent = self._match_option(meta.get("allowedValues", []), value)
        child = value.get("child")
        if child is None or parent is None:
            return None
        if not isinstance(child, dict) or self._match_option(parent.get("children", []), child) is None:
            return f"Option '{child}' is not a valid child of '{parent.get('value')}'"
        return None

    async def _rest_get_issue(self, call: RestCall, i: str) -> Response:
        found = self._visible_issue(call, i)
        if isinstance(found, Response):
            return found
        issue, project, state = found
        itype = project.issue_type(issue.issue_type_id)
        fields: dict[str, Any] = {}
        for fid, value in issue.fields.items():
            meta = itype.field(fid) if itype else None
            fields[fid] = self._stored_value(call, meta, value)
        short = self._project_json(call, project)
        short.pop("expand", None)
        fields["project"] = short
        fields["issuetype"] = self._issue_type_json(call, itype) if itype else {"id": issue.issue_type_id}
        creator = self._users.get(issue.creator)
        if creator is not None:
            fields["creator"] = self._user_json(call, creator)
            fields.setdefault("reporter", self._user_json(call, creator))
        fields["created"] = _fmt_time(issue.created_at)
        self._card_fields(call, issue, state, fields)
        return JSONResponse(
            {
                "expand": "renderedFields,names,schema",
                "id": issue.id,
                "self": f"{call.api}/issue/{issue.id}",
                "key": issue.key,
                "fields": self._only_requested(call, fields),
            }
        )

    def _stored_value(self, call: RestCall, meta: dict[str, Any] | None, value: Any) -> Any:
        if meta is None:
            return value
        schema = meta.get("schema", {})
        kind, items = schema.get("type"), schema.get("items")
        options = meta.get("allowedValues", [])
        label = "name" if kind == "priority" else "value"
        if kind in {"option", "priority", "option-with-child"} and isinstance(value, dict):
            found = self._match_option(options, value, label)
            if found is None:
                return value
            out = {k: v for k, v in found.items() if k != "children"}
            child = value.get("child")
            if kind == "option-with-child" and isinstance(child, dict):
                sub = self._match_option(found.get("children", []), child)
                if sub:
                    out["child"] = dict(sub)
            return out
        if kind == "array" and items == "option" and isinstance(value, list):
            return [self._match_option(options, v) or v for v in value if isinstance(v, dict)]
        if kind == "user":
            user = self._find_user_ref(call, value)
            return self._user_json(call, user) if user else value
        return value
