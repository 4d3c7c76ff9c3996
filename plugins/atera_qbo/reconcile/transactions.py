"""Findings about what the export sent: documents voided, deleted or changed in QBO; payment status; invoices
never exported; ledger rows blocked or failed for days."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from ..companies import dag_of
from ..staging.db import money_in, table
from ..staging.ledger import LedgerStatus, ledger_rows_with
from .findings import Finding, Records, qbo_link

Txn = sa.Row[Any]  # an ``stg_qbo_transactions`` (or ``recon_baselines``) row


@dataclass
class Exported:
    number: str  # Atera invoice number
    customer: str  # Atera customer name
    qbo_type: str
    qbo_id: str
    doc_number: str | None


def exported_in_window(engine: sa.Engine, date_from: date, date_to: date) -> list[Exported]:
    """Ledger rows exported, of Atera invoices dated in the window (or exported in it, when not staged)."""
    led, inv = table("export_invoices"), table("stg_atera_invoices")
    lo, hi = date_from.isoformat(), date_to.isoformat()
    in_window = sa.or_(sa.and_(inv.c.invoice_date >= lo, inv.c.invoice_date <= hi),
                       sa.and_(inv.c.source_id.is_(None), led.c.exported_at >= datetime.combine(date_from,
                                                                                                datetime.min.time())))
    query = (sa.select(led.c.atera_invoice_number, led.c.qbo_type, led.c.qbo_id, led.c.qbo_doc_number,
                       inv.c.customer_name)
             .select_from(led.outerjoin(inv, inv.c.source_id == led.c.atera_invoice_number))
             .where(led.c.status == LedgerStatus.EXPORTED, led.c.qbo_id.is_not(None), in_window))
    with engine.connect() as conn:
        return [Exported(r.atera_invoice_number, r.customer_name or "", r.qbo_type or "Invoice", str(r.qbo_id),
                         r.qbo_doc_number) for r in conn.execute(query)]


def _by_key(engine: sa.Engine, name: str) -> dict[tuple[str, str], Txn]:
    tbl = table(name)
    with engine.connect() as conn:
        return {(r.qbo_type, r.source_id): r for r in conn.execute(sa.select(tbl))}


def last_payment_dates(engine: sa.Engine) -> dict[tuple[str, str], str]:
    """(TxnType, TxnId) → the date of the newest payment applied to it."""
    pays = table("stg_qbo_payments")
    out: dict[tuple[str, str], str] = {}
    with engine.connect() as conn:
        for txn_date, links in conn.execute(sa.select(pays.c.txn_date, pays.c.links_json)
                                            .where(pays.c.deleted_at.is_(None))):
            for txn_type, txn_id, _amount in json.loads(links or "[]"):
                key = (txn_type, str(txn_id))
                if txn_date and txn_date > out.get(key, ""):
                    out[key] = txn_date
    return out


def document_findings(engine: sa.Engine, date_from: date, date_to: date, today: date,
                      wanted: set[str]) -> list[Finding]:
    staged = _by_key(engine, "stg_qbo_transactions")
    baselines = _by_key(engine, "recon_baselines")
    paid_on = last_payment_dates(engine) if "payment_status" in wanted else {}
    out: list[Finding] = []
    for e in exported_in_window(engine, date_from, date_to):
        key = (e.qbo_type, e.qbo_id)
        txn = staged.get(key)
        if txn is None:
            continue  # not read yet (refresh off): nothing known
        entity = e.qbo_type.lower()
        noun = "invoice" if e.qbo_type == "Invoice" else "credit memo"
        base: Records = {"entity": entity, "atera_id": e.number, "atera_name": e.customer, "qbo_id": e.qbo_id,
                         "qbo_name": f"{e.qbo_type} {txn.doc_number or e.doc_number or e.qbo_id}"
                                     + (f" ({txn.customer_name})" if txn.customer_name else "")}
        if txn.status == "deleted":
            out.append(Finding("txn_deleted", "critical", **base,
                               detail=f"QBO {noun} {e.qbo_id} (Atera {e.number}) was deleted in QBO",
                               action=f"Ask who deleted it; if it must exist, create it again in QBO (the ledger "
                                      f"keeps Atera {e.number} as exported, so the export will not resend it)."))
            continue
        link = qbo_link(entity, e.qbo_id)
        if txn.status == "voided":
            out.append(Finding("txn_voided", "critical", **base, qbo_link=link,
                               detail=f"QBO {noun} {txn.doc_number or e.qbo_id} was voided in QBO"
                                      f" (last change {txn.last_updated})",
                               action=f"Confirm the void with finance; if the work is billable, issue a new "
                                      f"invoice in Atera (Atera {e.number} stays exported)."))
            continue
        changes = _changes(txn, baselines.get(key), e)
        if changes:
            out.append(Finding("txn_changed", "warning", **base, qbo_link=link, detail="; ".join(changes),
                               action="Check the edit in QBO; Atera keeps the original (changes made in QBO do "
                                      "not flow back): correct whichever side is wrong."))
        if "payment_status" in wanted:
            out.extend(_payment(txn, base, link, paid_on.get(key), today))
    return out


def _changes(txn: Txn, baseline: Txn | None, e: Exported) -> list[str]:
    """What differs from the document as first read (and the DocNumber from the ledger's)."""
    changes = []
    if e.doc_number and txn.doc_number != e.doc_number:
        changes.append(f"DocNumber {e.doc_number} → {txn.doc_number}")
    if baseline is None:
        return changes
    if money_in(baseline.total) != money_in(txn.total):
        changes.append(f"total {money_in(baseline.total)} → {money_in(txn.total)}")
    if baseline.customer_id != txn.customer_id:
        changes.append(f"customer {baseline.customer_name or baseline.customer_id} → "
                       f"{txn.customer_name or txn.customer_id}")
    if (baseline.line_sig or "") != (txn.line_sig or ""):
        before = len([p for p in (baseline.line_sig or "").split(";") if p])
        after = len([p for p in (txn.line_sig or "").split(";") if p])
        changes.append(f"lines changed ({before} → {after} lines)")
    if baseline.doc_number and baseline.doc_number != txn.doc_number and not e.doc_number:
        changes.append(f"DocNumber {baseline.doc_number} → {txn.doc_number}")
    return changes


def payment_state(qbo_type: str, total: Decimal, balance: Decimal, due: str | None, today: date) -> str:
    """Invoice: open | partially_paid | paid, with ``_overdue`` when a balance is left after the DueDate.
    Credit memo: unapplied | partially_applied | applied."""
    if qbo_type == "CreditMemo":
        return "unapplied" if balance >= total else ("applied" if balance <= 0 else "partially_applied")
    state = "paid" if balance <= 0 else ("open" if balance >= total else "partially_paid")
    if state != "paid" and due and due < today.isoformat():
        state += "_overdue"
    return state


def _payment(txn: Txn, base: Records, link: str, last_paid: str | None, today: date) -> list[Finding]:
    total, balance = money_in(txn.total) or Decimal(0), money_in(txn.balance) or Decimal(0)
    state = payment_state(txn.qbo_type, total, balance, txn.due_date, today)
    if state in ("open", "unapplied"):
        return []  # the normal state of a fresh document: not a finding
    paid = f"; last payment {last_paid}" if last_paid else ""
    detail = f"{state.replace('_', ' ')}: total {total}, balance {balance}, due {txn.due_date or '-'}{paid}"
    if state.endswith("_overdue"):
        days = (today - date.fromisoformat(txn.due_date)).days
        return [Finding("payment_status", "warning", **base, qbo_link=link, subkey=state,
                        detail=f"{detail} ({days} days overdue)",
                        action="Follow up with the client (QBO: send a reminder from the invoice).")]
    return [Finding("payment_status", "info", **base, qbo_link=link, subkey=state, detail=detail,
                    action="Nothing to do: for your information (Atera does not see QBO payments).")]


def not_exported_findings(engine: sa.Engine, date_from: date, date_to: date) -> list[Finding]:
    inv, led = table("stg_atera_invoices"), table("export_invoices")
    query = (sa.select(inv.c.source_id, inv.c.customer_name, inv.c.invoice_date, inv.c.total, led.c.status)
             .select_from(inv.outerjoin(led, led.c.atera_invoice_number == inv.c.source_id))
             .where(inv.c.deleted_at.is_(None), inv.c.invoice_date >= date_from.isoformat(),
                    inv.c.invoice_date <= date_to.isoformat(),
                    sa.or_(led.c.status.is_(None), led.c.status == LedgerStatus.PENDING)))
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [Finding("not_exported", "info", "invoice", atera_id=r.source_id, atera_name=r.customer_name or "",
                    detail=f"dated {r.invoice_date}, total {money_in(r.total)}"
                           + (" (a send is pending)" if r.status == LedgerStatus.PENDING else ", never exported"),
                    action=f"Export it ({dag_of('atera_qbo_invoice_export')} with its invoice number), or leave it "
                           "if it is billed another way.")
            for r in sorted(rows, key=lambda r: (r.invoice_date or "", r.source_id))]


def stuck_ledger_findings(engine: sa.Engine, now: datetime, stale_days: int,
                          open_since: dict[str, datetime]) -> list[Finding]:
    """Ledger rows ``blocked``/``failed``: a warning once older than ``stale_days``, info before. Their age counts
    from the first send, else from when reconciliation first saw them (blocked rows are never sent)."""
    with engine.connect() as conn:
        rows = ledger_rows_with(conn, (LedgerStatus.BLOCKED, LedgerStatus.FAILED))
    out = []
    for r in sorted(rows, key=lambda r: r.atera_invoice_number):
        finding = Finding("ledger_stuck", "info", "invoice", atera_id=r.atera_invoice_number,
                          action="Fix the reason given (usually a mapping), then re-run the export for this "
                                 "invoice number.")
        since = min([m for m in (r.first_attempt_at, open_since.get(finding.key)) if m is not None], default=now)
        days = (now - since).days
        if days >= stale_days:
            finding.severity = "warning"
        finding.detail = f"{r.status} for {days} days (since {since:%Y-%m-%d}): " \
                         f"{(r.error_text or 'no reason recorded')[:300]}"
        out.append(finding)
    return out
