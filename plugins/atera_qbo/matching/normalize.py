"""Name keys for matching.

``exact_key`` is how QBO itself compares names for uniqueness (case-insensitive, surrounding blanks ignored) plus
Unicode NFC and collapsed inner blanks: two names with the same key cannot be told apart by a person reading an
invoice, so an exact-key match is safe to apply automatically. ``fuzzy_key`` also drops punctuation, accents and
common legal suffixes; ``suggest_key`` folds the same but keeps legal forms — both for suggestions only, never for
automatic matches.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

_LEGAL = re.compile(r"\b(incorporated|inc|llc|llp|ltd|limited|co|corp|corporation|company|plc|gmbh)\b")
_LEGAL_FORM = {"incorporated": "inc", "limited": "ltd", "corporation": "corp", "company": "co"}
_ABBREV = {"&": " and ", "ctr": "center", "grp": "group", "assoc": "associates", "med": "medical",
           "st": "street", "svcs": "services", "intl": "international", "in": "inch", "mgmt": "management"}


def exact_key(name: str | None) -> str:
    if name is None or name != name:  # None or NaN
        return ""
    text = str(name)
    return " ".join((text if text.isascii() else unicodedata.normalize("NFC", text)).split()).casefold()


def exact_keys(names: Iterable[str | None]) -> list[str]:
    """``exact_key`` of many names (a Series: pass ``series.tolist()``, iterating a Series is slow)."""
    nfc = unicodedata.normalize
    return [" ".join((n if n.isascii() else nfc("NFC", n)).split()).casefold() if type(n) is str else exact_key(n)
            for n in names]


def _folded(name: str | None) -> str:
    """Accents, punctuation and abbreviations folded away; words separated by one blank."""
    text = exact_key(name)
    if not text.isascii():
        text = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    text = text.replace("&", " & ").replace('"', " inch ")
    return " ".join(_ABBREV.get(w, w) for w in re.split(r"[^\w&]+", text) if w)


def fuzzy_key(name: str | None) -> str:
    """``_folded`` without legal suffixes: "Acme Inc" and "ACME, Inc." and "Acme" are one key."""
    return " ".join(_LEGAL.sub(" ", _folded(name)).split())


def suggest_key(name: str | None) -> str:
    """What suggestions score: ``_folded`` with legal forms spelled one way (limited → ltd …) but kept — they tell
    "Coastal Springs Ltd" from "Coastal Springs LLC" — and words sorted (token-sort is then a plain ratio)."""
    return " ".join(sorted(_LEGAL_FORM.get(w, w) for w in _folded(name).split()))
