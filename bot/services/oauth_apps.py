"""Builds the OAuth client for a tenant: Atlassian 3LO for Cloud, the site's provider for Data Center."""

from __future__ import annotations

import httpx

from bot.jira.oauth import CloudOAuth, DataCenterOAuth
from bot.settings import Settings
from storage.repositories.tenants import TenantRecord


class CloudAppNotConfigured(Exception):
    """ATLASSIAN_CLIENT_ID / ATLASSIAN_CLIENT_SECRET are not set, so Jira Cloud cannot be used."""


class OAuthApps:
    def __init__(self, settings: Settings, http: httpx.AsyncClient) -> None:
        self._settings = settings
        self._http = http

    @property
    def redirect_uri(self) -> str:
        return self._settings.oauth_redirect_uri

    @property
    def cloud_configured(self) -> bool:
        return bool(self._settings.atlassian_client_id and self._settings.atlassian_client_secret)

    def cloud(self) -> CloudOAuth:
        if not self.cloud_configured:
            raise CloudAppNotConfigured()
        assert self._settings.atlassian_client_secret is not None
        return CloudOAuth(
            self._http,
            auth_url=self._settings.atlassian_auth_url,
            api_url=self._settings.atlassian_api_url,
            client_id=self._settings.atlassian_client_id or "",
            client_secret=self._settings.atlassian_client_secret.get_secret_value(),
            redirect_uri=self.redirect_uri,
        )

    def datacenter(self, base_url: str, client_id: str, client_secret: str) -> DataCenterOAuth:
        return DataCenterOAuth(
            self._http,
            base_url=base_url,
            client_id=client_id,
            client_secret=client_secret,
            redirect_uri=self.redirect_uri,
        )

    def for_tenant(self, tenant: TenantRecord) -> CloudOAuth | DataCenterOAuth:
        if tenant.is_cloud:
            return self.cloud()
        return self.datacenter(tenant.site_url, tenant.dc_client_id or "", tenant.dc_client_secret or "")
