"""Exact matching in pandas, overrides from the finance-reviewed CSV, and scored suggestions (rapidfuzz).

Inputs are staged catalogs; the output is one review row per Atera record (plus ``qbo_only`` rows for QBO
customers with no Atera twin), in the CSV format of ``review_csv``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd
import sqlalchemy as sa
from rapidfuzz import fuzz, process

from ..errors import MatchingError
from ..staging.db import table
from .normalize import exact_key, fuzzy_key
from .review_csv import ACTIONS, ENTITIES, ReviewRow

if TYPE_CHECKING:
    import numpy as np

SUGGEST_MIN_SCORE = 80.0  # below: unmatched (no candidate worth showing first)
CANDIDATES = 3


@dataclass
class Catalogs:
    atera_customers: pd.DataFrame  # atera_id, name, + address fields
    qbo_customers: pd.DataFrame  # qbo_id, name, active, is_job
    atera_products: pd.DataFrame  # atera_id (kind:id), kind, source_id, name, amount, sku
    qbo_items: pd.DataFrame  # qbo_id, name, active, item_type


def load_catalogs(engine: sa.Engine) -> Catalogs:
    with engine.connect() as conn:
        ac = table(engine, "stg_atera_customers")
        qc = table(engine, "stg_qbo_customers")
        ap = table(engine, "stg_atera_products")
        qi = table(engine, "stg_qbo_items")
        atera_customers = pd.read_sql(
            sa.select(ac.c.source_id.label("atera_id"), ac.c.name, ac.c.address, ac.c.city, ac.c.state,
                      ac.c.country, ac.c.zip_code, ac.c.phone, ac.c.domain)
            .where(ac.c.deleted_at.is_(None)).order_by(ac.c.source_id), conn)
        qbo_customers = pd.read_sql(
            sa.select(qc.c.source_id.label("qbo_id"), qc.c.display_name.label("name"), qc.c.active, qc.c.is_job)
            .where(qc.c.deleted_at.is_(None)), conn)
        atera_products = pd.read_sql(
            sa.select(ap.c.kind, ap.c.source_id, ap.c.name, ap.c.amount, ap.c.sku, ap.c.category)
            .where(ap.c.deleted_at.is_(None)).order_by(ap.c.kind, ap.c.source_id), conn,
            coerce_float=False)  # NUMERIC stays Decimal (pandas would make it float)
        qbo_items = pd.read_sql(
            sa.select(qi.c.source_id.label("qbo_id"), qi.c.name, qi.c.active, qi.c.item_type)
            .where(qi.c.deleted_at.is_(None), qi.c.name.is_not(None), qi.c.item_type != "Category"), conn)
    atera_products.insert(0, "atera_id", atera_products["kind"] + ":" + atera_products["source_id"])
    for frame in (qbo_customers, qbo_items):
        frame["active"] = frame["active"].astype(bool)
    return Catalogs(atera_customers, qbo_customers, atera_products, qbo_items)


def _exact(atera: pd.DataFrame, qbo: pd.DataFrame, entity: str) -> pd.DataFrame:
    """One row per Atera record with the exact-key match outcome (pandas join on the normalized name)."""
    a = atera[["atera_id", "name"]].rename(columns={"name": "atera_name"}).copy()
    a["key"] = a["atera_name"].map(exact_key)
    q = qbo[["qbo_id", "name", "active"]].rename(columns={"name": "qbo_name"}).copy()
    q["key"] = q["qbo_name"].map(exact_key)
    grouped = q.groupby("key").agg(qbo_ids=("qbo_id", list), qbo_names=("qbo_name", list),
                                   actives=("active", list)).reset_index()
    merged = a.merge(grouped, on="key", how="left")
    rows = []
    for rec in merged.itertuples(index=False):
        row = ReviewRow(entity=entity, atera_id=str(rec.atera_id), atera_name=rec.atera_name or "")
        ids = rec.qbo_ids if isinstance(rec.qbo_ids, list) else []
        if not rec.key:
            row.status, row.note = "conflict", "the Atera record has no name"
        elif not ids:
            row.status = "unmatched"
        else:
            active = [(i, n) for i, n, act in zip(ids, rec.qbo_names, rec.actives) if act]
            if len(active) == 1:
                row.qbo_id, row.qbo_name = str(active[0][0]), active[0][1]
                row.status, row.score = "matched_exact", "100"
            elif len(active) > 1:
                row.status = "conflict"
                row.candidates = ";".join(f"{i}|{n}|100" for i, n in active[:CANDIDATES])
                row.note = f"{len(active)} active QBO records share this name: choose one with action=match"
            else:
                row.status = "conflict"
                row.candidates = ";".join(f"{i}|{n}|100" for i, n in zip(ids, rec.qbo_names))
                row.note = "the QBO record with this name is inactive: reactivate it in QBO, or create/skip here"
        rows.append(row)
    return pd.DataFrame([r.__dict__ for r in rows])


def name_scores(queries: list[str], choices: list[str]) -> "np.ndarray":
    """Similarity 0-100 of each query to each choice: the mean of token-sort and token-set ratios over
    ``fuzzy_key`` forms. Token-set alone rates any subset 100 ("Dental" ~ "Apex Dental Group"); token-sort alone
    punishes an extra word too hard ("Apex Dental" ~ "Apex Dental Group" = 79). Computed with rapidfuzz's
    vectorised ``cdist`` on all cores."""
    import numpy as np

    sort = process.cdist(queries, choices, scorer=fuzz.token_sort_ratio, dtype=np.uint8, workers=-1)
    tset = process.cdist(queries, choices, scorer=fuzz.token_set_ratio, dtype=np.uint8, workers=-1)
    return (sort.astype(np.float32) + tset) / 2


def _suggest(rows: pd.DataFrame, qbo: pd.DataFrame) -> pd.DataFrame:
    """Scored candidates for unmatched rows (active QBO records not already matched exactly)."""
    import numpy as np

    taken = set(rows.loc[rows["status"] == "matched_exact", "qbo_id"])
    pool = qbo[qbo["active"] & ~qbo["qbo_id"].astype(str).isin(taken)]
    todo = rows.index[rows["status"] == "unmatched"]
    if pool.empty or not len(todo):
        return rows
    ids = pool["qbo_id"].astype(str).tolist()
    names = pool["name"].tolist()
    keys = [fuzzy_key(n) for n in names]
    queries = [fuzzy_key(rows.at[i, "atera_name"]) for i in todo]
    for start in range(0, len(todo), 500):  # bounded memory: 500 × pool scores at a time
        scores = name_scores(queries[start:start + 500], keys)
        for offset, idx in enumerate(todo[start:start + 500]):
            if not queries[start + offset]:
                continue
            row_scores = scores[offset]
            best = np.argsort(-row_scores, kind="stable")[:CANDIDATES]
            found = [(ids[j], names[j], float(row_scores[j])) for j in best if row_scores[j] >= SUGGEST_MIN_SCORE]
            if not found:
                continue
            rows.at[idx, "candidates"] = ";".join(f"{i}|{n}|{sc:.0f}" for i, n, sc in found)
            rows.at[idx, "status"] = "suggested"
            rows.at[idx, "qbo_id"], rows.at[idx, "qbo_name"] = found[0][0], found[0][1]
            rows.at[idx, "score"] = f"{found[0][2]:.0f}"
            if len(found) > 1 and found[1][2] >= found[0][2] - 3:
                rows.at[idx, "note"] = "close candidates: check before accepting"
    return rows


def match_all(cat: Catalogs) -> pd.DataFrame:
    """The review table: exact matches, suggestions for the rest, and qbo_only customers."""
    customers = _suggest(_exact(cat.atera_customers, cat.qbo_customers, "customer"), cat.qbo_customers)
    products = _suggest(_exact(cat.atera_products, cat.qbo_items, "product"), cat.qbo_items)
    # A QBO customer that is matched, or is a candidate of a suggestion, is not offered for import: importing it
    # would create in Atera the near-duplicate the suggestion is about (finance can still import it explicitly).
    matched = set(customers.loc[customers["status"] == "matched_exact", "qbo_id"])
    for cands in customers.loc[customers["status"] == "suggested", "candidates"]:
        matched.update(c.split("|", 1)[0] for c in cands.split(";") if c)
    qbo_only = [
        ReviewRow(entity="customer", qbo_id=str(r.qbo_id), qbo_name=r.name, status="qbo_only",
                  note="" if r.active else "inactive in QBO").__dict__
        for r in cat.qbo_customers.itertuples(index=False)
        if str(r.qbo_id) not in matched and r.active and not r.is_job
    ]
    frames = [customers, products, pd.DataFrame(qbo_only)]
    result = pd.concat([f for f in frames if not f.empty], ignore_index=True)
    return result.drop(columns=["line"]).fillna("")


def apply_overrides(review: pd.DataFrame, overrides: list[ReviewRow], cat: Catalogs) -> pd.DataFrame:
    """Apply finance's decisions. Every row is checked first; one bad row rejects the whole file, naming each
    problem with its line, so nothing is half-applied."""
    errors: list[str] = []
    atera_ids = {"customer": set(cat.atera_customers["atera_id"].astype(str)),
                 "product": set(cat.atera_products["atera_id"].astype(str))}
    qbo = {"customer": cat.qbo_customers.assign(qbo_id=cat.qbo_customers["qbo_id"].astype(str))
           .set_index("qbo_id"),
           "product": cat.qbo_items.assign(qbo_id=cat.qbo_items["qbo_id"].astype(str)).set_index("qbo_id")}
    decided: dict[tuple[str, str], ReviewRow] = {}
    for row in overrides:
        if not row.action:
            continue
        where = f"line {row.line} ({row.entity} {row.atera_id or row.qbo_id or '?'})"
        if row.entity not in ENTITIES:
            errors.append(f"{where}: entity must be customer or product")
            continue
        if row.action not in ACTIONS:
            errors.append(f"{where}: action {row.action!r} is not one of match, create, skip, import")
            continue
        if row.action == "import":
            if row.entity != "customer" or not row.qbo_id:
                errors.append(f"{where}: import needs entity=customer and a qbo_id")
            elif row.qbo_id not in qbo["customer"].index:
                errors.append(f"{where}: QBO customer {row.qbo_id} does not exist (re-run the catalog sync?)")
            key = ("import", row.qbo_id)
        else:
            if row.atera_id not in atera_ids[row.entity]:
                errors.append(f"{where}: Atera {row.entity} {row.atera_id!r} does not exist in staging")
                continue
            if row.action == "match":
                if not row.qbo_id:
                    errors.append(f"{where}: action=match needs a qbo_id")
                    continue
                if row.qbo_id not in qbo[row.entity].index:
                    errors.append(f"{where}: QBO {row.entity} {row.qbo_id} does not exist")
                    continue
                if not bool(qbo[row.entity].at[row.qbo_id, "active"]):
                    errors.append(f"{where}: QBO {row.entity} {row.qbo_id} is inactive: reactivate it in QBO first")
                    continue
            key = (row.entity, row.atera_id)
        if key in decided:
            errors.append(f"{where}: contradicts line {decided[key].line} for the same record")
            continue
        decided[key] = row
    if errors:
        raise MatchingError("overrides rejected, nothing applied:\n  " + "\n  ".join(errors))

    review = review.copy()
    index = {(r.entity, r.atera_id): i for i, r in review.iterrows() if r.atera_id}
    qbo_only_index = {r.qbo_id: i for i, r in review.iterrows() if r.status == "qbo_only"}
    for (kind, ident), row in decided.items():
        if kind == "import":
            i = qbo_only_index.get(ident)
            if i is None:
                raise MatchingError(f"line {row.line}: QBO customer {ident} already has an Atera match; "
                                    "remove the import row")
            review.loc[i, ["action", "note"]] = ["import", row.note or "import into Atera (override)"]
            continue
        i = index[(kind, ident)]
        if row.action == "match" and kind == "customer" and row.qbo_id in qbo_only_index:
            review = review.drop(index=qbo_only_index.pop(row.qbo_id))  # now matched: no longer QBO-only
        if row.action == "match":
            name = str(qbo[kind].at[row.qbo_id, "name"])
            review.loc[i, ["qbo_id", "qbo_name", "action", "status", "note"]] = [
                row.qbo_id, name, "match", "matched_override", row.note or "decided in the overrides file"]
        else:
            review.loc[i, ["action"]] = [row.action]
            if row.action == "skip":
                review.loc[i, ["qbo_id", "qbo_name"]] = ["", ""]
    return review


STATUS_ORDER = {"conflict": 0, "suggested": 1, "unmatched": 2, "qbo_only": 3, "matched_override": 4,
                "matched_exact": 5}


def for_review(review: pd.DataFrame) -> pd.DataFrame:
    """Rows in the order a reviewer works: customers then products, what needs a decision first, then by name."""
    if review.empty:
        return review
    keys = pd.DataFrame({
        "e": review["entity"].map({"customer": 0, "product": 1}).fillna(2),
        "s": review["status"].map(STATUS_ORDER).fillna(9),
        "n": (review["atera_name"].where(review["atera_name"] != "", review["qbo_name"])).map(exact_key),
    }, index=review.index)
    return review.loc[keys.sort_values(["e", "s", "n"], kind="stable").index].reset_index(drop=True)


def decisions(review: pd.DataFrame, *, create_unmatched: bool, import_unmatched: bool) -> pd.DataFrame:
    """What the commit will do per row: ``map`` | ``create_qbo`` | ``import_atera`` | ``none``.

    ``create_unmatched`` creates only rows with no candidate at all (``unmatched``): a ``suggested`` row waits for
    a decision, because auto-creating near-duplicates is the first source of duplicate customers in QBO.
    """
    def decide(r: Any) -> str:
        if r.action == "skip":
            return "none"
        if r.status in ("matched_exact", "matched_override"):
            return "map"
        if r.action == "create" or (create_unmatched and r.status == "unmatched" and r.atera_id):
            return "create_qbo"
        if r.status == "qbo_only" and (r.action == "import" or import_unmatched):
            return "import_atera"
        return "none"

    review = review.copy()
    review["decision"] = [decide(r) for r in review.itertuples(index=False)] if len(review) else []
    return review
