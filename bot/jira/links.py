"""Which Jira issue a URL points to, on one site: `{site}/browse/KEY` or any URL with `selectedIssue=KEY`.

A Cloud site is `https://NAME.atlassian.net`; a Data Center base URL may carry a context path
(`https://host/jira`), and only URLs under it count. Anything else (another site, another path, a
malformed URL) names no issue.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, unquote, urlsplit

ISSUE_KEY = re.compile(r"^[A-Z][A-Z0-9_]*-[1-9][0-9]*$")


def is_issue_key(text: str) -> bool:
    return bool(ISSUE_KEY.match(text))


def issue_key_in(url: str, site_url: str) -> str | None:
    """The issue key `url` links to on the site at `site_url`, or None."""
    try:
        link, site = urlsplit(url.strip()), urlsplit(site_url.strip())
        link_port, site_port = link.port, site.port
    except ValueError:
        return None
    if link.scheme not in {"http", "https"} or not link.hostname or not site.hostname:
        return None
    if link.hostname.lower() != site.hostname.lower() or link_port != site_port:
        return None
    base = site.path.rstrip("/")
    path = unquote(link.path)
    if base and not (path == base or path.startswith(base + "/")):
        return None
    rest = path[len(base) :]
    browse = re.fullmatch(r"/browse/([^/]+)/?", rest)
    if browse and is_issue_key(browse.group(1)):
        return browse.group(1)
    for value in parse_qs(link.query).get("selectedIssue", []):
        if is_issue_key(value):
            return value
    return None
