"""What each DAG task does, as plain functions (the DAG files only wire them). Every function answers a small
JSON-able dict for XCom; data travels through the staging tables.

The error contract: a ``FatalError`` becomes ``AirflowFailException`` (no pointless Airflow retries) with the
message naming the record and what to do, and the original error as its cause; a ``RetriableApiError`` (QBO or
Atera unreachable, 5xx, still throttled after the client's own retries) goes up unchanged, after the ledger/plan
recorded it, so Airflow retries the task — safe, because request ids and the ledger make a rerun exactly-once."""
from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from .config import overrides_file
from .errors import ConfigError, FatalError

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_EXPORT_WINDOW_DAYS = 90


def fail_fatal(fn: F) -> F:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except FatalError as exc:
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(str(exc)) from exc

    return wrapper  # type: ignore[return-value]


def _staging() -> Any:
    from .hooks import StagingHook

    return StagingHook().engine


def _qbo() -> Any:
    from .hooks import QuickBooksHook

    return QuickBooksHook().get_conn()


def _atera() -> Any:
    from .hooks import AteraHook

    return AteraHook().get_conn()


def _variable(name: str) -> str | None:
    from airflow.sdk import Variable

    try:
        return Variable.get(name, default=None)
    except Exception:  # noqa: BLE001 - no metadata DB / variable backend: fall back to defaults
        return None


def _setting(name: str) -> str | None:
    """An Airflow Variable, else the environment variable of the same name upper-cased, else None."""
    import os

    return _variable(name) or os.environ.get(name.upper())


def _review_dir() -> Path:
    from .config import review_dir

    return review_dir(_variable)


# ------------------------------------------------------------------------------------------- catalog sync
def _extract(which: str, full_refresh: bool) -> dict[str, Any]:
    from . import extract

    engine = _staging()
    client = _atera() if which == "atera" else _qbo()
    run = extract.extract_atera_catalog if which == "atera" else extract.extract_qbo_catalog
    try:
        return {k: v.as_dict() for k, v in run(client, engine, full_refresh=full_refresh).items()}
    finally:
        client.close()


@fail_fatal
def extract_atera_catalog(*, full_refresh: bool = False) -> dict[str, Any]:
    return _extract("atera", full_refresh)


@fail_fatal
def extract_qbo_catalog(*, full_refresh: bool = False) -> dict[str, Any]:
    return _extract("qbo", full_refresh)


# ------------------------------------------------------------------------------------------ quality gates
CATALOG_TABLES = ["stg_atera_customers", "stg_atera_contacts", "stg_atera_products", "stg_atera_contracts",
                  "stg_qbo_customers", "stg_qbo_items", "stg_qbo_accounts", "stg_qbo_tax_codes", "stg_qbo_tax_rates",
                  "stg_qbo_terms", "stg_qbo_names", "stg_qbo_preferences"]
INVOICE_TABLES = ["stg_atera_invoices", "stg_atera_invoice_lines"]


@fail_fatal
def quality_gate(tables: list[str], *, invoice_window: tuple[str, str] | None = None) -> dict[str, Any]:
    """Great Expectations over the staging tables; Data Docs under the review dir; fails naming what is wrong.
    With ``invoice_window`` (from, to) only the invoices of that window (and their lines) are gated."""
    from .quality import run_gates

    scopes = None
    if invoice_window:
        import sqlalchemy as sa

        lo, hi = invoice_window

        def in_window(tbl: Any) -> Any:
            return sa.and_(tbl.c.invoice_date >= lo, tbl.c.invoice_date <= hi)

        def lines_in_window(tbl: Any) -> Any:
            from .staging.db import table

            inv = table("stg_atera_invoices")
            return tbl.c.invoice_source_id.in_(sa.select(inv.c.source_id).where(in_window(inv)))

        scopes = {"stg_atera_invoices": in_window, "stg_atera_invoice_lines": lines_in_window}
    engine = _staging()
    from .config import data_docs_keep_runs

    docs = _review_dir() / "data_docs"  # one GX site for every DAG: each table keeps its last runs' pages
    summary = run_gates(engine, tables, docs_dir=docs, scopes=scopes, keep_runs=data_docs_keep_runs(_variable))
    return {"data_docs": str(docs / "index.html"), "summary_page": str(docs / "gates_summary.html"),
            "tables": {t: {"success": v["success"], "rows": v["rows"]} for t, v in summary.items()}}


