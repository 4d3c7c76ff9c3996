"""Several companies fed by one Atera account (issue 21): each company's extraction keeps only its own customers,
their contacts, contracts and invoices; unrouted customers are recorded, reported and never staged. Against the
Atera twin over HTTP, one staging database per company (isolation is by database)."""
from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
import sqlalchemy as sa

from atera_qbo.atera.client import AteraClient
from atera_qbo.companies import parse_companies
from atera_qbo.extract import extract_atera_catalog, extract_atera_invoices
from atera_qbo.extract.routing import Router, name_key, unrouted_customers
from atera_qbo.http import RetryPolicy
from atera_qbo.reconcile.checks import unrouted_findings
from atera_qbo.reconcile.run import collect
from atera_qbo.staging.db import apply_schema, make_engine, table
from atera_qbo.staging.identity import claim_database
from atera_qbo.staging.tables import metadata
from scripts.airflow_env import DEMO

FAST = RetryPolicy(max_attempts=6, initial_wait=0.01, max_wait=0.05, timeout=10)
HEADERS = {"X-API-KEY": DEMO["atera_api_key"]}
WINDOW = (date(2026, 8, 1), date(2026, 10, 31))
BY_COUNTRY = {"companies": [
    {"id": "default", "name": "Contoso US", "route": {"country": ["United States", "USA"]}},
    {"id": "ca", "name": "Contoso CA", "route": {"country": ["Canada"]}}]}


def client(twin):
    return AteraClient(twin.url, DEMO["atera_api_key"], policy=FAST, rate_per_minute=None)


def routers(doc):
    comps = parse_companies(doc, Path("companies.json"))
    return {c.id: Router(c, comps.sharing_atera(c)) for c in comps}


@pytest.fixture
def other_engine(tmp_path):
    eng = make_engine(f"sqlite:///{tmp_path / 'staging.ca.db'}")
    apply_schema(eng)
    yield eng
    eng.dispose()


def put_customer(twin, customer_id, **fields):
    r = requests.put(f"{twin.url}/api/v3/customers/{customer_id}", json=fields, headers=HEADERS, timeout=10)
    assert r.status_code < 300, r.text


def set_field(twin, customer_id, name, value):
    r = requests.put(f"{twin.url}/api/v3/customvalues/customerfield/{customer_id}/{quote(name)}",
                     json={"Value": value}, headers=HEADERS, timeout=10)
    assert r.status_code < 300, r.text


def live(engine, name, column="source_id"):
    tbl = table(name)
    with engine.connect() as conn:
        return set(conn.execute(sa.select(tbl.c[column]).where(tbl.c.deleted_at.is_(None))).scalars())


def names_of(twin, ids):
    return {str(c["CustomerID"]): c["CustomerName"] for c in client(twin).customers() if str(c["CustomerID"]) in ids}


def everything_in(engine) -> str:
    """Every value of every table of a database, as one text (what a leak would show up in)."""
    parts = []
    with engine.connect() as conn:
        for tbl in metadata.sorted_tables:
            for row in conn.execute(sa.select(tbl)):
                parts.extend(str(v) for v in row)
    return "\n".join(parts)


