"""Invoice export against both twins: exactly once, also when QBO performs a write and drops the answer."""
from __future__ import annotations

from collections import Counter
from decimal import Decimal as D

import requests
import sqlalchemy as sa

from atera_qbo.extract import extract_atera_catalog, extract_atera_invoices
from atera_qbo.staging.db import table

from .pipeline import atera_client, export, sync_and_match
from .test_extract_qbo import client as qbo_client


def qbo_invoices(qbo) -> list[dict]:
    return list(qbo.query_all("Invoice"))


def ledger(engine) -> Counter:
    tbl = table("export_invoices")
    with engine.connect() as conn:
        return Counter(s for (s,) in conn.execute(sa.select(tbl.c.status)))


def test_dropped_answers_do_not_duplicate_invoices(atera_twin, qbo_twin, qbo_control, engine):
    atera, qbo = atera_client(atera_twin), qbo_client(qbo_twin, engine)
    sync_and_match(atera, qbo, engine)
    before = len(qbo_invoices(qbo))
    # Half of all successful writes are performed, then the connection drops without an answer.
    with qbo_control.faults(commit_then_drop_rate=0.5):
        result = export(atera, qbo, engine, "drops-1")
    assert any(e.get("dropped") for e in qbo_control.requests()), "no answer was dropped: the test proves nothing"
    assert not result.failed and not result.blocked, {**result.failed, **result.blocked}
    invoices = qbo_invoices(qbo)
    counts = Counter(i["DocNumber"] for i in invoices)
    assert len(invoices) - before == result.selected == 150
    assert max(counts.values()) == 1
    assert ledger(engine) == Counter({"exported": 150})


def test_lost_ledger_is_recovered_from_qbo_not_exported_twice(atera_twin, qbo_twin, engine, tmp_path):
    """A run whose ledger is gone (new staging DB) finds the invoices in QBO by DocNumber instead of re-sending."""
    from atera_qbo.staging.db import apply_schema, make_engine

    atera, qbo = atera_client(atera_twin), qbo_client(qbo_twin, engine)
    sync_and_match(atera, qbo, engine)
    export(atera, qbo, engine, "first")
    count = len(qbo_invoices(qbo))
    fresh = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    apply_schema(fresh)
    qbo2 = qbo_client(qbo_twin, fresh)
    sync_and_match(atera, qbo2, fresh)
    result = export(atera, qbo2, fresh, "after-loss")
    assert result.recovered == 150 and not result.exported
    assert len(qbo_invoices(qbo2)) == count


def test_create_missing_customers_reuses_a_same_named_qbo_customer_and_creates_the_rest(atera_twin, atera_control,
                                                                                        qbo_twin, engine):
    from atera_qbo.export.customers import create_missing_customers

    from .pipeline import WINDOW

    atera, qbo = atera_client(atera_twin), qbo_client(qbo_twin, engine)
    sync_and_match(atera, qbo, engine)  # creates Greenfield Architects (25) and Harbor View Realty (26) in QBO
    mc = table("map_customers")
    with engine.begin() as conn:  # forget two mappings, as if matching had never run for them (no history)
        conn.execute(sa.delete(mc).where(mc.c.atera_id.in_(["25", "1"])))
    # A customer QBO has never seen, with an ad-hoc invoice, appears in Atera.
    headers = {"X-API-KEY": "twin-atera-key"}
    new_id = requests.post(f"{atera_twin.url}/api/v3/customers", headers=headers, timeout=10, json={
        "CustomerName": "Brand New Clinic", "Address": "12 Elm Street", "City": "Dayton"}).json()["ActionID"]
    line = {"Product": "Parking", "Description": "Parking", "Quantity": 2, "Rate": 15, "TaxPercentage": 0,
            "DiscountPercentage": None, "Subtotal": 30, "Tax": 0, "Total": 30, "LineIdx": 0}
    atera_control.add_invoices([{
        "IsAdhoc": True, "InvoiceDate": "2026-10-15T00:00:00", "ContractName": None, "Currency": "USD",
        "LineItems": [line], "Subtotal": 30, "Tax": 0, "Total": 30, "TaxPercentage": 0,
        "To": {"CompanyName": "Brand New Clinic"}}])
    extract_atera_catalog(atera, engine)
    extract_atera_invoices(atera, engine, *WINDOW)  # stages the invoices, exports nothing
    before = len(list(qbo.query_all("Customer", "Active IN (true, false)")))
    mapped, problems = create_missing_customers(engine, qbo, *WINDOW, [])
    assert set(mapped) == {"25", "1", str(new_id)} and not problems
    assert len(list(qbo.query_all("Customer", "Active IN (true, false)"))) == before + 1  # only the new one
    with engine.connect() as conn:
        methods = dict(conn.execute(sa.select(mc.c.atera_id, mc.c.method).where(
            mc.c.atera_id.in_(["25", "1", str(new_id)]))).all())
    assert methods == {"25": "exact", "1": "exact", str(new_id): "created"}
    created = qbo.query_all("Customer", "DisplayName = 'Brand New Clinic'")
    assert [c.get("BillAddr", {}).get("City") for c in created] == ["Dayton"]  # the same payload as matching's
    again, _ = create_missing_customers(engine, qbo, *WINDOW, [])
    assert again == {}  # all mapped now


