"""The wizard's last step through the DAGs, as an operator runs it: after the mapping is settled (the no-overrides
wizard run), ``atera_qbo_matching`` with ``replace_atera_catalog=true, commit=true`` makes Atera's product list
QBO's active named items (names, prices, SKUs) and removes what has no QBO counterpart after snapshotting it; the
DAG ``atera_qbo_restore_catalog`` puts those back with every field, once, however often it runs."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest
import requests
import sqlalchemy as sa
from test_demo_sync import (  # noqa: F401 (fixtures)
    Qbo,
    airflow_env,
    dags,
    loopback_only,
    run,
    run_dag_test,
    twins,
)

from atera_qbo.matching.catalog_replace import USABLE_ITEM_TYPES
from scripts.airflow_env import DEMO

pytestmark = pytest.mark.e2e
# Amount as a JSON number, written as text (no float on the way)
LEGACY = '{"Description": "Legacy Widget ZZ", "Amount": 12.34, "SKU": "LW-1", "Category": "Old"}'


def atera_rates(url: str) -> list[dict]:
    """Atera's products and expenses, as its API lists them."""
    out = []
    for segment in ("products", "expenses"):
        page = 1
        while True:
            body = requests.get(f"{url}/api/v3/rates/{segment}", headers={"X-API-KEY": DEMO["atera_api_key"]},
                                params={"page": page, "itemsInPage": 50}, timeout=10).json()
            out += body["items"]
            if page >= body["totalPages"]:
                break
            page += 1
    return out


def rate_mapped_items(staging) -> set[str]:
    """QBO items that Atera contract rates map to: Atera keeps those as contract rates (its API cannot list or
    make them products)."""
    engine = sa.create_engine(f"sqlite:///{staging}")
    with engine.connect() as conn:
        names = conn.execute(sa.text(
            "SELECT i.name FROM map_products m JOIN stg_qbo_items i ON i.source_id = m.qbo_id "
            "WHERE m.active AND m.atera_id LIKE 'rate:%'")).scalars().all()
    engine.dispose()
    return {n.strip() for n in names}


def test_replacement_through_the_dags_then_restore(twins, dags, airflow_env):  # noqa: F811
    atera, qbo_twin = twins
    run(dags["atera_qbo_catalog_sync"])
    run(dags["atera_qbo_matching"], {"commit": True, "create_unmatched_in_qbo": True})
    legacy = requests.post(f"{atera.url}/api/v3/rates/products", data=LEGACY, timeout=10,
                           headers={"X-API-KEY": DEMO["atera_api_key"], "Content-Type": "application/json"})
    legacy = legacy.json()["ActionID"]
    run(dags["atera_qbo_catalog_sync"])
    run(dags["atera_qbo_matching"], {"commit": True, "replace_atera_catalog": True})  # the legacy product: no creates

    items = {i["Name"].strip(): i for i in Qbo(qbo_twin.url).query("Item")
             if i.get("Active") and i.get("Type") in USABLE_ITEM_TYPES and i["Name"].strip()}
    rates = {r["Description"]: r for r in atera_rates(atera.url)}
    assert len(rates) == len(atera_rates(atera.url)), "two Atera records of one name"
    assert set(rates) | rate_mapped_items(airflow_env / "staging.db") == set(items)
    for name, rec in rates.items():
        assert rec.get("SKU") == items[name].get("Sku"), name
        if items[name].get("UnitPrice") is not None:
            assert Decimal(str(rec["Amount"])) == Decimal(str(items[name]["UnitPrice"])), name
    assert "Legacy Widget ZZ" not in rates

    (snapshot,) = (airflow_env / "review" / "catalog_snapshots").glob("*.json")
    records = {r["record"]["Description"]: r for r in json.loads(snapshot.read_text())["records"]}
    assert records["Legacy Widget ZZ"]["source_id"] == str(legacy)

    unknown = run_dag_test(dags["atera_qbo_restore_catalog"], {"plan_id": "catalog-no-such-run"})
    assert str(unknown.state) == "failed"
    run(dags["atera_qbo_restore_catalog"], {"plan_id": snapshot.stem})
    back = {r["Description"]: r for r in atera_rates(atera.url)}
    assert set(records) <= set(back)
    widget = back["Legacy Widget ZZ"]
    assert (Decimal(str(widget["Amount"])), widget["SKU"], widget["Category"]) == (Decimal("12.34"), "LW-1", "Old")
    count = len(atera_rates(atera.url))
    run(dags["atera_qbo_restore_catalog"], {"plan_id": snapshot.stem})  # again: nothing twice
    assert len(atera_rates(atera.url)) == count

