"""A task failed after its last retry: the DAG, the task and the error's first line (no secret) with a link to its
log; one message per DAG per hour, the held-back failures counted in the next; a failure its run's own message
already explained is not told twice. Through the DAG files' callback, on a real SMTP server."""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from airflow.sdk.exceptions import AirflowFailException

from atera_qbo.errors import ConfigError, RetriableApiError
from atera_qbo.notify.callbacks import on_task_failure
from atera_qbo.notify.failures import tell_failure
from atera_qbo.notify.memory import record_message
from atera_qbo.staging.db import table

from .conftest import BASE_URL

NOW = datetime(2026, 11, 27, 10, 0)


def context(dag_id: str = "atera_qbo_catalog_sync", task_id: str = "extract_qbo", run_id: str = "scheduled__1",
            error: BaseException | None = None) -> dict:
    ti = SimpleNamespace(dag_id=dag_id, task_id=task_id, run_id=run_id, try_number=3)
    return {"ti": ti, "run_id": run_id, "exception": error or RetriableApiError("QBO: HTTP 503 after 6 attempts")}


def test_the_dags_callback_tells_the_task_and_the_errors_first_line_without_secrets(engine, smtp_server, configure,
                                                                                    monkeypatch):
    if engine.dialect.name != "sqlite":
        pytest.skip("the callback finds the staging database through its connection: the SQLite file is enough")
    configure(smtp=smtp_server, to={"failure": ["ops@example.com"]})
    monkeypatch.setenv("AIRFLOW_CONN_ATERA_QBO_STAGING", json.dumps({"conn_type": "sqlite",
                                                                     "host": engine.url.database}))
    monkeypatch.setenv("AIRFLOW_CONN_ATERA_DEFAULT", json.dumps({"conn_type": "http", "host": "http://127.0.0.1:9",
                                                                 "password": "atera-key-5d1e0c"}))
    cause = ConfigError("Atera refused the key atera-key-5d1e0c: put a valid API token in atera_default\n"
                        "Traceback line that is not shown")
    error = AirflowFailException(str(cause))
    error.__cause__ = cause
    on_task_failure(context(error=error))
    (mail,) = smtp_server.mails
    assert mail.recipients == ["ops@example.com"]
    assert mail.subject == ("[Atera ↔ QBO] atera_qbo_catalog_sync failed: task extract_qbo — ConfigError: Atera "
                            "refused the key ***: put a valid API token in atera_default")
    html = mail.html
    assert "atera-key-5d1e0c" not in html and "Traceback line" not in html
    assert "attempt 3, the last" in html
    assert f'href="{BASE_URL}/dags/atera_qbo_catalog_sync/runs/scheduled__1/tasks/extract_qbo"' in html


def test_a_storm_sends_one_message_per_dag_per_hour(engine, smtp_server, configure):
    configure(smtp=smtp_server, to="ops@example.com")
    outcomes = [tell_failure(context(run_id=f"scheduled__{i}"), now=NOW + timedelta(minutes=i), engine=engine)
                for i in range(4)]
    assert outcomes == ["sent", "throttled", "throttled", "throttled"]
    assert tell_failure(context(dag_id="atera_qbo_matching", task_id="commit"), now=NOW, engine=engine) == "sent"
    assert len(smtp_server.mails) == 2  # one per DAG
    assert tell_failure(context(run_id="scheduled__9"), now=NOW + timedelta(minutes=61), engine=engine) == "sent"
    latest = smtp_server.mails[-1].html
    assert "3 more failures of this DAG since 2026-11-27 10:00 UTC were not sent" in latest


def test_a_failure_its_run_already_explained_is_not_told_again(engine, smtp_server, configure):
    configure(smtp=smtp_server, to="ops@example.com")
    ids = {"dag_id": "atera_qbo_invoice_export", "run_id": "manual__1", "task_id": "export"}
    record_message(engine, "export", ids, "unchanged", NOW)  # the export told (or had told) its blocked invoices
    failed = context("atera_qbo_invoice_export", "export", "manual__1", AirflowFailException("export batch b1: ..."))
    assert tell_failure(failed, now=NOW, engine=engine) == "explained"
    assert tell_failure(context("atera_qbo_invoice_export", "export", "manual__2"), now=NOW, engine=engine) == "sent"
    assert len(smtp_server.mails) == 1
    tbl = table("notify_messages")
    with engine.connect() as conn:
        kinds = conn.execute(sa.select(tbl.c.kind, tbl.c.run_id, tbl.c.status).order_by(tbl.c.kind)).all()
    assert kinds == [("export", "manual__1", "unchanged"), ("failure", "manual__2", "sent")]


def test_with_nothing_configured_the_callback_does_nothing(engine, caplog):
    assert tell_failure(context(), now=NOW, engine=engine) is None
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(table("notify_messages"))).scalar() == 0
