-- Staging, mapping, ledger and bookkeeping tables. Applied idempotently on SQLite and PostgreSQL by
-- atera_qbo.staging.db.apply_schema, which substitutes the dialect's types for {{money}}, {{ts}}, {{bool}}, {{text}}.
-- Every source record keeps its id in source_id; records that disappear or become inactive stay, flagged
-- (deleted_at / active). raw_json keeps the record as the API returned it.

CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    applied_at {{ts}} NOT NULL
);

-- ---------------------------------------------------------------- Atera
CREATE TABLE IF NOT EXISTS stg_atera_customers (
    source_id TEXT PRIMARY KEY,
    name TEXT,
    business_number TEXT,
    domain TEXT,
    address TEXT,
    city TEXT,
    state TEXT,
    country TEXT,
    zip_code TEXT,
    phone TEXT,
    created_on TEXT,
    last_modified TEXT,
    quality_flags TEXT,
    raw_json {{text}},
    extracted_at {{ts}} NOT NULL,
    deleted_at {{ts}}
);

CREATE TABLE IF NOT EXISTS stg_atera_contacts (
    source_id TEXT PRIMARY KEY,
    customer_id TEXT,
    email TEXT,
    first_name TEXT,
    last_name TEXT,
    is_contact_person {{bool}},
    last_modified TEXT,
    quality_flags TEXT,
    raw_json {{text}},
    extracted_at {{ts}} NOT NULL,
    deleted_at {{ts}}
);

-- kind: product | expense | rate (contract rates, assembled from contracts)
CREATE TABLE IF NOT EXISTS stg_atera_products (
    kind TEXT NOT NULL,
    source_id TEXT NOT NULL,
    name TEXT,
    sku TEXT,
    category TEXT,
    amount {{money}},
    quality_flags TEXT,
    raw_json {{text}},
    extracted_at {{ts}} NOT NULL,
    deleted_at {{ts}},
    PRIMARY KEY (kind, source_id)
);

CREATE TABLE IF NOT EXISTS stg_atera_contracts (
    source_id TEXT PRIMARY KEY,
    customer_id TEXT,
    customer_name TEXT,
    name TEXT,
    contract_type TEXT,
    active {{bool}},
    is_default {{bool}},
    taxable {{bool}},
    start_date TEXT,
    end_date TEXT,
    raw_json {{text}},
    extracted_at {{ts}} NOT NULL,
    deleted_at {{ts}}
);

-- source_id is the Atera invoice number (what users see; it never changes); invoice_uuid is InvoiceId.
CREATE TABLE IF NOT EXISTS stg_atera_invoices (
    source_id TEXT PRIMARY KEY,
    invoice_uuid TEXT,
    invoice_date TEXT,
    customer_name TEXT,
    customer_id TEXT,
    contract_name TEXT,
    currency TEXT,
    subtotal {{money}},
    tax {{money}},
    total {{money}},
    tax_percentage {{money}},
    is_adhoc {{bool}},
    period_start TEXT,
    period_end TEXT,
    quality_flags TEXT,
    raw_json {{text}},
    extracted_at {{ts}} NOT NULL,
    deleted_at {{ts}}
);

CREATE TABLE IF NOT EXISTS stg_atera_invoice_lines (
    invoice_source_id TEXT NOT NULL,
    line_idx INTEGER NOT NULL,
    product_name TEXT,
    description TEXT,
    quantity {{money}},
    rate {{money}},
    discount_percentage {{money}},
    tax_percentage {{money}},
    subtotal {{money}},
    tax {{money}},
    total {{money}},
    extracted_at {{ts}} NOT NULL,
    PRIMARY KEY (invoice_source_id, line_idx)
);

-- ---------------------------------------------------------------- QBO
CREATE TABLE IF NOT EXISTS stg_qbo_customers (
    source_id TEXT PRIMARY KEY,
    display_name TEXT,
    company_name TEXT,
    fully_qualified_name TEXT,
    parent_id TEXT,
    is_job {{bool}},
    active {{bool}},
    currency TEXT,
    email TEXT,
    balance {{money}},
    sync_token TEXT,
    last_updated TEXT,
    quality_flags TEXT,
    raw_json {{text}},
    extracted_at {{ts}} NOT NULL,
    deleted_at {{ts}}
);

CREATE TABLE IF NOT EXISTS stg_qbo_items (
    source_id TEXT PRIMARY KEY,
    name TEXT,
    fully_qualified_name TEXT,
    item_type TEXT,
    sku TEXT,
    unit_price {{money}},
    taxable {{bool}},
    active {{bool}},
    income_account_id TEXT,
    parent_id TEXT,
    sync_token TEXT,
    last_updated TEXT,
    quality_flags TEXT,
    raw_json {{text}},
    extracted_at {{ts}} NOT NULL,
    deleted_at {{ts}}
);

CREATE TABLE IF NOT EXISTS stg_qbo_accounts (
    source_id TEXT PRIMARY KEY,
    name TEXT,
    account_type TEXT,
    account_sub_type TEXT,
    active {{bool}},
    raw_json {{text}},
    extracted_at {{ts}} NOT NULL,
    deleted_at {{ts}}
);

