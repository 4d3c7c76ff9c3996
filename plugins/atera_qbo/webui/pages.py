"""Rendering a page for a user: the templates (``templates/webui/`` of the package's one autoescaping Jinja
environment, shared with the reports), the values every page shows (who, what they may do, the CSRF token), the
security headers, and the per-permission page dependencies the routes take (``ReadWizard``, ``RunMatching``,
``ReadExport``, ``RunExport``). A page is one company's: ``Page.url`` keeps ``?company=`` on every link, form
action and redirect (when the deployment has several), and the header's switcher lists the user's companies."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from ..companies import COMPANY_PARAM, Company
from ..html import environment
from . import deps, runs
from .security import (
    CurrentScope,
    Scope,
    can_manage,
    can_read,
    can_run,
    csrf_token,
    login_url,
    may_manage,
    may_read,
    may_read_logs,
    may_run,
)

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "frame-ancestors 'self'; form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "SAMEORIGIN", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def base_path(request: Request) -> str:
    """The app's URL prefix (where Airflow mounted it), for links."""
    return str(request.scope.get("root_path", "")).rstrip("/")


SWITCHABLE = ("/", "/accounting", "/export", "/versions", "/connect", "/step/products", "/step/customers",
              "/step/import")  # pages the switcher keeps (any other opens the wizard of the company chosen)


def link(base: str, path: str, company: str | None, **query: Any) -> str:
    """``base + path`` with ``?company=`` first (when given) and the non-empty ``query`` values."""
    params = {COMPANY_PARAM: company} if company else {}
    params.update({k: str(v) for k, v in query.items() if v not in (None, "")})
    return f"{base}{path}" + (f"?{urlencode(params)}" if params else "")


def template_page(request: Request, name: str, **values: Any) -> str:
    base = base_path(request)
    values.setdefault("url", lambda path="/", **query: link(base, path, None, **query))
    return environment().get_template(f"webui/{name}").render(base=base, **values)


@dataclass
class Page:
    """One request's page kit: who asks, for which company, and where that company's review files are."""

    request: Request
    user: Any
    review_dir: Path
    scope: Scope

    @property
    def user_name(self) -> str:
        return str(self.user.get_name())

    @property
    def base(self) -> str:
        return base_path(self.request)

    @property
    def company(self) -> Company:
        return self.scope.company

    def url(self, path: str = "/", **query: Any) -> str:
        """A link to one of the app's pages for this page's company (``?company=`` when there are several)."""
        return link(self.base, path, self.company.id if self.scope.several else None, **query)

    def switch_url(self, company: Company) -> str:
        """This page for another company (the wizard, when this page is one record of this company's)."""
        here = self.request.url.path.removeprefix(self.base) or "/"
        return link(self.base, here if here in SWITCHABLE else "/", company.id)

    def render(self, name: str, status_code: int = 200, **values: Any) -> HTMLResponse:
        dag = self.company.dag_id
        page = template_page(
            self.request, name, user=self.user_name, csrf=csrf_token(self.request, self.user), url=self.url,
            company=self.company, companies=self.scope.visible, several=self.scope.several,
            switch_url=self.switch_url, can_commit=may_run(self.user, dag(runs.MATCHING_DAG)),
            can_export=may_run(self.user, dag(runs.EXPORT_DAG)), can_manage=may_manage(self.user, self.company),
            has_recon=(self.review_dir / "reconciliation_latest.html").exists()
            and may_read(self.user, dag(runs.RECONCILIATION_DAG)), **values)
        return HTMLResponse(page, status_code=status_code)

    def redirect(self, path: str, **query: Any) -> RedirectResponse:
        return RedirectResponse(self.url(path, **query), status_code=303)

    def outcome(self, found: runs.RunOutcome | None) -> runs.RunOutcome | None:
        """A run's outcome as this user may see it: log-derived error text only for who may read task logs."""
        if found is None or may_read_logs(self.user, found.dag_id):
            return found
        return found.without_log_text()

    def refused(self, title: str, message: str, status_code: int = 400) -> HTMLResponse:
        return self.render("error.html", status_code, title=title, message=message)


# who may: Airflow's permission on the DAG a page feeds (module-level aliases: FastAPI resolves the
# annotations below by name in this module)
_WizardReader = Annotated[Any, Depends(can_read(runs.MATCHING_DAG))]
_MatchingRunner = Annotated[Any, Depends(can_run(runs.MATCHING_DAG))]
_ExportReader = Annotated[Any, Depends(can_read(runs.EXPORT_DAG))]
_ExportRunner = Annotated[Any, Depends(can_run(runs.EXPORT_DAG))]
_ReconciliationReader = Annotated[Any, Depends(can_read(runs.RECONCILIATION_DAG))]
_Manager = Annotated[Any, Depends(can_manage)]


def _read_wizard(request: Request, user: _WizardReader, scope: CurrentScope, review_dir: deps.ReviewDir) -> Page:
    return Page(request, user, review_dir, scope)


def _run_matching(request: Request, user: _MatchingRunner, scope: CurrentScope, review_dir: deps.ReviewDir) -> Page:
    return Page(request, user, review_dir, scope)


def _read_export(request: Request, user: _ExportReader, scope: CurrentScope, review_dir: deps.ReviewDir) -> Page:
    return Page(request, user, review_dir, scope)


def _run_export(request: Request, user: _ExportRunner, scope: CurrentScope, review_dir: deps.ReviewDir) -> Page:
    return Page(request, user, review_dir, scope)


def _read_reconciliation(request: Request, user: _ReconciliationReader, scope: CurrentScope,
                         review_dir: deps.ReviewDir) -> Page:
    return Page(request, user, review_dir, scope)


def _manage(request: Request, user: _Manager, scope: CurrentScope, review_dir: deps.ReviewDir) -> Page:
    return Page(request, user, review_dir, scope)


ReadWizard = Annotated[Page, Depends(_read_wizard)]
ManageIntegration = Annotated[Page, Depends(_manage)]
ReadReconciliation = Annotated[Page, Depends(_read_reconciliation)]
RunMatching = Annotated[Page, Depends(_run_matching)]
ReadExport = Annotated[Page, Depends(_read_export)]
RunExport = Annotated[Page, Depends(_run_export)]


async def security_headers(request: Request, call_next: Any) -> Response:
    response: Response = await call_next(request)
    for name, value in SECURITY_HEADERS.items():  # a route may set its own (the report: CSP sandbox)
        response.headers.setdefault(name, value)
    return response


async def http_error(request: Request, exc: HTTPException) -> Response:
    """401 on a page → Airflow's login (and back); JSON for the API; an error page otherwise."""
    wants_html = "text/html" in request.headers.get("accept", "")
    if exc.status_code == 401 and wants_html and request.method == "GET":
        return RedirectResponse(login_url(request), status_code=303)
    if not wants_html:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
    page = template_page(request, "error.html", title="Refused", message=str(exc.detail))
    return HTMLResponse(page, status_code=exc.status_code, headers=SECURITY_HEADERS)
