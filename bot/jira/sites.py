"""Reading the Jira site URL an admin types, and comparing site URLs."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

CLOUD_SUFFIXES = (".atlassian.net", ".jira.com")
# Path segments that belong to Jira's UI or API, never to a Data Center context path.
_JIRA_PATH_MARKERS = re.compile(
    r"/(browse|secure|projects|plugins|rest|issues|jira/software|jira/core|jira/servicedesk|"
    r"servicedesk|dashboards?|login\.jsp|issue)(/|$|\?)",
    re.IGNORECASE,
)
CLOUD_EXAMPLE = "https://your-company.atlassian.net"
DATACENTER_EXAMPLE = "https://jira.your-company.com or https://your-company.com/jira"


class SiteUrlError(ValueError):
    """The text is not a usable Jira site URL; the message says why, with an example."""


@dataclass(frozen=True)
class SiteInput:
    url: str
    cloud: bool
    notes: list[str] = field(default_factory=list)

    @property
    def display(self) -> str:
        return site_display(self.url)


def site_display(url: str) -> str:
    return url.split("://", 1)[-1].rstrip("/")


def normalise_site_url(url: str) -> str:
    """Scheme and host in lower case, no trailing slash, no query: for comparing site URLs."""
    parts = urlsplit(url.strip())
    path = parts.path.rstrip("/")
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{path}"


def is_cloud_host(host: str) -> bool:
    host = host.lower()
    return any(host.endswith(suffix) and host != suffix.lstrip(".") for suffix in CLOUD_SUFFIXES)


def parse_site_url(text: str) -> SiteInput:
    """Reads one URL from `text`. Cloud URLs are reduced to the site; Data Center keeps a context path."""
    raw = text.strip()
    # Slack may wrap URLs as <https://x|label> or <https://x>.
    raw = re.sub(r"<([^|>]+)(\|[^>]*)?>", r"\1", raw)
    if not raw:
        raise SiteUrlError(f"Please give your Jira site's URL, for example {CLOUD_EXAMPLE}.")
    words = raw.split()
    if len(words) > 1:
        raise SiteUrlError(
            f"Please give only the site's URL, without other words (I got `{raw[:80]}`). "
            f"For example: {CLOUD_EXAMPLE}"
        )
    candidate = words[0]
    if "://" not in candidate:
        candidate = "https://" + candidate
    try:
        parts = urlsplit(candidate)  # raises on a broken IPv6 literal such as `[`
    except ValueError:
        raise SiteUrlError(f"`{words[0][:80]}` is not a valid URL. For example: {CLOUD_EXAMPLE}") from None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in ("http", "https"):
        raise SiteUrlError(f"`{words[0][:80]}` is not a web address. For example: {CLOUD_EXAMPLE}")
    if (
        not host
        or not re.fullmatch(r"[a-z0-9.-]+|\[[0-9a-f:]+\]", host)
        or ("." not in host and host != "localhost" and not host.startswith("["))
    ):
        raise SiteUrlError(f"`{words[0][:80]}` is not a valid URL. For example: {CLOUD_EXAMPLE}")
    try:
        port = parts.port
    except ValueError:
        raise SiteUrlError(
            f"`{words[0][:80]}` has an invalid port. For example: {DATACENTER_EXAMPLE}"
        ) from None
    notes: list[str] = []
    if is_cloud_host(host):
        url = f"https://{host}"
        if parts.path.strip("/") or parts.query:
            notes.append(f"I used the site {url} (the rest of the link is not needed).")
        return SiteInput(url=url, cloud=True, notes=notes)
    path = parts.path or ""
    marker = _JIRA_PATH_MARKERS.search(path)
    if marker:
        path = path[: marker.start()]
    path = path.rstrip("/")
    netloc = host if port is None else f"{host}:{port}"
    url = f"{scheme}://{netloc}{path}"
    if parts.path.rstrip("/") != path or parts.query:
        notes.append(f"I used the base URL {url} (the rest of the link is not needed).")
    if scheme == "http":
        notes.append(
            "Warning: this address uses http://, so tokens would cross the network unencrypted. "
            "Use https:// unless Jira is only reachable on a trusted network."
        )
    return SiteInput(url=url, cloud=False, notes=notes)
