"""The deployment's one-time set-up, run by docker-compose's ``airflow-init`` (idempotent: safe on every start).

``python scripts/compose_init.py secrets`` — the keys every Airflow container must share (Fernet key for
connections and the QBO token store, the JWT secret for the execution API, the API server's secret key) as files
in the secrets volume: taken from the environment (``AIRFLOW_FERNET_KEY``, ``AIRFLOW_JWT_SECRET``,
``AIRFLOW_API_SECRET_KEY``, see .env.example) the first time, else generated; never printed, never overwritten.

``python scripts/compose_init.py staging`` — the staging database of connection ``atera_qbo_staging`` created on
its PostgreSQL server when missing, then its schema brought up to date (once, here, rather than by the first
workers racing for it).
"""
from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "plugins")]

SECRETS = {"fernet.key": "AIRFLOW_FERNET_KEY", "jwt.secret": "AIRFLOW_JWT_SECRET",
           "api.secret": "AIRFLOW_API_SECRET_KEY"}


def write_secrets(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, env in SECRETS.items():
        path = directory / name
        if path.exists() and path.read_text().strip():
            continue
        value = os.environ.get(env, "").strip()
        if not value:
            if name == "fernet.key":
                from cryptography.fernet import Fernet

                value = Fernet.generate_key().decode()
            else:
                value = secrets.token_urlsafe(32)
        path.write_text(value + "\n")
        path.chmod(0o600)
        print(f"{path}: {'from ' + env if os.environ.get(env, '').strip() else 'generated'}")


def init_staging() -> None:
    import sqlalchemy as sa

    from atera_qbo.config import ConnInfo, staging_url
    from atera_qbo.staging.db import apply_schema, make_engine

    conn = None
    raw = os.environ.get("AIRFLOW_CONN_ATERA_QBO_STAGING", "").strip()
    if raw:  # JSON or URI, as Airflow reads it
        from airflow.models.connection import Connection

        c = Connection.from_json(raw, conn_id="atera_qbo_staging") if raw.startswith("{") else Connection(
            conn_id="atera_qbo_staging", uri=raw)
        conn = ConnInfo(conn_type=c.conn_type or "", host=c.host, login=c.login, password=c.password,
                        schema=c.schema, port=c.port)
    url = staging_url(conn)
    if url.startswith("postgresql"):
        target = sa.engine.make_url(url)
        admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            exists = c.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": target.database}).first()
            if not exists:
                c.exec_driver_sql(f'CREATE DATABASE "{target.database}"')
                print(f"created staging database {target.database!r}")
        admin.dispose()
    engine = make_engine(url)
    apply_schema(engine)
    engine.dispose()
    print(f"staging schema up to date on {sa.engine.make_url(url).render_as_string(hide_password=True)}")


def main(argv: list[str]) -> int:
    what = argv[1] if len(argv) > 1 else ""
    if what == "secrets":
        write_secrets(Path(os.environ.get("ATERA_QBO_SECRETS_DIR", "/opt/airflow/secrets")))
    elif what == "staging":
        init_staging()
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
