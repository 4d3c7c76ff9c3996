"""
### Atera → QBO invoice export (one tracked batch per task attempt)

Reads the Atera invoices of a date window into staging, gates them with Great Expectations (totals consistent,
lines belong to invoices, currency codes valid), then exports each one to QBO exactly once, WITHOUT tax
(QBO is the master for taxes and adds them): the ledger (`export_invoices`) skips what is already exported, a
DocNumber lookup recovers invoices QBO already has, and every `/batch` of ≤ 30 carries a content-derived
`requestid`. Invoices that cannot be exported (no mapped customer or item, ...) are `blocked` with the reason and
the run fails, naming them. Each attempt writes `exports/export_<batch>.csv` to the review dir: every invoice
it touched, its date, customer, currency, status, QBO id, a link to it in QBO, pre-tax total, and the reason when
it was not exported.

Params: `invoice_date_from`, `invoice_date_to` (yyyy-mm-dd, Atera account timezone; default: the 90 days up to
the run's date — its logical date, or for a manual run the day it was triggered), `invoice_numbers` (only these;
an unknown one fails the run naming it), `create_missing_customers`, `create_missing_items` (default true: as
Atera does, never for a product with a QBO candidate), `dry_run` (transform and check, write nothing
to QBO). A window with no invoice is not an error: the run says so in its log and result (`note`).

Errors: QBO unreachable (5xx, connection, throttling beyond the client's own retries) fails the attempt as
retriable — its batch is closed `failed` with the reason, its report written, what was sent stays `pending` with
its request id — and Airflow retries the export task (3 retries, 5/10/20 min); each attempt is its own
`export_batches` row. Errors a retry cannot fix fail the task at once, naming the invoice and what to do.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import Param, dag, task

from atera_qbo.companies import Company, load_companies  # light: reads only the companies file
from atera_qbo.notify.callbacks import on_task_failure  # light: imports nothing until a task fails

default_args = {"owner": "data-engineering", "retries": 1, "retry_delay": timedelta(minutes=5),
                "on_failure_callback": on_task_failure}  # told after its last retry (README 'Notifications')
# The export rides out a QBO outage on Airflow retries (after the client's own retries of each request): 5, 10,
# 20 minutes. Safe: each attempt is its own export_batches row, and the ledger and request ids make it exactly-once.
EXPORT_RETRIES, EXPORT_BACKOFF = 3, 2.0
EXPORT_FIRST_DELAY, EXPORT_MAX_DELAY = timedelta(minutes=5), timedelta(minutes=30)


def dag_params() -> dict[str, Param]:
    """The params of every company's DAG of this family (new objects for each DAG)."""
    return {
        "invoice_date_from": Param(
            None, type=["null", "string"], format="date", title="Invoices dated from",
            description="First invoice date of the window (yyyy-mm-dd, the Atera account's timezone, inclusive). "
                        "Default: 90 days before invoice_date_to. Example: 2026-10-01"),
        "invoice_date_to": Param(
            None, type=["null", "string"], format="date", title="Invoices dated to",
            description="Last invoice date of the window (yyyy-mm-dd, inclusive). Default: the run's date (its "
                        "logical date; for a manual run, the day it was triggered). Example: 2026-10-31"),
        "invoice_numbers": Param(
            [], type="array", items={"type": "string", "minLength": 1}, title="Only these invoices",
            description="Export only these Atera invoice numbers (strings), which must lie in the window; a "
                        "number that is not there fails the run, naming it. Default: [] (every invoice of the "
                        "window). Example: [\"1042\", \"1043\"]"),
        "create_missing_customers": Param(
            False, type="boolean", title="Create missing customers",
            description="Atera customers of these invoices that have no QBO customer are mapped to the QBO "
                        "customer of the same name, or created in QBO. true/false; default false (their invoices "
                        "are blocked, naming them). Example: true"),
        "create_missing_items": Param(
            True, type="boolean", title="Create missing items",
            description="As Atera's own export does: an invoice line whose Atera product, expense or rate has no "
                        "QBO item gets one, created with Atera's name, price and type (Service for rates, "
                        "NonInventory for products and expenses) and mapped. Never for a product matching finds a "
                        "QBO candidate for (its invoices are blocked, naming the candidate). true/false; default "
                        "true. Example: false to only export what finance already mapped"),
        "dry_run": Param(
            False, type="boolean", title="Dry run",
            description="Select, transform and check everything, write nothing to QBO or the ledger (the batch "
                        "and its report are still written). true/false; default false. Example: true"),
    }


FAMILY = "atera_qbo_invoice_export"


def build(company: Company) -> None:
    """This family's DAG for ``company``: its DAG id, tag and name. The tasks take no company argument:
    ``tasks.runtime.wiring()`` finds the company from the running DAG id."""

    @dag(
        **company.dag_args(FAMILY, __doc__ or "", what="Atera → QBO invoice export",
                           tags=["atera", "quickbooks", "export"]),
        schedule=None,
        default_args=default_args,
        params=dag_params(),
    )
    def atera_qbo_invoice_export() -> None:
        @task
        def extract_invoices(params: dict[str, Any], dag_run=None, logical_date=None) -> dict[str, Any]:
            from atera_qbo.tasks.export import extract_invoices as run  # at run time: parsing stays light
            from atera_qbo.tasks.runtime import run_day  # at run time: parsing stays light

            return run(date_from=params.get("invoice_date_from"), date_to=params.get("invoice_date_to"),
                       logical_date=run_day(logical_date, getattr(dag_run, "run_after", None)))

        @task(pool="qbo_api", pool_slots=1, retries=EXPORT_RETRIES, retry_delay=EXPORT_FIRST_DELAY,
              retry_exponential_backoff=EXPORT_BACKOFF, max_retry_delay=EXPORT_MAX_DELAY)
        def export(extracted: dict[str, Any], params: dict[str, Any], run_id: str, ti=None, dag_run=None,
                   logical_date=None) -> dict[str, Any]:
            from atera_qbo.tasks.export import export as run  # at run time: parsing stays light
            from atera_qbo.tasks.runtime import run_day  # at run time: parsing stays light

            return run(date_from=extracted["date_from"], date_to=extracted["date_to"],
                       logical_date=run_day(logical_date, getattr(dag_run, "run_after", None)),
                       numbers=params.get("invoice_numbers") or [], dry_run=bool(params.get("dry_run")),
                       create_missing_customers=bool(params.get("create_missing_customers")), run_id=run_id,
                       create_missing_items=bool(params.get("create_missing_items", True)),
                       try_number=getattr(ti, "try_number", None))

        @task
        def quality_gate(extracted: dict[str, Any]) -> dict[str, Any]:
            from atera_qbo.tasks.catalog import INVOICE_TABLES  # at run time: parsing stays light
            from atera_qbo.tasks.catalog import quality_gate as gate  # at run time: parsing stays light

            gate(INVOICE_TABLES, invoice_window=(extracted["date_from"], extracted["date_to"]))
            return extracted

        export(quality_gate(extract_invoices()))  # type: ignore[arg-type,call-arg,misc]  # XComArgs stand for the upstream values; Airflow fills the context

    atera_qbo_invoice_export()


for _company in load_companies():  # one DAG per company; a broken companies file fails this import
    build(_company)
