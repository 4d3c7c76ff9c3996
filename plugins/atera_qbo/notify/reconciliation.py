"""The reconciliation's message, sent by its task after the report is written (``tell_reconciliation``): it is the
daily digest.

What counts: the open findings of severity critical or warning (``recon_findings``, resolved ones excluded). Each is
told once (``notify_items``, keyed by the finding's key, its state the severity): a message goes out when the run
has a finding never told — a new critical finding or a new warning —, or one whose severity changed, or one that
was resolved and came back. The message gathers the day: counts by type of everything open, the new findings first
(a few; the report has them all), how many stay open from earlier messages, how many were resolved, and the link to
the report. With nothing new, nothing is sent, except once every ``REMIND_EVERY`` while findings stay open: a
reminder of what is still open. Findings no longer open are forgotten (a comeback is news again).
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from ..html import render
from ..reconcile.findings import FINDING_TYPES
from ..staging.db import table, utcnow
from .deliver import quietly, tell_new
from .memory import Ids, Item, close_all_but, last_sent
from .message import Message, slack_text, subject
from .settings import channels, page

log = logging.getLogger(__name__)

KIND = "reconciliation"
SEVERITIES = ("critical", "warning")  # what is told; info findings are only in the report
FIRST_FEW = 10
REMIND_EVERY = timedelta(days=7)


@dataclass(frozen=True)
class OpenFinding:
    key: str
    type: str
    severity: str
    atera_id: str
    atera_name: str
    qbo_id: str
    qbo_name: str
    detail: str
    action: str
    qbo_link: str

    @property
    def item(self) -> Item:
        return Item(f"recon|{self.key}", self.severity, f"{self.type} Atera {self.atera_id} / QBO {self.qbo_id}")

    @property
    def title(self) -> str:
        return FINDING_TYPES.get(self.type, (self.type, ""))[0]

    def line(self) -> str:
        """One line for Slack and the log."""
        return (f"{self.severity} · {self.title}: Atera {self.atera_id or '-'} {self.atera_name} / QBO "
                f"{self.qbo_id or '-'} {self.qbo_name} — {self.detail}").replace("  ", " ")


def open_findings(engine: sa.Engine) -> list[OpenFinding]:
    """The open critical findings and warnings, critical first, then the most recent."""
    tbl = table("recon_findings")
    order = sa.case((tbl.c.severity == "critical", 0), else_=1)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(tbl).where(tbl.c.resolved_at.is_(None), tbl.c.severity.in_(SEVERITIES))
                            .order_by(order, tbl.c.first_seen.desc(), tbl.c.type, tbl.c.finding_key)).all()
    return [OpenFinding(r.finding_key, r.type, r.severity, r.atera_id or "", r.atera_name or "", r.qbo_id or "",
                        r.qbo_name or "", r.detail or "", r.action or "", r.qbo_link or "") for r in rows]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def headline(new: list[OpenFinding], open_count: int) -> str:
    if not new:
        return f"{_plural(open_count, 'finding')} still open (reminder)"
    by = Counter(f.severity for f in new)
    parts = [_plural(by[s], f"new {'critical finding' if s == 'critical' else 'warning'}") for s in SEVERITIES
             if by[s]]
    first = new[0]
    return f"{', '.join(parts)} — {first.title}: Atera {first.atera_id or first.qbo_id or '-'}"


def build(found: list[OpenFinding], new_keys: set[str], summary: dict[str, Any]) -> Message:
    new = [f for f in found if f.item.key in new_keys]
    shown = (new or found)[:FIRST_FEW]
    counts: dict[str, Counter[str]] = {}
    for f in found:
        counts.setdefault(f.type, Counter())[f.severity] += 1
        counts[f.type]["new"] += f.item.key in new_keys
    title = "Reconciliation: " + headline(new, len(found))
    report_url = page("/reconciliation")
    lead = (f"The reconciliation run {summary.get('run_id') or ''} found what needs you: "
            f"{_plural(len(new), 'new finding')} of {len(found)} open (critical and warnings)."
            if new else f"These findings stay open; this is the weekly reminder ({len(found)} open).")
    context = {
        "subject": title, "title": title, "lead": lead, "run_id": summary.get("run_id"),
        "counts": [{"type": t, "title": FINDING_TYPES.get(t, (t, ""))[0], "critical": c["critical"],
                    "warning": c["warning"], "new": c["new"]} for t, c in sorted(counts.items())],
        "shown": [{**asdict(f), "title": f.title, "is_new": f.item.key in new_keys} for f in shown],
        "shown_title": "New" if new else "Open", "more": len(new or found) - len(shown),
        "still_open": len(found) - len(new), "resolved": int((summary.get("counts") or {}).get("resolved") or 0),
        "report_url": report_url, "report_file": summary.get("report") or "",
    }
    counts_line = "Open by type: " + ", ".join(f"{FINDING_TYPES.get(t, (t, ''))[0]} {sum(c[s] for s in SEVERITIES)}"
                                               for t, c in sorted(counts.items()))
    text = slack_text(title, [counts_line, *(f.line() for f in shown)], [("the reconciliation report", report_url)],
                      more=len(new or found) - len(shown))
    return Message(KIND, subject(title), render("notify/reconciliation.html", **context), text,
                   items=len(new or found))


@quietly
def tell_reconciliation(engine: sa.Engine, summary: dict[str, Any], ids: Ids, *,
                        now: datetime | None = None) -> str | None:
    """After a reconciliation run (its summary): tell what is new, or remind of what stays open once a week.
    Answers what happened — ``sent``, ``failed`` (every channel failed: logged), ``unchanged`` — or None when no
    channel takes reconciliation messages. Never raises."""
    chans = channels()
    if not chans.reach(KIND):
        return None
    moment = now or utcnow()
    found = open_findings(engine)
    close_all_but(engine, KIND, {f.item.key for f in found}, moment)

    def remind(channel: str) -> bool:
        last = last_sent(engine, KIND, channel)
        return last is None or moment - last >= REMIND_EVERY

    status = tell_new(engine, KIND, [f.item for f in found], chans, ids, moment,
                      lambda new_keys: build(found, new_keys, summary), remind=remind)
    if status == "unchanged":
        log.info("reconciliation: nothing new to tell (%d open finding(s) already told); no message", len(found))
    return status
