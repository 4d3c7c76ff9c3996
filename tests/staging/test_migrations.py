"""Alembic migrations: a staging database made by the old templated ``schema.sql`` (frozen in
``fixtures/schema_v1.sql``), with rows, is adopted by the baseline and upgraded to head without losing a row, and
ends exactly as ``tables.metadata`` declares (Alembic's comparison finds nothing); on SQLite and PostgreSQL."""
from __future__ import annotations

import re
import threading
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from atera_qbo.staging import migrate
from atera_qbo.staging.db import apply_schema, dispose_engines, engine_for, make_engine, table
from atera_qbo.staging.tables import metadata

FROZEN = Path(__file__).with_name("fixtures") / "schema_v1.sql"
# What the old apply_schema substituted per dialect (staging/db.py before Alembic).
OLD_TYPES = {
    "postgresql": {"money": "NUMERIC(18,5)", "ts": "TIMESTAMP", "bool": "BOOLEAN", "text": "TEXT",
                   "float": "DOUBLE PRECISION"},
    "sqlite": {"money": "TEXT", "ts": "TIMESTAMP", "bool": "BOOLEAN", "text": "TEXT", "float": "REAL"},
}
DROPPED = {"schema_version", "sync_runs"}  # revision 0002: superseded / never used
T0 = datetime(2026, 10, 1, 12, 30, 15)
D = Decimal


def old_ddl(dialect: str, *, without: dict[str, set[str]] | None = None) -> list[str]:
    """The frozen schema.sql rendered as the old code did; ``without`` leaves columns out (an older file)."""
    sql = re.sub(r"\{\{(\w+)\}\}", lambda m: OLD_TYPES[dialect][m.group(1)], FROZEN.read_text(encoding="utf-8"))
    sql = "\n".join(line for line in sql.splitlines() if not line.strip().startswith("--"))
    statements = [s.strip() for s in sql.split(";") if s.strip()]
    for name, cols in (without or {}).items():
        statements = [re.sub(rf",\n\s*({'|'.join(cols)}) [^,\n]*", "", s) if f" {name} (" in s else s
                      for s in statements]
    return statements


def create_old(engine: sa.Engine, **kwargs) -> None:
    with engine.begin() as conn:
        for stmt in old_ddl(engine.dialect.name, **kwargs):
            conn.exec_driver_sql(stmt)
        conn.exec_driver_sql("INSERT INTO schema_version (version, applied_at) VALUES (1, '2026-10-01 00:00:00')")


def _money(value: Decimal, dialect: str):
    return format(value, "f") if dialect == "sqlite" else value  # how the old money_out stored it


