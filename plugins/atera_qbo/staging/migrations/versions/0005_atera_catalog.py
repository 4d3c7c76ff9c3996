"""Atera's catalog following QBO's: ``catalog_master`` (from when QBO is the master), the replacement's
``atera_catalog_steps``, ``atera_catalog_state`` (what was last written to each Atera product) and
``atera_catalog_snapshots`` (every removed product, whole, for restore).

Revision ID: 0005_atera_catalog
Revises: 0004_mapping_provenance
Create Date: 2026-11-27
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_atera_catalog"
down_revision = "0004_mapping_provenance"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "catalog_master", sa.Column("catalog", sa.Text, primary_key=True),
        sa.Column("master", sa.Text, nullable=False), sa.Column("since", sa.TIMESTAMP, nullable=False),
        sa.Column("plan_id", sa.Text))
    op.create_table(
        "atera_catalog_steps", sa.Column("plan_id", sa.Text, primary_key=True),
        sa.Column("step_key", sa.Text, primary_key=True), sa.Column("action", sa.Text, nullable=False),
        *(sa.Column(n, sa.Text) for n in ("atera_id", "qbo_id", "name", "body_json")),
        sa.Column("status", sa.Text, nullable=False), sa.Column("error_text", sa.Text),
        sa.Column("updated_at", sa.TIMESTAMP, nullable=False))
    op.create_table(
        "atera_catalog_state", sa.Column("atera_id", sa.Text, primary_key=True), sa.Column("qbo_id", sa.Text),
        sa.Column("fields_json", sa.Text, nullable=False), sa.Column("plan_id", sa.Text),
        sa.Column("written_at", sa.TIMESTAMP, nullable=False))
    op.create_table(
        "atera_catalog_snapshots", sa.Column("plan_id", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, primary_key=True), sa.Column("source_id", sa.Text, primary_key=True),
        sa.Column("record_json", sa.Text, nullable=False), sa.Column("taken_at", sa.TIMESTAMP, nullable=False),
        sa.Column("restored_as", sa.Text), sa.Column("restored_at", sa.TIMESTAMP))


def downgrade() -> None:
    for name in ("atera_catalog_snapshots", "atera_catalog_state", "atera_catalog_steps", "catalog_master"):
        op.drop_table(name)
