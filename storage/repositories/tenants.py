"""Tenant installs: one Jira site per Slack workspace."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Table, delete, func, select

from storage.crypto import Encryptor
from storage.database import Database
from storage.models import JiraAccount, JiraKind, LinkStatus, TenantInstall
from storage.repositories.accounts import AccountRecord, AccountRepository, JiraIdentity, TokenSet
from storage.repositories.audit import audit_entry


@dataclass(frozen=True)
class TenantRecord:
    id: int
    team_id: str
    enterprise_id: str | None
    kind: str
    site_url: str
    site_name: str | None
    cloud_id: str | None
    dc_client_id: str | None
    dc_client_secret: str | None
    installed_by: str
    installed_at: datetime
    default_project_key: str | None
    default_project_name: str | None

    @property
    def is_cloud(self) -> bool:
        return self.kind == "cloud"

    @property
    def site_host(self) -> str:
        return self.site_url.split("://", 1)[-1].rstrip("/")


@dataclass(frozen=True)
class TenantCounts:
    linked: int
    needs_reconnect: int


class TenantRepository:
    def __init__(self, db: Database, encryptor: Encryptor, accounts: AccountRepository) -> None:
        self._db = db
        self._enc = encryptor
        self._accounts = accounts

    def _record(self, row: TenantInstall) -> TenantRecord:
        return TenantRecord(
            id=row.id,
            team_id=row.team_id,
            enterprise_id=row.enterprise_id,
            kind=row.kind,
            site_url=row.site_url,
            site_name=row.site_name,
            cloud_id=row.cloud_id,
            dc_client_id=row.dc_client_id,
            dc_client_secret=self._enc.decrypt_or_none(row.dc_client_secret_enc, what="dc_client_secret",
                                                       ref=row.id),
            installed_by=row.installed_by,
            installed_at=row.installed_at,
            default_project_key=row.default_project_key,
            default_project_name=row.default_project_name,
        )

    async def get(self, team_id: str) -> TenantRecord | None:
        async with self._db.transaction() as session:
            row = await session.scalar(select(TenantInstall).where(TenantInstall.team_id == team_id))
            return self._record(row) if row else None

    async def get_by_id(self, tenant_id: int) -> TenantRecord | None:
        async with self._db.transaction() as session:
            row = await session.get(TenantInstall, tenant_id)
            return self._record(row) if row else None

    async def get_with_account(
        self, team_id: str, slack_user_id: str
    ) -> tuple[TenantRecord | None, AccountRecord | None]:
        """The workspace's install and the user's link to it, read together in one query (the hot
        path of every Jira feature)."""
        tenants, accounts = TenantInstall.__table__, JiraAccount.__table__
        query = (
            select(tenants, accounts)
            .select_from(
                tenants.outerjoin(
                    accounts,
                    (accounts.c.tenant_id == tenants.c.id) & (accounts.c.slack_user_id == slack_user_id),
                )
            )
            .where(tenants.c.team_id == team_id)
        )
        async with self._db.connection() as connection:
            row = (await connection.execute(query)).first()
        if row is None:
            return None, None
        values = row._mapping
        tenant = self._record(_columns_of(tenants, values))  # type: ignore[arg-type]
        if values[accounts.c.id] is None:
            return tenant, None
        return tenant, self._accounts.record(_columns_of(accounts, values))  # type: ignore[arg-type]

    async def list_all(self) -> list[TenantRecord]:
        async with self._db.transaction() as session:
            rows = await session.scalars(select(TenantInstall).order_by(TenantInstall.id))
            return [self._record(row) for row in rows]

    async def count_by_kind(self) -> dict[str, int]:
        """Installed workspaces by Jira kind (cloud, datacenter; each present, zero or not): one COUNT."""
        async with self._db.connection() as connection:
            rows = await connection.execute(
                select(TenantInstall.kind, func.count()).group_by(TenantInstall.kind)
            )
            found = {str(kind): int(count) for kind, count in rows}
        return {kind.value: found.get(kind.value, 0) for kind in JiraKind}

    async def install(
        self,
        *,
        team_id: str,
        enterprise_id: str | None,
        kind: str,
        site_url: str,
        site_name: str | None,
        cloud_id: str | None,
        dc_client_id: str | None,
        dc_client_secret: str | None,
        installed_by: str,
        identity: JiraIdentity,
        tokens: TokenSet,
        now: datetime,
    ) -> tuple[TenantRecord, AccountRecord]:
        """Stores the install and links the installing admin, in one transaction.

        Re-installing the same site refreshes it (and the admin's link); the caller makes sure a
        different site is not installed over an existing one.
        """
        async with self._db.transaction() as session:
            row = await session.scalar(select(TenantInstall).where(TenantInstall.team_id == team_id))
            reinstall = row is not None
            if row is None:
                row = TenantInstall(team_id=team_id, installed_at=now)
                session.add(row)
            row.enterprise_id = enterprise_id
            row.kind = kind
            row.site_url = site_url
            row.site_name = site_name
            row.cloud_id = cloud_id
            row.dc_client_id = dc_client_id
            row.dc_client_secret_enc = self._enc.encrypt_optional(dc_client_secret)
            row.installed_by = installed_by
            row.installed_at = now
            row.updated_at = now
            await session.flush()
            account = await self._accounts.apply_link(
                session,
                tenant_id=row.id,
                team_id=team_id,
                slack_user_id=installed_by,
                identity=identity,
                tokens=tokens,
                now=now,
            )
            session.add(
                audit_entry(
                    team_id=team_id,
                    actor=installed_by,
                    action="tenant.reinstalled" if reinstall else "tenant.installed",
                    subject=site_url,
                    detail={"kind": kind, "cloud_id": cloud_id},
                    now=now,
                )
            )
            await session.flush()
            return self._record(row), self._accounts.record(account)

    async def counts(self, tenant_id: int) -> TenantCounts:
        async with self._db.transaction() as session:
            rows = await session.execute(
                select(JiraAccount.status, func.count())
                .where(JiraAccount.tenant_id == tenant_id)
                .group_by(JiraAccount.status)
            )
            by_status = {status: count for status, count in rows}
        return TenantCounts(
            linked=by_status.get(LinkStatus.LINKED.value, 0),
            needs_reconnect=by_status.get(LinkStatus.NEEDS_RECONNECT.value, 0),
        )

    async def set_default_project(self, team_id: str, key: str | None, name: str | None) -> bool:
        async with self._db.transaction() as session:
            row = await session.scalar(select(TenantInstall).where(TenantInstall.team_id == team_id))
            if row is None:
                return False
            row.default_project_key = key
            row.default_project_name = name
            return True

    async def delete(self, team_id: str, *, actor: str, now: datetime) -> int | None:
        """Removes the install and every link of the workspace; returns how many links went, or None."""
        async with self._db.transaction() as session:
            row = await session.scalar(select(TenantInstall).where(TenantInstall.team_id == team_id))
            if row is None:
                return None
            result = await session.execute(delete(JiraAccount).where(JiraAccount.tenant_id == row.id))
            links = int(result.rowcount or 0)
            session.add(
                audit_entry(
                    team_id=team_id,
                    actor=actor,
                    action="tenant.uninstalled",
                    subject=row.site_url,
                    detail={"links_removed": links},
                    now=now,
                )
            )
            await session.delete(row)
            return links

    async def rotate_secrets(self) -> int:
        """Re-encrypts client secrets stored under an older key; returns how many."""
        rotated = 0
        async with self._db.transaction() as session:
            rows = await session.scalars(
                select(TenantInstall).where(TenantInstall.dc_client_secret_enc.is_not(None))
            )
            for row in rows:
                assert row.dc_client_secret_enc is not None
                if self._enc.needs_rotation(row.dc_client_secret_enc):
                    row.dc_client_secret_enc = self._enc.rotate(row.dc_client_secret_enc)
                    rotated += 1
        return rotated


def _columns_of(table: Table, values: Any) -> SimpleNamespace:
    """One table's columns of a joined row, by name (what the record builders read)."""
    return SimpleNamespace(**{column.name: values[column] for column in table.columns})