def test_item_faults_fail_only_their_invoices_and_a_rerun_after_the_fix_exports_them(atera_twin, qbo_twin, engine):
    """QBO batches are not transactional: one bad invoice must not sink the others, and once the cause is fixed in
    QBO the same invoice must go through (not be answered with a replay of its old fault)."""
    atera, qbo = atera_client(atera_twin), qbo_client(qbo_twin, engine)
    sync_and_match(atera, qbo, engine)
    for inv in list(qbo.query_all("Invoice")):  # start from an empty QBO invoice list
        qbo._call("POST", "/invoice", entity="t", params={"operation": "delete"},
                  json={"Id": inv["Id"], "SyncToken": inv["SyncToken"]})
    item = qbo.query("SELECT * FROM Item WHERE Name = 'Parking'", entity="t")["Item"][0]
    flip = qbo._call("POST", "/item", entity="t", json={"Id": item["Id"], "SyncToken": item["SyncToken"],
                                                         "sparse": True, "Active": False})["Item"]
    first = export(atera, qbo, engine, "with-inactive-item")
    assert first.failed and first.exported  # partial: the others went through
    assert all("Parking" not in str(v) or "610" in v or "2500" in v or "inactive" in v.lower()
               for v in first.failed.values())
    qbo._call("POST", "/item", entity="t", json={"Id": item["Id"], "SyncToken": flip["SyncToken"], "sparse": True,
                                                 "Active": True})
    second = export(atera, qbo, engine, "after-fix")
    assert set(second.exported) == set(first.failed) and not second.failed
    counts = Counter(i["DocNumber"] for i in qbo_invoices(qbo))
    assert len(counts) == first.selected and max(counts.values()) == 1
    assert ledger(engine) == Counter({"exported": first.selected})


def test_dry_run_checks_everything_and_writes_nothing(atera_twin, qbo_twin, qbo_control, engine):
    atera, qbo = atera_client(atera_twin), qbo_client(qbo_twin, engine)
    sync_and_match(atera, qbo, engine)
    qbo_control.clear_requests()
    result = export(atera, qbo, engine, "dry", dry_run=True)
    assert result.dry_run and result.selected >= 150
    writes = [e for e in qbo_control.requests() if e["method"] == "POST" and not e["path"].endswith("/query")]
    assert writes == []
    assert ledger(engine) == Counter()  # no invoice row: a dry run records nothing but its batch
    batches = table("export_batches")
    with engine.connect() as conn:
        assert conn.execute(sa.select(batches.c.status).where(batches.c.batch_id == "dry")).scalar() == "dry_run"


def test_report_lists_each_invoice_with_its_qbo_link(atera_twin, qbo_twin, engine, tmp_path):
    import csv

    from atera_qbo.export.report import write_report

    atera, qbo = atera_client(atera_twin), qbo_client(qbo_twin, engine)
    sync_and_match(atera, qbo, engine)
    for inv in list(qbo.query_all("Invoice")):  # a QBO without our invoices: everything is exported now
        qbo._call("POST", "/invoice", entity="t", params={"operation": "delete"},
                  json={"Id": inv["Id"], "SyncToken": inv["SyncToken"]})
    result = export(atera, qbo, engine, "report")
    path = write_report(engine, result, tmp_path / "report.csv")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(path.open(encoding="utf-8-sig")))
    assert len(rows) == len(result.exported) + len(result.blocked) + len(result.failed) >= 150
    exported = [r for r in rows if r["status"] == "exported"]
    assert exported and all(r["qbo_link"].endswith(f"txnId={r['qbo_id']}") for r in exported)
    assert all(r["pre_tax_total"] for r in exported)


def test_an_atera_credit_lands_as_a_qbo_credit_memo_once(atera_twin, atera_control, qbo_twin, engine):
    atera, qbo = atera_client(atera_twin), qbo_client(qbo_twin, engine)
    sync_and_match(atera, qbo, engine)
    line = {"Product": "Parking", "Description": "Credit: parking refund", "Quantity": -2, "Rate": 15,
            "TaxPercentage": 0, "DiscountPercentage": None, "Subtotal": -30, "Tax": 0, "Total": -30, "LineIdx": 0}
    (posted,) = atera_control.add_invoices([{
        "IsAdhoc": True, "InvoiceDate": "2026-10-20T00:00:00", "ContractName": None, "Currency": "USD",
        "LineItems": [line], "Subtotal": -30, "Tax": 0, "Total": -30, "TaxPercentage": 0,
        "To": {"CompanyName": "Contoso Ltd"}}])
    number = str(posted["InvoiceNumber"])
    first = export(atera, qbo, engine, "credit-1", numbers=[number])
    assert number in first.exported, {**first.blocked, **first.failed}
    memos = [m for m in qbo.query_all("CreditMemo") if m.get("DocNumber") == number]
    assert len(memos) == 1 and D(str(memos[0]["TotalAmt"])) >= D("30.00")
    sales = [row for row in memos[0]["Line"] if row.get("DetailType") == "SalesItemLineDetail"]
    assert [D(str(row["Amount"])) for row in sales] == [D("30.00")]
    again = export(atera, qbo, engine, "credit-2", numbers=[number])
    assert again.already_exported == 1 and not again.exported
    assert len([m for m in qbo.query_all("CreditMemo") if m.get("DocNumber") == number]) == 1
