"""Rendering a page for a user: the templates (``templates/webui/`` of the package's one autoescaping Jinja
environment, shared with the reports), the values every page shows (who, what they may do, the CSRF token), the
security headers, and the per-permission page dependencies the routes take (``ReadWizard``, ``RunMatching``,
``ReadExport``, ``RunExport``)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from ..html import environment
from . import deps, runs
from .security import (
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


def template_page(request: Request, name: str, **values: Any) -> str:
    return environment().get_template(f"webui/{name}").render(base=base_path(request), **values)


@dataclass
class Page:
    """One request's page kit: who asks, and where the review files are."""

    request: Request
    user: Any
    review_dir: Path

    @property
    def user_name(self) -> str:
        return str(self.user.get_name())

    @property
    def base(self) -> str:
        return base_path(self.request)

    def render(self, name: str, status_code: int = 200, **values: Any) -> HTMLResponse:
        page = template_page(
            self.request, name, user=self.user_name, csrf=csrf_token(self.request, self.user),
            can_commit=may_run(self.user, runs.MATCHING_DAG), can_export=may_run(self.user, runs.EXPORT_DAG),
            can_manage=may_manage(self.user),
            has_recon=(self.review_dir / "reconciliation_latest.html").exists()
            and may_read(self.user, runs.RECONCILIATION_DAG), **values)
        return HTMLResponse(page, status_code=status_code)

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


def _read_wizard(request: Request, review_dir: deps.ReviewDir, user: _WizardReader) -> Page:
    return Page(request, user, review_dir)


def _run_matching(request: Request, review_dir: deps.ReviewDir, user: _MatchingRunner) -> Page:
    return Page(request, user, review_dir)


def _read_export(request: Request, review_dir: deps.ReviewDir, user: _ExportReader) -> Page:
    return Page(request, user, review_dir)


def _run_export(request: Request, review_dir: deps.ReviewDir, user: _ExportRunner) -> Page:
    return Page(request, user, review_dir)


def _read_reconciliation(request: Request, review_dir: deps.ReviewDir, user: _ReconciliationReader) -> Page:
    return Page(request, user, review_dir)


def _manage(request: Request, review_dir: deps.ReviewDir, user: _Manager) -> Page:
    return Page(request, user, review_dir)


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
