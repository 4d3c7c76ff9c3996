"""The finance wizard as a FastAPI app mounted by Airflow's API server (see ``plugins/atera_qbo_webui.py``).

Server-rendered pages (Jinja2, autoescaped), one small local script and stylesheet, no CDN. The draft decisions
live in the browser's session storage until "Done": only "Done" writes (an overrides version in staging, its
CSV in the review dir, and a run of ``atera_qbo_matching`` with ``commit=true``).
"""
from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote

import sqlalchemy as sa
from fastapi import FastAPI, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from ..errors import MatchingError
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


class Context:
    """Where the app finds its data (injected by the tests)."""

    def __init__(self, engine: Callable[[], sa.Engine], review_dir: Callable[[], Path],
                 today: Callable[[], date]) -> None:
        self.engine, self.review_dir, self.today = engine, review_dir, today
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
    templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True))

    @app.middleware("http")
    async def headers(request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        return response

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        wants_html = "text/html" in request.headers.get("accept", "")
        if exc.status_code == 401 and wants_html and request.method == "GET":
            return RedirectResponse(login_url(request), status_code=303)
        if not wants_html:
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
        page = templates.get_template("error.html").render(title="Refused", status=exc.status_code,
                                                            message=str(exc.detail), base=_base(request))
        return HTMLResponse(page, status_code=exc.status_code, headers=SECURITY_HEADERS)

    def render(request: Request, user: Any, name: str, **values: Any) -> HTMLResponse:
        ctx: Context = app.state.ctx
        values.setdefault("status_code", 200)
        page = templates.get_template(name).render(
            base=_base(request), user=user.get_name(), csrf=csrf_token(request, user),
            can_commit=may_run(user, runs.MATCHING_DAG), can_export=may_run(user, runs.EXPORT_DAG),
            has_recon=(ctx.review_dir() / "reconciliation_latest.html").exists(), **values)
        return HTMLResponse(page, status_code=values["status_code"])

    _wizard_routes(app, render)
    _export_routes(app, render)

    @app.get("/static/{name}")
    async def static(name: str, user: Any = can_read_any()) -> Response:
        if name not in STATIC:
            raise HTTPException(404, "no such file")
        return Response((HERE / "static" / name).read_bytes(), media_type=STATIC[name])

    @app.get("/reconciliation", response_class=HTMLResponse)
    async def reconciliation(user: Any = can_read_dep(runs.MATCHING_DAG)) -> Response:
        path = app.state.ctx.review_dir() / "reconciliation_latest.html"
        if not path.exists():
            raise HTTPException(404, "no reconciliation report yet: run atera_qbo_reconciliation")
        # the report is ours, but keep it inert: no script of its own runs under this origin
        return HTMLResponse(path.read_text(encoding="utf-8"), headers={"Content-Security-Policy": "sandbox"})

    return app


def _base(request: Request) -> str:
    """The app's URL prefix (where Airflow mounted it), for links."""
    return request.scope.get("root_path", "").rstrip("/")


def can_read_dep(dag_id: str) -> Any:
    from fastapi import Depends

    return Depends(can_read(dag_id))


def can_run_dep(dag_id: str) -> Any:
    from fastapi import Depends

    return Depends(can_run(dag_id))


def can_read_any() -> Any:
    return can_read_dep(runs.MATCHING_DAG)


# ---------------------------------------------------------------------------------------------- the wizard
def _wizard_routes(app: FastAPI, render: Callable[..., HTMLResponse]) -> None:
    ctx: Context = app.state.ctx
    reader, runner = can_read_dep(runs.MATCHING_DAG), can_run_dep(runs.MATCHING_DAG)

    @app.get("/", response_class=HTMLResponse)
    async def index(request: Request, user: Any = reader) -> HTMLResponse:
        review = ctx.review()
        steps = {s: rv.page_of(review.step_rows(s)).status_counts for s in rv.STEPS}
        return render(request, user, "index.html", title="Atera ↔ QBO", steps=steps, titles=STEP_TITLES,
                      review_exists=review.path.exists(), versions=store.latest(ctx.engine(), 5))

    @app.get("/step/{step}", response_class=HTMLResponse)
    async def step(request: Request, step: str, status: str = "", q: str = "", page: int = Query(1, ge=1),
                   user: Any = reader) -> HTMLResponse:
        if step not in rv.STEPS:
            raise HTTPException(404, f"no step {step!r}: products, customers or import")
        listing = rv.page_of(ctx.review().step_rows(step), status=status, query=q, page=page)
        return render(request, user, "step.html", title=STEP_TITLES[step], step=step, spec=rv.STEPS[step],
                      listing=listing, status=status, q=q, key=rv.row_key, candidates=rv.candidates,
                      qs=lambda **kw: "&".join(f"{k}={quote(str(v))}" for k, v in
                                               {"status": status, "q": q, **kw}.items() if v))

    @app.get("/api/search")
    async def search(entity: str, q: str = "", user: Any = reader) -> JSONResponse:
        if entity not in ("customer", "product"):
            raise HTTPException(400, "entity must be customer or product")
        found = rv.search_qbo(ctx.engine(), entity, q[:100])
        return JSONResponse([{"id": c.qbo_id, "name": c.name} for c in found])

    @app.get("/api/suggestions")
    async def suggestions(step: str, min_score: float = Query(..., ge=0, le=100),
                          user: Any = reader) -> JSONResponse:
        if step not in ("products", "customers"):
            raise HTTPException(400, "step must be products or customers")
        found = rv.suggestions_above(ctx.review().step_rows(step), min_score)
        return JSONResponse({k: {"action": d.action, "qbo_id": d.qbo_id} for k, d in found.items()})

    @app.post("/summary", response_class=HTMLResponse)
    async def summary(request: Request, decisions: str = Form("{}"), csrf: str = Form(""),
                      user: Any = reader) -> HTMLResponse:
        check_csrf(request, user, csrf)
        try:
            overrides, decided = _overrides(ctx, decisions)
        except MatchingError as exc:
            return render(request, user, "error.html", title="Summary", message=str(exc), status_code=400)
        return render(request, user, "summary.html", title="Summary", plan=rv.plan(overrides),
                      decided=len(decided), decisions=json.dumps({k: d.__dict__ for k, d in decided.items()}))

    @app.post("/done")
    async def done(request: Request, decisions: str = Form("{}"), csrf: str = Form(""),
                   user: Any = runner) -> Response:
        check_csrf(request, user, csrf)
        engine = ctx.engine()
        try:
            overrides, decided = _overrides(ctx, decisions)
        except MatchingError as exc:
            return render(request, user, "error.html", title="Done", message=str(exc), status_code=400)
        stamp = f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S}_{uuid.uuid4().hex[:6]}"
        path = ctx.review_dir() / "overrides" / f"overrides_{stamp}.csv"
        text = rv.write_overrides(path, overrides)
        version = store.save(engine, user=user.get_name(), decisions=len(decided), csv_text=text,
                             file_path=str(path))
        try:
            run_id = runs.trigger(runs.MATCHING_DAG, {"overrides_path": str(path), "commit": True},
                                  user.get_name())
        except runs.TriggerError as exc:
            return render(request, user, "error.html", title="Done", status_code=503,
                          message=f"overrides version {version} saved, but {exc}")
        store.attach(engine, version, dag_run_id=run_id)
        return RedirectResponse(f"{_base(request)}/versions/{version}?saved=1", status_code=303)

    @app.get("/versions", response_class=HTMLResponse)
    async def versions(request: Request, user: Any = reader) -> HTMLResponse:
        return render(request, user, "versions.html", title="Overrides versions",
                      versions=store.latest(ctx.engine(), 100))

    @app.get("/versions/{version}", response_class=HTMLResponse)
    async def version_page(request: Request, version: int, saved: int = 0, user: Any = reader) -> HTMLResponse:
        found = store.get(ctx.engine(), version)
        if found is None:
            raise HTTPException(404, f"no overrides version {version}")
        outcome = runs.outcome(runs.MATCHING_DAG, found.dag_run_id) if found.dag_run_id else None
        return render(request, user, "version.html", title=f"Overrides version {version}", v=found,
                      outcome=outcome, saved=bool(saved))

    @app.get("/versions/{version}/overrides.csv")
    async def download(version: int, user: Any = reader) -> Response:
        found = store.get(ctx.engine(), version)
        if found is None:
            raise HTTPException(404, f"no overrides version {version}")
        return Response("\ufeff" + found.csv_text, media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="overrides_v{version}.csv"'})


def _overrides(ctx: Context, raw: str) -> tuple[list[Any], dict[str, rv.Decision]]:
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
    wanted = {(by_key[k].entity, d.qbo_id) for k, d in decided.items() if d.action == "match"}
    names = rv.qbo_names(ctx.engine(), wanted)
    missing = [f"{k}: QBO {e} {i} does not exist in staging (re-run the catalog sync?)"
               for k, d in decided.items() if d.action == "match"
               for e, i in [(by_key[k].entity, d.qbo_id)] if (e, i) not in names]
    if missing:
        raise MatchingError("decisions refused, nothing saved:\n  " + "\n  ".join(missing))
    return rv.apply_decisions(rows, decided, names), decided


# ---------------------------------------------------------------------------------------------- export page
def _export_routes(app: FastAPI, render: Callable[..., HTMLResponse]) -> None:
    ctx: Context = app.state.ctx
    reader, runner = can_read_dep(runs.EXPORT_DAG), can_run_dep(runs.EXPORT_DAG)

    @app.get("/export", response_class=HTMLResponse)
    async def export_page(request: Request, date_from: str = "", date_to: str = "",
                          user: Any = reader) -> HTMLResponse:
        try:
            start, end = inv.parse_window(date_from, date_to, ctx.today())
        except ValueError as exc:
            return render(request, user, "error.html", title="Export", message=str(exc), status_code=400)
        return render(request, user, "export.html", title="Export invoices", start=start, end=end,
                      invoices=inv.invoices(ctx.engine(), start, end))

    @app.post("/export")
    async def export_run(request: Request, date_from: str = Form(...), date_to: str = Form(...),
                         numbers: list[str] = Form(default=[]), fetch: str = Form(""), csrf: str = Form(""),
                         user: Any = runner) -> Response:
        check_csrf(request, user, csrf)
        try:
            start, end = inv.parse_window(date_from, date_to, ctx.today())
        except ValueError as exc:
            return render(request, user, "error.html", title="Export", message=str(exc), status_code=400)
        numbers = [n.strip() for n in numbers if n.strip()]
        if not numbers and not fetch:
            return render(request, user, "error.html", title="Export", status_code=400,
                          message="select at least one invoice to export")
        conf = {"invoice_date_from": start.isoformat(), "invoice_date_to": end.isoformat(),
                "invoice_numbers": numbers, "dry_run": bool(fetch)}
        try:
            run_id = runs.trigger(runs.EXPORT_DAG, conf, user.get_name())
        except runs.TriggerError as exc:
            return render(request, user, "error.html", title="Export", message=str(exc), status_code=503)
        return RedirectResponse(f"{_base(request)}/export/runs/{quote(run_id, safe='')}", status_code=303)

    @app.get("/export/runs/{run_id}", response_class=HTMLResponse)
    async def export_report(request: Request, run_id: str, user: Any = reader) -> HTMLResponse:
        outcome = runs.outcome(runs.EXPORT_DAG, run_id)
        if outcome is None:
            raise HTTPException(404, f"no run {run_id} of {runs.EXPORT_DAG}")
        batch = inv.batch_of_run(ctx.engine(), run_id) if outcome.finished else None
        report = inv.read_report(ctx.review_dir() / "exports" / f"export_{batch['batch_id']}.csv") if batch else []
        return render(request, user, "export_run.html", title="Export run", outcome=outcome, batch=batch,
                      report=report)
