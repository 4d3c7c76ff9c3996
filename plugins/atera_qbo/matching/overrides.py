"""Finance's decisions (the overrides file, plus decisions kept from earlier commits) applied to a review table.

Every line is checked first; one bad line rejects the whole file, each problem named with its line, so nothing
is half-applied. The checked decisions are then applied as joins on ``(entity, atera_id)``, without per-row
writes. One-to-one holds for customers: two lines that map different Atera customers to one QBO customer are
refused, and an exact match whose QBO customer a decision gives to another Atera customer becomes a conflict.
Several Atera products may share one QBO item, but only by such an explicit decision.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import MatchingError
from . import review as rv
from .catalogs import Catalogs
from .review import Action, Entity, MatchStatus, ReviewRow

ACTION_WORDS = "match, create, skip, import"
QBO_SIDE = "qbo"  # decisions on QBO-only customers (import, skip), keyed by their QBO id


def _qbo_side(row: ReviewRow) -> bool:
    return row.action == Action.IMPORT or (row.action == Action.SKIP and not row.atera_id)


@dataclass
class _Ref:
    active: set[str]
    known: set[str]
    names: dict[str, str]

    @classmethod
    def of(cls, qbo: pd.DataFrame) -> _Ref:
        ids = qbo["qbo_id"].astype(str)
        return cls(set(ids[qbo["active"].astype(bool).to_numpy()].tolist()), set(ids.tolist()),
                   dict(zip(ids.tolist(), qbo["name"].fillna("").astype(str).tolist(), strict=True)))


def _where(row: ReviewRow) -> str:
    return f"line {row.line} ({row.entity} {row.atera_id or row.qbo_id or '?'})"


def _who(row: ReviewRow) -> str:
    return f"line {row.line}" if row.line else (row.note or "an earlier commit")


def _problem(row: ReviewRow, atera_ids: dict[Entity, set[str]], qbo: dict[Entity, _Ref]) -> str | None:
    """What is wrong with one decision on its own, if anything."""
    if not isinstance(row.entity, Entity):
        return "entity must be customer or product"
    if not isinstance(row.action, Action):
        return f"action {row.action!r} is not one of {ACTION_WORDS}"
    if row.action == Action.IMPORT or (row.action == Action.SKIP and not row.atera_id and row.qbo_id):
        if row.entity != Entity.CUSTOMER or not row.qbo_id:
            return f"{row.action} of a QBO-only row needs entity=customer and a qbo_id"
        if row.qbo_id not in qbo[Entity.CUSTOMER].known:
            return f"QBO customer {row.qbo_id} does not exist (re-run the catalog sync?)"
        if row.action == Action.IMPORT and row.qbo_id not in qbo[Entity.CUSTOMER].active:
            return f"QBO customer {row.qbo_id} is inactive: reactivate it in QBO first"
        return None
    if row.atera_id not in atera_ids[row.entity]:
        return f"Atera {row.entity} {row.atera_id!r} does not exist in staging"
    if row.action == Action.MATCH:
        if not row.qbo_id:
            return "action=match needs a qbo_id"
        if row.qbo_id not in qbo[row.entity].known:
            return f"QBO {row.entity} {row.qbo_id} does not exist"
        if row.qbo_id not in qbo[row.entity].active:
            return f"QBO {row.entity} {row.qbo_id} is inactive: reactivate it in QBO first"
    return None


def _checked(overrides: Iterable[ReviewRow], review: pd.DataFrame, cat: Catalogs,
             qbo: dict[Entity, _Ref]) -> dict[tuple[str, str], ReviewRow]:
    errors: list[str] = []
    atera_ids = {Entity.CUSTOMER: set(cat.atera_customers["atera_id"].astype(str).tolist()),
                 Entity.PRODUCT: set(cat.atera_products["atera_id"].astype(str).tolist())}
    decided: dict[tuple[str, str], ReviewRow] = {}
    qbo_taken: dict[str, ReviewRow] = {}  # QBO customer id → the decision that takes it (match or import)
    for row in overrides:
        if not row.action:
            continue
        problem = _problem(row, atera_ids, qbo)
        if problem:
            errors.append(f"{_where(row)}: {problem}")
            continue
        key = (QBO_SIDE, row.qbo_id) if _qbo_side(row) else (str(row.entity), row.atera_id)
        if key in decided:
            errors.append(f"{_where(row)}: contradicts line {decided[key].line} for the same record")
            continue
        if row.entity == Entity.CUSTOMER and row.action in (Action.MATCH, Action.IMPORT):
            other = qbo_taken.get(row.qbo_id)
            if other is not None:
                errors.append(f"{_where(row)}: QBO customer {row.qbo_id} is already taken by {_who(other)} "
                              f"({other.action} {other.atera_id or other.qbo_id}): one QBO customer maps to one "
                              "Atera customer — keep one of the two lines")
                continue
            qbo_taken[row.qbo_id] = row
        decided[key] = row
    errors += _import_problems(decided, review)
    if errors:
        raise MatchingError("overrides rejected, nothing applied:\n  " + "\n  ".join(errors))
    return decided


def _import_problems(decided: dict[tuple[str, str], ReviewRow], review: pd.DataFrame) -> list[str]:
    """An import of a QBO customer that an Atera customer already matches (and no line moves) is refused."""
    imports = [r for (kind, _), r in decided.items() if kind == QBO_SIDE and r.action == Action.IMPORT]
    if not imports:
        return []
    customers = review[(review["entity"] == Entity.CUSTOMER)
                       & review["status"].isin([MatchStatus.MATCHED_EXACT, MatchStatus.MATCHED_OVERRIDE])]
    holders = dict(zip(customers["qbo_id"].tolist(), customers["atera_id"].tolist(), strict=True))
    errors = []
    for row in imports:
        holder = holders.get(row.qbo_id)
        if holder is not None and (Entity.CUSTOMER, holder) not in decided:
            errors.append(f"{_where(row)}: QBO customer {row.qbo_id} already has an Atera match (Atera customer "
                          f"{holder}); remove the import row")
    return errors


def _frame(rows: list[ReviewRow]) -> pd.DataFrame:
    return pd.DataFrame({"entity": [str(r.entity) for r in rows], "atera_id": [r.atera_id for r in rows],
                         "qbo_id": [r.qbo_id for r in rows], "action": [str(r.action) for r in rows],
                         "note": [r.note for r in rows], "who": [_who(r) for r in rows]})


def _positions(review: pd.DataFrame, decisions: pd.DataFrame) -> np.ndarray:
    """Row positions in ``review`` of each decision's (entity, atera_id)."""
    atera = review[review["atera_id"] != ""]
    index = pd.MultiIndex.from_arrays([atera["entity"].astype(str), atera["atera_id"].astype(str)])
    found = index.get_indexer(pd.MultiIndex.from_arrays([decisions["entity"], decisions["atera_id"]]))
    return atera.index.to_numpy()[found]


