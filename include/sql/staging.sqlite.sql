-- The staging schema from an empty database to the head revision, for sqlite.
-- Written by `make sql` from the Alembic migrations (plugins/atera_qbo/staging/migrations): do not edit.
-- To upgrade an existing database instead: python -m atera_qbo.staging.migrate --url <url> current, then
-- python -m atera_qbo.staging.migrate --url <url> upgrade <current>:head --sql

CREATE TABLE atera_qbo_alembic_version (
    version_num VARCHAR(32) NOT NULL, 
    CONSTRAINT atera_qbo_alembic_version_pkc PRIMARY KEY (version_num)
);

-- Running upgrade  -> 0001_baseline

CREATE TABLE export_batches (
    batch_id TEXT NOT NULL, 
    run_id TEXT, 
    started_at TIMESTAMP NOT NULL, 
    finished_at TIMESTAMP, 
    status TEXT NOT NULL, 
    params_json TEXT, 
    selected_count INTEGER, 
    exported_count INTEGER, 
    skipped_count INTEGER, 
    failed_count INTEGER, 
    try_number INTEGER, 
    error_text TEXT, 
    PRIMARY KEY (batch_id)
);

CREATE TABLE export_invoices (
    atera_invoice_number TEXT NOT NULL, 
    batch_id TEXT NOT NULL, 
    status TEXT NOT NULL, 
    qbo_id TEXT, 
    qbo_doc_number TEXT, 
    request_id TEXT NOT NULL, 
    payload_hash TEXT, 
    total TEXT, 
    error_text TEXT, 
    attempts INTEGER NOT NULL, 
    failures INTEGER, 
    qbo_type TEXT, 
    first_attempt_at TIMESTAMP, 
    last_attempt_at TIMESTAMP, 
    exported_at TIMESTAMP, 
    PRIMARY KEY (atera_invoice_number)
);

CREATE INDEX ix_export_invoices_batch ON export_invoices (batch_id);

CREATE TABLE map_customers (
    atera_id TEXT NOT NULL, 
    atera_name TEXT, 
    qbo_id TEXT, 
    qbo_name TEXT, 
    status TEXT NOT NULL, 
    method TEXT, 
    active BOOLEAN NOT NULL, 
    plan_id TEXT, 
    updated_at TIMESTAMP NOT NULL, 
    PRIMARY KEY (atera_id)
);

CREATE TABLE map_products (
    atera_id TEXT NOT NULL, 
    atera_name TEXT, 
    qbo_id TEXT, 
    qbo_name TEXT, 
    status TEXT NOT NULL, 
    method TEXT, 
    active BOOLEAN NOT NULL, 
    plan_id TEXT, 
    updated_at TIMESTAMP NOT NULL, 
    PRIMARY KEY (atera_id)
);

CREATE TABLE match_plan_steps (
    plan_id TEXT NOT NULL, 
    step_no INTEGER NOT NULL, 
    entity TEXT NOT NULL, 
    atera_id TEXT, 
    qbo_id TEXT, 
    action TEXT NOT NULL, 
    payload_json TEXT, 
    request_id TEXT NOT NULL, 
    status TEXT NOT NULL, 
    result_id TEXT, 
    error_text TEXT, 
    attempts INTEGER NOT NULL, 
    updated_at TIMESTAMP NOT NULL, 
    PRIMARY KEY (plan_id, step_no)
);

CREATE TABLE match_plans (
    plan_id TEXT NOT NULL, 
    created_at TIMESTAMP NOT NULL, 
    finished_at TIMESTAMP, 
    status TEXT NOT NULL, 
    summary_json TEXT, 
    PRIMARY KEY (plan_id)
);

CREATE TABLE oauth_tokens (
    realm_id TEXT NOT NULL, 
    refresh_token TEXT NOT NULL, 
    access_token TEXT, 
    access_expires_at REAL NOT NULL, 
    version INTEGER NOT NULL, 
    lease_owner TEXT, 
    lease_until REAL NOT NULL, 
    updated_at TIMESTAMP NOT NULL, 
    PRIMARY KEY (realm_id)
);

