"""Per-workspace unfurl policy: whether issues with a security level unfurl in full.

Revision ID: 0006
Revises: 0004
Create Date: 2026-11-29 16:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "unfurl_settings",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("full_restricted", sa.Boolean(), nullable=False),
        sa.Column("updated_by", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenant_installs.id"],
            name=op.f("fk_unfurl_settings_tenant_id_tenant_installs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_unfurl_settings")),
    )


def downgrade() -> None:
    op.drop_table("unfurl_settings")
