"""
### Atera → QBO invoice export (one tracked batch per run)

Reads the Atera invoices of a date window into staging, gates them with Great Expectations (totals consistent,
lines belong to invoices, currency codes valid), then exports each one to QBO exactly once, WITHOUT tax
(QBO is the master for taxes and adds them): the ledger (`export_invoices`) skips what is already exported, a
DocNumber lookup recovers invoices QBO already has, and every `/batch` of ≤ 30 carries a content-derived
`requestid`. Invoices that cannot be exported (no mapped customer or item, ...) are `blocked` with the reason and
the run fails, naming them. Each run writes `exports/export_<batch>.csv` to the review dir: every invoice it
touched, its status, QBO id, a link to the invoice in QBO, and the reason when it was not exported.

Params: `invoice_date_from`, `invoice_date_to` (yyyy-mm-dd, Atera account timezone; default: the 90 days up to
the run's date), `invoice_numbers` (only these), `create_missing_customers`, `dry_run` (transform and check,
write nothing to QBO).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Param, dag, task

default_args = {"owner": "data-engineering", "retries": 1, "retry_delay": timedelta(minutes=5)}


@dag(
    dag_id="atera_qbo_invoice_export",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args,
    tags=["atera", "quickbooks", "export"],
    params={
        "invoice_date_from": Param(None, type=["null", "string"], format="date"),
        "invoice_date_to": Param(None, type=["null", "string"], format="date"),
        "invoice_numbers": Param([], type="array", description="Export only these Atera invoice numbers"),
        "create_missing_customers": Param(False, type="boolean"),
        "dry_run": Param(False, type="boolean"),
    },
    doc_md=__doc__,
)
def atera_qbo_invoice_export() -> None:
    @task
    def extract_invoices(params: dict, logical_date=None) -> dict:
        from atera_qbo.tasks import extract_invoices as run

        return run(date_from=params.get("invoice_date_from"), date_to=params.get("invoice_date_to"),
                   logical_date=(logical_date or datetime.now()).date())

    @task(pool="qbo_api", pool_slots=1)  # safe to retry: the ledger and request ids make a rerun exactly-once
    def export(extracted: dict, params: dict, run_id: str, logical_date=None) -> dict:
        from atera_qbo.tasks import export as run

        return run(date_from=extracted["date_from"], date_to=extracted["date_to"],
                   logical_date=(logical_date or datetime.now()).date(),
                   numbers=params.get("invoice_numbers") or [], dry_run=bool(params.get("dry_run")),
                   create_missing_customers=bool(params.get("create_missing_customers")), run_id=run_id)

    @task
    def quality_gate(extracted: dict) -> dict:
        from atera_qbo.tasks import INVOICE_TABLES, quality_gate as gate

        gate(INVOICE_TABLES, invoice_window=(extracted["date_from"], extracted["date_to"]))
        return extracted

    export(quality_gate(extract_invoices()))


atera_qbo_invoice_export()
