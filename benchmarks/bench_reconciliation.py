"""Reconciliation over the ``large`` seeds after 1 % of the records changed on each side: requests made and wall
time of the incremental run, next to an incremental catalog sync after the same amount of change (target: within
2×) and a full re-read.

    .venv/bin/python benchmarks/bench_reconciliation.py [--invoices 3000] [--atera-scale 8] [--qbo-scale 8]

Set-up (not timed): both twins seeded ``large``; a full catalog sync; mappings by exact name; ``--invoices`` QBO
invoices created through /batch and recorded in the export ledger (what an export leaves); a first, full
reconciliation. Each measured step first changes 1 % on each side through the APIs — QBO: customers renamed,
item prices, invoices paid; Atera: customers renamed — then runs against the twins' real limits (Atera 700/min,
QBO 500/min per realm, 40 /batch/min), time-scaled: a "minute" lasts 60/scale s and the clients get the same
scaled budget. Wall time includes staging (SQLite), findings and the report.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "plugins")]

from atera_qbo.atera.client import AteraClient  # noqa: E402
from atera_qbo.extract import extract_atera_catalog, extract_qbo_catalog  # noqa: E402
from atera_qbo.http import RetryPolicy  # noqa: E402
from atera_qbo.qbo.auth import TokenEndpoint, TokenStore  # noqa: E402
from atera_qbo.qbo.client import QboClient, QboLimits  # noqa: E402
from atera_qbo.reconcile.run import reconcile  # noqa: E402
from atera_qbo.staging.db import apply_schema, make_engine, table, upsert, utcnow  # noqa: E402
from sandbox.control import TwinControl  # noqa: E402
from sandbox.launch import start_twin  # noqa: E402

REALM, KEY = "9341453050298751", "twin-atera-key"
ATERA_LIMIT, QBO_LIMIT, MARGIN = 700, 500, 0.98
POLICY = RetryPolicy(max_attempts=10, initial_wait=0.2, max_wait=10)
UNLIMITED_QBO = {"per_minute": 0, "per_second": 0, "batch_per_minute": 0, "concurrent": 0}


def limits(twin, doc: dict) -> None:
    TwinControl(twin.url, timeout=30).set_limits(**doc)


def logged(twin, prefix: str) -> int:
    return sum(1 for e in TwinControl(twin.url).requests() if e["path"].startswith(prefix))


def clients(atera_twin, qbo_twin, engine, atera_rate=None, qbo_rate=None, qbo_scale: float = 1.0):
    """``qbo_rate`` (requests per real minute) paces QBO on the twin's scaled clock, per-second budget included;
    None: no pacing at all (the twin's limits lifted)."""
    store = TokenStore(engine, REALM, TokenEndpoint(f"{qbo_twin.url}/oauth2/v1/tokens/bearer", "twin-client-id",
                                                    "twin-client-secret"), seed_refresh_token="bench-rt")
    limits = (QboLimits(per_minute=int(qbo_rate / qbo_scale), per_second=10, minute=60 / qbo_scale) if qbo_rate
              else QboLimits(per_minute=None, per_second=None))
    return (AteraClient(atera_twin.url, KEY, rate_per_minute=atera_rate, policy=POLICY),
            QboClient(qbo_twin.url, REALM, store, limits=limits, policy=POLICY))


def map_by_name(engine) -> None:
    """Mappings by exact name (the bench measures reading, not matching)."""
    with engine.begin() as conn:
        for target, atera_sql, qbo_sql in (
                ("map_customers", "SELECT source_id, name FROM stg_atera_customers",
                 "SELECT source_id, display_name FROM stg_qbo_customers WHERE active AND NOT is_job"),
                ("map_products", "SELECT kind || ':' || source_id, name FROM stg_atera_products",
                 "SELECT source_id, name FROM stg_qbo_items WHERE active AND item_type != 'Category'")):
            qbo = {n: i for i, n in conn.exec_driver_sql(qbo_sql)}
            rows = [{"atera_id": a, "atera_name": n, "qbo_id": qbo[n], "qbo_name": n, "status": "matched_exact",
                     "method": "exact", "active": True, "plan_id": "bench", "updated_at": utcnow()}
                    for a, n in conn.exec_driver_sql(atera_sql) if n in qbo]
            upsert(conn, table(target), rows, ["atera_id"])


def create_invoices(qbo: QboClient, engine, count: int) -> list[str]:
    """``count`` QBO invoices through /batch, recorded as exported in the ledger."""
    with engine.connect() as conn:
        customers = [r[0] for r in conn.exec_driver_sql(
            "SELECT source_id FROM stg_qbo_customers WHERE active AND NOT is_job AND currency = 'USD' LIMIT 500")]
        items = [(r[0], Decimal(str(r[1]))) for r in conn.exec_driver_sql(
            "SELECT source_id, unit_price FROM stg_qbo_items WHERE active AND item_type IN ('Service', "
            "'NonInventory') AND unit_price > 0 LIMIT 500")]
    ids, ledger = [], []
    for start in range(0, count, 30):
        batch = []
        for n in range(start, min(start + 30, count)):
            item, price = items[n % len(items)]
            batch.append({"bId": str(n), "operation": "create", "Invoice": {
                "DocNumber": f"B{n}", "CustomerRef": {"value": customers[n % len(customers)]}, "TxnDate": "2026-10-01",
                "Line": [{"DetailType": "SalesItemLineDetail", "Amount": price, "SalesItemLineDetail": {
                    "ItemRef": {"value": item}, "Qty": 1, "UnitPrice": price, "TaxCodeRef": {"value": "NON"}}}]}})
        for bid, item in qbo.batch(batch).items():
            inv = item["Invoice"]
            ids.append(inv["Id"])
            ledger.append({"atera_invoice_number": f"B{bid}", "batch_id": "bench", "status": "exported",
                           "qbo_id": inv["Id"], "qbo_doc_number": inv["DocNumber"], "request_id": f"B{bid}",
                           "attempts": 1, "qbo_type": "Invoice", "exported_at": utcnow()})
    with engine.begin() as conn:
        upsert(conn, table("export_invoices"), ledger, ["atera_invoice_number"])
    return ids


class Changer:
    """1 % of each side, changed through the APIs; each call changes records not changed before."""

    def __init__(self, atera_twin, qbo: QboClient, engine, invoices: list[str]) -> None:
        self.atera_twin, self.qbo, self.invoices, self.round = atera_twin, qbo, invoices, 0
        with engine.connect() as conn:
            self.customers = [r[0] for r in conn.exec_driver_sql("SELECT source_id FROM stg_qbo_customers")]
            self.items = [r[0] for r in conn.exec_driver_sql(
                "SELECT source_id FROM stg_qbo_items WHERE active AND item_type != 'Category'")]
            self.atera = [r[0] for r in conn.exec_driver_sql("SELECT source_id FROM stg_atera_customers")]

    def _slice(self, records: list[str]) -> list[str]:
        size = max(1, len(records) // 100)
        return records[self.round * size:(self.round + 1) * size]

    def _update(self, entity: str, ids: list[str], change) -> None:
        for start in range(0, len(ids), 30):
            chunk = ids[start:start + 30]
            current = {r["Id"]: r for r in self.qbo.query_all(entity, "Id IN ('" + "', '".join(chunk) + "')")}
            self.qbo.batch([{"bId": i, "operation": "update", entity: {"Id": i, "SyncToken": current[i]["SyncToken"],
                                                                      "sparse": True, **change(current[i])}}
                            for i in chunk if i in current])

    def change(self) -> dict[str, int]:
        customers, items = self._slice(self.customers), self._slice(self.items)
        invoices, atera = self._slice(self.invoices), self._slice(self.atera)
        self._update("Customer", customers, lambda r: {"DisplayName": f"{r['DisplayName']} r{self.round}"[:100]})
        self._update("Item", items, lambda r: {"UnitPrice": Decimal(str(r.get("UnitPrice") or 0)) + 1})
        for inv in self.qbo.query_all("Invoice", "Id IN ('" + "', '".join(invoices) + "')"):
            self.qbo.create("Payment", {"CustomerRef": inv["CustomerRef"], "TotalAmt": inv["Balance"], "Line": [
                {"Amount": inv["Balance"], "LinkedTxn": [{"TxnId": inv["Id"], "TxnType": "Invoice"}]}]})
        for cid in atera:
            requests.put(f"{self.atera_twin.url}/api/v3/customers/{cid}", headers={"X-API-KEY": KEY}, timeout=30,
                         json={"CustomerName": f"Atera customer {cid} r{self.round}"}).raise_for_status()
        self.round += 1
        return {"qbo customers": len(customers), "qbo items": len(items), "qbo invoices paid": len(invoices),
                "atera customers": len(atera)}


def measure(name: str, atera_twin, qbo_twin, step) -> tuple[float, int, int]:
    for twin in (atera_twin, qbo_twin):
        TwinControl(twin.url, timeout=30).clear_requests()
    started = time.monotonic()
    step()
    elapsed = time.monotonic() - started
    a, q = logged(atera_twin, "/api/"), logged(qbo_twin, "/v3/")
    print(f"{name:<44} {elapsed:8.1f} s  {a:6d} Atera + {q:5d} QBO requests", flush=True)
    return elapsed, a, q


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invoices", type=int, default=3000)
    parser.add_argument("--atera-scale", type=float, default=8)
    parser.add_argument("--qbo-scale", type=float, default=8)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-recon-"))
    engine = make_engine(f"sqlite:///{work / 'staging.db'}")
    apply_schema(engine)
    atera_twin = start_twin("atera", ["--seed", "large", "--api-key", KEY], timeout=300)
    qbo_twin = start_twin("qbo", ["--seed", "large", "--refresh-token", "bench-rt", "--time-scale",
                                  str(args.qbo_scale)], timeout=300)
    try:
        t = time.monotonic()
        limits(atera_twin, {"per_minute": 0})
        limits(qbo_twin, UNLIMITED_QBO)
        atera, qbo = clients(atera_twin, qbo_twin, engine)
        extract_atera_catalog(atera, engine)
        extract_qbo_catalog(qbo, engine)
        map_by_name(engine)
        invoices = create_invoices(qbo, engine, args.invoices)
        lo, hi = (date.today() - timedelta(days=365)).isoformat(), date.today().isoformat()
        first = reconcile(engine, qbo=qbo, atera=atera, review_dir=work, run_id="bench-0", date_from=lo, date_to=hi)
        changer = Changer(atera_twin, qbo, engine, invoices)
        print(f"set-up (sync, {len(invoices)} invoices, first reconciliation: {first.counts['total']} findings) "
              f"{time.monotonic() - t:.0f} s; machine: {_machine()}", flush=True)

        def real_limits(on: bool) -> None:
            limits(atera_twin, {"per_minute": ATERA_LIMIT if on else 0, "time_scale": args.atera_scale})
            limits(qbo_twin, {"per_minute": QBO_LIMIT, "per_second": 10, "batch_per_minute": 40, "concurrent": 10,
                              "time_scale": args.qbo_scale} if on else UNLIMITED_QBO)

        paced_atera, paced_qbo = clients(atera_twin, qbo_twin, engine, ATERA_LIMIT * args.atera_scale * MARGIN,
                                         QBO_LIMIT * args.qbo_scale * MARGIN, args.qbo_scale)

        results = {}
        for name, step in (
                ("incremental catalog sync (both sides)", lambda: (extract_atera_catalog(paced_atera, engine),
                                                                   extract_qbo_catalog(paced_qbo, engine))),
                ("incremental reconciliation", lambda: reconcile(
                    engine, qbo=paced_qbo, atera=paced_atera, review_dir=work, run_id="bench-inc", date_from=lo,
                    date_to=hi)),
                ("full re-read reconciliation", lambda: reconcile(
                    engine, qbo=paced_qbo, atera=paced_atera, review_dir=work, run_id="bench-full", date_from=lo,
                    date_to=hi, full_refresh=True))):
            real_limits(False)
            print(f"  changed (not timed): {changer.change()}", flush=True)
            real_limits(True)
            results[name] = measure(name, atera_twin, qbo_twin, step)
        sync, inc, full = (results[k] for k in results)
        print(f"incremental reconciliation / incremental catalog sync: {inc[0] / sync[0]:.2f}× wall time "
              f"(target ≤ 2), {inc[1] + inc[2]} vs {sync[1] + sync[2]} requests; full re-read: {full[0]:.1f} s, "
              f"{full[1] + full[2]} requests ({full[0] / inc[0]:.1f}× the incremental run)")
    finally:
        atera_twin.stop()
        qbo_twin.stop()
    return 0


def _machine() -> str:
    import os
    import platform

    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"


if __name__ == "__main__":
    sys.exit(main())
