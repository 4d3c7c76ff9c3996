"""Atera's catalog replaced by QBO's (replace_atera_catalog), restored from snapshots, then following QBO on later
catalog syncs — against both twins, through their public APIs, on SQLite and PostgreSQL."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest
import sqlalchemy as sa

from atera_qbo.extract import extract_atera_catalog, extract_qbo_catalog
from atera_qbo.matching import catalog_replace as cr
from atera_qbo.matching import commit
from atera_qbo.matching.match import decisions, load_catalogs, match_all
from atera_qbo.staging.db import table

from .pipeline import atera_client
from .test_extract_qbo import client as qbo_client

LEGACY = {"Description": "Legacy Widget ZZ", "Amount": Decimal("12.34"), "SKU": "LW-1", "Category": "Old"}


def _atera_catalog(atera) -> dict[str, tuple]:
    """Atera's products and expenses as the API lists them: name → (price, SKU)."""
    out = {}
    for rec in list(atera.products()) + list(atera.expenses()):
        assert rec["Description"] not in out, f"two Atera records named {rec['Description']!r}"
        out[rec["Description"]] = (Decimal(str(rec["Amount"])), rec.get("SKU") or None)
    return out


def _qbo_catalog(qbo) -> dict[str, tuple]:
    return {i["Name"].strip(): (Decimal(str(i["UnitPrice"])) if i.get("UnitPrice") is not None else None, i.get("Sku"))
            for i in qbo.query_all("Item") if i.get("Active") and i.get("Type") in cr.USABLE_ITEM_TYPES}


def _contract_rate_names(engine) -> set[str]:
    """QBO items (names as Atera shows them: trimmed) that contract rates map to: Atera keeps those as contract
    rates (no API to make them products)."""
    mp, items = table("map_products"), table("stg_qbo_items")
    with engine.connect() as conn:
        return {n.strip() for n in conn.execute(sa.select(items.c.name).join(mp, mp.c.qbo_id == items.c.source_id)
                                                .where(mp.c.active.is_(True), mp.c.atera_id.like("rate:%"))).scalars()}


def _commit_without_creates(atera, qbo, engine) -> None:
    extract_atera_catalog(atera, engine, full_refresh=True)
    extract_qbo_catalog(qbo, engine, full_refresh=True)
    catalogs = load_catalogs(engine)
    review = decisions(match_all(catalogs), create_unmatched=False, import_unmatched=False)
    commit.execute(engine, review, commit.build_steps(review, catalogs, engine), qbo=qbo, atera=atera)


def _replace(engine, atera, tmp_path, plan_id: str, *, first: bool):
    products, items, active, written = cr.load_inputs(engine)
    catalog_plan = cr.plan(products, items, active, follow=not first, last_written=written)
    return catalog_plan, cr.execute(engine, atera, catalog_plan, plan_id=plan_id, review_dir=tmp_path, first=first)


@pytest.fixture
def twins(atera_twin, qbo_twin):
    return atera_twin, qbo_twin


def test_replacement_makes_atera_equal_qbo_and_removed_products_restore(twins, atera_control, engine, tmp_path):
    atera_twin, qbo_twin = twins
    atera, qbo = atera_client(atera_twin), qbo_client(qbo_twin, engine)
    legacy_id = atera.create_rate("products", LEGACY)  # no QBO counterpart: will be removed
    _commit_without_creates(atera, qbo, engine)
    before_ids = {int(r["RateID"]) for r in atera.products()}

    catalog_plan, result = _replace(engine, atera, tmp_path, "catalog-1", first=True)
    assert {"update", "create", "remove"} <= set(result.done)

    # Atera's catalog (products + expenses, plus the contract rates it keeps) equals QBO's active named items.
    qbo_items = _qbo_catalog(qbo)
    atera_items = _atera_catalog(atera)
    assert set(atera_items) | _contract_rate_names(engine) == set(qbo_items)
    for name, (price, sku) in atera_items.items():
        assert qbo_items[name][1] == sku, name
        if qbo_items[name][0] is not None:
            assert qbo_items[name][0] == price, name
    assert cr.is_following(engine)["plan_id"] == "catalog-1"

    # The removed records were snapshotted whole, in staging and in the review dir, before removal.
    snapshot = json.loads((tmp_path / "catalog_snapshots" / "catalog-1.json").read_text())
    removed = {r["record"]["Description"]: r for r in snapshot["records"]}
    assert "Legacy Widget ZZ" in removed and removed["Legacy Widget ZZ"]["source_id"] == str(legacy_id)
    assert removed["Legacy Widget ZZ"]["record"]["SKU"] == "LW-1"
    assert "Legacy Widget ZZ" not in atera_items

    # Rerunning the same plan sends nothing (every step is done).
    atera_control.clear_requests()
    cr.execute(engine, atera, catalog_plan, plan_id="catalog-1", review_dir=tmp_path, first=True)
    writes = [r for r in atera_control.requests() if r["method"] != "GET"]
    assert writes == []

    # Restore: every removed record is back with its fields (new ids: Atera assigns them); a rerun restores none.
    restored = cr.restore(engine, atera, plan_id="catalog-1")
    assert {r["name"] for r in restored} == set(removed)
    back = {r["Description"]: r for r in list(atera.products()) + list(atera.expenses())}
    assert Decimal(str(back["Legacy Widget ZZ"]["Amount"])) == LEGACY["Amount"]
    assert back["Legacy Widget ZZ"]["SKU"] == "LW-1" and back["Legacy Widget ZZ"]["Category"] == "Old"
    assert int(back["Legacy Widget ZZ"]["RateID"]) not in before_ids
    assert cr.restore(engine, atera, plan_id="catalog-1") == []

    # A create sent but never recorded (killed before the snapshot row was updated): the rerun adopts it.
    snaps = table("atera_catalog_snapshots")
    with engine.begin() as conn:
        conn.execute(snaps.update().values(restored_as=None, restored_at=None))
    count = len(list(atera.products()) + list(atera.expenses()))
    again = cr.restore(engine, atera, plan_id="catalog-1")
    assert {r["name"] for r in again} == set(removed) and all(r["adopted"] for r in again)
    assert {str(r["new_id"]) for r in again} == {str(r["new_id"]) for r in restored}
    assert len(list(atera.products()) + list(atera.expenses())) == count


