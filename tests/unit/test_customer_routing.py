"""The company router (issue 21): which company an Atera customer belongs to, decided from its country or a
customer custom field, without a database or an API."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from atera_qbo.companies import Company, parse_companies
from atera_qbo.errors import ApiError, ConfigError
from atera_qbo.extract.routing import CustomerRouting, Router, custom_values, name_key

SRC = Path("companies.json")


def companies(*entries):
    return parse_companies({"companies": list(entries)}, SRC)


US_CA = companies({"id": "default", "name": "US", "route": {"country": ["United States", "USA"]}},
                  {"id": "ca", "name": "CA", "route": {"country": ["Canada"]}})


def router(comps, cid):
    company = comps.get(cid)
    return Router(company, comps.sharing_atera(company))


def test_country_routes_each_customer_to_one_company_or_none():
    us, ca = router(US_CA, "default"), router(US_CA, "ca")
    assert us.place("United States").routed_to == "default"
    assert us.place("  united   states ").routed_to == "default"  # compared case- and blank-insensitively
    assert us.place("canada").routed_to == "ca" and ca.place("Canada").routed_to == "ca"
    nobody = us.place("Mexico")
    assert nobody.routed_to is None and nobody.rule_value == "Mexico"
    assert "Country 'Mexico'" in nobody.reason and "ca: country in (Canada)" in nobody.reason
    empty = ca.place(None)
    assert empty.routed_to is None and "Country empty" in empty.reason


def test_no_route_on_its_own_account_takes_everything_and_a_route_there_leaves_the_rest_unrouted():
    alone = Router(Company("default", "Solo"), [Company("default", "Solo")])
    assert not alone.active and alone.place(None).routed_to == "default"
    assert alone.place("Mars").routed_to == "default"
    routed = companies({"id": "solo", "name": "Solo", "route": {"country": ["Canada"]}})
    r = router(routed, "solo")
    assert r.active and r.place("Canada").routed_to == "solo"
    assert r.place("United States").routed_to is None


def test_two_rules_placing_one_customer_make_it_unrouted_naming_both():
    mixed = companies({"id": "default", "name": "US", "route": {"country": ["United States"]}},
                      {"id": "uk", "name": "UK", "route": {"custom_field": "Billing entity", "values": ["UK"]}})
    r = router(mixed, "uk")
    assert r.fields == ("Billing entity",) and r.uses_country
    both = r.place("United States", {"Billing entity": "uk"})
    assert both.routed_to is None
    assert "default (country in (United States))" in both.reason
    assert "uk (custom field 'Billing entity' in (UK))" in both.reason
    assert both.rule_value == "Country: United States; Billing entity: uk"
    assert r.place("France", {"Billing entity": "UK"}).routed_to == "uk"
    assert r.place("United States", {"Billing entity": None}).routed_to == "default"


def test_name_key_is_the_sha256_of_the_normalised_name():
    assert name_key(" Contoso  LTD") == hashlib.sha256(b"contoso ltd").hexdigest() == name_key("contoso ltd")


class FakeAtera:
    """Answers the custom-field reads the router makes, as Atera's ``CustomValueDto[]``."""

    def __init__(self, values, defined=("Billing entity",)):
        self.values, self.defined, self.paths = values, defined, []

    def get(self, path, params=None, *, entity):
        self.paths.append(path)
        if path == "/customvalues/customfields":
            return [{"Name": n, "Target": "Customer"} for n in self.defined]
        customer = path.split("/")[3]
        if customer == "666":
            raise ApiError("Atera customer 666 custom field: 400 Customer 666 was not found.", status=400)
        value = self.values.get(customer)
        return [{"ItemId": int(customer), "FieldName": "Billing entity", "ValueAsString": value}] if value else []


