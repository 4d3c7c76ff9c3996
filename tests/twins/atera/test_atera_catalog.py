"""Customers, contacts, rates, contracts, custom values, tickets and work hours over HTTP."""
from __future__ import annotations

from decimal import Decimal

import pytest

from sandbox.atera.models import AccountConfig


# -- account ---------------------------------------------------------------------------------------------------------
def test_account(demo):
    info = demo.get("/api/v3/account")
    assert info["TimeZoneName"] == "Eastern Standard Time" and info["CompanyName"] == "Twin MSP Services"


# -- customers -------------------------------------------------------------------------------------------------------
def test_demo_customers_keep_their_snags(demo):
    names = [c["CustomerName"] for c in demo.all_items("/api/v3/customers")]
    assert len(names) == 26
    for snag in ("Northwind Traders ", "BLUE RIDGE DENTAL", "O'Brien & Sons Plumbing", "Acme Inc", "Café Lumière",
                 "Margie's Travel", "Apex Dental", "Greenfield Architects", "Harbor View Realty"):
        assert snag in names
    assert "Pinecrest Veterinary Clinic" not in names  # QBO only
    assert demo.get("/api/v3/customers/7")["CustomerName"] == "Northwind Traders "


def test_customer_crud(fresh):
    result = fresh.post("/api/v3/customers", {"CustomerName": "New Client LLC", "City": "Boise",
                                               "ZipCodeStr": "83702", "Latitude": 43.6, "Unknown": "ignored"})
    new_id = int(result["ActionID"])
    assert new_id == 27 and isinstance(result["ActionID"], str)
    customer = fresh.get(f"/api/v3/customers/{new_id}")
    assert customer["CustomerName"] == "New Client LLC" and customer["City"] == "Boise"
    assert customer["CreatedOn"].endswith("Z") and customer["LastModified"] == customer["CreatedOn"]
    assert fresh.put(f"/api/v3/customers/{new_id}", {"Phone": "555-1234"})["ActionID"] == str(new_id)
    updated = fresh.get(f"/api/v3/customers/{new_id}")
    assert updated["Phone"] == "555-1234" and updated["City"] == "Boise"  # untouched fields stay
    assert fresh.post(f"/api/v3/customers/{new_id}", {"CustomerName": "Renamed LLC"}, expect=200)
    assert fresh.get(f"/api/v3/customers/{new_id}")["CustomerName"] == "Renamed LLC"
    fresh.delete(f"/api/v3/customers/{new_id}")
    fresh.get(f"/api/v3/customers/{new_id}", expect=404)
    fresh.delete(f"/api/v3/customers/{new_id}", expect=404)
    # ids are never reused
    assert fresh.post("/api/v3/customers", {"CustomerName": "Next"})["ActionID"] == "28"


@pytest.mark.parametrize(("body", "field"), [
    ({}, "CustomerName"), ({"CustomerName": "   "}, "CustomerName"), ({"CustomerName": 42}, "$.CustomerName"),
    ({"CustomerName": "x", "Latitude": "north"}, "$.Latitude"), ([1, 2], "$"),
])
def test_customer_create_validation(fresh, body, field):
    response = fresh.call("POST", "/api/v3/customers", 400, json=body)
    problem = response.json()
    assert problem["title"] == "One or more validation errors occurred." and field in problem["errors"]
    assert problem["type"].startswith("https://tools.ietf.org/html/rfc")
    assert fresh.get("/api/v3/customers")["totalItemCount"] == 26


def test_customer_update_validation_and_404(fresh):
    fresh.put("/api/v3/customers/1", {"CustomerName": ""}, expect=400)
    fresh.put("/api/v3/customers/999", {"CustomerName": "x"}, expect=404)


