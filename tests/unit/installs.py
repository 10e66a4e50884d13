"""A workspace connected to Jira, for unit tests on the test database."""

from __future__ import annotations

from datetime import datetime, timedelta

from storage.repositories.accounts import JiraIdentity, TokenSet
from storage.repositories.tenants import TenantRecord
from storage.store import Storage


async def install_cloud_tenant(storage: Storage, now: datetime) -> TenantRecord:
    """Workspace T1 connected to the Cloud site acme by U1 (Jira account acc-1, "Ada")."""
    tenant, _ = await storage.tenants.install(
        team_id="T1",
        enterprise_id=None,
        kind="cloud",
        site_url="https://acme.atlassian.net",
        site_name="acme",
        cloud_id="cloud-1",
        dc_client_id=None,
        dc_client_secret=None,
        installed_by="U1",
        identity=JiraIdentity(account_id="acc-1", display_name="Ada", email=None),
        tokens=TokenSet(
            access_token="a", refresh_token="r", expires_at=now + timedelta(hours=1), scopes=None
        ),
        now=now,
    )
    return tenant