ROWS: dict[str, list[dict]] = {
    "stg_atera_customers": [{"source_id": "1", "name": "Contoso", "city": "Paris", "quality_flags": None,
                             "raw_json": '{"CustomerID": 1}', "extracted_at": T0, "deleted_at": None},
                            {"source_id": "2", "name": "Gone Ltd", "extracted_at": T0, "deleted_at": T0}],
    "stg_atera_contacts": [{"source_id": "c1", "customer_id": "1", "email": "a@b.example", "is_contact_person": True,
                            "extracted_at": T0}],
    "stg_atera_products": [{"kind": "rate", "source_id": "4", "name": "Per GB", "amount": D("0.12345"),
                            "extracted_at": T0},
                           {"kind": "product", "source_id": "4", "name": "Big", "amount": D("12345678.12345"),
                            "extracted_at": T0}],
    "stg_atera_contracts": [{"source_id": "k1", "customer_id": "1", "active": True, "is_default": False,
                             "taxable": True, "extracted_at": T0}],
    "stg_atera_invoices": [{"source_id": "INV-1", "invoice_date": "2026-09-30", "currency": "USD",
                            "subtotal": D("100.10"), "tax": D("8.20"), "total": D("108.30"),
                            "tax_percentage": D("8.19181"), "is_adhoc": False, "extracted_at": T0}],
    "stg_atera_invoice_lines": [{"invoice_source_id": "INV-1", "line_idx": 0, "quantity": D("3"),
                                 "rate": D("33.36667"), "total": D("100.10"), "extracted_at": T0}],
    "stg_qbo_customers": [{"source_id": "58", "display_name": "Contoso", "is_job": False, "active": True,
                           "balance": D("-42.50"), "extracted_at": T0}],
    "stg_qbo_items": [{"source_id": "7", "name": "Backup", "unit_price": D("10.5"), "taxable": True,
                       "active": True, "extracted_at": T0}],
    "stg_qbo_accounts": [{"source_id": "79", "name": "Sales", "account_type": "Income", "active": True,
                          "extracted_at": T0}],
    "stg_qbo_tax_codes": [{"source_id": "TAX", "name": "Tax", "taxable": True, "active": True, "extracted_at": T0}],
    "stg_qbo_tax_rates": [{"source_id": "3", "name": "VAT", "rate_value": D("20"), "active": True,
                           "extracted_at": T0}],
    "stg_qbo_terms": [{"source_id": "1", "name": "Net 30", "due_days": 30, "active": True, "extracted_at": T0}],
    "stg_qbo_names": [{"entity": "Vendor", "source_id": "9", "display_name": "Acme", "active": True,
                       "extracted_at": T0}],
    "stg_qbo_preferences": [{"source_id": "realm", "country": "US", "custom_txn_numbers": True,
                             "multi_currency": False, "home_currency": "USD", "extracted_at": T0}],
    "map_customers": [{"atera_id": "1", "atera_name": "Contoso", "qbo_id": "58", "qbo_name": "Contoso",
                       "status": "matched_exact", "method": "exact", "active": True, "plan_id": "p1",
                       "updated_at": T0},
                      {"atera_id": "3", "atera_name": "New Co", "qbo_id": "99", "qbo_name": "New Co",
                       "status": "matched_override", "method": "created", "active": True, "plan_id": "p1",
                       "updated_at": T0}],
    "map_products": [{"atera_id": "rate:4", "qbo_id": "7", "status": "matched_override", "method": "override",
                      "active": False, "plan_id": "p0", "updated_at": T0}],
    "match_plans": [{"plan_id": "p1", "created_at": T0, "status": "done", "summary_json": "{}"}],
    "match_plan_steps": [{"plan_id": "p1", "step_no": 1, "entity": "customer", "atera_id": "3", "action": "create_qbo",
                          "request_id": "r1", "status": "done", "result_id": "99", "attempts": 1, "updated_at": T0}],
    "export_batches": [{"batch_id": "b1", "run_id": "manual__1", "started_at": T0, "status": "done",
                        "selected_count": 1, "exported_count": 1, "skipped_count": 0, "failed_count": 0,
                        "try_number": 2, "error_text": None}],
    "export_invoices": [{"atera_invoice_number": "INV-1", "batch_id": "b1", "status": "exported", "qbo_id": "130",
                         "request_id": "abc", "total": D("108.30"), "attempts": 1, "failures": 0,
                         "qbo_type": "Invoice", "exported_at": T0}],
    "oauth_tokens": [{"realm_id": "realm", "refresh_token": "rt", "access_token": "at",
                      "access_expires_at": 1790000000.5, "version": 3, "lease_until": 0.0, "updated_at": T0}],
    "sync_watermarks": [{"entity": "qbo:Customer", "watermark": "2026-10-01T00:00:00Z", "updated_at": T0}],
    "stg_qbo_transactions": [{"qbo_type": "Invoice", "source_id": "130", "doc_number": "INV-1", "total": D("108.30"),
                              "balance": D("8.30"), "status": "active", "line_sig": "7|3|33.36667|100.10",
                              "extracted_at": T0}],
    "stg_qbo_payments": [{"source_id": "p9", "txn_date": "2026-10-02", "total": D("100"),
                          "links_json": '[["Invoice", "130", "100.00"]]', "extracted_at": T0}],
    "recon_baselines": [{"qbo_type": "Invoice", "source_id": "130", "total": D("108.30"), "taken_at": T0}],
    "recon_runs": [{"run_id": "r1", "started_at": T0, "status": "done", "counts_json": "{}"}],
    "recon_findings": [{"finding_key": "f1", "type": "amount_changed", "severity": "critical", "qbo_id": "130",
                        "first_seen": T0, "last_seen": T0, "first_run_id": "r1", "resolved_at": None}],
    "qbo_connection_events": [{"event_id": "e1", "realm_id": "realm", "event": "disconnect", "at": T0,
                               "actor": "ops"}],
}


