"""Several companies in one deployment: ``company_identity`` says which company a staging database holds, and
``atera_customer_routes`` where each customer of a shared Atera account went. A database from before (any row in
its ledger, staging, tokens or mappings) is adopted, with all its rows, as the company ``default``.

Revision ID: 0011_companies
Revises: 0010_oauth_states
Create Date: 2026-12-06
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_companies"
down_revision = "0010_oauth_states"
branch_labels = None
depends_on = None

# A database with a row in any of these was a single company's: it becomes company ``default``.
HELD_DATA = ("export_invoices", "export_batches", "oauth_tokens", "stg_atera_customers", "stg_qbo_customers",
             "map_customers", "map_products", "review_overrides", "qbo_connection_events")


def upgrade() -> None:
    op.create_table(
        "company_identity",
        sa.Column("company_id", sa.Text, primary_key=True),
        sa.Column("stamped_at", sa.TIMESTAMP, nullable=False),
        sa.Column("how", sa.Text, nullable=False),
    )
    op.create_table(
        "atera_customer_routes",
        sa.Column("source_id", sa.Text, primary_key=True),
        sa.Column("routed_to", sa.Text),
        sa.Column("name_key", sa.Text, nullable=False),
        sa.Column("name", sa.Text),
        sa.Column("country", sa.Text),
        sa.Column("rule_value", sa.Text),
        sa.Column("reason", sa.Text),
        sa.Column("seen_at", sa.TIMESTAMP, nullable=False),
    )
    op.create_index("ix_atera_customer_routes_name_key", "atera_customer_routes", ["name_key"])
    # one statement, so that the SQL printed for a DBA (``upgrade --sql``) adopts the same way
    now = "CURRENT_TIMESTAMP AT TIME ZONE 'UTC'" if op.get_context().dialect.name == "postgresql" \
        else "CURRENT_TIMESTAMP"  # SQLite's is UTC already
    held = " OR ".join(f"EXISTS (SELECT 1 FROM {name})" for name in HELD_DATA)  # names: this module's
    op.execute(f"INSERT INTO company_identity (company_id, stamped_at, how) SELECT 'default', {now}, "
               f"'adopted by migration 0011: the single-company database of before' WHERE {held}")


def downgrade() -> None:
    op.drop_index("ix_atera_customer_routes_name_key", "atera_customer_routes")
    op.drop_table("atera_customer_routes")
    op.drop_table("company_identity")
