"""The reconciliation's message is the daily digest: sent when a critical finding or a warning is new (or changed
severity, or came back), with counts by type, the new ones first and a link to the report; nothing the next day
when nothing changed; a reminder of what stays open once a week. On SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from atera_qbo.notify.reconciliation import tell_reconciliation
from atera_qbo.staging.db import table, upsert

from .conftest import BASE_URL

DAY1 = datetime(2026, 11, 27, 6, 0)
IDS = {"dag_id": "atera_qbo_reconciliation", "run_id": "scheduled__2026-11-27", "task_id": "reconcile"}


def findings(engine, *rows: tuple[str, str, str, str], resolved: set[str] = frozenset(), at: datetime = DAY1) -> None:
    """(type, severity, atera_id, detail) rows as open (or ``resolved``) findings of ``recon_findings``."""
    with engine.begin() as conn:
        upsert(conn, table("recon_findings"), [
            {"finding_key": f"{t}|invoice|{a}|{a}0|", "type": t, "severity": s, "entity": "invoice", "atera_id": a,
             "atera_name": f"Customer of {a}", "qbo_id": f"{a}0", "qbo_name": "", "detail": d,
             "qbo_link": f"https://app.sandbox.qbo.intuit.com/app/invoice?txnId={a}0", "action": "look at it",
             "first_seen": at, "last_seen": at, "first_run_id": "r", "last_run_id": "r",
             "resolved_at": at if a in resolved else None} for t, s, a, d in rows], ["finding_key"])


def summary(run_id: str = "scheduled__2026-11-27", resolved: int = 0) -> dict:
    return {"run_id": run_id, "report": "/review/reconciliation/x/report.html", "counts": {"resolved": resolved}}


def test_new_critical_findings_and_warnings_are_told_once_then_not_the_next_day(engine, smtp_server, webhook,
                                                                                 configure):
    configure(smtp=smtp_server, slack=webhook, to={"reconciliation": ["finance@example.com"]})
    findings(engine, ("txn_deleted", "critical", "1007", "deleted in QBO on 2026-11-26"),
             ("payment_status", "warning", "1001", "open overdue: balance 812.50, 88 days overdue"),
             ("payment_status", "info", "1002", "paid"))
    assert tell_reconciliation(engine, summary(resolved=2), IDS, now=DAY1) == "sent"
    (mail,) = smtp_server.mails
    assert mail.recipients == ["finance@example.com"]
    assert mail.subject == ("[Atera ↔ QBO] Reconciliation: 1 new critical finding, 1 new warning — Exported "
                            "document deleted in QBO: Atera 1007")
    html = mail.html
    assert "deleted in QBO on 2026-11-26" in html and "88 days overdue" in html
    assert "1002" not in html  # info findings are only in the report
    assert f'href="{BASE_URL}/atera-qbo/reconciliation"' in html and "Resolved since the previous run: 2" in html
    assert html.index("1007") < html.index("1001")  # critical first
    assert "Exported document deleted in QBO" in webhook.texts[0]
    assert f"<{BASE_URL}/atera-qbo/reconciliation|the reconciliation report>" in webhook.texts[0]

    # the next day: the same findings, the overdue one's detail moved on — nothing is sent
    findings(engine, ("payment_status", "warning", "1001", "open overdue: balance 812.50, 89 days overdue"))
    assert tell_reconciliation(engine, summary("scheduled__2026-11-28"), IDS, now=DAY1 + timedelta(days=1)) \
        == "unchanged"
    assert len(smtp_server.mails) == 1 and len(webhook.posts) == 1


def test_a_new_warning_a_severity_change_and_a_comeback_are_news(engine, smtp_server, configure):
    configure(smtp=smtp_server, to="finance@example.com")
    findings(engine, ("txn_changed", "warning", "1003", "total 100.00 → 90.00"))
    assert tell_reconciliation(engine, summary(), IDS, now=DAY1) == "sent"

    findings(engine, ("price_drift", "warning", "2001", "99.00 vs 89.00"))  # a new warning
    assert tell_reconciliation(engine, summary(), IDS, now=DAY1 + timedelta(days=1)) == "sent"
    assert "1 new warning — Price drift" in smtp_server.mails[-1].subject
    assert "Still open from earlier messages: 1" in smtp_server.mails[-1].html

    findings(engine, ("price_drift", "critical", "2001", "99.00 vs 89.00"))  # the same finding, now critical
    assert tell_reconciliation(engine, summary(), IDS, now=DAY1 + timedelta(days=2)) == "sent"
    assert "1 new critical finding" in smtp_server.mails[-1].subject

    findings(engine, ("txn_changed", "warning", "1003", ""), resolved={"1003"})  # resolved: forgotten ...
    assert tell_reconciliation(engine, summary(), IDS, now=DAY1 + timedelta(days=3)) == "unchanged"
    findings(engine, ("txn_changed", "warning", "1003", "total 100.00 → 80.00"))  # ... so its comeback is news
    assert tell_reconciliation(engine, summary(), IDS, now=DAY1 + timedelta(days=4)) == "sent"
    assert "Atera 1003" in smtp_server.mails[-1].subject and len(smtp_server.mails) == 4


def test_what_stays_open_is_recalled_once_a_week(engine, smtp_server, configure):
    configure(smtp=smtp_server, to="finance@example.com")
    findings(engine, ("mapping_target_inactive", "warning", "7", "QBO customer 70 inactive"))
    tell_reconciliation(engine, summary(), IDS, now=DAY1)
    for day in range(1, 7):
        assert tell_reconciliation(engine, summary(), IDS, now=DAY1 + timedelta(days=day)) == "unchanged"
    assert tell_reconciliation(engine, summary(), IDS, now=DAY1 + timedelta(days=7)) == "sent"
    reminder = smtp_server.mails[-1]
    assert reminder.subject == "[Atera ↔ QBO] Reconciliation: 1 finding still open (reminder)"
    assert "QBO customer 70 inactive" in reminder.html and len(smtp_server.mails) == 2


def test_nothing_open_nothing_sent_and_every_run_is_recorded(engine, smtp_server, configure):
    configure(smtp=smtp_server, to="finance@example.com")
    findings(engine, ("unmapped", "info", "9", "QBO customer without an Atera customer"))
    assert tell_reconciliation(engine, summary(), IDS, now=DAY1) == "unchanged"
    assert smtp_server.mails == []
    tbl = table("notify_messages")
    with engine.connect() as conn:
        rows = conn.execute(sa.select(tbl.c.kind, tbl.c.dag_id, tbl.c.run_id, tbl.c.status)).all()
    assert rows == [("reconciliation", IDS["dag_id"], IDS["run_id"], "unchanged")]


def test_a_message_that_could_not_be_sent_is_tried_again_the_next_day(engine, smtp_server, configure, monkeypatch):
    from .conftest import free_port, smtp_conn

    configure(to="finance@example.com")
    monkeypatch.setenv("AIRFLOW_CONN_ATERA_QBO_SMTP", smtp_conn(free_port()))  # the mail server is down
    findings(engine, ("txn_voided", "critical", "1005", "voided in QBO"))
    assert tell_reconciliation(engine, summary(), IDS, now=DAY1) == "failed"
    monkeypatch.setenv("AIRFLOW_CONN_ATERA_QBO_SMTP", smtp_conn(smtp_server.port))  # back up
    assert tell_reconciliation(engine, summary(), IDS, now=DAY1 + timedelta(days=1)) == "sent"
    assert "1 new critical finding" in smtp_server.mails[0].subject
