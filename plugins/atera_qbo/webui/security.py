"""Who may do what. A plugin's FastAPI app is NOT protected by Airflow: every route here depends on Airflow's
auth manager (the user from the JWT cookie or bearer token Airflow's login issued) and on a DAG permission:

- reading a step needs read access to the DAG it feeds (``GET`` on ``atera_qbo_matching`` for the wizard,
  on ``atera_qbo_invoice_export`` for the export page);
- "Done" and "Export" create a DAG run: the ``POST`` permission on that DAG's runs, as Airflow's own trigger.

Form posts also carry a CSRF token (signed with the API server's secret key, bound to the user) and must come
from this origin (``Origin``/``Referer``): the login is a cookie, so another site could otherwise post for it.
"""
from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any, Literal
from urllib.parse import urlsplit

from airflow.api_fastapi.auth.managers.models.resource_details import (
    ConnectionDetails,
    DagAccessEntity,
    DagDetails,
)
from airflow.api_fastapi.core_api.security import GetUserDep as UserDep  # Airflow's own: JWT cookie or bearer
from airflow.configuration import conf
from fastapi import HTTPException, Request, status
from itsdangerous import BadSignature, URLSafeTimedSerializer

CSRF_MAX_AGE = 12 * 3600
_PROCESS_SECRET = secrets.token_hex(32)  # only when Airflow has no [api] secret_key: tokens valid in this process


def _allowed(user: Any, dag_id: str, method: Literal["GET", "POST"], runs: bool,
             entity: DagAccessEntity | None = None) -> bool:
    from airflow.api_fastapi.app import get_auth_manager  # here, not above: Airflow's app imports the plugins

    return get_auth_manager().is_authorized_dag(
        method=method, access_entity=DagAccessEntity.RUN if runs else entity, details=DagDetails(id=dag_id),
        user=user)


def can_read(dag_id: str) -> Callable[..., Any]:
    def dependency(user: UserDep) -> Any:  # sync: an auth manager may ask its database (thread pool)
        if not _allowed(user, dag_id, "GET", runs=False):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"{user.get_name()} may not read DAG {dag_id}")
        return user
    return dependency


def can_run(dag_id: str) -> Callable[..., Any]:
    def dependency(user: UserDep) -> Any:  # sync: an auth manager may ask its database (thread pool)
        if not _allowed(user, dag_id, "POST", runs=True):
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"{user.get_name()} may not start runs of {dag_id} (read-only login)")
        return user
    return dependency


MANAGED_CONNECTION = "quickbooks_default"


def may_manage(user: Any) -> bool:
    """Managing the integration (Connect, credentials, Disconnect) is editing its connections in Airflow."""
    from airflow.api_fastapi.app import get_auth_manager  # here, not above: Airflow's app imports the plugins

    return get_auth_manager().is_authorized_connection(
        method="PUT", details=ConnectionDetails(conn_id=MANAGED_CONNECTION), user=user)


def can_manage(user: UserDep) -> Any:  # sync: an auth manager may ask its database (thread pool)
    if not may_manage(user):
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            f"{user.get_name()} may not manage the integration: it takes Airflow's permission to "
                            f"edit the {MANAGED_CONNECTION} connection (an Op or Admin login)")
    return user


def may_run(user: Any, dag_id: str) -> bool:
    return _allowed(user, dag_id, "POST", runs=True)


def may_read(user: Any, dag_id: str) -> bool:
    return _allowed(user, dag_id, "GET", runs=False)


def may_read_logs(user: Any, dag_id: str) -> bool:
    """Airflow's permission on a DAG's task logs: the error text a page takes from them needs it."""
    return _allowed(user, dag_id, "GET", runs=False, entity=DagAccessEntity.TASK_LOGS)


def _serializer(request: Request) -> URLSafeTimedSerializer:
    secret = conf.get("api", "secret_key", fallback=None) or _PROCESS_SECRET
    return URLSafeTimedSerializer(secret, salt="atera-qbo-webui-csrf")


def csrf_token(request: Request, user: Any) -> str:
    return _serializer(request).dumps(user.get_name())


def check_csrf(request: Request, user: Any, token: str | None) -> None:
    """Refuse a state-changing request that is not from this origin or lacks this user's token."""
    expected = f"{request.url.scheme}://{request.url.netloc}"
    for header in ("origin", "referer"):
        value = request.headers.get(header)
        if value:  # "null" (a sandboxed frame, a data: page) is another origin too
            parts = urlsplit(value)
            if value == "null" or f"{parts.scheme}://{parts.netloc}" != expected:
                raise HTTPException(status.HTTP_403_FORBIDDEN, f"cross-site request refused ({header} {value})")
    try:
        name = _serializer(request).loads(token or "", max_age=CSRF_MAX_AGE)
    except BadSignature:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or expired form token: reload the page") from None
    if name != user.get_name():
        raise HTTPException(status.HTTP_403_FORBIDDEN, "form token of another user: reload the page")


def login_url(request: Request) -> str:
    from airflow.api_fastapi.app import get_auth_manager  # here, not above: Airflow's app imports the plugins

    return get_auth_manager().get_url_login(next_url=str(request.url))
