"""Names QBO already holds, so that a plan never sends a create QBO must refuse (6240 "Duplicate Name Exists").

QBO keeps one ``DisplayName`` namespace for customers, vendors and employees, and one ``Name`` namespace for items
(categories included); inactive records keep their names. Names are compared with ``normalize.exact_key`` (QBO's
own rule — case and surrounding blanks ignored — plus NFC and collapsed inner blanks, so a name that differs only
by those is refused too: on an invoice it could not be told apart).
"""
from __future__ import annotations

import pandas as pd

from .catalogs import Catalogs
from .normalize import exact_key
from .review import Entity

NAMESPACE = {Entity.CUSTOMER: "name", Entity.PRODUCT: "item"}


def held_names(cat: Catalogs) -> dict[tuple[str, str], str]:
    """(namespace, key) → who holds the name in QBO, e.g. ``Vendor 56 'Acme' (inactive)``."""
    names = cat.qbo_names
    if names.empty:
        return {}
    keys = names["name"].fillna("").map(exact_key)
    who = (names["entity"].astype(str) + " " + names["qbo_id"].astype(str) + " '" + names["name"].fillna("")
           + "'" + names["active"].map({True: "", False: " (inactive)"}).fillna(""))
    frame = pd.DataFrame({"ns": names["namespace"].to_numpy(), "key": keys.to_numpy(), "who": who.to_numpy()})
    frame = frame[frame["key"] != ""].drop_duplicates(["ns", "key"])
    return dict(zip(zip(frame["ns"], frame["key"], strict=True), frame["who"], strict=True))


def name_problem(entity: Entity, name: str, held: dict[tuple[str, str], str]) -> str | None:
    """Why QBO would refuse to create ``name``, with what to do instead; None if it is free."""
    holder = held.get((NAMESPACE[entity], exact_key(name)))
    if holder is None:
        return None
    if holder.endswith("(inactive)"):
        return (f"is the name of {holder} in QBO (inactive records keep their names): reactivate it in QBO and "
                "match it with action=match")
    return f"is already used in QBO by {holder}: match it with action=match, or rename it in Atera"
