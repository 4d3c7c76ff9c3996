"""Baseline: the staging schema as the templated ``schema.sql`` (schema version 1, its last state) made it.

On an empty database this creates every table. On a database made by that code it ADOPTS what is there: tables
and indexes that exist are kept with their rows; a table, column or index that is missing (a database made by an
older ``schema.sql``, before the additive columns) is added, nullable, exactly as the old ``apply_schema`` did.
Nothing is dropped, renamed or rewritten. The table shapes below are frozen history: never edit them; change the
schema with a new revision (see ``atera_qbo/staging/__init__.py``).

Revision ID: 0001_baseline
Revises:
Create Date: 2026-11-27
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import context, op

from atera_qbo.staging.types import Double, Money

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None

T, I, B, TS, M, F = sa.Text, sa.Integer, sa.Boolean, sa.TIMESTAMP, Money, Double  # noqa: E741 - one-letter types keep the frozen baseline's columns one per line
PK, NN = "pk", "not null"

TABLES: dict[str, list[tuple[Any, ...]]] = {
    "schema_version": [
        ("version", I, PK), ("applied_at", TS, NN)],
    "stg_atera_customers": [
        ("source_id", T, PK), ("name", T), ("business_number", T), ("domain", T), ("address", T), ("city", T),
        ("state", T), ("country", T), ("zip_code", T), ("phone", T), ("created_on", T), ("last_modified", T),
        ("quality_flags", T), ("raw_json", T), ("extracted_at", TS, NN), ("deleted_at", TS)],
    "stg_atera_contacts": [
        ("source_id", T, PK), ("customer_id", T), ("email", T), ("first_name", T), ("last_name", T),
        ("is_contact_person", B), ("last_modified", T), ("quality_flags", T), ("raw_json", T),
        ("extracted_at", TS, NN), ("deleted_at", TS)],
    "stg_atera_products": [
        ("kind", T, PK), ("source_id", T, PK), ("name", T), ("sku", T), ("category", T), ("amount", M),
        ("quality_flags", T), ("raw_json", T), ("extracted_at", TS, NN), ("deleted_at", TS)],
    "stg_atera_contracts": [
        ("source_id", T, PK), ("customer_id", T), ("customer_name", T), ("name", T), ("contract_type", T),
        ("active", B), ("is_default", B), ("taxable", B), ("start_date", T), ("end_date", T), ("raw_json", T),
        ("extracted_at", TS, NN), ("deleted_at", TS)],
    "stg_atera_invoices": [
        ("source_id", T, PK), ("invoice_uuid", T), ("invoice_date", T), ("customer_name", T), ("customer_id", T),
        ("contract_name", T), ("currency", T), ("subtotal", M), ("tax", M), ("total", M), ("tax_percentage", M),
        ("is_adhoc", B), ("period_start", T), ("period_end", T), ("quality_flags", T), ("raw_json", T),
        ("extracted_at", TS, NN), ("deleted_at", TS)],
    "stg_atera_invoice_lines": [
        ("invoice_source_id", T, PK), ("line_idx", I, PK), ("product_name", T), ("description", T), ("quantity", M),
        ("rate", M), ("discount_percentage", M), ("tax_percentage", M), ("subtotal", M), ("tax", M), ("total", M),
        ("extracted_at", TS, NN)],
    "stg_qbo_customers": [
        ("source_id", T, PK), ("display_name", T), ("company_name", T), ("fully_qualified_name", T),
        ("parent_id", T), ("is_job", B), ("active", B), ("currency", T), ("email", T), ("balance", M),
        ("sync_token", T), ("last_updated", T), ("quality_flags", T), ("raw_json", T), ("extracted_at", TS, NN),
        ("deleted_at", TS)],
    "stg_qbo_items": [
        ("source_id", T, PK), ("name", T), ("fully_qualified_name", T), ("item_type", T), ("sku", T),
        ("unit_price", M), ("taxable", B), ("active", B), ("income_account_id", T), ("parent_id", T),
        ("sync_token", T), ("last_updated", T), ("quality_flags", T), ("raw_json", T), ("extracted_at", TS, NN),
        ("deleted_at", TS)],
    "stg_qbo_accounts": [
        ("source_id", T, PK), ("name", T), ("account_type", T), ("account_sub_type", T), ("active", B),
        ("raw_json", T), ("extracted_at", TS, NN), ("deleted_at", TS)],
    "stg_qbo_tax_codes": [
        ("source_id", T, PK), ("name", T), ("taxable", B), ("active", B), ("raw_json", T), ("extracted_at", TS, NN),
        ("deleted_at", TS)],
    "stg_qbo_tax_rates": [
        ("source_id", T, PK), ("name", T), ("rate_value", M), ("active", B), ("raw_json", T),
        ("extracted_at", TS, NN), ("deleted_at", TS)],
    "stg_qbo_terms": [
        ("source_id", T, PK), ("name", T), ("due_days", I), ("active", B), ("raw_json", T), ("extracted_at", TS, NN),
        ("deleted_at", TS)],
    "stg_qbo_names": [
        ("entity", T, PK), ("source_id", T, PK), ("display_name", T), ("active", B), ("extracted_at", TS, NN),
        ("deleted_at", TS)],
    "stg_qbo_preferences": [
        ("source_id", T, PK), ("country", T), ("custom_txn_numbers", B), ("multi_currency", B), ("home_currency", T),
        ("raw_json", T), ("extracted_at", TS, NN)],
    "map_customers": [
        ("atera_id", T, PK), ("atera_name", T), ("qbo_id", T), ("qbo_name", T), ("status", T, NN), ("method", T),
        ("active", B, NN), ("plan_id", T), ("updated_at", TS, NN)],
    "map_products": [
        ("atera_id", T, PK), ("atera_name", T), ("qbo_id", T), ("qbo_name", T), ("status", T, NN), ("method", T),
        ("active", B, NN), ("plan_id", T), ("updated_at", TS, NN)],
    "match_plans": [
        ("plan_id", T, PK), ("created_at", TS, NN), ("finished_at", TS), ("status", T, NN), ("summary_json", T)],
    "match_plan_steps": [
        ("plan_id", T, PK), ("step_no", I, PK), ("entity", T, NN), ("atera_id", T), ("qbo_id", T), ("action", T, NN),
        ("payload_json", T), ("request_id", T, NN), ("status", T, NN), ("result_id", T), ("error_text", T),
        ("attempts", I, NN), ("updated_at", TS, NN)],
    "export_batches": [
        ("batch_id", T, PK), ("run_id", T), ("started_at", TS, NN), ("finished_at", TS), ("status", T, NN),
        ("params_json", T), ("selected_count", I), ("exported_count", I), ("skipped_count", I), ("failed_count", I),
        ("try_number", I), ("error_text", T)],
    "export_invoices": [
        ("atera_invoice_number", T, PK), ("batch_id", T, NN), ("status", T, NN), ("qbo_id", T),
        ("qbo_doc_number", T), ("request_id", T, NN), ("payload_hash", T), ("total", M), ("error_text", T),
        ("attempts", I, NN), ("failures", I), ("qbo_type", T), ("first_attempt_at", TS), ("last_attempt_at", TS),
        ("exported_at", TS)],
    "oauth_tokens": [
        ("realm_id", T, PK), ("refresh_token", T, NN), ("access_token", T), ("access_expires_at", F, NN),
        ("version", I, NN), ("lease_owner", T), ("lease_until", F, NN), ("updated_at", TS, NN)],
    "sync_watermarks": [
        ("entity", T, PK), ("watermark", T), ("updated_at", TS, NN)],
    "sync_runs": [
        ("run_key", T, PK), ("dag_id", T, NN), ("started_at", TS, NN), ("finished_at", TS), ("summary_json", T)],
    "stg_qbo_transactions": [
        ("qbo_type", T, PK), ("source_id", T, PK), ("doc_number", T), ("customer_id", T), ("customer_name", T),
        ("txn_date", T), ("due_date", T), ("total", M), ("balance", M), ("status", T, NN), ("line_sig", T),
        ("sync_token", T), ("last_updated", T), ("raw_json", T), ("extracted_at", TS, NN)],
    "stg_qbo_payments": [
        ("source_id", T, PK), ("txn_date", T), ("total", M), ("links_json", T), ("extracted_at", TS, NN),
        ("deleted_at", TS)],
    "recon_baselines": [
        ("qbo_type", T, PK), ("source_id", T, PK), ("doc_number", T), ("customer_id", T), ("customer_name", T),
        ("total", M), ("line_sig", T), ("taken_at", TS, NN)],
    "recon_runs": [
        ("run_id", T, PK), ("started_at", TS, NN), ("finished_at", TS), ("date_from", T), ("date_to", T),
        ("finding_types", T), ("counts_json", T), ("report_path", T), ("status", T, NN)],
    "recon_findings": [
        ("finding_key", T, PK), ("type", T, NN), ("severity", T, NN), ("entity", T), ("atera_id", T),
        ("atera_name", T), ("qbo_id", T), ("qbo_name", T), ("detail", T), ("qbo_link", T), ("action", T),
        ("first_seen", TS, NN), ("last_seen", TS, NN), ("first_run_id", T), ("last_run_id", T), ("resolved_at", TS)],
    "qbo_connection_events": [
        ("event_id", T, PK), ("realm_id", T, NN), ("event", T, NN), ("at", TS, NN), ("actor", T),
        ("seed_fingerprint", T), ("detail", T)],
}
INDEXES = {"ix_stg_atera_invoices_date": ("stg_atera_invoices", "invoice_date"),
           "ix_export_invoices_batch": ("export_invoices", "batch_id"),
           "ix_stg_qbo_customers_name": ("stg_qbo_customers", "display_name"),
           "ix_stg_qbo_items_name": ("stg_qbo_items", "name"),
           "ix_recon_findings_open": ("recon_findings", "resolved_at", "type"),
           "ix_qbo_connection_events_realm": ("qbo_connection_events", "realm_id", "at")}


def _column(name: str, type_: Any, flag: str = "") -> sa.Column[Any]:
    return sa.Column(name, type_, primary_key=flag == PK, nullable=flag not in (PK, NN))


def baseline_metadata() -> sa.MetaData:
    """The schema version 1 tables and indexes as SQLAlchemy Core objects."""
    meta = sa.MetaData()
    for name, columns in TABLES.items():
        sa.Table(name, meta, *(_column(*c) for c in columns))
    for index, (table, *names) in INDEXES.items():
        sa.Index(index, *(meta.tables[table].c[c] for c in names))
    return meta


def upgrade() -> None:
    bind = op.get_bind()
    if context.is_offline_mode():  # the SQL for a DBA (``--sql``): it cannot look, so it is for an empty database
        for table in baseline_metadata().sorted_tables:
            table.create(bind)
        return
    inspector = sa.inspect(bind)
    present = set(inspector.get_table_names())
    for table in baseline_metadata().sorted_tables:
        if table.name not in present:
            table.create(bind)  # with its indexes
            continue
        have = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in have:  # what the old additive apply did: a nullable column, rows kept
                op.add_column(table.name, sa.Column(column.name, column.type, nullable=True))
        indexes = {i["name"] for i in inspector.get_indexes(table.name)}
        for index in table.indexes:
            if index.name not in indexes:
                index.create(bind)


def downgrade() -> None:
    raise NotImplementedError("the baseline is not downgraded: it would drop every table. Drop the database "
                              "(or the PostgreSQL schema) instead")