# ----------------------------------------------------------------------------------------------- matching
@fail_fatal
def match(*, overrides_path: str | None, commit: bool, create_unmatched_in_qbo: bool,
          import_unmatched_qbo_customers: bool, run_id: str | None = None,
          replace_atera_catalog: bool = False, as_of: date | None = None) -> dict[str, Any]:
    from .matching import commit as committing
    from .matching.kept import kept_mappings
    from .matching.match import after_commit, apply_overrides, decisions, for_review, load_catalogs, match_all
    from .matching.review import ReviewRow
    from .matching.review_csv import KEEP_RUNS, read_rows, write_review
    from .staging.mappings import OverridesFile

    engine = _staging()
    out_dir = _review_dir()
    catalogs = load_catalogs(engine)
    review = match_all(catalogs)
    overrides: list[ReviewRow] = kept_mappings(engine, catalogs)
    source = None
    if overrides_path:
        path = overrides_file(overrides_path, out_dir)
        explicit = list(read_rows(path))
        explicit_keys = {(r.entity, r.atera_id or r.qbo_id) for r in explicit if r.action}
        overrides = [o for o in overrides if (o.entity, o.atera_id) not in explicit_keys] + explicit
        source = OverridesFile.of(path, [(r.entity, r.atera_id or r.qbo_id, r.line) for r in explicit if r.action])
    review = apply_overrides(review, overrides, catalogs)
    review = decisions(review, create_unmatched=create_unmatched_in_qbo,
                       import_unmatched=import_unmatched_qbo_customers)

    stamp = (run_id or "manual").replace(":", "").replace("+", "")[:40]
    keep = int(_setting("atera_qbo_review_keep") or KEEP_RUNS)
    latest = write_review(out_dir, stamp, for_review(review), keep)
    summary: dict[str, Any] = {
        "review_csv": str(latest),
        "status_counts": {f"{e}:{s}": int(n) for (e, s), n in review.groupby(["entity", "status"]).size().items()},
        "decisions": {k: int(v) for k, v in review["decision"].value_counts().items()},
    }
    if commit:
        from .config import data_docs_keep_runs
        from .quality.mapping_gate import check as gate_mapping

        summary["mapping_gate"] = gate_mapping(review, catalogs, engine, as_of=as_of or date.today(),
                                               docs_dir=out_dir / "data_docs",
                                               keep_runs=data_docs_keep_runs(_variable))["rows"]
        tax_code = _qbo_settings().default_sales_tax_code
        steps = committing.build_steps(review, catalogs, engine, sales_tax_code=tax_code)
        before = active_mapping(engine)
        result = _execute_plan(engine, review, steps, run_id=run_id, overrides=source)
        summary.update(commit=result.as_dict(), mapping_changed=active_mapping(engine) != before)
        write_review(out_dir, stamp, for_review(after_commit(review, steps)), keep)
    if replace_atera_catalog:
        summary["catalog_replacement"] = _replace_catalog(engine, review, out_dir, stamp, commit=commit,
                                                          run_id=run_id)
    log.info("matching: %s", summary)
    return summary


def _execute_plan(engine: Any, review: Any, steps: list[Any], *, run_id: str | None, overrides: Any) -> Any:
    """The commit's steps, with the QBO client (and the Atera one when customers are imported), closed after."""
    from .matching import commit as committing

    qbo = _qbo()
    atera = _atera() if any(s.action == "import_atera" for s in steps) else None
    try:
        return committing.execute(engine, review, steps, qbo=qbo, atera=atera, run_id=run_id, overrides=overrides)
    finally:
        qbo.close()
        if atera is not None:
            atera.close()


