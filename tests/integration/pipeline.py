"""The sync's steps called directly (no Airflow): what the DAG tasks do, for integration tests."""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from atera_qbo.atera.client import AteraClient
from atera_qbo.export.load import ExportResult, export_invoices
from atera_qbo.extract import extract_atera_catalog, extract_atera_invoices, extract_qbo_catalog
from atera_qbo.http import RetryPolicy
from atera_qbo.matching import commit
from atera_qbo.matching.kept import kept_mappings
from atera_qbo.matching.match import apply_overrides, decisions, load_catalogs, match_all
from atera_qbo.matching.review_csv import read_rows
from atera_qbo.staging.mappings import OverridesFile
from scripts.airflow_env import DEMO

REPO = Path(__file__).resolve().parents[2]
OVERRIDES = REPO / "include" / "demo" / "overrides.csv"
FAST = RetryPolicy(max_attempts=10, initial_wait=0.01, max_wait=0.05, timeout=10)
WINDOW = (date(2026, 8, 1), date(2026, 10, 31))


def atera_client(twin) -> AteraClient:
    return AteraClient(twin.url, DEMO["atera_api_key"], policy=FAST, rate_per_minute=None)


def task_connections(monkeypatch, atera_twin, qbo_twin, engine, refresh_token: str) -> None:
    """The Airflow Connections the tasks read (as AIRFLOW_CONN_* variables): both twins and ``engine``'s SQLite
    file as staging; ``refresh_token`` a fresh grant from the QBO twin. The review dir is the test's own too
    (beside the staging file), not the session's."""
    monkeypatch.setenv("AIRFLOW_CONN_ATERA_DEFAULT", json.dumps(
        {"conn_type": "http", "host": atera_twin.url, "password": DEMO["atera_api_key"]}))
    monkeypatch.setenv("AIRFLOW_CONN_QUICKBOOKS_DEFAULT", json.dumps(
        {"conn_type": "http", "host": qbo_twin.url, "login": DEMO["client_id"], "password": DEMO["client_secret"],
         "extra": {"realm_id": DEMO["realm_id"], "refresh_token": refresh_token, "oauth_base_url": qbo_twin.url}}))
    monkeypatch.setenv("AIRFLOW_CONN_ATERA_QBO_STAGING", json.dumps(
        {"conn_type": "sqlite", "host": engine.url.database}))
    monkeypatch.setenv("ATERA_QBO_REVIEW_DIR", str(Path(engine.url.database).parent / "review"))


def sync_and_match(atera, qbo, engine, *, overrides: Path | None = OVERRIDES, import_unmatched: bool = False,
                   sales_tax_code: str | None = None) -> None:
    """Catalog sync, then matching committed with the demo overrides and create_unmatched_in_qbo."""
    extract_atera_catalog(atera, engine)
    extract_qbo_catalog(qbo, engine)
    catalogs = load_catalogs(engine)
    review = match_all(catalogs)
    decided, source = kept_mappings(engine, catalogs), None  # as the matching task does
    if overrides:
        explicit = list(read_rows(overrides))
        keys = {(r.entity, r.atera_id or r.qbo_id) for r in explicit if r.action}
        decided = [k for k in decided if (k.entity, k.atera_id) not in keys] + explicit
        source = OverridesFile.of(overrides, [(r.entity, r.atera_id or r.qbo_id, r.line) for r in explicit
                                              if r.action])
    review = apply_overrides(review, decided, catalogs)
    review = decisions(review, create_unmatched=True, import_unmatched=import_unmatched)
    steps = commit.build_steps(review, catalogs, engine, sales_tax_code=sales_tax_code)
    commit.execute(engine, review, steps, qbo=qbo, atera=atera, overrides=source)
    extract_qbo_catalog(qbo, engine)  # see what the commit created


def export(atera, qbo, engine, batch_id: str, **kwargs) -> ExportResult:
    extract_atera_invoices(atera, engine, *WINDOW)
    return export_invoices(engine, qbo, batch_id=batch_id, date_from=WINDOW[0], date_to=WINDOW[1], **kwargs)