CREATE TABLE qbo_connection_events (
    event_id TEXT NOT NULL, 
    realm_id TEXT NOT NULL, 
    event TEXT NOT NULL, 
    at TIMESTAMP NOT NULL, 
    actor TEXT, 
    seed_fingerprint TEXT, 
    detail TEXT, 
    PRIMARY KEY (event_id)
);

CREATE INDEX ix_qbo_connection_events_realm ON qbo_connection_events (realm_id, at);

CREATE TABLE recon_baselines (
    qbo_type TEXT NOT NULL, 
    source_id TEXT NOT NULL, 
    doc_number TEXT, 
    customer_id TEXT, 
    customer_name TEXT, 
    total TEXT, 
    line_sig TEXT, 
    taken_at TIMESTAMP NOT NULL, 
    PRIMARY KEY (qbo_type, source_id)
);

CREATE TABLE recon_findings (
    finding_key TEXT NOT NULL, 
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
    first_seen TIMESTAMP NOT NULL, 
    last_seen TIMESTAMP NOT NULL, 
    first_run_id TEXT, 
    last_run_id TEXT, 
    resolved_at TIMESTAMP, 
    PRIMARY KEY (finding_key)
);

CREATE INDEX ix_recon_findings_open ON recon_findings (resolved_at, type);

CREATE TABLE recon_runs (
    run_id TEXT NOT NULL, 
    started_at TIMESTAMP NOT NULL, 
    finished_at TIMESTAMP, 
    date_from TEXT, 
    date_to TEXT, 
    finding_types TEXT, 
    counts_json TEXT, 
    report_path TEXT, 
    status TEXT NOT NULL, 
    PRIMARY KEY (run_id)
);

CREATE TABLE schema_version (
    version INTEGER NOT NULL, 
    applied_at TIMESTAMP NOT NULL, 
    PRIMARY KEY (version)
);

CREATE TABLE stg_atera_contacts (
    source_id TEXT NOT NULL, 
    customer_id TEXT, 
    email TEXT, 
    first_name TEXT, 
    last_name TEXT, 
    is_contact_person BOOLEAN, 
    last_modified TEXT, 
    quality_flags TEXT, 
    raw_json TEXT, 
    extracted_at TIMESTAMP NOT NULL, 
    deleted_at TIMESTAMP, 
    PRIMARY KEY (source_id)
);

CREATE TABLE stg_atera_contracts (
    source_id TEXT NOT NULL, 
    customer_id TEXT, 
    customer_name TEXT, 
    name TEXT, 
    contract_type TEXT, 
    active BOOLEAN, 
    is_default BOOLEAN, 
    taxable BOOLEAN, 
    start_date TEXT, 
    end_date TEXT, 
    raw_json TEXT, 
    extracted_at TIMESTAMP NOT NULL, 
    deleted_at TIMESTAMP, 
    PRIMARY KEY (source_id)
);

CREATE TABLE stg_atera_customers (
    source_id TEXT NOT NULL, 
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
    raw_json TEXT, 
    extracted_at TIMESTAMP NOT NULL, 
    deleted_at TIMESTAMP, 
    PRIMARY KEY (source_id)
);

CREATE TABLE stg_atera_invoice_lines (
    invoice_source_id TEXT NOT NULL, 
    line_idx INTEGER NOT NULL, 
    product_name TEXT, 
    description TEXT, 
    quantity TEXT, 
    rate TEXT, 
    discount_percentage TEXT, 
    tax_percentage TEXT, 
    subtotal TEXT, 
    tax TEXT, 
    total TEXT, 
    extracted_at TIMESTAMP NOT NULL, 
    PRIMARY KEY (invoice_source_id, line_idx)
);

