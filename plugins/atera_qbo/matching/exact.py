"""Exact matching, one-to-one, as pandas joins on normalized keys (no per-row Python on the matched path).

Keys, in order of strength (``normalize.exact_key`` is the rule for each):
- customers: the QBO ``DisplayName``, then the QBO ``CompanyName`` when it identifies exactly one (non-job) QBO
  customer that no DisplayName match has taken;
- products: the QBO item ``Name`` and the item ``Sku`` (a SKU counts only when it is unique on both sides); a
  name and a SKU that point at different QBO items make a conflict.

A key that hits more than one record on either side is a ``conflict`` that lists them all, never a match; a QBO
record is taken by at most one Atera record here (sharing an item between several Atera products is a decision
finance makes in the overrides file).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import review as rv
from .normalize import exact_keys
from .review import Entity, MatchStatus

CANDIDATES = 3


@dataclass
class _Side:
    """QBO records by key (codes of one ``pd.factorize``): how many hold each key, how many of them are active,
    and the active one (the only one where ``n_active == 1``)."""
    frame: pd.DataFrame  # qbo_id, qbo_name, active, key — records with a key
    index: pd.Index  # the distinct keys
    n_all: np.ndarray
    n_active: np.ndarray
    active_id: np.ndarray

    @classmethod
    def of(cls, qbo: pd.DataFrame, key_column: str) -> _Side:
        keys = np.asarray(exact_keys(qbo[key_column].tolist()) if key_column in qbo else [""] * len(qbo), object)
        has = keys != ""
        ids = qbo["qbo_id"].astype(str).to_numpy(object)[has]
        active = qbo["active"].to_numpy(bool)[has]
        codes, uniques = pd.factorize(keys[has])
        active_id = np.full(len(uniques), "", dtype=object)
        active_id[codes[active]] = ids[active]
        frame = pd.DataFrame({"qbo_id": ids, "qbo_name": qbo["name"].fillna("").astype(str).to_numpy(object)[has],
                              "active": active, "key": keys[has]})
        return cls(frame, pd.Index(uniques), np.bincount(codes, minlength=len(uniques)),
                   np.bincount(codes[active], minlength=len(uniques)), active_id)

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pos = self.index.get_indexer(pd.Index(keys))  # the Index get_indexer would build from the array itself
        found = pos >= 0
        if not len(self.index):
            return np.zeros(len(keys), int), np.zeros(len(keys), int), np.full(len(keys), "", object)
        return (np.where(found, self.n_all[pos], 0), np.where(found, self.n_active[pos], 0),
                np.where(found, self.active_id[pos], ""))

    def listings(self, keys: set[str]) -> dict[str, list[tuple[str, str, bool]]]:
        hits = self.frame[self.frame["key"].isin(keys)]
        return {str(k): list(zip(g["qbo_id"], g["qbo_name"], g["active"], strict=True))
                for k, g in hits.groupby("key")}


def _shared(keys: np.ndarray) -> np.ndarray:
    """Which keys occur more than once (on the Atera side)."""
    codes, uniques = pd.factorize(keys)
    return np.bincount(codes, minlength=len(uniques))[codes] > 1


def _atera(atera: pd.DataFrame, entity: Entity) -> pd.DataFrame:
    a = pd.DataFrame({"atera_id": atera["atera_id"].astype(str).to_numpy(),
                      "atera_name": atera["name"].fillna("").astype(str).to_numpy()})
    keys = np.asarray(exact_keys(a["atera_name"].tolist()), object)
    a["key"] = keys
    a["dup"] = _shared(keys)
    return a


def _base(a: pd.DataFrame, entity: Entity) -> pd.DataFrame:
    out = rv.empty(len(a), entity=entity, atera_id=a["atera_id"], atera_name=a["atera_name"],
                   status=MatchStatus.UNMATCHED)
    out.loc[(a["key"] == "").to_numpy(), ["status", "note"]] = [MatchStatus.CONFLICT, "the Atera record has no name"]
    return out


def _cands(hits: list[tuple[str, str, bool]]) -> str:
    return ";".join(f"{i}|{n}|100" for i, n, _ in hits[:CANDIDATES])


def _name_conflict(what: str, key_label: str, qbo_hits: list[tuple[str, str, bool]],
                   atera_ids: list[str]) -> tuple[str, str]:
    """(candidates, note) for a key that does not identify one record on each side."""
    listed = ", ".join(f"{i} {n!r}" + ("" if act else " (inactive)") for i, n, act in qbo_hits)
    if len(atera_ids) > 1:
        note = (f"{len(atera_ids)} Atera {what}s share this {key_label} (Atera {', '.join(atera_ids)}) and QBO has "
                f"{listed}: one QBO record maps to one Atera record — match one, rename or skip the others")
    elif not any(act for _, _, act in qbo_hits):
        note = (f"the QBO {what} with this {key_label} is inactive ({listed}): QBO keeps the names of inactive "
                f"records, so it cannot be created again — reactivate it in QBO and re-run, or match another")
    else:
        note = (f"{sum(act for _, _, act in qbo_hits)} active QBO {what}s share this {key_label} ({listed}): "
                f"choose one with action=match")
    return _cands([h for h in qbo_hits if h[2]] or qbo_hits), note


def _resolve(out: pd.DataFrame, a: pd.DataFrame, side: _Side, keys: np.ndarray, todo: np.ndarray, what: str,
             label: str, note: str = "") -> np.ndarray:
    """Apply one key to the rows in ``todo``: unique on both sides and active → matched_exact, else conflict.
    Returns the rows the key hit at all."""
    n_all, n_active, active_id = side.lookup(keys)
    dup = a["dup"].to_numpy() if label != "SKU" else _shared(keys) & (keys != "")
    hit: np.ndarray = todo & (n_all > 0) & (keys != "")
    ok = hit & (n_active == 1) & ~dup
    if label == "SKU":  # a SKU must be unique on the QBO side outright; inactive namesakes do not block a name
        ok &= n_all == 1
    out.loc[ok, "qbo_id"] = active_id[ok]
    out.loc[ok, ["status", "score"]] = [MatchStatus.MATCHED_EXACT, "100"]
    if note:
        out.loc[ok, "note"] = note
    bad = np.flatnonzero(hit & ~ok)
    if len(bad):
        keys_bad = set(keys[bad])
        listings = side.listings(keys_bad)
        sharing = pd.Series(keys).isin(keys_bad).to_numpy()
        atera_ids = {k: list(g) for k, g in a["atera_id"][sharing].groupby(keys[sharing])}
        cols = out.columns.get_indexer(pd.Index(["status", "candidates", "note"]))
        for i in bad.tolist():
            out.iloc[i, cols] = [MatchStatus.CONFLICT,
                                 *_name_conflict(what, label, listings[keys[i]], atera_ids[keys[i]])]
    return hit


def qbo_names(qbo: pd.DataFrame) -> pd.Series:
    """QBO id → name of a staged QBO frame (ids as text, each once)."""
    return qbo.assign(qbo_id=qbo["qbo_id"].astype(str)).drop_duplicates("qbo_id").set_index("qbo_id")["name"]


def _fill_names(out: pd.DataFrame, names: pd.Series) -> None:
    has = out["qbo_id"] != ""
    out.loc[has, "qbo_name"] = out.loc[has, "qbo_id"].map(names).fillna("").to_numpy()


def _one_to_one(out: pd.DataFrame, what: str) -> None:
    """A QBO record claimed by several Atera rows through different keys: none of them is matched."""
    matched = out["status"] == MatchStatus.MATCHED_EXACT
    clash = matched & out["qbo_id"].where(matched).duplicated(keep=False) & out["qbo_id"].ne("")
    for qbo_id, group in out[clash].groupby("qbo_id"):
        ids = ", ".join(group["atera_id"])
        out.loc[group.index, ["status", "score", "candidates", "note"]] = [
            MatchStatus.CONFLICT, "", f"{qbo_id}|{group['qbo_name'].iat[0]}|100",
            f"QBO {what} {qbo_id} is the exact match of several Atera {what}s ({ids}) by different keys: "
            "match it to one, skip or create the others"]


def exact_customers(atera: pd.DataFrame, qbo: pd.DataFrame) -> pd.DataFrame:
    a = _atera(atera, Entity.CUSTOMER)
    out = _base(a, Entity.CUSTOMER)
    todo = (out["status"] == MatchStatus.UNMATCHED).to_numpy()
    hit = _resolve(out, a, _Side.of(qbo, "name"), a["key"].to_numpy(object), todo, "customer", "name")
    if "company_name" in qbo:
        taken = set(out.loc[out["status"] == MatchStatus.MATCHED_EXACT, "qbo_id"].tolist())
        jobs = qbo["is_job"].fillna(False).astype(bool) if "is_job" in qbo else False
        # a CompanyName equal to the record's own DisplayName adds nothing: that key was tried already
        differs = qbo["company_name"].notna() & qbo["company_name"].ne(qbo["name"])
        free = differs & ~jobs & ~qbo["qbo_id"].astype(str).isin(taken)
        side = _Side.of(qbo[free.to_numpy()], "company_name")
        _resolve(out, a, side, a["key"].to_numpy(object), todo & ~hit, "customer", "QBO CompanyName",
                 note="matched on the QBO customer's CompanyName (its DisplayName differs)")
    _fill_names(out, qbo_names(qbo))
    return out


def exact_products(atera: pd.DataFrame, qbo: pd.DataFrame) -> pd.DataFrame:
    a = _atera(atera, Entity.PRODUCT)
    out = _base(a, Entity.PRODUCT)
    todo = (out["status"] == MatchStatus.UNMATCHED).to_numpy()
    by_name = out.copy()
    name_hit = _resolve(by_name, a, _Side.of(qbo, "name"), a["key"].to_numpy(object), todo, "item", "name")
    if "sku" in qbo and "sku" in atera:
        sku_keys = np.asarray(exact_keys(atera["sku"].tolist()), object)
        by_sku = out.copy()
        sku_hit = _resolve(by_sku, a, _Side.of(qbo, "sku"), sku_keys, todo, "item", "SKU",
                           note="matched on SKU (the names differ)")
    else:
        by_sku, sku_hit = out, np.zeros(len(out), bool)
    names = qbo_names(qbo)
    out = _combine(by_name, name_hit, by_sku, sku_hit, names)
    _fill_names(out, names)
    _one_to_one(out, "item")
    return out


def _combine(by_name: pd.DataFrame, name_hit: np.ndarray, by_sku: pd.DataFrame, sku_hit: np.ndarray,
             names: pd.Series) -> pd.DataFrame:
    """Name first; the SKU decides where the name found nothing; a name and a SKU that identify different items
    make a conflict."""
    name_ok = (by_name["status"] == MatchStatus.MATCHED_EXACT).to_numpy()
    sku_ok = (by_sku["status"] == MatchStatus.MATCHED_EXACT).to_numpy()
    result = by_name.copy()
    use_sku = sku_hit & ~name_hit
    result.loc[use_sku] = by_sku.loc[use_sku]
    differ = name_ok & sku_ok & (by_name["qbo_id"] != by_sku["qbo_id"]).to_numpy()
    if differ.any():
        result.loc[differ, ["status", "score"]] = [MatchStatus.CONFLICT, ""]
        pairs = zip(by_name.loc[differ, "qbo_id"], by_sku.loc[differ, "qbo_id"], strict=True)
        result.loc[differ, "candidates"] = [f"{n}|{names.get(n, '')}|100;{s}|{names.get(s, '')}|100" for n, s in pairs]
        result.loc[differ, "note"] = ("the name matches QBO item " + by_name.loc[differ, "qbo_id"]
                                      + " but the SKU matches QBO item " + by_sku.loc[differ, "qbo_id"]
                                      + ": choose one with action=match (or fix the name or SKU)").to_numpy()
        result.loc[differ, "qbo_id"] = ""
    return result
