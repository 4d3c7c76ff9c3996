"""Tasks of ``atera_qbo_catalog_sync`` (extraction, the quality gate, Atera following QBO's items) and
``atera_qbo_restore_catalog``; the quality gate serves the invoice export too."""
from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa

from ..companies import load_companies
from ..config import data_docs_keep_runs, variable
from ..errors import FatalError
from ..extract import extract_atera_catalog as run_atera_extraction
from ..extract import extract_qbo_catalog as run_qbo_extraction
from ..extract.routing import Router
from ..matching import catalog_replace as cr
from ..quality import run_gates
from ..staging.db import table
from .runtime import fail_fatal, run_stamp, wiring

log = logging.getLogger(__name__)

CATALOG_TABLES = ["stg_atera_customers", "stg_atera_contacts", "stg_atera_products", "stg_atera_contracts",
                  "stg_qbo_customers", "stg_qbo_items", "stg_qbo_accounts", "stg_qbo_tax_codes", "stg_qbo_tax_rates",
                  "stg_qbo_terms", "stg_qbo_names", "stg_qbo_preferences"]
INVOICE_TABLES = ["stg_atera_invoices", "stg_atera_invoice_lines"]


@fail_fatal
def extract_atera_catalog(*, full_refresh: bool = False) -> dict[str, Any]:
    """The company's Atera customers (routed: see ``extract.routing``), contacts, contracts, and the account's
    products, expenses and rates; unrouted customers are named in the result and the log."""
    with wiring() as w:
        router = Router(w.company, load_companies().sharing_atera(w.company))
        results = run_atera_extraction(w.atera, w.engine, full_refresh=full_refresh, router=router)
    return {k: v.as_dict() for k, v in results.items()}


@fail_fatal
def extract_qbo_catalog(*, full_refresh: bool = False) -> dict[str, Any]:
    with wiring() as w:
        results = run_qbo_extraction(w.qbo, w.engine, full_refresh=full_refresh)
        calls = w.qbo_calls()
    return {**{k: v.as_dict() for k, v in results.items()}, "qbo_calls": calls}


def _invoice_scopes(lo: str, hi: str) -> dict[str, Any]:
    """Row filters gating only the invoices of the window [lo, hi] and their lines."""
    invoices = table("stg_atera_invoices")

    def in_window(tbl: sa.Table) -> sa.ColumnElement[bool]:
        return sa.and_(tbl.c.invoice_date >= lo, tbl.c.invoice_date <= hi)

    def lines_in_window(tbl: sa.Table) -> sa.ColumnElement[bool]:
        return tbl.c.invoice_source_id.in_(sa.select(invoices.c.source_id).where(in_window(invoices)))

    return {"stg_atera_invoices": in_window, "stg_atera_invoice_lines": lines_in_window}


@fail_fatal
def quality_gate(tables: list[str], *, invoice_window: tuple[str, str] | None = None) -> dict[str, Any]:
    """Great Expectations over the staging tables; Data Docs under the review dir; fails naming what is wrong.
    With ``invoice_window`` (from, to) only the invoices of that window (and their lines) are gated."""
    scopes = _invoice_scopes(*invoice_window) if invoice_window else None
    with wiring() as w:
        docs = w.review_dir / "data_docs"  # one GX site for every DAG: each table keeps its last runs' pages
        summary = run_gates(w.engine, tables, docs_dir=docs, scopes=scopes,
                            keep_runs=data_docs_keep_runs(variable))
    return {"data_docs": str(docs / "index.html"), "summary_page": str(docs / "gates_summary.html"),
            "tables": {t: {"success": v["success"], "rows": v["rows"]} for t, v in summary.items()}}


@fail_fatal
def follow_qbo_catalog(*, run_id: str | None = None) -> dict[str, Any]:
    """After a catalog sync: once Atera's catalog was handed to QBO, QBO's renames, price changes and new and
    deactivated items reach Atera; Atera-side edits of mapped products are reported (not pushed to QBO)."""
    with wiring() as w:
        if cr.is_following(w.engine) is None:
            return {"following": False, "note": "Atera's catalog is Atera's own (replace_atera_catalog never ran)"}
        products, items, active, written = cr.load_inputs(w.engine)
        catalog_plan = cr.plan(products, items, active, follow=True, last_written=written)
        cr.write_preview(w.review_dir / "catalog_follow.csv", catalog_plan)
        done = cr.execute(w.engine, w.atera, catalog_plan, plan_id=f"follow-{run_stamp(run_id)}",
                          review_dir=w.review_dir, first=False)
    for f in catalog_plan.findings:
        log.warning("catalog: %s %s %r: %s", f["type"], f["atera_id"], f["atera_name"], f["action"])
    return {"following": True, "done": done.done, "findings": catalog_plan.counts()}


@fail_fatal
def restore_atera_catalog(*, plan_id: str) -> dict[str, Any]:
    """Recreate the Atera products/expenses a replacement removed, from their snapshots (DAG
    ``atera_qbo_restore_catalog``)."""
    plan_id = (plan_id or "").strip()
    if not plan_id:
        raise FatalError("plan_id is empty: give the plan id of the replacement to undo (catalog-<matching run id>, "
                         "in the matching task's summary and in the name of catalog_snapshots/<plan id>.json)")
    with wiring() as w:
        restored = cr.restore(w.engine, w.atera, plan_id=plan_id)
    for r in restored:
        log.info("restored Atera %s %s %r as %s%s", r["kind"], r["old_id"], r["name"], r["new_id"],
                 " (found in Atera: created before an interruption)" if r["adopted"] else "")
    log.info("plan %s: %d record(s) restored; a record restored before is never restored again", plan_id,
             len(restored))
    return {"plan_id": plan_id, "restored": restored}
