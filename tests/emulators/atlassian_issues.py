"""Issue resources of the Atlassian emulator beyond create: what an issue card reads and does.

Cloud REST v3 and Data Center REST v2, mixed into ``AtlassianEmulator``:

    GET  issue/{key}                         card fields (status, assignee, security, watches, ...)
    GET  issue/{key}/transitions             what the caller may do now (`expand=transitions.fields`)
    POST issue/{key}/transitions             run one, with the screen's fields
    PUT  issue/{key}/assignee                Cloud {"accountId"}, DC {"name"}
    GET  issue/{key}/watchers, POST ...      Cloud body: a JSON string accountId; DC: a JSON string username
    GET  issue/{key}/comment, POST ...       Cloud ADF body, DC wiki string; optional `visibility`
    GET  issue/{key}/comment/{id}            404 where the comment's visibility excludes the caller

Test setup: ``seed_issue``, ``add_transition`` / ``workflow``, ``set_security_level``,
``deny_permission`` / ``allow_permission`` (browse, comment, transition, assign, watch),
``add_group_member``, ``add_role_member``; records: ``issue_state``, ``comments``.

Every issue the caller may not browse (project invisible, permission denied, security level that
does not list them) is a 404 on every resource, as Jira answers.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import json
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import JSONResponse, Response

from tests.emulators.atlassian_model import Project, StoredIssue, User, system_field
from tests.emulators.atlassian_specs import adf_errors, issue_update_errors, schema_errors

PERMISSIONS = ("browse", "comment", "transition", "assign", "watch")
NO_ISSUE = "Issue does not exist or you do not have permission to see it."
CATEGORY = {
    "new": ("2", "blue-gray", "To Do"),
    "indeterminate": ("4", "yellow", "In Progress"),
    "done": ("3", "green", "Done"),
}
RESOLUTIONS = ({"id": "10000", "name": "Done"}, {"id": "10001", "name": "Won't Do"})


@dataclass(frozen=True)
class Status:
    id: str
    name: str
    category: str  # "new" | "indeterminate" | "done"


TODO = Status("10000", "To Do", "new")
IN_PROGRESS = Status("3", "In Progress", "indeterminate")
DONE = Status("10001", "Done", "done")


@dataclass
class Transition:
    id: str
    name: str
    to: Status
    sources: frozenset[str] | None = None  # status names it starts from; None: global
    fields: list[dict[str, Any]] = field(default_factory=list)  # the screen's fields (meta entries)
    has_screen: bool = False

    def available_from(self, status: Status) -> bool:
        return (self.sources is None or status.name in self.sources) and self.to.id != status.id


@dataclass
class SecurityLevel:
    id: str
    name: str
    allowed: set[str]  # account ids who may see issues at this level


@dataclass
class StoredComment:
    id: str
    author: str  # account id
    body: Any  # ADF (Cloud) or wiki markup (DC)
    visibility: dict[str, str] | None
    created_at: float


@dataclass
class IssueState:
    """What changes on an issue after it is created."""

    status: Status
    assignee: str | None  # account id
    reporter: str | None
    watchers: list[str] = field(default_factory=list)
    comments: list[StoredComment] = field(default_factory=list)
    security: SecurityLevel | None = None
    resolution: dict[str, str] | None = None
    updated_at: float = 0.0


def resolution_field(required: bool = True) -> dict[str, Any]:
    """A transition screen's Resolution field (`{"name": ...}` or `{"id": ...}` values)."""
    return system_field(
        "resolution",
        "Resolution",
        "resolution",
        required=required,
        allowed_values=[dict(r) for r in RESOLUTIONS],
    )


def default_transitions() -> list[Transition]:
    """To Do → In Progress (no screen) → Done (a screen with a required Resolution); back to To Do."""
    return [
        Transition("11", "To Do", TODO),
        Transition("21", "In Progress", IN_PROGRESS, frozenset({"To Do", "Done"})),
        Transition("31", "Done", DONE, frozenset({"To Do", "In Progress"}), [resolution_field()], True),
    ]


