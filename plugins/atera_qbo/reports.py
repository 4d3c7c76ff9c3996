"""The run summary printed by ``make run`` (``python -m atera_qbo.reports summary``): rows per staging table,
active mappings by method, the last export batch with its QBO ids, and the ledger totals — of one company
(``--company``; default the first)."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import sqlalchemy as sa

from .companies import load_companies
from .config import staging_url
from .errors import ConfigError
from .staging.db import apply_schema, make_engine, table


def summary(engine: sa.Engine) -> dict[str, Any]:
    out: dict[str, Any] = {"staging_rows": {}, "matches": {}, "export": {}}
    with engine.connect() as conn:
        for name in ("stg_atera_customers", "stg_atera_contacts", "stg_atera_contracts", "stg_atera_invoices",
                     "stg_qbo_customers", "stg_qbo_items", "stg_qbo_accounts", "stg_qbo_tax_codes"):
            tbl = table(name)
            out["staging_rows"][name] = conn.execute(sa.select(sa.func.count()).select_from(tbl)).scalar()
        ap = table("stg_atera_products")
        for kind, n in conn.execute(sa.select(ap.c.kind, sa.func.count()).group_by(ap.c.kind)):
            out["staging_rows"][f"stg_atera_products[{kind}]"] = n
        for name in ("map_customers", "map_products"):
            tbl = table(name)
            out["matches"][name] = dict(conn.execute(  # .all(): rows; dict() of a Result would index it by its keys()
                sa.select(tbl.c.method, sa.func.count()).where(tbl.c.active.is_(True)).group_by(tbl.c.method)).all())
        batches, invoices = table("export_batches"), table("export_invoices")
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
        totals: dict[str, int] = dict(conn.execute(sa.select(invoices.c.status, sa.func.count())
                                                 .group_by(invoices.c.status)).all())
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
    parser = argparse.ArgumentParser(prog="python -m atera_qbo.reports")
    parser.add_argument("command", choices=["summary"])
    parser.add_argument("--url", default=None, help="staging SQLAlchemy URL (default: the company's SQLite file)")
    parser.add_argument("--company", default=None, help="the company (companies file id; default: the first)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    try:
        url = args.url or load_companies().get(args.company).staging_url(staging_url(None))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    engine = make_engine(url)
    apply_schema(engine)
    data = summary(engine)
    print(json.dumps(data, indent=2, default=str) if args.json else format_summary(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