def apply_overrides(review: pd.DataFrame, overrides: list[ReviewRow], cat: Catalogs) -> pd.DataFrame:
    """Apply finance's decisions to a copy of ``review`` (see the module docstring)."""
    qbo = {Entity.CUSTOMER: _Ref.of(cat.qbo_customers), Entity.PRODUCT: _Ref.of(cat.qbo_items)}
    decided = _checked(overrides, review, cat, qbo)
    rows = [r for (kind, _), r in decided.items() if kind != QBO_SIDE]
    qbo_side = [r for (kind, _), r in decided.items() if kind == QBO_SIDE]
    review = review.reset_index(drop=True).copy()
    if rows:
        d = _frame(rows)
        d["pos"] = _positions(review, d)
        _apply_matches(review, d[d["action"] == Action.MATCH], qbo)
        _apply_create_skip(review, d[d["action"].isin([Action.CREATE, Action.SKIP])])
        review = _release_taken(review, d)
    if qbo_side:
        review = _apply_qbo_side(review, _frame(qbo_side), qbo[Entity.CUSTOMER])
    return review


def _apply_create_skip(review: pd.DataFrame, d: pd.DataFrame) -> None:
    """``create`` and ``skip`` on Atera rows. Status and action never contradict: a skipped row matching had
    matched or suggested becomes ``unmatched`` (the note says what was found), and loses its QBO record."""
    if d.empty:
        return
    pos = d["pos"].to_numpy()
    # a create on a row matching already matched stays matched: the record exists (made by an earlier commit of
    # the same overrides file), so the commit maps it instead of creating it twice
    found = review.loc[pos, "status"].isin([MatchStatus.MATCHED_EXACT, MatchStatus.MATCHED_OVERRIDE,
                                            MatchStatus.SUGGESTED]).to_numpy() & (d["action"] == Action.SKIP).to_numpy()
    was = ("decided " + d["action"] + "; matching had found " + review.loc[pos, "status"].to_numpy()
           + " QBO " + review.loc[pos, "qbo_id"].to_numpy() + " '" + review.loc[pos, "qbo_name"].to_numpy() + "'")
    notes = d["note"].where(d["note"] != "", np.where(found, was, review.loc[pos, "note"].to_numpy()))
    review.loc[pos, "action"] = d["action"].to_numpy()
    review.loc[pos, "note"] = notes.to_numpy()
    skipped = pos[found | (d["action"] == Action.SKIP).to_numpy()]
    review.loc[skipped, ["qbo_id", "qbo_name", "score"]] = ""
    review.loc[pos[found], "status"] = MatchStatus.UNMATCHED.value


