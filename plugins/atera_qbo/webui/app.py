"""The finance wizard as a FastAPI app mounted by Airflow's API server (see ``plugins/atera_qbo_webui.py``).

Server-rendered pages (Jinja2, autoescaped), one small local script and stylesheet, no CDN. The draft decisions
live in the browser's session storage until "Done": only "Done" writes (an overrides version in staging, its
CSV in the review dir, and a run of ``atera_qbo_matching`` with ``commit=true``).

What a route needs (the staging engine, the review, the day, Airflow's runs, the user's page kit) arrives through
its parameters' ``Annotated[..., Depends(...)]`` types from ``deps`` and ``pages``, all of the request's company
(``?company=``): a page, a download or a form post never reads or writes another company's database or files.
"""
from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

import sqlalchemy as sa
from fastapi import APIRouter, FastAPI, Form, HTTPException, Query
from fastapi.responses import HTMLResponse, JSONResponse, Response

from ..errors import MatchingError
from ..extract.routing import unrouted_customers
from ..matching.review import Action, ReviewRow
from ..qbo.connection import current_realm
from . import accounting, add_company, connect, deps, files, runs, store
from . import invoices as inv
from . import review as rv
from .deps import CurrentReview, Engine, QboAppUrl, Runs, Today
from .pages import (
    ReadExport,
    ReadReconciliation,
    ReadWizard,
    RunExport,
    RunMatching,
    http_error,
    security_headers,
)
from .security import check_csrf

HERE = Path(__file__).resolve().parent
STATIC = {"app.js": "text/javascript", "app.css": "text/css"}
STEP_TITLES = {"products": "Match products", "customers": "Match customers", "import": "Import customers"}

wizard = APIRouter()
exports = APIRouter()
common = APIRouter()


def create_app() -> FastAPI:
    """The plugin's app. What it needs comes from ``deps`` (built once in its lifespan); tests override those."""
    app = FastAPI(title="Atera ↔ QBO", docs_url=None, redoc_url=None, openapi_url=None, lifespan=deps.lifespan)
    app.middleware("http")(security_headers)
    app.exception_handler(HTTPException)(http_error)
    for router in (wizard, exports, common, connect.router, add_company.router, accounting.router,
                   files.router):
        app.include_router(router)
    return app


# ---------------------------------------------------------------------------------------------- the wizard
def _version_id(engine: sa.Engine) -> int:
    """The overrides version in force (0 before the first Done): what a draft started from."""
    found = store.current(engine)
    return found.version if found else 0


@wizard.get("/", response_class=HTMLResponse)
def index(page: ReadWizard, review: CurrentReview, engine: Engine, connected: str = "") -> HTMLResponse:
    steps = {s: rv.page_of(review.step_rows(s)).status_counts for s in rv.STEPS}
    versions = store.latest(engine, 5)
    return page.render("index.html", title="Atera ↔ QBO", steps=steps, titles=STEP_TITLES,
                       review_exists=review.path.exists(), versions=versions,
                       current_version=versions[0].version if versions else 0, unrouted=unrouted_customers(engine),
                       review_xlsx=(page.review_dir / "match_review.xlsx").exists(),
                       data_docs=_data_docs(page.review_dir),
                       connected=connected if connected and connected == current_realm(engine) else "")


def _data_docs(where: Path) -> str | None:
    """The company's Data Docs page to link (the gates' summary, else GX's index), None when there is none."""
    return next((n for n in ("gates_summary.html", "index.html") if (where / "data_docs" / n).is_file()), None)


@wizard.get("/step/{step}", response_class=HTMLResponse)
def step_page(page: ReadWizard, review: CurrentReview, engine: Engine, step: str, status: str = "", q: str = "",
              number: Annotated[int, Query(ge=1, alias="page")] = 1) -> HTMLResponse:
    if step not in rv.STEPS:
        raise HTTPException(404, f"no step {step!r}: products, customers or import")
    listing = rv.page_of(review.step_rows(step), status=status, query=q, page=number)

    def page_link(number: int) -> str:
        return page.url(f"/step/{step}", status=status, q=q, page=number)

    return page.render("step.html", title=STEP_TITLES[step], step=step, spec=rv.STEPS[step], listing=listing,
                       status=status, q=q, key=rv.row_key, candidates=rv.candidates, page_link=page_link,
                       current_version=_version_id(engine))


@wizard.get("/api/search")
def search(page: ReadWizard, engine: Engine, entity: str, q: str = "") -> JSONResponse:
    if entity not in ("customer", "product"):
        raise HTTPException(400, "entity must be customer or product")
    found = rv.search_qbo(engine, entity, q[:100])
    return JSONResponse([{"id": c.qbo_id, "name": c.name} for c in found])


@wizard.get("/api/suggestions")
def suggestions(page: ReadWizard, review: CurrentReview, step: str,
                min_score: Annotated[float, Query(ge=0, le=100)]) -> JSONResponse:
    if step not in ("products", "customers"):
        raise HTTPException(400, "step must be products or customers")
    found = rv.suggestions_above(review.step_rows(step), min_score)
    return JSONResponse({k: {"action": c.action, "qbo_id": c.qbo_id} for k, c in found.items()})


