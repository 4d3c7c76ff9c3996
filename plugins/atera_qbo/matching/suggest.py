"""Scored suggestions for what exact matching left open, with blocking so that only plausible pairs are scored.

Score (0-100) = mean of rapidfuzz's token-sort and token-set ratios over ``suggest_key`` forms (accents,
punctuation and abbreviations folded, legal forms kept: "Coastal Springs Ltd" is closer to "Coastal & Springs
Ltd" than to "Coastal Springs LLC"). Keys come with sorted words, so token-sort is a plain SIMD ``ratio``.
Token-set alone rates any subset 100 ("Dental" ~ "Apex Dental Group"); token-sort alone punishes an extra word
too hard ("Apex Dental" ~ "Apex Dental Group" = 79).

Blocking: a name's block keys are its words and its pairs of words; a pair (query, candidate) is scored only when
they share a key held by at most ``MAX_BLOCK`` candidates (a word like "group" alone says nothing). Queries left
without a candidate at or above ``SUGGEST_MIN_SCORE`` (a typo in a rare word, a one-word name) are scored against
every candidate, token-sort first with ``score_cutoff``, and only the best ``FALLBACK_TOP`` of each row (numpy
``argpartition``, no full sort) get the token-set score. Since token-set ≥ token-sort, a pair whose token-sort is
below ``2 × SUGGEST_MIN_SCORE − 100`` cannot reach the threshold and is never scored further.
"""
from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from rapidfuzz import fuzz, process

from .normalize import suggest_key
from .review import MatchStatus, set_cells

SUGGEST_MIN_SCORE = 80.0  # below: unmatched (no candidate worth showing first)
CANDIDATES = 3
CLOSE = 3  # a runner-up within this many points of the best: "check before accepting"
MAX_BLOCK = 250
QUERY_CHUNK = 2000
MAX_WORDS = 12  # pairs of at most this many distinct words per name
FALLBACK_TOP = 50
SORT_FLOOR = 2 * SUGGEST_MIN_SCORE - 100
CHUNK = 200


def block_keys(key: str) -> list[str]:
    words = sorted(set(key.split()))[:MAX_WORDS]
    return words + [f"{a} {b}" for a, b in combinations(words, 2)]


def _long(keys: list[str], column: str) -> pd.DataFrame:
    blocks = [block_keys(k) for k in keys]
    lengths = np.fromiter((len(b) for b in blocks), dtype=np.int64, count=len(blocks))
    return pd.DataFrame({column: np.repeat(np.arange(len(keys)), lengths),
                         "b": [b for bs in blocks for b in bs]})


def _array(texts: Sequence[str] | np.ndarray) -> np.ndarray:
    """``texts`` as an object array, to take many pairs at once (a list comprehension per pair is slow)."""
    return np.asarray(texts, dtype=object)


def _firsts(values: np.ndarray) -> np.ndarray:
    """Where each run of equal ``values`` (sorted) starts."""
    return np.r_[True, values[1:] != values[:-1]] if len(values) else np.zeros(0, bool)


