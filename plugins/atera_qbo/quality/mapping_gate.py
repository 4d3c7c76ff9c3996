"""The gate on the proposed mapping, run before a commit ("Done") writes anything: a Great Expectations suite over
one frame with a row per decision of the review (and per product the recent invoices use).

What must hold (each a computed column checked through GX, so Data Docs shows it beside the staging gates):

- ``qbo_target_ok`` — a ``match`` points at a QBO record that is staged, not deleted and active;
- ``one_atera_per_qbo_customer`` — a QBO customer is taken by at most one Atera customer (products may share an
  item by decision: several expenses → one item);
- ``planned_name_ok`` — a planned create carries a name QBO accepts and nobody in QBO holds (inactive records,
  vendors and employees included);
- ``recent_product_decided`` — every product an invoice of the last ``RECENT_DAYS`` days uses is mapped or planned
  (matched, to be created now, or with no candidate at all, which the export creates); a suggested, conflicting or
  skipped one would leave those invoices blocked.

A failure raises ``DataQualityError`` naming the rows (``gate_id``), and the commit writes nothing.
"""
from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from ..errors import DataQualityError
from ..matching.catalogs import Catalogs
from ..matching.names import held_names, name_problem
from ..matching.review import Action, Decision, Entity, MatchStatus
from ..qbo import rules
from ..staging.db import table
from .frames import Prepared
from .gates import MAX_EXAMPLES, validate
from .mapping_checks import CHECKS, RECENT_DAYS, TABLE
from .mapping_reasons import checkers, reasons
from .suites import proposed_mapping

__all__ = ["CHECKS", "RECENT_DAYS", "TABLE", "check", "prepare", "suite"]


def _targets(catalogs: Catalogs) -> dict[str, set[str]]:
    """Active QBO ids per entity (what a match may point at)."""
    return {Entity.CUSTOMER: set(catalogs.qbo_customers.loc[catalogs.qbo_customers["active"], "qbo_id"].astype(str)),
            Entity.PRODUCT: set(catalogs.qbo_items.loc[catalogs.qbo_items["active"], "qbo_id"].astype(str))}


def _recent_products(engine: sa.Engine, as_of: date) -> dict[str, list[str]]:
    """Atera product name → the invoices of the last RECENT_DAYS days that use it (their numbers, in order)."""
    inv, lines = table("stg_atera_invoices"), table("stg_atera_invoice_lines")
    since = (as_of - timedelta(days=RECENT_DAYS)).isoformat()
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(lines.c.product_name, lines.c.invoice_source_id).distinct()
            .join(inv, inv.c.source_id == lines.c.invoice_source_id)
            .where(inv.c.invoice_date >= since, inv.c.deleted_at.is_(None), lines.c.product_name.is_not(None))
            .order_by(lines.c.product_name, lines.c.invoice_source_id)).all()
    out: dict[str, list[str]] = {}
    for name, number in rows:
        out.setdefault(str(name), []).append(str(number))
    return out


def prepare(review: pd.DataFrame, catalogs: Catalogs, engine: sa.Engine, *, as_of: date) -> Prepared:
    """The frame the suite validates: one row per decided review row and per recently invoiced product."""
    frame = review[["entity", "atera_id", "atera_name", "qbo_id", "qbo_name", "status", "action", "decision"]].copy()
    frame["qbo_id"] = frame["qbo_id"].fillna("").astype(str)
    is_map = frame["decision"] == Decision.MAP
    targets = _targets(catalogs)
    frame["qbo_target_ok"] = [not m or q in targets[Entity(e)] for m, e, q in
                              zip(is_map, frame["entity"], frame["qbo_id"], strict=True)]
    customer_maps = is_map & (frame["entity"] == Entity.CUSTOMER) & (frame["qbo_id"] != "")
    taken = frame.loc[customer_maps, "qbo_id"].value_counts()
    frame["one_atera_per_qbo_customer"] = ~(customer_maps & frame["qbo_id"].map(taken).fillna(0).gt(1))
    frame["planned_name_ok"] = _planned_names_ok(frame, catalogs)
    invoices = _recent_products(engine, as_of)
    frame["recent_product_decided"] = _recent_decided(frame, invoices)
    why = pd.Series(reasons(frame, checkers(frame, catalogs, invoices)), index=frame.index)
    frame["gate_id"] = (frame["entity"].astype(str) + " " + frame["atera_id"].where(frame["atera_id"] != "",
                                                                                    "qbo:" + frame["qbo_id"])
                        + " '" + frame["atera_name"].where(frame["atera_name"] != "", frame["qbo_name"]) + "'"
                        + why.where(why == "", " — " + why))
    relevant = (frame["decision"] != Decision.NONE) | ~frame["recent_product_decided"]
    out = frame.loc[relevant, ["gate_id", "entity", "decision", "qbo_id", *CHECKS]].reset_index(drop=True)
    out["decision"] = out["decision"].astype(str)
    return Prepared(TABLE, out, {"undecided rows not invoiced recently": int((~relevant).sum())})


def _planned_names_ok(frame: pd.DataFrame, catalogs: Catalogs) -> list[bool]:
    held = held_names(catalogs)
    ok = []
    for decision, entity, name in zip(frame["decision"], frame["entity"], frame["atera_name"], strict=True):
        if decision != Decision.CREATE_QBO:
            ok.append(True)
            continue
        clean = rules.clean_name(name)
        ok.append(bool(clean) and not rules.name_problems(clean, str(entity))
                  and name_problem(Entity(entity), clean, held) is None)
    return ok


def _recent_decided(frame: pd.DataFrame, used: dict[str, list[str]]) -> pd.Series:
    products = frame["entity"] == Entity.PRODUCT
    is_used = products & frame["atera_name"].isin(list(used))
    # an unmatched product nobody decided on has no candidate: the export creates it; a skipped one it must not
    decided = frame["decision"].isin([Decision.MAP, Decision.CREATE_QBO]) | (
        (frame["status"] == MatchStatus.UNMATCHED) & (frame["decision"] == Decision.NONE)
        & (frame["action"] != Action.SKIP))
    return ~is_used | decided


def suite() -> list[Any]:
    """The gate's expectations (``suites.proposed_mapping``)."""
    return proposed_mapping()


def check(review: pd.DataFrame, catalogs: Catalogs, engine: sa.Engine, *, as_of: date,
          docs_dir: Path | None = None, keep_runs: int | None = None) -> dict[str, Any]:
    """Validate the proposed mapping; raises ``DataQualityError`` naming the rows when it must not be committed."""
    summary: dict[str, Any] = validate({TABLE: prepare(review, catalogs, engine, as_of=as_of)}, docs_dir=docs_dir,
                                       fail=False, keep_runs=keep_runs)[TABLE]
    if summary["success"]:
        return summary
    lines = ["commit refused, nothing written: the proposed mapping fails its quality gate:"]
    for f in summary["failed"]:
        more = " …" if f["unexpected_count"] > MAX_EXAMPLES else ""
        lines.append(f"  - {f['expectation']}: fails for {f['unexpected_count']} row(s): "
                     f"{', '.join(f['examples'])}{more}")
    lines.append("Decide those rows in the overrides file (action=match with an active qbo_id, create, or skip "
                 "only what no recent invoice uses) and run the matching again"
                 + (f"; details in the Data Docs: {Path(docs_dir) / 'index.html'}" if docs_dir else "."))
    raise DataQualityError("\n".join(lines), {TABLE: summary})
