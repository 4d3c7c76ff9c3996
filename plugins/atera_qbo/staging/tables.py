"""The staging schema, declared once as SQLAlchemy Core tables: staging copies of both vendors' records, the
mappings, the match plans, the export ledger and the bookkeeping tables. Alembic revisions (``migrations/``) bring
a database to this shape; ``tests/staging/test_migrations.py`` checks that they do (no difference left).

Every source record keeps its id in ``source_id``; records that disappear or become inactive stay, flagged
(``deleted_at`` / ``active``). ``raw_json`` keeps the record as the API returned it. Money columns are ``Money``
(exact ``Decimal``; see its docstring for what SQL may do with them).
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import Boolean, Column, Integer, Text

from .types import Double, Money

metadata = sa.MetaData()

TS = sa.TIMESTAMP()  # naive UTC (``utcnow``)


def _key(name: str = "source_id") -> Column[Any]:
    return Column(name, Text, primary_key=True)


def _id_part(name: str) -> Column[Any]:
    return Column(name, Text, primary_key=True)


def _text(*names: str) -> list[Column[Any]]:
    return [Column(n, Text) for n in names]


def _tail(*, flags: bool = True, raw: bool = True, deleted: bool = True) -> list[Column[Any]]:
    """The bookkeeping columns most staging tables end with."""
    cols: list[Column[Any]] = [Column("quality_flags", Text)] if flags else []
    if raw:
        cols.append(Column("raw_json", Text))
    cols.append(Column("extracted_at", TS, nullable=False))
    if deleted:
        cols.append(Column("deleted_at", TS))
    return cols


# ------------------------------------------------------------------------------------------------- Atera
stg_atera_customers = sa.Table(
    "stg_atera_customers", metadata, _key(),
    *_text("name", "business_number", "domain", "address", "city", "state", "country", "zip_code", "phone",
           "created_on", "last_modified"),
    *_tail())

stg_atera_contacts = sa.Table(
    "stg_atera_contacts", metadata, _key(),
    *_text("customer_id", "email", "first_name", "last_name"),
    Column("is_contact_person", Boolean), Column("last_modified", Text),
    *_tail())

# kind: product | expense | rate (contract rates, assembled from contracts)
stg_atera_products = sa.Table(
    "stg_atera_products", metadata, _id_part("kind"), _id_part("source_id"),
    *_text("name", "sku", "category"), Column("amount", Money),
    *_tail())

stg_atera_contracts = sa.Table(
    "stg_atera_contracts", metadata, _key(),
    *_text("customer_id", "customer_name", "name", "contract_type"),
    Column("active", Boolean), Column("is_default", Boolean), Column("taxable", Boolean),
    *_text("start_date", "end_date"),
    *_tail(flags=False))

# source_id is the Atera invoice number (what users see; it never changes); invoice_uuid is InvoiceId.
stg_atera_invoices = sa.Table(
    "stg_atera_invoices", metadata, _key(),
    *_text("invoice_uuid", "invoice_date", "customer_name", "customer_id", "contract_name", "currency"),
    *(Column(n, Money) for n in ("subtotal", "tax", "total", "tax_percentage")),
    Column("is_adhoc", Boolean), *_text("period_start", "period_end"),
    *_tail(),
    sa.Index("ix_stg_atera_invoices_date", "invoice_date"))

stg_atera_invoice_lines = sa.Table(
    "stg_atera_invoice_lines", metadata, _id_part("invoice_source_id"),
    Column("line_idx", Integer, primary_key=True),
    *_text("product_name", "description"),
    *(Column(n, Money) for n in ("quantity", "rate", "discount_percentage", "tax_percentage", "subtotal", "tax",
                                 "total")),
    Column("extracted_at", TS, nullable=False))

# ---------------------------------------------------------------------------------------------------- QBO
stg_qbo_customers = sa.Table(
    "stg_qbo_customers", metadata, _key(),
    *_text("display_name", "company_name", "fully_qualified_name", "parent_id"),
    Column("is_job", Boolean), Column("active", Boolean), *_text("currency", "email", "phone", "web_addr"),
    Column("balance", Money),
    *_text("sync_token", "last_updated"),
    *_tail(),
    sa.Index("ix_stg_qbo_customers_name", "display_name"))

stg_qbo_items = sa.Table(
    "stg_qbo_items", metadata, _key(),
    *_text("name", "fully_qualified_name", "item_type", "sku"), Column("unit_price", Money),
    Column("taxable", Boolean), Column("active", Boolean),
    *_text("income_account_id", "parent_id", "sync_token", "last_updated"),
    *_tail(),
    sa.Index("ix_stg_qbo_items_name", "name"))

stg_qbo_accounts = sa.Table(
    "stg_qbo_accounts", metadata, _key(),
    *_text("name", "account_type", "account_sub_type"), Column("active", Boolean),
    *_tail(flags=False))

stg_qbo_tax_codes = sa.Table(
    "stg_qbo_tax_codes", metadata, _key(),
    Column("name", Text), Column("taxable", Boolean), Column("active", Boolean),
    *_tail(flags=False))

stg_qbo_tax_rates = sa.Table(
    "stg_qbo_tax_rates", metadata, _key(),
    Column("name", Text), Column("rate_value", Money), Column("active", Boolean),
    *_tail(flags=False))

stg_qbo_terms = sa.Table(
    "stg_qbo_terms", metadata, _key(),
    Column("name", Text), Column("due_days", Integer), Column("active", Boolean),
    *_tail(flags=False))

# Vendor and Employee display names: QBO's DisplayName is unique across customers, vendors and employees, so a
# customer cannot be created under a name a vendor already has (6240). entity: Vendor | Employee
stg_qbo_names = sa.Table(
    "stg_qbo_names", metadata, _id_part("entity"), _id_part("source_id"),
    Column("display_name", Text), Column("active", Boolean),
    *_tail(flags=False, raw=False))

# One row per realm: the company settings the export depends on.
stg_qbo_preferences = sa.Table(
    "stg_qbo_preferences", metadata, _key(),
    Column("country", Text), Column("custom_txn_numbers", Boolean), Column("multi_currency", Boolean),
    Column("home_currency", Text),
    *_tail(flags=False, deleted=False))


# ------------------------------------------------------------------------------- mappings (active = in force)
def _mapping(name: str) -> sa.Table:
    """A mapping table. ``method`` says how the mapping came to be and the provenance columns say from what:
    ``exact`` (same name), ``override`` (``override_file``/``override_sha256``/``override_line``: the overrides
    file row that decided it), ``created`` / ``imported`` (``origin_plan_id``: the commit plan whose step
    created the record). ``plan_id`` is the commit that last (re)activated the row; ``decided_at`` is when its
    provenance was recorded. Only ``staging.mappings`` writes these tables."""
    return sa.Table(
        name, metadata, Column("atera_id", Text, primary_key=True),
        *_text("atera_name", "qbo_id", "qbo_name"), Column("status", Text, nullable=False),
        Column("method", Text), Column("active", Boolean, nullable=False), Column("plan_id", Text),
        Column("updated_at", TS, nullable=False),
        *_text("override_file", "override_sha256"), Column("override_line", Integer),
        Column("origin_plan_id", Text), Column("decided_at", TS))


map_customers = _mapping("map_customers")
# atera_id keeps its kind: product:17, rate:4, expense:9
map_products = _mapping("map_products")

# A commit ("Done") is planned first, then executed step by step; each step is idempotent (request_id).
match_plans = sa.Table(
    "match_plans", metadata, Column("plan_id", Text, primary_key=True),
    Column("created_at", TS, nullable=False), Column("finished_at", TS), Column("status", Text, nullable=False),
    Column("summary_json", Text))

match_plan_steps = sa.Table(
    "match_plan_steps", metadata, Column("plan_id", Text, primary_key=True),
    Column("step_no", Integer, primary_key=True),
    Column("entity", Text, nullable=False), *_text("atera_id", "qbo_id"), Column("action", Text, nullable=False),
    Column("payload_json", Text), Column("request_id", Text, nullable=False), Column("status", Text, nullable=False),
    *_text("result_id", "error_text"), Column("attempts", Integer, nullable=False),
    Column("updated_at", TS, nullable=False))

# ------------------------------------------------------------------------------------------ export ledger
# One row per export TASK ATTEMPT (an Airflow retry opens a new row with the same run_id and its try_number).
# status: running | done | partial (some invoices blocked/failed) | failed (the attempt stopped: error_text says
# why; a row an attempt could not close — worker killed — is closed failed by the run's next attempt) | dry_run.
export_batches = sa.Table(
    "export_batches", metadata, Column("batch_id", Text, primary_key=True), Column("run_id", Text),
    Column("started_at", TS, nullable=False), Column("finished_at", TS), Column("status", Text, nullable=False),
    Column("params_json", Text),
    *(Column(n, Integer) for n in ("selected_count", "exported_count", "skipped_count", "failed_count",
                                   "try_number")),
    Column("error_text", Text))

# One row per Atera invoice, ever. status: pending | exported | failed | blocked. qbo_type: Invoice | CreditMemo.
# attempts counts sends; failures counts answers that were faults (it is part of the request id, so a fixed
# invoice is not answered with QBO's replay of its old fault, while a send whose answer was lost is replayed).
export_invoices = sa.Table(
    "export_invoices", metadata, Column("atera_invoice_number", Text, primary_key=True),
    Column("batch_id", Text, nullable=False), Column("status", Text, nullable=False),
    *_text("qbo_id", "qbo_doc_number"), Column("request_id", Text, nullable=False), Column("payload_hash", Text),
    Column("total", Money), Column("error_text", Text), Column("attempts", Integer, nullable=False),
    Column("failures", Integer), Column("qbo_type", Text),
    *(Column(n, TS) for n in ("first_attempt_at", "last_attempt_at", "exported_at")),
    sa.Index("ix_export_invoices_batch", "batch_id"))

# ------------------------------------------------------------------------------------------- bookkeeping
oauth_tokens = sa.Table(
    "oauth_tokens", metadata, Column("realm_id", Text, primary_key=True),
    Column("refresh_token", Text, nullable=False), Column("access_token", Text),
    Column("access_expires_at", Double, nullable=False), Column("version", Integer, nullable=False),
    Column("lease_owner", Text), Column("lease_until", Double, nullable=False),
    Column("updated_at", TS, nullable=False),
    # epoch seconds: the refresh token's rolling expiry (renewed by each rotation) and the grant's hard end
    Column("refresh_expires_at", Double), Column("refresh_hard_expires_at", Double))

# Connect from the browser: each OAuth state handed to Intuit, bound to its user, used once, valid ten minutes.
oauth_states = sa.Table(
    "oauth_states", metadata, Column("state", Text, primary_key=True), Column("user_name", Text, nullable=False),
    Column("created_at", TS, nullable=False), Column("used_at", TS),
    Column("pending_realm", Text), Column("pending_grant", Text))

# The QBO calls of each task run, as Intuit meters them: reads and queries are metered, writes are not.
qbo_api_usage = sa.Table(
    "qbo_api_usage", metadata, Column("usage_id", Text, primary_key=True), Column("realm_id", Text, nullable=False),
    *_text("dag_id", "run_id", "task_id"), Column("reads", Integer, nullable=False),
    Column("writes", Integer, nullable=False), Column("recorded_at", TS, nullable=False),
    sa.Index("ix_qbo_api_usage_realm", "realm_id", "recorded_at"))

sync_watermarks = sa.Table(
    "sync_watermarks", metadata, Column("entity", Text, primary_key=True), Column("watermark", Text),
    Column("updated_at", TS, nullable=False))

# ---------------------------------------------------------------------------------------------- reconciliation
# The QBO invoices / credit memos the export created, as reconciliation last read them (CDC keeps them current).
# status: active | voided | deleted. line_sig: the lines as "item|qty|unit|amount;..." ("lines changed" compares it).
stg_qbo_transactions = sa.Table(
    "stg_qbo_transactions", metadata, _id_part("qbo_type"), _id_part("source_id"),
    *_text("doc_number", "customer_id", "customer_name", "txn_date", "due_date"),
    Column("total", Money), Column("balance", Money), Column("status", Text, nullable=False),
    *_text("line_sig", "sync_token", "last_updated"),
    *_tail(flags=False, deleted=False))

# Payments touching those transactions: links_json = [["Invoice", "77", "125.00"], ...].
stg_qbo_payments = sa.Table(
    "stg_qbo_payments", metadata, _key(),
    Column("txn_date", Text), Column("total", Money), Column("links_json", Text),
    *_tail(flags=False, raw=False))

# What an exported transaction looked like when reconciliation first read it ("changed" compares with this).
recon_baselines = sa.Table(
    "recon_baselines", metadata, _id_part("qbo_type"), _id_part("source_id"),
    *_text("doc_number", "customer_id", "customer_name"), Column("total", Money), Column("line_sig", Text),
    Column("taken_at", TS, nullable=False))

recon_runs = sa.Table(
    "recon_runs", metadata, Column("run_id", Text, primary_key=True),
    Column("started_at", TS, nullable=False), Column("finished_at", TS),
    *_text("date_from", "date_to", "finding_types", "counts_json", "report_path"),
    Column("status", Text, nullable=False))

# One row per finding ever: a finding seen again keeps first_seen; one no longer seen gets resolved_at.
recon_findings = sa.Table(
    "recon_findings", metadata, Column("finding_key", Text, primary_key=True),
    Column("type", Text, nullable=False), Column("severity", Text, nullable=False),
    *_text("entity", "atera_id", "atera_name", "qbo_id", "qbo_name", "detail", "qbo_link", "action"),
    Column("first_seen", TS, nullable=False), Column("last_seen", TS, nullable=False),
    *_text("first_run_id", "last_run_id"), Column("resolved_at", TS),
    sa.Index("ix_recon_findings_open", "resolved_at", "type"))

# Connection history of a realm (disconnect / reconnect): who, when; the seed token only as a fingerprint.
qbo_connection_events = sa.Table(
    "qbo_connection_events", metadata, Column("event_id", Text, primary_key=True),
    Column("realm_id", Text, nullable=False), Column("event", Text, nullable=False),
    Column("at", TS, nullable=False), *_text("actor", "seed_fingerprint", "detail"),
    sa.Index("ix_qbo_connection_events_realm", "realm_id", "at"))

# ---------------------------------------------------------------------- Atera's catalog following QBO's
# One row per catalog handed to QBO (the first replace_atera_catalog commit): from then on QBO is the master.
catalog_master = sa.Table(
    "catalog_master", metadata, Column("catalog", Text, primary_key=True), Column("master", Text, nullable=False),
    Column("since", TS, nullable=False), Column("plan_id", Text))

# The steps of a replacement (or of a follow-up after a catalog sync), persisted before each is sent.
# step_key: "<action>:<atera id>" or "create:qbo:<item id>"; status: pending | done | failed.
atera_catalog_steps = sa.Table(
    "atera_catalog_steps", metadata, Column("plan_id", Text, primary_key=True),
    Column("step_key", Text, primary_key=True), Column("action", Text, nullable=False),
    *_text("atera_id", "qbo_id", "name", "body_json"), Column("status", Text, nullable=False),
    Column("error_text", Text), Column("updated_at", TS, nullable=False))

# What was last written to each Atera product (fields_json: Description/Amount/SKU): an Atera-side edit shows.
atera_catalog_state = sa.Table(
    "atera_catalog_state", metadata, Column("atera_id", Text, primary_key=True), Column("qbo_id", Text),
    Column("fields_json", Text, nullable=False), Column("plan_id", Text), Column("written_at", TS, nullable=False))

# Every Atera product/expense a replacement removed, whole (record_json: the API's record), for restore.
atera_catalog_snapshots = sa.Table(
    "atera_catalog_snapshots", metadata, Column("plan_id", Text, primary_key=True),
    _id_part("kind"), _id_part("source_id"), Column("record_json", Text, nullable=False),
    Column("taken_at", TS, nullable=False), Column("restored_as", Text), Column("restored_at", TS))

# Finance's decisions saved by the wizard's "Done" (the Airflow plugin, ``webui/``): one row per overrides version,
# the overrides CSV itself, who saved it and when, and the matching run it started.
review_overrides = sa.Table(
    "review_overrides", metadata, Column("version", Integer, primary_key=True, autoincrement=True),
    Column("created_at", TS, nullable=False), Column("created_by", Text, nullable=False),
    Column("decisions", Integer, nullable=False), Column("csv_text", Text, nullable=False),
    *_text("file_path", "dag_run_id"))

# ---------------------------------------------------------------------------------------------- notifications
# What the notifications told, one row per thing told about and channel (``atera_qbo.notify``; channel ``email`` or
# ``slack``, ``*`` for a DAG's failure window): a reconciliation finding, an invoice an export blocked or failed, an
# expiring token or a disconnected company. ``state`` is what was told (a severity; a status and a digest of the
# reason; an expiry date and stage): told again on that channel only when it changes, or after it was closed
# (resolved, renewed, exported) and came back; a channel that was down is told what it missed.
notify_items = sa.Table(
    "notify_items", metadata, Column("item_key", Text, primary_key=True), Column("channel", Text, primary_key=True),
    Column("kind", Text, nullable=False), Column("state", Text, nullable=False), Column("label", Text),
    Column("first_told_at", TS, nullable=False), Column("last_told_at", TS, nullable=False),
    Column("closed_at", TS),
    sa.Index("ix_notify_items_open", "kind", "closed_at"))

# Every message a notifying step decided on, one row per channel it went to, sent or not. status: sent (the
# channel took it) | failed (it did not: error_text says why) | unchanged (nothing new to tell; no channel) |
# throttled (a failure inside its DAG's hour; no channel).
notify_messages = sa.Table(
    "notify_messages", metadata, Column("message_id", Text, primary_key=True), Column("kind", Text, nullable=False),
    *_text("dag_id", "run_id", "task_id"), Column("status", Text, nullable=False), *_text("subject", "channel"),
    Column("items", Integer), Column("error_text", Text), Column("created_at", TS, nullable=False),
    sa.Index("ix_notify_messages_run", "dag_id", "run_id"),
    sa.Index("ix_notify_messages_kind", "kind", "dag_id", "created_at"))

# ------------------------------------------------------------------------------------------------- companies
# Which company this database holds (one row; ``staging.identity``): every row of every other table is that
# company's. A database from before companies, with rows in it, is stamped ``default`` by its migration (0011).
company_identity = sa.Table(
    "company_identity", metadata, Column("company_id", Text, primary_key=True),
    Column("stamped_at", TS, nullable=False), Column("how", Text, nullable=False))

# Where each customer of the Atera account went (``extract.routing``): ``routed_to`` this company, another one
# (then only a digest of its name is kept here: ``name_key``), or nobody (``routed_to`` NULL; ``reason`` says why,
# and the wizard and the reconciliation report it: its invoices are never exported).
atera_customer_routes = sa.Table(
    "atera_customer_routes", metadata, _key(), Column("routed_to", Text), Column("name_key", Text, nullable=False),
    *_text("name", "country", "rule_value", "reason"), Column("seen_at", TS, nullable=False),
    sa.Index("ix_atera_customer_routes_name_key", "name_key"))