def test_a_create_whose_answer_was_lost_is_adopted_not_duplicated(twins, engine, tmp_path):
    atera_twin, qbo_twin = twins
    atera, qbo = atera_client(atera_twin), qbo_client(qbo_twin, engine)
    _commit_without_creates(atera, qbo, engine)
    products, items, active, written = cr.load_inputs(engine)
    catalog_plan = cr.plan(products, items, active, follow=False, last_written=written)
    create = next(s for s in catalog_plan.steps if s.action == "create")
    # The crash: the step was recorded pending and Atera created the product, but the worker died before the answer.
    cr._record(engine, "catalog-crash", create, "pending")
    atera.create_rate("products", {k: create.body.get(k) for k in ("Description", "Amount", "SKU")})

    cr.execute(engine, atera, catalog_plan, plan_id="catalog-crash", review_dir=tmp_path, first=True)
    names = [r["Description"] for r in atera.products()]
    assert names.count(create.name) == 1
    mp = table("map_products")
    with engine.connect() as conn:
        mapped = conn.execute(sa.select(mp.c.atera_id, mp.c.method).where(mp.c.qbo_id == create.qbo_id,
                                                                          mp.c.active.is_(True))).all()
    assert [m.method for m in mapped] == ["imported"]


def test_after_replacement_atera_follows_qbo_and_atera_edits_are_reported(twins, engine, tmp_path):
    atera_twin, qbo_twin = twins
    atera, qbo = atera_client(atera_twin), qbo_client(qbo_twin, engine)
    _commit_without_creates(atera, qbo, engine)
    _replace(engine, atera, tmp_path, "catalog-1", first=True)
    extract_atera_catalog(atera, engine, full_refresh=True)

    mp = table("map_products")
    with engine.connect() as conn:
        pairs = dict(conn.execute(sa.select(mp.c.atera_id, mp.c.qbo_id).where(
            mp.c.active.is_(True), mp.c.atera_id.like("product:%"))).all())
    (renamed_a, renamed_q), (retired_a, retired_q), (edited_a, _edited_q) = sorted(pairs.items())[:3]
    # In QBO: a rename with a new price, and a deactivation. In Atera: someone edits a mapped product.
    item = qbo.read("Item", renamed_q)
    qbo.create("Item", {"Id": renamed_q, "SyncToken": item["SyncToken"], "sparse": True,
                        "Name": "Renamed In QBO", "UnitPrice": Decimal("77.70")})
    item = qbo.read("Item", retired_q)
    qbo.create("Item", {"Id": retired_q, "SyncToken": item["SyncToken"], "sparse": True, "Active": False})
    atera.put(f"/rates/products/{edited_a.split(':')[1]}", {"Amount": Decimal("1.11")}, entity="edit in Atera")
    extract_qbo_catalog(qbo, engine)
    extract_atera_catalog(atera, engine, full_refresh=True)

    catalog_plan, _ = _replace(engine, atera, tmp_path, "follow-1", first=False)
    assert not [s for s in catalog_plan.steps if s.action == "remove"]  # a follow-up never removes
    assert [f["atera_id"] for f in catalog_plan.findings if f["type"] == "atera_changed"] == [edited_a]
    listed = {int(r["RateID"]): r for r in atera.products()}
    renamed = listed[int(renamed_a.split(":")[1])]
    assert renamed["Description"] == "Renamed In QBO" and Decimal(str(renamed["Amount"])) == Decimal("77.70")
    assert int(retired_a.split(":")[1]) not in listed  # archived: out of the list, still readable by id
    assert atera.get(f"/rates/products/{retired_a.split(':')[1]}", entity="archived")["RateID"]
    edited = listed[int(edited_a.split(":")[1])]
    assert Decimal(str(edited["Amount"])) != Decimal("1.11")  # set back to QBO's price
