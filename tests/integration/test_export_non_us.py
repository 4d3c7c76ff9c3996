"""Non-US companies need a real TaxCode on every sales line (UK: "Make sure all your transactions have a VAT rate
before you save", 6000): the export takes the item's own sales tax code, and the 0% code for items without one;
items created in QBO get the configured default sales tax code, and a plan without a valid one writes nothing."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from atera_qbo.errors import MatchingError
from atera_qbo.extract import extract_atera_catalog, extract_qbo_catalog
from atera_qbo.matching import commit
from atera_qbo.matching.match import decisions, load_catalogs, match_all
from atera_qbo.staging.db import table
from sandbox.control import QboControl
from sandbox.launch import start_twin
from scripts.airflow_env import DEMO
from tests.twin_state import SharedTwin

from .pipeline import atera_client, export, sync_and_match
from .test_extract_qbo import client as qbo_client


@pytest.fixture(scope="module")
def gb_process(tmp_path_factory):
    twin = start_twin("qbo", ["--seed", "demo", "--country", "GB", "--realm-id", DEMO["realm_id"],
                              "--client-id", DEMO["client_id"], "--client-secret", DEMO["client_secret"]],
                      log_path=tmp_path_factory.mktemp("qbo-gb") / "twin.log")
    try:
        yield SharedTwin(twin, QboControl(twin.url))
    finally:
        twin.stop()


@pytest.fixture
def gb_twin(gb_process):
    """A UK company, as the demo seed left it (the plan has items to create)."""
    return gb_process.restore()


def test_gb_invoices_carry_a_vat_code_on_every_line(atera_twin, gb_twin, engine):
    atera, qbo = atera_client(atera_twin), qbo_client(gb_twin, engine)
    sync_and_match(atera, qbo, engine, sales_tax_code="20.0% S")
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
            if item.get("SalesTaxCodeRef"):
                assert code == item["SalesTaxCodeRef"]["value"], (inv["DocNumber"], item["Name"], code)
            else:
                assert code in zero, (inv["DocNumber"], item["Name"], code)
    # Items the commit created carry the default code (VAT is charged on them), not the 0% code.
    mp = table("map_products")
    with engine.connect() as conn:
        created = conn.execute(sa.select(mp.c.qbo_id).where(mp.c.method == "created", mp.c.active.is_(True))).all()
    assert created and {items[q]["SalesTaxCodeRef"]["value"] for (q,) in created} == {"2"}


def _plan(atera, qbo, engine, code):
    extract_atera_catalog(atera, engine)
    extract_qbo_catalog(qbo, engine)
    catalogs = load_catalogs(engine)
    review = decisions(match_all(catalogs), create_unmatched=True, import_unmatched=False)
    return commit.build_steps(review, catalogs, engine, sales_tax_code=code)


@pytest.mark.parametrize(("code", "says"), [(None, "need a sales tax code"), ("99", "is not a QBO tax code"),
                                            ("20.0% ECG", "inactive QBO tax code")])
def test_gb_items_without_a_valid_default_code_refuse_the_plan_before_any_write(atera_twin, gb_twin, engine,
                                                                                 code, says):
    atera, qbo = atera_client(atera_twin), qbo_client(gb_twin, engine)
    with pytest.raises(MatchingError, match=says) as info:
        _plan(atera, qbo, engine, code)
    assert "20.0% S" in str(info.value)  # names the active codes to choose from
    writes = [r for r in QboControl(gb_twin.url).requests()
              if r["method"] == "POST" and "/query" not in r["path"] and "oauth" not in r["path"]]
    assert writes == []
