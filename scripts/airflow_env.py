"""The environment ``make run`` and the tests give Airflow: a home inside the repo, SQLite, no examples, our dags/
and plugins/, a Fernet key kept in the home, the per-company auth manager, and the connections to the twins
(``AIRFLOW_CONN_*``)."""
from __future__ import annotations

import json
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# The demo's fixed credentials for the twins (not secrets: the twins accept them on loopback only).
DEMO = {
    "atera_api_key": "twin-atera-key",
    "realm_id": "9341453050298751",
    "client_id": "twin-client-id",
    "client_secret": "twin-client-secret",
    "refresh_token": "twin-demo-refresh-token-0001",
    "invoice_date_from": "2026-08-01",
    "invoice_date_to": "2026-10-31",
}


def fernet_key(home: Path) -> str:
    path = home / "fernet.key"
    if not path.exists():
        from cryptography.fernet import Fernet

        home.mkdir(parents=True, exist_ok=True)
        path.write_text(Fernet.generate_key().decode())
        path.chmod(0o600)
    return path.read_text().strip()


def airflow_env(home: Path) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__FERNET_KEY": fernet_key(home),
        # Airflow's simple auth manager (same users, roles and passwords settings), each login limited to the
        # companies whose `logins` list it (companies file, docs/companies.md)
        "AIRFLOW__CORE__AUTH_MANAGER": "atera_qbo.auth_manager.CompanyAuthManager",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "ATERA_QBO_REVIEW_DIR": str(home / "atera_qbo" / "review"),
        # the demo's overrides file lies in the repo: an admin lists its directory (overrides_path is refused
        # outside the review dir and the directories listed here)
        "ATERA_QBO_OVERRIDES_DIRS": str(REPO / "include" / "demo"),
        "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO), env.get("PYTHONPATH", "")]),
        "NO_PROXY": "127.0.0.1,localhost",
    })
    return env


def connections(atera_url: str, qbo_url: str, *, staging: dict | None = None,
                qbo_extra: dict | None = None) -> dict[str, str]:
    extra = {"realm_id": DEMO["realm_id"], "refresh_token": DEMO["refresh_token"], "oauth_base_url": qbo_url,
             "retry_initial_wait": 0.2, "retry_max_wait": 5, "environment": "sandbox"}
    extra.update(qbo_extra or {})
    conns = {
        "AIRFLOW_CONN_ATERA_DEFAULT": json.dumps({"conn_type": "http", "host": atera_url,
                                                  "password": DEMO["atera_api_key"]}),
        "AIRFLOW_CONN_QUICKBOOKS_DEFAULT": json.dumps({
            "conn_type": "http", "host": qbo_url, "login": DEMO["client_id"], "password": DEMO["client_secret"],
            "extra": extra}),
    }
    if staging is not None:
        conns["AIRFLOW_CONN_ATERA_QBO_STAGING"] = json.dumps(staging)
    return conns
