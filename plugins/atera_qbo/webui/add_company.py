"""Connect's "Add a company": an admin names it (id, name), picks its Atera connection (``atera_default``, another
existing one, or a new one whose token is tested and kept), says which Atera customers are its (a country list, or
an Atera customer custom field and its values) and presses Add: the company is written to the companies file
(``companies.add_company``, validated with every other company first: unique id/name, routes that do not overlap),
its staging database is created, and the QBO Connect flow starts for it (its state in the new company's database).
Nothing is written when any of it is refused. A login limited to some companies (``logins``) adds none."""
from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import RedirectResponse, Response

from ..companies import Company, add_company, companies_file, parse_companies
from ..config import conn_info
from ..errors import ConfigError
from . import airflow_conns, connect
from .deps import Svc
from .pages import ManageIntegration, Page
from .security import all_companies, check_csrf, may_manage

router = APIRouter()
CONN_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,99}$")
TITLE = "Add a company"


def route_of(kind: str, field: str, values: str) -> dict[str, Any] | None:
    """The route as the companies file writes it, from the form (values: one per line or comma-separated)."""
    listed = [v.strip() for v in re.split(r"[,\n]", values) if v.strip()]
    if kind == "country":
        return {"country": listed}
    if kind == "custom_field":
        return {"custom_field": field.strip(), "values": listed}
    return None


def new_company(raw: dict[str, Any]) -> Company:
    """The company the form describes, checked with every existing one (a ConfigError saying what to fix)."""
    current = all_companies()
    parsed = parse_companies({"companies": [*(c.to_json() for c in current), raw]},
                             current.source or companies_file())
    return parsed.items[-1]


def atera_problem(conn_id: str, secret: str, host: str) -> str | None:
    """A new Atera connection: its token tested and kept; an existing one must exist. None when all is well."""
    if not CONN_ID.match(conn_id):
        return f"Atera connection id {conn_id!r}: letters, digits and _, starting with a letter"
    if not secret:
        if conn_info(conn_id, required=False) is None:
            return f"there is no Airflow connection {conn_id}: enter the Atera API token to create it"
        return None
    refusal = connect.atera_refusal(secret, host or None, conn_id)
    if refusal:
        return refusal
    try:
        airflow_conns.save_atera(secret, host or None, conn_id)
    except airflow_conns.ShadowedConnection as exc:
        return str(exc)
    return None


def start_connect(page: Page, svc: Svc, company: Company) -> Response:
    """Off to Intuit for the new company (its state in its own database); when Connect cannot start, say so."""
    try:
        url = connect.flow(svc.engine(company), company).start(page.user_name)
    except ConfigError as exc:
        return page.render("notice.html", 200, title=TITLE,
                           message=f"Company {company.id} ({company.name}) was added, but Connect could not start: "
                                   f"{exc}. Connect it from its Connect page.")
    return RedirectResponse(url, status_code=303)


@router.post("/connect/add")
def add(page: ManageIntegration, svc: Svc, csrf: Annotated[str, Form()] = "",
        company_id: Annotated[str, Form()] = "", name: Annotated[str, Form()] = "",
        atera_conn: Annotated[str, Form()] = "atera_default", new_atera_conn: Annotated[str, Form()] = "",
        atera_secret: Annotated[str, Form()] = "", atera_host: Annotated[str, Form()] = "",
        qbo_conn: Annotated[str, Form()] = "", route_kind: Annotated[str, Form()] = "",
        route_field: Annotated[str, Form()] = "", route_values: Annotated[str, Form()] = "") -> Response:
    check_csrf(page.request, page.user, csrf)
    if all_companies().limited(page.user_name):
        return page.refused(TITLE, f"{page.user_name} is limited to some companies (the companies file's logins) "
                            "and may not add one: ask an admin", 403)
    atera_id = new_atera_conn.strip() if atera_conn == "new" else atera_conn.strip()
    raw: dict[str, Any] = {"id": company_id.strip(), "name": name.strip() or company_id.strip(),
                           "atera_conn_id": atera_id or "atera_default",
                           "qbo_conn_id": qbo_conn.strip() or "quickbooks_default",
                           "route": route_of(route_kind, route_field, route_values)}
    try:
        company = new_company(raw)
    except ConfigError as exc:
        return page.refused(TITLE, f"the company was not added: {exc}", 400)
    if not may_manage(page.user, company):
        return page.refused(TITLE, f"{page.user_name} may not edit the {company.qbo_conn_id} connection, so may not "
                            "add a company using it", 403)
    problem = atera_problem(company.atera_conn_id, atera_secret.strip(), atera_host.strip()) \
        if atera_conn == "new" else None
    if problem:
        return page.refused(TITLE, f"the company was not added: {problem}", 400)
    try:
        add_company(company)
    except ConfigError as exc:
        return page.refused(TITLE, f"the company was not added: {exc}", 400)
    return start_connect(page, svc, company)