CREATE TABLE stg_atera_invoices (
    source_id TEXT NOT NULL, 
    invoice_uuid TEXT, 
    invoice_date TEXT, 
    customer_name TEXT, 
    customer_id TEXT, 
    contract_name TEXT, 
    currency TEXT, 
    subtotal TEXT, 
    tax TEXT, 
    total TEXT, 
    tax_percentage TEXT, 
    is_adhoc BOOLEAN, 
    period_start TEXT, 
    period_end TEXT, 
    quality_flags TEXT, 
    raw_json TEXT, 
    extracted_at TIMESTAMP NOT NULL, 
    deleted_at TIMESTAMP, 
    PRIMARY KEY (source_id)
);

CREATE INDEX ix_stg_atera_invoices_date ON stg_atera_invoices (invoice_date);

CREATE TABLE stg_atera_products (
    kind TEXT NOT NULL, 
    source_id TEXT NOT NULL, 
    name TEXT, 
    sku TEXT, 
    category TEXT, 
    amount TEXT, 
    quality_flags TEXT, 
    raw_json TEXT, 
    extracted_at TIMESTAMP NOT NULL, 
    deleted_at TIMESTAMP, 
    PRIMARY KEY (kind, source_id)
);

CREATE TABLE stg_qbo_accounts (
    source_id TEXT NOT NULL, 
    name TEXT, 
    account_type TEXT, 
    account_sub_type TEXT, 
    active BOOLEAN, 
    raw_json TEXT, 
    extracted_at TIMESTAMP NOT NULL, 
    deleted_at TIMESTAMP, 
    PRIMARY KEY (source_id)
);

CREATE TABLE stg_qbo_customers (
    source_id TEXT NOT NULL, 
    display_name TEXT, 
    company_name TEXT, 
    fully_qualified_name TEXT, 
    parent_id TEXT, 
    is_job BOOLEAN, 
    active BOOLEAN, 
    currency TEXT, 
    email TEXT, 
    balance TEXT, 
    sync_token TEXT, 
    last_updated TEXT, 
    quality_flags TEXT, 
    raw_json TEXT, 
    extracted_at TIMESTAMP NOT NULL, 
    deleted_at TIMESTAMP, 
    PRIMARY KEY (source_id)
);

CREATE INDEX ix_stg_qbo_customers_name ON stg_qbo_customers (display_name);

CREATE TABLE stg_qbo_items (
    source_id TEXT NOT NULL, 
    name TEXT, 
    fully_qualified_name TEXT, 
    item_type TEXT, 
    sku TEXT, 
    unit_price TEXT, 
    taxable BOOLEAN, 
    active BOOLEAN, 
    income_account_id TEXT, 
    parent_id TEXT, 
    sync_token TEXT, 
    last_updated TEXT, 
    quality_flags TEXT, 
    raw_json TEXT, 
    extracted_at TIMESTAMP NOT NULL, 
    deleted_at TIMESTAMP, 
    PRIMARY KEY (source_id)
);

CREATE INDEX ix_stg_qbo_items_name ON stg_qbo_items (name);

CREATE TABLE stg_qbo_names (
    entity TEXT NOT NULL, 
    source_id TEXT NOT NULL, 
    display_name TEXT, 
    active BOOLEAN, 
    extracted_at TIMESTAMP NOT NULL, 
    deleted_at TIMESTAMP, 
    PRIMARY KEY (entity, source_id)
);

CREATE TABLE stg_qbo_payments (
    source_id TEXT NOT NULL, 
    txn_date TEXT, 
    total TEXT, 
    links_json TEXT, 
    extracted_at TIMESTAMP NOT NULL, 
    deleted_at TIMESTAMP, 
    PRIMARY KEY (source_id)
);

CREATE TABLE stg_qbo_preferences (
    source_id TEXT NOT NULL, 
    country TEXT, 
    custom_txn_numbers BOOLEAN, 
    multi_currency BOOLEAN, 
    home_currency TEXT, 
    raw_json TEXT, 
    extracted_at TIMESTAMP NOT NULL, 
    PRIMARY KEY (source_id)
);

