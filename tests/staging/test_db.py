"""The staging store on SQLite and PostgreSQL: idempotent schema, upserts, exact money, the token chain."""
from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest
import sqlalchemy as sa

from atera_qbo.errors import AuthError, ConfigError
from atera_qbo.qbo.auth import TokenStore
from atera_qbo.staging.db import apply_schema, money_in, table, upsert, utcnow

EXPECTED = {"stg_atera_customers", "stg_atera_contacts", "stg_atera_products", "stg_atera_contracts",
            "stg_atera_invoices", "stg_atera_invoice_lines", "stg_qbo_customers", "stg_qbo_items", "stg_qbo_accounts",
            "stg_qbo_tax_codes", "stg_qbo_tax_rates", "stg_qbo_terms", "stg_qbo_preferences", "map_customers",
            "map_products", "export_batches", "export_invoices", "oauth_tokens", "sync_watermarks"}


def test_schema_has_every_table_and_applies_twice(engine):
    apply_schema(engine)
    apply_schema(engine)
    names = set(sa.inspect(engine).get_table_names())
    assert names >= EXPECTED
    for name in EXPECTED - {"export_batches", "export_invoices", "oauth_tokens", "sync_watermarks",
                            "map_customers", "map_products"}:
        assert "source_id" in table(name).c or name == "stg_atera_invoice_lines"


def test_upsert_inserts_then_updates_and_money_stays_exact(engine):
    tbl = table("stg_atera_products")
    row = {"kind": "product", "source_id": "1", "name": "A", "amount": Decimal("0.10"),
           "extracted_at": utcnow()}
    with engine.begin() as conn:
        upsert(conn, tbl, [row], ["kind", "source_id"])
        upsert(conn, tbl, [dict(row, name="B", amount=Decimal("12345678.12345"))],
               ["kind", "source_id"])
    with engine.connect() as conn:
        rows = conn.execute(sa.select(tbl.c.name, tbl.c.amount)).all()
    assert len(rows) == 1 and rows[0].name == "B"
    assert money_in(rows[0].amount) == Decimal("12345678.12345")


def test_upsert_chunks_large_inputs(engine):
    tbl = table("stg_qbo_items")
    rows = [{"source_id": str(i), "name": f"Item {i}", "extracted_at": utcnow()} for i in range(5000)]
    with engine.begin() as conn:
        assert upsert(conn, tbl, rows, ["source_id"]) == 5000
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(tbl)).scalar() == 5000


class RotatingEndpoint:
    """Rotates like QBO: each refresh token works once; reuse → invalid_grant."""

    def __init__(self, first: str) -> None:
        self.valid = {first}
        self.calls = 0
        self.lock = threading.Lock()

    def refresh(self, token: str) -> dict:
        with self.lock:
            self.calls += 1
            if token not in self.valid:
                raise AuthError("QBO token refresh refused (invalid_grant)", status=400, vendor_code="invalid_grant")
            self.valid.discard(token)
            new = f"rt-{self.calls}"
            self.valid.add(new)
            return {"access_token": f"at-{self.calls}", "refresh_token": new, "expires_in": 3600}


def in_threads(call, n: int = 6) -> tuple[list, list]:
    """Run ``call`` in ``n`` threads at once; answer what they returned and what they raised."""
    results, errors = [], []

    def worker():
        try:
            results.append(call())
        except Exception as exc:  # noqa: BLE001 - every error is the test's to see
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


def test_token_store_seeds_once_and_persists_rotation(engine):
    ep = RotatingEndpoint("seed")
    store = TokenStore(engine, "r1", ep, seed_refresh_token="seed")
    assert store.access_token() == ("at-1", 1)
    assert store.access_token() == ("at-1", 1)  # still valid: no refresh
    # A new process: the connection still says "seed", but the stored chain wins.
    again = TokenStore(engine, "r1", ep, seed_refresh_token="seed")
    assert again.access_token(force_refresh=True) == ("at-2", 2)
    assert ep.calls == 2


def test_token_store_without_seed_is_a_config_error(engine):
    with pytest.raises(ConfigError, match="refresh_token"):
        TokenStore(engine, "r2", RotatingEndpoint("x"), seed_refresh_token=None)


