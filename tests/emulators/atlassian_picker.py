"""Jira's issue picker and remote issue links, for the Atlassian emulator (Cloud v3 and DC v2).

- ``GET …/issue/picker``: two sections shaped as Jira shapes them, "History Search" (``id`` ``hs``: the
  issues the user created, edited or viewed, newest first, that match the query) and "Current Search"
  (``id`` ``cs``: issues the user may see whose summary words start with the query's words, those
  already in the history left out). An empty query lists the history only.
- ``POST …/issue/{key}/remotelink``: creates a remote link (201), or updates the one with the same
  ``globalId`` (200); Cloud bodies are validated against ``RemoteIssueLinkRequest``.
- ``GET …/issue/{key}/remotelink``: the issue's remote links (``globalId`` filters).

Mixed into ``AtlassianEmulator`` ahead of ``JiraRestMixin``, whose dispatch offers every REST call to
:meth:`IssuePickerMixin._extra_rest` first. Issues are seen as ``IssueActionsMixin`` lets the caller see
them (browse permission, security levels); its comments count as edits in the history. Knobs:
``delete_issue``, ``note_viewed``; records: ``remote_links``.
"""

from __future__ import annotations

import copy
import html
import itertools
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import JSONResponse, Response

from tests.emulators.atlassian_jira import INVALID_PAYLOAD, RestCall, jira_error
from tests.emulators.atlassian_model import StoredIssue
from tests.emulators.atlassian_specs import schema_errors

PICKER_LIMIT = 20
GLOBAL_ID_MAX = 255
NOT_FOUND = "Issue does not exist or you do not have permission to see it."
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass
class RemoteLink:
    id: int
    issue_id: str
    global_id: str | None
    body: dict[str, Any]  # application, relationship, object as sent
    created_by: str
    updated_times: int = 0


@dataclass
class _PickerState:
    # (site, account id) → issue key → when last created, edited or viewed
    history: dict[tuple[str, str], dict[str, float]] = field(default_factory=dict)
    links: list[RemoteLink] = field(default_factory=list)
    link_ids: Any = field(default_factory=lambda: itertools.count(10000))


