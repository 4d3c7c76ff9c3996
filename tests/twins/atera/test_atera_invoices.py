"""Invoices: the demo facts the pipeline relies on, consistency with the account, the date window, the single
invoice under both paths, and POST /_sandbox/invoices validation."""
from __future__ import annotations

from collections import Counter
from decimal import ROUND_HALF_UP, Decimal

import pytest

CENT = Decimal("0.01")


def _all_invoices(client, query: str = "") -> list[dict]:
    return client.all_items(f"/api/v3/billing/invoices{query}")


def _catalog_names(client) -> set[str]:
    names = {r["Description"] for r in client.all_items("/api/v3/rates/products")}
    names |= {r["Description"] for r in client.all_items("/api/v3/rates/expenses")}
    for contract in client.all_items("/api/v3/contracts"):
        for key, sub in contract.items():
            if key.endswith("Contract") and isinstance(sub, dict):
                for value in sub.values():
                    rates = value if isinstance(value, list) else [value]
                    names |= {r["Description"] for r in rates if isinstance(r, dict) and "RateID" in r}
    return names


def assert_consistent(invoice: dict) -> None:
    subtotal = tax = Decimal(0)
    for line in invoice["LineItems"]:
        gross = Decimal(str(line["Quantity"])) * Decimal(str(line["Rate"]))
        if line["DiscountPercentage"]:
            gross = gross * (100 - Decimal(str(line["DiscountPercentage"]))) / 100
        assert line["Subtotal"] == gross.quantize(CENT, ROUND_HALF_UP), line
        rate = Decimal(str(line["TaxPercentage"] or 0))
        expected_tax = (Decimal(str(line["Subtotal"])) * rate / 100).quantize(CENT, ROUND_HALF_UP)
        assert line["Tax"] == expected_tax, line
        assert line["Total"] == line["Subtotal"] + line["Tax"], line
        subtotal += line["Subtotal"]
        tax += line["Tax"]
    assert invoice["Subtotal"] == subtotal and invoice["Tax"] == tax
    assert invoice["Total"] == subtotal + tax


# -- the demo -------------------------------------------------------------------------------------------------------
def test_demo_invoices_facts(demo):
    invoices = _all_invoices(demo, "?invoiceDateFrom=2026-08-01&invoiceDateTo=2026-10-31")
    assert len(invoices) == 150
    assert [i["InvoiceNumber"] for i in invoices] == list(range(1001, 1151))
    dates = [i["InvoiceDate"][:10] for i in invoices]
    assert min(dates) == "2026-08-01" and max(dates) <= "2026-10-31"
    assert dates == sorted(dates)
    assert len({i["InvoiceId"] for i in invoices}) == 150
    assert all(i["Total"] >= 0 for i in invoices), "no credit invoices in the demo"
    assert sum(1 for i in invoices if i["Tax"] > 0 and i["TaxPercentage"] == Decimal("8.25")) >= 3
    assert sum(1 for i in invoices for line in i["LineItems"] if line["DiscountPercentage"]) >= 3
    for invoice in invoices:
        assert_consistent(invoice)
        assert invoice["InvoiceNumberAsString"] == str(invoice["InvoiceNumber"])
        assert invoice["Currency"] == "USD"