CREATE TABLE stg_qbo_tax_codes (
    source_id TEXT NOT NULL, 
    name TEXT, 
    taxable BOOLEAN, 
    active BOOLEAN, 
    raw_json TEXT, 
    extracted_at TIMESTAMP NOT NULL, 
    deleted_at TIMESTAMP, 
    PRIMARY KEY (source_id)
);

CREATE TABLE stg_qbo_tax_rates (
    source_id TEXT NOT NULL, 
    name TEXT, 
    rate_value TEXT, 
    active BOOLEAN, 
    raw_json TEXT, 
    extracted_at TIMESTAMP NOT NULL, 
    deleted_at TIMESTAMP, 
    PRIMARY KEY (source_id)
);

CREATE TABLE stg_qbo_terms (
    source_id TEXT NOT NULL, 
    name TEXT, 
    due_days INTEGER, 
    active BOOLEAN, 
    raw_json TEXT, 
    extracted_at TIMESTAMP NOT NULL, 
    deleted_at TIMESTAMP, 
    PRIMARY KEY (source_id)
);

CREATE TABLE stg_qbo_transactions (
    qbo_type TEXT NOT NULL, 
    source_id TEXT NOT NULL, 
    doc_number TEXT, 
    customer_id TEXT, 
    customer_name TEXT, 
    txn_date TEXT, 
    due_date TEXT, 
    total TEXT, 
    balance TEXT, 
    status TEXT NOT NULL, 
    line_sig TEXT, 
    sync_token TEXT, 
    last_updated TEXT, 
    raw_json TEXT, 
    extracted_at TIMESTAMP NOT NULL, 
    PRIMARY KEY (qbo_type, source_id)
);

CREATE TABLE sync_runs (
    run_key TEXT NOT NULL, 
    dag_id TEXT NOT NULL, 
    started_at TIMESTAMP NOT NULL, 
    finished_at TIMESTAMP, 
    summary_json TEXT, 
    PRIMARY KEY (run_key)
);

CREATE TABLE sync_watermarks (
    entity TEXT NOT NULL, 
    watermark TEXT, 
    updated_at TIMESTAMP NOT NULL, 
    PRIMARY KEY (entity)
);

INSERT INTO atera_qbo_alembic_version (version_num) VALUES ('0001_baseline') RETURNING version_num;

-- Running upgrade 0001_baseline -> 0002_sqlite_keys_not_null

UPDATE atera_qbo_alembic_version SET version_num='0002_sqlite_keys_not_null' WHERE atera_qbo_alembic_version.version_num = '0001_baseline';

-- Running upgrade 0002_sqlite_keys_not_null -> 0003_drop_unused

DROP TABLE IF EXISTS schema_version;

DROP TABLE IF EXISTS sync_runs;

UPDATE atera_qbo_alembic_version SET version_num='0003_drop_unused' WHERE atera_qbo_alembic_version.version_num = '0002_sqlite_keys_not_null';

-- Running upgrade 0003_drop_unused -> 0004_mapping_provenance

ALTER TABLE map_customers ADD COLUMN override_file TEXT;

ALTER TABLE map_customers ADD COLUMN override_sha256 TEXT;

ALTER TABLE map_customers ADD COLUMN override_line INTEGER;

ALTER TABLE map_customers ADD COLUMN origin_plan_id TEXT;

ALTER TABLE map_customers ADD COLUMN decided_at TIMESTAMP;

UPDATE map_customers SET origin_plan_id=map_customers.plan_id WHERE map_customers.method IN ('created', 'imported');

UPDATE map_customers SET decided_at=map_customers.updated_at;

ALTER TABLE map_products ADD COLUMN override_file TEXT;

ALTER TABLE map_products ADD COLUMN override_sha256 TEXT;

ALTER TABLE map_products ADD COLUMN override_line INTEGER;

ALTER TABLE map_products ADD COLUMN origin_plan_id TEXT;

ALTER TABLE map_products ADD COLUMN decided_at TIMESTAMP;

