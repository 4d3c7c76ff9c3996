"""Both twins misbehaving at once: the catalog sync still ends with the staging a fault-free run produces."""
from __future__ import annotations

import sqlalchemy as sa

from atera_qbo.atera.client import AteraClient
from atera_qbo.extract import extract_atera_catalog, extract_qbo_catalog
from atera_qbo.http import RetryPolicy
from atera_qbo.staging.db import apply_schema, make_engine, money_in, table
from scripts.airflow_env import DEMO

from .test_extract_qbo import client as qbo_client

FAST = RetryPolicy(max_attempts=10, initial_wait=0.01, max_wait=0.05, timeout=10)
TABLES = ["stg_atera_customers", "stg_atera_contacts", "stg_atera_products", "stg_atera_contracts",
          "stg_qbo_customers", "stg_qbo_items", "stg_qbo_accounts", "stg_qbo_tax_codes", "stg_qbo_names",
          "stg_qbo_preferences"]


def snapshot(engine) -> dict:
    out = {}
    with engine.connect() as conn:
        for name in TABLES:
            tbl = table(name)
            cols = [c for c in tbl.c if c.name not in ("extracted_at",)]
            rows = conn.execute(sa.select(*cols)).all()
            out[name] = sorted(tuple(money_in(v) if c.name in ("amount", "unit_price", "balance") else v
                                     for c, v in zip(cols, r, strict=True)) for r in rows)
    return out


def sync(atera_twin, qbo_twin, engine) -> None:
    extract_atera_catalog(AteraClient(atera_twin.url, DEMO["atera_api_key"], policy=FAST, rate_per_minute=None),
                          engine, full_refresh=True)
    extract_qbo_catalog(qbo_client(qbo_twin, engine), engine, full_refresh=True)


def test_ten_percent_503_on_both_twins_gives_identical_staging(atera_twin, atera_control, qbo_twin, qbo_control,
                                                                engine, tmp_path):
    sync(atera_twin, qbo_twin, engine)
    clean = snapshot(engine)
    faulty = make_engine(f"sqlite:///{tmp_path / 'faulty.db'}")
    apply_schema(faulty)
    with atera_control.faults(error_rate=0.1, error_status=503), qbo_control.faults(error_rate=0.1, error_status=503):
        sync(atera_twin, qbo_twin, faulty)
    refused = [e for control in (atera_control, qbo_control) for e in control.requests() if e["status"] == 503]
    assert refused, "the faults were not injected"
    assert snapshot(faulty) == clean


def test_atera_429_is_retried_after_the_servers_delay(atera_twin, atera_control, engine):
    # 3 requests per (60/30 =) 2 s: the unthrottled client runs into 429 and must wait as told, not give up.
    atera_control.set_limits(per_minute=3, time_scale=30)
    policy = RetryPolicy(max_attempts=10, initial_wait=0.05, max_wait=3, timeout=10)
    results = extract_atera_catalog(AteraClient(atera_twin.url, DEMO["atera_api_key"], policy=policy,
                                                rate_per_minute=None), engine)
    assert any(e["status"] == 429 for e in atera_control.requests())
    assert results["customers"].rows >= 26
