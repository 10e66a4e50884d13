"""The OAuth clients send what Atlassian and Jira Data Center expect."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from bot.jira.errors import OAuthError, OAuthInvalidGrant
from bot.jira.oauth import CloudOAuth, DataCenterOAuth, code_challenge, new_code_verifier

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def cloud(handler) -> CloudOAuth:
    return CloudOAuth(
        httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        auth_url="https://auth.test",
        api_url="https://api.test",
        client_id="cid",
        client_secret="csecret",
        redirect_uri="https://bot.test/jira/oauth/callback",
    )


def datacenter(handler) -> DataCenterOAuth:
    return DataCenterOAuth(
        httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        base_url="https://corp.test/jira/",
        client_id="dcid",
        client_secret="dcsecret",
        redirect_uri="https://bot.test/jira/oauth/callback",
    )


def test_pkce_challenge_is_s256_of_the_verifier() -> None:
    # RFC 7636, appendix B.
    assert (
        code_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
        == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )
    verifier = new_code_verifier()
    assert 43 <= len(verifier) <= 128 and verifier != new_code_verifier()


def test_cloud_authorize_url() -> None:
    url = cloud(lambda r: httpx.Response(500)).authorize_url("st4te")
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://auth.test/authorize"
    assert query == {
        "audience": "api.atlassian.com",
        "client_id": "cid",
        "scope": "read:jira-work write:jira-work read:jira-user manage:jira-webhook offline_access",
        "redirect_uri": "https://bot.test/jira/oauth/callback",
        "state": "st4te",
        "response_type": "code",
        "prompt": "consent",
    }


async def test_cloud_code_exchange_sends_json_with_client_credentials() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json={"access_token": "at", "refresh_token": "rt", "expires_in": 3600, "scope": "read:jira-work"},
        )

    tokens = await cloud(handler).exchange_code("the-code", NOW)
    body = json.loads(seen[0].content)
    assert seen[0].headers["content-type"] == "application/json"
    assert "authorization" not in seen[0].headers
    assert body == {
        "grant_type": "authorization_code",
        "client_id": "cid",
        "client_secret": "csecret",
        "code": "the-code",
        "redirect_uri": "https://bot.test/jira/oauth/callback",
    }
    assert (tokens.access_token, tokens.refresh_token) == ("at", "rt")
    assert tokens.expires_at == NOW + timedelta(hours=1)


async def test_cloud_invalid_grant_is_typed() -> None:
    client = cloud(lambda r: httpx.Response(403, json={"error": "invalid_grant"}))
    with pytest.raises(OAuthInvalidGrant):
        await client.refresh("dead", NOW)
    other = cloud(lambda r: httpx.Response(401, json={"error": "access_denied"}))
    with pytest.raises(OAuthError) as caught:
        await other.refresh("rt", NOW)
    assert not isinstance(caught.value, OAuthInvalidGrant) and caught.value.error == "access_denied"


async def test_accessible_resources_are_parsed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer at"
        return httpx.Response(
            200,
            json=[
                {
                    "id": "c1",
                    "name": "acme",
                    "url": "https://acme.atlassian.net",
                    "scopes": ["read:jira-work"],
                    "avatarUrl": "x",
                },
                {"bogus": 1},
            ],
        )

    [resource] = await cloud(handler).accessible_resources("at")
    assert (resource.cloud_id, resource.url) == ("c1", "https://acme.atlassian.net")


def test_datacenter_authorize_url_has_pkce_and_keeps_the_context_path() -> None:
    url = datacenter(lambda r: httpx.Response(500)).authorize_url("st", "v" * 50)
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert parts.path == "/jira/rest/oauth2/latest/authorize"
    assert query["code_challenge"] == code_challenge("v" * 50)
    assert query["code_challenge_method"] == "S256" and query["scope"] == "WRITE"


async def test_datacenter_token_calls_are_form_encoded_and_refresh_sends_redirect_uri() -> None:
    seen: list[dict[str, list[str]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/jira/rest/oauth2/latest/token"
        assert request.headers["content-type"] == "application/x-www-form-urlencoded"
        seen.append(parse_qs(request.content.decode()))
        return httpx.Response(200, json={"access_token": "a", "refresh_token": "r", "expires_in": 7200})

    client = datacenter(handler)
    await client.exchange_code("c", "verifier", NOW)
    tokens = await client.refresh("r0", NOW)
    assert seen[0]["code_verifier"] == ["verifier"] and seen[0]["grant_type"] == ["authorization_code"]
    assert seen[1]["grant_type"] == ["refresh_token"]
    assert seen[1]["redirect_uri"] == ["https://bot.test/jira/oauth/callback"]
    assert tokens.expires_at == NOW + timedelta(seconds=7200)