class IssuePickerMixin:
    """The picker and remote links; expects the attributes that AtlassianEmulator defines."""

    _lock: threading.RLock
    _issues: list[StoredIssue]
    _issue_ids: Any
    # From JiraRestMixin and AtlassianEmulator (annotations only: defining them here would shadow those).
    _scope_denied: Callable[[RestCall, str, str], Response | None]
    _find_project: Callable[[RestCall, str], Any]
    _site: Callable[[Any], Any]
    _visible_issue: Callable[[RestCall, str], Any]  # (issue, project, state) or the 404 Response
    _issue_states: dict[str, Any]
    now: Callable[[], float]

    @property
    def _picker(self) -> _PickerState:
        with self._lock:
            state = self.__dict__.get("_picker_state")
            if state is None:
                state = self.__dict__["_picker_state"] = _PickerState()
            return state

    # -- knobs and records -------------------------------------------------------------------------

    def delete_issue(self, key: str) -> None:
        """Someone deletes the issue in Jira (its remote links go with it)."""
        with self._lock:
            issue = self._stored_issue(key)
            assert issue is not None, f"no issue {key}"
            self._issues.remove(issue)
            self._picker.links = [link for link in self._picker.links if link.issue_id != issue.id]

    def note_viewed(self, account_id: str, key: str, at: float | None = None) -> None:
        """The user looked at the issue in Jira's browser UI: it joins their picker history."""
        with self._lock:
            issue = self._stored_issue(key)
            assert issue is not None, f"no issue {key}"
            self._remember(issue.site, account_id, issue.key, at)

    def remote_links(self, key: str) -> list[dict[str, Any]]:
        """The remote links of an issue as stored: ``id``, ``globalId`` and the body sent."""
        with self._lock:
            issue = self._stored_issue(key)
            if issue is None:
                return []
            return [{"id": link.id, "globalId": link.global_id, "updates": link.updated_times,
                     **copy.deepcopy(link.body)} for link in self._picker.links if link.issue_id == issue.id]

    def _remember(self, site: str, account_id: str, key: str, at: float | None = None) -> None:
        with self._lock:
            self._picker.history.setdefault((site, account_id), {})[key] = self.now() if at is None else at

    def _stored_issue(self, ref: str) -> StoredIssue | None:
        with self._lock:
            return next((i for i in self._issues if ref in (i.id, i.key)), None)

    # -- dispatch ----------------------------------------------------------------------------------

    async def _extra_rest(self, call: RestCall, path: str) -> Response | None:
        method = call.request.method
        match = re.fullmatch(r"issue/(?P<i>[^/]+)/remotelink", path)
        if path == "issue/picker":
            routes = {"GET": ("issue.read", lambda: self._rest_issue_picker(call))}
        elif match:
            routes = {"GET": ("issue.read", lambda: self._rest_remote_links(call, match["i"])),
                      "POST": ("issue.write", lambda: self._rest_add_remote_link(call, match["i"]))}
        else:
            return None
        if method not in routes:
            return jira_error(405, [f"HTTP method {method} is not supported by this resource"])
        scope, handler = routes[method]
        return self._scope_denied(call, scope, method) or handler()

    def _pickable(self, call: RestCall, ref: str) -> StoredIssue | None:
        found = self._visible_issue(call, ref)
        return None if isinstance(found, Response) else found[0]

    # -- the picker --------------------------------------------------------------------------------

    def _history_of(self, call: RestCall) -> list[StoredIssue]:
        with self._lock:
            seen = dict(self._picker.history.get((call.site.ident, call.user.account_id), {}))
            for issue in self._issues:
                if issue.site != call.site.ident:
                    continue
                times = [c.created_at for c in getattr(self._issue_states.get(issue.id), "comments", [])
                         if c.author == call.user.account_id]
                if issue.creator == call.user.account_id:
                    times.append(issue.created_at)
                if times:
                    seen[issue.key] = max(seen.get(issue.key, 0.0), *times)
        ordered = sorted(seen.items(), key=lambda item: item[1], reverse=True)
        found = [self._pickable(call, key) for key, _ in ordered]
        return [issue for issue in found if issue is not None]

    def _rest_issue_picker(self, call: RestCall) -> Response:
        params = call.request.query_params
        query = (params.get("query") or "").strip()
        project_id = params.get("currentProjectId")
        exclude = params.get("currentIssueKey")

        def wanted(issue: StoredIssue) -> bool:
            if issue.key == exclude:
                return False
            if project_id and self._find_project(call, issue.project_key).id != project_id:
                return False
            return True

        history = [i for i in self._history_of(call) if wanted(i) and _history_match(i, query)]
        current: list[StoredIssue] = []
        if query:
            shown = {i.key for i in history[:PICKER_LIMIT]}
            with self._lock:
                candidates = [i for i in self._issues if i.site == call.site.ident]
            current = [
                i for i in sorted(candidates, key=lambda i: i.created_at, reverse=True)
                if i.key not in shown and self._pickable(call, i.key) is not None and wanted(i)
                and _text_match(i, query)
            ]
        return JSONResponse({"sections": [
            self._picker_section(call, "History Search", "hs", history, query),
            self._picker_section(call, "Current Search", "cs", current, query),
        ]})

    def _picker_section(self, call: RestCall, label: str, ident: str, issues: list[StoredIssue],
                        query: str) -> dict[str, Any]:
        shown = issues[:PICKER_LIMIT]
        section: dict[str, Any] = {"label": label, "id": ident, "issues": [
            self._suggested(call, issue, query) for issue in shown]}
        if shown:
            section["sub"] = f"Showing {len(shown)} of {len(issues)} matching issues"
        else:
            section["msg"] = "No matching issues found"
        return section

    def _suggested(self, call: RestCall, issue: StoredIssue, query: str) -> dict[str, Any]:
        summary = str(issue.fields.get("summary") or "")
        img = "/images/icons/issuetypes/task.svg"
        if call.cloud:
            img = "/rest/api/2/universal_avatar/view/type/issuetype/avatar/10318?size=medium"
        return {
            "id": int(issue.id),
            "key": issue.key,
            "keyHtml": _highlight(issue.key, query),
            "img": img,
            "summary": _highlight(summary, query),
            "summaryText": summary,
        }

    # -- remote links ------------------------------------------------------------------------------

    def _link_json(self, call: RestCall, issue: StoredIssue, link: RemoteLink) -> dict[str, Any]:
        data: dict[str, Any] = {"id": link.id, "self": f"{call.api}/issue/{issue.key}/remotelink/{link.id}"}
        if link.global_id is not None:
            data["globalId"] = link.global_id
        data.update(copy.deepcopy(link.body))
        return data

    def _rest_remote_links(self, call: RestCall, i: str) -> Response:
        issue = self._pickable(call, i)
        if issue is None:
            return jira_error(404, [NOT_FOUND])
        wanted = call.request.query_params.get("globalId")
        with self._lock:
            links = [link for link in self._picker.links if link.issue_id == issue.id]
        if wanted is not None:
            found = [link for link in links if link.global_id == wanted]
            if not found:
                return jira_error(404, ["No remote link with the given global ID was found."])
            return JSONResponse(self._link_json(call, issue, found[0]))
        return JSONResponse([self._link_json(call, issue, link) for link in links])

    def _rest_add_remote_link(self, call: RestCall, i: str) -> Response:
        if "application/json" not in call.request.headers.get("content-type", "").lower():
            return Response("Unsupported Media Type", status_code=415, media_type="text/plain")
        try:
            body = json.loads(call.body or b"null")
        except ValueError:
            return jira_error(400, [INVALID_PAYLOAD])
        problem = _remote_link_errors(body, cloud=call.cloud)
        if problem is not None:
            return problem
        issue = self._pickable(call, i)
        if issue is None:
            return jira_error(404, [NOT_FOUND])
        global_id = body.get("globalId") or None
        stored = {k: copy.deepcopy(body[k]) for k in ("application", "relationship", "object") if k in body}
        with self._lock:
            existing = next((link for link in self._picker.links
                             if global_id is not None and link.issue_id == issue.id
                             and link.global_id == global_id), None)
            if existing is not None:
                existing.body = stored  # fields left out are cleared, as Jira does
                existing.updated_times += 1
                link, status = existing, 200
            else:
                link = RemoteLink(next(self._picker.link_ids), issue.id, global_id, stored,
                                  call.user.account_id)
                self._picker.links.append(link)
                status = 201
            self._remember(issue.site, call.user.account_id, issue.key)
        return JSONResponse({"id": link.id, "self": f"{call.api}/issue/{issue.key}/remotelink/{link.id}"},
                            status_code=status)