UPDATE map_products SET origin_plan_id=map_products.plan_id WHERE map_products.method IN ('created', 'imported');

UPDATE map_products SET decided_at=map_products.updated_at;

UPDATE atera_qbo_alembic_version SET version_num='0004_mapping_provenance' WHERE atera_qbo_alembic_version.version_num = '0003_drop_unused';

-- Running upgrade 0004_mapping_provenance -> 0005_atera_catalog

CREATE TABLE catalog_master (
    catalog TEXT NOT NULL, 
    master TEXT NOT NULL, 
    since TIMESTAMP NOT NULL, 
    plan_id TEXT, 
    PRIMARY KEY (catalog)
);

CREATE TABLE atera_catalog_steps (
    plan_id TEXT NOT NULL, 
    step_key TEXT NOT NULL, 
    action TEXT NOT NULL, 
    atera_id TEXT, 
    qbo_id TEXT, 
    name TEXT, 
    body_json TEXT, 
    status TEXT NOT NULL, 
    error_text TEXT, 
    updated_at TIMESTAMP NOT NULL, 
    PRIMARY KEY (plan_id, step_key)
);

CREATE TABLE atera_catalog_state (
    atera_id TEXT NOT NULL, 
    qbo_id TEXT, 
    fields_json TEXT NOT NULL, 
    plan_id TEXT, 
    written_at TIMESTAMP NOT NULL, 
    PRIMARY KEY (atera_id)
);

CREATE TABLE atera_catalog_snapshots (
    plan_id TEXT NOT NULL, 
    kind TEXT NOT NULL, 
    source_id TEXT NOT NULL, 
    record_json TEXT NOT NULL, 
    taken_at TIMESTAMP NOT NULL, 
    restored_as TEXT, 
    restored_at TIMESTAMP, 
    PRIMARY KEY (plan_id, kind, source_id)
);

UPDATE atera_qbo_alembic_version SET version_num='0005_atera_catalog' WHERE atera_qbo_alembic_version.version_num = '0004_mapping_provenance';

-- Running upgrade 0005_atera_catalog -> 0006_review_overrides

CREATE TABLE review_overrides (
    version INTEGER NOT NULL, 
    created_at TIMESTAMP NOT NULL, 
    created_by TEXT NOT NULL, 
    decisions INTEGER NOT NULL, 
    csv_text TEXT NOT NULL, 
    file_path TEXT, 
    dag_run_id TEXT, 
    PRIMARY KEY (version)
);

UPDATE atera_qbo_alembic_version SET version_num='0006_review_overrides' WHERE atera_qbo_alembic_version.version_num = '0005_atera_catalog';

-- Running upgrade 0006_review_overrides -> 0007_qbo_customer_contacts

ALTER TABLE stg_qbo_customers ADD COLUMN phone TEXT;

ALTER TABLE stg_qbo_customers ADD COLUMN web_addr TEXT;

UPDATE stg_qbo_customers SET phone = json_extract(raw_json, '$.PrimaryPhone.FreeFormNumber'), web_addr = json_extract(raw_json, '$.WebAddr.URI') WHERE raw_json IS NOT NULL;

UPDATE atera_qbo_alembic_version SET version_num='0007_qbo_customer_contacts' WHERE atera_qbo_alembic_version.version_num = '0006_review_overrides';

-- Running upgrade 0007_qbo_customer_contacts -> 0008_token_expiry_and_metering

ALTER TABLE oauth_tokens ADD COLUMN refresh_expires_at REAL;

ALTER TABLE oauth_tokens ADD COLUMN refresh_hard_expires_at REAL;

CREATE TABLE qbo_api_usage (
    usage_id TEXT NOT NULL, 
    realm_id TEXT NOT NULL, 
    dag_id TEXT, 
    run_id TEXT, 
    task_id TEXT, 
    reads INTEGER NOT NULL, 
    writes INTEGER NOT NULL, 
    recorded_at TIMESTAMP NOT NULL, 
    PRIMARY KEY (usage_id)
);

