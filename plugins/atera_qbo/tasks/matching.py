"""Tasks of ``atera_qbo_matching``: the review (every run), the commit (the wizard's Done) and the catalog
replacement (Atera's products follow QBO's items)."""
from __future__ import annotations

import logging
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from ..config import data_docs_keep_runs, overrides_file, setting, variable
from ..matching import catalog_replace as cr
from ..matching import commit as committing
from ..matching.catalogs import Catalogs
from ..matching.kept import kept_mappings
from ..matching.match import after_commit, apply_overrides, decisions, for_review, load_catalogs, match_all
from ..matching.review import ReviewRow, rows_of
from ..matching.review_csv import KEEP_RUNS, read_rows, write_review
from ..quality.mapping_gate import check as gate_mapping
from ..staging.db import table
from ..staging.mappings import OverridesFile
from .runtime import Wiring, fail_fatal, run_stamp, wiring

log = logging.getLogger(__name__)


def _overrides(engine: sa.Engine, catalogs: Catalogs, overrides_path: str | None,
               out_dir: Path) -> tuple[list[ReviewRow], OverridesFile | None]:
    """The mappings in force, with the overrides file's decisions (if any) over them."""
    overrides: list[ReviewRow] = kept_mappings(engine, catalogs)
    if not overrides_path:
        return overrides, None
    path = overrides_file(overrides_path, out_dir, variable)
    explicit = list(read_rows(path))
    explicit_keys = {(r.entity, r.atera_id or r.qbo_id) for r in explicit if r.action}
    overrides = [o for o in overrides if (o.entity, o.atera_id) not in explicit_keys] + explicit
    source = OverridesFile.of(path, [(r.entity, r.atera_id or r.qbo_id, r.line) for r in explicit if r.action])
    return overrides, source


@fail_fatal
def match(*, overrides_path: str | None, commit: bool, create_unmatched_in_qbo: bool,
          import_unmatched_qbo_customers: bool, run_id: str | None = None,
          replace_atera_catalog: bool = False, as_of: date | None = None) -> dict[str, Any]:
    with wiring() as w:
        catalogs = load_catalogs(w.engine)
        overrides, source = _overrides(w.engine, catalogs, overrides_path, w.review_dir)
        review = apply_overrides(match_all(catalogs), overrides, catalogs)
        review = decisions(review, create_unmatched=create_unmatched_in_qbo,
                           import_unmatched=import_unmatched_qbo_customers)
        stamp = run_stamp(run_id)
        keep = int(setting("atera_qbo_review_keep") or KEEP_RUNS)
        latest = write_review(w.review_dir, stamp, for_review(review), keep)
        summary: dict[str, Any] = {
            "review_csv": str(latest),
            "status_counts": _status_counts(review),
            "decisions": {str(k): int(v) for k, v in review["decision"].value_counts().items()},
        }
        if commit:
            outcome, steps = _commit(w, review, catalogs, as_of=as_of or date.today(), run_id=run_id, source=source)
            summary.update(outcome)
            write_review(w.review_dir, stamp, for_review(after_commit(review, steps)), keep)
        if replace_atera_catalog:
            summary["catalog_replacement"] = _replace_catalog(w, review, stamp, commit=commit)
        if commit:
            summary["qbo_calls"] = w.qbo_calls()
    log.info("matching: %s", summary)
    return summary


def _status_counts(review: pd.DataFrame) -> dict[str, int]:
    """Rows per ``entity:status`` (the summary finance reads first)."""
    counts = review.groupby(["entity", "status"]).size().reset_index(name="n")
    return {f"{e}:{s}": int(n) for e, s, n in zip(counts["entity"], counts["status"], counts["n"], strict=True)}


def _commit(w: Wiring, review: pd.DataFrame, catalogs: Catalogs, *, as_of: date, run_id: str | None,
            source: OverridesFile | None) -> tuple[dict[str, Any], list[committing.Step]]:
    """The mapping gate, then the commit's steps (QBO creates, Atera imports), then the new mapping in force;
    answers the summary's part and the steps (what the review written after the commit shows)."""
    gate = gate_mapping(review, catalogs, w.engine, as_of=as_of, docs_dir=w.review_dir / "data_docs",
                        keep_runs=data_docs_keep_runs(variable))
    steps = committing.build_steps(review, catalogs, w.engine, sales_tax_code=w.qbo_settings.default_sales_tax_code)
    before = active_mapping(w.engine)
    atera = w.atera if any(s.action == "import_atera" for s in steps) else None
    result = committing.execute(w.engine, review, steps, qbo=w.qbo, atera=atera, run_id=run_id, overrides=source)
    return {"mapping_gate": gate["rows"], "commit": result.as_dict(),
            "mapping_changed": active_mapping(w.engine) != before}, steps


def _replace_catalog(w: Wiring, review: pd.DataFrame, stamp: str, *, commit: bool) -> dict[str, Any]:
    """Atera's products replaced by QBO's items: previewed (``catalog_replacement.csv``) on every run that asks,
    applied only with ``commit``, on the mapping the commit just activated (else the one ``review`` proposes)."""
    products, items, active, written = cr.load_inputs(w.engine)
    mapping = active if commit else {**active, **cr.proposed_mapping(rows_of(review))}
    first = cr.is_following(w.engine) is None
    catalog_plan = cr.plan(products, items, mapping, follow=not first, last_written=written)
    out: dict[str, Any] = {"planned": catalog_plan.counts(),
                           "preview_csv": str(cr.write_preview(w.review_dir / "catalog_replacement.csv",
                                                               catalog_plan))}
    if commit:
        done = cr.execute(w.engine, w.atera, catalog_plan, plan_id=f"catalog-{stamp}", review_dir=w.review_dir,
                          first=first)
        out.update(plan_id=f"catalog-{stamp}", done=done.done, snapshot_file=done.snapshot_file)
    return out


def active_mapping(engine: sa.Engine) -> frozenset[tuple[str, str, str]]:
    """The active mapping as (entity, Atera id, QBO id): what tells whether a commit changed it."""
    out: set[tuple[str, str, str]] = set()
    with engine.connect() as conn:
        for entity, name in (("customer", "map_customers"), ("product", "map_products")):
            tbl = table(name)
            out |= {(entity, str(a), str(q)) for a, q in conn.execute(
                sa.select(tbl.c.atera_id, tbl.c.qbo_id).where(tbl.c.active.is_(True)))}
    return frozenset(out)