def test_customers_modified_since_in_account_timezone_and_sort(make_twin, client_cls):
    _twin, url = make_twin(accounts=[AccountConfig("k", "Pacific Standard Time")], seed_profile="demo")
    client = client_cls(url, "k")
    everything = client.all_items("/api/v3/customers")
    assert [c["CustomerID"] for c in everything] == sorted(c["CustomerID"] for c in everything)
    by_modified = client.all_items("/api/v3/customers?SortBy=LastModified")
    assert [c["LastModified"] for c in by_modified] == sorted(c["LastModified"] for c in everything)
    # a new customer is modified "now"; a date far back returns everything, one in the future nothing
    client.post("/api/v3/customers", {"CustomerName": "Fresh Co"})
    assert len(client.all_items("/api/v3/customers?FromLastModifiedDate=2000-01-01")) == 27
    assert client.all_items("/api/v3/customers?FromLastModifiedDate=2999-01-01") == []
    fresh_one = client.get("/api/v3/customers/27")
    # LastModified is UTC; the parameter is Pacific time (UTC-8 in winter): 1 hour after the UTC instant, written
    # as Pacific time, is still before it... only when converted.
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    modified = datetime.fromisoformat(fresh_one["LastModified"].replace("Z", "+00:00"))
    local = modified.astimezone(ZoneInfo("America/Los_Angeles")).replace(tzinfo=None) - timedelta(minutes=1)
    found = client.all_items(f"/api/v3/customers?FromLastModifiedDate={local:%Y-%m-%dT%H:%M:%S}")
    assert [c["CustomerID"] for c in found] == [27]
    utc_written = (modified + timedelta(minutes=1)).replace(tzinfo=None)
    # the same instant written in UTC is read as Pacific time: 8 hours later, so nothing matches
    assert client.all_items(f"/api/v3/customers?FromLastModifiedDate={utc_written:%Y-%m-%dT%H:%M:%S}") == []


@pytest.mark.parametrize("query", ["FromLastModifiedDate=yesterday", "FromLastModifiedDate=2026-01-01T00:00:00Z",
                                   "FromLastModifiedDate=2026-01-01T00:00:00%2B02:00", "SortBy=Name"])
def test_customer_list_parameter_errors(demo, query):
    demo.call("GET", f"/api/v3/customers?{query}", 400)


# -- contacts --------------------------------------------------------------------------------------------------------
def test_contacts_list_filter_and_crud(fresh):
    contacts = fresh.all_items("/api/v3/contacts")
    assert len(contacts) >= 26 and all(c["Email"] for c in contacts)
    first = contacts[0]
    found = fresh.get(f"/api/v3/contacts?Email={first['Email'].upper()}")
    assert [c["EndUserID"] for c in found["items"]] == [first["EndUserID"]]
    assert fresh.get("/api/v3/contacts?Email=nobody@example.com")["items"] == []
    new_id = int(fresh.post("/api/v3/contacts", {"Email": "new.person@contosoltd.example.com", "CustomerID": 1,
                                                 "Firstname": "New", "Lastname": "Person"})["ActionID"])
    contact = fresh.get(f"/api/v3/contacts/{new_id}")
    assert contact["CustomerName"] == "Contoso Ltd" and contact["Archived"] is False
    # 409 on a duplicate email, whatever its case
    problem = fresh.call("POST", "/api/v3/contacts", 409,
                         json={"Email": "NEW.person@contosoltd.example.com", "CustomerID": 1}).json()
    assert problem["status"] == 409
    fresh.put(f"/api/v3/contacts/{new_id}", {"JobTitle": "CFO", "Archived": True})
    assert fresh.get(f"/api/v3/contacts/{new_id}")["JobTitle"] == "CFO"
    since = fresh.all_items("/api/v3/contacts?FromLastModifiedDate=2026-11-01&SortBy=LastModified")
    assert new_id in [c["EndUserID"] for c in since]
    fresh.delete(f"/api/v3/contacts/{new_id}")
    fresh.get(f"/api/v3/contacts/{new_id}", expect=404)
    fresh.delete(f"/api/v3/contacts/{new_id}", expect=404)


@pytest.mark.parametrize(("body", "status"), [
    ({"CustomerID": 1}, 400), ({"Email": "", "CustomerID": 1}, 400), ({"Email": "no-at-sign", "CustomerID": 1}, 400),
    ({"Email": "x@y.example.com", "CustomerID": 999}, 400), ({"Email": "x@y.example.com"}, 400),
    ({"Email": "x@y.example.com", "CustomerID": "one"}, 400),
])
def test_contact_create_validation(fresh, body, status):
    fresh.call("POST", "/api/v3/contacts", status, json=body)


def test_contact_by_customer_name(fresh):
    new_id = fresh.post("/api/v3/contacts", {"Email": "a@b.example.com", "CustomerName": "Acme Inc"})["ActionID"]
    assert fresh.get(f"/api/v3/contacts/{new_id}")["CustomerID"] == 8


