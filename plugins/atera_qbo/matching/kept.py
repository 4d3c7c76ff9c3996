"""Decisions of earlier commits carried into a new matching run, so re-running matching keeps what finance
decided."""
from __future__ import annotations

import sqlalchemy as sa

from ..staging import mappings
from .catalogs import Catalogs
from .review import Action, Entity, ReviewRow


def kept_mappings(engine: sa.Engine, catalogs: Catalogs) -> list[ReviewRow]:
    """Decisions of earlier commits (overrides, creations, imports) carried into a new matching run as implicit
    ``match`` overrides, so re-running matching never drops what finance decided — unless the QBO record is gone
    or inactive, or an explicit override row replaces it."""
    active_customers = set(catalogs.qbo_customers.loc[catalogs.qbo_customers["active"], "qbo_id"].astype(str).tolist())
    active_items = set(catalogs.qbo_items.loc[catalogs.qbo_items["active"], "qbo_id"].astype(str).tolist())
    atera_customers = set(catalogs.atera_customers["atera_id"].astype(str).tolist())
    atera_products = set(catalogs.atera_products["atera_id"].astype(str).tolist())
    rows: list[ReviewRow] = []
    with engine.connect() as conn:
        for entity, qbo_ok, atera_ok in ((Entity.CUSTOMER, active_customers, atera_customers),
                                         (Entity.PRODUCT, active_items, atera_products)):
            for r in mappings.active(conn, entity, decided_only=True):
                if str(r.qbo_id) in qbo_ok and str(r.atera_id) in atera_ok:
                    how = mappings.provenance_of(r).describe()
                    rows.append(ReviewRow(entity=entity, atera_id=str(r.atera_id), qbo_id=str(r.qbo_id),
                                          action=Action.MATCH, note=f"kept from commit {r.plan_id}: {how}"))
    return rows