def _apply_matches(review: pd.DataFrame, d: pd.DataFrame, qbo: dict[Entity, _Ref]) -> None:
    if d.empty:
        return
    names = [qbo[Entity(e)].names.get(q, "") for e, q in zip(d["entity"], d["qbo_id"], strict=True)]
    pos = d["pos"].to_numpy()
    review.loc[pos, ["qbo_id", "qbo_name", "action", "status", "score"]] = np.column_stack([
        d["qbo_id"].to_numpy(object), np.array(names, dtype=object), np.full(len(d), str(Action.MATCH), object),
        np.full(len(d), str(MatchStatus.MATCHED_OVERRIDE), object), np.full(len(d), "", object)])
    review.loc[pos, "note"] = d["note"].where(d["note"] != "", "decided in the overrides file").to_numpy()


def _release_taken(review: pd.DataFrame, d: pd.DataFrame) -> pd.DataFrame:
    """Customers: a QBO customer a decision maps to Atera customer A is no longer an exact match of another Atera
    customer B (B becomes a conflict, to decide), and no longer offered for import."""
    matches = d[(d["entity"] == Entity.CUSTOMER) & (d["action"] == Action.MATCH)]
    if matches.empty:
        return review
    by_qbo = matches.set_index("qbo_id")
    decided_pos = set(d["pos"])
    customers = review["entity"] == Entity.CUSTOMER
    exact = customers & (review["status"] == MatchStatus.MATCHED_EXACT) & review["qbo_id"].isin(by_qbo.index)
    exact &= ~review.index.isin(list(decided_pos))
    if exact.any():
        holder = review.loc[exact, "qbo_id"].map(by_qbo["atera_id"])
        who = review.loc[exact, "qbo_id"].map(by_qbo["who"])
        review.loc[exact, "candidates"] = (review.loc[exact, "qbo_id"] + "|" + review.loc[exact, "qbo_name"]
                                           + "|100").to_numpy()
        review.loc[exact, "note"] = ("its exact match, QBO customer " + review.loc[exact, "qbo_id"]
                                     + ", is mapped to Atera customer " + holder + " by " + who
                                     + ": match this one to another, create or skip it").to_numpy()
        review.loc[exact, ["qbo_id", "qbo_name", "status", "score"]] = ["", "", MatchStatus.CONFLICT, ""]
    gone = (review["status"] == MatchStatus.QBO_ONLY) & review["qbo_id"].isin(by_qbo.index)
    return review[~gone].reset_index(drop=True)


def _apply_qbo_side(review: pd.DataFrame, d: pd.DataFrame, qbo: _Ref) -> pd.DataFrame:
    """``import`` or ``skip`` on a ``qbo_only`` row; a QBO customer held back because it resembles an Atera
    customer gets its own row for an import, whose note names that counterpart."""
    only = review["status"] == MatchStatus.QBO_ONLY
    at = pd.Series(review.index[only], index=review.loc[only, "qbo_id"])
    listed = d[d["qbo_id"].isin(at.index)]
    pos = at.reindex(listed["qbo_id"]).to_numpy()
    default = np.where(listed["action"] == Action.IMPORT, "import into Atera (override)", "")
    review.loc[pos, "action"] = listed["action"].to_numpy()
    review.loc[pos, "note"] = listed["note"].where(listed["note"] != "", default).to_numpy()
    held = d[~d["qbo_id"].isin(at.index) & (d["action"] == Action.IMPORT)]
    if held.empty:
        return review
    resembles = _counterparts(review)
    notes = [(n or "import into Atera (override)") + f"; resembles {resembles.get(q, 'no Atera customer')}"
             for q, n in zip(held["qbo_id"], held["note"], strict=True)]
    extra = rv.empty(len(held), entity=Entity.CUSTOMER, qbo_id=held["qbo_id"],
                     qbo_name=[qbo.names.get(q, "") for q in held["qbo_id"]], status=MatchStatus.QBO_ONLY,
                     action=Action.IMPORT, note=notes)
    return pd.concat([review, extra], ignore_index=True)


def _counterparts(review: pd.DataFrame) -> dict[str, str]:
    """QBO customer id → the Atera customer(s) whose suggestion or conflict lists it."""
    open_rows = review[(review["entity"] == Entity.CUSTOMER)
                       & review["status"].isin([MatchStatus.SUGGESTED, MatchStatus.CONFLICT])
                       & (review["candidates"] != "")]
    if open_rows.empty:
        return {}
    pairs = open_rows.assign(cand=open_rows["candidates"].str.split(";")).explode("cand")
    pairs["qid"] = pairs["cand"].str.split("|").str[0]
    text = "Atera customer " + pairs["atera_id"] + " '" + pairs["atera_name"] + "' (" + pairs["status"] + ")"
    by_qbo = text.groupby(pairs["qid"].to_numpy()).agg(", ".join)
    return {str(qid): who for qid, who in by_qbo.items()}