def insert_old_rows(engine: sa.Engine, rows: dict[str, list[dict]] = ROWS) -> None:
    """Rows written the way the old code wrote them (money as text on SQLite, NUMERIC on PostgreSQL)."""
    dialect = engine.dialect.name
    with engine.begin() as conn:
        for name, records in rows.items():
            for rec in records:
                values = {k: _money(v, dialect) if isinstance(v, Decimal) else v for k, v in rec.items()}
                conn.execute(sa.table(name, *map(sa.column, values)).insert().values(**values))


def assert_rows_survived(engine: sa.Engine, rows: dict[str, list[dict]] = ROWS) -> None:
    with engine.connect() as conn:
        for name, records in rows.items():
            tbl = table(name)
            stored = [r._asdict() for r in conn.execute(sa.select(tbl))]
            assert len(stored) == len(records), name
            key = list(tbl.primary_key.columns.keys())
            by_key = {tuple(str(s[k]) for k in key): s for s in stored}
            for rec in records:
                got = by_key[tuple(str(rec[k]) for k in key)]
                for col, value in rec.items():
                    assert got[col] == value, f"{name}.{col}: {got[col]!r} != {value!r}"
                    if isinstance(value, Decimal):
                        assert isinstance(got[col], Decimal), f"{name}.{col} read back as {type(got[col])}"


def assert_at_head(engine: sa.Engine) -> None:
    assert migrate.schema_diff(engine) == []
    names = set(sa.inspect(engine).get_table_names())
    assert set(metadata.tables) <= names and not (names & DROPPED)
    with engine.connect() as conn:
        assert migrate.current(conn) == migrate.head()


def test_fresh_database_upgrades_to_exactly_the_declared_schema(blank_engine):
    apply_schema(blank_engine)
    assert_at_head(blank_engine)
    apply_schema(blank_engine)  # idempotent
    assert_at_head(blank_engine)


def test_baseline_adopts_a_database_of_the_old_schema_sql_without_losing_a_row(blank_engine):
    create_old(blank_engine)
    insert_old_rows(blank_engine)
    apply_schema(blank_engine)
    assert_at_head(blank_engine)
    assert_rows_survived(blank_engine)
    # provenance (revision 0003) derived from what the rows said
    mc = table("map_customers")
    with blank_engine.connect() as conn:
        origin = dict(conn.execute(sa.select(mc.c.atera_id, mc.c.origin_plan_id)).all())
        decided = set(conn.execute(sa.select(mc.c.decided_at)).scalars())
    assert origin == {"1": None, "3": "p1"} and decided == {T0}


def test_baseline_adds_the_columns_an_older_schema_sql_lacked(blank_engine):
    """A database from before the additive columns (export_invoices without failures/qbo_type, one index
    missing) gains them, nullable, and keeps its rows."""
    create_old(blank_engine, without={"export_invoices": {"failures", "qbo_type"}})
    with blank_engine.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_export_invoices_batch")
    old = {k: v for k, v in ROWS["export_invoices"][0].items() if k not in ("failures", "qbo_type")}
    insert_old_rows(blank_engine, {"export_batches": ROWS["export_batches"], "export_invoices": [old]})
    apply_schema(blank_engine)
    assert_at_head(blank_engine)
    assert_rows_survived(blank_engine, {"export_batches": ROWS["export_batches"],
                                        "export_invoices": [dict(old, failures=None, qbo_type=None)]})