def _replace_catalog(engine: Any, review: Any, out_dir: Path, stamp: str, *, commit: bool,
                     run_id: str | None) -> dict[str, Any]:
    """Atera's products replaced by QBO's items: previewed (``catalog_replacement.csv``) on every run that asks,
    applied only with ``commit``, on the mapping the commit just activated (else the one ``review`` proposes)."""
    from .matching import catalog_replace as cr
    from .matching.review import rows_of

    products, items, active, written = cr.load_inputs(engine)
    mapping = active if commit else {**active, **cr.proposed_mapping(rows_of(review))}
    first = cr.is_following(engine) is None
    catalog_plan = cr.plan(products, items, mapping, follow=not first, last_written=written)
    out: dict[str, Any] = {"planned": catalog_plan.counts(),
                           "preview_csv": str(cr.write_preview(out_dir / "catalog_replacement.csv", catalog_plan))}
    if commit:
        atera = _atera()
        try:
            done = cr.execute(engine, atera, catalog_plan, plan_id=f"catalog-{stamp}", review_dir=out_dir,
                              first=first)
        finally:
            atera.close()
        out.update(plan_id=f"catalog-{stamp}", done=done.done, snapshot_file=done.snapshot_file)
    return out


@fail_fatal
def follow_qbo_catalog(*, run_id: str | None = None) -> dict[str, Any]:
    """After a catalog sync: once Atera's catalog was handed to QBO, QBO's renames, price changes and new and
    deactivated items reach Atera; Atera-side edits of mapped products are reported (not pushed to QBO)."""
    from .matching import catalog_replace as cr

    engine = _staging()
    if cr.is_following(engine) is None:
        return {"following": False, "note": "Atera's catalog is Atera's own (replace_atera_catalog never ran)"}
    products, items, active, written = cr.load_inputs(engine)
    catalog_plan = cr.plan(products, items, active, follow=True, last_written=written)
    stamp = (run_id or "manual").replace(":", "").replace("+", "")[:40]
    out_dir = _review_dir()
    cr.write_preview(out_dir / "catalog_follow.csv", catalog_plan)
    atera = _atera()
    try:
        done = cr.execute(engine, atera, catalog_plan, plan_id=f"follow-{stamp}", review_dir=out_dir, first=False)
    finally:
        atera.close()
    for f in catalog_plan.findings:
        log.warning("catalog: %s %s %r: %s", f["type"], f["atera_id"], f["atera_name"], f["action"])
    return {"following": True, "done": done.done, "findings": catalog_plan.counts()}


@fail_fatal
@fail_fatal
def restore_atera_catalog(*, plan_id: str) -> dict[str, Any]:
    """Recreate the Atera products/expenses a replacement removed, from their snapshots (DAG
    ``atera_qbo_restore_catalog``)."""
    from .matching import catalog_replace as cr

    plan_id = (plan_id or "").strip()
    if not plan_id:
        raise FatalError("plan_id is empty: give the plan id of the replacement to undo (catalog-<matching run id>, "
                         "in the matching task's summary and in the name of catalog_snapshots/<plan id>.json)")
    atera = _atera()
    try:
        restored = cr.restore(_staging(), atera, plan_id=plan_id)
    finally:
        atera.close()
    for r in restored:
        log.info("restored Atera %s %s %r as %s%s", r["kind"], r["old_id"], r["name"], r["new_id"],
                 " (found in Atera: created before an interruption)" if r["adopted"] else "")
    log.info("plan %s: %d record(s) restored; a record restored before is never restored again", plan_id,
             len(restored))
    return {"plan_id": plan_id, "restored": restored}


