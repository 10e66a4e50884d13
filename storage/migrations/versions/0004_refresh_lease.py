"""A short lease per linked account for refreshing its tokens: the Atlassian call is made with no
transaction or row lock held, and one refresh per account runs at a time across processes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 17:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jira_accounts") as batch:
        batch.add_column(sa.Column("refresh_lease_holder", sa.String(64), nullable=True))
        batch.add_column(sa.Column("refresh_lease_expires_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jira_accounts") as batch:
        batch.drop_column("refresh_lease_expires_at")
        batch.drop_column("refresh_lease_holder")