# -- rates -----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["products", "expenses"])
def test_rates_crud_and_archive(fresh, kind):
    base = f"/api/v3/rates/{kind}"
    before = fresh.get(base)["totalItemCount"]
    new_id = int(fresh.post(base, {"Description": "Thing", "Amount": 12.345, "SKU": "T-1",
                                   "Category": "Misc"})["ActionID"])
    rate = fresh.get(f"{base}/{new_id}")
    assert rate == {"RateID": new_id, "Amount": Decimal("12.345"), "Description": "Thing", "SKU": "T-1",
                    "Category": "Misc"}
    assert fresh.get(base)["totalItemCount"] == before + 1
    fresh.put(f"{base}/{new_id}", {"Amount": 15, "Archived": True})
    assert fresh.get(base)["totalItemCount"] == before  # archived ones leave the list
    assert fresh.get(f"{base}/{new_id}")["Amount"] == 15  # and can still be read by id
    fresh.put(f"{base}/{new_id}", {"Archived": False})
    assert fresh.get(base)["totalItemCount"] == before + 1
    fresh.delete(f"{base}/{new_id}")
    fresh.get(f"{base}/{new_id}", expect=404)
    fresh.put(f"{base}/{new_id}", {"Amount": 1}, expect=404)
    fresh.delete(f"{base}/{new_id}", expect=404)


@pytest.mark.parametrize("body", [{}, {"Description": ""}, {"Description": "x", "Amount": "ten"},
                                  {"Description": "x", "Amount": None}])
def test_rate_create_validation(fresh, body):
    fresh.call("POST", "/api/v3/rates/products", 400, json=body)


def test_demo_rates(demo):
    products = demo.all_items("/api/v3/rates/products")
    expenses = demo.all_items("/api/v3/rates/expenses")
    assert len(products) == 36 and len(expenses) == 8
    assert products[0] == {"RateID": 1, "Amount": Decimal("6.00"), "Description": "Microsoft 365 Business Basic",
                           "SKU": "M365-BB", "Category": "Software"}
    names = {p["Description"] for p in products}
    assert "Dark Web Monitoring" in names and "Remote Support (hourly)" not in names  # rates live in contracts


# -- contracts -------------------------------------------------------------------------------------------------------
def test_demo_contracts_carry_every_rate_and_type(demo):
    contracts = demo.all_items("/api/v3/contracts")
    types = {c["ContractType"] for c in contracts}
    assert types == {"Hourly", "RetainerFlatFee", "RemoteMonitoring", "BlockHours", "OnlineBackup", "BlockMoney",
                     "ProjectOneTimeFee", "ProjectHourlyRate"}
    customers = {c["CustomerID"] for c in contracts}
    assert customers == set(range(1, 27))
    rate_names = set()
    for contract in contracts:
        sub = contract[{"Hourly": "HourlyContract", "RetainerFlatFee": "RetainerFlatFeeContract",
                        "RemoteMonitoring": "RemoteMonitoringContract", "BlockHours": "BlockHoursContract",
                        "OnlineBackup": "OnlineBackupContract", "BlockMoney": "BlockMoneyContract",
                        "ProjectOneTimeFee": "ProjectOneTimeFeeContract",
                        "ProjectHourlyRate": "ProjectHourlyRateContract"}[contract["ContractType"]]]
        for value in sub.values():
            for rate in value if isinstance(value, list) else [value]:
                if isinstance(rate, dict):
                    rate_names.add(rate["Description"])
    assert len(rate_names) == 12 and "Monthly Retainer" in rate_names
    hourly = demo.get("/api/v3/contracts/1")
    assert hourly["HourlyContract"]["PrimaryRate"]["Description"] == "Remote Support (hourly)"
    assert hourly["HourlyContract"]["PrimaryRate"]["Amount"] == Decimal("125.00")


def test_contracts_of_a_customer(demo):
    env = demo.get("/api/v3/contracts/customer/7")
    assert env["items"] and all(c["CustomerID"] == 7 for c in env["items"])
    assert all(c["CustomerName"] == "Northwind Traders " for c in env["items"])
    assert demo.get("/api/v3/contracts/customer/9999")["items"] == []


