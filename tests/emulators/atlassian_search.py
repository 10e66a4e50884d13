"""Jira issue search (JQL) and issue entity properties, for the Atlassian emulator.

Cloud: `POST`/`GET /rest/api/3/search/jql` (the enhanced search; the old `/search` answers 410 Gone as
Cloud does now). Data Center: `GET /rest/api/2/search`. Both: `GET issue/{key}/properties/{propertyKey}`.

The JQL understood is the part the bot writes, parsed strictly (anything else is Jira's 400):
clauses joined by AND: `project = KEY`, `reporter = currentUser()` (or an account id / user name),
`created >= -15m` (relative: m, h, d, w; or a date `"2026-05-01"`), then an optional
`ORDER BY created|key [ASC|DESC]`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from typing import Any

from starlette.responses import JSONResponse, Response

from tests.emulators.atlassian_model import StoredIssue
from tests.emulators.atlassian_specs import schema_errors

PROPERTY_KEY_LIMIT = 255
PROPERTY_VALUE_LIMIT = 32768
_TOKEN = re.compile(r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<op>>=|<=|!=|=|>|<|\(|\))|(?P<word>[^\s"=<>!()]+))')
_RELATIVE = re.compile(r"^([+-]?)(\d+)([mhdw])$")
_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class JqlError(ValueError):
    pass


def _tokens(jql: str) -> list[str]:
    out: list[str] = []
    pos = 0
    while pos < len(jql):
        if not jql[pos:].strip():
            break
        match = _TOKEN.match(jql, pos)
        if match is None or match.end() == pos:
            raise JqlError(f"Error in the JQL Query: the character '{jql[pos]}' is a reserved JQL character.")
        out.append(match.group("str") or match.group("op") or match.group("word"))
        pos = match.end()
    return out


def _unquote(token: str) -> str:
    if token.startswith('"'):
        return re.sub(r"\\(.)", r"\1", token[1:-1])
    return token


class _Query:
    def __init__(self) -> None:
        self.filters: list[Callable[[StoredIssue], bool]] = []
        self.order: tuple[str, bool] = ("created", True)  # field, descending


class JiraSearchMixin:
    """Search and properties resources; expects the attributes that JiraRestMixin and the emulator define."""

    # -- JQL ----------------------------------------------------------------------------------

    def _parse_jql(self, call: Any, jql: str) -> _Query:
        tokens = _tokens(jql)
        query = _Query()
        i = 0

        def take() -> str:
            nonlocal i
            if i >= len(tokens):
                raise JqlError(
                    "Error in the JQL Query: Expecting either a value, list or function but got end of query."
                )
            i += 1
            return tokens[i - 1]

        seen_clause = False
        while i < len(tokens):
            word = tokens[i].lower()
            if word == "order":
                i += 1
                if i >= len(tokens) or tokens[i].lower() != "by":
                    raise JqlError("Error in the JQL Query: Expecting 'by' after 'order'.")
                i += 1
                name = take().lower()
                if name not in {"created", "key"}:
                    raise JqlError(f"Error in the JQL Query: Not able to sort using field '{name}'.")
                descending = name == "created"
                if i < len(tokens):
                    direction = take().lower()
                    if direction not in {"asc", "desc"}:
                        raise JqlError(
                            f"Error in the JQL Query: Expecting ASC or DESC but got '{direction}'."
                        )
                    descending = direction == "desc"
                if i < len(tokens):
                    raise JqlError("Error in the JQL Query: Expecting end of query after ORDER BY.")
                query.order = (name, descending)
                break
            if seen_clause:
                if word != "and":
                    raise JqlError(f"Error in the JQL Query: Expecting operator AND but got '{tokens[i]}'.")
                i += 1
            query.filters.append(self._jql_clause(call, take().lower(), take(), take))
            seen_clause = True
        if not query.filters:
            raise JqlError("Unbounded JQL queries are not allowed here. Please add a search restriction.")
        return query

    def _jql_clause(
        self, call: Any, name: str, op: str, take: Callable[[], str]
    ) -> Callable[[StoredIssue], bool]:
        value = take()
        if name == "project":
            if op != "=":
                raise JqlError(
                    f"Error in the JQL Query: operator '{op}' is not supported for 'project' here."
                )
            project = self._find_project(call, _unquote(value))  # type: ignore[attr-defined]
            if project is None:
                raise JqlError(f"The value '{_unquote(value)}' does not exist for the field 'project'.")
            return lambda issue: issue.project_key == project.key
        if name == "reporter":
            if op != "=":
                raise JqlError(
                    f"Error in the JQL Query: operator '{op}' is not supported for 'reporter' here."
                )
            if value.lower() == "currentuser":
                if take() != "(" or take() != ")":
                    raise JqlError("Error in the JQL Query: Expecting ')' after 'currentUser('.")
                wanted = call.user.account_id
            else:
                user = self._find_user_ref(  # type: ignore[attr-defined]
                    call, {"accountId": _unquote(value)} if call.cloud else {"name": _unquote(value)}
                )
                if user is None:
                    raise JqlError(f"The value '{_unquote(value)}' does not exist for the field 'reporter'.")
                wanted = user.account_id
            return lambda issue: self._reporter_of(call, issue) == wanted
        if name == "created":
            if op not in {">=", ">", "<=", "<"}:
                raise JqlError(
                    f"Error in the JQL Query: operator '{op}' is not supported for 'created' here."
                )
            at = self._jql_time(_unquote(value))
            compare = {
                ">=": lambda t: t >= at,
                ">": lambda t: t > at,
                "<=": lambda t: t <= at,
                "<": lambda t: t < at,
            }[op]
            return lambda issue: compare(issue.created_at)
        raise JqlError(f"Field '{name}' does not exist or you do not have permission to view it.")

    def _jql_time(self, value: str) -> float:
        relative = _RELATIVE.match(value)
        if relative:
            sign = -1 if relative.group(1) == "-" else 1
            return self.now() + sign * int(relative.group(2)) * _UNITS[relative.group(3)]  # type: ignore[attr-defined]
        try:
            day = dt.datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=dt.UTC)
        except ValueError:
            raise JqlError(f"Date value '{value}' for field 'created' is invalid.") from None
        return day.timestamp()

    def _reporter_of(self, call: Any, issue: StoredIssue) -> str:
        ref = issue.fields.get("reporter")
        if isinstance(ref, dict):
            user = self._find_user_ref(call, ref)  # type: ignore[attr-defined]
            if user is not None:
                return str(user.account_id)
        return issue.creator

    def _visible_issues(self, call: Any) -> list[StoredIssue]:
        with self._lock:  # type: ignore[attr-defined]
            issues = [i for i in self._issues if i.site == call.site.ident]  # type: ignore[attr-defined]
        return [i for i in issues if self._find_project(call, i.project_key) is not None]  # type: ignore[attr-defined]

    def _search(self, call: Any, jql: str) -> list[StoredIssue] | Response:
        try:
            query = self._parse_jql(call, jql)
        except JqlError as exc:
            return JSONResponse(
                {"errorMessages": [str(exc)], "errors": {}, "warningMessages": []}, status_code=400
            )
        found = [i for i in self._visible_issues(call) if all(f(i) for f in query.filters)]
        name, descending = query.order
        if name == "created":
            found.sort(key=lambda i: (i.created_at, int(i.id)), reverse=descending)
        else:
            found.sort(key=lambda i: (i.project_key, int(i.key.rsplit("-", 1)[1])), reverse=descending)
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
