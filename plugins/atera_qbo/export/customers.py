"""The export's ``create_missing_customers``: Atera customers of the selected invoices that have no QBO customer
yet are created in QBO (idempotently, through requestid) and mapped."""
from __future__ import annotations

import hashlib
from datetime import date
from typing import Any

import sqlalchemy as sa

from ..staging.db import table, upsert, utcnow


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