def test_two_companies_on_one_account_split_by_country(atera_twin, engine, other_engine):
    for cid in (3, 4, 7):
        put_customer(atera_twin, cid, Country="Canada")
    put_customer(atera_twin, 5, Country="Mexico")
    put_customer(atera_twin, 6, Country="")
    r = routers(BY_COUNTRY)
    us = extract_atera_catalog(client(atera_twin), engine, router=r["default"])
    ca = extract_atera_catalog(client(atera_twin), other_engine, router=r["ca"])

    canadian, nobody = {"3", "4", "7"}, {"5", "6"}
    assert live(other_engine, "stg_atera_customers") == canadian
    us_ids = live(engine, "stg_atera_customers")
    assert len(us_ids) == 26 - 5 and not us_ids & (canadian | nobody)
    assert us["customers"].other_company == 3 and ca["customers"].other_company == 21
    assert len(us["customers"].as_dict()["unrouted"]) == 2
    # contacts and contracts: only of the company's own customers; products are the account's, in both
    for eng, ids in ((engine, us_ids), (other_engine, canadian)):
        assert live(eng, "stg_atera_contacts", "customer_id") <= ids
        assert live(eng, "stg_atera_contracts", "customer_id") <= ids
    assert live(other_engine, "stg_atera_contacts") and live(other_engine, "stg_atera_contracts")
    assert live(engine, "stg_atera_products") == live(other_engine, "stg_atera_products")

    for eng in (engine, other_engine):
        unrouted = {u["source_id"]: u for u in unrouted_customers(eng)}
        assert set(unrouted) == nobody
        assert unrouted["5"]["country"] == "Mexico" and unrouted["5"]["rule_value"] == "Mexico"
        assert "Country 'Mexico'" in unrouted["5"]["reason"] and "Country empty" in unrouted["6"]["reason"]
        assert unrouted["5"]["name"]


def test_a_company_database_holds_no_name_of_another_companys_customers(atera_twin, engine, other_engine):
    for cid in (3, 4, 7):
        put_customer(atera_twin, cid, Country="Canada")
    r = routers(BY_COUNTRY)
    extract_atera_catalog(client(atera_twin), engine, router=r["default"])
    extract_atera_catalog(client(atera_twin), other_engine, router=r["ca"])
    extract_atera_invoices(client(atera_twin), engine, *WINDOW, router=r["default"])
    extract_atera_invoices(client(atera_twin), other_engine, *WINDOW, router=r["ca"])
    canadian = names_of(atera_twin, {"3", "4", "7"})
    american = names_of(atera_twin, live(engine, "stg_atera_customers"))
    us_text, ca_text = everything_in(engine), everything_in(other_engine)
    for name in canadian.values():
        assert name not in us_text
        assert name in ca_text
    for name in american.values():
        assert name not in ca_text
    routes = table("atera_customer_routes")
    with engine.connect() as conn:
        theirs = conn.execute(sa.select(routes).where(routes.c.routed_to == "ca")).mappings().all()
    assert {t["source_id"] for t in theirs} == {"3", "4", "7"}
    assert all(t["name"] is None and t["country"] is None for t in theirs)
    assert {t["name_key"] for t in theirs} == {name_key(n) for n in canadian.values()}


def test_invoices_split_by_company_and_unrouted_ones_are_never_staged(atera_twin, engine, other_engine):
    for cid in (3, 4):
        put_customer(atera_twin, cid, Country="Canada")
    put_customer(atera_twin, 5, Country="Mexico")
    r = routers(BY_COUNTRY)
    extract_atera_catalog(client(atera_twin), engine, router=r["default"])
    extract_atera_catalog(client(atera_twin), other_engine, router=r["ca"])
    us = extract_atera_invoices(client(atera_twin), engine, *WINDOW, router=r["default"])
    ca = extract_atera_invoices(client(atera_twin), other_engine, *WINDOW, router=r["ca"])
    invoices = list(client(atera_twin).invoices(*WINDOW))
    names = names_of(atera_twin, {"3", "4", "5"})
    of = {k: {str(i["InvoiceNumber"]) for i in invoices if i["To"]["CompanyName"].strip().casefold()
              == names[k].casefold()} for k in names}
    assert of["3"] and of["4"] and of["5"]
    us_staged, ca_staged = live(engine, "stg_atera_invoices"), live(other_engine, "stg_atera_invoices")
    assert ca_staged == of["3"] | of["4"]
    assert not us_staged & ca_staged and not (us_staged | ca_staged) & of["5"]
    assert len(us_staged) + len(ca_staged) + len(of["5"]) == len(invoices)  # each exactly once, or unrouted
    assert us.other_company == len(ca_staged) and ca.other_company == len(us_staged)
    assert len(us.unrouted) == len(ca.unrouted) == len(of["5"])
    assert all(names["5"] in line for line in us.as_dict()["unrouted"])
    inv = table("stg_atera_invoices")
    with other_engine.connect() as conn:  # the Canadian customers' invoices resolve to them, none unresolved
        assert set(conn.execute(sa.select(inv.c.customer_id)).scalars()) == {"3", "4"}


