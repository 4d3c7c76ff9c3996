"""The review table: exact matches (``exact``; ``contacts`` for customers whose names are written differently),
scored suggestions for the rest (``suggest``), QBO-only customers; then finance's decisions (``overrides``) and
what the commit will do with each row (``decisions``).

Inputs are staged catalogs (``catalogs``); the output is one review row per Atera record (plus ``qbo_only`` rows
for QBO customers with no Atera twin), with the columns of ``review.ReviewRow``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import review as rv
from .catalogs import Catalogs, load_catalogs
from .commit import Step
from .contacts import contact_matches
from .exact import exact_customers, exact_products
from .normalize import exact_keys
from .overrides import apply_overrides
from .review import Action, Decision, Entity, MatchStatus
from .suggest import CANDIDATES, SUGGEST_MIN_SCORE, name_scores, suggest

__all__ = ["CANDIDATES", "SUGGEST_MIN_SCORE", "Catalogs", "apply_overrides", "decisions", "for_review",
           "load_catalogs", "match_all", "name_scores"]


def _taken(rows: pd.DataFrame) -> set[str]:
    return set(rows.loc[rows["status"] == MatchStatus.MATCHED_EXACT, "qbo_id"].tolist())


def _listed(rows: pd.DataFrame) -> pd.Series:
    """QBO ids named as candidates by any row (suggested, conflict, or matched by contacts among candidates)."""
    cands = rows.loc[rows["candidates"] != "", "candidates"].str.split(";").explode()
    return cands.str.split("|").str[0]


def match_all(cat: Catalogs) -> pd.DataFrame:
    """The review table: exact matches, suggestions for the rest, and qbo_only customers."""
    customers = exact_customers(cat.atera_customers, cat.qbo_customers)
    taken = _taken(customers)  # suggestions leave exact matches as they are; contact matches add to them
    suggest(customers, cat.qbo_customers, taken)
    contact_matches(customers, cat.atera_customers, cat.qbo_customers, taken)
    products = exact_products(cat.atera_products, cat.qbo_items)
    suggest(products, cat.qbo_items, _taken(products))
    # A QBO customer that is matched, or is a candidate of any row, is not offered for import:
    # importing it would create in Atera the near-duplicate the suggestion is about (finance can still import it
    # explicitly; its row then names the Atera customer it resembles).
    q = cat.qbo_customers
    held = _taken(customers) | set(_listed(customers).tolist())  # contact matches included
    is_job = q["is_job"].fillna(False).astype(bool) if "is_job" in q else pd.Series(False, index=q.index)
    offer = q[q["active"].astype(bool) & ~is_job & ~q["qbo_id"].astype(str).isin(held)]
    qbo_only = rv.empty(len(offer), entity=Entity.CUSTOMER, qbo_id=offer["qbo_id"].astype(str),
                        qbo_name=offer["name"].fillna("").astype(str), status=MatchStatus.QBO_ONLY)
    return pd.concat([f for f in (customers, products, qbo_only) if not f.empty] or [rv.empty()],
                     ignore_index=True)


STATUS_ORDER = {MatchStatus.CONFLICT: 0, MatchStatus.SUGGESTED: 1, MatchStatus.UNMATCHED: 2,
                MatchStatus.QBO_ONLY: 3, MatchStatus.MATCHED_OVERRIDE: 4, MatchStatus.MATCHED_EXACT: 5}


def for_review(review: pd.DataFrame) -> pd.DataFrame:
    """Rows in the order a reviewer works: customers then products, what needs a decision first, then by name."""
    if review.empty:
        return review
    keys = pd.DataFrame({
        "e": review["entity"].map({Entity.CUSTOMER: 0, Entity.PRODUCT: 1}).fillna(2),
        "s": review["status"].map(STATUS_ORDER).fillna(9),
        "n": exact_keys(review["atera_name"].where(review["atera_name"] != "", review["qbo_name"]).tolist()),
    }, index=review.index)
    return review.loc[keys.sort_values(["e", "s", "n"], kind="stable").index].reset_index(drop=True)


def decisions(review: pd.DataFrame, *, create_unmatched: bool, import_unmatched: bool) -> pd.DataFrame:
    """What the commit will do per row (``decision``): map | create_qbo | import_atera | none.

    ``create_unmatched`` creates only rows with no candidate at all (``unmatched``): a ``suggested`` row waits for
    a decision, because auto-creating near-duplicates is the first source of duplicate customers in QBO.
    """
    action, status = review["action"], review["status"]
    has_atera = review["atera_id"] != ""
    review = review.copy()
    review["decision"] = np.select(
        [action == Action.SKIP,
         status.isin(list(rv.MATCHED)),
         (action == Action.CREATE) | (create_unmatched & (status == MatchStatus.UNMATCHED) & has_atera),
         (status == MatchStatus.QBO_ONLY) & ((action == Action.IMPORT) | import_unmatched)],
        [Decision.NONE, Decision.MAP, Decision.CREATE_QBO, Decision.IMPORT_ATERA], default=Decision.NONE,
    ).astype(object) if len(review) else []
    return review


def after_commit(review: pd.DataFrame, steps: list[Step]) -> pd.DataFrame:
    """The review as a successful commit left it: a created row carries its new QBO id, an imported row its new
    Atera id, both ``matched_override`` — what the review file of a committing run shows."""
    review = review.copy()
    created = {(s.entity, s.atera_id): (s.result_id, s.payload.get("DisplayName") or s.payload.get("Name"))
               for s in steps if s.action == Decision.CREATE_QBO and s.result_id}
    imported = {s.qbo_id: (s.result_id, s.payload.get("CustomerName")) for s in steps
                if s.action == Decision.IMPORT_ATERA and s.result_id}
    is_create = (review["decision"] == Decision.CREATE_QBO).to_numpy()
    keys = list(zip(review["entity"].astype(str), review["atera_id"].astype(str), strict=True))
    for column, picks, where, index in (("qbo_id", created, is_create, 0), ("qbo_name", created, is_create, 1)):
        values = [picks.get(k, (None, None))[index] for k in keys]
        has = where & np.array([v is not None for v in values])
        review.loc[has, column] = np.array(values, dtype=object)[has]
    is_import = (review["decision"] == Decision.IMPORT_ATERA).to_numpy()
    ids = [imported.get(q, (None, None)) for q in review["qbo_id"].astype(str)]
    has_import = is_import & np.array([i[0] is not None for i in ids])
    review.loc[has_import, "atera_id"] = np.array([i[0] for i in ids], dtype=object)[has_import]
    review.loc[has_import, "atera_name"] = np.array([i[1] for i in ids], dtype=object)[has_import]
    done = (is_create & (review["qbo_id"] != "").to_numpy()) | has_import
    review.loc[done, ["status", "score"]] = [MatchStatus.MATCHED_OVERRIDE, ""]
    verb = np.where(is_create, "created in QBO by this commit", "imported into Atera by this commit")[done]
    review.loc[done, "note"] = np.where(review.loc[done, "note"] != "", review.loc[done, "note"] + "; " + verb, verb)
    return review
