"""The wizard as a new user runs it, with no overrides file: catalog sync → matching with ``commit=true,
create_unmatched_in_qbo=true`` → export of every demo invoice. Every invoice lands exactly once, on the QBO
customer and items of the same company/product (names written differently are settled by contacts and SKUs, never
by creating a second record), with QBO's pre-tax total equal to Atera's subtotal to the cent."""
from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest
from test_demo_sync import (  # noqa: F401 (fixtures)
    Qbo,
    airflow_env,
    atera_invoices,
    dags,
    expected_names,
    loopback_only,
    run,
    twins,
)

from scripts.airflow_env import DEMO

pytestmark = pytest.mark.e2e


def test_no_overrides_file_exports_every_invoice_once(twins, dags):  # noqa: F811
    atera, qbo_twin = twins
    run(dags["atera_qbo_catalog_sync"])
    run(dags["atera_qbo_matching"], {"commit": True, "create_unmatched_in_qbo": True})
    run(dags["atera_qbo_invoice_export"], {"invoice_date_from": DEMO["invoice_date_from"],
                                           "invoice_date_to": DEMO["invoice_date_to"]})
    qbo = Qbo(qbo_twin.url)
    source = atera_invoices(atera.url)
    invoices = {i["DocNumber"]: i for i in qbo.query("Invoice")}
    assert len(source) == 150 and Counter(i["DocNumber"] for i in qbo.query("Invoice")).most_common(1)[0][1] == 1
    customers = {c["Id"]: c["DisplayName"] for c in qbo.query("Customer", "WHERE Active IN (true, false)")}
    items = qbo.query("Item", "WHERE Active IN (true, false)")
    names = {i["Id"]: i["Name"] for i in items}
    want_customer, want_item, norm = expected_names()
    for inv in source:
        got = invoices[str(inv["InvoiceNumber"])]  # KeyError: not exported
        assert customers[got["CustomerRef"]["value"]].strip() == want_customer[norm(inv["To"]["CompanyName"])]
        sales = [line for line in got["Line"] if line.get("DetailType") == "SalesItemLineDetail"]
        assert [names[s["SalesItemLineDetail"]["ItemRef"]["value"]].strip() for s in sales] == \
            [want_item[norm(s["Product"])] for s in sorted(inv["LineItems"], key=lambda s: s["LineIdx"])]
        assert sum(Decimal(str(s["Amount"])) for s in sales) == Decimal(str(inv["Subtotal"]))
    # no second record beside the one matching found: one ACME, one tablet item, no "Acme Inc"
    display = Counter(norm(n) for n in customers.values())
    assert display[norm("ACME, Inc.")] == 1 and display[norm("Acme Inc")] == 0
    assert display[norm("Riverside Medical Center")] == 0 and display[norm("Apex Dental")] == 0
    assert [i["Name"] for i in items if "tablet" in i["Name"].lower()] == ["Tablet 11 in. Wi-Fi"]
