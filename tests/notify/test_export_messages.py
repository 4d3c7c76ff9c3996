"""The export's message: the invoices a run blocked or QBO refused, why, and the fix with its page; each invoice
told once per reason; a dry run tells nothing. On SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import datetime, timedelta

from atera_qbo.notify.export import tell_export
from atera_qbo.staging.db import table, upsert

from .conftest import BASE_URL

NOW = datetime(2026, 11, 27, 9, 0)
BLOCKED = ("Atera customer 'Harbor View Realty' (id 12) has no QBO customer; QBO has a candidate 'Harbor View "
           "Realty Group': match it in the wizard (action=match)")
FAILED = "QBO refused it (ValidationError 6000): the DocNumber 1043 is already used"


def ledger(engine, batch: str, rows: dict[str, tuple[str, str | None]]) -> None:
    with engine.begin() as conn:
        upsert(conn, table("export_invoices"), [
            {"atera_invoice_number": n, "batch_id": batch, "status": s, "request_id": f"r{n}", "error_text": e,
             "attempts": 1} for n, (s, e) in rows.items()], ["atera_invoice_number"])


def summary(batch: str, **extra) -> dict:
    return {"batch_id": batch, "blocked": 1, "failed": 1, "dry_run": False, "problems": {},
            "report_csv": f"/review/exports/export_{batch}.csv", **extra}


def ids(run_id: str) -> dict:
    return {"dag_id": "atera_qbo_invoice_export", "run_id": run_id, "task_id": "export"}


def test_blocked_and_failed_invoices_are_named_with_why_and_the_fix(engine, smtp_server, webhook, configure):
    configure(smtp=smtp_server, slack=webhook, to={"export": ["billing@example.com"]})
    ledger(engine, "b1", {"1042": ("blocked", BLOCKED), "1043": ("failed", FAILED), "1044": ("exported", None)})
    assert tell_export(engine, summary("b1"), ids("manual__2026-11-27T09:00:00+00:00"), now=NOW) == "sent"
    (mail,) = smtp_server.mails
    assert mail.recipients == ["billing@example.com"]
    assert mail.subject.startswith("[Atera ↔ QBO] Export: 1 invoice(s) blocked, 1 failed — invoice 1042: Atera "
                                   "customer 'Harbor View Realty'")
    html = mail.html
    assert "data-invoice='1042'" in html and "data-invoice='1043'" in html and "1044" not in html
    assert "Harbor View Realty Group" in html and "already used" in html
    assert f'href="{BASE_URL}/atera-qbo/">the wizard</a>' in html  # blocked: the mapping is fixed in the wizard
    assert f'href="{BASE_URL}/atera-qbo/export">the export page</a>' in html  # failed: export again from there
    assert f'href="{BASE_URL}/atera-qbo/export/runs/manual__2026-11-27T09%3A00%3A00%2B00%3A00"' in html
    assert "invoice 1042 blocked" in webhook.texts[0] and f"({BASE_URL}/atera-qbo/)" in webhook.texts[0]


def test_the_same_invoice_for_the_same_reason_is_told_once_a_new_reason_again(engine, smtp_server, configure):
    configure(smtp=smtp_server, to="billing@example.com")
    ledger(engine, "b1", {"1042": ("blocked", BLOCKED)})
    assert tell_export(engine, summary("b1"), ids("run-1"), now=NOW) == "sent"
    ledger(engine, "b2", {"1042": ("blocked", BLOCKED)})  # the next run blocks it again, for the same reason
    assert tell_export(engine, summary("b2"), ids("run-2"), now=NOW + timedelta(hours=1)) == "unchanged"
    ledger(engine, "b3", {"1042": ("failed", FAILED)})  # another status and reason: news
    assert tell_export(engine, summary("b3"), ids("run-3"), now=NOW + timedelta(hours=2)) == "sent"
    ledger(engine, "b4", {"1042": ("exported", None)})  # exported at last: forgotten
    assert tell_export(engine, summary("b4"), ids("run-4"), now=NOW + timedelta(hours=3)) is None
    ledger(engine, "b5", {"1042": ("failed", FAILED)})  # and its next problem is news again
    assert tell_export(engine, summary("b5"), ids("run-5"), now=NOW + timedelta(hours=4)) == "sent"
    assert len(smtp_server.mails) == 3


def test_a_dry_run_and_a_clean_run_tell_nothing(engine, smtp_server, configure):
    configure(smtp=smtp_server, to="billing@example.com")
    assert tell_export(engine, summary("b1", dry_run=True, problems={"1042": BLOCKED}), ids("r"), now=NOW) is None
    assert tell_export(engine, summary("b2"), ids("r2"), now=NOW) is None
    assert smtp_server.mails == []
