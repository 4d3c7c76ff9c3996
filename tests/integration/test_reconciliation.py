"""Reconciliation against both twins, on SQLite and PostgreSQL: every finding type produced by changing the twins
through their public APIs, findings kept across runs and resolved, the report's HTML counts equal to its CSVs, and
export refusing invoices for QBO records reconciliation found unusable (and only those)."""
from __future__ import annotations

import csv
import time
from collections import Counter
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest
import sqlalchemy as sa

from atera_qbo.export.context import build_context
from atera_qbo.export.selection import select_invoices
from atera_qbo.export.transform import transform
from atera_qbo.reconcile.findings import COLUMNS, FINDING_TYPES
from atera_qbo.reconcile.run import CriticalFindings, raise_for_critical, reconcile
from atera_qbo.staging.db import table
from sandbox.control import AteraControl, QboControl
from sandbox.launch import start_twin
from scripts.airflow_env import DEMO
from tests.twin_state import UNTHROTTLED_QBO

from .pipeline import WINDOW, atera_client, export, sync_and_match
from .recon_helpers import atera_http, delete_txn, pay, read, sparse_update, void_invoice
from .test_extract_qbo import client as qbo_client

LO, HI = WINDOW[0].isoformat(), WINDOW[1].isoformat()


@pytest.fixture
def twins(tmp_path):
    """Fresh twins per test: these tests change them."""
    atera = start_twin("atera", ["--seed", "demo", "--api-key", DEMO["atera_api_key"]], log_path=tmp_path / "a.log")
    qbo = start_twin("qbo", ["--seed", "demo", "--realm-id", DEMO["realm_id"], "--client-id", DEMO["client_id"],
                             "--client-secret", DEMO["client_secret"]], log_path=tmp_path / "q.log")
    try:
        QboControl(qbo.url).set_limits(**UNTHROTTLED_QBO)
        yield atera, qbo
    finally:
        atera.stop()
        qbo.stop()


def run(engine, atera, qbo, review: Path, run_id: str, **kwargs):
    time.sleep(1.05)  # QBO stamps whole seconds: keep each run's changes apart
    return reconcile(engine, qbo=qbo, atera=atera, review_dir=review, run_id=run_id, date_from=LO, date_to=HI,
                     **kwargs)


def findings(engine, run_id: str, *, new: bool = False) -> set[tuple[str, str, str, str]]:
    """(type, severity, atera_id, qbo_id) of the findings open after ``run_id`` (only the new ones)."""
    tbl = table("recon_findings")
    cond = [tbl.c.last_run_id == run_id, tbl.c.resolved_at.is_(None)]
    if new:
        cond.append(tbl.c.first_run_id == run_id)
    with engine.connect() as conn:
        return {(r.type, r.severity, r.atera_id, r.qbo_id) for r in conn.execute(sa.select(tbl).where(*cond))}


def ledger(engine) -> dict[str, tuple[str, str, str]]:
    led, inv = table("export_invoices"), table("stg_atera_invoices")
    with engine.connect() as conn:
        return {r.atera_invoice_number: (r.qbo_type, r.qbo_id, r.customer_id) for r in conn.execute(
            sa.select(led.c.atera_invoice_number, led.c.qbo_type, led.c.qbo_id, inv.c.customer_id)
            .select_from(led.join(inv, inv.c.source_id == led.c.atera_invoice_number))
            .where(led.c.status == "exported"))}


def mapping(engine, name: str) -> dict[str, str]:
    tbl = table(name)
    with engine.connect() as conn:
        return {r.atera_id: r.qbo_id for r in conn.execute(sa.select(tbl).where(tbl.c.active.is_(True)))}


class _Report(HTMLParser):
    """Severity counts at the top and the rows of each finding table."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: dict[str, int] = {}
        self.rows: Counter = Counter()
        self._count: str | None = None
        self._table: str | None = None
        self.external: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if (attrs.get("id") or "").startswith("count-"):
            self._count = attrs["id"][6:]
        if tag == "table":
            self._table = attrs.get("data-type")
        if tag == "tr" and "finding" in (attrs.get("class") or ""):
            self.rows[(self._table, attrs["data-severity"])] += 1
        if tag in ("link", "script", "img") or (tag == "link" and attrs.get("href")):
            self.external.append(tag)

    def handle_data(self, data):
        if self._count and data.strip().isdigit():
            self.counts[self._count] = int(data.strip())
            self._count = None


def check_report(result) -> None:
    """The HTML's severity counts and tables equal the CSVs (one per type)."""
    parser = _Report()
    html = Path(result.paths["report"]).read_text(encoding="utf-8")
    parser.feed(html)
    assert "http://" not in html.replace("https://app.qbo.intuit.com", "") and not parser.external
    from_csv: Counter = Counter()
    for ftype, path in result.paths["csv"].items():
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            assert next(reader) == COLUMNS
            for row in reader:
                assert row[0] == ftype
                from_csv[(ftype, row[1])] += 1
    assert parser.rows == from_csv
    for sev in ("critical", "warning", "info"):
        assert parser.counts[sev] == sum(n for (_, s), n in from_csv.items() if s == sev) \
            == result.counts["by_severity"][sev]
    assert parser.counts["new"] == result.counts["new"]
    latest = Path(result.paths["latest"])
    assert latest.name == "reconciliation_latest.html" and "Run " + result.run_id in latest.read_text()


