"""OAuth 2.0 clients: Atlassian 3LO (Jira Cloud) and the Jira Data Center provider (with PKCE)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx

from bot.jira.errors import JiraHTTPError, OAuthError, OAuthInvalidGrant
from bot.jira.http import RetryPolicy, send
from storage.repositories.accounts import TokenSet

CLOUD_SCOPES = "read:jira-work write:jira-work read:jira-user manage:jira-webhook offline_access"
DATACENTER_SCOPE = "WRITE"
DEFAULT_EXPIRES_IN = 3600


def new_code_verifier() -> str:
    """A PKCE verifier: 64 URL-safe characters (RFC 7636 allows 43 to 128)."""
    return secrets.token_urlsafe(48)


def code_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class AccessibleResource:
    cloud_id: str
    name: str
    url: str
    scopes: tuple[str, ...]


def _token_set(payload: Any, now: datetime) -> TokenSet:
    if not isinstance(payload, dict) or not payload.get("access_token"):
        raise OAuthError("the token endpoint answered without an access token")
    expires_in = payload.get("expires_in")
    try:
        seconds = int(expires_in) if expires_in is not None else DEFAULT_EXPIRES_IN
    except (TypeError, ValueError):
        seconds = DEFAULT_EXPIRES_IN
    return TokenSet(
        access_token=str(payload["access_token"]),
        refresh_token=str(payload["refresh_token"]) if payload.get("refresh_token") else None,
        expires_at=now + timedelta(seconds=seconds),
        scopes=str(payload["scope"]) if payload.get("scope") else None,
    )


async def _token_request(http: httpx.AsyncClient, url: str, policy: RetryPolicy, **kwargs: Any) -> Any:
    try:
        response = await send(http, "POST", url, policy=policy, idempotent=False, **kwargs)
    except JiraHTTPError as exc:
        body = exc.body if isinstance(exc.body, dict) else {}
        error = str(body.get("error") or "")
        if error == "invalid_grant":
            raise OAuthInvalidGrant(
                "the authorization is no longer valid", error=error, status=exc.status, method="POST", url=url
            ) from None
        raise OAuthError(
            f"the token endpoint refused the request ({error or exc.status})",
            error=error or None,
            status=exc.status,
            method="POST",
            url=url,
        ) from None
    try:
        return response.json()
    except ValueError:
        raise OAuthError("the token endpoint answered something that is not JSON") from None


class CloudOAuth:
    """Atlassian OAuth 2.0 (3LO): authorize and token at ATLASSIAN_AUTH_URL, resources at the API."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        auth_url: str,
        api_url: str,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        policy: RetryPolicy | None = None,
    ) -> None:
        self._http = http
        self._auth_url = auth_url.rstrip("/")
        self._api_url = api_url.rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret
        self._redirect_uri = redirect_uri
        self._policy = policy or RetryPolicy()

    def authorize_url(self, state: str) -> str:
        query = {
            "audience": "api.atlassian.com",
            "client_id": self._client_id,
            "scope": CLOUD_SCOPES,
            "redirect_uri": self._redirect_uri,
            "state": state,
            "response_type": "code",
            "prompt": "consent",
        }
        return f"{self._auth_url}/authorize?{urlencode(query)}"

    async def exchange_code(self, code: str, now: datetime) -> TokenSet:
        payload = await _token_request(
            self._http,
            f"{self._auth_url}/oauth/token",
            self._policy,
            json={
                "grant_type": "authorization_code",
                "client_id": self._client_id,
                "client_secret": self._client_secret,
                "code": code,
                "redirect_uri": self._redirect_uri,
            },
        )
        return _token_set(payload, now)

    async def refresh(self, refresh_token: str, now: datetime) -> TokenSet:
        payload = await _token_request(
            self._http,
            f"{self._auth_url}/oauth/token",
            self._policy,
            json={
                "grant_type": "refresh_token",
                "client_id": self._client_id,
                "client_secret": self._client_secret,
                "refresh_token": refresh_token,
            },
        )
        return _token_set(payload, now)

    async def accessible_resources(self, access_token: str) -> list[AccessibleResource]:
        response = await send(
            self._http,
            "GET",
            f"{self._api_url}/oauth/token/accessible-resources",
            policy=self._policy,
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
        )
        resources = []
        for item in response.json() or []:
            if isinstance(item, dict) and item.get("id") and item.get("url"):
                resources.append(
                    AccessibleResource(
                        cloud_id=str(item["id"]),
                        name=str(item.get("name") or ""),
                        url=str(item["url"]),
                        scopes=tuple(item.get("scopes") or ()),
                    )
                )
        return resources


class DataCenterOAuth:
    """Jira Data Center's OAuth 2.0 provider (incoming application link), with PKCE S256."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        policy: RetryPolicy | None = None,
    ) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret
        self._redirect_uri = redirect_uri
        self._policy = policy or RetryPolicy()

    @property
    def _token_url(self) -> str:
        return f"{self._base}/rest/oauth2/latest/token"

    def authorize_url(self, state: str, verifier: str) -> str:
        query = {
            "client_id": self._client_id,
            "redirect_uri": self._redirect_uri,
            "response_type": "code",
            "scope": DATACENTER_SCOPE,
            "state": state,
            "code_challenge": code_challenge(verifier),
            "code_challenge_method": "S256",
        }
        return f"{self._base}/rest/oauth2/latest/authorize?{urlencode(query)}"

    async def exchange_code(self, code: str, verifier: str, now: datetime) -> TokenSet:
        payload = await _token_request(
            self._http,
            self._token_url,
            self._policy,
            data={
                "grant_type": "authorization_code",
                "client_id": self._client_id,
                "client_secret": self._client_secret,
                "code": code,
                "redirect_uri": self._redirect_uri,
                "code_verifier": verifier,
            },
        )
        return _token_set(payload, now)

    async def refresh(self, refresh_token: str, now: datetime) -> TokenSet:
        payload = await _token_request(
            self._http,
            self._token_url,
            self._policy,
            data={
                "grant_type": "refresh_token",
                "client_id": self._client_id,
                "client_secret": self._client_secret,
                "refresh_token": refresh_token,
                "redirect_uri": self._redirect_uri,
            },
        )
        return _token_set(payload, now)
