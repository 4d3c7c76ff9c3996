"""Small read-side helpers over staging: mappings kept across matching runs, missing-customer creation for the
export, and the run summary printed by ``make run`` (``python -m atera_qbo.reports summary``)."""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from datetime import date
from typing import Any

import sqlalchemy as sa

from .matching.review_csv import ReviewRow
from .staging.db import table, upsert, utcnow


def kept_mappings(engine: sa.Engine, catalogs: Any) -> list[ReviewRow]:
    """Decisions of earlier commits (overrides, creations, imports) carried into a new matching run as implicit
    ``match`` overrides, so re-running matching never drops what finance decided — unless the QBO record is gone
    or inactive, or an explicit override row replaces it."""
    active_customers = set(catalogs.qbo_customers.loc[catalogs.qbo_customers["active"], "qbo_id"].astype(str))
    active_items = set(catalogs.qbo_items.loc[catalogs.qbo_items["active"], "qbo_id"].astype(str))
    atera_customers = set(catalogs.atera_customers["atera_id"].astype(str))
    atera_products = set(catalogs.atera_products["atera_id"].astype(str))
    rows: list[ReviewRow] = []
    with engine.connect() as conn:
        for entity, name, qbo_ok, atera_ok in (("customer", "map_customers", active_customers, atera_customers),
                                               ("product", "map_products", active_items, atera_products)):
            tbl = table(engine, name)
            for r in conn.execute(sa.select(tbl).where(tbl.c.active.is_(True), tbl.c.method != "exact")):
                if str(r.qbo_id) in qbo_ok and str(r.atera_id) in atera_ok:
                    rows.append(ReviewRow(entity=entity, atera_id=str(r.atera_id), qbo_id=str(r.qbo_id),
                                          action="match", note=f"kept from commit {r.plan_id}"))
    return rows


def create_missing_customers(engine: sa.Engine, qbo: Any, date_from: date, date_to: date,
                             numbers: list[str]) -> dict[str, str]:
    """Create in QBO the Atera customers of the selected invoices that have no QBO customer yet (export param
    ``create_missing_customers``), and map them. Idempotent through requestid."""
    inv, mc, ac = table(engine, "stg_atera_invoices"), table(engine, "map_customers"), \
        table(engine, "stg_atera_customers")
    cond = [inv.c.invoice_date >= date_from.isoformat(), inv.c.invoice_date <= date_to.isoformat(),
            inv.c.customer_id.is_not(None)]
    if numbers:
        cond.append(inv.c.source_id.in_(numbers))
    with engine.connect() as conn:
        mapped = sa.select(mc.c.atera_id).where(mc.c.active.is_(True))
        missing = conn.execute(sa.select(ac.c.source_id, ac.c.name).where(
            ac.c.source_id.in_(sa.select(inv.c.customer_id).where(*cond)), ac.c.source_id.not_in(mapped))).all()
    created: dict[str, str] = {}
    for source_id, name in missing:
        display = " ".join(str(name or "").split())
        rid = hashlib.sha1(f"create-missing|{source_id}|{display}".encode()).hexdigest()[:32]
        obj = qbo.create("Customer", {"DisplayName": display, "CompanyName": display[:100]}, request_id=rid,
                         label=f"create QBO customer for Atera customer {source_id} {display!r}")
        created[str(source_id)] = str(obj["Id"])
        with engine.begin() as conn:
            upsert(conn, mc, [{"atera_id": str(source_id), "atera_name": name, "qbo_id": str(obj["Id"]),
                               "qbo_name": display, "status": "matched_override", "method": "created",
                               "active": True, "plan_id": None, "updated_at": utcnow()}], ["atera_id"])
    return created


def summary(engine: sa.Engine) -> dict[str, Any]:
    out: dict[str, Any] = {"staging_rows": {}, "matches": {}, "export": {}}
    with engine.connect() as conn:
        for name in ("stg_atera_customers", "stg_atera_contacts", "stg_atera_contracts", "stg_atera_invoices",
                     "stg_qbo_customers", "stg_qbo_items", "stg_qbo_accounts", "stg_qbo_tax_codes"):
            tbl = table(engine, name)
            out["staging_rows"][name] = conn.execute(sa.select(sa.func.count()).select_from(tbl)).scalar()
        ap = table(engine, "stg_atera_products")
        for kind, n in conn.execute(sa.select(ap.c.kind, sa.func.count()).group_by(ap.c.kind)):
            out["staging_rows"][f"stg_atera_products[{kind}]"] = n
        for name in ("map_customers", "map_products"):
            tbl = table(engine, name)
            out["matches"][name] = {m: n for m, n in conn.execute(
                sa.select(tbl.c.method, sa.func.count()).where(tbl.c.active.is_(True)).group_by(tbl.c.method))}
        batches, invoices = table(engine, "export_batches"), table(engine, "export_invoices")
        last = conn.execute(sa.select(batches).order_by(batches.c.started_at.desc()).limit(1)).first()
        if last is not None:
            rows = conn.execute(sa.select(invoices.c.atera_invoice_number, invoices.c.qbo_id, invoices.c.status)
                                .where(invoices.c.batch_id == last.batch_id)).all()
            out["export"] = {
                "last_batch": last.batch_id, "status": last.status, "selected": last.selected_count,
                "exported_now": sum(1 for r in rows if r.status == "exported"),
                "skipped_already_exported": last.skipped_count, "failed_or_blocked": last.failed_count,
                "exported_ids": {r.atera_invoice_number: r.qbo_id for r in rows if r.status == "exported"},
            }
        totals = {s: n for s, n in conn.execute(sa.select(invoices.c.status, sa.func.count())
                                                 .group_by(invoices.c.status))}
        out["export"]["ledger_totals"] = totals
    return out


def format_summary(data: dict[str, Any]) -> str:
    lines = ["", "=== Atera → QBO sync summary ===", "Rows in staging:"]
    lines += [f"  {k:<34} {v:>7}" for k, v in data["staging_rows"].items()]
    lines.append("Active mappings (by method):")
    for name, methods in data["matches"].items():
        lines.append(f"  {name:<18} " + (", ".join(f"{m}={n}" for m, n in sorted(methods.items())) or "none"))
    exp = data.get("export") or {}
    if exp.get("last_batch"):
        lines.append(f"Last export batch {exp['last_batch']} ({exp['status']}): selected {exp['selected']}, "
                     f"exported now {exp['exported_now']}, already exported {exp['skipped_already_exported']}, "
                     f"failed/blocked {exp['failed_or_blocked']}")
        ids = exp["exported_ids"]
        if ids:
            shown = list(ids.items())
            lines.append("  Atera invoice → QBO invoice id: " + ", ".join(f"{a}→{q}" for a, q in shown[:12])
                         + (f", … ({len(shown)} in all)" if len(shown) > 12 else ""))
    lines.append(f"Ledger totals: {exp.get('ledger_totals', {})}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from .config import staging_url
    from .staging.db import apply_schema, make_engine

    parser = argparse.ArgumentParser(prog="python -m atera_qbo.reports")
    parser.add_argument("command", choices=["summary"])
    parser.add_argument("--url", default=None, help="staging SQLAlchemy URL (default: the SQLite file)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    engine = make_engine(args.url or staging_url(None))
    apply_schema(engine)
    data = summary(engine)
    print(json.dumps(data, indent=2, default=str) if args.json else format_summary(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
