"""The state model without HTTP: accounts, entity rules, money, paging, seeds."""
from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest

from sandbox.atera.exceptions import Conflict, NotFound, ValidationFailed
from sandbox.atera.models import AccountConfig, AteraBackend, tenant_of
from sandbox.atera.models.invoices import line_amounts, zip_code_int
from sandbox.atera.paging import envelope
from sandbox.atera.seed import build_catalog, invoice_generator
from sandbox.core.store import Store

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


@pytest.fixture
def backend() -> AteraBackend:
    b = AteraBackend(Store(), [AccountConfig("k1"), AccountConfig("k2", "UTC")], clock=lambda: NOW)
    b.reset()
    return b


def test_accounts_are_isolated(backend):
    one, two = backend.accounts
    one.customers.create({"CustomerName": "A"}, NOW)
    assert len(one.customers.list()) == 1 and two.customers.list() == []
    assert backend.account_for_key("k2") is two and backend.account_for_key("nope") is None
    assert one.tenant == tenant_of("k1") and "k1" not in one.tenant


def test_customer_rules(backend):
    customers = backend.default.customers
    record = customers.create({"CustomerName": "Acme", "City": "X", "Bogus": 1}, NOW)
    assert record["CustomerID"] == 1 and record["LastModified"] == "2026-11-20T15:00:00Z" and "Bogus" not in record
    with pytest.raises(ValidationFailed):
        customers.create({"CustomerName": None}, NOW)
    with pytest.raises(ValidationFailed) as err:
        customers.create({"customername": 5}, NOW)
    assert "$.CustomerName" in err.value.errors
    customers.update(1, {"City": "Y", "CustomerName": None}, NOW)
    assert customers.get(1)["City"] == "Y" and customers.get(1)["CustomerName"] == "Acme"
    customers.delete(1)
    with pytest.raises(NotFound):
        customers.get(1)
    assert customers.create({"CustomerName": "B"}, NOW)["CustomerID"] == 2


def test_contact_email_is_unique_case_insensitively(backend):
    account = backend.default
    account.customers.create({"CustomerName": "Acme"}, NOW)
    account.contacts.create({"Email": "a@acme.example.com", "CustomerID": 1}, NOW)
    with pytest.raises(Conflict):
        account.contacts.create({"Email": " A@ACME.example.com ", "CustomerID": 1}, NOW)
    assert [c["Email"] for c in account.contacts.list(email="A@acme.example.com")] == ["a@acme.example.com"]


def test_archived_rates_leave_the_list_but_stay_nameable(backend):
    products = backend.default.products
    products.create({"Description": "Old", "Amount": Decimal("5")})
    products.update(1, {"Archived": True})
    assert products.list() == [] and "Old" in backend.default.product_names()


def test_line_money_rounds_half_up():
    assert line_amounts(Decimal("3"), Decimal("0.335"), None, None) == (Decimal("1.01"), Decimal("0.00"),
                                                                         Decimal("1.01"))
    assert line_amounts(Decimal("1"), Decimal("99.99"), Decimal("8.25"), Decimal("12.5")) == (
        Decimal("87.49"), Decimal("7.22"), Decimal("94.71"))
    assert line_amounts(Decimal("-2"), Decimal("10.005"), Decimal("10"), None) == (
        Decimal("-20.01"), Decimal("-2.00"), Decimal("-22.01"))


def test_zip_code_is_an_int32_or_null():
    assert zip_code_int("02108") == 2108 and zip_code_int("M5H 2N2") is None and zip_code_int(None) is None
    assert zip_code_int("99999999999") is None


def test_envelope_on_a_lazy_sequence():
    request = SimpleNamespace(arg=lambda name: {"page": "3", "itemsInPage": "2"}.get(name),
                              query_string="page=3&itemsInPage=2&x=1", base_url="http://h", path="/p")
    env = envelope(range(100, 107), request)
    assert env["items"] == [104, 105] and env["totalPages"] == 4 and env["totalItemCount"] == 7
    assert env["nextLink"] == "http://h/p?x=1&page=4&itemsInPage=2"
    assert env["prevLink"] == "http://h/p?x=1&page=2&itemsInPage=2"


def test_seeded_invoices_window_maps_to_index_ranges():
    gen = invoice_generator("demo", 42)
    assert gen.count == 150
    lo, hi = gen.index_range(date(2026, 9, 1), date(2026, 9, 30))
    assert all(gen.invoice(i)["InvoiceDate"].startswith("2026-09") for i in range(lo, hi))
    assert not gen.invoice(lo - 1)["InvoiceDate"].startswith("2026-09")
    assert not gen.invoice(hi)["InvoiceDate"].startswith("2026-09")
    assert gen.invoice(7) == gen.invoice(7)  # deterministic


def test_small_seed_has_credits_and_demo_has_none():
    small = invoice_generator("small", 42)
    assert any(small.invoice(i)["Total"] < 0 for i in range(small.count))
    demo = invoice_generator("demo", 42)
    assert all(demo.invoice(i)["Total"] >= 0 for i in range(demo.count))


def test_seed_catalog_is_deterministic_and_depends_on_the_seed():
    assert build_catalog("demo", 42).customers == build_catalog("demo", 42).customers
    assert invoice_generator("demo", 7).invoice(3) != invoice_generator("demo", 42).invoice(3)


def test_posted_invoice_validation_in_the_model(backend):
    account = backend.default
    backend.seed("demo", 42)
    stored = account.invoices.add_many([{
        "InvoiceDate": "2026-11-02", "ContractName": "Acme Inc - Hourly Support", "To": {"CompanyName": "Acme Inc"},
        "LineItems": [{"Product": "Parking", "Quantity": 2, "Rate": Decimal("15")}]}])
    assert stored[0]["Total"] == Decimal("30.00") and stored[0]["InvoiceNumber"] == 1151
    with pytest.raises(ValidationFailed) as err:
        account.invoices.add_many([{"InvoiceDate": "2026-11-02", "To": {"CompanyName": "Acme Inc"},
                                    "LineItems": [{"Product": "Parking", "Quantity": 1, "Rate": 15}]}])
    assert "[0].ContractName" in err.value.errors


def test_command_line_accounts():
    import argparse

    from sandbox.atera.server import DEFAULT_PER_MINUTE, account_configs, add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--api-key", "a", "--api-key", "b", "--timezone", "America/Chicago"])
    configs = account_configs(args.api_keys, args.timezones)
    assert [(c.api_key, c.timezone) for c in configs] == [("a", "America/Chicago"), ("b", "Eastern Standard Time")]
    assert args.per_minute == DEFAULT_PER_MINUTE
    assert [c.api_key for c in account_configs(None)] == ["twin-atera-key"]
    for keys, zones in ((["a", "a"], None), (["a"], ["Mars/Olympus"]), (["a"], ["UTC", "UTC"]), ([""], None)):
        with pytest.raises(SystemExit):
            account_configs(keys, zones)