def test_concurrent_refresh_keeps_the_chain(engine):
    ep = RotatingEndpoint("seed")
    TokenStore(engine, "r3", ep, seed_refresh_token="seed")
    results, errors = in_threads(lambda: TokenStore(engine, "r3", ep, seed_refresh_token="seed").access_token())
    assert not errors
    assert ep.calls == 1 and {r[0] for r in results} == {"at-1"}


def test_threads_of_one_store_refresh_once(engine):
    """The threads of one client (the export's DocNumber lookups) share its token store, hence its lease owner: the
    first refresh must still be the only one, or the second spends a refresh token already rotated away."""
    ep = RotatingEndpoint("seed")
    slow = ep.refresh

    def refresh(token: str) -> dict:
        time.sleep(0.2)  # Intuit takes a moment: long enough for every thread to want a token meanwhile
        return slow(token)

    ep.refresh = refresh
    store = TokenStore(engine, "r5", ep, seed_refresh_token="seed")
    results, errors = in_threads(store.access_token)
    assert not errors
    assert ep.calls == 1 and set(results) == {("at-1", 1)}


def test_tokens_are_encrypted_at_rest(engine):
    from cryptography.fernet import Fernet

    cipher = Fernet(Fernet.generate_key())
    store = TokenStore(engine, "r4", RotatingEndpoint("seed"), seed_refresh_token="seed", cipher=cipher)
    store.access_token()
    with engine.connect() as conn:
        row = conn.execute(sa.select(table("oauth_tokens")).where(
            table("oauth_tokens").c.realm_id == "r4")).one()
    assert "rt-1" not in row.refresh_token and "at-1" not in row.access_token
    assert cipher.decrypt(row.refresh_token.encode()) == b"rt-1"


# A database made by an older schema.sql gaining the newer (nullable) columns with its rows kept: see
# test_migrations.py::test_baseline_adds_the_columns_an_older_schema_sql_lacked (the baseline revision does it now).


def test_a_load_streams_in_chunks_and_moves_its_watermark_only_when_every_row_went_in(engine, monkeypatch):
    """Rows are written as they arrive (the next pages are fetched meanwhile); a listing that breaks off leaves
    the rows it wrote (the same ones again next time), flags nothing deleted and keeps the old watermark."""
    from atera_qbo.extract import load as load_mod
    from atera_qbo.extract.watermarks import get_watermark

    monkeypatch.setattr(load_mod, "CHUNK", 2)
    tbl = table("stg_qbo_terms")

    def rows(n: int, fail_after: int | None = None):
        for i in range(n):
            if fail_after is not None and i == fail_after:
                raise ConnectionError("the listing broke off")
            yield {"source_id": str(i), "name": f"Net {i}", "due_days": i, "active": True}

    load_mod.load(engine, "stg_qbo_terms", ["source_id"], rows(4), full=True, result=load_mod.LoadResult("t"),
                  watermarks={"qbo_terms": "2026-01-01T00:00:00Z"})
    with pytest.raises(ConnectionError):
        load_mod.load(engine, "stg_qbo_terms", ["source_id"], rows(6, fail_after=3), full=True,
                      result=load_mod.LoadResult("t"), watermarks=lambda: {"qbo_terms": "2026-02-01T00:00:00Z"})
    with engine.connect() as conn:
        staged = {r.source_id: r.deleted_at for r in conn.execute(sa.select(tbl))}
    assert set(staged) == {"0", "1", "2", "3"} and not any(staged.values())  # "3" not flagged deleted
    assert get_watermark(engine, "qbo_terms") == "2026-01-01T00:00:00Z"
    done = load_mod.load(engine, "stg_qbo_terms", ["source_id"], rows(3), full=True,
                         result=load_mod.LoadResult("t"), watermarks=lambda: {"qbo_terms": "2026-03-01T00:00:00Z"})
    with engine.connect() as conn:
        gone = conn.execute(sa.select(tbl.c.source_id).where(tbl.c.deleted_at.is_not(None))).scalars().all()
    assert done.rows == 3 and gone == ["3"] and get_watermark(engine, "qbo_terms") == "2026-03-01T00:00:00Z"
