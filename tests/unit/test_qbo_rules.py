"""QBO's rules for what we write (names, request ids, payloads): one implementation, used by matching's commit,
the export's create_missing_customers and the extraction's quality flags."""
import hashlib
from decimal import Decimal

import pytest

from atera_qbo.qbo import rules


def test_clean_name_trims_and_collapses_blanks():
    assert rules.clean_name("  Acme \t  Dental  ") == "Acme Dental"
    assert rules.clean_name(None) == ""


@pytest.mark.parametrize(("name", "entity", "expected"), [
    ("", "customer", ["has no name"]),
    ("A:B", "customer", ["contains the colon ':', which is not allowed in QBO names"]),
    ("x" * 501, "customer", ["is 501 characters long: 501 > 500, QBO's limit for customer names (DisplayName)"]),
    ("x" * 500, "customer", []),
    ("x" * 120, "product", ["is 120 characters long: 120 > 100, QBO's limit for item names"]),
    ("a\tb", "product", ["contains a tab, which is not allowed in QBO names"]),
])
def test_name_problems_say_why_qbo_would_refuse(name, entity, expected):
    assert rules.name_problems(name, entity) == expected


def test_name_flags_are_the_lenient_form_of_the_same_rules():
    flags: list[str] = []
    rules.name_flags(" Job:1 " + "x" * 100, flags, "product")
    assert flags == ["name:surrounding_blanks", "name:over_100", "name:forbidden_char"]
    flags = []
    rules.name_flags("  ", flags, "customer", "display_name")
    assert flags == ["display_name:missing"]


def test_request_id_is_derived_from_its_parts_and_fits_qbo():
    rid = rules.request_id("create", "customer", "7", '{"DisplayName":"A"}')
    assert rid == rules.request_id("create", "customer", "7", '{"DisplayName":"A"}')
    assert rid != rules.request_id("create", "customer", "8", '{"DisplayName":"A"}')
    # the ids plans and ledgers already hold stay valid: SHA-1 of the parts joined by '|', 32 hex characters
    assert rid == hashlib.sha1(b'create|customer|7|{"DisplayName":"A"}').hexdigest()[:32]
    assert len(rid) == 32 <= 50


def test_customer_payload_carries_name_address_as_billing_and_shipping_and_phone():
    """QBO taxes a US invoice by its ship-to address (the customer's shipping address by default): a customer
    created without one would be taxed at the MSP's own rate."""
    rec = {"name": " North  Clinic ", "address": "1 Main St", "city": "Dayton", "state": "OH", "zip_code": "45402",
           "country": None, "phone": "555-0100"}
    where = {"Line1": "1 Main St", "City": "Dayton", "CountrySubDivisionCode": "OH", "PostalCode": "45402"}
    assert rules.customer_payload(rec) == {
        "DisplayName": "North Clinic", "CompanyName": "North Clinic", "BillAddr": where, "ShipAddr": where,
        "PrimaryPhone": {"FreeFormNumber": "555-0100"}}
    assert rules.customer_payload({"name": "y" * 120}) == {"DisplayName": "y" * 120, "CompanyName": "y" * 100}


def test_item_payload_keeps_the_price_decimal():
    payload = rules.item_payload({"name": "Cable", "kind": "product", "amount": "9.90", "sku": "C-1",
                                  "atera_id": "product:1"}, "79")
    assert payload == {"Name": "Cable", "Type": "NonInventory", "IncomeAccountRef": {"value": "79"},
                       "UnitPrice": Decimal("9.90"), "Sku": "C-1"}


def test_customer_payload_leaves_out_missing_values_even_when_they_are_nan():
    nan = float("nan")  # what a DataFrame row holds for a customer without an address
    rec = {"name": "Quarry Lane Vets", "address": nan, "city": None, "state": " ", "zip_code": nan,
           "country": nan, "phone": nan}
    assert rules.customer_payload(rec) == {"DisplayName": "Quarry Lane Vets", "CompanyName": "Quarry Lane Vets"}
