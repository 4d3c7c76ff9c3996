"""``CompanyAuthManager``: a login listed in a company's ``logins`` reaches only its companies' DAGs and connections
(every single, batch and filter check Airflow's API and UI make); a login no company lists is exactly Airflow's
simple auth manager; a broken companies file keeps the last list, or refuses when there is none."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from airflow.api_fastapi.auth.managers.models.resource_details import (
    ConnectionDetails,
    DagAccessEntity,
    DagDetails,
)
from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager
from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

from atera_qbo.auth_manager import CompanyAuthManager

COMPANIES = {"companies": [
    {"id": "default", "name": "Contoso US", "route": {"country": ["United States"]}},
    {"id": "uk", "name": "Contoso UK", "qbo_conn_id": "quickbooks_uk", "route": {"country": ["United Kingdom"]},
     "logins": ["finance_uk", "boss_uk", "ops_uk"]},
    {"id": "fabrikam", "name": "Fabrikam", "atera_conn_id": "atera_fabrikam", "qbo_conn_id": "quickbooks_fabrikam",
     "staging_conn_id": "staging_fabrikam", "logins": ["finance_fab", "ops_uk"]},
]}
DAGS = {"atera_qbo_invoice_export", "atera_qbo_matching", "atera_qbo_invoice_export__uk", "atera_qbo_matching__uk",
        "atera_qbo_invoice_export__fabrikam", "some_other_dag", "atera_qbo_invoice_export__gone"}
UK = {"atera_qbo_invoice_export__uk", "atera_qbo_matching__uk"}


@pytest.fixture
def companies_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "companies.json"
    path.write_text(json.dumps(COMPANIES))
    monkeypatch.setenv("ATERA_QBO_COMPANIES_FILE", str(path))
    monkeypatch.setattr(CompanyAuthManager, "_last_good", None)
    return path


@pytest.fixture
def manager(companies_file: Path) -> CompanyAuthManager:
    return CompanyAuthManager()


def user(name: str, role: str = "user") -> SimpleAuthManagerUser:
    return SimpleAuthManagerUser(username=name, role=role)


def can_dag(m: CompanyAuthManager, who: SimpleAuthManagerUser, dag_id: str | None, method: str = "GET",
            entity: DagAccessEntity | None = None) -> bool:
    return m.is_authorized_dag(method=method, user=who, access_entity=entity, details=DagDetails(id=dag_id))


def can_conn(m: CompanyAuthManager, who: SimpleAuthManagerUser, conn_id: str | None, method: str = "GET") -> bool:
    return m.is_authorized_connection(method=method, user=who, details=ConnectionDetails(conn_id=conn_id))


def test_a_limited_login_reaches_only_its_companys_dags(manager):
    uk = user("finance_uk")
    for entity in (None, DagAccessEntity.RUN, DagAccessEntity.TASK_INSTANCE, DagAccessEntity.TASK_LOGS):
        assert can_dag(manager, uk, "atera_qbo_invoice_export__uk", "GET", entity)
        assert can_dag(manager, uk, "atera_qbo_invoice_export__uk", "POST", entity)
        for other in ("atera_qbo_invoice_export", "atera_qbo_invoice_export__fabrikam", "some_other_dag",
                      "atera_qbo_invoice_export__gone", "other_family__uk"):
            assert not can_dag(manager, uk, other, "GET", entity), (other, entity)
            assert not can_dag(manager, uk, other, "POST", entity), (other, entity)
    assert can_dag(manager, uk, None)  # "any DAG" (Airflow's lists): the role decides, the list is then filtered


def test_the_role_still_decides_within_the_companys_dags(manager):
    viewer = user("finance_uk", role="viewer")
    assert can_dag(manager, viewer, "atera_qbo_invoice_export__uk", "GET")
    assert not can_dag(manager, viewer, "atera_qbo_invoice_export__uk", "POST", DagAccessEntity.RUN)


def test_an_admin_listed_in_logins_is_limited_too(manager):
    boss = user("boss_uk", role="admin")
    assert can_dag(manager, boss, "atera_qbo_matching__uk", "DELETE")
    assert not can_dag(manager, boss, "atera_qbo_matching", "GET")
    assert not can_conn(manager, boss, "quickbooks_fabrikam")
    assert manager.filter_authorized_dag_ids(dag_ids=DAGS, user=boss) == UK


def test_a_login_in_two_companies_reaches_both(manager):
    ops = user("ops_uk", role="op")
    assert manager.filter_authorized_dag_ids(dag_ids=DAGS, user=ops) == UK | {"atera_qbo_invoice_export__fabrikam"}
    assert can_conn(manager, ops, "staging_fabrikam", "PUT") and can_conn(manager, ops, "quickbooks_uk", "DELETE")


def test_dag_lists_and_batch_checks_are_filtered(manager):
    uk = user("finance_uk")
    assert manager.filter_authorized_dag_ids(dag_ids=DAGS, user=uk) == UK
    assert manager.filter_authorized_dag_ids(dag_ids=DAGS, user=uk, method="PUT") == UK
    own = [{"method": "GET", "details": DagDetails(id=d)} for d in sorted(UK)]
    assert manager.batch_is_authorized_dag(own, user=uk)
    other = {"method": "GET", "details": DagDetails(id="atera_qbo_matching")}
    assert not manager.batch_is_authorized_dag([*own, other], user=uk)


def test_a_limited_login_gets_its_companys_connections_and_only_reads_shared_ones(manager):
    ops = user("finance_uk", role="op")
    for method in ("GET", "PUT", "DELETE"):
        assert can_conn(manager, ops, "quickbooks_uk", method)  # the company's own
        assert not can_conn(manager, ops, "quickbooks_fabrikam", method)  # another company's own
        assert not can_conn(manager, ops, "atera_fabrikam", method)
        assert not can_conn(manager, ops, "staging_fabrikam", method)
        assert not can_conn(manager, ops, "quickbooks_default", method)  # only company default's
    for shared in ("atera_default", "atera_qbo_staging", "atera_qbo_redis"):  # shared with default / deployment's
        assert can_conn(manager, ops, shared, "GET")
        for method in ("POST", "PUT", "DELETE"):
            assert not can_conn(manager, ops, shared, method), (shared, method)
    assert can_conn(manager, ops, None, "GET") and not can_conn(manager, ops, None, "POST")
    everything = {"quickbooks_uk", "quickbooks_fabrikam", "atera_fabrikam", "atera_default", "atera_qbo_redis",
                  "quickbooks_default", "staging_fabrikam"}
    assert manager.filter_authorized_connections(conn_ids=everything, user=ops) == \
        {"quickbooks_uk", "atera_default", "atera_qbo_redis"}
    assert manager.filter_authorized_connections(conn_ids=everything, user=ops, method="PUT") == {"quickbooks_uk"}
    assert not manager.batch_is_authorized_connection(
        [{"method": "PUT", "details": ConnectionDetails(conn_id="quickbooks_uk")},
         {"method": "PUT", "details": ConnectionDetails(conn_id="atera_default")}], user=ops)
    assert can_conn(manager, user("finance_uk", role="viewer"), "quickbooks_uk") is False  # the role: Op and up


@pytest.mark.parametrize("role", ["viewer", "user", "op", "admin"])
def test_a_login_no_company_lists_is_exactly_the_simple_auth_manager(manager, role):
    who, simple = user("alice", role), SimpleAuthManager()
    for dag_id in [*sorted(DAGS), None]:
        for method in ("GET", "POST", "PUT", "DELETE"):
            assert can_dag(manager, who, dag_id, method) == simple.is_authorized_dag(
                method=method, user=who, details=DagDetails(id=dag_id)), (dag_id, method)
    for conn_id in ("quickbooks_uk", "quickbooks_fabrikam", "atera_default", "atera_qbo_redis", None):
        for method in ("GET", "POST", "PUT", "DELETE"):
            assert can_conn(manager, who, conn_id, method) == simple.is_authorized_connection(
                method=method, user=who, details=ConnectionDetails(conn_id=conn_id))
    assert manager.filter_authorized_dag_ids(dag_ids=DAGS, user=who) == \
        simple.filter_authorized_dag_ids(dag_ids=DAGS, user=who)
    assert manager.visible_companies(who) and len(manager.visible_companies(who)) == 3


def test_a_broken_file_keeps_the_last_list_read(manager, companies_file):
    uk = user("finance_uk")
    assert manager.filter_authorized_dag_ids(dag_ids=DAGS, user=uk) == UK
    companies_file.write_text("{broken")
    assert manager.filter_authorized_dag_ids(dag_ids=DAGS, user=uk) == UK  # still limited, not opened up
    assert not can_dag(manager, uk, "atera_qbo_matching")


def test_a_broken_file_with_no_list_read_before_refuses_everyone(manager, companies_file):
    companies_file.write_text(json.dumps({"companies": [{"id": "Bad id"}]}))
    admin = user("alice", role="admin")
    assert not can_dag(manager, admin, "atera_qbo_matching")
    assert manager.filter_authorized_dag_ids(dag_ids=DAGS, user=admin) == set()
    assert not can_conn(manager, admin, "quickbooks_default")


def test_airflow_builds_it_from_the_config(companies_file, monkeypatch):
    monkeypatch.setenv("AIRFLOW__CORE__AUTH_MANAGER", "atera_qbo.auth_manager.CompanyAuthManager")
    from airflow.api_fastapi.app import create_auth_manager, purge_cached_app

    purge_cached_app()
    try:
        assert isinstance(create_auth_manager(), CompanyAuthManager)
    finally:
        purge_cached_app()
