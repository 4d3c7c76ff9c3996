"""End to end with ``dag.test()``: the reconciliation DAG's critical check fails AFTER its report landed; then
disconnect → the token is revoked at the QBO twin → every DAG that writes to QBO refuses, saying how to reconnect →
a new refresh token in the connection → the export resumes and sends each invoice exactly once."""
from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from test_demo_sync import REPO, Qbo, airflow_env, atera_invoices, dags, loopback_only, run, twins  # noqa: F401

from sandbox.control import QboControl
from scripts.airflow_env import DEMO

pytestmark = pytest.mark.e2e


def run_failing(dag, conf=None):
    from airflow.utils.state import DagRunState

    dr = dag.test(run_conf=conf or {})
    assert dr.state == DagRunState.FAILED, f"{dag.dag_id} ended {dr.state}, expected failed"
    return {ti.task_id: ti.state for ti in dr.get_task_instances()}


def staging(work: Path):
    from atera_qbo.staging.db import make_engine

    return make_engine(f"sqlite:///{work / 'staging.db'}")


def rows(engine, name: str) -> list:
    from atera_qbo.staging.db import table

    with engine.connect() as conn:
        return conn.execute(sa.select(table(name))).all()


def test_critical_check_then_disconnect_refuse_reconnect_resume(twins, dags, airflow_env, monkeypatch):  # noqa: F811
    atera, qbo_twin = twins
    work = airflow_env
    numbers = sorted(str(i["InvoiceNumber"]) for i in atera_invoices(atera.url))
    held_back = numbers[-2:]
    run(dags["atera_qbo_catalog_sync"])
    run(dags["atera_qbo_matching"], {"commit": True, "create_unmatched_in_qbo": True,
                                     "overrides_path": str(REPO / "include" / "demo" / "overrides.csv")})
    run(dags["atera_qbo_invoice_export"], {"invoice_date_from": DEMO["invoice_date_from"],
                                           "invoice_date_to": DEMO["invoice_date_to"],
                                           "invoice_numbers": numbers[:-2]})
    run(dags["atera_qbo_reconciliation"])  # nothing critical yet
    latest = work / "review" / "reconciliation_latest.html"
    assert latest.exists()

    # --- a bookkeeper voids an exported invoice: the run writes its report, then the check fails
    qbo = Qbo(qbo_twin.url)
    (inv,) = qbo.query("Invoice", f"WHERE DocNumber = '{numbers[0]}'")
    r = qbo.request("POST", "/invoice", params={"operation": "void"},
                    json={"Id": inv["Id"], "SyncToken": inv["SyncToken"]})
    assert r.status_code == 200, r.text
    states = run_failing(dags["atera_qbo_reconciliation"])
    assert states == {"reconcile": "success", "check_critical": "failed"}
    engine = staging(work)
    last = max(rows(engine, "recon_runs"), key=lambda r: r.finished_at)
    report = Path(last.report_path)
    assert report.exists() and "txn_voided" in report.read_text() and f">{numbers[0]}<" in report.read_text()
    assert json.loads(last.counts_json)["by_severity"]["critical"] == 1

    # --- disconnect: a wrong confirmation changes nothing
    from atera_qbo.hooks import QuickBooksHook

    stored = QuickBooksHook().token_store().current_refresh_token()
    assert run_failing(dags["atera_qbo_disconnect"], {"confirm": "123"}) == {"disconnect": "failed"}
    assert len(rows(engine, "oauth_tokens")) == 1 and not rows(engine, "qbo_connection_events")
    run(dags["atera_qbo_disconnect"], {"confirm": DEMO["realm_id"]})
    assert not rows(engine, "oauth_tokens")
    (event,) = rows(engine, "qbo_connection_events")
    assert event.event == "disconnected" and event.actor
    refused = requests.post(f"{qbo_twin.url}/oauth2/v1/tokens/bearer", auth=(DEMO["client_id"],
                                                                              DEMO["client_secret"]),
                            data={"grant_type": "refresh_token", "refresh_token": stored}, timeout=10)
    assert refused.json() == {"error": "invalid_grant"}  # revoked at the twin
    ledger_before = Counter(r.status for r in rows(engine, "export_invoices"))
    assert rows(engine, "map_customers") and len(list((work / "review" / "reconciliation").iterdir())) == 2

    # --- every DAG that talks to QBO refuses, saying how to reconnect
    from airflow.sdk.exceptions import AirflowFailException

    from atera_qbo.tasks.export import export
    from atera_qbo.tasks.reconcile import reconcile

    for dag_id, conf in (("atera_qbo_invoice_export", {"invoice_numbers": held_back}),
                         ("atera_qbo_matching", {"commit": True}), ("atera_qbo_reconciliation", {})):
        assert "failed" in run_failing(dags[dag_id], conf).values(), dag_id
    for call in (lambda: export(date_from=DEMO["invoice_date_from"], date_to=DEMO["invoice_date_to"],
                                      logical_date=None, numbers=held_back, dry_run=False,
                                      create_missing_customers=False, run_id="refused"),
                 lambda: reconcile(date_from=None, date_to=None, finding_types=[], stale_days=3,
                                         run_id="refused")):
        with pytest.raises(AirflowFailException, match=r"was disconnected .* NEW refresh token"):
            call()
    assert Counter(r.status for r in rows(engine, "export_invoices")) == ledger_before

    # --- reconnect: a new refresh token in the connection; the export resumes with nothing re-sent
    token = QboControl(qbo_twin.url).mint_refresh_token(DEMO["client_id"])
    conn = json.loads(os.environ["AIRFLOW_CONN_QUICKBOOKS_DEFAULT"])
    conn["extra"]["refresh_token"] = token
    monkeypatch.setenv("AIRFLOW_CONN_QUICKBOOKS_DEFAULT", json.dumps(conn))
    run(dags["atera_qbo_invoice_export"], {"invoice_date_from": DEMO["invoice_date_from"],
                                           "invoice_date_to": DEMO["invoice_date_to"]})
    assert [r.event for r in sorted(rows(engine, "qbo_connection_events"), key=lambda r: r.at)] == \
        ["disconnected", "reconnected"]
    docs = Counter(i.get("DocNumber") for i in Qbo(qbo_twin.url).query("Invoice"))
    assert all(docs[n] == 1 for n in numbers), {n: docs[n] for n in numbers if docs[n] != 1}
    assert Counter(r.status for r in rows(engine, "export_invoices"))["exported"] == len(numbers)