def test_contract_create_update(fresh):
    body = {"ContractName": "Extra Hourly", "CustomerID": 2, "ContractType": "Hourly", "Active": True,
            "Default": False, "Taxable": False, "SLAId": 1,
            "HourlyContract": {"HourlyRateID": 4, "AdditionalRateIDs": [1, 3], "BillingPeriod": "OnDemand"}}
    new_id = int(fresh.post("/api/v3/contracts", body)["ActionID"])
    contract = fresh.get(f"/api/v3/contracts/{new_id}")
    assert contract["HourlyContract"]["PrimaryRate"]["Description"] == "Project Engineering (hourly)"
    assert [r["RateID"] for r in contract["HourlyContract"]["AdditionalRates"]] == [1, 3]
    assert contract["HourlyContract"]["BillingPeriod"] == "OnDemand"
    assert "RetainerFlatFeeContract" not in contract
    fresh.call("PUT", f"/api/v3/contracts/{new_id}", 204,
               json={"ContractName": "Renamed", "HourlyContract": {"BillingPeriod": "Monthly"}})
    contract = fresh.get(f"/api/v3/contracts/{new_id}")
    assert contract["ContractName"] == "Renamed" and contract["HourlyContract"]["BillingPeriod"] == "Monthly"
    fresh.call("PUT", f"/api/v3/contracts/{new_id}", 400,
               json={"RetainerFlatFeeContract": {"Quantity": 3}})
    fresh.call("POST", "/api/v3/contracts/9999", 404, json={"ContractName": "x"})
    retainer = {"ContractName": "Retainer", "CustomerID": 2, "ContractType": "RetainerFlatFee",
                "RetainerFlatFeeContract": {"RateID": 11, "Quantity": 2, "BillingPeriod": "Monthly"}}
    retainer_id = fresh.post("/api/v3/contracts", retainer)["ActionID"]
    assert fresh.get(f"/api/v3/contracts/{retainer_id}")["RetainerFlatFeeContract"]["Rate"]["Amount"] == 2500


@pytest.mark.parametrize("change", [
    {"CustomerID": 999}, {"ContractName": ""}, {"ContractType": "Weekly"},
    {"HourlyContract": {"HourlyRateID": 999}}, {"HourlyContract": None},
    {"RetainerFlatFeeContract": {"RateID": 1}}, {"HourlyContract": {"HourlyRateID": 1, "BillingPeriod": "Daily"}},
])
def test_contract_create_validation(fresh, change):
    body = {"ContractName": "C", "CustomerID": 2, "ContractType": "Hourly",
            "HourlyContract": {"HourlyRateID": 1}}
    body.update(change)
    fresh.call("POST", "/api/v3/contracts", 400, json=body)


def test_deleting_a_customer_removes_its_contacts_contracts_and_values(fresh):
    fresh.put("/api/v3/customvalues/customerfield/3/QuickBooks ID", {"Value": "77"})
    fresh.delete("/api/v3/customers/3")
    assert fresh.get("/api/v3/contracts/customer/3")["items"] == []
    assert all(c["CustomerID"] != 3 for c in fresh.all_items("/api/v3/contacts"))
    fresh.call("GET", "/api/v3/customvalues/customerfields/3", 400)


# -- custom values ---------------------------------------------------------------------------------------------------
def test_custom_fields_and_customer_values(fresh):
    fields = fresh.get("/api/v3/customvalues/customfields")
    assert {"Name": "QuickBooks ID", "DataType": "Text", "Target": "Customer", "PossibleValues": [],
            "ParentAttributeName": None} in fields
    assert fresh.get("/api/v3/customvalues/customerfield/5/QuickBooks%20ID") == []
    assert fresh.put("/api/v3/customvalues/customerfield/5/QuickBooks%20ID", {"Value": "QBO-58"})["ActionID"]
    values = fresh.get("/api/v3/customvalues/customerfield/5/QuickBooks%20ID")
    assert len(values) == 1 and values[0]["ValueAsString"] == "QBO-58" and values[0]["ItemId"] == 5
    fresh.post("/api/v3/customvalues/customerfield/5/Seats", {"Value": "12.5"}, expect=200)
    fresh.put("/api/v3/customvalues/customerfield/5/Priority%20Client", {"Value": "true"})
    fresh.put("/api/v3/customvalues/customerfield/5/Tier", {"Value": "Gold"})
    fresh.put("/api/v3/customvalues/customerfield/5/Renewal%20Date", {"Value": "2027-01-31"})
    all_values = {v["FieldName"]: v for v in fresh.get("/api/v3/customvalues/customerfields/5")}
    assert all_values["Seats"]["ValueAsDecimal"] == Decimal("12.5")
    assert all_values["Priority Client"]["ValueAsBool"] is True
    assert all_values["Tier"]["OptionId"]
    assert all_values["Renewal Date"]["ValueAsDateTime"] == "2027-01-31T00:00:00"
    # overwrite keeps one value
    fresh.put("/api/v3/customvalues/customerfield/5/QuickBooks%20ID", {"Value": "QBO-59"})
    assert [v["ValueAsString"] for v in fresh.get("/api/v3/customvalues/customerfield/5/quickbooks%20id")] == \
        ["QBO-59"]