def candidate_pairs(queries: list[str], keys: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(query index, candidate index) of every pair sharing a selective block key, each pair once."""
    cand = _long(keys, "c")
    sizes = cand["b"].value_counts()
    cand = cand[cand["b"].map(sizes).to_numpy() <= MAX_BLOCK]
    blocks = pd.Index(cand["b"].unique())
    cand = pd.DataFrame({"c": cand["c"].to_numpy(), "b": blocks.get_indexer(cand["b"])})
    qry = _long(queries, "q")
    qry = pd.DataFrame({"q": qry["q"].to_numpy(), "b": blocks.get_indexer(qry["b"])})
    qry = qry[qry["b"] >= 0]
    width = max(len(keys), 1)
    out = [np.zeros(0, np.int64)]
    for start in range(0, len(queries), QUERY_CHUNK):  # bounded memory: one chunk of queries joined at a time
        part = qry[(qry["q"] >= start) & (qry["q"] < start + QUERY_CHUNK)]
        pairs = part.merge(cand, on="b")
        pair = np.sort(pairs["q"].to_numpy(np.int64) * width + pairs["c"].to_numpy(np.int64))
        out.append(pair[_firsts(pair)])  # each pair once (np.unique is far slower on these)
    pair = np.concatenate(out)
    return pair // width, pair % width


def pair_scores(left: Sequence[str] | np.ndarray, right: Sequence[str] | np.ndarray) -> np.ndarray:
    """Scores of aligned pairs of keys; token-set only where token-sort leaves the threshold reachable."""
    lefts, rights = _array(left), _array(right)  # no copy of object arrays
    # the words of a key are sorted: token-sort is a plain ratio
    scores: np.ndarray = process.cpdist(lefts, rights, scorer=fuzz.ratio, dtype=np.float32, workers=-1)
    live = np.flatnonzero(scores >= SORT_FLOOR)
    if len(live):
        tset = process.cpdist(lefts[live], rights[live], scorer=fuzz.token_set_ratio, dtype=np.float32, workers=-1)
        scores[live] = (scores[live] + tset) / 2
    return scores


def name_scores(queries: list[str], choices: list[str]) -> np.ndarray:
    """Score matrix of every query against every choice (the rule above, for small lists and checks)."""
    sort: NDArray[np.float32] = process.cdist(queries, choices, scorer=fuzz.ratio, dtype=np.float32, workers=-1)
    tset: NDArray[np.float32] = process.cdist(queries, choices, scorer=fuzz.token_set_ratio, dtype=np.float32,
                                              workers=-1)
    return (sort + tset) / 2


def _blocked(queries: list[str], keys: list[str]) -> pd.DataFrame:
    q, c = candidate_pairs(queries, keys)
    if not len(q):
        return pd.DataFrame({"q": q, "c": c, "score": np.zeros(0, np.float32)})
    scores = pair_scores(_array(queries)[q], _array(keys)[c])
    keep = scores >= SUGGEST_MIN_SCORE
    return pd.DataFrame({"q": q[keep], "c": c[keep], "score": scores[keep]})


def _full_scan(queries: list[str], todo: np.ndarray, keys: list[str]) -> pd.DataFrame:
    """Every candidate for the few queries blocking found nothing for (chunked: bounded memory)."""
    found = []
    top = min(FALLBACK_TOP, len(keys))
    left, right = _array(queries), _array(keys)
    for start in range(0, len(todo), CHUNK):
        part = todo[start:start + CHUNK]
        sort = process.cdist(left[part], keys, scorer=fuzz.ratio, dtype=np.uint8, workers=-1,
                             score_cutoff=int(SORT_FLOOR))
        best = np.argpartition(sort, len(keys) - top, axis=1)[:, len(keys) - top:]
        rows = np.repeat(part, top)
        cols = best.ravel()
        live = sort[np.repeat(np.arange(len(part)), top), cols] > 0
        if live.any():
            scores = pair_scores(left[rows[live]], right[cols[live]])
            found.append(pd.DataFrame({"q": rows[live], "c": cols[live], "score": scores}))
    frame = pd.concat(found, ignore_index=True) if found else pd.DataFrame({"q": [], "c": [], "score": []})
    return frame[frame["score"] >= SUGGEST_MIN_SCORE]


def top_candidates(queries: list[str], keys: list[str]) -> pd.DataFrame:
    """Up to ``CANDIDATES`` (q, c, score) per query at or above the threshold, best first (ties: candidate order).
    ``queries`` and ``keys`` are ``suggest_key`` forms."""
    scored = _blocked(queries, keys)
    asked = np.array([i for i, k in enumerate(queries) if k], dtype=np.int64)
    todo = np.setdiff1d(asked, scored["q"].to_numpy(np.int64))
    if len(todo) and keys:
        scored = pd.concat([scored, _full_scan(queries, todo, keys)], ignore_index=True)
    scored = scored.astype({"q": np.int64, "c": np.int64, "score": np.float32})
    scored = scored.sort_values(["q", "score", "c"], ascending=[True, False, True], kind="stable")
    return scored[scored.groupby("q").cumcount() < CANDIDATES]


def _joined(groups: np.ndarray, texts: list[str]) -> list[str]:
    """``texts`` joined with ";" per run of equal ``groups`` (sorted), in order (a pandas ``agg`` calls Python per
    group)."""
    starts = np.flatnonzero(_firsts(groups))
    return [";".join(texts[a:b]) for a, b in zip(starts, np.r_[starts[1:], len(texts)], strict=True)]


def suggest(rows: pd.DataFrame, qbo: pd.DataFrame, taken: set[str]) -> None:
    """Fill candidates for the ``unmatched`` rows of a review table, in place, from active QBO records not taken."""
    pool = qbo[qbo["active"].astype(bool) & ~qbo["qbo_id"].astype(str).isin(taken)]
    todo = np.flatnonzero((rows["status"] == MatchStatus.UNMATCHED).to_numpy())
    if pool.empty or not len(todo):
        return
    ids = pool["qbo_id"].astype(str).to_numpy(object)
    names = pool["name"].fillna("").astype(str).to_numpy(object)
    keys = [suggest_key(n) for n in names]
    queries = [suggest_key(n) for n in rows["atera_name"].iloc[todo].tolist()]
    best = top_candidates(queries, keys)
    if best.empty:
        return
    best = best.reset_index(drop=True)
    c = best["c"].to_numpy()
    best = best.assign(text=pd.Series(ids[c]) + "|" + pd.Series(names[c]) + "|"
                       + pd.Series(np.round(best["score"].to_numpy()).astype(int).astype(str)))
    by_q = best.groupby("q", sort=True)
    first, runner_up = by_q.nth(0).set_index("q"), by_q.nth(1).set_index("q")["score"]
    at = todo[first.index.to_numpy()]
    close = (runner_up.reindex(first.index) >= first["score"] - CLOSE).to_numpy()
    notes = rows["note"].iloc[at].to_numpy(object)
    notes[close] = "close candidates: check before accepting"
    for column, values in (("status", MatchStatus.SUGGESTED), ("qbo_id", ids[first["c"].to_numpy()]),
                           ("qbo_name", names[first["c"].to_numpy()]),
                           ("score", np.round(first["score"].to_numpy()).astype(int).astype(str)),
                           ("candidates", _joined(best["q"].to_numpy(), best["text"].tolist())), ("note", notes)):
        set_cells(rows, at, column, values)