@wizard.post("/summary", response_class=HTMLResponse)
def summary(page: ReadWizard, review: CurrentReview, engine: Engine, decisions: Annotated[str, Form()] = "{}",
            csrf: Annotated[str, Form()] = "", base_version: Annotated[str, Form()] = "") -> HTMLResponse:
    check_csrf(page.request, page.user, csrf)
    try:
        overrides, decided = _overrides(review, engine, decisions, page.company.dag_id(runs.MATCHING_DAG))
    except MatchingError as exc:
        return page.refused("Summary", str(exc))
    return page.render("summary.html", title="Summary", plan=rv.plan(overrides), decided=len(decided),
                       decisions=json.dumps({k: c.__dict__ for k, c in decided.items()}),
                       base_version=base_version.strip() or str(_version_id(engine)))


@wizard.post("/done")
def done(page: RunMatching, review: CurrentReview, engine: Engine, dag_runs: Runs,
         decisions: Annotated[str, Form()] = "{}", csrf: Annotated[str, Form()] = "",
         replace_atera_catalog: Annotated[str, Form()] = "", base_version: Annotated[str, Form()] = "") -> Response:
    """Save the overrides version (file + row, in one go), then start the committing matching run — with
    ``replace_atera_catalog`` when the box was ticked (Atera's products then follow QBO's items). The version
    holds only what this user changed; when another version was saved since the draft began (``base_version``),
    nothing is saved: 409, naming who saved it and when."""
    check_csrf(page.request, page.user, csrf)
    conflict = _conflict(engine, base_version)
    if conflict is not None:
        return page.render("error.html", 409, title="Done", message=conflict, clear_draft=True)
    try:
        overrides, _ = _overrides(review, engine, decisions, page.company.dag_id(runs.MATCHING_DAG))
    except MatchingError as exc:
        return page.refused("Done", str(exc))
    changed = rv.changed_rows(review.rows(), overrides)
    stamp = f"{datetime.now(UTC):%Y%m%dT%H%M%S}_{uuid.uuid4().hex[:6]}"
    path = page.review_dir / "overrides" / f"overrides_{stamp}.csv"
    text = rv.write_overrides(path, changed)
    try:
        version = store.save(engine, user=page.user_name, decisions=len(changed), csv_text=text,
                             file_path=str(path))
    except sa.exc.OperationalError as exc:  # locked past its timeout, or the server is gone: keep nothing
        path.unlink(missing_ok=True)
        return page.refused("Done", "the staging database did not take the overrides version "
                            f"({str(exc.orig).strip() or type(exc.orig).__name__}): nothing was saved and no run "
                            "was started. Your decisions are still in this tab: press Done again in a minute.", 503)
    try:
        conf = {"overrides_path": str(path), "commit": True, "replace_atera_catalog": replace_atera_catalog == "1"}
        run_id = dag_runs.trigger(runs.MATCHING_DAG, conf, page.user_name)
    except runs.TriggerError as exc:
        return page.refused("Done", f"overrides version {version} saved, but {exc}", 503)
    store.attach(engine, version, dag_run_id=run_id)
    return page.redirect(f"/versions/{version}", saved=1)


def _conflict(engine: sa.Engine, base_version: str) -> str | None:
    """Why Done must not save (another overrides version was saved since the draft began), or None."""
    if not base_version.strip():
        return None  # a client that does not say where it started: nothing to compare with
    try:
        base = int(base_version)
    except ValueError:
        return f"base_version {base_version!r} is not a version number: reload the page"
    newer = store.current(engine)
    if newer is None or newer.version <= base:
        return None
    return (f"overrides version {newer.version} was saved by {newer.created_by} at "
            f"{newer.created_at:%Y-%m-%d %H:%M} UTC after you started (from version {base}): nothing was saved, so "
            "that person's decisions are not undone. Your draft was cleared: open the steps again to see the "
            "decisions in force (the matching run it started rewrites the review when it ends), then decide again.")


def _overrides(review: rv.Review, engine: sa.Engine, raw: str, matching_dag: str,
               ) -> tuple[list[ReviewRow], dict[str, rv.Choice]]:
    """The review with the posted decisions applied; a chosen QBO record must exist in staging. ``matching_dag``:
    the company's matching DAG, which writes the review."""
    try:
        data = json.loads(raw or "{}")
    except ValueError:
        raise MatchingError("the decisions are not valid JSON: reload the page and decide again") from None
    rows = review.rows()
    if not rows:
        raise MatchingError(f"no review yet: run {matching_dag} (it writes match_review.csv) first")
    decided = rv.parse_decisions(data, rows)
    by_key = {rv.row_key(r): r for r in rows}
    wanted = {(str(by_key[k].entity), c.qbo_id) for k, c in decided.items() if c.action == Action.MATCH}
    names = rv.qbo_names(engine, wanted)
    missing = [f"{k}: QBO {entity} {c.qbo_id} does not exist in staging (re-run the catalog sync?)"
               for k, c in decided.items() if c.action == Action.MATCH
               for entity in [str(by_key[k].entity)] if (entity, c.qbo_id) not in names]
    if missing:
        raise MatchingError("decisions refused, nothing saved:\n  " + "\n  ".join(missing))
    return rv.apply_decisions(rows, decided, names), decided