CREATE TABLE IF NOT EXISTS stg_qbo_tax_codes (
    source_id TEXT PRIMARY KEY,
    name TEXT,
    taxable {{bool}},
    active {{bool}},
    raw_json {{text}},
    extracted_at {{ts}} NOT NULL,
    deleted_at {{ts}}
);

CREATE TABLE IF NOT EXISTS stg_qbo_tax_rates (
    source_id TEXT PRIMARY KEY,
    name TEXT,
    rate_value {{money}},
    active {{bool}},
    raw_json {{text}},
    extracted_at {{ts}} NOT NULL,
    deleted_at {{ts}}
);

CREATE TABLE IF NOT EXISTS stg_qbo_terms (
    source_id TEXT PRIMARY KEY,
    name TEXT,
    due_days INTEGER,
    active {{bool}},
    raw_json {{text}},
    extracted_at {{ts}} NOT NULL,
    deleted_at {{ts}}
);

-- Vendor and Employee display names: QBO's DisplayName is unique across customers, vendors and employees, so a
-- customer cannot be created under a name a vendor already has (6240). entity: Vendor | Employee
CREATE TABLE IF NOT EXISTS stg_qbo_names (
    entity TEXT NOT NULL,
    source_id TEXT NOT NULL,
    display_name TEXT,
    active {{bool}},
    extracted_at {{ts}} NOT NULL,
    deleted_at {{ts}},
    PRIMARY KEY (entity, source_id)
);

-- One row per realm: the company settings the export depends on.
CREATE TABLE IF NOT EXISTS stg_qbo_preferences (
    source_id TEXT PRIMARY KEY,
    country TEXT,
    custom_txn_numbers {{bool}},
    multi_currency {{bool}},
    home_currency TEXT,
    raw_json {{text}},
    extracted_at {{ts}} NOT NULL
);

-- ---------------------------------------------------------------- mappings (active = in force)
CREATE TABLE IF NOT EXISTS map_customers (
    atera_id TEXT PRIMARY KEY,
    atera_name TEXT,
    qbo_id TEXT,
    qbo_name TEXT,
    status TEXT NOT NULL,
    method TEXT,
    active {{bool}} NOT NULL,
    plan_id TEXT,
    updated_at {{ts}} NOT NULL
);

-- atera_id keeps its kind: product:17, rate:4, expense:9
CREATE TABLE IF NOT EXISTS map_products (
    atera_id TEXT PRIMARY KEY,
    atera_name TEXT,
    qbo_id TEXT,
    qbo_name TEXT,
    status TEXT NOT NULL,
    method TEXT,
    active {{bool}} NOT NULL,
    plan_id TEXT,
    updated_at {{ts}} NOT NULL
);

-- A commit ("Done") is planned first, then executed step by step; each step is idempotent (request_id).
CREATE TABLE IF NOT EXISTS match_plans (
    plan_id TEXT PRIMARY KEY,
    created_at {{ts}} NOT NULL,
    finished_at {{ts}},
    status TEXT NOT NULL,
    summary_json {{text}}
);

CREATE TABLE IF NOT EXISTS match_plan_steps (
    plan_id TEXT NOT NULL,
    step_no INTEGER NOT NULL,
    entity TEXT NOT NULL,
    atera_id TEXT,
    qbo_id TEXT,
    action TEXT NOT NULL,
    payload_json {{text}},
    request_id TEXT NOT NULL,
    status TEXT NOT NULL,
    result_id TEXT,
    error_text TEXT,
    attempts INTEGER NOT NULL,
    updated_at {{ts}} NOT NULL,
    PRIMARY KEY (plan_id, step_no)
);

