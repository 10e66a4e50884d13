"""Jira issue search (JQL) and issue entity properties, for the Atlassian emulator.

Cloud: `POST`/`GET /rest/api/3/search/jql` (the enhanced search; the old `/search` answers 410 Gone as
Cloud does now). Data Center: `GET /rest/api/2/search`. Both: `GET issue/{key}/properties/{propertyKey}`.

JQL is evaluated by tests/emulators/jql.py (the same evaluator as webhook filters), as the caller: only
issues they may see are found.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from starlette.responses import JSONResponse, Response

from tests.emulators import jql as jql_engine
from tests.emulators.atlassian_model import StoredIssue
from tests.emulators.atlassian_specs import schema_errors

PROPERTY_KEY_LIMIT = 255
PROPERTY_VALUE_LIMIT = 32768


class JiraSearchMixin:
    """Search and properties resources; expects the attributes that JiraRestMixin and the emulator define."""

    def _visible_issues(self, call: Any) -> list[StoredIssue]:
        with self._lock:  # type: ignore[attr-defined]
            issues = [i for i in self._issues if i.site == call.site.ident]  # type: ignore[attr-defined]
        return [i for i in issues if self._find_project(call, i.project_key) is not None]  # type: ignore[attr-defined]

    def _search(self, call: Any, jql: str) -> list[StoredIssue] | Response:
        try:
            query = jql_engine.parse_query(jql)
        except jql_engine.JqlError as exc:
            return JSONResponse(
                {"errorMessages": exc.messages, "errors": {}, "warningMessages": []}, status_code=400
            )
        if query.node is None:
            return JSONResponse(
                {
                    "errorMessages": [
                        "Unbounded JQL queries are not allowed here. Please add a search restriction."
                    ],
                    "errors": {},
                },
                status_code=400,
            )
        for project in jql_engine.values_of(query.node, "project"):
            if self._find_project(call, project) is None:  # type: ignore[attr-defined]
                return JSONResponse(
                    {"errorMessages": [f"The value '{project}' does not exist for the field 'project'."],
                     "errors": {}, "warningMessages": []},
                    status_code=400,
                )
        me = call.user.account_id if call.cloud else call.user.name
        now = self.now()  # type: ignore[attr-defined]
        found = [
            issue
            for issue in self._visible_issues(call)
            if not isinstance(self._visible_issue(call, issue.key), Response)  # type: ignore[attr-defined]
            and jql_engine.matches(
                query.node,
                {**self._jql_values(issue), "created": [str(issue.created_at)]},  # type: ignore[attr-defined]
                current_user=me,
                now=now,
            )
        ]
        name, descending = query.order or ("created", True)
        if name == "key":
            found.sort(key=lambda i: (i.project_key, int(i.key.rsplit("-", 1)[1])), reverse=descending)
        else:
            found.sort(key=lambda i: (i.created_at, int(i.id)), reverse=descending)
        return found

    def _search_hit(self, call: Any, issue: StoredIssue, fields: list[str]) -> dict[str, Any]:
        shown: dict[str, Any] = {}
        for name in fields:
            if name == "created":
                stamp = dt.datetime.fromtimestamp(issue.created_at, tz=dt.UTC)
                shown["created"] = (
                    stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}+0000"
                )
            elif name in issue.fields:
                shown[name] = issue.fields[name]
        hit: dict[str, Any] = {
            "expand": "",
            "id": issue.id,
            "self": f"{call.api}/issue/{issue.id}",
            "key": issue.key,
        }
        if fields and fields != ["id"]:
            hit["fields"] = shown
        return hit

    # -- Cloud: search/jql ------------------------------------------------------------------------

    async def _rest_search_jql(self, call: Any) -> Response:
        if call.request.method == "POST":
            if "application/json" not in call.request.headers.get("content-type", "").lower():
                return Response("Unsupported Media Type", status_code=415, media_type="text/plain")
            try:
                body = json.loads(call.body or b"null")
            except ValueError:
                return JSONResponse(
                    {"errorMessages": ["Invalid request payload."], "errors": {}}, status_code=400
                )
            problems = schema_errors("SearchAndReconcileRequestBean", body)
            if problems is None and not isinstance(body, dict):
                problems = ["<root>: must be an object"]
            if problems:
                return JSONResponse(
                    {"errorMessages": ["Invalid request payload.", *problems[:5]], "errors": {}},
                    status_code=400,
                )
            jql, fields, limit = body.get("jql"), body.get("fields") or ["id"], body.get("maxResults", 50)
        else:
            params = call.request.query_params
            jql = params.get("jql")
            fields = [f for f in (params.get("fields") or "id").split(",") if f]
            try:
                limit = int(params.get("maxResults", "50"))
            except ValueError:
                return JSONResponse(
                    {"errorMessages": ["maxResults must be a number."], "errors": {}}, status_code=400
                )
        if not jql:
            return JSONResponse(
                {
                    "errorMessages": [
                        "Unbounded JQL queries are not allowed here. Please add a search restriction."
                    ],
                    "errors": {},
                },
                status_code=400,
            )
        found = self._search(call, str(jql))
        if isinstance(found, Response):
            return found
        limit = max(1, min(int(limit), 5000))
        page = found[:limit]
        answer: dict[str, Any] = {
            "issues": [self._search_hit(call, i, list(fields)) for i in page],
            "isLast": len(found) <= limit,
        }
        if len(found) > limit:
            answer["nextPageToken"] = f"page-{limit}"
        return JSONResponse(answer)

    async def _rest_search_removed(self, call: Any) -> Response:
        if call.cloud:
            return JSONResponse(
                {
                    "errorMessages": [
                        "The requested API has been removed. "
                        "Please migrate to the /rest/api/3/search/jql API. "
                        "A full migration guideline is available at "
                        "https://developer.atlassian.com/changelog/#CHANGE-2046"
                    ],
                    "errors": {},
                },
                status_code=410,
            )
        return await self._rest_search_dc(call)

    # -- Data Center: search ------------------------------------------------------------------------

    async def _rest_search_dc(self, call: Any) -> Response:
        params = call.request.query_params
        paging = self._paging(call)  # type: ignore[attr-defined]
        if isinstance(paging, Response):
            return paging
        start, limit = paging
        fields = [f for f in (params.get("fields") or "*navigable").split(",") if f]
        if fields == ["*navigable"]:
            fields = ["summary", "created", "description"]
        found = self._search(call, params.get("jql") or "")
        if isinstance(found, Response):
            return found
        page = found[start : start + min(limit, 1000)]
        return JSONResponse(
            {
                "expand": "schema,names",
                "startAt": start,
                "maxResults": limit,
                "total": len(found),
                "issues": [self._search_hit(call, i, fields) for i in page],
            }
        )

    # -- properties ---------------------------------------------------------------------------------

    def _property_errors(self, properties: Any) -> list[str]:
        """What Jira says about the `properties` of a create (empty when fine)."""
        if properties is None:
            return []
        if not isinstance(properties, list):
            return ["properties: must be an array"]
        problems: list[str] = []
        for item in properties:
            key = item.get("key") if isinstance(item, dict) else None
            if not isinstance(key, str) or not key.strip():
                problems.append("Property key must be a non-empty string.")
            elif len(key) > PROPERTY_KEY_LIMIT:
                problems.append(f"The property key can not be longer than {PROPERTY_KEY_LIMIT} characters.")
            if not isinstance(item, dict) or "value" not in item:
                problems.append("Property value must be given.")
            elif len(json.dumps(item["value"]).encode()) > PROPERTY_VALUE_LIMIT:
                problems.append(f"The property value can not be longer than {PROPERTY_VALUE_LIMIT} bytes.")
        return problems

    async def _rest_issue_property(self, call: Any, i: str, k: str) -> Response:
        issue = next((x for x in self._visible_issues(call) if i in (x.id, x.key)), None)
        if issue is None:
            return JSONResponse(
                {
                    "errorMessages": ["Issue does not exist or you do not have permission to see it."],
                    "errors": {},
                },
                status_code=404,
            )
        with self._lock:  # type: ignore[attr-defined]
            if k not in issue.properties:
                return JSONResponse(
                    {"errorMessages": [f"The property with key '{k}' does not exist."], "errors": {}},
                    status_code=404,
                )
            value = issue.properties[k]
        return JSONResponse({"key": k, "value": value})