def test_a_customer_moving_country_leaves_the_first_companys_staging(atera_twin, engine, other_engine):
    r = routers(BY_COUNTRY)
    extract_atera_catalog(client(atera_twin), engine, router=r["default"])
    extract_atera_catalog(client(atera_twin), other_engine, router=r["ca"])
    extract_atera_invoices(client(atera_twin), engine, *WINDOW, router=r["default"])
    assert "9" in live(engine, "stg_atera_customers") and not live(other_engine, "stg_atera_customers")
    contacts_before = {c for c in live(engine, "stg_atera_contacts", "customer_id") if c == "9"}
    invoices_before = live(engine, "stg_atera_invoices")
    inv = table("stg_atera_invoices")
    with engine.connect() as conn:
        of_10 = set(conn.execute(sa.select(inv.c.source_id).where(inv.c.customer_id == "10")).scalars())
    assert of_10

    put_customer(atera_twin, 9, Country="Canada")
    put_customer(atera_twin, 10, Country="Narnia")  # and one that no route places any more
    us = extract_atera_catalog(client(atera_twin), engine, router=r["default"])
    ca = extract_atera_catalog(client(atera_twin), other_engine, router=r["ca"])
    assert "modified since" in us["customers"].entity and "modified since" in ca["customers"].entity  # incremental
    assert not {"9", "10"} & live(engine, "stg_atera_customers")
    assert [u["source_id"] for u in unrouted_customers(engine)] == ["10"]
    assert us["customers"].other_company == 1 and len(us["customers"].unrouted) == 1
    assert "9" not in live(engine, "stg_atera_contacts", "customer_id")
    assert live(other_engine, "stg_atera_customers") == {"9"}
    assert live(other_engine, "stg_atera_contacts", "customer_id") == contacts_before == {"9"}  # moved in: all read

    us_inv = extract_atera_invoices(client(atera_twin), engine, *WINDOW, router=r["default"])
    extract_atera_invoices(client(atera_twin), other_engine, *WINDOW, router=r["ca"])
    moved = live(other_engine, "stg_atera_invoices")
    assert moved and moved <= invoices_before
    assert len(us_inv.unrouted) == len(of_10) and not moved & of_10
    # both flagged deleted: never exported by US
    assert live(engine, "stg_atera_invoices") == invoices_before - moved - of_10
    assert us_inv.other_company == len(moved)
    routes = table("atera_customer_routes")
    with engine.connect() as conn:
        row = conn.execute(sa.select(routes).where(routes.c.source_id == "9")).mappings().one()
    assert row["routed_to"] == "ca" and row["name"] is None and row["country"] is None


def test_a_route_added_to_the_companies_file_reroutes_at_the_next_pull(atera_twin, engine, other_engine):
    put_customer(atera_twin, 5, Country="Mexico")
    r = routers(BY_COUNTRY)
    extract_atera_catalog(client(atera_twin), engine, router=r["default"])
    extract_atera_catalog(client(atera_twin), other_engine, router=r["ca"])
    again = extract_atera_catalog(client(atera_twin), other_engine, router=r["ca"])
    assert "modified since" in again["customers"].entity  # same rules: incremental
    assert [u["source_id"] for u in unrouted_customers(other_engine)] == ["5"]
    wider = {"companies": [BY_COUNTRY["companies"][0],
                           {"id": "ca", "name": "Contoso CA", "route": {"country": ["Canada", "Mexico"]}}]}
    r = routers(wider)
    ca = extract_atera_catalog(client(atera_twin), other_engine, router=r["ca"])
    us = extract_atera_catalog(client(atera_twin), engine, router=r["default"])
    assert "modified since" not in ca["customers"].entity and "modified since" not in us["customers"].entity
    assert live(other_engine, "stg_atera_customers") == {"5"} and not unrouted_customers(other_engine)
    assert not unrouted_customers(engine) and us["customers"].other_company == 1
    assert live(other_engine, "stg_atera_contacts", "customer_id") == {"5"}  # moved in: its contacts read too