@wizard.get("/versions", response_class=HTMLResponse)
def versions(page: ReadWizard, engine: Engine) -> HTMLResponse:
    return page.render("versions.html", title="Overrides versions", versions=store.latest(engine, 100))


@wizard.get("/versions/{version}", response_class=HTMLResponse)
def version_page(page: ReadWizard, engine: Engine, dag_runs: Runs, version: int, saved: int = 0) -> HTMLResponse:
    found = store.get(engine, version)
    if found is None:
        raise HTTPException(404, f"no overrides version {version}")
    outcome = page.outcome(dag_runs.outcome(runs.MATCHING_DAG, found.dag_run_id)) if found.dag_run_id else None
    return page.render("version.html", title=f"Overrides version {version}", v=found, outcome=outcome,
                       saved=bool(saved))


@wizard.get("/versions/{version}/overrides.csv")
def download(page: ReadWizard, engine: Engine, version: int) -> Response:
    found = store.get(engine, version)
    if found is None:
        raise HTTPException(404, f"no overrides version {version}")
    return Response("\ufeff" + found.csv_text, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="overrides_v{version}.csv"'})


# ---------------------------------------------------------------------------------------------- export page
@exports.get("/export", response_class=HTMLResponse)
def export_page(page: ReadExport, engine: Engine, today: Today, app_url: QboAppUrl, date_from: str = "",
                date_to: str = "") -> HTMLResponse:
    try:
        start, end = inv.parse_window(date_from, date_to, today)
    except ValueError as exc:
        return page.refused("Export", str(exc))
    return page.render("export.html", title="Export invoices", start=start, end=end,
                       invoices=inv.invoices(engine, start, end, app_url=app_url))


@exports.post("/export")
def export_run(page: RunExport, today: Today, dag_runs: Runs, date_from: Annotated[str, Form()],
               date_to: Annotated[str, Form()], numbers: Annotated[list[str] | None, Form()] = None,
               fetch: Annotated[str, Form()] = "", csrf: Annotated[str, Form()] = "") -> Response:
    """Export the selected invoices (or, with ``fetch``, stage the window from Atera: a dry run)."""
    check_csrf(page.request, page.user, csrf)
    try:
        start, end = inv.parse_window(date_from, date_to, today)
    except ValueError as exc:
        return page.refused("Export", str(exc))
    numbers = [n.strip() for n in numbers or [] if n.strip()]
    if not numbers and not fetch:
        return page.refused("Export", "select at least one invoice to export")
    conf = {"invoice_date_from": start.isoformat(), "invoice_date_to": end.isoformat(),
            "invoice_numbers": numbers, "dry_run": bool(fetch)}
    try:
        run_id = dag_runs.trigger(runs.EXPORT_DAG, conf, page.user_name)
    except runs.TriggerError as exc:
        return page.refused("Export", str(exc), 503)
    return page.redirect(f"/export/runs/{quote(run_id, safe='')}")


@exports.get("/export/runs/{run_id}", response_class=HTMLResponse)
def export_report(page: ReadExport, engine: Engine, dag_runs: Runs, run_id: str) -> HTMLResponse:
    outcome = page.outcome(dag_runs.outcome(runs.EXPORT_DAG, run_id))
    if outcome is None:
        raise HTTPException(404, f"no run {run_id} of {dag_runs.dag_id(runs.EXPORT_DAG)}")
    batch = inv.batch_of_run(engine, run_id) if outcome.finished else None
    report = inv.read_report(page.review_dir / "exports" / f"export_{batch['batch_id']}.csv") if batch else []
    return page.render("export_run.html", title="Export run", outcome=outcome, batch=batch, report=report)


# ------------------------------------------------------------------------------------------ static, recon
@common.get("/static/{name}")
def static(page: ReadWizard, name: str) -> Response:
    if name not in STATIC:
        raise HTTPException(404, "no such file")
    return Response((HERE / "static" / name).read_bytes(), media_type=STATIC[name])


@common.get("/reconciliation", response_class=HTMLResponse)
def reconciliation(page: ReadReconciliation) -> Response:
    path = page.review_dir / "reconciliation_latest.html"
    if not path.exists():
        raise HTTPException(404, "no reconciliation report yet: run "
                                 f"{page.company.dag_id(runs.RECONCILIATION_DAG)}")
    # the report is ours, but keep it inert: no script of its own runs under this origin
    return HTMLResponse(path.read_text(encoding="utf-8"), headers={"Content-Security-Policy": "sandbox"})
