"""Connect to QuickBooks from the browser (``oauth_states``): each OAuth ``state`` the Connect page handed to
Intuit, bound to the user who started it, used once (the callback marks it), valid ten minutes; a grant for another
company than the staged one waits there, encrypted, until the user confirms it is a new company.

Revision ID: 0010_oauth_states
Revises: 0009_notifications
Create Date: 2026-12-06
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_oauth_states"
down_revision = "0009_notifications"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oauth_states",
        sa.Column("state", sa.Text, primary_key=True),
        sa.Column("user_name", sa.Text, nullable=False),
        sa.Column("created_at", sa.TIMESTAMP, nullable=False),
        sa.Column("used_at", sa.TIMESTAMP),
        sa.Column("pending_realm", sa.Text),  # a grant for another company, held until the user confirms it
        sa.Column("pending_grant", sa.Text),  # its token answer, encrypted like the token store
    )


def downgrade() -> None:
    op.drop_table("oauth_states")
