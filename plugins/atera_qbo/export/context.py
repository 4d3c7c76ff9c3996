"""The transform's context from staging: mappings, the QBO items' tax settings, the company's preferences (country,
custom transaction numbers, currencies) and, for a non-US company, its 0% sales tax code."""
from __future__ import annotations

import json

import sqlalchemy as sa

from ..qbo import rules
from ..qbo.taxes import country_code
from ..staging.db import money_in, table
from .transform import InvoiceContext


def _ship_to(engine: sa.Engine) -> dict[str, dict[str, str]]:
    """Each staged Atera customer's address as QBO's PhysicalAddress (those with an address only)."""
    ac = table("stg_atera_customers")
    with engine.connect() as conn:
        rows = conn.execute(sa.select(ac.c.source_id, ac.c.address, ac.c.city, ac.c.state, ac.c.zip_code,
                                      ac.c.country).where(ac.c.deleted_at.is_(None))).all()
    out = {}
    for row in rows:
        addr = rules.address(dict(row._mapping))
        if addr:
            out[str(row.source_id)] = addr
    return out


def build_context(engine: sa.Engine) -> InvoiceContext:
    mc, mp = table("map_customers"), table("map_products")
    ap, qi = table("stg_atera_products"), table("stg_qbo_items")
    prefs = table("stg_qbo_preferences")
    with engine.connect() as conn:
        customer_map = {str(a): str(q) for a, q in conn.execute(
            sa.select(mc.c.atera_id, mc.c.qbo_id).where(mc.c.active.is_(True), mc.c.qbo_id.is_not(None)))}
        product_map: dict[str, set[str]] = {}
        joined = sa.select(ap.c.name, mp.c.qbo_id).select_from(
            mp.join(ap, mp.c.atera_id == ap.c.kind + ":" + ap.c.source_id)).where(
            mp.c.active.is_(True), mp.c.qbo_id.is_not(None), ap.c.deleted_at.is_(None))
        for name, qbo_id in conn.execute(joined):
            product_map.setdefault(name, set()).add(str(qbo_id))
        items = conn.execute(sa.select(qi.c.source_id, qi.c.taxable, qi.c.raw_json)).all()
        pref = conn.execute(sa.select(prefs)).first()
    item_taxable = {str(i): bool(t) for i, t, _ in items}
    item_tax_code = {}
    for item_id, _, raw in items:
        ref = (json.loads(raw or "{}").get("SalesTaxCodeRef") or {}).get("value")
        if ref:
            item_tax_code[str(item_id)] = str(ref)
    ctx = InvoiceContext(customer_map, product_map, item_taxable, item_tax_code, ship_to=_ship_to(engine))
    if pref is not None:
        ctx.country = country_code(pref.country)
        ctx.custom_txn_numbers = bool(pref.custom_txn_numbers)
        ctx.multi_currency = bool(pref.multi_currency)
        ctx.home_currency = pref.home_currency or "USD"
    if ctx.country != "US":
        ctx.zero_tax_code = zero_tax_code(engine)
    return ctx


def zero_tax_code(engine: sa.Engine) -> str | None:
    """The company's 0% (or exempt) sales TaxCode, for non-taxable lines of non-US companies."""
    codes, rates = table("stg_qbo_tax_codes"), table("stg_qbo_tax_rates")
    with engine.connect() as conn:
        rate_values = {str(i): money_in(v) for i, v in conn.execute(sa.select(rates.c.source_id, rates.c.rate_value))}
        rows = conn.execute(sa.select(codes.c.source_id, codes.c.name, codes.c.raw_json)
                            .where(codes.c.active.is_(True))).all()
    for source_id, _name, raw in rows:
        details = ((json.loads(raw or "{}").get("SalesTaxRateList") or {}).get("TaxRateDetail")) or []
        ids = [str((d.get("TaxRateRef") or {}).get("value")) for d in details]
        if ids and all(rate_values.get(i) == 0 for i in ids):
            return str(source_id)
    for source_id, name, _ in rows:
        if name and ("0%" in name or "exempt" in name.lower() or "zero" in name.lower()):
            return str(source_id)
    return None
