"""Through Airflow's own REST API (its FastAPI app, in-process), with ``CompanyAuthManager`` configured as
``scripts/airflow_env.py`` configures it and three companies' DAGs in Airflow's database: a finance login limited
to one company lists, reads and runs only that company's DAGs and connections; an admin no company lists sees all."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scripts.airflow_env import airflow_env

REPO = Path(__file__).resolve().parents[2]
COMPANIES = {"companies": [
    {"id": "default", "name": "Contoso US", "route": {"country": ["United States"]}},
    {"id": "uk", "name": "Contoso UK", "qbo_conn_id": "quickbooks_uk", "route": {"country": ["United Kingdom"]},
     "logins": ["finance_uk", "ops_uk"]},
    {"id": "fabrikam", "name": "Fabrikam", "atera_conn_id": "atera_fabrikam", "qbo_conn_id": "quickbooks_fabrikam"},
]}
USERS = "finance_uk:user,ops_uk:op,admin:admin"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from airflow.api_fastapi import app as airflow_app
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db
    from airflow.models.connection import Connection  # the ORM model: rows in Airflow's database
    from airflow.models.dagbundle import DagBundleModel
    from airflow.utils import db
    from airflow.utils.session import create_session
    from fastapi.testclient import TestClient

    work = tmp_path_factory.mktemp("companies-api")
    (work / "companies.json").write_text(json.dumps(COMPANIES))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW__CORE__AUTH_MANAGER", airflow_env(work / "home")["AIRFLOW__CORE__AUTH_MANAGER"])
        mp.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", USERS)
        mp.setenv("AIRFLOW__API_AUTH__JWT_SECRET", "companies-test-jwt-secret-" + "x" * 48)
        mp.setenv("ATERA_QBO_COMPANIES_FILE", str(work / "companies.json"))
        db.resetdb()
        with create_session() as session:
            session.merge(DagBundleModel(name="dags-folder"))
            for conn_id in ("quickbooks_default", "quickbooks_uk", "quickbooks_fabrikam", "atera_default",
                            "atera_fabrikam", "atera_qbo_redis"):
                session.add(Connection(conn_id=conn_id, conn_type="http", host="https://example.com"))
        sync_bag_to_db(DagBag(dag_folder=str(REPO / "dags")), "dags-folder", None)
        airflow_app.purge_cached_app()
        app = airflow_app.create_app()
        manager = airflow_app.get_auth_manager()
        with TestClient(app) as client:
            yield client, manager
        airflow_app.purge_cached_app()


def as_user(api: Any, name: str, role: str) -> dict[str, str]:
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    _, manager = api
    return {"Authorization": f"Bearer {manager.generate_jwt(SimpleAuthManagerUser(username=name, role=role))}"}


def test_airflow_runs_the_company_auth_manager(api):
    from atera_qbo.auth_manager import CompanyAuthManager

    assert isinstance(api[1], CompanyAuthManager)


def test_a_limited_login_lists_reads_and_runs_only_its_companys_dags(api):
    client, _ = api
    uk = as_user(api, "finance_uk", "user")
    listed = client.get("/api/v2/dags", headers=uk)
    assert listed.status_code == 200
    assert {d["dag_id"] for d in listed.json()["dags"]} == {
        f"atera_qbo_{f}__uk" for f in ("catalog_sync", "disconnect", "invoice_export", "matching",
                                       "reconciliation", "restore_catalog")}
    assert client.get("/api/v2/dags/atera_qbo_invoice_export__uk", headers=uk).status_code == 200
    for other in ("atera_qbo_invoice_export", "atera_qbo_invoice_export__fabrikam"):
        assert client.get(f"/api/v2/dags/{other}", headers=uk).status_code == 403
        assert client.get(f"/api/v2/dags/{other}/dagRuns", headers=uk).status_code == 403
        assert client.post(f"/api/v2/dags/{other}/dagRuns", headers=uk,
                           json={"logical_date": None}).status_code == 403
        assert client.patch(f"/api/v2/dags/{other}", headers=uk, json={"is_paused": True}).status_code == 403
    admin = as_user(api, "admin", "admin")
    for dag_id in ("atera_qbo_invoice_export", "atera_qbo_invoice_export__uk", "atera_qbo_invoice_export__fabrikam"):
        started = client.post(f"/api/v2/dags/{dag_id}/dagRuns", headers=admin, json={"logical_date": None})
        assert started.status_code == 200, started.text
    runs = client.get("/api/v2/dags/~/dagRuns", headers=uk)
    assert runs.status_code == 200
    assert [r["dag_id"] for r in runs.json()["dag_runs"]] == ["atera_qbo_invoice_export__uk"]
    assert len(client.get("/api/v2/dags/~/dagRuns", headers=admin).json()["dag_runs"]) == 3


def test_a_limited_login_gets_only_its_companys_connections(api):
    client, _ = api
    ops = as_user(api, "ops_uk", "op")
    listed = client.get("/api/v2/connections", headers=ops)
    assert listed.status_code == 200
    assert {c["connection_id"] for c in listed.json()["connections"]} == {"quickbooks_uk", "atera_default",
                                                                          "atera_qbo_redis"}
    assert client.get("/api/v2/connections/quickbooks_fabrikam", headers=ops).status_code == 403
    assert client.get("/api/v2/connections/atera_default", headers=ops).status_code == 200  # shared: read only
    change = {"connection_id": "atera_default", "conn_type": "http", "host": "https://attacker.example"}
    assert client.patch("/api/v2/connections/atera_default", headers=ops, json=change).status_code == 403
    assert client.delete("/api/v2/connections/quickbooks_default", headers=ops).status_code == 403
    new = {"connection_id": "quickbooks_new", "conn_type": "http"}
    assert client.post("/api/v2/connections", headers=ops, json=new).status_code == 403


def test_a_login_no_company_lists_sees_every_company(api):
    client, _ = api
    admin = as_user(api, "admin", "admin")
    assert len(client.get("/api/v2/dags", headers=admin).json()["dags"]) == 18
    assert client.get("/api/v2/dags/atera_qbo_invoice_export__fabrikam", headers=admin).status_code == 200
    assert len(client.get("/api/v2/connections", headers=admin).json()["connections"]) == 6
