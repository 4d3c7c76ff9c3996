"""QBO extraction and the token chain against the QBO twin over HTTP."""
from __future__ import annotations

import multiprocessing
from pathlib import Path

import sqlalchemy as sa

from atera_qbo.extract import extract_qbo_catalog
from atera_qbo.http import RetryPolicy
from atera_qbo.qbo.auth import TokenEndpoint, TokenStore
from atera_qbo.qbo.client import QboClient
from atera_qbo.staging.db import apply_schema, make_engine, money_in, table
from sandbox.control import QboControl
from scripts.airflow_env import DEMO

FAST = RetryPolicy(max_attempts=8, initial_wait=0.01, max_wait=0.05, timeout=10)


def fresh_grant(twin) -> str:
    return QboControl(twin.url).mint_refresh_token(DEMO["client_id"])


def client(twin, engine, seed_token=None):
    endpoint = TokenEndpoint(f"{twin.url}/oauth2/v1/tokens/bearer", DEMO["client_id"], DEMO["client_secret"])
    store = TokenStore(engine, DEMO["realm_id"], endpoint, seed_refresh_token=seed_token or fresh_grant(twin))
    return QboClient(twin.url, DEMO["realm_id"], store, policy=FAST, rate_per_minute=None)


def rows(engine, name, *cols):
    tbl = table(name)
    with engine.connect() as conn:
        return sorted(tuple(r) for r in conn.execute(sa.select(*(tbl.c[c] for c in cols))))


def test_catalog_includes_inactive_sub_customers_categories_and_preferences(qbo_twin, engine):
    extract_qbo_catalog(client(qbo_twin, engine), engine)
    customers = {r[1]: r for r in rows(engine, "stg_qbo_customers", "source_id", "display_name", "active", "is_job")}
    assert customers["Old Mill Bakery"][2] is False or customers["Old Mill Bakery"][2] == 0
    assert customers["Contoso Warehouse"][3] in (True, 1)
    items = rows(engine, "stg_qbo_items", "name", "item_type")
    assert ("Hardware", "Category") in items
    (pref,) = rows(engine, "stg_qbo_preferences", "country", "custom_txn_numbers", "home_currency")
    assert pref[0] == "US" and pref[1] in (True, 1) and pref[2] == "USD"
    assert rows(engine, "stg_qbo_accounts", "source_id")


def test_incremental_reads_only_changes_and_sees_inactivation(qbo_twin, qbo_control, engine, monkeypatch):
    from datetime import timedelta

    import atera_qbo.extract.qbo as qbo_extract

    # The demo seed stamps its records one second apart: without the overlap the difference shows.
    monkeypatch.setattr(qbo_extract, "QBO_OVERLAP", timedelta(0))
    qbo = client(qbo_twin, engine)
    first = extract_qbo_catalog(qbo, engine)
    assert first["customers"].rows >= 30
    # Make one customer inactive through the API, as a bookkeeper would in QBO.
    cust = qbo.query("SELECT * FROM Customer WHERE DisplayName = 'Fourth Coffee'", entity="t")["Customer"][0]
    qbo._call("POST", "/customer", entity="t", json={"Id": cust["Id"], "SyncToken": cust["SyncToken"],
                                                     "sparse": True, "Active": False})
    second = extract_qbo_catalog(qbo, engine)
    assert second["customers"].rows < first["customers"].rows  # only what changed since the watermark (+overlap)
    assert ("Fourth Coffee", False) in [(n, bool(a)) for n, a in rows(engine, "stg_qbo_customers", "display_name",
                                                                      "active")]
    # Deletions (merges) of an incremental run come from CDC, asked from the last sync less the overlap.
    cdc = [e for e in qbo_control.requests() if e["path"].endswith("/cdc")]
    assert len(cdc) == 1 and "changedSince=" in cdc[0]["query"] and "Customer" in cdc[0]["query"]


def test_injected_503s_leave_staging_identical(qbo_twin, qbo_control, engine, tmp_path):
    extract_qbo_catalog(client(qbo_twin, engine), engine, full_refresh=True)

    def items(eng):  # the faulty run stages into SQLite: compare values, not storage types
        return [(i, n, money_in(p), bool(a)) for i, n, p, a in rows(eng, "stg_qbo_items", "source_id", "name",
                                                                      "unit_price", "active")]

    clean = items(engine)
    other = make_engine(f"sqlite:///{tmp_path / 'faulty.db'}")
    apply_schema(other)
    with qbo_control.faults(error_rate=0.1, error_status=503):
        extract_qbo_catalog(client(qbo_twin, other), other, full_refresh=True)
    assert items(other) == clean


def _refresh_in_process(url: str, token_url: str, seed: str, out) -> None:  # pragma: no cover - child process
    import sys

    sys.path[:0] = [str(Path(__file__).resolve().parents[2] / "plugins")]
    from atera_qbo.qbo.auth import TokenEndpoint, TokenStore
    from atera_qbo.staging.db import make_engine

    try:
        store = TokenStore(make_engine(url), DEMO["realm_id"],
                           TokenEndpoint(token_url, DEMO["client_id"], DEMO["client_secret"]), seed_refresh_token=seed)
        out.put(("ok", store.access_token(force_refresh=True)[1]))
    except Exception as exc:  # noqa: BLE001
        out.put(("error", repr(exc)))


def test_two_processes_refreshing_at_once_keep_the_chain(qbo_twin, engine):
    seed = fresh_grant(qbo_twin)
    TokenStore(engine, DEMO["realm_id"], TokenEndpoint(f"{qbo_twin.url}/oauth2/v1/tokens/bearer", DEMO["client_id"],
                                                       DEMO["client_secret"]), seed_refresh_token=seed)
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    url = engine.url.render_as_string(hide_password=False)
    procs = [ctx.Process(target=_refresh_in_process,
                         args=(url, f"{qbo_twin.url}/oauth2/v1/tokens/bearer", seed, out)) for _ in range(2)]
    for p in procs:
        p.start()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    assert all(kind == "ok" for kind, _ in results), results
    # The chain survived: a third refresh from the stored token still works.
    qbo = client(qbo_twin, engine, seed_token=seed)
    assert qbo.tokens.access_token(force_refresh=True)[1] >= 2
    assert qbo.query("SELECT COUNT(*) FROM Customer", entity="t")["totalCount"] >= 1


def test_a_401_triggers_one_refresh_and_one_retry(qbo_twin, qbo_control, engine):
    qbo = client(qbo_twin, engine)
    assert qbo.query("SELECT COUNT(*) FROM Customer", entity="t")["totalCount"] >= 1
    _, version = qbo.tokens.access_token()
    # The access token dies early (QBO can revoke it at any time): the stored expiry still says it is valid.
    assert qbo_control.expire_access_tokens() >= 1
    assert qbo.query("SELECT COUNT(*) FROM Customer", entity="t")["totalCount"] >= 1
    assert qbo.tokens.access_token()[1] == version + 1
    log = qbo_control.requests()
    assert [e["status"] for e in log if e["path"].endswith("/query")][-2:] == [401, 200]