def test_routing_by_custom_field_and_a_customer_two_rules_place(atera_twin, atera_control, engine, other_engine):
    atera_control.define_custom_fields([{"Name": "Billing entity", "DataType": "Text", "Target": "Customer"}])
    doc = {"companies": [
        {"id": "default", "name": "Contoso US", "route": {"country": ["United States"]}},
        {"id": "uk", "name": "Contoso UK", "route": {"custom_field": "Billing entity", "values": ["UK"]}}]}
    for cid in (2, 8):
        put_customer(atera_twin, cid, Country="United Kingdom")
        set_field(atera_twin, cid, "Billing entity", "UK")
    set_field(atera_twin, 11, "Billing entity", "uk")  # still in the United States: both rules place it
    r = routers(doc)
    us = extract_atera_catalog(client(atera_twin), engine, router=r["default"])
    uk = extract_atera_catalog(client(atera_twin), other_engine, router=r["uk"])
    assert live(other_engine, "stg_atera_customers") == {"2", "8"}
    assert not live(engine, "stg_atera_customers") & {"2", "8", "11"}
    assert len(live(engine, "stg_atera_customers")) == 26 - 3
    assert us["customers"].other_company == 2 and uk["customers"].other_company == 23
    [both] = unrouted_customers(other_engine)
    assert both["source_id"] == "11" and both["rule_value"] == "Country: United States; Billing entity: uk"
    assert "default (country in (United States))" in both["reason"]
    assert "uk (custom field 'Billing entity' in (UK))" in both["reason"]
    reads = [e for e in atera_control.requests()
             if "/customvalues/customerfield/" in e["path"] and e["method"] == "GET"]
    assert len(reads) == 2 * 26  # one read per customer extracted, per company


def test_reconciliation_reports_unrouted_customers_with_the_values_that_place_them(
        atera_twin, engine, tmp_path, monkeypatch):
    file = tmp_path / "companies.json"
    file.write_text(json.dumps(BY_COUNTRY))
    monkeypatch.setenv("ATERA_QBO_COMPANIES_FILE", str(file))
    claim_database(engine, "default")
    put_customer(atera_twin, 5, Country="Mexico")
    put_customer(atera_twin, 3, Country="Canada")
    extract_atera_catalog(client(atera_twin), engine)  # no router given: the database's company's
    assert not live(engine, "stg_atera_customers") & {"3", "5"}
    [finding] = unrouted_findings(engine)
    name = names_of(atera_twin, {"5"})["5"]
    assert (finding.type, finding.severity, finding.atera_id, finding.atera_name) == (
        "unrouted_customer", "warning", "5", name)
    assert "Country 'Mexico'" in finding.detail
    assert "Set its Country in Atera to one of United States, USA, Canada" in finding.action
    assert "add a route for it to the companies file" in finding.action
    collected = collect(engine, ["unrouted_customer"], *WINDOW, datetime(2026, 11, 1), 3)
    assert [(f.type, f.atera_id) for f in collected] == [("unrouted_customer", "5")]
    put_customer(atera_twin, 5, Country="USA")  # fixed in Atera: placed, staged, and the finding is gone
    extract_atera_catalog(client(atera_twin), engine)
    assert "5" in live(engine, "stg_atera_customers") and not unrouted_findings(engine)


def test_a_company_alone_on_its_account_without_a_route_gets_every_customer(atera_twin, engine):
    put_customer(atera_twin, 5, Country="Mexico")
    solo = routers({"companies": [{"id": "fabrikam", "name": "Fabrikam"}]})["fabrikam"]
    res = extract_atera_catalog(client(atera_twin), engine, router=solo)
    assert len(live(engine, "stg_atera_customers")) == res["customers"].rows == 26
    assert not unrouted_customers(engine) and res["customers"].other_company == 0
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(table("atera_customer_routes"))).scalar() == 0
