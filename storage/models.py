"""The schema: one module, mirrored by the Alembic migrations.

Secrets (tokens, client secrets, PKCE verifiers) are stored only as Fernet ciphertext, in columns whose
names end in `_enc`.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage.slack_installations import BOT_TOKEN_FIELDS, INSTALLATION_TOKEN_FIELDS

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SLACK_INSTALLATIONS_TABLE = "slack_installations"
SLACK_BOTS_TABLE = "slack_bots"
SLACK_OAUTH_STATES_TABLE = "slack_oauth_states"


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC: the same on SQLite and PostgreSQL."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class JiraKind(enum.StrEnum):
    CLOUD = "cloud"
    DATACENTER = "datacenter"


class LinkStatus(enum.StrEnum):
    LINKED = "linked"
    NEEDS_RECONNECT = "needs_reconnect"


class OAuthPurpose(enum.StrEnum):
    INSTALL = "install"
    LINK = "link"


class TenantInstall(Base):
    """A Slack workspace (or Enterprise Grid org) connected to one Jira site."""

    __tablename__ = "tenant_installs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32), unique=True)
    enterprise_id: Mapped[str | None] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    site_url: Mapped[str] = mapped_column(String(512))
    site_name: Mapped[str | None] = mapped_column(String(255))
    cloud_id: Mapped[str | None] = mapped_column(String(64))
    dc_client_id: Mapped[str | None] = mapped_column(String(255))
    dc_client_secret_enc: Mapped[str | None] = mapped_column(Text)
    installed_by: Mapped[str] = mapped_column(String(32))
    installed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    default_project_key: Mapped[str | None] = mapped_column(String(64))
    default_project_name: Mapped[str | None] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    accounts: Mapped[list[JiraAccount]] = relationship(
        back_populates="tenant", cascade="all, delete-orphan", passive_deletes=True
    )


class JiraAccount(Base):
    """A Slack user's linked Jira account, with its encrypted OAuth tokens."""

    __tablename__ = "jira_accounts"
    __table_args__ = (UniqueConstraint("team_id", "slack_user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenant_installs.id", ondelete="CASCADE"), index=True)
    team_id: Mapped[str] = mapped_column(String(32))
    slack_user_id: Mapped[str] = mapped_column(String(32))
    jira_account_id: Mapped[str | None] = mapped_column(String(128), index=True)
    display_name: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))
    access_token_enc: Mapped[str | None] = mapped_column(Text)
    refresh_token_enc: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    scopes: Mapped[str | None] = mapped_column(String(512))
    status: Mapped[str] = mapped_column(String(24), default=LinkStatus.LINKED.value)
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reconnect_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    personal_data_reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_project_key: Mapped[str | None] = mapped_column(String(64))
    # Who is refreshing the tokens now, until when (no transaction is held across the token call).
    refresh_lease_holder: Mapped[str | None] = mapped_column(String(64))
    refresh_lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    tenant: Mapped[TenantInstall] = relationship(back_populates="accounts")


class OAuthState(Base):
    """A pending Jira authorization: single-use, bound to team, user and purpose, and short-lived.

    Only a SHA-256 digest of the state value is stored; the PKCE verifier and any install details
    (such as a Data Center client secret) are encrypted.
    """

    __tablename__ = "jira_oauth_states"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    enterprise_id: Mapped[str | None] = mapped_column(String(32))
    slack_user_id: Mapped[str] = mapped_column(String(32))
    purpose: Mapped[str] = mapped_column(String(16))
    code_verifier_enc: Mapped[str | None] = mapped_column(Text)
    payload_enc: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    consumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # SHA-256 of the browser cookie of the browser that opened the authorization (bot.web.oauth).
    browser_hash: Mapped[str | None] = mapped_column(String(64))


class OAuthConfirmation(Base):
    """An authorization that waits for the person in the browser to confirm it: single-use, bound to
    that browser, expiring with its state. Only digests of the form's token and of the browser cookie
    are stored; the tokens and the Jira identity are encrypted."""

    __tablename__ = "jira_oauth_confirmations"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    enterprise_id: Mapped[str | None] = mapped_column(String(32))
    slack_user_id: Mapped[str] = mapped_column(String(32))
    purpose: Mapped[str] = mapped_column(String(16))
    browser_hash: Mapped[str] = mapped_column(String(64))
    result_enc: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    consumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


ISSUE_LINK_CREATED = "created"
ISSUE_LINK_ADDED = "added"


class IssueLink(Base):
    """A Slack message turned into a Jira issue (`kind` "created"), or added to one ("added")."""

    __tablename__ = "issue_links"
    __table_args__ = (Index("ix_issue_links_message", "team_id", "channel_id", "message_ts"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str | None] = mapped_column(String(32))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    issue_key: Mapped[str] = mapped_column(String(64))
    issue_url: Mapped[str] = mapped_column(String(1024))
    summary: Mapped[str | None] = mapped_column(String(255))
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(
        String(16), default=ISSUE_LINK_CREATED, server_default=ISSUE_LINK_CREATED
    )


class IdempotencyKey(Base):
    """One key per view submission, so a retried or double-clicked submit creates one issue."""

    __tablename__ = "idempotency_keys"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class AuditEntry(Base):
    """Installs, links, unlinks, erasures: who did what, when."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str | None] = mapped_column(String(32), index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(String(255))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class UnfurlSetting(Base):
    """A workspace's unfurl policy: whether issues with a security level unfurl in full."""

    __tablename__ = "unfurl_settings"

    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenant_installs.id", ondelete="CASCADE"), primary_key=True
    )
    full_restricted: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_by: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class JobLease(Base):
    """Which replica runs a scheduled job now; taken over when its holder stops renewing it."""

    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(128))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# slack_sdk's installation and OAuth state stores (multi-workspace mode) on the same database. Their