@pytest.mark.parametrize(("path", "body"), [
    ("/api/v3/customvalues/customerfield/5/No%20Such%20Field", {"Value": "x"}),
    ("/api/v3/customvalues/customerfield/999/QuickBooks%20ID", {"Value": "x"}),
    ("/api/v3/customvalues/customerfield/5/Seats", {"Value": "many"}),
    ("/api/v3/customvalues/customerfield/5/Priority%20Client", {"Value": "maybe"}),
    ("/api/v3/customvalues/customerfield/5/Tier", {"Value": "Platinum"}),
    ("/api/v3/customvalues/customerfield/5/QuickBooks%20ID", {"Value": 58}),
])
def test_custom_value_errors(fresh, path, body):
    fresh.call("PUT", path, 400, json=body)


# -- tickets and work hours ------------------------------------------------------------------------------------------
def test_tickets(demo):
    tickets = demo.all_items("/api/v3/tickets")
    assert len(tickets) == 78
    ticket = demo.get(f"/api/v3/tickets/{tickets[5]['TicketID']}")
    assert ticket == tickets[5]
    of_customer = demo.all_items("/api/v3/tickets?customerId=2")
    assert of_customer and all(t["CustomerID"] == 2 for t in of_customer)
    closed = demo.all_items("/api/v3/tickets?ticketStatus=closed")
    assert closed and all(t["TicketStatus"] == "Closed" for t in closed)
    recent = demo.all_items("/api/v3/tickets/lastmodified?date=2026-10-15T00:00:00")
    assert 0 < len(recent) < len(tickets)
    demo.call("GET", "/api/v3/tickets/lastmodified", 400)
    demo.call("GET", "/api/v3/tickets?customerId=abc", 400)


def test_workhours(demo):
    records = demo.all_items("/api/v3/workhours")
    assert records and all(r["RateID"] is None for r in records)  # rates only with includeRates=true
    with_rates = demo.all_items("/api/v3/workhours?includeRates=true")
    assert all(r["RateID"] and r["RateAmount"] for r in with_rates)
    window = demo.all_items("/api/v3/workhours?startWorkhour=2026-09-01&endWorkhour=2026-09-30")
    assert 0 < len(window) < len(records)
    assert all("2026-09-01" <= r["StartWorkHour"][:10] <= "2026-10-01" for r in window)
    demo.call("GET", "/api/v3/workhours?startWorkhour=soon", 400)


def test_workhours_window_is_read_in_the_account_timezone(make_twin, client_cls):
    from datetime import datetime, timedelta

    clients = {}
    for zone in ("UTC", "Tokyo Standard Time"):
        _, url = make_twin(accounts=[AccountConfig("k", zone)], seed_profile="demo")
        clients[zone] = client_cls(url, "k")
    moment = clients["UTC"].all_items("/api/v3/workhours")[0]["StartWorkHour"]
    after = datetime.fromisoformat(moment.rstrip("Z")) + timedelta(minutes=1)
    query = f"/api/v3/workhours?startWorkhour={after:%Y-%m-%dT%H:%M:%S}"
    in_utc = [r["StartWorkHour"] for r in clients["UTC"].all_items(query)]
    in_tokyo = [r["StartWorkHour"] for r in clients["Tokyo Standard Time"].all_items(query)]
    assert moment not in in_utc and min(in_utc) > moment
    # Tokyo is UTC+9: the same local time is 9 hours earlier in UTC, so the record is in the window
    assert moment in in_tokyo
    assert min(in_tokyo) >= (after - timedelta(hours=9)).strftime("%Y-%m-%dT%H:%M:%SZ")
