"""A small, clean staging dataset for the quality gates, and helpers to stage rows (money as Decimal, stored the
way the dialect stores it). Tests add purpose-made bad rows on top of the clean set."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa

D = Decimal


def stage(bind: sa.Engine | sa.Connection, name: str, rows: list[dict[str, Any]], *,
          tbl: sa.Table | None = None) -> None:
    """Insert rows as the extraction would: ``extracted_at`` set, Decimal amounts through ``money_out``."""
    from atera_qbo.staging.db import table, utcnow

    if not rows:
        return
    engine = bind if isinstance(bind, sa.Engine) else bind.engine
    tbl = tbl if tbl is not None else table(name)
    now = utcnow()
    prepared = []
    for row in rows:
        row = dict(row)
        if "extracted_at" in tbl.c:
            row.setdefault("extracted_at", now)
        prepared.append(row)
    keys = sorted({k for r in prepared for k in r})
    values = [{k: r.get(k) for k in keys} for r in prepared]
    if isinstance(bind, sa.Connection):
        bind.execute(tbl.insert(), values)
        return
    with engine.begin() as conn:
        conn.execute(tbl.insert(), values)


def update(engine: sa.Engine, table_name: str, where: dict[str, Any], /, **values: Any) -> None:
    """Change one staged row (``where`` must match exactly one)."""
    from atera_qbo.staging.db import table

    name = table_name
    tbl = table(name)
    with engine.begin() as conn:
        count = conn.execute(sa.update(tbl).where(*(tbl.c[k] == v for k, v in where.items()))
                             .values(**values)).rowcount
    assert count == 1, f"{name} {where}: {count} rows updated"


CLEAN: dict[str, list[dict[str, Any]]] = {
    "stg_atera_customers": [
        {"source_id": "1", "name": "Contoso Ltd"},
        {"source_id": "2", "name": "Fabrikam, Inc."},
        {"source_id": "3", "name": "Northwind"},
    ],
    "stg_atera_contacts": [
        {"source_id": "c1", "customer_id": "1", "email": "ann@contoso.example"},
        {"source_id": "c2", "customer_id": "2", "email": None},
    ],
    "stg_atera_products": [
        {"kind": "product", "source_id": "1", "name": "Backup 1 TB", "amount": D("10.50")},
        {"kind": "product", "source_id": "2", "name": "Free tier", "amount": D("0")},
        {"kind": "expense", "source_id": "1", "name": "Travel", "amount": D("25.00")},
        {"kind": "rate", "source_id": "1", "name": "Per GB", "amount": D("0.12345")},  # 5 decimals: valid
        {"kind": "rate", "source_id": "2", "name": "Hourly", "amount": D("95")},
    ],
    "stg_atera_contracts": [
        {"source_id": "k1", "customer_id": "1", "name": "Managed"},
        {"source_id": "k2", "customer_id": "2", "name": "Hourly"},
    ],
    # 100.10 + 8.20 = 108.30 exactly in Decimal (not in float: 108.29999999999998)
    "stg_atera_invoices": [
        {"source_id": "INV-1", "currency": "USD", "subtotal": D("100.10"), "tax": D("8.20"), "total": D("108.30")},
        {"source_id": "INV-2", "currency": None, "subtotal": D("50"), "tax": D("0"), "total": D("50.00")},
    ],
    "stg_atera_invoice_lines": [
        {"invoice_source_id": "INV-1", "line_idx": 0, "product_name": "Backup 1 TB"},
        {"invoice_source_id": "INV-1", "line_idx": 1, "product_name": "Hourly"},
        {"invoice_source_id": "INV-2", "line_idx": 0, "product_name": "Travel"},
    ],
    "stg_qbo_customers": [
        {"source_id": "1", "display_name": "Contoso Ltd", "currency": "USD"},
        {"source_id": "2", "display_name": "Maple Leaf Outfitters", "currency": "CAD"},
        {"source_id": "3", "display_name": "No currency", "currency": None},
    ],
    "stg_qbo_accounts": [
        {"source_id": "79", "name": "Services", "account_type": "Income"},
        {"source_id": "80", "name": "Sales", "account_type": "Income"},
    ],
    "stg_qbo_items": [
        {"source_id": "1", "name": "Backup 1 TB", "item_type": "Service", "unit_price": D("10.5"),
         "income_account_id": "79"},
        {"source_id": "2", "name": "Services", "item_type": "Category", "unit_price": None,
         "income_account_id": None},
        {"source_id": "3", "name": "Per GB", "item_type": "Service", "unit_price": D("0.12345"),
         "income_account_id": "80"},
    ],
    "stg_qbo_tax_codes": [{"source_id": "TAX", "name": "TAX"}, {"source_id": "NON", "name": "NON"}],
    "stg_qbo_tax_rates": [{"source_id": "1", "name": "State", "rate_value": D("8.25")}],
    "stg_qbo_terms": [{"source_id": "1", "name": "Net 30", "due_days": 30}],
    "stg_qbo_names": [{"entity": "Vendor", "source_id": "1", "display_name": "Acme Supplies"},
                      {"entity": "Employee", "source_id": "1", "display_name": "Jane Doe"}],
    "stg_qbo_preferences": [{"source_id": "9130350000000001", "country": "US", "home_currency": "USD"}],
}

ALL_TABLES = list(CLEAN)
