"""With several companies, the DAGs' failure callback records a failure in the failed DAG's company's own staging
database (never another company's), and scrubs every company's connection secrets from the error line."""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from atera_qbo.errors import ConfigError
from atera_qbo.notify.callbacks import on_task_failure
from atera_qbo.notify.failures import failed_company

COMPANIES = {"companies": [
    {"id": "default", "name": "Contoso US", "route": {"country": ["United States"]}},
    {"id": "uk", "name": "Contoso UK", "route": {"country": ["United Kingdom"]}},
    {"id": "fabrikam", "name": "Fabrikam", "atera_conn_id": "atera_fabrikam"},
]}


def context(dag_id: str, error: BaseException) -> dict:
    ti = SimpleNamespace(dag_id=dag_id, task_id="export", run_id="manual__1", try_number=2)
    return {"ti": ti, "run_id": "manual__1", "exception": error}


def failures_in(path: Path) -> list[tuple]:
    if not path.exists():
        return []
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table("notify_messages"):
                return []
            return [tuple(r) for r in conn.execute(sa.text(
                "SELECT dag_id, kind, status FROM notify_messages WHERE kind = 'failure'"))]
    finally:
        engine.dispose()


@pytest.fixture
def deployment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    companies = tmp_path / "companies.json"
    companies.write_text(json.dumps(COMPANIES))
    monkeypatch.setenv("ATERA_QBO_COMPANIES_FILE", str(companies))
    monkeypatch.setenv("AIRFLOW_CONN_ATERA_QBO_STAGING", json.dumps(
        {"conn_type": "sqlite", "host": str(tmp_path / "atera_qbo_staging.db")}))
    monkeypatch.setenv("AIRFLOW_CONN_ATERA_FABRIKAM", json.dumps(
        {"conn_type": "http", "host": "http://127.0.0.1:9", "password": "fabrikam-key-77c1"}))
    return tmp_path


def test_a_companys_failure_is_recorded_in_its_own_database_only(deployment, smtp_server, configure):
    configure(smtp=smtp_server, to={"failure": ["ops@example.com"]})
    error = ConfigError("Atera refused the key fabrikam-key-77c1: put a valid token in atera_fabrikam")
    on_task_failure(context("atera_qbo_invoice_export__fabrikam", error))
    (mail,) = smtp_server.mails
    # the company is named first: with several, "the export failed" alone does not say whose books to look at
    assert mail.subject.startswith("[Atera ↔ QBO · Fabrikam] atera_qbo_invoice_export__fabrikam failed: task export")
    assert "fabrikam-key-77c1" not in mail.subject and "fabrikam-key-77c1" not in mail.html  # its secret too
    fabrikam = deployment / "atera_qbo_staging.fabrikam.db"
    assert failures_in(fabrikam) == [("atera_qbo_invoice_export__fabrikam", "failure", "sent")]
    assert failures_in(deployment / "atera_qbo_staging.db") == []
    assert failures_in(deployment / "atera_qbo_staging.uk.db") == []
    with sa.create_engine(f"sqlite:///{fabrikam}").connect() as conn:
        assert conn.execute(sa.text("SELECT company_id FROM company_identity")).scalar() == "fabrikam"

    on_task_failure(context("atera_qbo_invoice_export", ConfigError("QBO refused")))  # company default's DAG
    assert failures_in(deployment / "atera_qbo_staging.db") == [("atera_qbo_invoice_export", "failure", "sent")]
    assert len(failures_in(fabrikam)) == 1 and len(smtp_server.mails) == 2


def test_a_dag_of_no_company_among_several_is_recorded_nowhere(deployment, smtp_server, configure):
    configure(smtp=smtp_server, to={"failure": ["ops@example.com"]})
    with pytest.raises(ConfigError, match="atera_qbo_invoice_export__gone is not one company's DAG"):
        failed_company("atera_qbo_invoice_export__gone")
    on_task_failure(context("atera_qbo_invoice_export__gone", ConfigError("x")))  # never raises
    assert smtp_server.mails == []
    assert not list(deployment.glob("atera_qbo_staging*.db"))


def test_with_one_company_every_dag_is_its_own(tmp_path, monkeypatch):
    monkeypatch.setenv("ATERA_QBO_COMPANIES_FILE", str(tmp_path / "absent.json"))
    assert failed_company("notify_probe").id == "default" and failed_company(None).id == "default"


def test_messages_about_a_company_name_it_and_link_to_its_pages(monkeypatch):
    from atera_qbo.companies import Company, working_for
    from atera_qbo.notify.message import subject
    from atera_qbo.notify.settings import page

    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example.com")
    with working_for(Company("uk", "Contoso UK"), several=True):
        assert subject("Export: 2 invoice(s) blocked") == "[Atera ↔ QBO · Contoso UK] Export: 2 invoice(s) blocked"
        assert page("/export") == "https://airflow.example.com/atera-qbo/export?company=uk"
    with working_for(Company("default", "default"), several=False):  # one company: the messages of before
        assert subject("Export: 2 invoice(s) blocked") == "[Atera ↔ QBO] Export: 2 invoice(s) blocked"
        assert page("/export") == "https://airflow.example.com/atera-qbo/export"
    assert page("/") == "https://airflow.example.com/atera-qbo/"  # outside any company's task
