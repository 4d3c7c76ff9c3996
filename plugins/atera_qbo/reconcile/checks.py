"""Findings about the mappings: their records gone, inactive or renamed, prices drifted, records left unmapped."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd
import sqlalchemy as sa

from ..companies import dag_of
from ..extract.routing import router_for_database, unrouted_customers
from ..matching.catalogs import load_catalogs
from ..matching.match import match_all
from ..matching.review import Entity, MatchStatus, rows_of
from ..staging.db import money_in, table
from .findings import Finding, Records, qbo_link

# a ``map_customers`` / ``map_products`` row: atera_id, atera_name, qbo_id, qbo_name, active
MappingRow = sa.Row[Any, Any, Any, Any, Any]


@dataclass
class Rec:
    name: str
    gone: bool
    active: bool = True
    price: Decimal | None = None


@dataclass
class Side:
    """One entity's mappings with both catalogs: ``maps`` are the mappings in force; ``known`` every Atera/QBO id
    any mapping ever named (a record finance decided on is not "new")."""
    entity: str  # customer | item
    maps: list[MappingRow]
    atera: dict[str, Rec]
    qbo: dict[str, Rec]
    known_atera: set[str]
    known_qbo: set[str]


def _maps(conn: sa.Connection, tbl: sa.Table) -> tuple[list[MappingRow], set[str], set[str]]:
    rows = conn.execute(sa.select(tbl.c.atera_id, tbl.c.atera_name, tbl.c.qbo_id, tbl.c.qbo_name, tbl.c.active)).all()
    live = [r for r in rows if r.active and r.qbo_id]
    return live, {str(r.atera_id) for r in rows}, {str(r.qbo_id) for r in rows if r.qbo_id}


def load_sides(engine: sa.Engine) -> list[Side]:
    ac, qc = table("stg_atera_customers"), table("stg_qbo_customers")
    ap, qi = table("stg_atera_products"), table("stg_qbo_items")
    with engine.connect() as conn:
        cmaps, ca, cq = _maps(conn, table("map_customers"))
        pmaps, pa, pq = _maps(conn, table("map_products"))
        atera_c = {str(r.source_id): Rec(r.name or "", r.deleted_at is not None)
                   for r in conn.execute(sa.select(ac.c.source_id, ac.c.name, ac.c.deleted_at))}
        qbo_c = {str(r.source_id): Rec(r.display_name or "", r.deleted_at is not None, bool(r.active))
                 for r in conn.execute(sa.select(qc.c.source_id, qc.c.display_name, qc.c.active, qc.c.deleted_at,
                                                 qc.c.is_job))}
        atera_p = {f"{r.kind}:{r.source_id}": Rec(r.name or "", r.deleted_at is not None, price=money_in(r.amount))
                   for r in conn.execute(sa.select(ap.c.kind, ap.c.source_id, ap.c.name, ap.c.amount,
                                                   ap.c.deleted_at))}
        qbo_i = {str(r.source_id): Rec(r.name or "", r.deleted_at is not None, bool(r.active),
                                       money_in(r.unit_price))
                 for r in conn.execute(sa.select(qi.c.source_id, qi.c.name, qi.c.active, qi.c.unit_price,
                                                 qi.c.deleted_at))}
    return [Side("customer", cmaps, atera_c, qbo_c, ca, cq), Side("item", pmaps, atera_p, qbo_i, pa, pq)]


def _noun(entity: str) -> str:
    return "customer" if entity == "customer" else "item"


def mapping_findings(side: Side) -> list[Finding]:
    out: list[Finding] = []
    noun = _noun(side.entity)
    for m in side.maps:
        atera_id, qbo_id = str(m.atera_id), str(m.qbo_id)
        a, q = side.atera.get(atera_id), side.qbo.get(qbo_id)
        base: Records = {"entity": side.entity, "atera_id": atera_id,
                         "atera_name": a.name if a else (m.atera_name or ""), "qbo_id": qbo_id,
                         "qbo_name": q.name if q else (m.qbo_name or "")}
        if q is None or q.gone:
            out.append(Finding("mapping_target_deleted", "critical", **base,
                               detail=f"QBO {noun} {qbo_id} ({m.qbo_name}) was deleted or merged into another "
                                      f"record; exports to it are blocked",
                               action=f"Map the Atera {noun} to the QBO {noun} it was merged into (matching "
                                      f"overrides, action=match) and commit; then re-run the export."))
        elif not q.active:
            out.append(Finding("mapping_target_inactive", "warning", **base, qbo_link=qbo_link(side.entity, qbo_id),
                               detail=f"QBO {noun} {q.name!r} is inactive; exports to it are blocked",
                               action=f"Reactivate the {noun} in QBO, or map the Atera {noun} to another one; "
                                      f"reconciliation unblocks the export on its next run."))
        if a is None or a.gone:
            out.append(Finding("mapping_source_gone", "warning", **base, qbo_link=_link(side.entity, qbo_id, q),
                               detail=f"Atera {noun} {atera_id} no longer exists (the mapping is still in force)",
                               action=f"If it was replaced in Atera, map the new {noun} (matching DAG); otherwise "
                                      f"nothing to do: the mapping stays for history."))
        out.extend(_renames(side.entity, m, a, q, base))
        if side.entity == "item" and a is not None and q is not None and not q.gone:
            out.extend(_price_drift(m, a, q, base))
    return out


def _link(entity: str, qbo_id: str, q: Rec | None) -> str:
    return qbo_link(entity, qbo_id) if q is not None and not q.gone else ""


def _renames(entity: str, m: MappingRow, a: Rec | None, q: Rec | None, base: Records) -> list[Finding]:
    out = []
    for side, old, now in (("atera", m.atera_name, a), ("qbo", m.qbo_name, q)):
        if now is None or now.gone or not old or now.name == old:
            continue
        where = "Atera" if side == "atera" else "QBO"
        out.append(Finding("name_changed", "info", **base, subkey=side,
                           qbo_link=_link(entity, base["qbo_id"], q),
                           detail=f"{where} name {old!r} → {now.name!r} since the mapping was committed",
                           action="Nothing to do if it is the same client/product; otherwise map it again "
                                  "(matching DAG)."))
    return out


def _price_drift(m: MappingRow, a: Rec, q: Rec, base: Records) -> list[Finding]:
    if a.price is None or q.price is None or a.price == q.price:
        return []
    diff = q.price - a.price
    percent = f"{diff / a.price * 100:+.1f}%" if a.price else "n/a"
    return [Finding("price_drift", "warning", **base, qbo_link=qbo_link("item", base["qbo_id"]),
                    detail=f"Atera {a.price} vs QBO {q.price}: {diff:+} ({percent})",
                    action="Align the price on the side that is wrong (QBO item or Atera rate); invoices carry "
                           "Atera's price either way.")]


def _unknown(frame: pd.DataFrame, known: set[str]) -> pd.DataFrame:
    return frame[~frame["atera_id"].astype(str).isin(known)].reset_index(drop=True)


def unmapped_findings(engine: sa.Engine, sides: list[Side]) -> list[Finding]:
    """Records on either side no mapping names, with the suggestion the matching DAG gives."""
    by_entity = {s.entity: s for s in sides}
    cat = load_catalogs(engine)  # only the Atera records no mapping names need suggestions (all of QBO is the pool)
    cat.atera_customers = _unknown(cat.atera_customers, by_entity["customer"].known_atera)
    cat.atera_products = _unknown(cat.atera_products, by_entity["item"].known_atera)
    review = match_all(cat)
    out: list[Finding] = []
    for r in rows_of(review):
        entity = "customer" if r.entity == Entity.CUSTOMER else "item"
        side = by_entity[entity]
        if r.status == MatchStatus.QBO_ONLY:
            if str(r.qbo_id) in side.known_qbo:
                continue
            out.append(Finding("unmapped", "info", entity, qbo_id=str(r.qbo_id), qbo_name=r.qbo_name,
                               qbo_link=qbo_link(entity, str(r.qbo_id)),
                               detail="QBO customer without an Atera customer",
                               action="Import it into Atera (matching DAG, import_unmatched_qbo_customers), or "
                                      "leave it if it is not an Atera client."))
            continue
        if str(r.atera_id) in side.known_atera:
            continue
        suggestion = f"suggested: {r.qbo_name} ({r.score})" if r.qbo_id else "no QBO candidate"
        if r.status == MatchStatus.MATCHED_EXACT:
            suggestion = f"same name in QBO: {r.qbo_name}"
        out.append(Finding("unmapped", "info", entity, atera_id=str(r.atera_id), atera_name=r.atera_name,
                           qbo_id=str(r.qbo_id or ""), qbo_name=r.qbo_name or "",
                           qbo_link=qbo_link(entity, str(r.qbo_id)) if r.qbo_id else "",
                           detail=f"new in Atera, not mapped; {suggestion}",
                           action=f"Run {dag_of('atera_qbo_matching')}, check match_review.csv and commit (or "
                                  "create it in QBO); invoices using it are blocked until then."))
    return out


def unrouted_findings(engine: sa.Engine) -> list[Finding]:
    """One warning per Atera customer no company's route places (or two do), from the last customer extraction."""
    rows = unrouted_customers(engine)
    if not rows:
        return []
    router = router_for_database(engine)
    what = " or ".join(["Country"] * router.uses_country + [f"custom field {f!r}" for f in router.fields]) \
        or "Country (or the custom field)"
    values = ", ".join(router.accepted_values()) or "a routed value"
    out = []
    for r in rows:
        value = f"; its value: {r['rule_value']}" if r["rule_value"] else ""
        out.append(Finding("unrouted_customer", "warning", "customer", atera_id=str(r["source_id"]),
                           atera_name=r["name"] or "", detail=f"{r['reason'] or 'no route places it'}{value}",
                           action=f"Set its {what} in Atera to one of {values} (so that exactly one company's "
                                  "route places it), or add a route for it to the companies file; its invoices "
                                  "are never exported until then."))
    return out
