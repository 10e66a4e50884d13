"""Jira's webhook and search endpoints, on a user's :class:`JiraClient`.

Jira Cloud dynamic webhooks (OAuth 2.0 apps, scope `manage:jira-webhook`): `POST /rest/api/3/webhook`
registers (errors come back as HTTP 200 with `webhookRegistrationResult[].errors`), `GET` lists,
`DELETE` removes, `PUT /rest/api/3/webhook/refresh` extends their 30-day life.
Jira Data Center: `POST /rest/webhooks/1.0/webhook` registers a webhook (Jira administrators only).
Search: Cloud `GET /rest/api/3/search/jql`, Data Center `GET /rest/api/2/search`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from bot.jira.client import JiraClient
from bot.jira.errors import JiraError
from bot.jira.issues import parse_jira_time

CLOUD_WEBHOOK_SCOPE = "manage:jira-webhook"


class WebhookRegistrationFailed(JiraError):
    """Jira refused to register a webhook; `errors` are Jira's own words."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors) or "Jira did not register the webhook")
        self.errors = errors


@dataclass(frozen=True)
class RegisteredWebhook:
    id: str
    jql_filter: str
    events: tuple[str, ...]
    expires_at: datetime | None


@dataclass(frozen=True)
class Comment:
    id: str
    author: str | None
    body: Any
    restricted: bool


def parse_expiry(value: Any) -> datetime | None:
    """Jira's `expirationDate`: epoch milliseconds (as the schema says) or a Jira timestamp."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, UTC)
    if isinstance(value, str) and value.isdigit():
        return datetime.fromtimestamp(int(value) / 1000, UTC)
    return parse_jira_time(value)


async def register_cloud_webhook(client: JiraClient, url: str, *, jql: str, events: list[str]) -> str:
    data = await client.call(
        "POST",
        "webhook",
        json={"url": url, "webhooks": [{"events": events, "jqlFilter": jql}]},
        idempotent=False,
    )
    results = (data or {}).get("webhookRegistrationResult") or []
    first = results[0] if results and isinstance(results[0], dict) else {}
    if first.get("createdWebhookId") is not None:
        return str(first["createdWebhookId"])
    raise WebhookRegistrationFailed([str(e) for e in first.get("errors") or []])


async def list_cloud_webhooks(client: JiraClient) -> list[RegisteredWebhook]:
    found: list[RegisteredWebhook] = []
    start = 0
    while True:
        data = await client.call("GET", "webhook", params={"startAt": start, "maxResults": 100}) or {}
        values = [v for v in data.get("values") or [] if isinstance(v, dict)]
        found += [
            RegisteredWebhook(
                id=str(v["id"]),
                jql_filter=str(v.get("jqlFilter") or ""),
                events=tuple(v.get("events") or ()),
                expires_at=parse_expiry(v.get("expirationDate")),
            )
            for v in values
            if v.get("id") is not None
        ]
        start += len(values)
        if not values or data.get("isLast", True):
            return found


async def delete_cloud_webhooks(client: JiraClient, ids: list[str]) -> None:
    if ids:
        await client.call("DELETE", "webhook", json={"webhookIds": [int(i) for i in ids]})


async def refresh_cloud_webhooks(client: JiraClient, ids: list[str]) -> datetime | None:
    data = await client.call("PUT", "webhook/refresh", json={"webhookIds": [int(i) for i in ids]}) or {}
    return parse_expiry(data.get("expirationDate"))


def _site_base(client: JiraClient) -> str:
    base = client.api_base
    return base[: -len("/rest/api/2")] if base.endswith("/rest/api/2") else base


async def register_dc_webhook(
    client: JiraClient, url: str, *, name: str, secret: str, events: list[str]
) -> str:
    """Registers a Data Center webhook (admins only: 401/403 otherwise); returns its `self` URL."""
    path = f"{_site_base(client)}/rest/webhooks/1.0/webhook"
    data = (
        await client.call(
            "POST",
            path,
            json={
                "name": name,
                "url": url,
                "events": events,
                "secret": secret,
                "excludeBody": False,
                "filters": {"issue-related-events-section": ""},
            },
            idempotent=False,
        )
        or {}
    )
    return str(data.get("self") or data.get("id") or "")


async def delete_dc_webhook(client: JiraClient, ref: str) -> None:
    """Removes a Data Center webhook by its `self` URL (only one on this Jira site)."""
    if not ref.startswith(_site_base(client).rstrip("/") + "/rest/webhooks/1.0/webhook/"):
        raise JiraError("webhook URL outside the Jira site")
    await client.call("DELETE", ref)


async def search_keys(client: JiraClient, jql: str, *, limit: int = 1) -> list[str]:
    """The keys of issues matching `jql`, as this user sees them (400 with Jira's words if invalid)."""
    if client.cloud:
        data = await client.call(
            "GET", "search/jql", params={"jql": jql, "maxResults": limit, "fields": "key"}
        )
    else:
        data = await client.call("GET", "search", params={"jql": jql, "maxResults": limit, "fields": "key"})
    return [str(i["key"]) for i in (data or {}).get("issues") or [] if isinstance(i, dict) and i.get("key")]


async def get_comment(client: JiraClient, issue_key: str, comment_id: str) -> Comment:
    data = await client.call("GET", f"issue/{quote(issue_key, safe='')}/comment/{quote(comment_id, safe='')}")
    data = data or {}
    author = data.get("author") if isinstance(data.get("author"), dict) else {}
    return Comment(
        id=str(data.get("id") or comment_id),
        author=author.get("displayName"),
        body=data.get("body"),
        restricted=bool(data.get("visibility")),
    )