def test_a_void_and_a_payment_are_exactly_the_new_findings(twins, engine, tmp_path):
    """The acceptance: after a void and a payment made by hand in QBO, the next run reports exactly those two,
    with the right severity; the critical one fails the check after the report landed; export refuses nothing."""
    atera_twin, qbo_twin = twins
    atera, qbo = atera_client(atera_twin), qbo_client(qbo_twin, engine)
    sync_and_match(atera, qbo, engine)
    first_export = export(atera, qbo, engine, "first")
    assert first_export.exported and not first_export.blocked
    first = run(engine, atera, qbo, tmp_path, "run-1")
    check_report(first)
    assert first.counts["by_severity"]["critical"] == 0
    assert first.refresh.mode == "full" and first.refresh.read_by_id == len(ledger(engine))

    invoices = [n for n, (t, _, _) in ledger(engine).items() if t == "Invoice"]
    voided, paid = ledger(engine)[invoices[0]], ledger(engine)[invoices[1]]
    void_invoice(qbo_twin, qbo, voided[1])
    pay(qbo_twin, qbo, "Invoice", paid[1], txn_date="2026-11-20")

    second = run(engine, atera, qbo, tmp_path, "run-2")
    assert findings(engine, "run-2", new=True) == {("txn_voided", "critical", invoices[0], voided[1]),
                                                   ("payment_status", "info", invoices[1], paid[1])}
    assert second.counts["new"] == 2
    assert second.refresh.mode == "cdc" and second.refresh.read_by_id == 0
    check_report(second)
    with open(second.paths["csv"]["payment_status"], encoding="utf-8-sig") as fh:
        paid_row = next(r for r in csv.DictReader(fh) if r["atera_id"] == invoices[1])
    assert paid_row["detail"].startswith("paid: ") and "last payment 2026-11-20" in paid_row["detail"]
    assert paid_row["qbo_link"].endswith(f"txnId={paid[1]}")
    # a persisting finding keeps its first_seen
    tbl = table("recon_findings")
    with engine.connect() as conn:
        kept = conn.execute(sa.select(tbl.c.first_seen).where(tbl.c.last_run_id == "run-2", tbl.c.first_run_id ==
                                                              "run-1", tbl.c.resolved_at.is_(None))).all()
    assert len(kept) == second.counts["total"] - 2 > 0, "nothing persisted between the runs: the test proves nothing"
    # the critical one fails the final check, naming it, after the report landed
    assert Path(second.paths["report"]).exists()
    with pytest.raises(CriticalFindings, match=f"txn_voided: Atera {invoices[0]}"):
        raise_for_critical([{"type": f.type, "atera_id": f.atera_id, "qbo_id": f.qbo_id, "detail": f.detail}
                            for f in second.critical], second.paths["report"])
    again = export(atera, qbo, engine, "again")
    assert not again.blocked and not again.failed and again.already_exported == len(ledger(engine))


def _items_of(engine, number: str) -> set[str]:
    ((inv, lines),) = select_invoices(engine, date_from=None, date_to=None, numbers=[number])
    payload = transform(inv, lines, build_context(engine)).payload
    return {line["SalesItemLineDetail"]["ItemRef"]["value"] for line in payload["Line"]
            if "SalesItemLineDetail" in line}