class IssueActionsMixin:
    """The resources listed in the module docstring; expects AtlassianEmulator's attributes."""

    _lock: threading.RLock
    _users: dict[str, User]
    _issues: list[StoredIssue]
    _issue_ids: Iterator[int]

    # provided by AtlassianEmulator / JiraRestMixin
    now: Callable[[], float]
    _site: Callable[[Any], Any]
    _find_project: Callable[..., Project | None]
    _find_user_ref: Callable[..., User | None]
    _user_json: Callable[..., dict[str, Any]]
    _check_value: Callable[..., str | None]
    _site_users: Callable[[Any], list[User]]

    def _init_issue_actions(self) -> None:
        self._issue_states: dict[str, IssueState] = {}
        self._workflows: dict[tuple[str, str], list[Transition]] = {}
        self._denied: set[tuple[str, str, str | None]] = set()
        self._groups: dict[str, set[str]] = {}
        self._roles: dict[tuple[str, str, str], set[str]] = {}  # (site, project, role) -> accounts
        self._comment_ids = itertools.count(10000)
        self._level_ids = itertools.count(10100)
        self._transition_ids = itertools.count(101)

    # ============================================================ setup (tests)

    def seed_issue(
        self,
        site: Any,
        project_key: str,
        summary: str,
        *,
        issue_type: str = "Task",
        reporter: str | None = None,
        assignee: str | None = None,
        priority: str | None = None,
        status: Status | None = None,
        security: tuple[str, Iterable[str]] | None = None,
    ) -> StoredIssue:
        """An issue made without the REST API (reporter, assignee: account ids; security: a level's
        name and the account ids who may see it)."""
        target = self._site(site)
        with self._lock:
            project = target.projects[project_key]
            itype = project.issue_type({"name": issue_type})
            if itype is None:
                raise KeyError(f"{project_key} has no issue type {issue_type!r}")
            project.counter += 1
            fields: dict[str, Any] = {"summary": summary}
            if priority is not None:
                fields["priority"] = {"id": str(len(priority)), "name": priority}
            issue = StoredIssue(
                id=str(next(self._issue_ids)),
                key=f"{project.key}-{project.counter}",
                site=target.ident,
                project_key=project.key,
                issue_type_id=itype.id,
                issue_type_name=itype.name,
                fields=fields,
                creator=reporter or "",
                created_at=self.now(),
                api_version="3" if target.kind == "cloud" else "2",
            )
            self._issues.append(issue)
            state = self._state(issue)
            state.reporter = reporter
            state.assignee = assignee
            if status is not None:
                state.status = status
        if security is not None:
            self.set_security_level(issue.key, security[0], security[1])
        return copy.deepcopy(issue)

    def workflow(self, site: Any, project_key: str) -> list[Transition]:
        """The project's transitions (the default workflow until changed); edit the list in place."""
        ident = self._site(site).ident
        with self._lock:
            return self._workflows.setdefault((ident, project_key), default_transitions())

    def add_transition(
        self,
        site: Any,
        project_key: str,
        name: str,
        to: Status,
        *,
        sources: Iterable[str] | None = None,
        fields: Iterable[dict[str, Any]] | None = None,
        screen: bool | None = None,
    ) -> Transition:
        """A transition to `to` (from the statuses named in `sources`, or global), with a screen of
        `fields` (createmeta-style entries; required ones must be given when it runs)."""
        metas = [copy.deepcopy(m) for m in fields or []]
        with self._lock:
            transition = Transition(
                id=str(next(self._transition_ids)),
                name=name,
                to=to,
                sources=frozenset(sources) if sources is not None else None,
                fields=metas,
                has_screen=bool(metas) if screen is None else screen,
            )
            self.workflow(site, project_key).append(transition)
        return transition

    def set_security_level(self, key: str, name: str | None, allowed: Iterable[str] = ()) -> None:
        """Put the issue at a security level only `allowed` may see (None: remove the level)."""
        with self._lock:
            issue = self._stored(key)
            state = self._state(issue)
            state.security = (
                None if name is None else SecurityLevel(str(next(self._level_ids)), name, set(allowed))
            )

    def deny_permission(self, account_id: str, permission: str, issue_key: str | None = None) -> None:
        """Take `permission` (browse, comment, transition, assign, watch) from a user, on one issue or all."""
        if permission not in PERMISSIONS:
            raise ValueError(f"unknown permission {permission!r}; one of {PERMISSIONS}")
        with self._lock:
            self._denied.add((account_id, permission, issue_key))

    def allow_permission(self, account_id: str, permission: str, issue_key: str | None = None) -> None:
        with self._lock:
            self._denied.discard((account_id, permission, issue_key))

    def add_group_member(self, group: str, account_id: str) -> None:
        with self._lock:
            self._groups.setdefault(group, set()).add(account_id)

    def add_role_member(self, site: Any, project_key: str, role: str, account_id: str) -> None:
        ident = self._site(site).ident
        with self._lock:
            self._roles.setdefault((ident, project_key, role), set()).add(account_id)

    # ============================================================ records

    def issue_state(self, key: str) -> IssueState:
        """A copy of the issue's current status, assignee, watchers, comments, security level."""
        with self._lock:
            return copy.deepcopy(self._state(self._stored(key)))

    def comments(self, key: str) -> list[StoredComment]:
        return self.issue_state(key).comments

    # ============================================================ internals

    def _stored(self, key: str) -> StoredIssue:
        for issue in self._issues:
            if key in (issue.key, issue.id):
                return issue
        raise KeyError(f"no issue {key!r}")

    def _state(self, issue: StoredIssue) -> IssueState:
        state = self._issue_states.get(issue.id)
        if state is None:
            assignee = issue.fields.get("assignee")
            owner = None
            if isinstance(assignee, dict):
                owner = next(
                    (
                        u.account_id
                        for u in self._users.values()
                        if assignee.get("accountId", assignee.get("id")) == u.account_id
                        or assignee.get("name") == u.name
                        or assignee.get("key") == u.key
                    ),
                    None,
                )
            state = IssueState(
                status=TODO, assignee=owner, reporter=issue.creator or None, updated_at=issue.created_at
            )
            if issue.creator:
                state.watchers.append(issue.creator)
            self._issue_states[issue.id] = state
        return state

    def _allowed(self, account_id: str, permission: str, issue: StoredIssue) -> bool:
        return (account_id, permission, None) not in self._denied and (
            account_id,
            permission,
            issue.key,
        ) not in self._denied

    def _visible_issue(self, call: Any, ref: str) -> tuple[StoredIssue, Project, IssueState] | Response:
        """The issue as the caller may see it, or the 404 Jira answers."""
        with self._lock:
            issue = next(
                (x for x in self._issues if x.site == call.site.ident and ref in (x.id, x.key)), None
            )
            project = self._find_project(call, issue.project_key) if issue else None
            if issue is None or project is None:
                return _error(404, [NO_ISSUE])
            state = self._state(issue)
            account = call.user.account_id
            if not self._allowed(account, "browse", issue):
                return _error(404, [NO_ISSUE])
            if state.security is not None and account not in state.security.allowed:
                return _error(404, [NO_ISSUE])
            return issue, project, state

    def _touch(self, state: IssueState) -> None:
        state.updated_at = self.now()

    def _transitions_for(self, call: Any, issue: StoredIssue) -> list[Transition]:
        return self.workflow(call.site, issue.project_key)

    @staticmethod
    def _json_body(call: Any) -> Any | Response:
        if "application/json" not in call.request.headers.get("content-type", "").lower():
            return Response("Unsupported Media Type", status_code=415, media_type="text/plain")
        try:
            return json.loads(call.body or b"")
        except ValueError:
            return _error(400, ["Unexpected character in the request body: it is not JSON."])

    # ============================================================ routes

    def _issue_action_routes(self) -> list[tuple[str, str, str, Any]]:
        return [
            ("GET", r"issue/(?P<i>[^/]+)/transitions", "issue.read", self._rest_transitions),
            ("POST", r"issue/(?P<i>[^/]+)/transitions", "issue.write", self._rest_do_transition),
            ("PUT", r"issue/(?P<i>[^/]+)/assignee", "issue.write", self._rest_assign),
            ("GET", r"issue/(?P<i>[^/]+)/watchers", "issue.read", self._rest_watchers),
            ("POST", r"issue/(?P<i>[^/]+)/watchers", "issue.write", self._rest_add_watcher),
            ("GET", r"issue/(?P<i>[^/]+)/comment", "issue.read", self._rest_comments),
            ("POST", r"issue/(?P<i>[^/]+)/comment", "issue.write", self._rest_add_comment),
            ("GET", r"issue/(?P<i>[^/]+)/comment/(?P<c>[^/]+)", "issue.read", self._rest_comment),
        ]

    # -- issue GET: the card fields ----------------------------------------------------------

    def _card_fields(self, call: Any, issue: StoredIssue, state: IssueState, fields: dict[str, Any]) -> None:
        """Fill the fields that change after a create, in the flavour's shapes."""
        with self._lock:
            assignee = self._users.get(state.assignee) if state.assignee else None
            reporter = self._users.get(state.reporter) if state.reporter else None
            watching = call.user.account_id in state.watchers
            count = len(state.watchers)
            status, security, resolution = state.status, state.security, state.resolution
            updated = state.updated_at
        fields["status"] = self._status_json(call, status)
        fields["assignee"] = self._user_json(call, assignee) if assignee else None
        if reporter is not None:
            fields["reporter"] = self._user_json(call, reporter)
        fields.setdefault("priority", None)
        fields["resolution"] = dict(resolution) if resolution else None
        fields["watches"] = {
            "self": f"{call.api}/issue/{issue.key}/watchers",
            "watchCount": count,
            "isWatching": watching,
        }
        if security is not None:
            fields["security"] = {
                "self": f"{call.api}/securitylevel/{security.id}",
                "id": security.id,
                "name": security.name,
                "description": f"Only {security.name} may see this issue.",
            }
        fields["updated"] = _fmt(updated)

    @staticmethod
    def _only_requested(call: Any, fields: dict[str, Any]) -> dict[str, Any]:
        """Jira's `fields` parameter: a comma-separated list, `*all`/`*navigable`, `-name` to drop."""
        raw = call.request.query_params.get("fields")
        if not raw:
            return fields
        wanted = [f.strip() for f in raw.split(",") if f.strip()]
        keep = set(fields) if any(f in {"*all", "*navigable"} for f in wanted) else set()
        keep |= {f for f in wanted if not f.startswith(("*", "-"))}
        keep -= {f[1:] for f in wanted if f.startswith("-")}
        return {k: v for k, v in fields.items() if k in keep}

    def _status_json(self, call: Any, status: Status) -> dict[str, Any]:
        cat_id, colour, cat_name = CATEGORY[status.category]
        return {
            "self": f"{call.api}/status/{status.id}",
            "description": "",
            "iconUrl": f"{call.api.split('/rest/')[0]}/images/icons/statuses/generic.png",
            "name": status.name,
            "id": status.id,
            "statusCategory": {
                "self": f"{call.api}/statuscategory/{cat_id}",
                "id": int(cat_id),
                "key": status.category,
                "colorName": colour,
                "name": cat_name,
            },
        }

    # -- transitions -------------------------------------------------------------------------

    async def _rest_transitions(self, call: Any, i: str) -> Response:
        found = self._visible_issue(call, i)
        if isinstance(found, Response):
            return found
        issue, _, state = found
        expand = call.request.query_params.get("expand", "")
        with_fields = "transitions.fields" in expand.split(",")
        wanted_id = call.request.query_params.get("transitionId")
        items: list[dict[str, Any]] = []
        if self._allowed(call.user.account_id, "transition", issue):
            for transition in self._transitions_for(call, issue):
                if not transition.available_from(state.status):
                    continue
                if wanted_id and transition.id != wanted_id:
                    continue
                item: dict[str, Any] = {
                    "id": transition.id,
                    "name": transition.name,
                    "to": self._status_json(call, transition.to),
                    "hasScreen": transition.has_screen,
                    "isGlobal": transition.sources is None,
                    "isInitial": False,
                    "isAvailable": True,
                    "isConditional": False,
                    "isLooped": False,
                }
                if with_fields:
                    item["fields"] = {m["fieldId"]: _screen_field(call, m) for m in transition.fields}
                items.append(item)
        body: dict[str, Any] = {"transitions": items}
        if with_fields:
            body["expand"] = "transitions"
        return JSONResponse(body)

    async def _rest_do_transition(self, call: Any, i: str) -> Response:
        found = self._visible_issue(call, i)
        if isinstance(found, Response):
            return found
        issue, _, state = found
        body = self._json_body(call)
        if isinstance(body, Response):
            return body
        shape = issue_update_errors(body)
        if shape:
            return _error(400, ["Invalid request payload. Refer to the REST API documentation.", *shape[:5]])
        ref = body.get("transition") if isinstance(body, dict) else None
        wanted = str(ref.get("id") or "") if isinstance(ref, dict) else ""
        if not wanted:
            return _error(400, ["Missing 'transition' identifier"])
        if not self._allowed(call.user.account_id, "transition", issue):
            return _error(403, ["You do not have permission to transition this issue."])
        with self._lock:
            transition = next(
                (
                    t
                    for t in self._transitions_for(call, issue)
                    if t.id == wanted and t.available_from(state.status)
                ),
                None,
            )
        if transition is None:
            return _error(400, [f"Transition id '{wanted}' is not valid for this issue."])
        values = dict(body.get("fields") or {})
        for name, ops in (body.get("update") or {}).items():
            for op in ops:
                if "set" in op:
                    values[name] = op["set"]
        errors: dict[str, str] = {}
        screen = {m["fieldId"]: m for m in transition.fields}
        for fid, value in values.items():
            meta = screen.get(fid)
            if meta is None:
                errors[fid] = f"Field '{fid}' cannot be set. It is not on the appropriate screen, or unknown."
                continue
            problem = _resolution_problem(meta, value) if fid == "resolution" else None
            if fid != "resolution":
                problem = self._check_value(call, meta, value)
            if problem == "INVALID_INPUT":
                return _error(400, ["INVALID_INPUT"])
            if problem:
                errors[fid] = problem
        for fid, meta in screen.items():
            value = values.get(fid)
            if meta.get("required") and fid not in errors and value in (None, "", [], {}):
                errors[fid] = f"{meta.get('name', fid)} is required."
        if errors:
            return _error(400, errors=errors)
        with self._lock:
            state.status = transition.to
            for fid, value in values.items():
                if fid == "resolution":
                    state.resolution = _resolution_value(screen[fid], value)
                else:
                    issue.fields[fid] = copy.deepcopy(value)
            if transition.to.category != "done" and "resolution" not in values:
                state.resolution = None
            self._touch(state)
        return Response(status_code=204)

    # -- assignee ------------------------------------------------------------------------------

    async def _rest_assign(self, call: Any, i: str) -> Response:
        found = self._visible_issue(call, i)
        if isinstance(found, Response):
            return found
        issue, project, state = found
        body = self._json_body(call)
        if isinstance(body, Response):
            return body
        if not isinstance(body, dict):
            return _error(400, ["The request body must be a user object."])
        if call.cloud:
            # Jira takes {"accountId": null} to unassign, though the User schema types it a string.
            shape = schema_errors("User", {k: v for k, v in body.items() if v is not None})
            if shape:
                return _error(400, ["Invalid request payload.", *shape[:5]])
            if "accountId" not in body:
                return _error(400, errors={"assignee": "Specify the user's accountId."})
            wanted = body["accountId"]
        else:
            if "name" not in body and "key" not in body:
                return _error(400, errors={"assignee": "Specify the user's name."})
            wanted = body.get("name", body.get("key"))
        if not self._allowed(call.user.account_id, "assign", issue):
            return _error(403, ["You do not have permission to assign issues."])
        if wanted is None or wanted == "-1":
            with self._lock:
                state.assignee = None
                self._touch(state)
            return Response(status_code=204)
        ref = {"accountId": wanted} if call.cloud else {"name": wanted, "key": wanted}
        user = self._find_user_ref(call, ref)
        visible = user is not None and (project.visible_to is None or user.account_id in project.visible_to)
        if user is None or not visible:
            return _error(400, errors={"assignee": f"User '{wanted}' cannot be assigned issues."})
        with self._lock:
            state.assignee = user.account_id
            self._touch(state)
        return Response(status_code=204)

    # -- watchers ------------------------------------------------------------------------------

    async def _rest_watchers(self, call: Any, i: str) -> Response:
        found = self._visible_issue(call, i)
        if isinstance(found, Response):
            return found
        issue, _, state = found
        with self._lock:
            people = [self._users[a] for a in state.watchers if a in self._users]
        return JSONResponse(
            {
                "self": f"{call.api}/issue/{issue.key}/watchers",
                "isWatching": call.user.account_id in state.watchers,
                "watchCount": len(people),
                "watchers": [self._user_details(call, u) for u in people],
            }
        )

    async def _rest_add_watcher(self, call: Any, i: str) -> Response:
        found = self._visible_issue(call, i)
        if isinstance(found, Response):
            return found
        issue, _, state = found
        body = self._json_body(call)
        if isinstance(body, Response):
            return body
        if not isinstance(body, str) or not body:
            field_name = "accountId" if call.cloud else "username"
            return _error(400, [f"The request body must be a JSON string: the {field_name} to add."])
        ref = {"accountId": body} if call.cloud else {"name": body}
        user = self._find_user_ref(call, ref)
        if user is None:
            return _error(404, [f"The user '{body}' does not exist."])
        if not self._allowed(call.user.account_id, "watch", issue) or (
            user.account_id != call.user.account_id
        ):
            return _error(403, ["You do not have permission to manage the watcher list of this issue."])
        with self._lock:
            if user.account_id not in state.watchers:
                state.watchers.append(user.account_id)
        return Response(status_code=204)

    # -- comments ------------------------------------------------------------------------------

    def _user_details(self, call: Any, user: User) -> dict[str, Any]:
        """A person as comments and watchers name them (UserDetails: no locale)."""
        data = self._user_json(call, user)
        data.pop("locale", None)
        return data

    def _may_see_comment(self, call: Any, issue: StoredIssue, comment: StoredComment) -> bool:
        if comment.visibility is None:
            return True
        return self._member(call, issue, comment.visibility, call.user.account_id)

    def _member(self, call: Any, issue: StoredIssue, visibility: dict[str, str], account: str) -> bool:
        value = visibility.get("value") or visibility.get("identifier") or ""
        with self._lock:
            if visibility.get("type") == "group":
                return account in self._groups.get(value, set())
            return account in self._roles.get((call.site.ident, issue.project_key, value), set())

    def _comment_json(self, call: Any, issue: StoredIssue, comment: StoredComment) -> dict[str, Any]:
        author = self._users.get(comment.author)
        person = self._user_details(call, author) if author else None
        data: dict[str, Any] = {
            "self": f"{call.api}/issue/{issue.id}/comment/{comment.id}",
            "id": comment.id,
            "author": person,
            "body": copy.deepcopy(comment.body),
            "updateAuthor": person,
            "created": _fmt(comment.created_at),
            "updated": _fmt(comment.created_at),
        }
        if comment.visibility is not None:
            data["visibility"] = dict(comment.visibility)
        if call.cloud:
            data["jsdPublic"] = True
        return data

    async def _rest_add_comment(self, call: Any, i: str) -> Response:
        found = self._visible_issue(call, i)
        if isinstance(found, Response):
            return found
        issue, _, state = found
        body = self._json_body(call)
        if isinstance(body, Response):
            return body
        if not isinstance(body, dict):
            return _error(400, ["The request body must be a comment object."])
        if call.cloud:
            shape = schema_errors("Comment", body)
            if shape:
                return _error(400, ["Invalid request payload.", *shape[:5]])
        text = body.get("body")
        if text is None or text == "" or (isinstance(text, str) and not text.strip()):
            return _error(400, errors={"comment": "Comment body can not be empty!"})
        if call.cloud:
            if not isinstance(text, dict):
                return _error(400, errors={"comment": "Comment body must be an Atlassian Document."})
            if adf_errors(text):
                return _error(400, ["INVALID_INPUT"])
        elif not isinstance(text, str):
            return _error(400, errors={"comment": "Comment body must be a string."})
        visibility = body.get("visibility")
        if visibility is not None:
            if (
                not isinstance(visibility, dict)
                or visibility.get("type") not in {"group", "role"}
                or not (visibility.get("value") or visibility.get("identifier"))
            ):
                return _error(
                    400, errors={"commentLevel": "Visibility needs a type (group or role) and value."}
                )
            if not self._member(call, issue, visibility, call.user.account_id):
                kind = "group" if visibility["type"] == "group" else "project role"
                name = visibility.get("value") or visibility.get("identifier")
                return _error(
                    400, errors={"commentLevel": f"You are currently not a member of the {kind}: {name}."}
                )
        if not self._allowed(call.user.account_id, "comment", issue):
            return _error(403, ["You do not have the permission to comment on this issue."])
        with self._lock:
            comment = StoredComment(
                id=str(next(self._comment_ids)),
                author=call.user.account_id,
                body=copy.deepcopy(text),
                visibility={k: str(v) for k, v in visibility.items()} if visibility else None,
                created_at=self.now(),
            )
            state.comments.append(comment)
            self._touch(state)
        return JSONResponse(self._comment_json(call, issue, comment), status_code=201)

    async def _rest_comments(self, call: Any, i: str) -> Response:
        found = self._visible_issue(call, i)
        if isinstance(found, Response):
            return found
        issue, _, state = found
        with self._lock:
            visible = [c for c in state.comments if self._may_see_comment(call, issue, c)]
        items = [self._comment_json(call, issue, c) for c in visible]
        return JSONResponse({"startAt": 0, "maxResults": len(items), "total": len(items), "comments": items})

    async def _rest_comment(self, call: Any, i: str, c: str) -> Response:
        found = self._visible_issue(call, i)
        if isinstance(found, Response):
            return found
        issue, _, state = found
        with self._lock:
            comment = next((x for x in state.comments if x.id == c), None)
            if comment is None or not self._may_see_comment(call, issue, comment):
                return _error(404, [f"Can not find a comment for the id: {c}."])
        return JSONResponse(self._comment_json(call, issue, comment))