def active_mapping(engine: Any) -> frozenset[tuple[str, str, str]]:
    """The active mapping as (entity, Atera id, QBO id): what tells whether a commit changed it."""
    import sqlalchemy as sa

    from .staging.db import table

    out = set()
    with engine.connect() as conn:
        for entity, name in (("customer", "map_customers"), ("product", "map_products")):
            tbl = table(name)
            out |= {(entity, str(a), str(q)) for a, q in conn.execute(
                sa.select(tbl.c.atera_id, tbl.c.qbo_id).where(tbl.c.active.is_(True)))}
    return frozenset(out)


# ------------------------------------------------------------------------------------------ invoice export
def export_window(date_from: str | None, date_to: str | None, logical_date: date) -> tuple[date, date]:
    from .config import date_window

    return date_window(date_from, date_to, logical_date, DEFAULT_EXPORT_WINDOW_DAYS,
                       names=("invoice_date_from", "invoice_date_to"))


def run_day(logical_date: Any, run_after: Any) -> date:
    """The day a run stands for: its logical date (scheduled runs), else the moment it was triggered to run
    (``run_after``: an Airflow 3 manual run has no logical date). Never the wall clock: a retried task sees the
    same day as its first attempt."""
    moment = logical_date or run_after
    if moment is None:
        raise ConfigError("the run has neither a logical date nor run_after: pass invoice_date_to")
    return moment.date() if hasattr(moment, "date") else date.fromisoformat(str(moment)[:10])


@fail_fatal
def extract_invoices(*, date_from: str | None, date_to: str | None, logical_date: date) -> dict[str, Any]:
    from .extract import extract_atera_invoices

    start, end = export_window(date_from, date_to, logical_date)
    engine = _staging()
    client = _atera()
    try:
        result = extract_atera_invoices(client, engine, start, end)
    finally:
        client.close()
    return {**result.as_dict(), "date_from": start.isoformat(), "date_to": end.isoformat()}


@fail_fatal
def export(*, date_from: str | None, date_to: str | None, logical_date: date, numbers: list[Any] | None,
           dry_run: bool, create_missing_customers: bool, run_id: str | None,
           try_number: int | None = None, create_missing_items: bool = True) -> dict[str, Any]:
    """One batch per task attempt. Its report is written however the attempt ends; a retriable error goes up
    (Airflow retries: the next attempt replays what was pending), a fatal one fails the task."""
    import uuid

    from .export.customers import create_missing_customers as create_customers
    from .export.load import export_invoices, raise_for_problems
    from .export.missing import create_missing_items as create_items

    start, end = export_window(date_from, date_to, logical_date)
    wanted = [str(n) for n in numbers or []]
    engine = _staging()
    batch_id = uuid.uuid4().hex[:16]
    report = _review_dir() / "exports" / f"export_{batch_id}.csv"
    customers: dict[str, dict[str, str]] = {"created": {}, "problems": {}}
    items: dict[str, dict[str, str]] = {"created": {}, "problems": {}}

    def prepare() -> dict[str, str]:
        """Create what is missing (never what has a QBO candidate); answers why the rest stays unmapped."""
        if dry_run or not (create_missing_customers or create_missing_items):
            return {}
        origin = f"export {run_id or 'manual'}"
        if create_missing_items:
            items["created"], items["problems"] = create_items(
                engine, qbo, start, end, wanted, origin=origin,
                sales_tax_code=_qbo_settings().default_sales_tax_code)
        if create_missing_customers:
            customers["created"], customers["problems"] = create_customers(engine, qbo, start, end, wanted,
                                                                        origin=origin)
        for what, problems in (("create_missing_items", items["problems"]),
                               ("create_missing_customers", customers["problems"])):
            for problem in problems.values():
                log.warning("%s: %s", what, problem)
        return {**{f"product:{k}": v for k, v in items["problems"].items()},
                **{f"customer:{k}": v for k, v in customers["problems"].items()}}

    qbo = _qbo()
    try:
        result = export_invoices(engine, qbo, batch_id=batch_id, run_id=run_id, date_from=start, date_to=end,
                                 numbers=wanted, dry_run=dry_run, try_number=try_number, prepare=prepare,
                                 report_path=report, app_url=_qbo_app_url())
    finally:
        qbo.close()
    summary = {**result.as_dict(), "report_csv": str(report), "customers_mapped": customers["created"],
               "customer_problems": customers["problems"], "items_mapped": items["created"],
               "item_problems": items["problems"]}
    log.info("export: %s", {k: v for k, v in summary.items() if k != "exported_ids"})
    raise_for_problems(result)
    return summary


