"""Customers, vendors, employees and items over HTTP: create, read, update (full/sparse, SyncToken), the name rules."""
from __future__ import annotations

import pytest
from qbo_twin_helpers import fault

DUP_DETAIL = ("The name supplied already exists. : Another customer, vendor or employee is already using this name. "
              "Please use a different name.")


def test_create_customer_answers_the_qbo_shape(api):
    r = api.post("/customer", json={"DisplayName": "King's Groceries", "GivenName": "James", "FamilyName": "King",
                                    "PrimaryEmailAddr": {"Address": "jdrew@myemail.com"},
                                    "BillAddr": {"Line1": "123 Main Street", "City": "Mountain View",
                                                 "CountrySubDivisionCode": "CA", "PostalCode": "94042"}})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert "time" in doc
    c = doc["Customer"]
    assert c["Id"] == "31" and c["SyncToken"] == "0" and c["domain"] == "QBO" and c["sparse"] is False
    assert c["FullyQualifiedName"] == "King's Groceries" and c["Active"] is True and c["Job"] is False
    assert c["Balance"] == 0 and c["CurrencyRef"] == {"value": "USD", "name": "United States Dollar"}
    assert c["MetaData"]["CreateTime"] == c["MetaData"]["LastUpdatedTime"]
    assert "MiddleName" not in c and "Notes" not in c  # only fields that have values
    assert api.get("/customer/31").json()["Customer"] == c


def test_display_name_built_from_name_parts(api):
    c = api.post("/customer", json={"GivenName": "Ada", "FamilyName": "Lovelace"}).json()["Customer"]
    assert c["DisplayName"] == "Ada Lovelace"
    r = api.post("/customer", json={"CompanyName": "No Name Parts"})
    assert r.status_code == 400 and fault(r)["code"] == "2020"


@pytest.mark.parametrize("name", ["Contoso Ltd", "CONTOSO LTD", "  contoso ltd ", "Ingram Micro", "jordan smith"])
def test_display_name_unique_across_customers_vendors_employees(api, name):
    r = api.post("/customer", json={"DisplayName": name})
    assert r.status_code == 400
    error = fault(r)
    assert error["code"] == "6240"
    assert error["Message"] == "Duplicate Name Exists Error"
    assert error["Detail"] == DUP_DETAIL
    assert r.json()["Fault"]["type"] == "ValidationFault"


def test_vendor_and_employee_names_collide_with_customers(api):
    r = api.post("/vendor", json={"DisplayName": "contoso ltd"})
    assert r.status_code == 400 and fault(r)["code"] == "6240"
    r = api.post("/employee", json={"GivenName": "Fabrikam", "FamilyName": "Manufacturing"})
    assert r.status_code == 400 and fault(r)["code"] == "6240"
    assert api.post("/vendor", json={"DisplayName": "Brand New Vendor"}).status_code == 200


def test_inactive_customer_still_holds_its_name(api):
    r = api.post("/customer", json={"DisplayName": "Old Mill Bakery"})
    assert fault(r)["code"] == "6240"


@pytest.mark.parametrize("name", ["Acme: East", "Tab\tName", "New\nLine"])
def test_names_reject_colon_tab_newline(api, name):
    r = api.post("/customer", json={"DisplayName": name})
    assert r.status_code == 400 and fault(r)["code"] == "6000"
    r = api.post("/item", json={"Name": name, "Type": "Service", "IncomeAccountRef": {"value": "1"}})
    assert r.status_code == 400 and fault(r)["code"] == "6000"


def test_name_lengths(api):
    assert api.post("/customer", json={"DisplayName": "x" * 500}).status_code == 200
    r = api.post("/customer", json={"DisplayName": "y" * 501})
    assert r.status_code == 400 and fault(r)["code"] == "6000"
    ok = api.post("/item", json={"Name": "i" * 100, "Type": "Service", "IncomeAccountRef": {"value": "1"}})
    assert ok.status_code == 200
    r = api.post("/item", json={"Name": "j" * 101, "Type": "Service", "IncomeAccountRef": {"value": "1"}})
    assert r.status_code == 400 and fault(r)["code"] == "6000"


