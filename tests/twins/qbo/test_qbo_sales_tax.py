"""US automated sales tax is sourced at the ship-to address, as QBO does: the invoice's ``ShipAddr`` (by default the
customer's shipping address), else the customer's ``ShipAddr``, else the company's address — never the billing
address. Rates of the twin's stand-in: WA 10.1 %, IL 10.25 %, NY 8.875 %, TX 8.25 %, CA 7.75 % (the company), OR 0."""
from __future__ import annotations

from decimal import Decimal

TAXED_60 = [{"DetailType": "SalesItemLineDetail", "Amount": 60.0,
             "SalesItemLineDetail": {"ItemRef": {"value": "13"}, "Qty": 10, "UnitPrice": 6.0,
                                     "TaxCodeRef": {"value": "TAX"}}},
            {"DetailType": "SalesItemLineDetail", "Amount": 125.0,
             "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "Qty": 1, "UnitPrice": 125.0,
                                     "TaxCodeRef": {"value": "NON"}}}]


def _address(state: str, city: str = "Somewhere") -> dict:
    return {"Line1": "1 Main St", "City": city, "CountrySubDivisionCode": state, "PostalCode": "00001",
            "Country": "US"}


def _customer(api, name: str, **body) -> dict:
    r = api.post("/customer", json={"DisplayName": name, **body})
    assert r.status_code == 200, r.text
    return r.json()["Customer"]


def _invoice(api, customer_id: str, **body) -> dict:
    r = api.post("/invoice", json={"CustomerRef": {"value": customer_id}, "Line": TAXED_60, **body})
    assert r.status_code == 200, r.text
    return r.json()["Invoice"]


def _tax(invoice: dict) -> tuple[float, float]:
    return invoice["TxnTaxDetail"]["TotalTax"], invoice["TxnTaxDetail"]["TaxLine"][0]["TaxLineDetail"]["TaxPercent"]


def test_a_customer_billed_in_one_state_and_shipped_to_another_is_taxed_where_it_ships(api):
    customer = _customer(api, "Billed In Texas LLC", BillAddr=_address("TX", "Austin"),
                         ShipAddr=_address("WA", "Seattle"))
    assert customer["ShipAddr"]["CountrySubDivisionCode"] == "WA"  # stored, and read back
    assert api.get(f"/customer/{customer['Id']}").json()["Customer"]["ShipAddr"]["City"] == "Seattle"
    invoice = _invoice(api, customer["Id"])
    assert _tax(invoice) == (6.06, 10.1)  # 60 × 10.1 %, not Texas's 8.25 %
    assert invoice["TotalAmt"] == 60 + 125 + 6.06
    assert invoice["ShipAddr"]["CountrySubDivisionCode"] == "WA"  # the invoice took the customer's ship-to
    assert invoice["BillAddr"]["CountrySubDivisionCode"] == "TX"


def test_the_customers_new_shipping_address_taxes_the_next_invoice(api):
    customer = _customer(api, "Moving Co", BillAddr=_address("TX"), ShipAddr=_address("WA"))
    r = api.post("/customer", json={"Id": customer["Id"], "SyncToken": customer["SyncToken"], "sparse": True,
                                    "ShipAddr": _address("NY", "Albany")})
    assert r.status_code == 200 and r.json()["Customer"]["ShipAddr"]["CountrySubDivisionCode"] == "NY"
    assert _tax(_invoice(api, customer["Id"])) == (5.33, 8.875)  # 5.325, half-up


def test_the_invoices_own_ship_to_address_wins(api):
    customer = _customer(api, "Ships Elsewhere Inc", BillAddr=_address("TX"), ShipAddr=_address("WA"))
    invoice = _invoice(api, customer["Id"], ShipAddr=_address("IL", "Chicago"))
    assert _tax(invoice) == (6.15, 10.25)
    stored = api.get(f"/invoice/{invoice['Id']}").json()["Invoice"]
    assert stored["ShipAddr"]["City"] == "Chicago" and stored["TxnTaxDetail"]["TotalTax"] == 6.15
    # moving the invoice's ship-to to Oregon (no sales tax) re-computes its tax
    r = api.post("/invoice", json={"Id": invoice["Id"], "SyncToken": invoice["SyncToken"], "sparse": True,
                                   "ShipAddr": _address("OR", "Portland")})
    assert r.status_code == 200, r.text
    assert r.json()["Invoice"]["TxnTaxDetail"]["TotalTax"] == 0
    assert Decimal(str(r.json()["Invoice"]["TotalAmt"])) == Decimal("185")


def test_no_ship_to_address_taxes_at_the_companys_state(api):
    company = api.get(f"/companyinfo/{api.realm}").json()["CompanyInfo"]
    assert company["CompanyAddr"]["CountrySubDivisionCode"] == "CA"
    customer = _customer(api, "Billing Only Ltd", BillAddr=_address("TX"))
    assert "ShipAddr" not in customer
    invoice = _invoice(api, customer["Id"])
    assert _tax(invoice) == (4.65, 7.75)  # California's rate: the billing address (Texas) never decides
    assert "ShipAddr" not in invoice
    # a ship-to address without a state does not decide either
    assert _tax(_invoice(api, customer["Id"], ShipAddr={"Line1": "Dock 4", "City": "Nowhere"})) == (4.65, 7.75)


def test_seeded_customers_have_no_shipping_address_so_the_company_state_applies(api):
    contoso = api.get("/customer/1").json()["Customer"]  # billed in Oregon (no sales tax)
    assert contoso["BillAddr"]["CountrySubDivisionCode"] == "OR" and "ShipAddr" not in contoso
    assert _tax(_invoice(api, "1")) == (4.65, 7.75)


def test_non_us_companies_are_unchanged(make_api):
    api = make_api(country="GB")
    codes = {c["Name"]: c["Id"] for c in api.rows("SELECT * FROM TaxCode")}
    customer = _customer(api, "Shipped Abroad Ltd", ShipAddr=_address("WA"))
    line = {"DetailType": "SalesItemLineDetail", "Amount": 100.0,
            "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "Qty": 1, "UnitPrice": 100.0,
                                    "TaxCodeRef": {"value": codes["20.0% S"]}}}
    r = api.post("/invoice", json={"CustomerRef": {"value": customer["Id"]}, "Line": [line]})
    assert r.status_code == 200, r.text
    assert r.json()["Invoice"]["TxnTaxDetail"]["TotalTax"] == 20.0  # the line's VAT code, wherever it ships