def test_downgrade_to_the_baseline_and_up_again_keeps_the_rows(blank_engine):
    create_old(blank_engine)
    insert_old_rows(blank_engine)
    apply_schema(blank_engine)
    migrate.downgrade(blank_engine, "0001_baseline")
    assert {"schema_version", "sync_runs"} <= set(sa.inspect(blank_engine).get_table_names())
    apply_schema(blank_engine)
    assert_at_head(blank_engine)
    assert_rows_survived(blank_engine)


def test_one_engine_per_url_per_process_migrated_once(tmp_path, monkeypatch):
    upgrades: list[object] = []
    real = migrate.upgrade
    monkeypatch.setattr(migrate, "upgrade", lambda engine, *a: upgrades.append(engine) or real(engine, *a))
    from atera_qbo.staging import db

    monkeypatch.setattr(db, "upgrade", migrate.upgrade)  # db calls it by the name it imported
    url = f"sqlite:///{tmp_path / 's.db'}"
    first = engine_for(url)
    assert engine_for(url) is first and engine_for(f"sqlite:///{tmp_path / 'other.db'}") is not first
    assert migrate.schema_diff(first) == []
    assert len(upgrades) == 2  # once per URL: the second ask of the same URL checked nothing
    dispose_engines()
    assert engine_for(url) is not first  # a new engine after dispose, same database
    dispose_engines()


def test_a_forked_child_starts_without_the_parents_engines(tmp_path):
    import os

    url = f"sqlite:///{tmp_path / 'fork.db'}"
    parent = engine_for(url)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its engine is its own, and the parent's pool is left alone
        os.close(read)
        os.write(write, b"own" if engine_for(url) is not parent else b"shared")
        os._exit(0)
    os.close(write)
    answer = os.read(read, 10)
    os.waitpid(pid, 0)
    assert answer == b"own"
    with parent.connect() as conn:  # the parent's engine still works after the child went
        assert conn.execute(sa.text("select 1")).scalar() == 1
    dispose_engines()


def test_concurrent_first_migrations_do_not_collide(tmp_path):
    """Two workers starting on a fresh SQLite file at once: one migrates, the other waits and finds it done."""
    url = f"sqlite:///{tmp_path / 'race.db'}"
    errors: list[BaseException] = []

    def worker() -> None:
        engine = make_engine(url)
        try:
            apply_schema(engine)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    engine = make_engine(url)
    assert_at_head(engine)
    engine.dispose()


def test_money_is_exact_and_refuses_float(engine):
    tbl = table("stg_qbo_items")
    with engine.begin() as conn:
        conn.execute(tbl.insert().values(source_id="1", unit_price=D("12345678.12345"), extracted_at=T0))
        with pytest.raises(sa.exc.StatementError, match="Decimal, not float"):
            conn.execute(tbl.insert().values(source_id="2", unit_price=0.1, extracted_at=T0))
    with engine.connect() as conn:
        price = conn.execute(sa.select(tbl.c.unit_price)).scalar_one()
        raw = conn.execute(sa.text("SELECT unit_price FROM stg_qbo_items")).scalar_one()
    assert price == D("12345678.12345") and isinstance(price, Decimal)
    if engine.dialect.name == "sqlite":
        assert raw == "12345678.12345"  # TEXT, never a REAL
    else:
        assert raw == D("12345678.12345")


