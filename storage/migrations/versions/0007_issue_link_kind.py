"""Issue links say how the message met its issue: created from it, or added to an existing one.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 16:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("issue_links") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="created"))


def downgrade() -> None:
    with op.batch_alter_table("issue_links") as batch:
        batch.drop_column("kind")
