"""Metrics of HTTP calls to Jira and Atlassian, labelled by endpoint family: a template of the URL path
from a fixed vocabulary (`rest/api/issue/{id}/transitions`), never the path itself with its keys and ids.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import httpx

from bot.observability.metrics import JIRA_DURATION, JIRA_REQUESTS, Children

# Path segments kept as they are; any other segment (an issue key, an id, a project key, an account id)
# becomes {id}. Jira's resource names are lower-case words, its keys upper-case: they cannot meet.
_NOUNS = frozenset(
    """
    issue issues createmeta editmeta issuetypes fields field transitions comment comments watchers votes
    assignee remotelink worklog attachment attachments changelog properties notify picker bulk archive
    project projects search jql parse match myself user users assignable viewissue bulk groups group
    issuetype priority priorities status statuses statuscategory resolution serverInfo webhook webhooks
    refresh failed permissions mypermissions permissionscheme role roles components component versions
    version filter favourite label application-properties configuration dashboard screens securitylevel
    issuesecurityschemes approximate-count avatar avatars recent expression eval events token authorize
    """.split()
)
_MAX_SEGMENTS = 5
_CALLS, _DURATION = Children(JIRA_REQUESTS), Children(JIRA_DURATION)
_REST = re.compile(r"/rest/(?P<api>api|webhooks|agile|oauth2)/(?:\d+(?:\.\d+)?|latest)(?:/(?P<rest>.*))?$")
_FIXED = (
    ("/oauth/token/accessible-resources", "oauth/accessible-resources"),
    ("/oauth/token", "oauth/token"),
    ("/app/report-accounts", "app/report-accounts"),
)


def endpoint_family(url: str | httpx.URL) -> str:
    path = (url.path if isinstance(url, httpx.URL) else urlsplit(url).path).rstrip("/")
    match = _REST.search(path)
    if match:
        return f"rest/{match['api']}/{_template(match['rest'] or '')}".rstrip("/")
    for suffix, family in _FIXED:
        if path.endswith(suffix):
            return family
    return "other"


def _template(rest: str) -> str:
    segments = [s for s in rest.split("/") if s]
    shown = [s if s in _NOUNS else "{id}" for s in segments[:_MAX_SEGMENTS]]
    if len(segments) > _MAX_SEGMENTS:
        shown.append("...")
    return "/".join(shown)


def outcome_for_status(status: int) -> str:
    if status < 400:
        return "ok"
    if status == 429:
        return "429"
    return "4xx" if status < 500 else "5xx"


class Call:
    """The one call being observed; `answered` notes its status and returns the response."""

    status: int | None = None

    def answered(self, response: httpx.Response) -> httpx.Response:
        self.status = response.status_code
        return response


@contextmanager
def observe_jira_call(url: str | httpx.URL) -> Iterator[Call]:
    """Counts one HTTP call to Jira or Atlassian by endpoint family and outcome, and times it."""
    call = Call()
    started = time.perf_counter()
    outcome: str | None = "error"
    try:
        yield call
    except httpx.TimeoutException:
        outcome = "timeout"
        raise
    except asyncio.CancelledError:  # the caller gave up: nothing to say about Jira
        outcome = None
        raise
    else:
        outcome = outcome_for_status(call.status) if call.status is not None else "error"
    finally:
        if outcome is not None:
            family = endpoint_family(url)
            _CALLS(family, outcome).inc()
            _DURATION(family).observe(time.perf_counter() - started)
