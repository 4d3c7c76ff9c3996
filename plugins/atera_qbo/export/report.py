"""The per-run export report (``exports/export_<batch>.csv`` in the review dir): what finance checks after an
export. One row per invoice the run touched — exported, recovered (QBO had it already), blocked, failed, left
pending or not sent when the run stopped — with the Atera side (date, customer, currency, pre-tax total) and the
link to the document in QBO's web app, on the host of the connection's environment (production or sandbox)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ..cells import csv_file
from ..config import QBO_APP_URLS
from ..staging.db import chunked, money_in, table
from ..staging.ledger import ledger_rows
from .result import ExportResult

REPORT_COLUMNS = ["atera_invoice_number", "invoice_date", "customer_name", "currency", "status", "qbo_type",
                  "qbo_id", "qbo_doc_number", "qbo_link", "pre_tax_total", "attempts", "error"]
LINK_PAGES = {"Invoice": "invoice", "CreditMemo": "creditmemo"}


def qbo_link(qbo_type: str | None, qbo_id: str | None, app_url: str | None = None) -> str:
    """``https://app.qbo.intuit.com/app/invoice?txnId=42`` (``creditmemo`` for a credit memo); "" without an id."""
    page = LINK_PAGES.get(qbo_type or "")
    if not qbo_id or page is None:
        return ""
    return f"{(app_url or QBO_APP_URLS['production']).rstrip('/')}/app/{page}?txnId={qbo_id}"


class ReportStatus(StrEnum):
    """What the run did with one invoice (the report's ``status``)."""
    EXPORTED = "exported"
    RECOVERED = "recovered"  # QBO had it already (found by DocNumber)
    BLOCKED = "blocked"
    FAILED = "failed"
    PENDING = "pending"
    NOT_SENT = "not_sent"
    WOULD_EXPORT = "would_export"  # a dry run: what a real run would send
    ALREADY_EXPORTED = "already_exported"  # a dry run: exported by an earlier run, would not be sent again


@dataclass(frozen=True)
class Touched:
    """One invoice the run touched: its status in the report and the reason ("" when exported)."""
    status: ReportStatus
    reason: str


RECOVERED_REASON = "QBO already had it (found by DocNumber): recorded, not sent again"


def _statuses(result: ExportResult) -> dict[str, Touched]:
    """Atera number → what the run did with it, for every invoice the run touched (the first status wins)."""
    out: dict[str, Touched] = {}
    for status, found in ((ReportStatus.EXPORTED, result.exported), (ReportStatus.RECOVERED, result.recovered_ids),
                          (ReportStatus.BLOCKED, result.blocked), (ReportStatus.FAILED, result.failed),
                          (ReportStatus.PENDING, result.pending), (ReportStatus.NOT_SENT, result.not_sent),
                          (ReportStatus.WOULD_EXPORT, result.would_send),
                          (ReportStatus.ALREADY_EXPORTED, result.exported_before)):
        for number, value in found.items():
            reason = {ReportStatus.EXPORTED: "", ReportStatus.RECOVERED: RECOVERED_REASON}.get(status, value)
            out.setdefault(number, Touched(status, reason))
    return out


def _staged(engine: sa.Engine, numbers: Sequence[str]) -> dict[str, sa.Row[Any]]:
    """The staged Atera invoices of these numbers (those still staged)."""
    inv = table("stg_atera_invoices")
    with engine.connect() as conn:
        return {r.source_id: r for part in chunked(numbers) for r in conn.execute(
            sa.select(inv).where(inv.c.source_id.in_(part)))}


def write_report(engine: sa.Engine, result: ExportResult, path: Path, *, app_url: str | None = None) -> Path:
    """The run's outcome per invoice as CSV (UTF-8 with BOM, for Excel). Invoices skipped as already exported by
    an earlier run are not listed, but in a dry run's report, which lists every selected invoice with what a real run
    would do. ``app_url``: the QBO web app of the connection (production by default)."""
    statuses = _statuses(result)
    numbers = list(statuses)
    with engine.connect() as conn:
        ledger = ledger_rows(conn, numbers)
    staged = _staged(engine, numbers)
    with csv_file(path, REPORT_COLUMNS) as writer:  # names come from Atera: every cell neutralised for Excel
        for number in sorted(numbers, key=lambda n: (len(n), n)):
            row, inv = ledger.get(number), staged.get(number)
            touched = statuses[number]
            qbo_id = (row.qbo_id if row else None) or result.exported.get(number) or \
                result.recovered_ids.get(number) or ""
            qbo_type = (row.qbo_type if row else None) or ""
            total = row.total if row is not None and row.total is not None else (inv.subtotal if inv else None)
            writer.writerow([number, (inv.invoice_date or "")[:10] if inv else "", (inv.customer_name or "") if inv
                             else "", (inv.currency or "") if inv else "", touched.status, qbo_type, qbo_id,
                             (row.qbo_doc_number if row else "") or "", qbo_link(qbo_type, qbo_id, app_url),
                             format(money_in(total), "f") if total is not None else "",
                             row.attempts if row else 0, touched.reason])
    return path
