"""Adoption (issue 21): a staging database of the single-company version (revision ``0010_oauth_states``) with a
company's rows in it is upgraded to head and becomes company ``default`` — stamped by migration 0011, every row
kept — while a fresh database stays unstamped until its first company uses it; a stamped database refuses any
other company, naming both. On PostgreSQL, two companies of one database live in schemas of their own
(``atera_qbo_<id>``) and neither sees the other's rows. On SQLite and PostgreSQL (``blank_engine``)."""
from __future__ import annotations

import os
import uuid
from datetime import datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from atera_qbo.companies import Company, company_url, schema_name
from atera_qbo.errors import ConfigError
from atera_qbo.staging import migrate
from atera_qbo.staging.db import apply_schema, make_engine, table
from atera_qbo.staging.identity import claim_database, database_company

PG_URL = os.environ.get("ATERA_QBO_TEST_PG_URL")
PREVIOUS_HEAD = "0010_oauth_states"
T0 = datetime(2026, 10, 1, 12, 30, 15)

# One company's rows, as the single-company version wrote them: two exported invoices in the ledger (QBO ids),
# one blocked, the token chain, the mappings, a staged customer and the batch.
ROWS: dict[str, list[dict]] = {
    "export_batches": [{"batch_id": "b1", "run_id": "manual__1", "try_number": 1, "started_at": T0,
                        "finished_at": T0, "status": "done", "selected_count": 3, "exported_count": 2,
                        "failed_count": 1}],
    "export_invoices": [
        {"atera_invoice_number": "1001", "batch_id": "b1", "status": "exported", "qbo_id": "145",
         "qbo_doc_number": "1001", "request_id": "r-1001", "payload_hash": "h1", "total": Decimal("1250.50"),
         "attempts": 1, "first_attempt_at": T0, "last_attempt_at": T0, "exported_at": T0},
        {"atera_invoice_number": "1002", "batch_id": "b1", "status": "exported", "qbo_id": "146",
         "qbo_doc_number": "1002", "request_id": "r-1002", "payload_hash": "h2", "total": Decimal("99.99"),
         "attempts": 2, "first_attempt_at": T0, "last_attempt_at": T0, "exported_at": T0},
        {"atera_invoice_number": "1003", "batch_id": "b1", "status": "blocked", "request_id": "r-1003",
         "error_text": "customer 'Harbor View Realty' is not mapped", "attempts": 1, "first_attempt_at": T0,
         "last_attempt_at": T0}],
    "oauth_tokens": [{"realm_id": "9341453050298751", "refresh_token": "gAAAA-encrypted-refresh",
                      "access_token": "gAAAA-encrypted-access", "access_expires_at": 1_790_000_000.0, "version": 7,
                      "lease_owner": None, "lease_until": 0.0, "updated_at": T0,
                      "refresh_expires_at": 1_798_000_000.0, "refresh_hard_expires_at": 1_820_000_000.0}],
    "map_customers": [{"atera_id": "8", "atera_name": "Acme Inc", "qbo_id": "8", "qbo_name": "ACME, Inc.",
                       "status": "matched", "method": "override", "active": True, "plan_id": "p1",
                       "updated_at": T0, "override_file": "overrides/demo.csv", "override_line": 2}],
    "map_products": [{"atera_id": "product:10", "atera_name": "Dark Web Monitoring", "qbo_id": "61",
                      "qbo_name": "Dark Web Monitoring", "status": "created", "method": "created", "active": True,
                      "plan_id": "p1", "updated_at": T0, "origin_plan_id": "p1"}],
    "stg_atera_customers": [{"source_id": "8", "name": "Acme Inc", "country": "United States", "extracted_at": T0}],
}


def _tables(engine: sa.Engine) -> dict[str, sa.Table]:
    """The filled tables as the head declares them (their money types; 0011 changes none of their columns —
    checked against the database's own)."""
    md = sa.MetaData()
    md.reflect(engine, only=list(ROWS))
    for name in ROWS:
        assert {c.name for c in md.tables[name].columns} == {c.name for c in table(name).columns}, name
    return {name: table(name) for name in ROWS}


def _fill(engine: sa.Engine, rows: dict[str, list[dict]]) -> None:
    tables = _tables(engine)
    with engine.begin() as conn:
        for name, batch in rows.items():
            for row in batch:  # one by one: the rows do not all give the same columns
                conn.execute(sa.insert(tables[name]).values(**row))


def _snapshot(engine: sa.Engine) -> dict[str, list[tuple]]:
    """Every row of the filled tables, as text (the dialects' money/float types compare alike)."""
    out = {}
    with engine.connect() as conn:
        for name, tbl in _tables(engine).items():
            rows = conn.execute(sa.select(tbl).order_by(*tbl.primary_key.columns)).all()
            out[name] = [tuple(str(v) for v in row) for row in rows]
    return out


def _identity_rows(engine: sa.Engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text("SELECT company_id, how FROM company_identity"))]


def test_a_single_company_database_of_0010_is_adopted_as_default_with_every_row(blank_engine):
    migrate.upgrade(blank_engine, PREVIOUS_HEAD)
    with blank_engine.connect() as conn:
        assert migrate.current(conn) == PREVIOUS_HEAD
    _fill(blank_engine, ROWS)
    before = _snapshot(blank_engine)
    assert sum(map(len, before.values())) == 8

    apply_schema(blank_engine)  # what the first task of the new version does

    with blank_engine.connect() as conn:
        assert migrate.current(conn) == migrate.head()
    ((company_id, how),) = _identity_rows(blank_engine)
    assert company_id == "default"
    assert "adopted by migration 0011" in how
    assert database_company(blank_engine) == "default"
    assert _snapshot(blank_engine) == before  # not a row lost or changed
    with blank_engine.connect() as conn:  # the ledger still says what QBO holds: no invoice is sent again
        exported = dict(conn.execute(sa.text(
            "SELECT atera_invoice_number, qbo_id FROM export_invoices WHERE status = 'exported'")).all())
    assert exported == {"1001": "145", "1002": "146"}

    claim_database(blank_engine, "default")  # the adopted company uses it as before
    assert _identity_rows(blank_engine) == [("default", how)]  # not re-stamped
    with pytest.raises(ConfigError) as refused:
        claim_database(blank_engine, "uk")
    message = str(refused.value)
    assert "'default'" in message and "'uk'" in message and "staging_conn_id" in message


