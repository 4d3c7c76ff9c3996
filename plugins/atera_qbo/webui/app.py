"""The finance wizard as a FastAPI app mounted by Airflow's API server (see ``plugins/atera_qbo_webui.py``).

Server-rendered pages (Jinja2, autoescaped), one small local script and stylesheet, no CDN. The draft decisions
live in the browser's session storage until "Done": only "Done" writes (an overrides version in staging, its
CSV in the review dir, and a run of ``atera_qbo_matching`` with ``commit=true``).
"""
from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from ..errors import MatchingError
from ..matching.review import Action
from . import invoices as inv
from . import review as rv
from . import runs, store
from .security import can_read, can_run, check_csrf, csrf_token, login_url, may_run

HERE = Path(__file__).resolve().parent
STATIC = {"app.js": "text/javascript", "app.css": "text/css"}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "frame-ancestors 'self'; form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "SAMEORIGIN", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
STEP_TITLES = {"products": "Match products", "customers": "Match customers", "import": "Import customers"}
TEMPLATES = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True))

READ_WIZARD, RUN_MATCHING = Depends(can_read(runs.MATCHING_DAG)), Depends(can_run(runs.MATCHING_DAG))
READ_EXPORT, RUN_EXPORT = Depends(can_read(runs.EXPORT_DAG)), Depends(can_run(runs.EXPORT_DAG))
wizard = APIRouter()
exports = APIRouter()
common = APIRouter()


def _default_engine() -> sa.Engine:
    from ..hooks import StagingHook

    return StagingHook().engine


def _default_review_dir() -> Path:
    from ..config import review_dir

    def get(name: str) -> str | None:
        try:
            from airflow.models import Variable

            return Variable.get(name, default_var=None)
        except Exception:  # noqa: BLE001 - no variable backend: environment / default
            return None

    return review_dir(get)


def _default_qbo_app_url() -> str | None:
    try:
        from ..hooks import QuickBooksHook

        return QuickBooksHook().settings.app_url
    except Exception:  # noqa: BLE001 - no QBO connection yet: links to production QBO, as the report's default
        return None


class Context:
    """Where the app finds its data (the tests inject theirs)."""

    def __init__(self, engine: Callable[[], sa.Engine], review_dir: Callable[[], Path],
                 today: Callable[[], date], qbo_app_url: Callable[[], str | None] = _default_qbo_app_url) -> None:
        self.engine, self.review_dir, self.today, self.qbo_app_url = engine, review_dir, today, qbo_app_url
        self._review: rv.Review | None = None

    def review(self) -> rv.Review:
        path = self.review_dir() / "match_review.csv"
        if self._review is None or self._review.path != path:
            self._review = rv.Review(path)
        return self._review


