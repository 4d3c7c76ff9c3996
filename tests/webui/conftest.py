"""The web UI's test world: staged catalogs, the review CSV a matching run writes, Airflow's own auth manager
(SimpleAuthManager, users from the config) with its JWTs, the plugin's app mounted as Airflow mounts it, its
dependencies replaced through ``app.dependency_overrides``."""
from __future__ import annotations

import re
from datetime import date

import pytest
import sqlalchemy as sa

from atera_qbo.matching.match import for_review, load_catalogs, match_all
from atera_qbo.matching.review import rows_of
from atera_qbo.matching.review_csv import write_rows
from atera_qbo.staging.db import table, utcnow

USERS = "finance:user,auditor:viewer,admin:admin"
ORIGIN = "http://testserver"


def stage(engine: sa.Engine) -> None:
    now = utcnow()
    rows = {
        "stg_atera_customers": [
            {"source_id": "1", "name": "Northwind Traders"}, {"source_id": "2", "name": "Acme Inc"},
            {"source_id": "4", "name": "Brand New LLC"}, {"source_id": "5", "name": "Apex Dental"},
            {"source_id": "6", "name": "<script>alert(1)</script> Bakery"}],
        "stg_qbo_customers": [
            {"source_id": "10", "display_name": "Northwind Traders", "active": True, "is_job": False},
            {"source_id": "11", "display_name": "ACME, Inc.", "active": True, "is_job": False},
            {"source_id": "13", "display_name": "Apex Dental Group", "active": True, "is_job": False},
            {"source_id": "14", "display_name": "Apex Dental Care", "active": True, "is_job": False},
            {"source_id": "15", "display_name": "Pinecrest Vet", "active": True, "is_job": False},
            *[{"source_id": str(100 + i), "display_name": f"Zeta Holding {i:03d}", "active": True, "is_job": False}
              for i in range(60)]],
        "stg_atera_products": [
            {"kind": "product", "source_id": "1", "name": "Laptop", "amount": "999.00"},
            {"kind": "rate", "source_id": "1", "name": "Remote Support", "amount": "125.00"}],
        "stg_qbo_items": [{"source_id": "20", "name": "LAPTOP", "active": True, "item_type": "NonInventory"},
                          {"source_id": "21", "name": "Remote Support Hours", "active": True,
                           "item_type": "Service"}],
    }
    with engine.begin() as conn:
        for name, values in rows.items():
            conn.execute(table(name).insert(), [{**v, "extracted_at": now} for v in values])


@pytest.fixture(scope="module")
def airflow_db():
    """Airflow's metadata DB (the auth manager checks revoked tokens there)."""
    from airflow.utils import db

    db.resetdb()


class FakeRuns:
    """The app's ``DagRuns`` dependency in these tests: records what Done and Export trigger."""

    def __init__(self) -> None:
        self.triggered: list = []
        self.before_trigger = None  # a test may hold a trigger (Done waiting on Airflow's database)

    def trigger(self, dag_id, conf, user):
        if self.before_trigger:
            self.before_trigger()
        self.triggered.append((dag_id, conf, user))
        return f"manual__{len(self.triggered)}"

    def outcome(self, dag_id, run_id):
        from atera_qbo.webui.runs import RunOutcome

        return RunOutcome(dag_id, run_id, "queued")


@pytest.fixture
def world(airflow_db, engine, tmp_path, monkeypatch):
    """Staged catalogs, the review CSV a matching run writes, Airflow's auth manager with two users, the app
    mounted as Airflow mounts it (its lifespan entered by the parent's, Airflow's own), its dependencies
    (staging engine, review dir, day, DAG runs) replaced through ``app.dependency_overrides``."""
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", USERS)
    monkeypatch.setenv("AIRFLOW__API_AUTH__JWT_SECRET", "test-jwt-secret-" + "x" * 64)
    monkeypatch.setenv("AIRFLOW__CORE__AUTH_MANAGER",
                       "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager")
    from airflow.api_fastapi import app as airflow_app
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from atera_qbo.webui import deps
    from atera_qbo.webui.app import create_app

    stage(engine)
    review_dir = tmp_path / "review"
    cat = load_catalogs(engine)
    review = for_review(match_all(cat))
    write_rows(review_dir / "match_review.csv", list(rows_of(review)))  # as the matching task writes it
    airflow_app.purge_cached_app()
    manager = airflow_app.init_auth_manager()
    runs = FakeRuns()
    app = create_app()
    app.dependency_overrides.update({deps.staging_engine: lambda: engine, deps.current_review_dir: lambda: review_dir,
                                     deps.today: lambda: date(2026, 10, 31), deps.dag_runs: lambda: runs})
    parent = FastAPI(lifespan=airflow_app.lifespan)
    parent.mount("/atera-qbo", app)

    def login(name: str, role: str) -> None:
        client.cookies.set("_token", manager.generate_jwt(SimpleAuthManagerUser(username=name, role=role)))

    with TestClient(parent, base_url=ORIGIN) as client:  # one event loop for every request, as in the API server
        yield {"client": client, "login": login, "engine": engine, "review_dir": review_dir, "catalogs": cat,
               "triggered": runs.triggered, "runs": runs, "app": app}
    airflow_app.purge_cached_app()


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)
