"""Browser-confirmed links: states remember the browser that opened them, and authorizations wait,
encrypted, for the person in that browser to confirm them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 16:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jira_oauth_states", schema=None) as batch_op:
        batch_op.add_column(sa.Column("browser_hash", sa.String(length=64), nullable=True))

    op.create_table(
        "jira_oauth_confirmations",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("enterprise_id", sa.String(length=32), nullable=True),
        sa.Column("slack_user_id", sa.String(length=32), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("browser_hash", sa.String(length=64), nullable=False),
        sa.Column("result_enc", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("consumed_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_jira_oauth_confirmations")),
    )
    with op.batch_alter_table("jira_oauth_confirmations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_jira_oauth_confirmations_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("jira_oauth_confirmations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_jira_oauth_confirmations_expires_at"))
    op.drop_table("jira_oauth_confirmations")
    with op.batch_alter_table("jira_oauth_states", schema=None) as batch_op:
        batch_op.drop_column("browser_hash")