def test_custom_field_values_are_read_per_customer_and_an_unreadable_one_is_noted():
    fake = FakeAtera({"1": "UK"})
    assert custom_values(fake, "1", ["Billing entity"]) == ({"Billing entity": "UK"}, None)
    assert fake.paths == ["/customvalues/customerfield/1/Billing%20entity"]
    assert custom_values(fake, "2", ["Billing entity"]) == ({"Billing entity": None}, None)
    values, note = custom_values(fake, "666", ["Billing entity"])
    assert values == {"Billing entity": None} and "could not be read" in note and "666" in note


def test_routing_rows_keep_no_data_of_another_companys_customers():
    mixed = companies({"id": "default", "name": "US", "route": {"country": ["United States"]}},
                      {"id": "uk", "name": "UK", "route": {"custom_field": "Billing entity", "values": ["UK"]}})
    fake = FakeAtera({"2": "UK", "3": "UK"})
    routing = CustomerRouting(router(mixed, "default"), fake)
    rows = [{"source_id": "1", "name": "Mine Inc", "country": "United States"},
            {"source_id": "2", "name": "Theirs Ltd", "country": "United Kingdom"},
            {"source_id": "3", "name": "Both Co", "country": "United States"},
            {"source_id": "4", "name": "Nobody SA", "country": "France"}]
    kept = list(routing.keep(rows))
    assert [r["source_id"] for r in kept] == ["1"]
    assert routing.left == ["2", "3", "4"] and routing.other_company == 1
    by_id = {r["source_id"]: r for r in routing.routes}
    assert by_id["2"] == {"source_id": "2", "routed_to": "uk", "name_key": name_key("Theirs Ltd"), "name": None,
                          "country": None, "rule_value": None, "reason": None}
    assert by_id["1"]["name"] == "Mine Inc" and by_id["1"]["routed_to"] == "default"
    assert by_id["3"]["routed_to"] is None and "several companies" in by_id["3"]["reason"]
    assert by_id["4"]["name"] == "Nobody SA" and by_id["4"]["country"] == "France"
    assert len(routing.unrouted) == 2 and "Nobody SA" in routing.unrouted[1]


def test_a_route_on_a_custom_field_atera_does_not_define_is_refused_naming_it():
    mixed = companies({"id": "default", "name": "US", "route": {"country": ["United States"]}},
                      {"id": "uk", "name": "UK", "route": {"custom_field": "Entity", "values": ["UK"]}})
    routing = CustomerRouting(router(mixed, "default"), FakeAtera({}, defined=("Billing entity",)))
    with pytest.raises(ConfigError, match="company uk uses the Atera custom field 'Entity'"):
        list(routing.keep([{"source_id": "1", "name": "A", "country": "United States"}]))


def test_the_tasks_hand_the_running_companys_router_to_the_extraction(monkeypatch):
    from contextlib import contextmanager
    from datetime import date
    from types import SimpleNamespace

    from atera_qbo.extract.load import LoadResult
    from atera_qbo.tasks import catalog, export

    w = SimpleNamespace(company=US_CA.get("ca"), atera="atera-client", engine="engine")

    @contextmanager
    def fake_wiring():
        yield w

    seen = {}

    def fake_extract(client, engine, *args, router, **kwargs):
        seen[len(seen)] = (client, engine, router)
        result = LoadResult("x")
        return {"customers": result} if not args else result

    for module, name in ((catalog, "run_atera_extraction"), (export, "extract_atera_invoices")):
        monkeypatch.setattr(module, "wiring", fake_wiring)
        monkeypatch.setattr(module, "load_companies", lambda: US_CA)
        monkeypatch.setattr(module, name, fake_extract)
    catalog.extract_atera_catalog()
    export.extract_invoices(date_from="2026-08-01", date_to="2026-08-31", logical_date=date(2026, 9, 1))
    assert len(seen) == 2
    for client, engine, r in seen.values():
        assert (client, engine, r.company.id, r.active) == ("atera-client", "engine", "ca", True)
        assert r.choices() == "default: country in (United States, USA); ca: country in (Canada)"