def test_demo_invoices_reference_the_account(demo):
    invoices = _all_invoices(demo)
    customers = {c["CustomerName"]: c for c in demo.all_items("/api/v3/customers")}
    contracts_by_customer: dict[int, set[str]] = {}
    for contract in demo.all_items("/api/v3/contracts"):
        contracts_by_customer.setdefault(contract["CustomerID"], set()).add(contract["ContractName"])
    names = _catalog_names(demo)
    for invoice in invoices:
        customer = customers[invoice["To"]["CompanyName"]]
        assert invoice["ContractName"] in contracts_by_customer[customer["CustomerID"]]
        for line in invoice["LineItems"]:
            assert line["Product"] in names
        zip_text = customer["ZipCodeStr"]
        assert invoice["To"]["ZipCode"] == (int(zip_text) if zip_text and zip_text.isdigit() else None)
    # every Atera customer is invoiced, the snags included
    invoiced = Counter(i["To"]["CompanyName"] for i in invoices)
    assert set(invoiced) == set(customers)
    for snag in ("Northwind Traders ", "BLUE RIDGE DENTAL", "O'Brien & Sons Plumbing", "Greenfield Architects",
                 "Harbor View Realty", "Café Lumière"):
        assert invoiced[snag] >= 1, snag
    kinds = {"product": 0, "expense": 0, "rate": 0}
    products = {r["Description"] for r in demo.all_items("/api/v3/rates/products")}
    expenses = {r["Description"] for r in demo.all_items("/api/v3/rates/expenses")}
    for invoice in invoices:
        for line in invoice["LineItems"]:
            kinds["product" if line["Product"] in products else "expense" if line["Product"] in expenses
                  else "rate"] += 1
    assert all(count > 0 for count in kinds.values()), kinds


def test_demo_is_deterministic(demo, make_twin, client_cls):
    _, url = make_twin(seed_profile="demo")
    other = client_cls(url)
    for path in ("/api/v3/billing/invoices?page=3&itemsInPage=50", "/api/v3/contracts?page=2&itemsInPage=50",
                 "/api/v3/customers?itemsInPage=50", "/api/v3/contacts?itemsInPage=50"):
        assert other.get(path)["items"] == demo.get(path)["items"], path


# -- reading -------------------------------------------------------------------------------------------------------
def test_date_window_is_inclusive(demo):
    everything = _all_invoices(demo)
    august = _all_invoices(demo, "?invoiceDateFrom=2026-08-01&invoiceDateTo=2026-08-31")
    assert august and all(i["InvoiceDate"].startswith("2026-08") for i in august)
    assert len(august) == sum(1 for i in everything if i["InvoiceDate"].startswith("2026-08"))
    day = everything[10]["InvoiceDate"][:10]
    one_day = _all_invoices(demo, f"?invoiceDateFrom={day}&invoiceDateTo={day}")
    assert one_day and all(i["InvoiceDate"][:10] == day for i in one_day)
    assert _all_invoices(demo, "?invoiceDateFrom=2026-11-01") == []
    assert len(_all_invoices(demo, "?invoiceDateTo=2026-09-30")) + \
        len(_all_invoices(demo, "?invoiceDateFrom=2026-10-01")) == 150


@pytest.mark.parametrize("query", ["invoiceDateFrom=2026/08/01", "invoiceDateFrom=08-01-2026",
                                   "invoiceDateTo=2026-08-01T00:00:00", "invoiceDateFrom=2026-02-30",
                                   "invoiceDateFrom=2026-09-01&invoiceDateTo=2026-08-01"])
def test_bad_date_windows_are_400(demo, query):
    body = demo.call("GET", f"/api/v3/billing/invoices?{query}", 400).json()
    assert body["status"] == 400


def test_single_invoice_under_both_paths(demo):
    listed = demo.get("/api/v3/billing/invoices?itemsInPage=1&page=7")["items"][0]
    number = listed["InvoiceNumber"]
    assert demo.get(f"/api/v3/billing/invoice/{number}") == listed
    plural = demo.call("GET", f"/api/v3/billing/invoices/{number}", 200).json()
    assert plural["InvoiceId"] == listed["InvoiceId"]
    demo.call("GET", "/api/v3/billing/invoice/1000", 404)
    demo.call("GET", "/api/v3/billing/invoices/1151", 404)


# -- POST /_sandbox/invoices ------------------------------------------------------------------------------------------
# This control route's own HTTP behaviour is the subject below (201 and the stored documents, 400 with problem
# details naming the field, the account of the key): raw requests (``admin``), not the control client.
def _valid_invoice(**overrides) -> dict:
    invoice = {
        "InvoiceDate": "2026-11-03",
        "ContractName": "Contoso Ltd - Hourly Support",
        "To": {"CompanyName": "Contoso Ltd"},
        "LineItems": [
            {"Product": "Remote Support (hourly)", "Description": "Labor", "Quantity": 2.5, "Rate": 125},
            {"Product": "Microsoft 365 Business Premium", "Quantity": 10, "Rate": 22, "DiscountPercentage": 10,
             "TaxPercentage": 8.25},
        ],
    }
    invoice.update(overrides)
    return invoice


