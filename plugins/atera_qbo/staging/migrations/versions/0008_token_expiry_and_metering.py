"""QBO refresh tokens' two expiries (``oauth_tokens.refresh_expires_at``: Intuit's rolling 100 days, renewed by each
rotation; ``refresh_hard_expires_at``: the grant's hard end, which no rotation moves), and the QBO calls each task
run made as Intuit meters them (``qbo_api_usage``: reads and queries are metered, writes are not).

Revision ID: 0008_token_expiry_and_metering
Revises: 0007_qbo_customer_contacts
Create Date: 2026-12-06
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from atera_qbo.staging.types import Double

revision = "0008_token_expiry_and_metering"
down_revision = "0007_qbo_customer_contacts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("oauth_tokens", sa.Column("refresh_expires_at", Double))
    op.add_column("oauth_tokens", sa.Column("refresh_hard_expires_at", Double))
    op.create_table(
        "qbo_api_usage",
        sa.Column("usage_id", sa.Text, primary_key=True),
        sa.Column("realm_id", sa.Text, nullable=False),
        sa.Column("dag_id", sa.Text),
        sa.Column("run_id", sa.Text),
        sa.Column("task_id", sa.Text),
        sa.Column("reads", sa.Integer, nullable=False),
        sa.Column("writes", sa.Integer, nullable=False),
        sa.Column("recorded_at", sa.TIMESTAMP, nullable=False),
    )
    op.create_index("ix_qbo_api_usage_realm", "qbo_api_usage", ["realm_id", "recorded_at"])


def downgrade() -> None:
    op.drop_index("ix_qbo_api_usage_realm", "qbo_api_usage")
    op.drop_table("qbo_api_usage")
    with op.batch_alter_table("oauth_tokens") as batch:
        batch.drop_column("refresh_hard_expires_at")
        batch.drop_column("refresh_expires_at")
