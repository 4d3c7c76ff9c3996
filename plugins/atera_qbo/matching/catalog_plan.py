"""The plan of a catalog replacement or follow-up (``catalog_replace`` applies it): which changes make Atera's
products and expenses equal QBO's active named items, and what is only reported. Pure: staged rows and a mapping
in, steps and findings out; nothing is read or written here but the preview file.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypedDict

from ..cells import csv_file
from ..money import to_decimal
from ..qbo.rules import text_or_none
from .review import Decision, Entity, ReviewRow

KIND_ENDPOINT = {"product": "/rates/products", "expense": "/rates/expenses"}
USABLE_ITEM_TYPES = {"Service", "NonInventory", "Inventory"}  # not Category/Group/Bundle: nothing to bill
PLANNED = "(created in QBO by this commit)"  # a proposed mapping whose QBO item does not exist yet


class AteraRate(TypedDict):
    """A staged Atera rate (``stg_atera_products``), the columns the plan reads."""
    kind: str  # product | expense | rate (a contract rate)
    source_id: str
    name: str | None
    sku: str | None
    amount: Decimal | None
    deleted_at: datetime | None


class QboItem(TypedDict):
    """A staged QBO item (``stg_qbo_items``), the columns the plan reads."""
    source_id: str
    name: str | None
    sku: str | None
    unit_price: Decimal | None
    active: bool | None
    item_type: str | None
    deleted_at: datetime | None


class CatalogFinding(TypedDict):
    """Something reported, never acted on."""
    type: str  # atera_changed | atera_only | contract_rate
    atera_id: str  # "product:17"
    atera_name: str
    qbo_id: str  # "" when none
    action: str  # what to do about it, in words


@dataclass(frozen=True)
class CatalogStep:
    """One change to Atera's catalog. ``body`` is what Atera is sent (update/create), Decimal amounts."""
    action: str  # update | create | archive | remove | keep (already equal: only remembered, nothing sent)
    atera_id: str | None  # "product:17" / "expense:9"; None for a create
    qbo_id: str | None
    name: str
    body: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    target: dict[str, Any] = field(default_factory=dict)  # every field Atera holds afterwards (update: body ⊆ it)

    @property
    def key(self) -> str:
        return f"{self.action}:{self.atera_id or 'qbo:' + str(self.qbo_id)}"


@dataclass
class CatalogPlan:
    steps: list[CatalogStep]
    findings: list[CatalogFinding]  # reported, never acted on: atera_changed, atera_only, contract_rate

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self.steps:
            out[s.action] = out.get(s.action, 0) + 1
        for f in self.findings:
            out[f["type"]] = out.get(f["type"], 0) + 1
        return out


def usable_item(item: QboItem) -> bool:
    """An item Atera may show: active, not deleted, named, and of a kind that is billed."""
    return bool(item.get("active")) and item.get("deleted_at") is None and text_or_none(item.get("name")) is not None \
        and (item.get("item_type") or "NonInventory") in USABLE_ITEM_TYPES


def desired_fields(item: QboItem) -> dict[str, Any]:
    """What Atera should show for a QBO item: its name, price (when QBO has one) and SKU."""
    fields: dict[str, Any] = {"Description": text_or_none(item.get("name")), "SKU": text_or_none(item.get("sku"))}
    price = to_decimal(item.get("unit_price"))
    if price is not None:
        fields["Amount"] = price
    return fields


def _current(product: AteraRate) -> dict[str, Any]:
    return {"Description": text_or_none(product.get("name")), "SKU": text_or_none(product.get("sku")),
            "Amount": to_decimal(product.get("amount"))}


def _diff(current: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in wanted.items() if current.get(k) != v}


def plan(products: Iterable[AteraRate], items: Iterable[QboItem], mapping: dict[str, str], *,
         follow: bool, last_written: dict[str, dict[str, Any]] | None = None) -> CatalogPlan:
    """The changes that make Atera's catalog equal QBO's active named items.

    ``products``: staged Atera rates (``kind``, ``source_id``, ``name``, ``sku``, ``amount``, ``deleted_at``);
    ``items``: staged QBO items; ``mapping``: Atera id (``product:17``) → QBO item id, the mapping in force (or
    proposed, for a preview); ``follow``: a scheduled follow-up (report unmapped Atera records, never remove);
    ``last_written``: Atera id → the fields last written to Atera (tells an Atera-side change)."""
    by_id = {str(i["source_id"]): i for i in items}
    last_written = last_written or {}
    steps: list[CatalogStep] = []
    findings: list[CatalogFinding] = []
    targets: set[str] = set()
    for p in sorted(products, key=lambda r: (r["kind"], int(r["source_id"]) if str(r["source_id"]).isdigit()
                                              else 0, str(r["source_id"]))):
        if p.get("deleted_at") is not None:
            continue
        atera_id = f"{p['kind']}:{p['source_id']}"
        qbo_id = mapping.get(atera_id)
        if qbo_id is not None:
            targets.add(str(qbo_id))
        if qbo_id == PLANNED:
            continue  # created in QBO from this record: its name and price are already the item's
        if p["kind"] not in KIND_ENDPOINT:
            findings.extend(_contract_rate(p, by_id.get(str(qbo_id)) if qbo_id else None, qbo_id))
            continue
        steps.extend(_steps_for(p, atera_id, by_id.get(str(qbo_id)) if qbo_id else None, qbo_id, follow,
                                last_written.get(atera_id), findings))
    for item_id, item in sorted(by_id.items(), key=lambda kv: (text_or_none(kv[1].get("name")) or "").lower()):
        if item_id not in targets and usable_item(item):
            steps.append(CatalogStep("create", None, item_id, text_or_none(item["name"]) or "", desired_fields(item),
                                     "QBO item with no Atera counterpart"))
    return CatalogPlan(steps, findings)