def test_a_null_key_stops_the_sqlite_migration_naming_the_table(tmp_path):
    """``TEXT PRIMARY KEY`` let SQLite keep a NULL key; revision 0002 refuses to guess, says what to do, and
    leaves the database as it was."""
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    create_old(engine)
    insert_old_rows(engine, {"stg_atera_customers": [{"source_id": None, "name": "Ghost", "extracted_at": T0}]})
    with pytest.raises(RuntimeError, match=r"stg_atera_customers has 1 row\(s\) with a NULL source_id: delete"):
        apply_schema(engine)
    with engine.connect() as conn:
        assert migrate.current(conn) is None  # nothing applied, not even the baseline's stamp
        assert conn.exec_driver_sql("SELECT name FROM stg_atera_customers").scalar_one() == "Ghost"
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM stg_atera_customers WHERE source_id IS NULL")
    apply_schema(engine)
    assert_at_head(engine)
    engine.dispose()


def run_sql(engine: sa.Engine, script: str) -> None:
    """Run a SQL script as a DBA would (psql -f, sqlite3 < file)."""
    raw = engine.raw_connection()
    try:
        if engine.dialect.name == "sqlite":
            raw.driver_connection.executescript(script)
        else:
            with raw.cursor() as cur:
                cur.execute(script)
        raw.commit()
    finally:
        raw.close()


def url_of(engine: sa.Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def test_the_shipped_sql_is_what_the_migrations_print():
    from scripts.write_sql import DIALECTS, expected, path_of

    for dialect in DIALECTS:
        assert path_of(dialect).read_text(encoding="utf-8") == expected(dialect), \
            f"{path_of(dialect).name} is behind the migrations: run make sql"


def test_the_sql_for_a_dba_builds_exactly_the_declared_schema(blank_engine):
    """``include/sql/staging.<dialect>.sql`` = ``migrate upgrade --sql`` (README: "to have a DBA apply it"): run on
    an empty database, it makes the schema the migrations make, version stamped; the tasks then find nothing to do."""
    from scripts.write_sql import path_of

    script = path_of(blank_engine.dialect.name).read_text(encoding="utf-8")
    assert "CREATE TABLE map_customers" in script and "0007_qbo_customer_contacts" in script
    run_sql(blank_engine, script)
    assert_at_head(blank_engine)
    apply_schema(blank_engine)
    assert_at_head(blank_engine)


@pytest.mark.parametrize("how", ["by the task", "by a DBA with --sql"])
def test_qbo_customer_contacts_are_filled_from_the_records_already_staged(blank_engine, how):
    """Revision 0007 adds ``phone``/``web_addr`` and fills them from each row's ``raw_json``: matching by contacts
    works on the next run without a full catalog sync — also when a DBA runs the SQL ``--sql`` printed from 0006."""
    migrate.upgrade(blank_engine, "0006_review_overrides")
    record = ('{"Id": "7", "PrimaryPhone": {"FreeFormNumber": "(555) 301-4000"}, '
              '"WebAddr": {"URI": "https://a.example"}}')
    rows = [{"source_id": "7", "display_name": "Acme", "raw_json": record, "extracted_at": T0},
            {"source_id": "8", "display_name": "Bare", "raw_json": '{"Id": "8"}', "extracted_at": T0},
            {"source_id": "9", "display_name": "No raw", "raw_json": None, "extracted_at": T0}]
    with blank_engine.begin() as conn:
        conn.execute(sa.table("stg_qbo_customers", *(sa.column(c) for c in rows[0])).insert(), rows)
    if how == "by the task":
        apply_schema(blank_engine)
    else:
        run_sql(blank_engine, migrate.upgrade_sql(url_of(blank_engine), "0006_review_overrides:head"))
    assert_at_head(blank_engine)
    qc = table("stg_qbo_customers")
    with blank_engine.connect() as conn:
        got = {r.source_id: (r.phone, r.web_addr) for r in conn.execute(sa.select(qc))}
    assert got == {"7": ("(555) 301-4000", "https://a.example"), "8": (None, None), "9": (None, None)}
