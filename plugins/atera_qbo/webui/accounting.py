"""The Accounting page: where the integration is managed "at any time" once connected. First every company the
user may see with its state (connected realm, last export batch, token expiry, last reconciliation), each linking
to its pages; then the chosen company's (``?company=``) detail — each side's company and credential (with their
expiries), each of its DAGs' last and next run, its latest export batches and reconciliation, the month's metered
QBO reads — and its actions: wizard, export, reconcile now, Disconnect, Reconnect, each acting on it only."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import sqlalchemy as sa
from airflow.models.dag import DagModel
from airflow.models.dagrun import DagRun
from airflow.utils.session import create_session
from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ..companies import Company
from ..errors import ConfigError
from ..hooks import QuickBooksHook, StagingHook, fernet
from ..qbo.auth import TokenExpiries, TokenStore
from ..qbo.connection import connected_since, current_realm, latest_event
from ..qbo.connection import disconnect as disconnect_company
from ..qbo.usage import metered_reads
from ..staging.db import table, utcnow
from . import airflow_conns, runs
from .deps import Engine, Runs, Svc
from .pages import ManageIntegration, Page, ReadWizard
from .security import check_csrf, may_manage, may_run

router = APIRouter()
DAGS = ("atera_qbo_catalog_sync", "atera_qbo_matching", "atera_qbo_invoice_export", "atera_qbo_reconciliation",
        "atera_qbo_disconnect")  # the families: a company's own DAG of each is ``Company.dag_id(family)``
EXPIRY_WARNING = timedelta(days=30)


@dataclass
class DagState:
    dag_id: str
    paused: bool
    last_run_id: str | None = None
    last_state: str | None = None
    last_start: datetime | None = None
    last_seconds: float | None = None
    next_run: datetime | None = None


def dag_states(owner: Company) -> list[DagState]:
    """Each of the company's DAGs' last run (state, start, duration) and next scheduled run (Airflow's database)."""
    out = []
    with create_session() as session:
        for dag_id in (owner.dag_id(family) for family in DAGS):
            model = session.scalar(sa.select(DagModel).where(DagModel.dag_id == dag_id))
            run = session.scalar(sa.select(DagRun).where(DagRun.dag_id == dag_id)
                                 .order_by(DagRun.run_after.desc()).limit(1))
            state = DagState(dag_id, bool(model.is_paused) if model else False,
                             next_run=model.next_dagrun_create_after if model else None)
            if run is not None:
                state.last_run_id, state.last_state = run.run_id, str(getattr(run.state, "value", run.state))
                state.last_start = run.start_date
                if run.start_date and run.end_date:
                    state.last_seconds = (run.end_date - run.start_date).total_seconds()
            out.append(state)
    return out


def company(engine: sa.Engine, realm: str) -> dict[str, Any]:
    """The QBO company as last staged (name, country), and how it is connected."""
    prefs = table("stg_qbo_preferences")
    with engine.connect() as conn:
        raw = conn.execute(sa.select(prefs.c.raw_json, prefs.c.country).where(prefs.c.source_id == realm)).first()
    info = (json.loads(raw.raw_json).get("CompanyInfo") or {}) if raw and raw.raw_json else {}
    since = connected_since(engine, realm)
    last = latest_event(engine, realm)
    return {"realm": realm, "name": info.get("CompanyName") or info.get("LegalName"),
            "country": info.get("Country") or (raw.country if raw else None),
            "since": since.at if since else None, "by": since.actor if since else None,
            "disconnected": last is not None and last.event == "disconnected",
            "disconnected_at": last.at if last is not None and last.event == "disconnected" else None}


def expiries(hook: QuickBooksHook) -> TokenExpiries | None:
    try:
        return hook.stored_tokens().expiries()
    except ConfigError:
        return None  # nothing stored (disconnected, or never connected)


def latest_batches(engine: sa.Engine, limit: int = 5) -> list[sa.Row[Any]]:
    batches = table("export_batches")
    with engine.connect() as conn:
        return list(conn.execute(sa.select(batches).order_by(batches.c.started_at.desc()).limit(limit)))


def latest_reconciliation(engine: sa.Engine) -> dict[str, Any] | None:
    """The last reconciliation run and the open findings by severity."""
    recon, findings = table("recon_runs"), table("recon_findings")
    with engine.connect() as conn:
        run = conn.execute(sa.select(recon).order_by(recon.c.started_at.desc()).limit(1)).first()
        if run is None:
            return None
        counts: dict[str, int] = dict(conn.execute(sa.select(findings.c.severity, sa.func.count())
                                   .where(findings.c.resolved_at.is_(None)).group_by(findings.c.severity)).all())
    return {"run": run, "open": {s: int(counts.get(s, 0)) for s in ("critical", "warning", "info")}}


def month_start(now: datetime) -> datetime:
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


@dataclass
class CompanyState:
    """One line of the companies list."""

    company: Company
    link: str
    realm: str | None = None
    disconnected: bool = False
    batch: sa.Row[Any] | None = None
    tokens: TokenExpiries | None = None
    recon: dict[str, Any] | None = None
    problem: str | None = None


def company_state(owner: Company, link: str, engine: sa.Engine | None, staging: StagingHook) -> CompanyState:
    """A company's state from its own database (``engine``: the page's, for the current company); a database
    that cannot be read is said on its line, not an error of the page."""
    state = CompanyState(owner, link)
    try:
        engine = engine or staging.engine
        state.realm = current_realm(engine)
        last = latest_event(engine, state.realm) if state.realm else None
        state.disconnected = last is not None and last.event == "disconnected"
        batches = latest_batches(engine, 1)
        state.batch = batches[0] if batches else None
        state.recon = latest_reconciliation(engine)
        if state.realm and not state.disconnected:
            state.tokens = expiries(QuickBooksHook(staging=staging, company=owner))
    except Exception as exc:  # noqa: BLE001 - one company's database down must not hide the others
        state.problem = f"its staging database could not be read ({type(exc).__name__}: {exc})"
    return state


def company_states(page: Page, engine: sa.Engine, svc: Svc) -> list[CompanyState]:
    return [company_state(c, page.switch_url(c), engine if c == page.company else None, svc.staging(c))
            for c in page.scope.visible]


@router.get("/accounting", response_class=HTMLResponse)
def accounting(page: ReadWizard, engine: Engine, svc: Svc) -> Response:
    realm = current_realm(engine)
    listing = company_states(page, engine, svc) if page.scope.several else []
    if realm is None:
        if may_manage(page.user, page.company) and not page.scope.several:
            return page.redirect("/connect")
        return page.render("accounting.html", title="Accounting", connected=False, states=listing,
                           warn_before=datetime.now(UTC) + EXPIRY_WARNING)
    hook = QuickBooksHook(company=page.company)
    return page.render(
        "accounting.html", title="Accounting", connected=True, qbo=company(engine, realm), states=listing,
        tokens=expiries(hook), atera=airflow_conns.atera_summary(page.company.atera_conn_id),
        dags=dag_states(page.company), batches=latest_batches(engine), recon=latest_reconciliation(engine),
        metered=metered_reads(engine, realm, month_start(utcnow())), month=month_start(utcnow()),
        warn_before=datetime.now(UTC) + EXPIRY_WARNING,
        may_reconcile=may_run(page.user, page.company.dag_id(runs.RECONCILIATION_DAG)))


@router.post("/accounting/reconcile")
def reconcile_now(page: ReadWizard, dag_runs: Runs, csrf: Annotated[str, Form()] = "") -> Response:
    check_csrf(page.request, page.user, csrf)
    dag_id = dag_runs.dag_id(runs.RECONCILIATION_DAG)
    if not may_run(page.user, dag_id):
        return page.refused("Reconcile", f"{page.user_name} may not start {dag_id}", 403)
    try:
        run_id = dag_runs.trigger(runs.RECONCILIATION_DAG, {}, page.user_name)
    except runs.TriggerError as exc:
        return page.refused("Reconcile", str(exc), 503)
    return RedirectResponse(f"/dags/{dag_id}/runs/{run_id}", status_code=303)


@router.post("/accounting/disconnect")
def disconnect(page: ManageIntegration, engine: Engine, csrf: Annotated[str, Form()] = "",
               confirm: Annotated[str, Form()] = "") -> Response:
    """Disconnect, confirmed by typing the company's name (its realm id when no name is staged): Intuit revokes
    the tokens, the stored ones are deleted, history is kept; every QBO call then refuses, naming this page."""
    check_csrf(page.request, page.user, csrf)
    realm = current_realm(engine)
    if realm is None:
        return page.refused("Disconnect", "no QuickBooks company is connected", 400)
    expected = company(engine, realm)["name"] or realm
    if confirm.strip() != expected:
        return page.refused("Disconnect", f"type the company's name exactly ({expected}) to disconnect it; nothing "
                            "was changed", 400)
    result = _disconnect(page, engine, realm)
    note = f" {result['note']}" if result.get("note") else ""
    whose = f" ({page.company.name})" if page.scope.several else ""  # which of this deployment's companies
    return page.render("notice.html", 200, title="Disconnected",
                       message=f"QuickBooks company {expected}{whose} was disconnected: "
                               f"{result.get('revoked', 0)} token(s) revoked, the stored tokens deleted, the history "
                               "kept. Every QBO call now refuses "
                               f"until you reconnect on this page.{note}")


def _disconnect(page: Page, engine: sa.Engine, realm: str) -> dict[str, Any]:
    hook = QuickBooksHook(company=page.company)

    def stored() -> TokenStore | None:
        try:
            return TokenStore(engine, realm, hook.token_endpoint(), seed_refresh_token=hook.seed_refresh_token,
                              cipher=fernet())
        except ConfigError:
            return None

    def token() -> str | None:
        tokens = stored()
        return tokens.current_refresh_token() if tokens else None

    def forget() -> None:
        tokens = stored()
        if tokens is not None:
            tokens.forget()

    return disconnect_company(engine, realm_id=realm, confirm=realm, actor=page.user_name,
                              seed_refresh_token=hook.seed_refresh_token, stored_refresh_token=token,
                              revoke=hook.token_endpoint().revoke, forget=forget)