def test_posted_invoice_gets_number_and_id_and_computed_totals(fresh):
    response = fresh.admin("POST", "/_sandbox/invoices", [_valid_invoice()])
    assert response.status_code == 201, response.text
    stored = response.json()[0]
    assert stored["InvoiceNumber"] == 1151 and stored["InvoiceNumberAsString"] == "1151"
    assert len(stored["InvoiceId"]) == 36
    fetched = fresh.get("/api/v3/billing/invoice/1151")
    assert fetched["Subtotal"] == Decimal("510.50")  # 312.50 + 198.00
    assert fetched["Tax"] == Decimal("16.34")  # 198.00 × 8.25 %
    assert fetched["Total"] == Decimal("526.84")
    assert fetched["To"]["ZipCode"] == 97201 and fetched["From"]["CompanyName"] == "Twin MSP Services"
    assert_consistent(fetched)
    window = _all_invoices(fresh, "?invoiceDateFrom=2026-11-01&invoiceDateTo=2026-11-30")
    assert [i["InvoiceNumber"] for i in window] == [1151]
    assert fresh.get("/api/v3/billing/invoices")["totalItemCount"] == 151


def test_posted_invoice_with_explicit_number_id_credit_and_given_totals(fresh):
    doc = _valid_invoice(InvoiceNumber=5000, InvoiceId="3f0e2a57-1b0c-4a8e-9d4c-7f7a6f0c2a11",
                         LineItems=[{"Product": "Mileage", "Quantity": -10, "Rate": 0.67, "Subtotal": -6.70,
                                     "Tax": 0, "Total": -6.70}], Subtotal=-6.70, Tax=0, Total=-6.70)
    response = fresh.admin("POST", "/_sandbox/invoices", [doc])
    assert response.status_code == 201, response.text
    credit = fresh.get("/api/v3/billing/invoices/5000", expect=None)
    assert credit["Total"] == Decimal("-6.70") and credit["InvoiceId"] == doc["InvoiceId"]
    again = fresh.admin("POST", "/_sandbox/invoices", [_valid_invoice()]).json()[0]
    assert again["InvoiceNumber"] == 5001


@pytest.mark.parametrize(("change", "names"), [
    ({"To": {"CompanyName": "Nobody Inc"}}, "To.CompanyName"),
    ({"To": {"CompanyName": "Northwind Traders"}}, "To.CompanyName"),  # Atera prints it with a trailing blank
    ({"ContractName": "Fabrikam Manufacturing - Hourly Support"}, "ContractName"),
    ({"ContractName": None}, "ContractName"),
    ({"LineItems": [{"Product": "Gift Card", "Quantity": 1, "Rate": 50}]}, "LineItems[0].Product"),
    ({"LineItems": [{"Product": "Parking", "Quantity": 1, "Rate": 15, "Total": 16}]}, "LineItems[0].Total"),
    ({"LineItems": [{"Product": "Parking", "Quantity": 2, "Rate": 15, "DiscountPercentage": 10,
                     "Subtotal": 30}]}, "LineItems[0].Subtotal"),
    ({"LineItems": [{"Product": "Parking", "Quantity": 1, "Rate": 15, "DiscountPercentage": 120}]},
     "LineItems[0].DiscountPercentage"),
    ({"LineItems": [{"Product": "Parking", "Rate": 15}]}, "LineItems[0].Quantity"),
    ({"LineItems": []}, "LineItems"),
    ({"Total": 1}, "Total"),
    ({"Subtotal": 510.49}, "Subtotal"),
    ({"To": {"CompanyName": "Contoso Ltd", "ZipCode": "97201"}}, "To.ZipCode"),
    ({"InvoiceDate": "03/11/2026"}, "InvoiceDate"),
    ({"InvoiceNumber": 1001}, "InvoiceNumber"),
    ({"InvoiceId": "not-a-uuid"}, "InvoiceId"),
    ({"CustomerID": 1}, "CustomerID"),
])
def test_inconsistent_invoices_are_400_naming_the_problem(fresh, change, names):
    response = fresh.admin("POST", "/_sandbox/invoices", [_valid_invoice(**change)])
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["status"] == 400 and names in body["detail"], body
    assert fresh.get("/api/v3/billing/invoices")["totalItemCount"] == 150  # nothing stored


