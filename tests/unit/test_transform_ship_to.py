"""The invoice carries its ship-to address: QBO's automated US sales tax is computed from it (else from the
customer's shipping address, else the company's own), so a client in another state is taxed at its own rate."""
from __future__ import annotations

from decimal import Decimal

from atera_qbo.export.transform import InvoiceContext, transform


def context(**kw) -> InvoiceContext:
    return InvoiceContext({"7": "58", "8": "59"}, {"Laptop": {"20"}}, {"20": True}, **kw)


def invoice(customer: str) -> tuple[dict, list[dict]]:
    inv = {"source_id": "1042", "invoice_date": "2026-10-01", "customer_id": customer, "invoice_uuid": "u"}
    lines = [{"line_idx": 0, "product_name": "Laptop", "quantity": Decimal("1"), "rate": Decimal("999.00"),
              "subtotal": Decimal("999.00")}]
    return inv, lines


def test_the_invoice_ships_to_the_atera_customers_address():
    ohio = {"Line1": "1 Main St", "City": "Dayton", "CountrySubDivisionCode": "OH", "PostalCode": "45402"}
    t = transform(*invoice("7"), context(ship_to={"7": ohio}))
    assert t.payload is not None and t.payload["ShipAddr"] == ohio
    assert t.payload["Line"][0]["SalesItemLineDetail"]["TaxCodeRef"] == {"value": "TAX"}


def test_without_an_address_qbo_falls_back_to_the_customers_shipping_address():
    t = transform(*invoice("8"), context(ship_to={"7": {"City": "Dayton"}}))
    assert t.payload is not None and "ShipAddr" not in t.payload
