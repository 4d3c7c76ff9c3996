"""Who may do what. A plugin's FastAPI app is NOT protected by Airflow: every route here depends on Airflow's
auth manager (the user from the JWT cookie or bearer token Airflow's login issued) and on a DAG permission:

- reading a step needs read access to the DAG it feeds (``GET`` on ``atera_qbo_matching`` for the wizard,
  on ``atera_qbo_invoice_export`` for the export page);
- "Done" and "Export" create a DAG run: the ``POST`` permission on that DAG's runs, as Airflow's own trigger.

Every check is on the CURRENT COMPANY's DAG (``?company=uk`` → ``atera_qbo_matching__uk``): a page shows one
company (``current_scope``), the first the user may see when the URL names none. A company the user may see is
one the companies file lets the login see (``logins``) whose DAGs Airflow's auth manager lets it read; an unknown
company is a 404 naming the ones the user may see, another one a 403 (never its data). Managing a company is
Airflow's permission to edit its QBO connection (``qbo_conn_id``).

Form posts also carry a CSRF token (signed with the API server's secret key, bound to the user) and must come
from this origin (``Origin``/``Referer``): the login is a cookie, so another site could otherwise post for it.
"""
from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from airflow.api_fastapi.auth.managers.models.resource_details import (
    ConnectionDetails,
    DagAccessEntity,
    DagDetails,
)
from airflow.api_fastapi.core_api.security import GetUserDep as UserDep  # Airflow's own: JWT cookie or bearer
from airflow.configuration import conf
from fastapi import Depends, HTTPException, Request, status
from itsdangerous import BadSignature, URLSafeTimedSerializer

from ..companies import COMPANY_PARAM, Companies, Company, load_companies
from ..config import CALLBACK_URL_PATH
from ..errors import ConfigError
from .runs import FAMILIES

CSRF_MAX_AGE = 12 * 3600
_PROCESS_SECRET = secrets.token_hex(32)  # only when Airflow has no [api] secret_key: tokens valid in this process


def _allowed(user: Any, dag_id: str, method: Literal["GET", "POST"], runs: bool,
             entity: DagAccessEntity | None = None) -> bool:
    from airflow.api_fastapi.app import get_auth_manager  # here, not above: Airflow's app imports the plugins

    return get_auth_manager().is_authorized_dag(
        method=method, access_entity=DagAccessEntity.RUN if runs else entity, details=DagDetails(id=dag_id),
        user=user)


@dataclass(frozen=True)
class Scope:
    """The company a request is about, the companies its user may see (the switcher), and whether the deployment
    has several (links then carry ``?company=``)."""

    company: Company
    visible: tuple[Company, ...]
    several: bool


def all_companies() -> Companies:
    try:
        return load_companies()
    except ConfigError as exc:  # a broken companies file: say which and why on every page
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from None


def may_see(user: Any, company: Company, companies: Companies | None = None) -> bool:
    """The companies file lets the login see ``company`` and the auth manager lets it read one of its DAGs."""
    companies = companies or all_companies()
    if company not in companies.visible_to(str(user.get_name())):
        return False
    return any(may_read(user, company.dag_id(family)) for family in FAMILIES)


def visible_companies(user: Any, companies: Companies | None = None) -> list[Company]:
    companies = companies or all_companies()
    return [c for c in companies.visible_to(str(user.get_name())) if may_see(user, c, companies)]


def state_company(state: str | None) -> str | None:
    """The company a Connect's OAuth state was made for (``<company id>.<random>``, see ``webui.connect``)."""
    company_id, dot, _ = (state or "").partition(".")
    return company_id if dot else None


def requested_company(request: Request) -> str:
    """``?company=`` of the URL; on Intuit's callback (a fixed URL) the company its state names."""
    wanted = request.query_params.get(COMPANY_PARAM, "").strip()
    if not wanted and request.url.path.endswith(CALLBACK_URL_PATH):
        wanted = state_company(request.query_params.get("state")) or ""
    return wanted


def current_scope(request: Request, user: UserDep) -> Scope:
    """The request's company: the one the URL names (404 unknown, 403 not this user's), else the user's first."""
    companies = all_companies()
    visible = visible_companies(user, companies)
    wanted = requested_company(request)
    name = user.get_name()
    if not wanted:
        if not visible:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"{name} may see no company: ask an Airflow admin for "
                                "read access to a company's atera_qbo DAGs")
        return Scope(visible[0], tuple(visible), len(companies) > 1)
    if wanted not in companies.ids:
        shown = ", ".join(c.id for c in visible) or "none"
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no company {wanted!r}: the companies you may see are {shown}")
    company = companies.get(wanted)
    if company not in visible:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"{name} may not see company {wanted!r}")
    return Scope(company, tuple(visible), len(companies) > 1)


CurrentScope = Annotated[Scope, Depends(current_scope)]


def current_company(scope: CurrentScope) -> Company:
    return scope.company


CompanyDep = Annotated[Company, Depends(current_company)]


def can_read(family: str) -> Callable[..., Any]:
    def dependency(user: UserDep, company: CompanyDep) -> Any:  # sync: an auth manager may ask its database
        dag_id = company.dag_id(family)
        if not _allowed(user, dag_id, "GET", runs=False):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"{user.get_name()} may not read DAG {dag_id}")
        return user
    return dependency


def can_run(family: str) -> Callable[..., Any]:
    def dependency(user: UserDep, company: CompanyDep) -> Any:  # sync: an auth manager may ask its database
        dag_id = company.dag_id(family)
        if not _allowed(user, dag_id, "POST", runs=True):
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"{user.get_name()} may not start runs of {dag_id} (read-only login)")
        return user
    return dependency


def may_manage(user: Any, company: Company) -> bool:
    """Managing a company (Connect, credentials, Disconnect) is editing its QBO connection in Airflow."""
    from airflow.api_fastapi.app import get_auth_manager  # here, not above: Airflow's app imports the plugins

    return get_auth_manager().is_authorized_connection(
        method="PUT", details=ConnectionDetails(conn_id=company.qbo_conn_id), user=user)


def can_manage(user: UserDep, company: CompanyDep) -> Any:  # sync: an auth manager may ask its database
    if not may_manage(user, company):
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            f"{user.get_name()} may not manage company {company.id}: it takes Airflow's permission "
                            f"to edit the {company.qbo_conn_id} connection (an Op or Admin login)")
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
