"""The per-run export report (``exports/export_<batch>.csv`` in the review dir): what finance checks after an
export. One row per invoice the run touched — exported, recovered (QBO had it already), blocked, failed, left
pending or not sent when the run stopped — with the Atera side (date, customer, currency, pre-tax total) and the
link to the document in QBO's web app, on the host of the connection's environment (production or sandbox)."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..config import QBO_APP_URLS
from ..staging.db import money_in, table

if TYPE_CHECKING:
    from .load import ExportResult

REPORT_COLUMNS = ["atera_invoice_number", "invoice_date", "customer_name", "currency", "status", "qbo_type",
                  "qbo_id", "qbo_doc_number", "qbo_link", "pre_tax_total", "attempts", "error"]
LINK_PAGES = {"Invoice": "invoice", "CreditMemo": "creditmemo"}


def qbo_link(qbo_type: str | None, qbo_id: str | None, app_url: str | None = None) -> str:
    """``https://app.qbo.intuit.com/app/invoice?txnId=42`` (``creditmemo`` for a credit memo); "" without an id."""
    page = LINK_PAGES.get(qbo_type or "")
    if not qbo_id or page is None:
        return ""
    return f"{(app_url or QBO_APP_URLS['production']).rstrip('/')}/app/{page}?txnId={qbo_id}"


def _statuses(result: ExportResult) -> dict[str, tuple[str, str]]:
    """Atera number → (status in the report, reason), for every invoice the run touched."""
    out: dict[str, tuple[str, str]] = {}
    for status, found in (("exported", result.exported), ("recovered", result.recovered_ids),
                          ("blocked", result.blocked), ("failed", result.failed), ("pending", result.pending),
                          ("not_sent", result.not_sent)):
        for number, value in found.items():
            reason = "" if status in ("exported", "recovered") else value
            if status == "recovered":
                reason = "QBO already had it (found by DocNumber): recorded, not sent again"
            out.setdefault(number, (status, reason))
    return out


def _rows(engine: sa.Engine, name: str, key: str, numbers: list[str]) -> dict[str, Any]:
    tbl = table(name)
    with engine.connect() as conn:
        return {getattr(r, key): r for start in range(0, len(numbers), 500) for r in conn.execute(
            sa.select(tbl).where(tbl.c[key].in_(numbers[start:start + 500])))}


def write_report(engine: sa.Engine, result: ExportResult, path: Path, *, app_url: str | None = None) -> Path:
    """The run's outcome per invoice as CSV (UTF-8 with BOM, for Excel). Invoices skipped as already exported by
    an earlier run are not listed. ``app_url``: the QBO web app of the connection (production by default)."""
    statuses = _statuses(result)
    numbers = list(statuses)
    ledger = _rows(engine, "export_invoices", "atera_invoice_number", numbers)
    staged = _rows(engine, "stg_atera_invoices", "source_id", numbers)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(REPORT_COLUMNS)
        for number in sorted(numbers, key=lambda n: (len(n), n)):
            row, inv = ledger.get(number), staged.get(number)
            status, problem = statuses[number]
            qbo_id = (row.qbo_id if row else None) or result.exported.get(number) or \
                result.recovered_ids.get(number) or ""
            qbo_type = (row.qbo_type if row else None) or ""
            total = row.total if row is not None and row.total is not None else (inv.subtotal if inv else None)
            writer.writerow([number, (inv.invoice_date or "")[:10] if inv else "", (inv.customer_name or "") if inv
                             else "", (inv.currency or "") if inv else "", status, qbo_type, qbo_id,
                             (row.qbo_doc_number if row else "") or "", qbo_link(qbo_type, qbo_id, app_url),
                             format(money_in(total), "f") if total is not None else "",
                             row.attempts if row else 0, problem])
    return path