# ================================================================ helpers


def _error(
    status: int, messages: list[str] | None = None, errors: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"errorMessages": messages or [], "errors": errors or {}}, status_code=status)


def _fmt(epoch: float) -> str:
    stamp = dt.datetime.fromtimestamp(epoch, tz=dt.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}+0000"


def _screen_field(call: Any, meta: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(meta)
    if call.cloud:
        data.pop("fieldId", None)  # FieldMetadata has no fieldId: the map's key names the field
    if "autoCompleteUrl" in data:
        data["autoCompleteUrl"] = data["autoCompleteUrl"].replace("{api}", call.api)
    if not call.cloud:
        data.pop("key", None)
        data["fieldId"] = meta["fieldId"]
    return data


def _resolution_problem(meta: dict[str, Any], value: Any) -> str | None:
    if _resolution_value(meta, value) is None:
        return f"Specify a valid value for {meta.get('name', 'Resolution')}."
    return None


def _resolution_value(meta: dict[str, Any], value: Any) -> dict[str, str] | None:
    if not isinstance(value, dict):
        return None
    for option in meta.get("allowedValues", []):
        if ("id" in value and str(value["id"]) == option["id"]) or (
            "id" not in value and value.get("name") == option["name"]
        ):
            return {"id": option["id"], "name": option["name"]}
    return None