def test_a_bad_invoice_rejects_the_whole_batch(fresh):
    response = fresh.admin("POST", "/_sandbox/invoices",
                           [_valid_invoice(), _valid_invoice(To={"CompanyName": "Nobody"})])
    assert response.status_code == 400 and "[1].To.CompanyName" in response.json()["detail"]
    assert fresh.get("/api/v3/billing/invoices")["totalItemCount"] == 150


def test_adhoc_invoice_needs_no_contract_and_accepts_renamed_products(fresh):
    doc = _valid_invoice(IsAdhoc=True, ContractName=None)
    assert fresh.admin("POST", "/_sandbox/invoices", [doc]).status_code == 201
    # a product created through the API may be invoiced at once
    fresh.post("/api/v3/rates/products", {"Description": "Brand New Widget", "Amount": 9.99})
    doc = _valid_invoice(LineItems=[{"Product": "Brand New Widget", "Quantity": 3, "Rate": 9.99}])
    stored = fresh.admin("POST", "/_sandbox/invoices", [doc]).json()[0]
    assert stored["Total"] == 29.97


def test_posted_invoices_go_to_the_account_of_the_key(make_twin, client_cls):
    from sandbox.atera.models import AccountConfig

    _, url = make_twin(accounts=[AccountConfig("one"), AccountConfig("two")], seed_profile="demo")
    one, two = client_cls(url, "one"), client_cls(url, "two")
    two.post("/api/v3/customers", {"CustomerName": "Second Co"})
    import requests

    response = requests.post(url + "/_sandbox/invoices", headers={"X-API-KEY": "two"}, timeout=10, json=[{
        "InvoiceDate": "2026-11-02", "IsAdhoc": True, "To": {"CompanyName": "Second Co"},
        "LineItems": []}])
    assert response.status_code == 400  # no lines
    two.post("/api/v3/rates/expenses", {"Description": "Fee", "Amount": 5})
    response = requests.post(url + "/_sandbox/invoices", headers={"X-API-KEY": "two"}, timeout=10, json=[{
        "InvoiceDate": "2026-11-02", "IsAdhoc": True, "To": {"CompanyName": "Second Co"},
        "LineItems": [{"Product": "Fee", "Quantity": 1, "Rate": 5}]}])
    assert response.status_code == 201, response.text
    assert response.json()[0]["InvoiceNumber"] == 1001
    assert two.get("/api/v3/billing/invoices")["totalItemCount"] == 1
    assert one.get("/api/v3/billing/invoices")["totalItemCount"] == 150


def test_a_listed_invoice_posted_back_round_trips(fresh):
    original = fresh.get("/api/v3/billing/invoice/1002")
    doc = {k: v for k, v in fresh.raw("GET", "/api/v3/billing/invoice/1002").json().items()
           if k not in ("InvoiceId", "InvoiceNumber", "InvoiceNumberAsString")}  # as a client reads it: floats
    response = fresh.admin("POST", "/_sandbox/invoices", [doc])
    assert response.status_code == 201, response.text
    copy = fresh.get(f"/api/v3/billing/invoice/{response.json()[0]['InvoiceNumber']}")
    for key in ("InvoiceId", "InvoiceNumber", "InvoiceNumberAsString"):
        copy.pop(key)
        original.pop(key)
    assert copy == original
    bad = dict(doc, InvoiceNumberAsString="1")
    assert fresh.admin("POST", "/_sandbox/invoices", [bad]).status_code == 400