# token columns hold Fernet ciphertext (storage.slack_installations), hence Text (migration 0002).
_installations = SQLAlchemyInstallationStore.build_installations_table(
    Base.metadata, SLACK_INSTALLATIONS_TABLE
)
_bots = SQLAlchemyInstallationStore.build_bots_table(Base.metadata, SLACK_BOTS_TABLE)
for _table, _names in ((_installations, INSTALLATION_TOKEN_FIELDS), (_bots, BOT_TOKEN_FIELDS)):
    for _name in _names:
        _table.c[_name].type = Text()
SQLAlchemyOAuthStateStore.build_oauth_states_table(Base.metadata, SLACK_OAUTH_STATES_TABLE)


class SubscriptionStatus(enum.StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"


class InboxStatus(enum.StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    DONE = "done"


class WebhookEndpoint(Base):
    """Where a tenant's Jira sends webhooks (`/jira/webhooks/{token}`), and the Data Center secret that
    signs them. One per tenant; the token names the tenant in the URL and is not a secret."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenant_installs.id", ondelete="CASCADE"), unique=True
    )
    token: Mapped[str] = mapped_column(String(64), unique=True)
    secret_enc: Mapped[str | None] = mapped_column(Text)
    jira_webhook_ref: Mapped[str | None] = mapped_column(String(1024))
    registered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChannelSubscription(Base):
    """A channel hearing one project's events, bounded by what its subscriber can see in Jira."""

    __tablename__ = "channel_subscriptions"
    __table_args__ = (Index("ix_channel_subscriptions_channel", "team_id", "channel_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenant_installs.id", ondelete="CASCADE"), index=True)
    team_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32))
    project_key: Mapped[str] = mapped_column(String(64))
    events: Mapped[list[str]] = mapped_column(JSON)
    jql: Mapped[str | None] = mapped_column(Text)
    jql_in_webhook: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=SubscriptionStatus.ACTIVE.value)
    inactive_reason: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class JiraWebhook(Base):
    """A Jira Cloud dynamic webhook the bot registered with one user's link (expires after 30 days
    unless refreshed). `subscription_id` is set for a channel subscription's webhook; other owners
    (personal notifications) leave it empty and name themselves in `purpose`."""

    __tablename__ = "jira_webhooks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenant_installs.id", ondelete="CASCADE"), index=True)
    team_id: Mapped[str] = mapped_column(String(32))
    slack_user_id: Mapped[str] = mapped_column(String(32))
    purpose: Mapped[str] = mapped_column(String(32))
    subscription_id: Mapped[int | None] = mapped_column(
        ForeignKey("channel_subscriptions.id", ondelete="SET NULL"), index=True
    )
    jira_webhook_id: Mapped[str | None] = mapped_column(String(64), index=True)
    jql_filter: Mapped[str] = mapped_column(Text)
    events: Mapped[list[str]] = mapped_column(JSON)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class InboxEvent(Base):
    """A verified webhook delivery, stored before Jira is answered and delivered by any replica.

    Claimed one at a time per issue (in receipt order); `delivered` lists the subscriptions already
    served, so a retry after a crash serves only the rest."""

    __tablename__ = "inbox_events"
    __table_args__ = (
        Index("ix_inbox_events_pending", "status", "id"),
        Index("ix_inbox_events_issue", "tenant_id", "issue_key", "status"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    delivery_id: Mapped[str] = mapped_column(String(128), unique=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenant_installs.id", ondelete="CASCADE"))
    issue_key: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=InboxStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    delivered: Mapped[list[str] | None] = mapped_column(JSON)
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    available_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    last_error: Mapped[str | None] = mapped_column(String(255))


class ChannelThread(Base):
    """The message holding an issue's card in a channel; later events of the issue go in its thread."""

    __tablename__ = "channel_threads"
    __table_args__ = (UniqueConstraint("team_id", "channel_id", "issue_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenant_installs.id", ondelete="CASCADE"), index=True)
    team_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32))
    issue_key: Mapped[str] = mapped_column(String(64))
    message_ts: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PersonalSettings(Base):
    """A linked user's personal notification switches (no row: everything on), and the Data Center
    username that `[~name]` mentions use (the link stores the user key)."""

    __tablename__ = "personal_settings"
    __table_args__ = (UniqueConstraint("team_id", "slack_user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenant_installs.id", ondelete="CASCADE"), index=True)
    team_id: Mapped[str] = mapped_column(String(32))
    slack_user_id: Mapped[str] = mapped_column(String(32))
    kinds_off: Mapped[list[str]] = mapped_column(JSON, default=list)
    jira_name: Mapped[str | None] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PendingDirectMessage(Base):
    """A personal notification waiting out its grouping window: what changed on one issue for one
    recipient. Flushed (one DM) once `due_at` passes, by whichever replica claims it first."""

    __tablename__ = "personal_pending_dms"
    __table_args__ = (
        Index("ix_personal_pending_dms_open", "team_id", "slack_user_id", "issue_key", "claimed_by"),
        Index("ix_personal_pending_dms_due", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenant_installs.id", ondelete="CASCADE"))
    team_id: Mapped[str] = mapped_column(String(32))
    slack_user_id: Mapped[str] = mapped_column(String(32))
    issue_key: Mapped[str] = mapped_column(String(64))
    changes: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
