"""Tasks of ``atera_qbo_invoice_export``: stage the window's invoices from Atera, then export one tracked batch."""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ..companies import load_companies
from ..config import export_window
from ..export.customers import create_missing_customers as create_customers
from ..export.load import export_invoices, raise_for_problems
from ..export.missing import create_missing_items as create_items
from ..extract import extract_atera_invoices
from ..extract.routing import Router
from ..notify.export import tell_export
from .runtime import Wiring, fail_fatal, task_ids, wiring

log = logging.getLogger(__name__)


@fail_fatal
def extract_invoices(*, date_from: str | None, date_to: str | None, logical_date: date) -> dict[str, Any]:
    start, end = export_window(date_from, date_to, logical_date)
    with wiring() as w:
        router = Router(w.company, load_companies().sharing_atera(w.company))
        result = extract_atera_invoices(w.atera, w.engine, start, end, router=router)
    return {**result.as_dict(), "date_from": start.isoformat(), "date_to": end.isoformat()}


@dataclass
class _Missing:
    """What an export created in QBO before sending (customers, items) and why the rest stays unmapped."""

    customers_created: dict[str, str] = field(default_factory=dict)
    customer_problems: dict[str, str] = field(default_factory=dict)
    items_created: dict[str, str] = field(default_factory=dict)
    item_problems: dict[str, str] = field(default_factory=dict)

    def problems(self) -> dict[str, str]:
        return {**{f"product:{k}": v for k, v in self.item_problems.items()},
                **{f"customer:{k}": v for k, v in self.customer_problems.items()}}


def _create_missing(w: Wiring, missing: _Missing, window: tuple[date, date], wanted: list[str], *,
                    customers: bool, items: bool, origin: str) -> dict[str, str]:
    """Create what is missing (never what has a QBO candidate); answers why the rest stays unmapped."""
    if items:
        missing.items_created, missing.item_problems = create_items(
            w.engine, w.qbo, *window, wanted, origin=origin, sales_tax_code=w.qbo_settings.default_sales_tax_code)
    if customers:
        missing.customers_created, missing.customer_problems = create_customers(w.engine, w.qbo, *window, wanted,
                                                                               origin=origin)
    for what, problems in (("create_missing_items", missing.item_problems),
                           ("create_missing_customers", missing.customer_problems)):
        for problem in problems.values():
            log.warning("%s: %s", what, problem)
    return missing.problems()


@fail_fatal
def export(*, date_from: str | None, date_to: str | None, logical_date: date, numbers: list[Any] | None,
           dry_run: bool, create_missing_customers: bool, run_id: str | None,
           try_number: int | None = None, create_missing_items: bool = True) -> dict[str, Any]:
    """One batch per task attempt. Its report is written however the attempt ends; a retriable error goes up
    (Airflow retries: the next attempt replays what was pending), a fatal one fails the task."""
    start, end = export_window(date_from, date_to, logical_date)
    wanted = [str(n) for n in numbers or []]
    batch_id = uuid.uuid4().hex[:16]
    missing = _Missing()
    creates = not dry_run and (create_missing_customers or create_missing_items)

    with wiring() as w:
        report = w.review_dir / "exports" / f"export_{batch_id}.csv"

        def prepare() -> dict[str, str]:
            if not creates:
                return {}
            return _create_missing(w, missing, (start, end), wanted, customers=create_missing_customers,
                                   items=create_missing_items, origin=f"export {run_id or 'manual'}")

        result = export_invoices(w.engine, w.qbo, batch_id=batch_id, run_id=run_id, date_from=start, date_to=end,
                                 numbers=wanted, dry_run=dry_run, try_number=try_number, prepare=prepare,
                                 report_path=report, app_url=w.qbo_settings.app_url)
        calls = w.qbo_calls()
    summary = {**result.as_dict(), "report_csv": str(report), "customers_mapped": missing.customers_created,
               "customer_problems": missing.customer_problems, "items_mapped": missing.items_created,
               "item_problems": missing.item_problems, "qbo_calls": calls}
    log.info("export: %s", {k: v for k, v in summary.items() if k != "exported_ids"})
    tell_export(w.engine, summary, {**task_ids(), "run_id": run_id})  # never raises: the outcome stays the export's
    raise_for_problems(result)
    return summary
