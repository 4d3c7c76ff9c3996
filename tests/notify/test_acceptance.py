"""The issue's acceptance, through the DAG tasks against both twins (the demo) and a real SMTP server:

- a reconciliation with a deleted QBO invoice sends ONE e-mail naming it, and nothing on the next run unless
  something changed; the check that then fails the run is not told a second time;
- an export with blocked invoices sends one e-mail naming each invoice, why and the fix (the wizard), and the task
  still fails with its own message — also when the mail server is down (the failure to notify is logged);
- with nothing configured every task runs as before and says once that notifications are off.
"""
from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa
from airflow.sdk.exceptions import AirflowFailException

from atera_qbo.extract import extract_atera_catalog, extract_atera_invoices, extract_qbo_catalog
from atera_qbo.matching import commit
from atera_qbo.matching.match import decisions, load_catalogs, match_all
from atera_qbo.notify.callbacks import on_task_failure
from atera_qbo.staging.db import table
from sandbox.control import QboControl
from sandbox.launch import start_twin
from scripts.airflow_env import DEMO
from tests.integration.pipeline import WINDOW, atera_client, export, sync_and_match, task_connections
from tests.integration.recon_helpers import delete_txn
from tests.integration.test_extract_qbo import client as qbo_client
from tests.integration.test_extract_qbo import fresh_grant
from tests.twin_state import UNTHROTTLED_QBO

from .conftest import BASE_URL, free_port, smtp_conn

LO, HI = WINDOW[0].isoformat(), WINDOW[1].isoformat()


@pytest.fixture
def twins(tmp_path, engine):
    if engine.dialect.name != "sqlite":
        pytest.skip("the tasks read their staging database from a connection: the SQLite file is enough here")
    atera = start_twin("atera", ["--seed", "demo", "--api-key", DEMO["atera_api_key"]], log_path=tmp_path / "a.log")
    qbo = start_twin("qbo", ["--seed", "demo", "--realm-id", DEMO["realm_id"], "--client-id", DEMO["client_id"],
                             "--client-secret", DEMO["client_secret"]], log_path=tmp_path / "q.log")
    try:
        QboControl(qbo.url).set_limits(**UNTHROTTLED_QBO)
        yield atera, qbo
    finally:
        atera.stop()
        qbo.stop()


def reconcile_task(monkeypatch, run_id: str) -> dict:
    """The DAG's reconcile task, seen by Airflow as run ``run_id`` of atera_qbo_reconciliation."""
    from atera_qbo.tasks import reconcile as tasks

    monkeypatch.setattr(tasks, "task_ids", lambda: {"dag_id": "atera_qbo_reconciliation", "run_id": run_id,
                                                    "task_id": "reconcile"})
    return tasks.reconcile(date_from=LO, date_to=HI, finding_types=[], stale_days=3, run_id=run_id)


def check_critical_fails_and_calls_back(summary: dict, run_id: str) -> None:
    from atera_qbo.tasks.reconcile import check_critical

    with pytest.raises(AirflowFailException) as failed:
        check_critical(summary)
    ti = type("TI", (), {"dag_id": "atera_qbo_reconciliation", "task_id": "check_critical", "run_id": run_id,
                         "try_number": 1})()
    on_task_failure({"ti": ti, "run_id": run_id, "exception": failed.value})


def test_a_deleted_qbo_invoice_is_told_once(twins, engine, smtp_server, configure, monkeypatch):
    atera_twin, qbo_twin = twins
    atera, qbo = atera_client(atera_twin), qbo_client(qbo_twin, engine)
    sync_and_match(atera, qbo, engine)
    result = export(atera, qbo, engine, "b-accept")
    task_connections(monkeypatch, atera_twin, qbo_twin, engine, fresh_grant(qbo_twin))
    configure(smtp=smtp_server, to="finance@example.com")

    first = reconcile_task(monkeypatch, "scheduled__day1")  # the demo's first report: its warnings (overdue)
    assert first["critical_count"] == 0 and len(smtp_server.mails) == 1
    assert "new warning" in smtp_server.mails[0].subject

    number, qbo_id = sorted(result.exported.items())[0]
    delete_txn(qbo_twin, qbo, "Invoice", qbo_id)
    second = reconcile_task(monkeypatch, "scheduled__day2")
    assert second["critical_count"] == 1 and len(smtp_server.mails) == 2
    mail = smtp_server.mails[1]
    assert mail.recipients == ["finance@example.com"]
    assert mail.subject == (f"[Atera ↔ QBO] Reconciliation: 1 new critical finding — Exported document deleted in "
                            f"QBO: Atera {number}")
    assert f">{number} " in mail.html and f"{qbo_id} " in mail.html
    assert f'href="{BASE_URL}/atera-qbo/reconciliation"' in mail.html
    check_critical_fails_and_calls_back(second, "scheduled__day2")  # explained by the message above: no second one
    assert len(smtp_server.mails) == 2

    third = reconcile_task(monkeypatch, "scheduled__day3")  # the next day, nothing changed
    assert third["critical_count"] == 1
    check_critical_fails_and_calls_back(third, "scheduled__day3")
    assert len(smtp_server.mails) == 2


