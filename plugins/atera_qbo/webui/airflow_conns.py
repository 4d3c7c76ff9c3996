"""The Airflow connections the pages show and change: what a company's Atera connection (``atera_default``, or
its own ``atera_conn_id``) points at (never its secret), and keeping a tested Atera token as its password in
Airflow's metadata database (encrypted by Airflow's Fernet key). A connection defined in the API server's
environment (``AIRFLOW_CONN_ATERA_DEFAULT``) wins over the database, so the page refuses to write one that would be
ignored, and says where to change it."""
from __future__ import annotations

import os
from typing import Any

from airflow.models.connection import Connection
from airflow.utils.session import create_session
from sqlalchemy import select

from ..atera.credentials import AteraCredential
from ..config import conn_info
from ..errors import ConfigError

ATERA_CONN = "atera_default"
ATERA_DEFAULT_HOST = "https://app.atera.com"


class ShadowedConnection(ConfigError):
    """The connection comes from the environment: a database copy would be ignored."""


def env_defined(conn_id: str) -> bool:
    return f"AIRFLOW_CONN_{conn_id.upper()}" in os.environ


def atera_summary(conn_id: str = ATERA_CONN) -> dict[str, Any]:
    """Where the Atera connection points and what kind of credential it holds (and until when), no secret."""
    info = conn_info(conn_id, required=False)
    base = {"conn_id": conn_id, "from_env": env_defined(conn_id)}
    if info is None or not info.password:
        return {**base, "defined": False, "host": info.host if info else None}
    cred = AteraCredential.of(info.password, str(info.extra.get("auth") or "") or None)
    return {**base, "defined": True, "host": info.host, "kind": cred.what, "expires_at": cred.expires_at,
            "expiring": cred.warn_if_expiring() is not None}


def save_atera(secret: str, host: str | None, conn_id: str = ATERA_CONN) -> None:
    """``secret`` becomes the connection's password (the connection is created when missing)."""
    if env_defined(conn_id):
        raise ShadowedConnection(f"{conn_id} is defined in this deployment's environment "
                                 f"(AIRFLOW_CONN_{conn_id.upper()}), which wins over what this page would save: "
                                 "change the token there (or remove that variable to manage it here)")
    with create_session() as session:
        conn = session.scalar(select(Connection).where(Connection.conn_id == conn_id))
        if conn is None:
            conn = Connection(conn_id=conn_id, conn_type="http", host=host or ATERA_DEFAULT_HOST)
            session.add(conn)
        elif host:
            conn.host = host
        conn.password = secret
