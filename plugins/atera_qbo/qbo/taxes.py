"""Taxes per country, in one place. QBO is the master for taxes: invoices go out pre-tax and QBO adds the tax.

- US companies: lines carry the pseudo codes ``TAX``/``NON`` (from the item's ``Taxable``); items need no code.
- Non-US companies (GB, CA, …): every sales line needs a real TaxCode. An item's own ``SalesTaxCodeRef`` is the
  code its lines take; lines of items without one take the company's 0% code. Items this project creates in QBO
  get the configured default sales tax code (connection extra ``default_sales_tax_code``: a TaxCode id or name),
  which must be an active TaxCode staged from QBO — otherwise a plan that would create items is refused before
  any write, naming the codes the company has.
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ..errors import ConfigError
from ..staging.db import table

COUNTRY_ALIASES = {"UNITED STATES": "US", "USA": "US", "UNITED KINGDOM": "GB", "UK": "GB", "CANADA": "CA"}


def country_code(country: str | None) -> str:
    """ISO code of a QBO company's country (``Country`` in CompanyInfo/Preferences says it several ways)."""
    value = (country or "US").strip().upper()
    return COUNTRY_ALIASES.get(value, value)


def company_country(engine: sa.Engine) -> str:
    prefs = table("stg_qbo_preferences")
    with engine.connect() as conn:
        country = conn.execute(sa.select(prefs.c.country)).scalar()
    return country_code(country)


def default_item_tax_code(engine: sa.Engine, configured: Any,
                          setting: str = "extra.default_sales_tax_code of connection quickbooks_default") -> str | None:
    """The SalesTaxCodeRef for items created in QBO: None for a US company; otherwise the configured code's id,
    checked against the staged TaxCodes (active). Raises ``ConfigError`` naming the company's active codes."""
    country = company_country(engine)
    if country == "US":
        return None
    codes = table("stg_qbo_tax_codes")
    with engine.connect() as conn:
        rows = conn.execute(sa.select(codes.c.source_id, codes.c.name, codes.c.active)
                            .where(codes.c.deleted_at.is_(None))).all()
    active = ", ".join(f"{sid} {name!r}" for sid, name, on in sorted(rows) if on) or "none staged"
    wanted = str(configured).strip() if configured not in (None, "") else ""
    if not wanted:
        raise ConfigError(f"the QBO company is in {country}: items created in QBO need a sales tax code. Set {setting} "
                          f"to one of the active tax codes ({active}), then run again; nothing was written")
    match = [r for r in rows if str(r.source_id) == wanted or (r.name or "").strip().lower() == wanted.lower()]
    if not match:
        raise ConfigError(f"{setting} = {wanted!r} is not a QBO tax code of this company (active: {active}); "
                          "fix the setting (or run the catalog sync if the code is new), nothing was written")
    if not match[0].active:
        raise ConfigError(f"{setting} = {wanted!r} is an inactive QBO tax code: choose an active one ({active}); "
                          "nothing was written")
    return str(match[0].source_id)
