"""Webhook endpoints (one per tenant: the URL token and the Data Center secret) and the Jira Cloud
dynamic webhooks the bot registered (their Jira ids and expiry)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from storage.crypto import Encryptor
from storage.database import Database
from storage.models import JiraWebhook, WebhookEndpoint


@dataclass(frozen=True)
class EndpointRecord:
    tenant_id: int
    token: str
    secret: str | None
    jira_webhook_ref: str | None
    registered_at: datetime | None


@dataclass(frozen=True)
class WebhookRecord:
    id: int
    tenant_id: int
    team_id: str
    slack_user_id: str
    purpose: str
    subscription_id: int | None
    jira_webhook_id: str | None
    jql_filter: str
    events: tuple[str, ...]
    expires_at: datetime | None


def _webhook(row: JiraWebhook) -> WebhookRecord:
    return WebhookRecord(
        id=row.id,
        tenant_id=row.tenant_id,
        team_id=row.team_id,
        slack_user_id=row.slack_user_id,
        purpose=row.purpose,
        subscription_id=row.subscription_id,
        jira_webhook_id=row.jira_webhook_id,
        jql_filter=row.jql_filter,
        events=tuple(row.events or ()),
        expires_at=row.expires_at,
    )


class WebhookRepository:
    def __init__(self, db: Database, encryptor: Encryptor) -> None:
        self._db = db
        self._enc = encryptor

    def _endpoint(self, row: WebhookEndpoint) -> EndpointRecord:
        return EndpointRecord(
            tenant_id=row.tenant_id,
            token=row.token,
            secret=self._enc.decrypt(row.secret_enc) if row.secret_enc else None,
            jira_webhook_ref=row.jira_webhook_ref,
            registered_at=row.registered_at,
        )

    # Endpoints -----------------------------------------------------------------------------------
    async def endpoint(self, tenant_id: int, *, now: datetime, with_secret: bool) -> EndpointRecord:
        """The tenant's endpoint, made on first use (a new random token, and a secret if asked)."""
        async with self._db.transaction() as session:
            row = await session.scalar(select(WebhookEndpoint).where(WebhookEndpoint.tenant_id == tenant_id))
            if row is not None and (row.secret_enc or not with_secret):
                return self._endpoint(row)
        try:
            async with self._db.transaction() as session:
                row = await session.scalar(
                    select(WebhookEndpoint).where(WebhookEndpoint.tenant_id == tenant_id)
                )
                if row is None:
                    row = WebhookEndpoint(
                        tenant_id=tenant_id, token=secrets.token_urlsafe(24), created_at=now
                    )
                    session.add(row)
                if with_secret and not row.secret_enc:
                    row.secret_enc = self._enc.encrypt(secrets.token_urlsafe(32))
                await session.flush()
                return self._endpoint(row)
        except IntegrityError:  # made at the same moment elsewhere
            return await self.endpoint(tenant_id, now=now, with_secret=with_secret)

    async def endpoint_by_token(self, token: str) -> EndpointRecord | None:
        async with self._db.transaction() as session:
            row = await session.scalar(select(WebhookEndpoint).where(WebhookEndpoint.token == token))
            return None if row is None else self._endpoint(row)

    async def existing_endpoint(self, tenant_id: int) -> EndpointRecord | None:
        async with self._db.transaction() as session:
            row = await session.scalar(select(WebhookEndpoint).where(WebhookEndpoint.tenant_id == tenant_id))
            return None if row is None else self._endpoint(row)

    async def mark_registered(self, tenant_id: int, ref: str | None, now: datetime | None) -> None:
        async with self._db.transaction() as session:
            await session.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.tenant_id == tenant_id)
                .values(jira_webhook_ref=ref, registered_at=now)
            )

    # Cloud dynamic webhooks -------------------------------------------------------------------------
    async def add(
        self,
        *,
        tenant_id: int,
        team_id: str,
        slack_user_id: str,
        purpose: str,
        subscription_id: int | None,
        jira_webhook_id: str,
        jql_filter: str,
        events: list[str],
        expires_at: datetime | None,
        now: datetime,
    ) -> WebhookRecord:
        async with self._db.transaction() as session:
            row = JiraWebhook(
                tenant_id=tenant_id,
                team_id=team_id,
                slack_user_id=slack_user_id,
                purpose=purpose,
                subscription_id=subscription_id,
                jira_webhook_id=jira_webhook_id,
                jql_filter=jql_filter,
                events=list(events),
                expires_at=expires_at,
                created_at=now,
                refreshed_at=now,
            )
            session.add(row)
            await session.flush()
            return _webhook(row)

    async def for_subscription(self, subscription_id: int) -> list[WebhookRecord]:
        async with self._db.transaction() as session:
            rows = await session.scalars(
                select(JiraWebhook).where(JiraWebhook.subscription_id == subscription_id)
            )
            return [_webhook(r) for r in rows]

    async def for_tenant(self, tenant_id: int) -> list[WebhookRecord]:
        async with self._db.transaction() as session:
            rows = await session.scalars(
                select(JiraWebhook).where(JiraWebhook.tenant_id == tenant_id).order_by(JiraWebhook.id)
            )
            return [_webhook(r) for r in rows]

    async def of_user(self, team_id: str, slack_user_id: str) -> list[WebhookRecord]:
        async with self._db.transaction() as session:
            rows = await session.scalars(
                select(JiraWebhook).where(
                    JiraWebhook.team_id == team_id, JiraWebhook.slack_user_id == slack_user_id
                )
            )
            return [_webhook(r) for r in rows]

    async def all(self) -> list[WebhookRecord]:
        async with self._db.transaction() as session:
            rows = await session.scalars(select(JiraWebhook).order_by(JiraWebhook.tenant_id, JiraWebhook.id))
            return [_webhook(r) for r in rows]

    async def set_expiry(self, webhook_id: int, expires_at: datetime | None, now: datetime) -> None:
        async with self._db.transaction() as session:
            await session.execute(
                update(JiraWebhook)
                .where(JiraWebhook.id == webhook_id)
                .values(expires_at=expires_at, refreshed_at=now)
            )

    async def replace_jira_id(
        self, webhook_id: int, jira_webhook_id: str, expires_at: datetime | None, now: datetime
    ) -> None:
        async with self._db.transaction() as session:
            await session.execute(
                update(JiraWebhook)
                .where(JiraWebhook.id == webhook_id)
                .values(jira_webhook_id=jira_webhook_id, expires_at=expires_at, refreshed_at=now)
            )

    async def remove(self, webhook_id: int) -> None:
        async with self._db.transaction() as session:
            await session.execute(delete(JiraWebhook).where(JiraWebhook.id == webhook_id))
