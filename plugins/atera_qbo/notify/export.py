"""The export's message, sent by its task before it fails on its problems (``tell_export``): the invoices the run
blocked or QBO refused, why, and the fix — with links to the run's page, the wizard (mappings) and the export page.

What counts: the run's ledger rows (``export_invoices`` of its batch) with status ``blocked`` or ``failed``, and
their reason (``error_text``). Each invoice is told once per status and reason (``notify_items``: an invoice blocked
again for the same reason by the next run is not told again; a new reason is). An invoice told about and since
exported is forgotten. A dry run is a preview someone is watching: it tells nothing.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa

from ..html import render
from ..staging.db import chunked, table, utcnow
from ..staging.ledger import LedgerStatus
from .deliver import quietly, tell_new
from .memory import Ids, Item, close, open_keys
from .message import Message, slack_text, subject
from .settings import channels, page

log = logging.getLogger(__name__)

KIND = "export"
FIRST_FEW = 20
PROBLEM_STATUSES = (LedgerStatus.BLOCKED.value, LedgerStatus.FAILED.value)
# status → (what finance does, which page, the page's path under the plugin)
FIXES = {
    LedgerStatus.BLOCKED.value: ("match the customer or product named in the reason in the wizard (or fix the "
                                 "record in Atera), then export again", "the wizard", "/"),
    LedgerStatus.FAILED.value: ("QBO refused it: fix what QBO names, then export it again from the export page",
                                "the export page", "/export"),
}
UNKNOWN_FIX = ("see the reason, then export again from the export page", "the export page", "/export")


@dataclass(frozen=True)
class Problem:
    number: str
    status: str
    reason: str

    @property
    def item(self) -> Item:
        digest = hashlib.sha256(self.reason.encode()).hexdigest()[:16]
        return Item(f"export|{self.number}", f"{self.status}|{digest}", f"invoice {self.number} {self.status}")


def problems(engine: sa.Engine, summary: dict[str, Any]) -> list[Problem]:
    """The run's blocked and failed invoices: its batch's ledger rows, and what its summary names beside them."""
    led = table("export_invoices")
    with engine.connect() as conn:
        rows = conn.execute(sa.select(led.c.atera_invoice_number, led.c.status, led.c.error_text).where(
            led.c.batch_id == str(summary.get("batch_id") or ""), led.c.status.in_(PROBLEM_STATUSES))
            .order_by(led.c.status, led.c.atera_invoice_number)).all()
    found = [Problem(str(r.atera_invoice_number), str(r.status), r.error_text or "(no reason recorded)")
             for r in rows]
    seen = {p.number for p in found}
    found += [Problem(str(n), "not exported", str(why)) for n, why in (summary.get("problems") or {}).items()
              if str(n) not in seen]
    return found


def _forget_exported(engine: sa.Engine, known: set[str], now: datetime) -> None:
    """Invoices told about and exported since: over (a new problem of theirs is news)."""
    numbers = sorted(k.split("|", 1)[1] for k in known)
    led = table("export_invoices")
    exported: list[str] = []
    with engine.connect() as conn:
        for part in chunked(numbers):
            exported += conn.execute(sa.select(led.c.atera_invoice_number).where(
                led.c.atera_invoice_number.in_(part), led.c.status == LedgerStatus.EXPORTED.value)).scalars().all()
    close(engine, [f"export|{n}" for n in exported], now)


def build(found: list[Problem], new_keys: set[str], summary: dict[str, Any], run_id: str | None) -> Message:
    blocked = sum(p.status == LedgerStatus.BLOCKED.value for p in found)
    failed = sum(p.status == LedgerStatus.FAILED.value for p in found)
    other = len(found) - blocked - failed
    first = found[0]
    title = (f"Export: {blocked} invoice(s) blocked, {failed} failed" + (f", {other} not exported" if other else "")
             + f" — invoice {first.number}: {first.reason[:80]}")
    run_url = page(f"/export/runs/{quote(run_id, safe='')}") if run_id else page("/export")
    shown = sorted(found, key=lambda p: p.item.key not in new_keys)[:FIRST_FEW]
    rows = []
    for p in shown:
        fix, fix_page, path = FIXES.get(p.status, UNKNOWN_FIX)
        rows.append({"number": p.number, "status": p.status, "reason": p.reason, "fix": fix, "fix_page": fix_page,
                     "fix_url": page(path), "is_new": p.item.key in new_keys})
    lead = (f"Export run {run_id or 'manual'} (batch {summary.get('batch_id')}) could not export "
            f"{len(found)} invoice(s); {len(new_keys)} of them not told before.")
    context = {"subject": title, "title": title, "lead": lead, "run_id": run_id, "shown": rows,
               "more": len(found) - len(shown), "run_url": run_url, "wizard_url": page("/"),
               "export_url": page("/export"), "report_file": summary.get("report_csv") or ""}
    lines = [f"invoice {r['number']} {r['status']}: {r['reason']} — fix: {r['fix']} ({r['fix_url']})" for r in rows]
    text = slack_text(title, lines, [("this export run", run_url), ("the wizard", page("/")),
                                     ("the export page", page("/export"))], more=len(found) - len(shown))
    return Message(KIND, subject(title), render("notify/export.html", **context), text, items=len(found))


@quietly
def tell_export(engine: sa.Engine, summary: dict[str, Any], ids: Ids, *, now: datetime | None = None) -> str | None:
    """After an export run (its summary), before the task fails on its problems: tell the blocked and failed
    invoices not told before. Answers ``sent``, ``failed`` (every channel failed: logged), ``unchanged``, or None
    (a dry run, nothing to tell, or no channel takes export messages). Never raises."""
    if summary.get("dry_run"):
        return None
    chans = channels()
    if not chans.reach(KIND):
        return None
    moment = now or utcnow()
    _forget_exported(engine, open_keys(engine, KIND), moment)
    found = problems(engine, summary)
    if not found:
        return None
    status = tell_new(engine, KIND, [p.item for p in found], chans, ids, moment,
                      lambda new_keys: build(found, new_keys, summary, ids.get("run_id")))
    if status == "unchanged":
        log.info("export: its %d blocked/failed invoice(s) were all told before; no message", len(found))
    return status
