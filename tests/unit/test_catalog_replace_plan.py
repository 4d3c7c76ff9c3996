"""The catalog replacement's plan, on hand-built catalogs: what Atera is sent, what is only reported."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal as D

from atera_qbo.matching.catalog_replace import PLANNED, plan


def product(kind: str, sid: str, name: str, amount: str = "10.00", sku: str | None = None, deleted=None) -> dict:
    return {"kind": kind, "source_id": sid, "name": name, "amount": D(amount), "sku": sku, "deleted_at": deleted}


def item(sid: str, name: str | None, price: str | None = "10.00", sku: str | None = None, active: bool = True,
         item_type: str = "NonInventory") -> dict:
    return {"source_id": sid, "name": name, "unit_price": None if price is None else D(price), "sku": sku,
            "active": active, "item_type": item_type, "deleted_at": None}


ITEMS = [item("1", "Laptop 14", "999.00", "LAP-14"), item("2", "Old Router", active=False),
         item("3", "New in QBO", "5.50", "NEW-1"), item("4", None), item("5", "   "),
         item("6", "Hardware", None, item_type="Category"), item("7", "Support hour", "120.00", item_type="Service"),
         item("8", "Toner", "30.00")]


def test_first_replacement_updates_archives_creates_and_removes():
    products = [product("product", "1", "Laptop 14in", "950.00", "LAP-14"),  # renamed + re-priced
                product("product", "2", "Router"),  # its item is inactive
                product("product", "3", "Gadget nobody matched"),
                product("expense", "4", "Toner", "30.00"),  # already equal
                product("product", "5", "Deleted", deleted=datetime(2026, 1, 1)),
                product("product", "9", "To be created in QBO"),
                product("rate", "1", "Support hour", "120.00"),  # equal contract rate: nothing to say
                product("rate", "2", "Project hour", "150.00")]  # unmapped contract rate: reported
    mapping = {"product:1": "1", "product:2": "2", "expense:4": "8", "product:9": PLANNED, "rate:1": "7"}
    p = plan(products, ITEMS, mapping, follow=False)
    steps = {(s.action, s.atera_id or s.qbo_id): s for s in p.steps}
    assert steps[("update", "product:1")].body == {"Description": "Laptop 14", "Amount": D("999.00")}
    assert steps[("update", "product:1")].target == {"Description": "Laptop 14", "Amount": D("999.00"),
                                                     "SKU": "LAP-14"}
    assert steps[("archive", "product:2")].body == {"Archived": True}
    assert ("remove", "product:3") in steps
    assert ("keep", "expense:4") in steps
    # Only the named, billable QBO item nobody maps to is created; unnamed, blank and Category items never are.
    assert [s.qbo_id for s in p.steps if s.action == "create"] == ["3"]
    assert steps[("create", "3")].body == {"Description": "New in QBO", "SKU": "NEW-1", "Amount": D("5.50")}
    assert not any(s.atera_id in ("product:5", "product:9") for s in p.steps)
    assert [(f["type"], f["atera_id"]) for f in p.findings] == [("contract_rate", "rate:2")]


def test_follow_up_never_removes_and_reports_atera_side_edits():
    products = [product("product", "1", "Laptop 14", "899.00", "LAP-14"),  # edited in Atera after we wrote it
                product("product", "3", "Made in Atera later")]
    written = {"product:1": {"Description": "Laptop 14", "Amount": "999.00", "SKU": "LAP-14"}}
    p = plan(products, ITEMS, {"product:1": "1"}, follow=True, last_written=written)
    assert [(f["type"], f["atera_id"]) for f in p.findings] == [("atera_changed", "product:1"),
                                                                 ("atera_only", "product:3")]
    assert not [s for s in p.steps if s.action == "remove"]
    assert next(s for s in p.steps if s.atera_id == "product:1").body == {"Amount": D("999.00")}  # QBO wins


def test_a_qbo_change_is_not_mistaken_for_an_atera_edit():
    products = [product("product", "1", "Laptop 14", "999.00", "LAP-14")]
    written = {"product:1": {"Description": "Laptop 14", "Amount": "999.00", "SKU": "LAP-14"}}
    items = [item("1", "Laptop 14 (2026)", "1099.00", "LAP-14")]
    p = plan(products, items, {"product:1": "1"}, follow=True, last_written=written)
    assert p.findings == []
    assert p.steps[0].body == {"Description": "Laptop 14 (2026)", "Amount": D("1099.00")}