CREATE INDEX ix_qbo_api_usage_realm ON qbo_api_usage (realm_id, recorded_at);

UPDATE atera_qbo_alembic_version SET version_num='0008_token_expiry_and_metering' WHERE atera_qbo_alembic_version.version_num = '0007_qbo_customer_contacts';

-- Running upgrade 0008_token_expiry_and_metering -> 0009_notifications

CREATE TABLE notify_items (
    item_key TEXT NOT NULL, 
    channel TEXT NOT NULL, 
    kind TEXT NOT NULL, 
    state TEXT NOT NULL, 
    label TEXT, 
    first_told_at TIMESTAMP NOT NULL, 
    last_told_at TIMESTAMP NOT NULL, 
    closed_at TIMESTAMP, 
    PRIMARY KEY (item_key, channel)
);

CREATE INDEX ix_notify_items_open ON notify_items (kind, closed_at);

CREATE TABLE notify_messages (
    message_id TEXT NOT NULL, 
    kind TEXT NOT NULL, 
    dag_id TEXT, 
    run_id TEXT, 
    task_id TEXT, 
    status TEXT NOT NULL, 
    subject TEXT, 
    channel TEXT, 
    items INTEGER, 
    error_text TEXT, 
    created_at TIMESTAMP NOT NULL, 
    PRIMARY KEY (message_id)
);

CREATE INDEX ix_notify_messages_run ON notify_messages (dag_id, run_id);

CREATE INDEX ix_notify_messages_kind ON notify_messages (kind, dag_id, created_at);

UPDATE atera_qbo_alembic_version SET version_num='0009_notifications' WHERE atera_qbo_alembic_version.version_num = '0008_token_expiry_and_metering';

-- Running upgrade 0009_notifications -> 0010_oauth_states

CREATE TABLE oauth_states (
    state TEXT NOT NULL, 
    user_name TEXT NOT NULL, 
    created_at TIMESTAMP NOT NULL, 
    used_at TIMESTAMP, 
    pending_realm TEXT, 
    pending_grant TEXT, 
    PRIMARY KEY (state)
);

UPDATE atera_qbo_alembic_version SET version_num='0010_oauth_states' WHERE atera_qbo_alembic_version.version_num = '0009_notifications';

-- Running upgrade 0010_oauth_states -> 0011_companies

CREATE TABLE company_identity (
    company_id TEXT NOT NULL, 
    stamped_at TIMESTAMP NOT NULL, 
    how TEXT NOT NULL, 
    PRIMARY KEY (company_id)
);

CREATE TABLE atera_customer_routes (
    source_id TEXT NOT NULL, 
    routed_to TEXT, 
    name_key TEXT NOT NULL, 
    name TEXT, 
    country TEXT, 
    rule_value TEXT, 
    reason TEXT, 
    seen_at TIMESTAMP NOT NULL, 
    PRIMARY KEY (source_id)
);

CREATE INDEX ix_atera_customer_routes_name_key ON atera_customer_routes (name_key);

INSERT INTO company_identity (company_id, stamped_at, how) SELECT 'default', CURRENT_TIMESTAMP, 'adopted by migration 0011: the single-company database of before' WHERE EXISTS (SELECT 1 FROM export_invoices) OR EXISTS (SELECT 1 FROM export_batches) OR EXISTS (SELECT 1 FROM oauth_tokens) OR EXISTS (SELECT 1 FROM stg_atera_customers) OR EXISTS (SELECT 1 FROM stg_qbo_customers) OR EXISTS (SELECT 1 FROM map_customers) OR EXISTS (SELECT 1 FROM map_products) OR EXISTS (SELECT 1 FROM review_overrides) OR EXISTS (SELECT 1 FROM qbo_connection_events);

UPDATE atera_qbo_alembic_version SET version_num='0011_companies' WHERE atera_qbo_alembic_version.version_num = '0010_oauth_states';