def _remote_link_errors(body: Any, *, cloud: bool) -> Response | None:
    if cloud:
        errors = schema_errors("RemoteIssueLinkRequest", body)
        if errors:
            return jira_error(400, [INVALID_PAYLOAD, *errors[:5]])
    if not isinstance(body, dict):
        return jira_error(400, [INVALID_PAYLOAD])
    obj = body.get("object")
    if not isinstance(obj, dict):
        return jira_error(400, errors={"object": "'object' is required."})
    missing = {name: f"'{name}' is required." for name in ("title", "url")
               if not isinstance(obj.get(name), str) or not obj[name].strip()}
    if missing:
        return jira_error(400, errors=missing)
    global_id = body.get("globalId")
    if global_id is not None and (not isinstance(global_id, str) or len(global_id) > GLOBAL_ID_MAX):
        return jira_error(400, errors={"globalId": "The global ID must be at most 255 characters."})
    if len(obj["title"]) > 255:
        return jira_error(400, errors={"title": "The title must be at most 255 characters."})
    return None


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def _text_match(issue: StoredIssue, query: str) -> bool:
    """Jira's text search on the summary: every query word starts a word of it."""
    summary = _words(str(issue.fields.get("summary") or ""))
    wanted = _words(query)
    return bool(wanted) and all(any(word.startswith(w) for word in summary) for w in wanted)


def _history_match(issue: StoredIssue, query: str) -> bool:
    if not query:
        return True
    summary = str(issue.fields.get("summary") or "").lower()
    return issue.key.lower().startswith(query.lower()) or query.lower() in summary


def _highlight(text: str, query: str) -> str:
    escaped = html.escape(text, quote=False)
    if not query:
        return escaped
    pattern = re.compile(re.escape(html.escape(query, quote=False)), re.IGNORECASE)
    return pattern.sub(lambda m: f"<b>{m.group(0)}</b>", escaped)