def test_unknown_property_is_rejected(api):
    r = api.post("/customer", json={"DisplayName": "Typo Co", "DisplayNmae": "oops"})
    assert r.status_code == 400
    error = fault(r)
    assert error["code"] == "2010" and "DisplayNmae" in error["Detail"]


def test_malformed_json_is_rejected(api):
    r = api.post("/customer", data=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and fault(r)["code"] == "2010"


def test_sub_customer(api):
    c = api.post("/customer", json={"DisplayName": "Contoso Annex", "ParentRef": {"value": "1"},
                                    "Job": True}).json()["Customer"]
    assert c["Job"] is True and c["ParentRef"] == {"value": "1"}
    assert c["FullyQualifiedName"] == "Contoso Ltd:Contoso Annex"
    seeded = api.get("/customer/29").json()["Customer"]
    assert seeded["DisplayName"] == "Contoso Warehouse" and seeded["ParentRef"]["value"] == "1"
    r = api.post("/customer", json={"DisplayName": "Orphan Job", "ParentRef": {"value": "999"}})
    assert r.status_code == 400 and fault(r)["code"] == "2500"


def test_full_update_increments_synctoken_and_nulls_omitted_fields(api):
    c = api.post("/customer", json={"DisplayName": "Update Me", "Notes": "keep?",
                                    "PrimaryPhone": {"FreeFormNumber": "555"}}).json()["Customer"]
    r = api.post("/customer", json={"Id": c["Id"], "SyncToken": "0", "DisplayName": "Updated Me"})
    assert r.status_code == 200, r.text
    updated = r.json()["Customer"]
    assert updated["SyncToken"] == "1" and updated["DisplayName"] == "Updated Me"
    assert "Notes" not in updated and "PrimaryPhone" not in updated
    assert updated["MetaData"]["CreateTime"] == c["MetaData"]["CreateTime"]


def test_sparse_update_changes_only_given_fields(api):
    c = api.post("/customer", json={"DisplayName": "Sparse Me", "Notes": "stays"}).json()["Customer"]
    r = api.post("/customer", json={"Id": c["Id"], "SyncToken": "0", "sparse": True, "MiddleName": "Mark"})
    updated = r.json()["Customer"]
    assert updated["MiddleName"] == "Mark" and updated["Notes"] == "stays" and updated["SyncToken"] == "1"


def test_stale_synctoken_is_5010(api):
    c = api.post("/customer", json={"DisplayName": "Stale Co"}).json()["Customer"]
    assert api.post("/customer", json={"Id": c["Id"], "SyncToken": "0", "sparse": True,
                                       "Notes": "first"}).status_code == 200
    r = api.post("/customer", json={"Id": c["Id"], "SyncToken": "0", "sparse": True, "Notes": "second"})
    assert r.status_code == 400
    error = fault(r)
    assert error["code"] == "5010" and error["Message"] == "Stale Object Error"
    assert api.get(f"/customer/{c['Id']}").json()["Customer"]["Notes"] == "first"


def test_update_to_a_taken_name_is_6240(api):
    r = api.post("/customer", json={"Id": "2", "SyncToken": "0", "sparse": True, "DisplayName": "Contoso Ltd"})
    assert fault(r)["code"] == "6240"
    # renaming to its own name in another case is fine
    r = api.post("/customer", json={"Id": "2", "SyncToken": "0", "sparse": True,
                                    "DisplayName": "FABRIKAM MANUFACTURING"})
    assert r.status_code == 200


def test_lists_cannot_be_deleted_only_made_inactive(api):
    r = api.post("/customer", params={"operation": "delete"}, json={"Id": "2", "SyncToken": "0"})
    assert r.status_code == 400
    assert fault(r)["code"] == "500" and fault(r)["Message"] == "Unsupported Operation"
    r = api.post("/item", params={"operation": "delete"}, json={"Id": "2", "SyncToken": "0"})
    assert fault(r)["code"] == "500"
    r = api.post("/customer", json={"Id": "2", "SyncToken": "0", "sparse": True, "Active": False})
    assert r.status_code == 200 and r.json()["Customer"]["Active"] is False
    assert api.get("/customer/2").status_code == 200


def test_read_unknown_id_is_610(api):
    r = api.get("/customer/9999")
    assert r.status_code == 400 and fault(r)["code"] == "610"


def test_update_unknown_id_is_610(api):
    r = api.post("/customer", json={"Id": "9999", "SyncToken": "0", "DisplayName": "Ghost"})
    assert r.status_code == 400 and fault(r)["code"] == "610"


# -- items -----------------------------------------------------------------------------------------------------
def test_create_service_item(api):
    r = api.post("/item", json={"Name": "Consulting Plus", "Type": "Service", "IncomeAccountRef": {"value": "1"},
                                "UnitPrice": 150, "Taxable": True, "Sku": "CONS-1"})
    assert r.status_code == 200, r.text
    item = r.json()["Item"]
    assert item["IncomeAccountRef"] == {"value": "1", "name": "Services"}
    assert item["UnitPrice"] == 150 and item["Sku"] == "CONS-1" and item["Active"] is True


def test_item_name_unique_case_and_blank_insensitive(api):
    body = {"Type": "Service", "IncomeAccountRef": {"value": "1"}}
    for name in ("Server Monitoring", "server monitoring", " Server Monitoring  ", "Old Antivirus Suite"):
        r = api.post("/item", json={"Name": name, **body})
        assert r.status_code == 400, name
        error = fault(r)
        assert error["code"] == "6240" and error["Message"] == "Duplicate Name Exists Error"


def test_item_needs_an_existing_income_account(api):
    r = api.post("/item", json={"Name": "No Account", "Type": "Service"})
    assert r.status_code == 400 and fault(r)["code"] == "2020"
    r = api.post("/item", json={"Name": "No Account", "Type": "NonInventory"})
    assert fault(r)["code"] == "2020"
    r = api.post("/item", json={"Name": "Bad Account", "Type": "Service", "IncomeAccountRef": {"value": "999"}})
    assert fault(r)["code"] == "2500"
    r = api.post("/item", json={"Name": "Wrong Type", "Type": "Service", "IncomeAccountRef": {"value": "5"}})
    assert fault(r)["code"] == "6000"
    r = api.post("/item", json={"Name": "Closed Account", "Type": "Service", "IncomeAccountRef": {"value": "13"}})
    assert fault(r)["code"] == "610"


def test_item_type_required_and_valid(api):
    r = api.post("/item", json={"Name": "Typeless", "IncomeAccountRef": {"value": "1"}})
    assert fault(r)["code"] == "2020"
    r = api.post("/item", json={"Name": "Grouped", "Type": "Group"})
    assert fault(r)["code"] == "6000"


def test_category_and_items_in_it(api):
    cat = api.post("/item", json={"Name": "Peripherals", "Type": "Category"}).json()["Item"]
    assert "IncomeAccountRef" not in cat
    item = api.post("/item", json={"Name": "Mouse", "Type": "NonInventory", "IncomeAccountRef": {"value": "2"},
                                   "ParentRef": {"value": cat["Id"]}, "SubItem": True}).json()["Item"]
    assert item["FullyQualifiedName"] == "Peripherals:Mouse" and item["SubItem"] is True


def test_inventory_item_requirements(api):
    r = api.post("/item", json={"Name": "Widget", "Type": "Inventory", "IncomeAccountRef": {"value": "2"},
                                "ExpenseAccountRef": {"value": "7"}, "AssetAccountRef": {"value": "6"},
                                "TrackQtyOnHand": True, "QtyOnHand": 10, "InvStartDate": "2026-01-01"})
    assert r.status_code == 200, r.text
    r = api.post("/item", json={"Name": "Widget 2", "Type": "Inventory", "IncomeAccountRef": {"value": "2"},
                                "ExpenseAccountRef": {"value": "7"}, "TrackQtyOnHand": True, "QtyOnHand": 1,
                                "InvStartDate": "2026-01-01"})
    assert fault(r)["code"] == "2020"


def test_make_item_inactive(api):
    r = api.post("/item", json={"Id": "1", "SyncToken": "0", "sparse": True, "Active": False})
    assert r.status_code == 200 and r.json()["Item"]["Active"] is False
    assert api.rows("SELECT * FROM Item WHERE Id = '1'") == []
    assert api.rows("SELECT * FROM Item WHERE Id = '1' AND Active = false")[0]["Active"] is False


def test_email_address_must_look_like_one(api):
    r = api.post("/customer", json={"DisplayName": "Mail Co", "PrimaryEmailAddr": {"Address": "not-an-email"}})
    assert r.status_code == 400 and fault(r)["code"] == "6000"


def test_item_rename_to_a_taken_name_is_6240(api):
    r = api.post("/item", json={"Id": "2", "SyncToken": "0", "sparse": True, "Name": "REMOTE SUPPORT (HOURLY)"})
    assert r.status_code == 400 and fault(r)["code"] == "6240"
    r = api.post("/item", json={"Id": "2", "SyncToken": "0", "sparse": True, "Sku": "S" * 101})
    assert r.status_code == 400 and fault(r)["code"] == "6000"


def test_create_account_and_duplicate_name(api):
    r = api.post("/account", json={"Name": "Consulting Income", "AccountType": "Income",
                                   "AccountSubType": "ServiceFeeIncome"})
    assert r.status_code == 200, r.text
    account = r.json()["Account"]
    assert account["Classification"] == "Revenue"
    assert account["Id"] == "14"  # after the 13 setup accounts, which stay intact
    assert api.get("/account/1").json()["Account"]["Name"] == "Services"
    item = api.post("/item", json={"Name": "Uses New Account", "Type": "Service",
                                   "IncomeAccountRef": {"value": account["Id"]}})
    assert item.status_code == 200
    r = api.post("/account", json={"Name": "services", "AccountType": "Income"})
    assert fault(r)["code"] == "6240"
    r = api.post("/account", json={"Name": "Odd", "AccountType": "Spaceship"})
    assert fault(r)["code"] == "6000"


def test_taxcodes_and_taxrates_are_read_only(api):
    r = api.post("/taxcode", json={"Name": "Mine"})
    assert r.status_code == 400 and fault(r)["code"] == "500"
    assert api.get("/taxcode/TAX").json()["TaxCode"]["Name"] == "TAX"


def test_references_to_inactive_parents(api):
    r = api.post("/customer", json={"DisplayName": "Bakery Branch", "ParentRef": {"value": "28"}})
    assert r.status_code == 400 and fault(r)["code"] == "610"
    cat = api.post("/item", json={"Name": "Retired Category", "Type": "Category"}).json()["Item"]
    api.post("/item", json={"Id": cat["Id"], "SyncToken": "0", "sparse": True, "Active": False})
    r = api.post("/item", json={"Name": "In Retired", "Type": "Service", "IncomeAccountRef": {"value": "1"},
                                "ParentRef": {"value": cat["Id"]}})
    assert r.status_code == 400 and fault(r)["code"] == "610"


def test_answers_carry_an_intuit_tid(api):
    assert api.get("/customer/1").headers.get("intuit_tid")


def test_bodies_must_be_in_a_content_type_qbo_consumes(api):
    r = api.post("/customer", data=b'{"DisplayName": "Form Co"}', params={"requestid": "ct-1"},
                 headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    error = fault(r)
    assert error["code"] == "500" and error["Detail"] == "Operation Cannot consume content type is not supported."
    # the refusal is not remembered under the requestid
    r = api.post("/customer", json={"DisplayName": "Form Co"}, params={"requestid": "ct-1"})
    assert r.status_code == 200
    r = api.post("/query", data=b"SELECT * FROM Item", headers={"Content-Type": "application/json"})
    assert r.status_code == 415
    r = api.http.post(f"{api.url}/oauth2/v1/tokens/bearer", auth=("twin-client-id", "twin-client-secret"),
                      json={"grant_type": "refresh_token", "refresh_token": api.mint_refresh_token()}, timeout=10)
    assert r.status_code == 415
