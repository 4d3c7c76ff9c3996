"""Overrides versions saved by the finance wizard's "Done" (``review_overrides``).

Revision ID: 0006_review_overrides
Revises: 0005_atera_catalog
Create Date: 2026-11-27
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_review_overrides"
down_revision = "0005_atera_catalog"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "review_overrides",
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("created_at", sa.TIMESTAMP, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("decisions", sa.Integer, nullable=False),
        sa.Column("csv_text", sa.Text, nullable=False),
        sa.Column("file_path", sa.Text),
        sa.Column("dag_run_id", sa.Text),
    )


def downgrade() -> None:
    op.drop_table("review_overrides")