def create_app(*, engine: Callable[[], sa.Engine] = _default_engine,
               review_dir: Callable[[], Path] = _default_review_dir,
               today: Callable[[], date] = date.today) -> FastAPI:
    app = FastAPI(title="Atera ↔ QBO", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.ctx = Context(engine, review_dir, today)
    app.middleware("http")(_security_headers)
    app.exception_handler(HTTPException)(_http_error)
    for router in (wizard, exports, common):
        app.include_router(router)
    return app


async def _security_headers(request: Request, call_next: Any) -> Response:
    response = await call_next(request)
    for name, value in SECURITY_HEADERS.items():  # a route may set its own (the report: CSP sandbox)
        response.headers.setdefault(name, value)
    return response


async def _http_error(request: Request, exc: HTTPException) -> Response:
    """401 on a page → Airflow's login (and back); JSON for the API; an error page otherwise."""
    wants_html = "text/html" in request.headers.get("accept", "")
    if exc.status_code == 401 and wants_html and request.method == "GET":
        return RedirectResponse(login_url(request), status_code=303)
    if not wants_html:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
    page = TEMPLATES.get_template("error.html").render(title="Refused", message=str(exc.detail),
                                                      base=_base(request))
    return HTMLResponse(page, status_code=exc.status_code, headers=SECURITY_HEADERS)


def _ctx(request: Request) -> Context:
    return request.app.state.ctx


def _base(request: Request) -> str:
    """The app's URL prefix (where Airflow mounted it), for links."""
    return request.scope.get("root_path", "").rstrip("/")


def render(request: Request, user: Any, name: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    page = TEMPLATES.get_template(name).render(
        base=_base(request), user=user.get_name(), csrf=csrf_token(request, user),
        can_commit=may_run(user, runs.MATCHING_DAG), can_export=may_run(user, runs.EXPORT_DAG),
        has_recon=(_ctx(request).review_dir() / "reconciliation_latest.html").exists(), **values)
    return HTMLResponse(page, status_code=status_code)


def refused(request: Request, user: Any, title: str, message: str, status_code: int = 400) -> HTMLResponse:
    return render(request, user, "error.html", status_code, title=title, message=message)


# ---------------------------------------------------------------------------------------------- the wizard
@wizard.get("/", response_class=HTMLResponse)
def index(request: Request, user: Any = READ_WIZARD) -> HTMLResponse:
    ctx = _ctx(request)
    review = ctx.review()
    steps = {s: rv.page_of(review.step_rows(s)).status_counts for s in rv.STEPS}
    return render(request, user, "index.html", title="Atera ↔ QBO", steps=steps, titles=STEP_TITLES,
                  review_exists=review.path.exists(), versions=store.latest(ctx.engine(), 5))


@wizard.get("/step/{step}", response_class=HTMLResponse)
def step_page(request: Request, step: str, status: str = "", q: str = "", page: int = Query(1, ge=1),
              user: Any = READ_WIZARD) -> HTMLResponse:
    if step not in rv.STEPS:
        raise HTTPException(404, f"no step {step!r}: products, customers or import")
    listing = rv.page_of(_ctx(request).review().step_rows(step), status=status, query=q, page=page)

    def qs(**more: Any) -> str:
        return "&".join(f"{k}={quote(str(v))}" for k, v in {"status": status, "q": q, **more}.items() if v)

    return render(request, user, "step.html", title=STEP_TITLES[step], step=step, spec=rv.STEPS[step],
                  listing=listing, status=status, q=q, key=rv.row_key, candidates=rv.candidates, qs=qs)


@wizard.get("/api/search")
def search(request: Request, entity: str, q: str = "", user: Any = READ_WIZARD) -> JSONResponse:
    if entity not in ("customer", "product"):
        raise HTTPException(400, "entity must be customer or product")
    found = rv.search_qbo(_ctx(request).engine(), entity, q[:100])
    return JSONResponse([{"id": c.qbo_id, "name": c.name} for c in found])


@wizard.get("/api/suggestions")
def suggestions(request: Request, step: str, min_score: float = Query(..., ge=0, le=100),
                user: Any = READ_WIZARD) -> JSONResponse:
    if step not in ("products", "customers"):
        raise HTTPException(400, "step must be products or customers")
    found = rv.suggestions_above(_ctx(request).review().step_rows(step), min_score)
    return JSONResponse({k: {"action": c.action, "qbo_id": c.qbo_id} for k, c in found.items()})


@wizard.post("/summary", response_class=HTMLResponse)
def summary(request: Request, decisions: str = Form("{}"), csrf: str = Form(""),
            user: Any = READ_WIZARD) -> HTMLResponse:
    check_csrf(request, user, csrf)
    try:
        overrides, decided = _overrides(_ctx(request), decisions)
    except MatchingError as exc:
        return refused(request, user, "Summary", str(exc))
    return render(request, user, "summary.html", title="Summary", plan=rv.plan(overrides), decided=len(decided),
                  decisions=json.dumps({k: c.__dict__ for k, c in decided.items()}))


@wizard.post("/done")
def done(request: Request, decisions: str = Form("{}"), csrf: str = Form(""),
         replace_atera_catalog: str = Form(""), user: Any = RUN_MATCHING) -> Response:
    """Save the overrides version (file + row, in one go), then start the committing matching run — with
    ``replace_atera_catalog`` when the box was ticked (Atera's products then follow QBO's items)."""
    check_csrf(request, user, csrf)
    ctx = _ctx(request)
    try:
        overrides, decided = _overrides(ctx, decisions)
    except MatchingError as exc:
        return refused(request, user, "Done", str(exc))
    stamp = f"{datetime.now(UTC):%Y%m%dT%H%M%S}_{uuid.uuid4().hex[:6]}"
    path = ctx.review_dir() / "overrides" / f"overrides_{stamp}.csv"
    text = rv.write_overrides(path, overrides)
    try:
        version = store.save(ctx.engine(), user=user.get_name(), decisions=len(decided), csv_text=text,
                             file_path=str(path))
    except sa.exc.OperationalError as exc:  # locked past its timeout, or the server is gone: keep nothing
        path.unlink(missing_ok=True)
        return refused(request, user, "Done", "the staging database did not take the overrides version "
                       f"({str(exc.orig).strip() or type(exc.orig).__name__}): nothing was saved and no run was "
                       "started. Your decisions are still in this tab: press Done again in a minute.", 503)
    try:
        conf = {"overrides_path": str(path), "commit": True, "replace_atera_catalog": replace_atera_catalog == "1"}
        run_id = runs.trigger(runs.MATCHING_DAG, conf, user.get_name())
    except runs.TriggerError as exc:
        return refused(request, user, "Done", f"overrides version {version} saved, but {exc}", 503)
    store.attach(ctx.engine(), version, dag_run_id=run_id)
    return RedirectResponse(f"{_base(request)}/versions/{version}?saved=1", status_code=303)


def _overrides(ctx: Context, raw: str) -> tuple[list[Any], dict[str, rv.Choice]]:
    """The review with the posted decisions applied; a chosen QBO record must exist in staging."""
    try:
        data = json.loads(raw or "{}")
    except ValueError:
        raise MatchingError("the decisions are not valid JSON: reload the page and decide again") from None
    rows = ctx.review().rows()
    if not rows:
        raise MatchingError("no review yet: run atera_qbo_matching (it writes match_review.csv) first")
    decided = rv.parse_decisions(data, rows)
    by_key = {rv.row_key(r): r for r in rows}
    wanted = {(str(by_key[k].entity), c.qbo_id) for k, c in decided.items() if c.action == Action.MATCH}
    names = rv.qbo_names(ctx.engine(), wanted)
    missing = [f"{k}: QBO {entity} {c.qbo_id} does not exist in staging (re-run the catalog sync?)"
               for k, c in decided.items() if c.action == Action.MATCH
               for entity in [str(by_key[k].entity)] if (entity, c.qbo_id) not in names]
    if missing:
        raise MatchingError("decisions refused, nothing saved:\n  " + "\n  ".join(missing))
    return rv.apply_decisions(rows, decided, names), decided


@wizard.get("/versions", response_class=HTMLResponse)
def versions(request: Request, user: Any = READ_WIZARD) -> HTMLResponse:
    return render(request, user, "versions.html", title="Overrides versions",
                  versions=store.latest(_ctx(request).engine(), 100))


@wizard.get("/versions/{version}", response_class=HTMLResponse)
def version_page(request: Request, version: int, saved: int = 0, user: Any = READ_WIZARD) -> HTMLResponse:
    found = store.get(_ctx(request).engine(), version)
    if found is None:
        raise HTTPException(404, f"no overrides version {version}")
    outcome = runs.outcome(runs.MATCHING_DAG, found.dag_run_id) if found.dag_run_id else None
    return render(request, user, "version.html", title=f"Overrides version {version}", v=found, outcome=outcome,
                  saved=bool(saved))


@wizard.get("/versions/{version}/overrides.csv")
def download(request: Request, version: int, user: Any = READ_WIZARD) -> Response:
    found = store.get(_ctx(request).engine(), version)
    if found is None:
        raise HTTPException(404, f"no overrides version {version}")
    return Response("\ufeff" + found.csv_text, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="overrides_v{version}.csv"'})


# ---------------------------------------------------------------------------------------------- export page
@exports.get("/export", response_class=HTMLResponse)
def export_page(request: Request, date_from: str = "", date_to: str = "",
                user: Any = READ_EXPORT) -> HTMLResponse:
    ctx = _ctx(request)
    try:
        start, end = inv.parse_window(date_from, date_to, ctx.today())
    except ValueError as exc:
        return refused(request, user, "Export", str(exc))
    return render(request, user, "export.html", title="Export invoices", start=start, end=end,
                  invoices=inv.invoices(ctx.engine(), start, end, app_url=ctx.qbo_app_url()))


@exports.post("/export")
def export_run(request: Request, date_from: str = Form(...), date_to: str = Form(...),
               numbers: list[str] = Form(default=[]), fetch: str = Form(""), csrf: str = Form(""),
               user: Any = RUN_EXPORT) -> Response:
    """Export the selected invoices (or, with ``fetch``, stage the window from Atera: a dry run)."""
    check_csrf(request, user, csrf)
    try:
        start, end = inv.parse_window(date_from, date_to, _ctx(request).today())
    except ValueError as exc:
        return refused(request, user, "Export", str(exc))
    numbers = [n.strip() for n in numbers if n.strip()]
    if not numbers and not fetch:
        return refused(request, user, "Export", "select at least one invoice to export")
    conf = {"invoice_date_from": start.isoformat(), "invoice_date_to": end.isoformat(),
            "invoice_numbers": numbers, "dry_run": bool(fetch)}
    try:
        run_id = runs.trigger(runs.EXPORT_DAG, conf, user.get_name())
    except runs.TriggerError as exc:
        return refused(request, user, "Export", str(exc), 503)
    return RedirectResponse(f"{_base(request)}/export/runs/{quote(run_id, safe='')}", status_code=303)


@exports.get("/export/runs/{run_id}", response_class=HTMLResponse)
def export_report(request: Request, run_id: str, user: Any = READ_EXPORT) -> HTMLResponse:
    ctx = _ctx(request)
    outcome = runs.outcome(runs.EXPORT_DAG, run_id)
    if outcome is None:
        raise HTTPException(404, f"no run {run_id} of {runs.EXPORT_DAG}")
    batch = inv.batch_of_run(ctx.engine(), run_id) if outcome.finished else None
    report = inv.read_report(ctx.review_dir() / "exports" / f"export_{batch['batch_id']}.csv") if batch else []
    return render(request, user, "export_run.html", title="Export run", outcome=outcome, batch=batch,
                  report=report)


# ------------------------------------------------------------------------------------------ static, recon
@common.get("/static/{name}")
def static(name: str, user: Any = READ_WIZARD) -> Response:
    if name not in STATIC:
        raise HTTPException(404, "no such file")
    return Response((HERE / "static" / name).read_bytes(), media_type=STATIC[name])


@common.get("/reconciliation", response_class=HTMLResponse)
def reconciliation(request: Request, user: Any = READ_WIZARD) -> Response:
    path = _ctx(request).review_dir() / "reconciliation_latest.html"
    if not path.exists():
        raise HTTPException(404, "no reconciliation report yet: run atera_qbo_reconciliation")
    # the report is ours, but keep it inert: no script of its own runs under this origin
    return HTMLResponse(path.read_text(encoding="utf-8"), headers={"Content-Security-Policy": "sandbox"})
