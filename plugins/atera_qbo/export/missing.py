"""What the export creates when it is missing, as Atera's own export does — but never a near-duplicate.

``create_missing_items`` (export param, default true): an invoice line whose Atera product, expense or contract
rate has no active mapping gets a QBO item — the Atera name (QBO's name rules), price and type (``Service`` for
contract rates/labour, ``NonInventory`` for products and expenses), the configured income account and, for a
non-US company, the default sales tax code — then mapped (method ``created``) and used. The create carries a
request id derived from the Atera record, so a crash between the create and the mapping replays QBO's first answer
on the rerun: one item, never two.

The rule for items and customers alike: a record that matching finds a candidate for (``suggested`` or
``conflict``) is NEVER created — that is how duplicates are born. Its invoices are blocked, the candidate named,
with the one-line fix. A record whose name QBO already holds exactly is mapped to that record instead.
"""
from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import sqlalchemy as sa

from ..companies import dag_of
from ..matching.catalogs import Catalogs, load_catalogs
from ..matching.commit import income_account
from ..matching.match import match_all
from ..matching.names import held_names, name_problem
from ..matching.review import Entity, MatchStatus
from ..qbo import rules, taxes
from ..qbo.api import QboApi
from ..staging import mappings
from ..staging.db import table

CANDIDATE_STATUSES = (MatchStatus.SUGGESTED, MatchStatus.CONFLICT)


def candidate_reasons(review: pd.DataFrame, entity: Entity, atera_ids: list[str]) -> dict[str, str]:
    """Atera id → why it must not be created: the QBO candidates matching found for it (with scores)."""
    rows = review[(review["entity"] == entity) & review["atera_id"].isin(atera_ids)
                  & review["status"].isin(CANDIDATE_STATUSES)]
    out = {}
    for r in rows.itertuples():
        listed = "; ".join(f"{c.split('|')[1]} (QBO {c.split('|')[0]}, score {c.split('|')[2]})"
                           for c in str(r.candidates or "").split(";") if c.count("|") >= 2)
        out[str(r.atera_id)] = (f"Atera {entity} {r.atera_id} {r.atera_name!r} has a likely match in QBO, "
                                f"{listed or r.qbo_name!r}: it is not created (that would make a duplicate). Fix: "
                                f"in the overrides file, action=match with that qbo_id (or action=create if it is "
                                f"really new), then run {dag_of('atera_qbo_matching')} with commit=true")
    return out


def unmapped_products(engine: sa.Engine, date_from: date, date_to: date, numbers: list[str]) -> list[dict[str, Any]]:
    """The Atera products/expenses/rates the selected invoices' lines name that have no active mapping."""
    inv, lines = table("stg_atera_invoices"), table("stg_atera_invoice_lines")
    ap, mp = table("stg_atera_products"), table("map_products")
    cond = [inv.c.invoice_date >= date_from.isoformat(), inv.c.invoice_date <= date_to.isoformat()]
    if numbers:
        cond.append(inv.c.source_id.in_(numbers))
    used = sa.select(lines.c.product_name).join(inv, inv.c.source_id == lines.c.invoice_source_id).where(*cond)
    mapped = sa.select(mp.c.atera_id).where(mp.c.active.is_(True), mp.c.qbo_id.is_not(None))
    with engine.connect() as conn:
        rows = conn.execute(sa.select(ap).where(ap.c.name.in_(used), ap.c.deleted_at.is_(None),
                                                (ap.c.kind + ":" + ap.c.source_id).not_in(mapped))
                            .order_by(ap.c.kind, ap.c.source_id)).mappings().all()
    return [dict(r, atera_id=f"{r['kind']}:{r['source_id']}") for r in rows]


def create_missing_items(engine: sa.Engine, qbo: QboApi, date_from: date, date_to: date, numbers: list[str], *,
                         origin: str | None, sales_tax_code: str | None,
                         review: pd.DataFrame | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """Create and map the missing QBO items of the selected invoices. Answers (Atera id → QBO id created or mapped,
    Atera product name → why its lines stay blocked)."""
    missing = unmapped_products(engine, date_from, date_to, numbers)
    if not missing:
        return {}, {}
    catalogs = load_catalogs(engine)
    review = match_all(catalogs) if review is None else review
    refused = candidate_reasons(review, Entity.PRODUCT, [m["atera_id"] for m in missing])
    done: dict[str, str] = {}
    problems: dict[str, str] = {}
    exact = exact_matches(review, Entity.PRODUCT)
    for rec in missing:
        name = rec["name"]
        if rec["atera_id"] in refused:
            problems[name] = refused[rec["atera_id"]]
            continue
        if rec["atera_id"] in exact:  # QBO has it by name or SKU: map it, never create a twin of it
            qbo_id, qbo_name = exact[rec["atera_id"]]
            _map(engine, rec, qbo_id, qbo_name, mappings.Provenance(mappings.Method.EXACT), "matched_exact")
            done[rec["atera_id"]] = qbo_id
            continue
        problem = _name_problem(rec, catalogs)
        if problem:
            problems[name] = problem
            continue
        payload = rules.item_payload(rec, income_account(engine),
                                     taxes.default_item_tax_code(engine, sales_tax_code))
        item = qbo.create("Item", payload, request_id=rules.request_id("create-missing-item", rec["atera_id"],
                                                                       payload["Name"]),
                          label=f"create QBO item for Atera {rec['atera_id']} {name!r}")
        _map(engine, rec, str(item["Id"]), item.get("Name", payload["Name"]),
             mappings.Provenance(mappings.Method.CREATED, origin_plan_id=origin), "matched_override")
        done[rec["atera_id"]] = str(item["Id"])
    return done, problems


def exact_matches(review: pd.DataFrame, entity: Entity) -> dict[str, tuple[str, str]]:
    """Atera id → (QBO id, name) of what matching matched exactly (name, CompanyName, SKU or contacts): such a
    record is mapped, never created again beside its QBO counterpart."""
    rows = review[(review["entity"] == entity) & (review["status"] == MatchStatus.MATCHED_EXACT)]
    return {str(a): (str(q), str(n)) for a, q, n in zip(rows["atera_id"], rows["qbo_id"], rows["qbo_name"],
                                                                     strict=True)}


def _name_problem(rec: dict[str, Any], catalogs: Catalogs) -> str | None:
    label = f"Atera {rec['kind']} {rec['source_id']} {rec['name']!r}"
    clean = rules.clean_name(rec["name"])
    refused = rules.name_problems(clean, "product")
    if refused:
        return f"{label}: QBO cannot take this name as an item: it {' and '.join(refused)}; rename it in Atera"
    held = name_problem(Entity.PRODUCT, clean, held_names(catalogs))
    return f"{label} {held}" if held else None


def _map(engine: sa.Engine, rec: dict[str, Any], qbo_id: str, qbo_name: str, how: mappings.Provenance,
         status: str) -> None:
    mappings.add(engine, "product", mappings.Mapping(rec["atera_id"], qbo_id, how, rec["name"], qbo_name, status))
