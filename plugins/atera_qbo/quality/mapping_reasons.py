"""Why a row of the proposed mapping fails its gate, in finance's words: each failing check of a row gets its own
reason — for names, which rule (the forbidden character, the length against QBO's limit, the QBO record holding
the name, inactive or not); for mappings, the QBO record and its state, the other Atera customer holding a QBO
customer, the invoices that need a product. The reasons ride in the row's ``gate_id``, so the refusal's message and
the Data Docs both show them."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from ..matching.catalogs import Catalogs
from ..matching.names import held_names, name_problem
from ..matching.review import Decision, Entity
from ..qbo import rules
from .mapping_checks import RECENT_DAYS

MAX_INVOICES_NAMED = 3


@dataclass(frozen=True)
class Row:
    """What the reasons need of one row of the gate's frame."""

    entity: str
    atera_id: str
    atera_name: str
    qbo_id: str
    status: str
    action: str
    decision: str


def qbo_record_states(catalogs: Catalogs) -> dict[tuple[str, str], tuple[str, bool]]:
    """(entity, QBO id) → (name, active) of every staged, not deleted QBO customer and item."""
    out: dict[tuple[str, str], tuple[str, bool]] = {}
    for entity, frame in ((Entity.CUSTOMER, catalogs.qbo_customers), (Entity.PRODUCT, catalogs.qbo_items)):
        for qbo_id, name, active in zip(frame["qbo_id"].astype(str), frame["name"].fillna(""), frame["active"],
                                        strict=True):
            out[(str(entity), qbo_id)] = (str(name), bool(active))
    return out


def target_reason(row: Row, records: Mapping[tuple[str, str], tuple[str, bool]]) -> str:
    what = "QBO customer" if row.entity == Entity.CUSTOMER else "QBO item"
    if not row.qbo_id:
        return "action=match without a qbo_id: choose the QBO record"
    found = records.get((row.entity, row.qbo_id))
    if found is None:
        return (f"{what} {row.qbo_id} is not in the staged QBO catalog (deleted or merged in QBO, or created after "
                "the last catalog sync: run it, or match another record)")
    return f"{what} {row.qbo_id} '{found[0]}' is inactive in QBO: reactivate it in QBO, or match another record"


def taken_reason(row: Row, holders: Mapping[str, Sequence[str]]) -> str:
    others = [a for a in holders.get(row.qbo_id, []) if a != row.atera_id]
    return (f"QBO customer {row.qbo_id} is also matched to Atera customer(s) {', '.join(others)}: one Atera "
            "customer per QBO customer (merge them in Atera, or match the others elsewhere)")


def name_reason(row: Row, held: Mapping[tuple[str, str], str]) -> str:
    clean = rules.clean_name(row.atera_name)
    problems = rules.name_problems(clean, row.entity)
    holder = name_problem(Entity(row.entity), clean, dict(held)) if clean else None
    if holder:
        problems.append(holder)
    return "the name " + "; and ".join(problems) if problems else "the name cannot be created in QBO"


def recent_reason(row: Row, invoices: Mapping[str, Sequence[str]]) -> str:
    used = list(invoices.get(row.atera_name, []))
    named = ", ".join(used[:MAX_INVOICES_NAMED]) + (f" and {len(used) - MAX_INVOICES_NAMED} more"
                                                    if len(used) > MAX_INVOICES_NAMED else "")
    state = f"action={row.action}" if row.action else f"status {row.status}, undecided"
    return (f"invoice(s) {named} of the last {RECENT_DAYS} days need this product, and it is {state}: match it, "
            "create it, or leave it with no candidate (the export then creates it)")


def reasons(frame: pd.DataFrame, checks: Mapping[str, Callable[[Row], str]]) -> list[str]:
    """Per row: the reasons of every check the row fails, joined; "" for a row that passes."""
    rows = [Row(*values) for values in zip(
        *(frame[c].fillna("").astype(str) for c in ("entity", "atera_id", "atera_name", "qbo_id", "status",
                                                   "action", "decision")), strict=True)]
    out = []
    for i, row in enumerate(rows):
        failed = [why(row) for check, why in checks.items() if not bool(frame[check].iat[i])]
        out.append("; ".join(failed))
    return out


def checkers(frame: pd.DataFrame, catalogs: Catalogs,
             invoices: Mapping[str, Sequence[str]]) -> dict[str, Callable[[Row], str]]:
    """The reason builder of each check, with what they look up built once."""
    records = qbo_record_states(catalogs)
    maps = frame[(frame["decision"] == Decision.MAP) & (frame["entity"] == Entity.CUSTOMER)]
    holders: dict[str, list[str]] = {}
    for qbo_id, atera_id in zip(maps["qbo_id"].astype(str), maps["atera_id"].astype(str), strict=True):
        holders.setdefault(qbo_id, []).append(atera_id)
    held = held_names(catalogs)
    return {"qbo_target_ok": lambda r: target_reason(r, records),
            "one_atera_per_qbo_customer": lambda r: taken_reason(r, holders),
            "planned_name_ok": lambda r: name_reason(r, held),
            "recent_product_decided": lambda r: recent_reason(r, invoices)}
