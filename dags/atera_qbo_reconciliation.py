"""
### Atera ↔ QBO reconciliation: the morning report

Daily (and by hand). Refreshes incrementally what it compares — the catalogs (QBO `Metadata.LastUpdatedTime` and
CDC, Atera's modified filters), the QBO invoices / credit memos the export created and their payments (CDC) and
the Atera invoices of the window — then compares the ledger, the active mappings and both systems.

Findings (severity `info`, `warning`, `critical`): mappings whose QBO record became inactive or was deleted/merged
or whose Atera record disappeared; names changed since the mapping; price drift; records not mapped (with the
matching DAG's suggestion); exported documents voided, deleted or changed in QBO; payment status (paid, partly
paid, overdue; credit memos applied); Atera invoices never exported; ledger rows blocked/failed for days.

Writes `reconciliation/<run>/<finding_type>.csv` and `reconciliation/<run>/report.html` to the review dir, plus
`reconciliation_latest.html`; keeps findings in `recon_findings` (a persisting finding keeps its first_seen, a
vanished one is resolved). A critical finding makes the last task (`check_critical`) fail AFTER the report is
written, so failure alerting fires. Export refuses invoices for QBO records found inactive/deleted.

Params: `date_from`, `date_to` (yyyy-mm-dd: the exported documents and Atera invoices to check; default the 365
days up to today), `finding_types` (empty = all), `stale_days` (blocked/failed ledger rows older than this are
warnings).
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import Param, dag, task

from atera_qbo.companies import Company, load_companies  # light: reads only the companies file
from atera_qbo.notify.callbacks import on_task_failure  # light: imports nothing until a task fails
from atera_qbo.reconcile.findings import FINDING_TYPES  # a plain dict[str, Any]: no heavy import at parse time

default_args = {"owner": "data-engineering", "retries": 1, "retry_delay": timedelta(minutes=5),
                "on_failure_callback": on_task_failure}  # told after its last retry (README 'Notifications')



FAMILY = "atera_qbo_reconciliation"


def build(company: Company) -> None:
    """This family's DAG for ``company``: its DAG id, tag and name. The tasks take no company argument:
    ``tasks.runtime.wiring()`` finds the company from the running DAG id."""

    @dag(
        **company.dag_args(FAMILY, __doc__ or "", what="Atera ↔ QBO reconciliation (the morning report)",
                           tags=["atera", "quickbooks", "reconciliation"]),
        schedule="@daily",
        default_args=default_args,
        params={
            "date_from": Param(None, type=["null", "string"], format="date",
                               description="First date (yyyy-mm-dd) of the exported documents and Atera invoices to "
                                           "check. Default: 365 days before date_to. Example: 2026-01-01"),
            "date_to": Param(None, type=["null", "string"], format="date",
                             description="Last date (yyyy-mm-dd) to check. Default: today. Example: 2026-10-31"),
            "finding_types": Param([], type="array", items={"type": "string", "enum": list(FINDING_TYPES)},
                                   description="Only these finding types (names as in the report). Default: [] (all). "
                                               "Example: [\"payment_status\"]"),
            "stale_days": Param(3, type="integer", minimum=0,
                                description="Blocked/failed ledger rows older than this many days are warnings. "
                                            "Default: 3. Example: 7"),
        },
    )
    def atera_qbo_reconciliation() -> None:
        @task(pool="qbo_api", pool_slots=1)
        def reconcile(params: dict[str, Any], run_id: str) -> dict[str, Any]:
            from atera_qbo.tasks.reconcile import reconcile as run  # at run time: parsing stays light

            return run(date_from=params.get("date_from"), date_to=params.get("date_to"),
                       finding_types=params.get("finding_types") or [], stale_days=int(params.get("stale_days", 3)),
                       run_id=run_id)

        @task(retries=0)
        def check_critical(summary: dict[str, Any]) -> dict[str, Any]:
            from atera_qbo.tasks.reconcile import check_critical as run  # at run time: parsing stays light

            return run(summary)

        check_critical(reconcile())  # type: ignore[arg-type,call-arg,misc]  # XComArgs stand for the upstream values; Airflow fills the context

    atera_qbo_reconciliation()


for _company in load_companies():  # one DAG per company; a broken companies file fails this import
    build(_company)
