"""Atera extraction into staging against the Atera twin over HTTP."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import requests
import sqlalchemy as sa

from atera_qbo.atera.client import AteraClient
from atera_qbo.extract import extract_atera_catalog, extract_atera_invoices
from atera_qbo.http import RetryPolicy
from atera_qbo.staging.db import money_in, table
from sandbox.control import AteraControl
from scripts.airflow_env import DEMO

FAST = RetryPolicy(max_attempts=6, initial_wait=0.01, max_wait=0.05, timeout=10)


def client(twin):
    return AteraClient(twin.url, DEMO["atera_api_key"], policy=FAST, rate_per_minute=None)


def count(engine, name, *where):
    tbl = table(name)
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(tbl).where(*where)).scalar()


def test_catalog_and_invoices_staged_with_rates_from_contracts(atera_twin, engine):
    results = extract_atera_catalog(client(atera_twin), engine)
    assert results["customers"].rows == count(engine, "stg_atera_customers") > 20
    products = table("stg_atera_products")
    assert count(engine, "stg_atera_products", products.c.kind == "rate") >= 10
    with engine.connect() as conn:
        amount = conn.execute(sa.select(products.c.amount).where(
            products.c.kind == "rate", products.c.name == "Remote Support (hourly)")).scalar()
    assert money_in(amount) == Decimal("125.00")
    res = extract_atera_invoices(client(atera_twin), engine, date(2026, 8, 1), date(2026, 10, 31))
    assert res.rows == count(engine, "stg_atera_invoices") >= 100
    inv = table("stg_atera_invoices")
    assert count(engine, "stg_atera_invoices", inv.c.customer_id.is_(None)) == 0  # trailing blank, case: resolved


def test_rerun_is_idempotent_and_deletions_are_flagged(atera_twin, engine):
    extract_atera_catalog(client(atera_twin), engine)
    before = count(engine, "stg_atera_customers")
    headers = {"X-API-KEY": DEMO["atera_api_key"]}
    created = requests.post(f"{atera_twin.url}/api/v3/customers", json={"CustomerName": "Temp Co"},
                            headers=headers, timeout=10).json()["ActionID"]
    extract_atera_catalog(client(atera_twin), engine)
    assert count(engine, "stg_atera_customers") == before + 1
    assert requests.delete(f"{atera_twin.url}/api/v3/customers/{created}", headers=headers,
                           timeout=10).status_code == 204
    extract_atera_catalog(client(atera_twin), engine)  # incremental: cannot see a deletion
    customers = table("stg_atera_customers")
    assert count(engine, "stg_atera_customers", customers.c.deleted_at.is_not(None)) == 0
    extract_atera_catalog(client(atera_twin), engine, full_refresh=True)
    assert count(engine, "stg_atera_customers") == before + 1  # kept...
    assert count(engine, "stg_atera_customers", customers.c.deleted_at.is_not(None)) == 1  # ...and flagged


def test_extraction_survives_injected_503s(atera_twin, atera_control, engine):
    extract_atera_catalog(client(atera_twin), engine)
    with engine.connect() as conn:
        clean = sorted(conn.execute(sa.select(table("stg_atera_customers").c.source_id)).scalars())
    with atera_control.faults(error_rate=0.3, error_status=503):
        extract_atera_catalog(client(atera_twin), engine)
    with engine.connect() as conn:
        again = sorted(conn.execute(sa.select(table("stg_atera_customers").c.source_id)).scalars())
    assert again == clean


def _customer_reads(control: AteraControl) -> int:
    return sum(1 for e in control.requests() if e["path"] == "/api/v3/customers" and e["method"] == "GET")


def test_incremental_run_reads_less_than_a_full_one(atera_twin, atera_control, engine):
    atera_control.set_limits(per_minute=100000)
    page_size = 5  # small pages make the difference visible in request counts

    class SmallPages(AteraClient):
        def paged(self, path, params=None, *, entity):
            import atera_qbo.atera.client as mod
            old, mod.PAGE_SIZE = mod.PAGE_SIZE, page_size
            try:
                yield from super().paged(path, params, entity=entity)
            finally:
                mod.PAGE_SIZE = old

    small = SmallPages(atera_twin.url, DEMO["atera_api_key"], policy=FAST, rate_per_minute=None)
    before = _customer_reads(atera_control)
    full = extract_atera_catalog(small, engine)["customers"]
    after_full = _customer_reads(atera_control)
    incremental = extract_atera_catalog(small, engine)["customers"]
    after_incr = _customer_reads(atera_control)
    assert full.rows > incremental.rows
    assert after_incr - after_full < after_full - before
    log = atera_control.requests()
    assert any("FromLastModifiedDate" in e["query"] and "SortBy=LastModified" in e["query"] for e in log)
