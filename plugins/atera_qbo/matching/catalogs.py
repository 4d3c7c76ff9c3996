"""The staged catalogs matching works on, typed: one frame per side and entity, plus every name QBO already holds."""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import sqlalchemy as sa

from ..staging.db import table
from .contacts import contact_domains


def _no_names() -> pd.DataFrame:
    return pd.DataFrame({"namespace": pd.Series(dtype=str), "entity": pd.Series(dtype=str),
                         "qbo_id": pd.Series(dtype=str), "name": pd.Series(dtype=str),
                         "active": pd.Series(dtype=bool)})


@dataclass
class Catalogs:
    atera_customers: pd.DataFrame  # atera_id, name, + address fields, phone, domain[, contact_domain]
    qbo_customers: pd.DataFrame  # qbo_id, name (DisplayName), active, is_job[, company_name, email, phone, web_addr]
    atera_products: pd.DataFrame  # atera_id (kind:id), kind, source_id, name, amount, sku
    qbo_items: pd.DataFrame  # qbo_id, name, active, item_type[, sku]
    # Every name QBO holds, inactive records and item categories included — what a create must not reuse.
    # namespace: "name" (customers, vendors and employees share DisplayName) | "item"; entity: the QBO entity.
    qbo_names: pd.DataFrame = field(default_factory=_no_names)


def load_catalogs(engine: sa.Engine) -> Catalogs:
    ac, qc = table("stg_atera_customers"), table("stg_qbo_customers")
    at = table("stg_atera_contacts")
    ap, qi = table("stg_atera_products"), table("stg_qbo_items")
    qn = table("stg_qbo_names")
    with engine.connect() as conn:
        atera_customers = pd.read_sql(
            sa.select(ac.c.source_id.label("atera_id"), ac.c.name, ac.c.address, ac.c.city, ac.c.state,
                      ac.c.country, ac.c.zip_code, ac.c.phone, ac.c.domain)
            .where(ac.c.deleted_at.is_(None)).order_by(ac.c.source_id), conn)
        contacts = pd.read_sql(sa.select(at.c.customer_id, at.c.email)
                               .where(at.c.deleted_at.is_(None), at.c.email.is_not(None)), conn)
        qbo_customers = pd.read_sql(
            sa.select(qc.c.source_id.label("qbo_id"), qc.c.display_name.label("name"), qc.c.active, qc.c.is_job,
                      qc.c.company_name, qc.c.email, qc.c.phone, qc.c.web_addr)
            .where(qc.c.deleted_at.is_(None)), conn)
        atera_products = pd.read_sql(
            sa.select(ap.c.kind, ap.c.source_id, ap.c.name, ap.c.amount, ap.c.sku, ap.c.category)
            .where(ap.c.deleted_at.is_(None)).order_by(ap.c.kind, ap.c.source_id), conn,
            coerce_float=False)  # NUMERIC stays Decimal (pandas would make it float)
        items = pd.read_sql(
            sa.select(qi.c.source_id.label("qbo_id"), qi.c.name, qi.c.active, qi.c.item_type, qi.c.sku)
            .where(qi.c.deleted_at.is_(None), qi.c.name.is_not(None)), conn)
        others = pd.read_sql(
            sa.select(qn.c.entity, qn.c.source_id.label("qbo_id"), qn.c.display_name.label("name"), qn.c.active)
            .where(qn.c.deleted_at.is_(None)), conn)
    atera_customers["contact_domain"] = atera_customers["atera_id"].astype(str).map(contact_domains(contacts))
    atera_products.insert(0, "atera_id", atera_products["kind"] + ":" + atera_products["source_id"])
    for frame in (qbo_customers, items, others):
        frame["active"] = frame["active"].fillna(True).astype(bool)
    names = pd.concat([
        qbo_customers[["qbo_id", "name", "active"]].assign(namespace="name", entity="Customer"),
        others.assign(namespace="name"),
        items[["qbo_id", "name", "active"]].assign(namespace="item", entity="Item"),
    ], ignore_index=True)[list(_no_names().columns)]
    qbo_items = items[items["item_type"] != "Category"].reset_index(drop=True)
    return Catalogs(atera_customers, qbo_customers, atera_products, qbo_items, names)
