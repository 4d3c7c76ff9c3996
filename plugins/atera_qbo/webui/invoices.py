"""The export page's data: the staged Atera invoices of a date window with their ledger status, and a run's
report (the export DAG's ``exports/export_<batch>.csv``, found through the batch the run recorded)."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ..config import export_window
from ..errors import FatalError
from ..export.report import qbo_link
from ..staging.db import money_in, table

# What finance does about each ledger status (the reason itself comes from the ledger).
FIXES = {
    "blocked": "fix the cause named here (match the customer/product in the wizard, or in Atera), then export again",
    "failed": "QBO refused it: fix what QBO names, then export again",
    "pending": "a run is sending it, or was stopped while sending: export again (it will not be sent twice)",
}


@dataclass
class InvoiceRow:
    number: str
    invoice_date: str
    customer: str
    total: str
    currency: str
    status: str
    qbo_type: str
    qbo_id: str
    qbo_link: str
    reason: str
    fix: str


def parse_window(date_from: str | None, date_to: str | None, today: date) -> tuple[date, date]:
    """The window from the page's query (yyyy-mm-dd), default the 90 days up to today (as the export DAG)."""
    try:
        return export_window(date_from or None, date_to or None, today)
    except FatalError as exc:
        raise ValueError(str(exc)) from None


def invoices(engine: sa.Engine, start: date, end: date, *, app_url: str | None = None,
             limit: int = 2000) -> list[InvoiceRow]:
    """The staged invoices of the window with their ledger row; links point at ``app_url`` (the QBO web app of the
    connection's environment, production by default), as the export report's."""
    inv = table("stg_atera_invoices")
    led = table("export_invoices")
    stmt = (sa.select(inv.c.source_id, inv.c.invoice_date, inv.c.customer_name, inv.c.total, inv.c.currency,
                      led.c.status, led.c.qbo_type, led.c.qbo_id, led.c.error_text)
            .select_from(inv.outerjoin(led, led.c.atera_invoice_number == inv.c.source_id))
            .where(inv.c.deleted_at.is_(None), inv.c.invoice_date >= start.isoformat(),
                   inv.c.invoice_date <= end.isoformat() + "T99")
            .order_by(inv.c.invoice_date, inv.c.source_id).limit(limit))
    out = []
    with engine.connect() as conn:
        for r in conn.execute(stmt):
            status = r.status or "not exported"
            link = qbo_link(r.qbo_type, r.qbo_id, app_url)
            total = money_in(r.total)
            out.append(InvoiceRow(str(r.source_id), (r.invoice_date or "")[:10], r.customer_name or "",
                                  format(total, "f") if total is not None else "", r.currency or "", status,
                                  r.qbo_type or "", r.qbo_id or "", link, r.error_text or "", FIXES.get(status, "")))
    return out


def batch_of_run(engine: sa.Engine, run_id: str) -> dict[str, Any] | None:
    tbl = table("export_batches")
    with engine.connect() as conn:
        row = conn.execute(sa.select(tbl).where(tbl.c.run_id == run_id).order_by(tbl.c.started_at.desc())).first()
    return dict(row._mapping) if row else None


def read_report(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))