def _qbo_settings() -> Any:
    from .hooks import QuickBooksHook

    return QuickBooksHook().settings


def _qbo_app_url() -> str:
    return _qbo_settings().app_url


# ----------------------------------------------------------------------------------------- reconciliation
@fail_fatal
def reconcile(*, date_from: str | None, date_to: str | None, finding_types: list[str] | None,
              stale_days: int, run_id: str | None) -> dict[str, Any]:
    """Refresh incrementally, compare, write the report; the log ends with the counts. Critical findings are
    handed to ``check_critical`` (the report lands first)."""
    from .reconcile.run import reconcile as run

    engine = _staging()
    qbo = _qbo()
    atera = _atera()
    try:
        result = run(engine, qbo=qbo, atera=atera, review_dir=_review_dir(), run_id=run_id or "manual",
                     date_from=date_from, date_to=date_to, types=finding_types, stale_days=stale_days,
                     app_url=_qbo_app_url())
    finally:
        qbo.close()
        atera.close()
    summary = result.as_dict()
    summary["critical_findings"] = [{k: getattr(f, k) for k in ("type", "atera_id", "qbo_id", "detail")}
                                    for f in result.critical[:50]]
    summary["critical_count"] = len(result.critical)
    log.info(result.summary_line())
    return summary


@fail_fatal
def check_critical(summary: dict[str, Any]) -> dict[str, Any]:
    """Fail when the run found critical findings (so Airflow's failure alerting fires), naming them."""
    from .reconcile.run import raise_for_critical

    critical = summary.get("critical_findings") or []
    if summary.get("critical_count", 0) > len(critical):
        critical = critical + [{"type": "…", "atera_id": "", "qbo_id": "", "detail": "(more in the report)"}]
    raise_for_critical(critical, summary.get("report", ""))
    return {"critical": 0, "report": summary.get("report")}


@fail_fatal
def disconnect(*, confirm: str | None, actor: str | None) -> dict[str, Any]:
    """Revoke the QBO refresh token at Intuit, delete the stored tokens, record who/when; keep everything else."""
    from .hooks import QuickBooksHook, fernet
    from .qbo.auth import TokenEndpoint, TokenStore
    from .qbo.connection import disconnect as run

    hook = QuickBooksHook()
    s = hook.settings
    engine = hook.staging.engine
    endpoint = TokenEndpoint(s.token_url, s.client_id, s.client_secret, revoke_url=s.revoke_url)

    def store() -> TokenStore | None:
        try:
            return TokenStore(engine, s.realm_id, endpoint, seed_refresh_token=s.refresh_token, cipher=fernet())
        except ConfigError:
            return None  # nothing stored and nothing to seed from

    def stored_token() -> str | None:
        tokens = store()
        return tokens.current_refresh_token() if tokens else None

    def forget() -> None:
        tokens = store()
        if tokens is not None:
            tokens.forget()

    result = run(engine, realm_id=s.realm_id, confirm=confirm, actor=actor, seed_refresh_token=s.refresh_token,
                 stored_refresh_token=stored_token, revoke=endpoint.revoke, forget=forget)
    log.info("disconnect: %s", result)
    return result
