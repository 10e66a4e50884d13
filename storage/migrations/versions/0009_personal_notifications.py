"""Personal notifications: each linked user's switches, and the direct messages waiting out their
grouping window.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 17:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
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
        "personal_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("slack_user_id", sa.String(length=32), nullable=False),
        sa.Column("kinds_off", sa.JSON(), nullable=False),
        sa.Column("jira_name", sa.String(length=255), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        _tenant_fk("personal_settings"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_personal_settings")),
        sa.UniqueConstraint("team_id", "slack_user_id", name=op.f("uq_personal_settings_team_id")),
    )
    op.create_index(op.f("ix_personal_settings_tenant_id"), "personal_settings", ["tenant_id"])
    op.create_table(
        "personal_pending_dms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("slack_user_id", sa.String(length=32), nullable=False),
        sa.Column("issue_key", sa.String(length=64), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("first_at", sa.DateTime(), nullable=False),
        sa.Column("claimed_by", sa.String(length=128), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _tenant_fk("personal_pending_dms"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_personal_pending_dms")),
    )
    op.create_index(
        "ix_personal_pending_dms_open",
        "personal_pending_dms",
        ["team_id", "slack_user_id", "issue_key", "claimed_by"],
    )
    op.create_index("ix_personal_pending_dms_due", "personal_pending_dms", ["due_at"])


def downgrade() -> None:
    op.drop_index("ix_personal_pending_dms_due", table_name="personal_pending_dms")
    op.drop_index("ix_personal_pending_dms_open", table_name="personal_pending_dms")
    op.drop_table("personal_pending_dms")
    op.drop_index(op.f("ix_personal_settings_tenant_id"), table_name="personal_settings")
    op.drop_table("personal_settings")