@pytest.mark.parametrize("held", ["oauth_tokens", "map_customers", "stg_atera_customers"])
def test_any_one_kind_of_row_makes_the_database_a_companys(blank_engine, held):
    """Connected but never exported (tokens only), mapped only, or extracted only: still that company's."""
    migrate.upgrade(blank_engine, PREVIOUS_HEAD)
    _fill(blank_engine, {held: ROWS[held]})
    apply_schema(blank_engine)
    assert database_company(blank_engine) == "default"


def test_a_fresh_database_stays_unstamped_until_its_first_company_claims_it(blank_engine):
    apply_schema(blank_engine)
    assert database_company(blank_engine) is None
    assert _identity_rows(blank_engine) == []
    claim_database(blank_engine, "fabrikam")
    assert [c for c, _ in _identity_rows(blank_engine)] == ["fabrikam"]
    assert "first use" in _identity_rows(blank_engine)[0][1]
    claim_database(blank_engine, "fabrikam")  # again: fine, still one row
    assert len(_identity_rows(blank_engine)) == 1
    with pytest.raises(ConfigError, match=r"holds company 'fabrikam', not 'default'"):
        claim_database(blank_engine, "default")


def test_an_empty_0010_database_is_not_adopted(blank_engine):
    """Migrated by the old version but never used (no row anywhere): nobody's yet, the first company takes it."""
    migrate.upgrade(blank_engine, PREVIOUS_HEAD)
    apply_schema(blank_engine)
    assert database_company(blank_engine) is None
    claim_database(blank_engine, "uk")
    assert database_company(blank_engine) == "uk"


def test_a_company_pointed_at_another_companys_database_is_refused_through_its_hook(tmp_path, monkeypatch):
    """``staging_conn_id`` of company ``uk`` names the default's database by mistake: the hook refuses it before a
    row is read, naming both companies."""
    import json

    from atera_qbo.hooks import StagingHook

    url_file = tmp_path / "staging.db"
    monkeypatch.setenv("AIRFLOW_CONN_ATERA_QBO_STAGING",
                       json.dumps({"conn_type": "sqlite", "host": str(url_file)}))
    monkeypatch.setenv("AIRFLOW_CONN_UK_STAGING", json.dumps({"conn_type": "sqlite", "host": str(url_file)}))
    default_engine = StagingHook(company=Company("default", "Contoso US")).engine
    _fill(default_engine, {"export_invoices": ROWS["export_invoices"][:1], "export_batches": ROWS["export_batches"]})
    assert database_company(default_engine) == "default"
    with pytest.raises(ConfigError) as refused:
        StagingHook(company=Company("uk", "Contoso UK", staging_conn_id="uk_staging")).engine  # noqa: B018
    assert "'default'" in str(refused.value) and "'uk'" in str(refused.value)
    # and a company with its own derived file gets a database of its own, stamped as its
    uk = StagingHook(company=Company("uk", "Contoso UK")).engine
    assert uk.url.database == str(tmp_path / "staging.uk.db")
    assert database_company(uk) == "uk"


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="set ATERA_QBO_TEST_PG_URL (make test-postgres) to run against PostgreSQL")
def test_two_companies_of_one_postgresql_database_live_in_their_own_schemas():
    assert PG_URL is not None
    tag = uuid.uuid4().hex[:8]
    ids = [f"a{tag}", f"b{tag}"]
    engines = {cid: make_engine(company_url(PG_URL, cid)) for cid in ids}  # creates each company's schema
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        for cid, engine in engines.items():
            apply_schema(engine)
            claim_database(engine, cid)
        first, second = ids
        _fill(engines[first], {"export_batches": ROWS["export_batches"], "export_invoices": ROWS["export_invoices"],
                               "map_customers": ROWS["map_customers"]})
        with engines[second].begin() as conn:
            conn.execute(sa.text("INSERT INTO map_customers (atera_id, atera_name, qbo_id, status, active, "
                                 "updated_at) VALUES ('77', 'Northbeam Logistics', '3', 'created', true, :t)"),
                         {"t": T0})
        with admin.connect() as conn:
            schemas = {r[0] for r in conn.execute(sa.text(
                "SELECT table_schema FROM information_schema.tables WHERE table_name = 'export_invoices' "
                "AND table_schema = ANY(:s)"), {"s": [schema_name(c) for c in ids]})}
        assert schemas == {schema_name(c) for c in ids}

        def seen(cid: str) -> tuple:
            with engines[cid].connect() as conn:
                return (conn.execute(sa.text("SELECT count(*) FROM export_invoices")).scalar(),
                        sorted(r[0] for r in conn.execute(sa.text("SELECT atera_name FROM map_customers"))),
                        database_company(engines[cid]))

        assert seen(first) == (3, ["Acme Inc"], first)
        assert seen(second) == (0, ["Northbeam Logistics"], second)
        with pytest.raises(ConfigError, match=f"holds company '{second}', not '{first}'"):
            claim_database(engines[second], first)
    finally:
        for engine in engines.values():
            engine.dispose()
        with admin.connect() as conn:
            for cid in ids:
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema_name(cid)}" CASCADE')
        admin.dispose()