def _matched_without_creating(atera, qbo, engine) -> None:
    """Matching committed with only what is certain: customers without a QBO counterpart stay unmapped."""
    extract_atera_catalog(atera, engine)
    extract_qbo_catalog(qbo, engine)
    extract_atera_invoices(atera, engine, *WINDOW)
    catalogs = load_catalogs(engine)
    review = decisions(match_all(catalogs), create_unmatched=False, import_unmatched=False)
    commit.execute(engine, review, commit.build_steps(review, catalogs, engine), qbo=qbo, atera=atera)


def export_task(run_id: str) -> None:
    from atera_qbo.tasks.export import export as task

    with pytest.raises(AirflowFailException, match="blocked"):  # the task's own outcome, whatever notifying did
        task(date_from=LO, date_to=HI, logical_date=WINDOW[1], numbers=[], dry_run=False,
             create_missing_customers=False, run_id=run_id, create_missing_items=True)


def blocked(engine) -> dict[str, str]:
    led = table("export_invoices")
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(led.c.atera_invoice_number, led.c.error_text)
                                 .where(led.c.status == "blocked")).all())


def test_an_export_with_blocked_invoices_is_told_once_with_the_fix(twins, engine, smtp_server, webhook, configure,
                                                                   monkeypatch, caplog):
    atera_twin, qbo_twin = twins
    _matched_without_creating(atera_client(atera_twin), qbo_client(qbo_twin, engine), engine)
    task_connections(monkeypatch, atera_twin, qbo_twin, engine, fresh_grant(qbo_twin))
    configure(slack=webhook, to={"export": ["billing@example.com"]})
    monkeypatch.setenv("AIRFLOW_CONN_ATERA_QBO_SMTP", smtp_conn(free_port()))  # the mail server is down
    with caplog.at_level(logging.WARNING):
        export_task("manual__1")
    assert any("could not be sent by email: ConnectionRefusedError" in r.getMessage() for r in caplog.records)
    assert len(webhook.posts) == 1  # Slack got it all the same

    configure(smtp=smtp_server)  # the mail server is back: the invoices it could not be told about are told now
    export_task("manual__2")
    problems = blocked(engine)
    assert problems and len(smtp_server.mails) == 1
    mail = smtp_server.mails[0]
    assert mail.recipients == ["billing@example.com"]
    first = sorted(problems)[0]
    assert mail.subject.startswith(f"[Atera ↔ QBO] Export: {len(problems)} invoice(s) blocked, 0 failed — invoice "
                                   f"{first}: ")
    for number in problems:
        assert f"data-invoice='{number}'" in mail.html
    assert "Harbor View Realty" in mail.html  # the reason names the customer ...
    assert "match the customer or product named in the reason in the wizard" in mail.html  # ... and the fix
    assert f'href="{BASE_URL}/atera-qbo/">the wizard</a>' in mail.html

    export_task("manual__3")  # the same invoices, blocked for the same reasons: not told again
    assert len(smtp_server.mails) == 1 and len(webhook.posts) == 1


def test_with_nothing_configured_tasks_run_and_say_once_that_notifications_are_off(engine, tmp_path, monkeypatch,
                                                                                    caplog):
    import json

    from atera_qbo.staging import db
    from atera_qbo.tasks import matching

    if engine.dialect.name != "sqlite":
        pytest.skip("the task reads its staging database from a connection: the SQLite file is enough here")
    monkeypatch.setenv("AIRFLOW_CONN_ATERA_QBO_STAGING", json.dumps({"conn_type": "sqlite",
                                                                     "host": engine.url.database}))
    monkeypatch.setenv("ATERA_QBO_REVIEW_DIR", str(tmp_path / "review"))
    with caplog.at_level(logging.INFO):
        for run in ("r1", "r2"):
            summary = matching.match(overrides_path=None, commit=False, create_unmatched_in_qbo=False,
                                     import_unmatched_qbo_customers=False, run_id=run)
            assert summary["decisions"] == {}
    off = [r.getMessage() for r in caplog.records if r.getMessage().startswith("notifications are off")]
    assert len(off) == 1 and "atera_qbo_smtp" in off[0] and "atera_qbo_slack" in off[0]
    db.dispose_engines()
