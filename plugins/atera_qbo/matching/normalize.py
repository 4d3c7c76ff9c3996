"""Name keys for matching.

``exact_key`` is how QBO itself compares names for uniqueness (case-insensitive, surrounding blanks ignored) plus
Unicode NFC and collapsed inner blanks: two names with the same key cannot be told apart by a person reading an
invoice, so an exact-key match is safe to apply automatically. ``fuzzy_key`` also drops punctuation, accents and
common legal suffixes, for scoring suggestions only — never for automatic matches.
"""
from __future__ import annotations

import re
import unicodedata

_LEGAL = re.compile(r"\b(incorporated|inc|llc|llp|ltd|limited|co|corp|corporation|company|plc|gmbh)\b")
_ABBREV = {"&": " and ", "ctr": "center", "grp": "group", "assoc": "associates", "med": "medical",
           "st": "street", "svcs": "services", "intl": "international", "in": "inch", "mgmt": "management"}


def exact_key(name: str | None) -> str:
    if name is None:
        return ""
    return " ".join(unicodedata.normalize("NFC", str(name)).split()).casefold()


def fuzzy_key(name: str | None) -> str:
    text = unicodedata.normalize("NFKD", exact_key(name))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.replace("&", " & ").replace('"', " inch ")
    words = [_ABBREV.get(w, w) for w in re.split(r"[^\w&]+", text) if w]
    text = " ".join(words)
    text = _LEGAL.sub(" ", text)
    return " ".join(text.split())
