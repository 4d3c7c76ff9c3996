"""Notifications (``atera_qbo.notify``): what was told about what, on which channel (``notify_items``: a thing is
told again only when it changes or comes back after it was closed), and every message decided on, sent or not
(``notify_messages``: the failure storm limit and the audit trail).

Revision ID: 0009_notifications
Revises: 0008_token_expiry_and_metering
Create Date: 2026-12-06
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_notifications"
down_revision = "0008_token_expiry_and_metering"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notify_items",
        sa.Column("item_key", sa.Text, primary_key=True),
        sa.Column("channel", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("label", sa.Text),
        sa.Column("first_told_at", sa.TIMESTAMP, nullable=False),
        sa.Column("last_told_at", sa.TIMESTAMP, nullable=False),
        sa.Column("closed_at", sa.TIMESTAMP),
    )
    op.create_index("ix_notify_items_open", "notify_items", ["kind", "closed_at"])
    op.create_table(
        "notify_messages",
        sa.Column("message_id", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("dag_id", sa.Text),
        sa.Column("run_id", sa.Text),
        sa.Column("task_id", sa.Text),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("subject", sa.Text),
        sa.Column("channel", sa.Text),
        sa.Column("items", sa.Integer),
        sa.Column("error_text", sa.Text),
        sa.Column("created_at", sa.TIMESTAMP, nullable=False),
    )
    op.create_index("ix_notify_messages_run", "notify_messages", ["dag_id", "run_id"])
    op.create_index("ix_notify_messages_kind", "notify_messages", ["kind", "dag_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_notify_messages_kind", "notify_messages")
    op.drop_index("ix_notify_messages_run", "notify_messages")
    op.drop_table("notify_messages")
    op.drop_index("ix_notify_items_open", "notify_items")
    op.drop_table("notify_items")
