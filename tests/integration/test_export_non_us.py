"""Non-US companies need a real TaxCode on every sales line (UK: "Make sure all your transactions have a VAT rate
before you save", 6000): the export takes the item's own code for taxable items and the 0% code otherwise."""
from __future__ import annotations

import pytest

from sandbox.launch import start_twin
from scripts.airflow_env import DEMO

from .pipeline import atera_client, export, sync_and_match
from .test_extract_qbo import client as qbo_client


@pytest.fixture(scope="module")
def gb_twin(tmp_path_factory):
    twin = start_twin("qbo", ["--seed", "demo", "--country", "GB", "--realm-id", DEMO["realm_id"],
                              "--client-id", DEMO["client_id"], "--client-secret", DEMO["client_secret"]],
                      log_path=tmp_path_factory.mktemp("qbo-gb") / "twin.log")
    yield twin
    twin.stop()


def test_gb_invoices_carry_a_vat_code_on_every_line(atera_twin, gb_twin, engine):
    atera, qbo = atera_client(atera_twin), qbo_client(gb_twin, engine)
    sync_and_match(atera, qbo, engine)
    result = export(atera, qbo, engine, "gb")
    assert len(result.exported) == result.selected == 150 and not result.failed and not result.blocked
    codes = {c["Id"]: c for c in qbo.query_all("TaxCode", "Active IN (true, false)")}
    items = {i["Id"]: i for i in qbo.query_all("Item", "Active IN (true, false)")}
    zero = {i for i, c in codes.items() if c["Name"].startswith("0.0%")}
    for inv in qbo.query_all("Invoice"):
        for line in inv["Line"]:
            if line.get("DetailType") != "SalesItemLineDetail":
                continue
            detail = line["SalesItemLineDetail"]
            code = detail["TaxCodeRef"]["value"]
            assert codes[code]["Active"], (inv["DocNumber"], code)
            item = items[detail["ItemRef"]["value"]]
            if item.get("Taxable") and item.get("SalesTaxCodeRef"):
                assert code == item["SalesTaxCodeRef"]["value"]
            else:
                assert code in zero, (inv["DocNumber"], item["Name"], code)
