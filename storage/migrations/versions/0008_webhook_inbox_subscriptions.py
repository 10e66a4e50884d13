"""Jira webhooks into Slack: endpoints, channel subscriptions, registered Cloud webhooks, the inbox of
deliveries and the channel thread of each issue.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 16:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"],
        ["tenant_installs.id"],
        name=op.f(f"fk_{table}_tenant_id_tenant_installs"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("secret_enc", sa.Text(), nullable=True),
        sa.Column("jira_webhook_ref", sa.String(length=1024), nullable=True),
        sa.Column("registered_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        _tenant_fk("webhook_endpoints"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoints")),
        sa.UniqueConstraint("tenant_id", name=op.f("uq_webhook_endpoints_tenant_id")),
        sa.UniqueConstraint("token", name=op.f("uq_webhook_endpoints_token")),
    )
    op.create_table(
        "channel_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("project_key", sa.String(length=64), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("jql", sa.Text(), nullable=True),
        sa.Column("jql_in_webhook", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("inactive_reason", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        _tenant_fk("channel_subscriptions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_subscriptions")),
    )
    op.create_index("ix_channel_subscriptions_channel", "channel_subscriptions", ["team_id", "channel_id"])
    op.create_index(op.f("ix_channel_subscriptions_tenant_id"), "channel_subscriptions", ["tenant_id"])
    op.create_table(
        "jira_webhooks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("slack_user_id", sa.String(length=32), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=True),
        sa.Column("jira_webhook_id", sa.String(length=64), nullable=True),
        sa.Column("jql_filter", sa.Text(), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(), nullable=True),
        _tenant_fk("jira_webhooks"),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["channel_subscriptions.id"],
            name=op.f("fk_jira_webhooks_subscription_id_channel_subscriptions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jira_webhooks")),
    )
    op.create_index(op.f("ix_jira_webhooks_tenant_id"), "jira_webhooks", ["tenant_id"])
    op.create_index(op.f("ix_jira_webhooks_subscription_id"), "jira_webhooks", ["subscription_id"])
    op.create_index(op.f("ix_jira_webhooks_jira_webhook_id"), "jira_webhooks", ["jira_webhook_id"])
    op.create_index(op.f("ix_jira_webhooks_expires_at"), "jira_webhooks", ["expires_at"])
    op.create_table(
        "inbox_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("delivery_id", sa.String(length=128), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("issue_key", sa.String(length=64), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("delivered", sa.JSON(), nullable=True),
        sa.Column("claimed_by", sa.String(length=128), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("available_at", sa.DateTime(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.String(length=255), nullable=True),
        _tenant_fk("inbox_events"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox_events")),
        sa.UniqueConstraint("delivery_id", name=op.f("uq_inbox_events_delivery_id")),
    )
    op.create_index("ix_inbox_events_pending", "inbox_events", ["status", "id"])
    op.create_index("ix_inbox_events_issue", "inbox_events", ["tenant_id", "issue_key", "status"])
    op.create_index(op.f("ix_inbox_events_done_at"), "inbox_events", ["done_at"])
    op.create_table(
        "channel_threads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("issue_key", sa.String(length=64), nullable=False),
        sa.Column("message_ts", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        _tenant_fk("channel_threads"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_threads")),
        sa.UniqueConstraint("team_id", "channel_id", "issue_key", name=op.f("uq_channel_threads_team_id")),
    )
    op.create_index(op.f("ix_channel_threads_tenant_id"), "channel_threads", ["tenant_id"])


def downgrade() -> None:
    op.drop_table("channel_threads")
    op.drop_table("inbox_events")
    op.drop_table("jira_webhooks")
    op.drop_table("channel_subscriptions")
    op.drop_table("webhook_endpoints")
