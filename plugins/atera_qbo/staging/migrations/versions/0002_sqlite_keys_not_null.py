"""SQLite only: single-column TEXT primary keys become NOT NULL, as on PostgreSQL and as ``tables.py`` declares.

``schema.sql`` declared them ``TEXT PRIMARY KEY``, which SQLite (unlike every other database) lets hold NULL.
SQLite cannot alter a column, so each such table is rebuilt with Alembic's batch mode (copy the rows into the new
shape, swap); a NULL key stops the migration with a message, before anything is changed.

Revision ID: 0002_sqlite_keys_not_null
Revises: 0001_baseline
Create Date: 2026-11-27
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

revision = "0002_sqlite_keys_not_null"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None


# The baseline's tables with a single-column TEXT key (only ours: the database may hold other applications' tables).
TABLES = ("stg_atera_customers", "stg_atera_contacts", "stg_atera_contracts", "stg_atera_invoices",
          "stg_qbo_customers", "stg_qbo_items", "stg_qbo_accounts", "stg_qbo_tax_codes", "stg_qbo_tax_rates",
          "stg_qbo_terms", "stg_qbo_preferences", "map_customers", "map_products", "match_plans", "export_batches",
          "export_invoices", "oauth_tokens", "sync_watermarks", "sync_runs", "stg_qbo_payments", "recon_runs",
          "recon_findings", "qbo_connection_events")


def _nullable_keys(bind: sa.Connection) -> dict[str, str]:
    inspector = sa.inspect(bind)
    found = {}
    for name in TABLES:
        key = inspector.get_pk_constraint(name)["constrained_columns"]
        if len(key) == 1 and next(c for c in inspector.get_columns(name) if c["name"] == key[0])["nullable"]:
            found[name] = key[0]
    return found


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite" or context.is_offline_mode():
        return  # offline (``--sql``): tables the baseline made have NOT NULL keys already
    keys = _nullable_keys(bind)
    for name, column in keys.items():
        nulls = bind.execute(sa.select(sa.func.count()).select_from(sa.table(name, sa.column(column)))
                             .where(sa.column(column).is_(None))).scalar()
        if nulls:
            raise RuntimeError(f"staging table {name} has {nulls} row(s) with a NULL {column}: delete them "
                               f"(DELETE FROM {name} WHERE {column} IS NULL), then run the migration again")
    for name, column in keys.items():
        with op.batch_alter_table(name, recreate="always") as batch:
            batch.alter_column(column, existing_type=sa.Text(), nullable=False)


def downgrade() -> None:
    pass  # NOT NULL keys are what the schema meant all along: nothing to undo