def _steps_for(p: AteraRate, atera_id: str, item: QboItem | None, qbo_id: str | None, follow: bool,
               written: dict[str, Any] | None, findings: list[CatalogFinding]) -> list[CatalogStep]:
    name = text_or_none(p.get("name")) or ""
    if qbo_id is None:
        if follow:
            findings.append(_finding("atera_only", p, None, "Created in Atera after the catalog was handed to QBO: "
                                     "create it in QBO (it will then reach Atera), or delete it in Atera."))
            return []
        return [CatalogStep("remove", atera_id, None, name, reason="no QBO counterpart (neither matched nor created)")]
    if item is None or not usable_item(item):
        return [CatalogStep("archive", atera_id, qbo_id, name, {"Archived": True},
                            reason="its QBO item is inactive, deleted or unnamed")]
    current = _current(p)
    if written is not None and _diff(current, {k: to_decimal(v) if k == "Amount" else v for k, v in written.items()}):
        findings.append(_finding("atera_changed", p, qbo_id, "Changed in Atera although QBO is the master: make "
                                 "the change in QBO; Atera is set back to QBO's values."))
    changes = _diff(current, desired_fields(item))
    if not changes:  # already equal: remembered as written, so a later edit in Atera shows
        return [CatalogStep("keep", atera_id, qbo_id, name, desired_fields(item), reason="already equal")]
    return [CatalogStep("update", atera_id, qbo_id, name, changes, reason="follows QBO item " + str(qbo_id),
                        target=desired_fields(item))]


def _contract_rate(p: AteraRate, item: QboItem | None, qbo_id: str | None) -> list[CatalogFinding]:
    """A contract rate that differs from its QBO item (or has none): reported, since Atera's API cannot change it."""
    if item is not None and usable_item(item):
        wanted = {k: v for k, v in desired_fields(item).items() if k != "SKU"}
        changes = _diff(_current(p), wanted)
        if not changes:
            return []
        what = ", ".join(f"{k} {_current(p).get(k)!s} -> {v!s}" for k, v in changes.items())
    else:
        what = "no active QBO item"
    return [_finding("contract_rate", p, qbo_id, f"Contract rate differs from QBO ({what}); Atera's API cannot "
                     "rename or re-price a contract rate: change it by hand in Atera's contract settings.")]


def _finding(kind: str, p: AteraRate, qbo_id: str | None, action: str) -> CatalogFinding:
    return {"type": kind, "atera_id": f"{p['kind']}:{p['source_id']}", "atera_name": str(p.get("name") or ""),
            "qbo_id": str(qbo_id or ""), "action": action}


def proposed_mapping(rows: Iterable[ReviewRow]) -> dict[str, str]:
    """Atera id → QBO id as a commit of these review rows would leave it (for the preview)."""
    out: dict[str, str] = {}
    for r in rows:
        if r.entity != Entity.PRODUCT or not r.atera_id:
            continue
        if r.decision == Decision.MAP and r.qbo_id:
            out[r.atera_id] = r.qbo_id
        elif r.decision == Decision.CREATE_QBO:
            out[r.atera_id] = PLANNED
    return out


PREVIEW_COLUMNS = ("action", "atera_id", "qbo_id", "name", "changes", "reason")


def write_preview(path: Path, catalog_plan: CatalogPlan) -> Path:
    """What the replacement will do, one row per change and per finding (Excel-safe, like the review CSV)."""
    with csv_file(path, PREVIEW_COLUMNS) as writer:
        for s in catalog_plan.steps:
            if s.action == "keep":
                continue
            changes = "; ".join(f"{k}={v}" for k, v in s.body.items())
            writer.writerow([x or "" for x in (s.action, s.atera_id, s.qbo_id, s.name, changes, s.reason)])
        for f in catalog_plan.findings:
            writer.writerow([x or "" for x in (f["type"], f["atera_id"], f["qbo_id"], f["atera_name"], "",
                                               f["action"])])
    return path
