"""Two export runs at the same time over overlapping invoice windows: the ledger's claims keep them apart
(every invoice once in QBO, neither run fails, the ledger agrees), on SQLite and PostgreSQL. The same through
Airflow's CeleryExecutor with two workers: tests/celery."""
from __future__ import annotations

import threading
from collections import Counter
from datetime import date

import pytest
import sqlalchemy as sa

from atera_qbo.export.claims import claim
from atera_qbo.export.load import export_invoices
from atera_qbo.extract import extract_atera_invoices
from atera_qbo.staging.db import table
from sandbox.control import QboControl
from sandbox.launch import start_twin
from scripts.airflow_env import DEMO
from tests.twin_state import UNTHROTTLED_QBO

from .pipeline import WINDOW, atera_client, sync_and_match
from .test_extract_qbo import client as qbo_client


@pytest.fixture
def twins(tmp_path):
    """Twins of this test's own: two export runs at once are the subject, nothing else may use them."""
    atera = start_twin("atera", ["--seed", "demo", "--api-key", DEMO["atera_api_key"]], log_path=tmp_path / "a.log")
    try:
        qbo = start_twin("qbo", ["--seed", "demo", "--realm-id", DEMO["realm_id"], "--client-id", DEMO["client_id"],
                                 "--client-secret", DEMO["client_secret"], "--refresh-token", DEMO["refresh_token"]],
                         log_path=tmp_path / "q.log")
    except BaseException:
        atera.stop()
        raise
    try:
        QboControl(qbo.url).set_limits(**UNTHROTTLED_QBO)
        yield atera, qbo
    finally:
        atera.stop()
        qbo.stop()


def test_overlapping_runs_at_the_same_time_export_each_invoice_once(twins, engine):
    atera_twin, qbo_twin = twins
    atera, qbo = atera_client(atera_twin), qbo_client(qbo_twin, engine)
    sync_and_match(atera, qbo, engine)
    extract_atera_invoices(atera, engine, *WINDOW)
    windows = {"early": (WINDOW[0], date(2026, 9, 30)), "late": (date(2026, 9, 1), WINDOW[1])}
    start, results, errors = threading.Barrier(2), {}, []

    def run(name: str) -> None:
        try:
            client = qbo_client(qbo_twin, engine, seed_token=None)
            start.wait(timeout=30)
            lo, hi = windows[name]
            results[name] = export_invoices(engine, client, batch_id=name, date_from=lo, date_to=hi)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in windows]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    early, late = results["early"], results["late"]
    for r in (early, late):
        assert not r.failed and not r.blocked, {**r.failed, **r.blocked}
    overlap = set(early.exported) & set(late.exported)
    assert not overlap, f"both runs sent {sorted(overlap)[:5]}"
    # each run accounts for every invoice of its window: sent by it, or found exported by the other
    assert len(early.exported) + early.already_exported + early.recovered == early.selected
    assert len(late.exported) + late.already_exported + late.recovered == late.selected
    assert early.already_exported + early.recovered + late.already_exported + late.recovered > 0, \
        "the windows never met: the test proves nothing"

    invoices = list(qbo.query_all("Invoice")) + list(qbo.query_all("CreditMemo"))
    counts = Counter(i["DocNumber"] for i in invoices)
    assert counts and max(counts.values()) == 1, [n for n, c in counts.items() if c > 1][:5]
    tbl = table("export_invoices")
    with engine.connect() as conn:
        ledger = dict(conn.execute(sa.select(tbl.c.atera_invoice_number, tbl.c.status)).all())
    assert set(ledger.values()) == {"exported"}
    assert len(ledger) == len(set(early.exported) | set(late.exported)) + early.recovered + late.recovered


def test_a_claim_holds_off_a_second_claimant_until_released(engine):
    held, order = threading.Event(), []

    def second() -> None:
        held.wait(timeout=10)
        with claim(engine, ["1042", "7"]):
            order.append("second")

    t = threading.Thread(target=second)
    with claim(engine, ["7", "1042"]):
        t.start()
        held.set()
        t.join(timeout=1.0)  # it must still be waiting for the claim
        order.append("first")
    t.join(timeout=30)
    assert order == ["first", "second"]