def test_every_finding_type_from_changes_in_the_twins(twins, engine, tmp_path):
    atera_twin, qbo_twin = twins
    atera, qbo = atera_client(atera_twin), qbo_client(qbo_twin, engine)
    sync_and_match(atera, qbo, engine)
    from atera_qbo.extract import extract_atera_invoices

    line = {"Product": "Parking", "Description": "Credit: parking refund", "Quantity": -2, "Rate": 15,
            "TaxPercentage": 0, "DiscountPercentage": None, "Subtotal": -30, "Tax": 0, "Total": -30, "LineIdx": 0}
    AteraControl(atera_twin.url).add_invoices([{  # a credit: a QBO credit memo
        "IsAdhoc": True, "InvoiceDate": "2026-08-02T00:00:00", "ContractName": None, "Currency": "USD",
        "LineItems": [line], "Subtotal": -30, "Tax": 0, "Total": -30, "TaxPercentage": 0,
        "To": {"CompanyName": "Contoso Ltd"}}])
    extract_atera_invoices(atera, engine, *WINDOW)
    numbers = [inv["source_id"] for inv, _ in select_invoices(engine, date_from=WINDOW[0], date_to=WINDOW[1],
                                                               numbers=None)]
    held_back = numbers[-3:]  # never exported (yet)
    export(atera, qbo, engine, "first", numbers=numbers[:-3])
    run(engine, atera, qbo, tmp_path, "base")

    exported = ledger(engine)
    customers, products = mapping(engine, "map_customers"), mapping(engine, "map_products")
    by_customer: dict[str, list[str]] = {}
    for number, (qbo_type, _, atera_customer) in exported.items():
        if qbo_type == "Invoice":
            by_customer.setdefault(atera_customer, []).append(number)
    # customers with invoices, each used for one change only
    qc = table("stg_qbo_customers")
    with engine.connect() as conn:
        parents = {p for (p,) in conn.execute(sa.select(qc.c.parent_id).where(qc.c.parent_id.is_not(None)))}
    busy = sorted((c for c in by_customer if c in customers and customers[c] not in parents),
                  key=lambda c: (-len(by_customer[c]), c))
    merged_atera, target_atera, touched_atera = busy[0], busy[1], busy[2]
    merged_q = customers[merged_atera]
    renamed_atera = next(a for a in sorted(customers) if a not in (merged_atera, target_atera, touched_atera))
    voided, deleted, edited, part_paid = by_customer[touched_atera][:4]
    memo = next(n for n, (t, _, _) in exported.items() if t == "CreditMemo")
    blocked_number = held_back[0]
    inactive_item = sorted(_items_of(engine, blocked_number))[0]
    item_to_atera = {q: a for a, q in products.items()}
    priced_item = next(q for a, q in sorted(products.items()) if a.startswith("product:") and q != inactive_item)
    gone_product = next(a for a in sorted(products) if a.startswith("product:") and products[a] not in
                        (inactive_item, priced_item))
    renamed_product = next(a for a in sorted(products) if a.startswith("product:") and a != gone_product and
                           products[a] not in (inactive_item, priced_item))

    # --- QBO, by hand
    sparse_update(qbo_twin, qbo, "Customer", customers[renamed_atera], DisplayName="Renamed In QBO Ltd")
    QboControl(qbo_twin.url).merge_customers(merged_q, customers[target_atera])
    item = read(qbo_twin, qbo, "Item", priced_item)
    sparse_update(qbo_twin, qbo, "Item", priced_item, UnitPrice=str(Decimal(str(item.get("UnitPrice", 0))) + 10))
    sparse_update(qbo_twin, qbo, "Item", inactive_item, Active=False)
    void_invoice(qbo_twin, qbo, exported[voided][1])
    delete_txn(qbo_twin, qbo, "Invoice", exported[deleted][1])
    doc = read(qbo_twin, qbo, "Invoice", exported[edited][1])
    lines = [dict(line) for line in doc["Line"] if line.get("DetailType") == "SalesItemLineDetail"]
    detail = dict(lines[0]["SalesItemLineDetail"])
    detail["Qty"] = Decimal(str(detail.get("Qty", 1))) * 2
    lines[0] = {**lines[0], "Amount": Decimal(str(lines[0]["Amount"])) * 2, "SalesItemLineDetail": detail}
    sparse_update(qbo_twin, qbo, "Invoice", exported[edited][1], Line=lines)
    balance = read(qbo_twin, qbo, "Invoice", exported[part_paid][1])["Balance"]
    pay(qbo_twin, qbo, "Invoice", exported[part_paid][1], amount=round(Decimal(str(balance)) / 2, 2))
    pay(qbo_twin, qbo, "CreditMemo", exported[memo][1])
    # --- Atera, by hand
    new_customer = atera_http(atera_twin, "POST", "/customers", json={"CustomerName": "Brand New Clinic LLC"})
    atera_http(atera_twin, "DELETE", f"/rates/products/{gone_product.split(':')[1]}")
    atera_http(atera_twin, "PUT", f"/rates/products/{renamed_product.split(':')[1]}",
               json={"Description": "Renamed In Atera Product"})

    second = run(engine, atera, qbo, tmp_path, "second")
    check_report(second)
    got = findings(engine, "second", new=True)
    kinds = {(t, s) for t, s, _, _ in got}
    expected = {("mapping_target_deleted", "critical"), ("mapping_target_inactive", "warning"),
                ("mapping_source_gone", "warning"), ("name_changed", "info"), ("price_drift", "warning"),
                ("unmapped", "info"), ("txn_voided", "critical"), ("txn_deleted", "critical"),
                ("txn_changed", "warning"), ("payment_status", "info")}
    assert expected <= kinds, expected - kinds
    assert ("mapping_target_deleted", "critical", merged_atera, merged_q) in got
    assert ("mapping_target_inactive", "warning", item_to_atera[inactive_item], inactive_item) in got
    assert ("mapping_source_gone", "warning", gone_product, products[gone_product]) in got
    assert ("name_changed", "info", renamed_atera, customers[renamed_atera]) in got
    assert ("name_changed", "info", renamed_product, products[renamed_product]) in got
    assert ("price_drift", "warning", item_to_atera[priced_item], priced_item) in got
    assert any(t == "unmapped" and a == str(new_customer["ActionID"]) for t, _, a, _ in got)
    assert ("txn_voided", "critical", voided, exported[voided][1]) in got
    assert ("txn_deleted", "critical", deleted, exported[deleted][1]) in got
    assert ("txn_changed", "warning", edited, exported[edited][1]) in got
    # partly paid: info, or a warning when it is also overdue (the subkey changes: a new finding either way)
    assert {("payment_status", "info", part_paid, exported[part_paid][1]),
            ("payment_status", "warning", part_paid, exported[part_paid][1])} & got
    assert ("payment_status", "info", memo, exported[memo][1]) in got
    moved = set(by_customer[merged_atera])
    assert {a for t, _, a, _ in got if t == "txn_changed"} == moved | {edited}  # the merge moved their customer
    assert {a for t, _, a, _ in findings(engine, "second") if t == "not_exported"} == set(held_back)
    details = {(f.type, f.atera_id): f.detail for f in _csv_findings(second)}
    assert "lines changed (" in details[("txn_changed", edited)] and "total " in details[("txn_changed", edited)]
    assert "customer " in details[("txn_changed", sorted(moved)[0])]
    assert "partially paid" in details[("payment_status", part_paid)]
    assert details[("payment_status", memo)].startswith("applied")
    assert "(+" in details[("price_drift", item_to_atera[priced_item])]

    # export refuses the invoice for the inactive item, naming the reason, and sends the others
    result = export(atera, qbo, engine, "rest", numbers=held_back)
    assert set(result.blocked) == {blocked_number} and f"QBO item {inactive_item}" in result.blocked[blocked_number]
    assert set(result.exported) == set(held_back[1:])

    run(engine, atera, qbo, tmp_path, "third", stale_days=0)
    assert ("ledger_stuck", "warning", blocked_number, "") in findings(engine, "third")
    # fixed in QBO: the next run resolves the finding and the export sends the invoice, once
    sparse_update(qbo_twin, qbo, "Item", inactive_item, Active=True)
    fourth = run(engine, atera, qbo, tmp_path, "fourth")
    tbl = table("recon_findings")
    with engine.connect() as conn:
        resolved = {(r.type, r.qbo_id) for r in conn.execute(sa.select(tbl).where(tbl.c.resolved_at.is_not(None)))}
    assert ("mapping_target_inactive", inactive_item) in resolved
    assert fourth.counts["resolved"] >= 1
    result = export(atera, qbo, engine, "after-fix", numbers=[blocked_number])
    assert set(result.exported) == {blocked_number} and not result.blocked
    docs = [i for i in qbo.query_all("Invoice") if i.get("DocNumber") == blocked_number]
    assert len(docs) == 1
    assert set(FINDING_TYPES) == {t for t, _ in kinds} | {"not_exported", "ledger_stuck", "unrouted_customer"}


def _csv_findings(result):
    from atera_qbo.reconcile.findings import Finding

    out = []
    for path in result.paths["csv"].values():
        with open(path, encoding="utf-8-sig", newline="") as fh:
            for row in csv.DictReader(fh):
                out.append(Finding(row["type"], row["severity"], "", atera_id=row["atera_id"], detail=row["detail"]))
    return out