-- ---------------------------------------------------------------- export ledger
-- One row per export TASK ATTEMPT (an Airflow retry opens a new row with the same run_id and its try_number).
-- status: running | done | partial (some invoices blocked/failed) | failed (the attempt stopped: error_text says
-- why; a row an attempt could not close — worker killed — is closed failed by the run's next attempt) | dry_run.
CREATE TABLE IF NOT EXISTS export_batches (
    batch_id TEXT PRIMARY KEY,
    run_id TEXT,
    started_at {{ts}} NOT NULL,
    finished_at {{ts}},
    status TEXT NOT NULL,
    params_json {{text}},
    selected_count INTEGER,
    exported_count INTEGER,
    skipped_count INTEGER,
    failed_count INTEGER,
    try_number INTEGER,
    error_text {{text}}
);

-- One row per Atera invoice, ever. status: pending | exported | failed | blocked. qbo_type: Invoice | CreditMemo. attempts counts sends;
-- failures counts answers that were faults (it is part of the request id, so a fixed invoice is not answered
-- with QBO's replay of its old fault, while a send whose answer was lost is replayed, not repeated).
CREATE TABLE IF NOT EXISTS export_invoices (
    atera_invoice_number TEXT PRIMARY KEY,
    batch_id TEXT NOT NULL,
    status TEXT NOT NULL,
    qbo_id TEXT,
    qbo_doc_number TEXT,
    request_id TEXT NOT NULL,
    payload_hash TEXT,
    total {{money}},
    error_text TEXT,
    attempts INTEGER NOT NULL,
    failures INTEGER,
    qbo_type TEXT,
    first_attempt_at {{ts}},
    last_attempt_at {{ts}},
    exported_at {{ts}}
);

-- ---------------------------------------------------------------- bookkeeping
CREATE TABLE IF NOT EXISTS oauth_tokens (
    realm_id TEXT PRIMARY KEY,
    refresh_token TEXT NOT NULL,
    access_token TEXT,
    access_expires_at {{float}} NOT NULL,
    version INTEGER NOT NULL,
    lease_owner TEXT,
    lease_until {{float}} NOT NULL,
    updated_at {{ts}} NOT NULL
);

CREATE TABLE IF NOT EXISTS sync_watermarks (
    entity TEXT PRIMARY KEY,
    watermark TEXT,
    updated_at {{ts}} NOT NULL
);

CREATE TABLE IF NOT EXISTS sync_runs (
    run_key TEXT PRIMARY KEY,
    dag_id TEXT NOT NULL,
    started_at {{ts}} NOT NULL,
    finished_at {{ts}},
    summary_json {{text}}
);

-- ---------------------------------------------------------------- reconciliation
-- The QBO invoices / credit memos the export created, as reconciliation last read them (CDC keeps them current).
-- status: active | voided | deleted. line_sig: the lines as "item|qty|unit|amount;..." (what "lines changed" compares).
CREATE TABLE IF NOT EXISTS stg_qbo_transactions (
    qbo_type TEXT NOT NULL,
    source_id TEXT NOT NULL,
    doc_number TEXT,
    customer_id TEXT,
    customer_name TEXT,
    txn_date TEXT,
    due_date TEXT,
    total {{money}},
    balance {{money}},
    status TEXT NOT NULL,
    line_sig TEXT,
    sync_token TEXT,
    last_updated TEXT,
    raw_json {{text}},
    extracted_at {{ts}} NOT NULL,
    PRIMARY KEY (qbo_type, source_id)
);

-- Payments touching those transactions: links_json = [["Invoice", "77", "125.00"], ...].
CREATE TABLE IF NOT EXISTS stg_qbo_payments (
    source_id TEXT PRIMARY KEY,
    txn_date TEXT,
    total {{money}},
    links_json {{text}},
    extracted_at {{ts}} NOT NULL,
    deleted_at {{ts}}
);

-- What an exported transaction looked like when reconciliation first read it ("changed" compares with this).
CREATE TABLE IF NOT EXISTS recon_baselines (
    qbo_type TEXT NOT NULL,
    source_id TEXT NOT NULL,
    doc_number TEXT,
    customer_id TEXT,
    customer_name TEXT,
    total {{money}},
    line_sig TEXT,
    taken_at {{ts}} NOT NULL,
    PRIMARY KEY (qbo_type, source_id)
);

CREATE TABLE IF NOT EXISTS recon_runs (
    run_id TEXT PRIMARY KEY,
    started_at {{ts}} NOT NULL,
    finished_at {{ts}},
    date_from TEXT,
    date_to TEXT,
    finding_types TEXT,
    counts_json {{text}},
    report_path TEXT,
    status TEXT NOT NULL
);

-- One row per finding ever: a finding seen again keeps first_seen; one no longer seen gets resolved_at.
CREATE TABLE IF NOT EXISTS recon_findings (
    finding_key TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    severity TEXT NOT NULL,
    entity TEXT,
    atera_id TEXT,
    atera_name TEXT,
    qbo_id TEXT,
    qbo_name TEXT,
    detail TEXT,
    qbo_link TEXT,
    action TEXT,
    first_seen {{ts}} NOT NULL,
    last_seen {{ts}} NOT NULL,
    first_run_id TEXT,
    last_run_id TEXT,
    resolved_at {{ts}}
);

-- Connection history of a realm (disconnect / reconnect): who, when; the seed token only as a fingerprint.
CREATE TABLE IF NOT EXISTS qbo_connection_events (
    event_id TEXT PRIMARY KEY,
    realm_id TEXT NOT NULL,
    event TEXT NOT NULL,
    at {{ts}} NOT NULL,
    actor TEXT,
    seed_fingerprint TEXT,
    detail TEXT
);

CREATE INDEX IF NOT EXISTS ix_stg_atera_invoices_date ON stg_atera_invoices (invoice_date);
CREATE INDEX IF NOT EXISTS ix_export_invoices_batch ON export_invoices (batch_id);
CREATE INDEX IF NOT EXISTS ix_stg_qbo_customers_name ON stg_qbo_customers (display_name);
CREATE INDEX IF NOT EXISTS ix_stg_qbo_items_name ON stg_qbo_items (name);
CREATE INDEX IF NOT EXISTS ix_recon_findings_open ON recon_findings (resolved_at, type);
CREATE INDEX IF NOT EXISTS ix_qbo_connection_events_realm ON qbo_connection_events (realm_id, at);
