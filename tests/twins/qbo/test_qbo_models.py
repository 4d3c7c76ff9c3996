"""Unit tests of the QBO state model, the query language and OAuth, without HTTP."""
from __future__ import annotations

from decimal import Decimal

import pytest

from sandbox.core.store import Store
from sandbox.qbo import query as q
from sandbox.qbo.exceptions import (
    DuplicateDocNumber,
    DuplicateName,
    InvalidReference,
    OAuthError,
    ObjectNotFound,
    QueryParserError,
    QueryValidationError,
    StaleObject,
    UnsupportedOperation,
)
from sandbox.qbo.models.backend import QboBackend
from sandbox.qbo.models.oauth import OAuthServer
from sandbox.qbo.seed import seed_company


@pytest.fixture
def backend() -> QboBackend:
    b = QboBackend(Store(), "123")
    with b.store.transaction():
        b.reset()
        seed_company(b, "demo", 42)
    return b


def _invoice(customer="1", item="1", qty=1, price="125.00", **extra):
    return {"CustomerRef": {"value": customer}, "Line": [{
        "DetailType": "SalesItemLineDetail", "Amount": Decimal(price) * qty,
        "SalesItemLineDetail": {"ItemRef": {"value": item}, "Qty": qty, "UnitPrice": Decimal(price),
                                "TaxCodeRef": {"value": "NON"}}}], **extra}


def test_demo_seed_facts(backend):
    customers = backend.realm.all("Customer")
    assert len(customers) == 30
    assert customers["1"]["DisplayName"] == "Contoso Ltd"
    assert customers["28"]["DisplayName"] == "Old Mill Bakery" and customers["28"]["Active"] is False
    assert customers["29"]["FullyQualifiedName"] == "Contoso Ltd:Contoso Warehouse"
    assert customers["29"]["ParentRef"] == {"value": "1"} and customers["29"]["Job"] is True
    assert customers["30"]["CurrencyRef"]["value"] == "CAD"
    items = backend.realm.all("Item")
    assert items["1"]["Name"] == "Remote Support (hourly)" and items["1"]["UnitPrice"] == Decimal("125.00")
    assert items["1"]["IncomeAccountRef"]["value"] == "1"
    assert {i["Name"] for i in items.values() if i["Type"] == "Category"} == {"Hardware", "Software"}
    assert any(not i.get("Sku") and i["Type"] != "Category" for i in items.values())
    assert any(i["Active"] is False for i in items.values())
    prefs = backend.realm.get("Preferences", "1")
    assert prefs["SalesFormsPrefs"]["CustomTxnNumbers"] is True
    assert prefs["CurrencyPrefs"] == {"MultiCurrencyEnabled": True, "HomeCurrency": {"value": "USD"}}


def test_seed_is_deterministic():
    a, b = QboBackend(Store(), "1"), QboBackend(Store(), "1")
    for x in (a, b):
        x.reset()
        seed_company(x, "small", 7)
    assert a.realm.all("Customer") == b.realm.all("Customer")
    assert a.realm.all("Item") == b.realm.all("Item")


def test_create_customer_and_unique_names(backend):
    c = backend.save("Customer", {"DisplayName": "Model Co"})
    assert c["Id"] == "31" and c["SyncToken"] == "0"
    for name in ("model co", " MODEL CO ", "Ingram Micro"):
        with pytest.raises(DuplicateName):
            backend.save("Customer", {"DisplayName": name})
    with pytest.raises(DuplicateName):
        backend.save("Employee", {"DisplayName": "Model Co"})


def test_failed_validation_leaves_no_trace(backend):
    before = dict(backend.realm.all("Customer"))
    with pytest.raises(InvalidReference):
        backend.save("Invoice", _invoice(customer="999"))
    with pytest.raises(InvalidReference):
        backend.save("Invoice", _invoice(item="99999"))
    assert backend.realm.all("Invoice") == {}
    assert backend.realm.all("Customer") == before


def test_invoice_balances_and_stale_updates(backend):
    inv = backend.save("Invoice", _invoice(qty=2))
    assert inv["TotalAmt"] == Decimal("250.00")
    assert backend.realm.get("Customer", "1")["Balance"] == Decimal("250.00")
    updated = backend.save("Invoice", {**_invoice(qty=1), "Id": inv["Id"], "SyncToken": "0"})
    assert updated["SyncToken"] == "1"
    assert backend.realm.get("Customer", "1")["Balance"] == Decimal("125.00")
    with pytest.raises(StaleObject):
        backend.save("Invoice", {**_invoice(qty=3), "Id": inv["Id"], "SyncToken": "0"})


def test_docnumber_index(backend):
    backend.save("Invoice", _invoice(DocNumber="X-1"))
    with pytest.raises(DuplicateDocNumber):
        backend.save("Invoice", _invoice(DocNumber="x-1 "))
    backend.allow_duplicate_docnum = True
    backend.save("Invoice", _invoice(DocNumber="X-1"))


def test_inactive_references(backend):
    with pytest.raises(ObjectNotFound):
        backend.save("Invoice", _invoice(customer="28"))


def test_lists_cannot_be_deleted(backend):
    with pytest.raises(UnsupportedOperation):
        backend.delete("Customer", {"Id": "1", "SyncToken": "0"})


def test_batch_hides_objects_created_in_it(backend):
    def run(item):
        return "Customer", backend.save("Customer", item["Customer"]), "create"

    responses = backend.batch({"BatchItemRequest": [{"bId": "1", "Customer": {"DisplayName": "Hidden"}}]}, run)
    assert responses[0]["Customer"]["DisplayName"] == "Hidden"
    assert backend.hidden == set()  # visible again after the batch


def test_reset_keeps_setup(backend):
    accounts = dict(backend.realm.all("Account"))
    backend.reset()
    assert backend.realm.all("Customer") == {}
    assert backend.realm.all("Account") == accounts
    assert backend.realm.get("Preferences", "1")


# -- the query language ------------------------------------------------------------------------------------------
def test_parse_full_grammar():
    parsed = q.parse("select * from customer where DisplayName LIKE 'A%' and Metadata.LastUpdatedTime >= "
                     "'2026-01-01T00:00:00-08:00' and Id in ('1', '2') order by DisplayName desc, Id "
                     "startposition 0 maxresults 50")
    assert parsed.entity == "Customer" and not parsed.count
    assert [c.field for c in parsed.conditions] == ["DisplayName", "MetaData.LastUpdatedTime", "Id"]
    assert parsed.order == [("DisplayName", "str", True), ("Id", "id", False)]
    assert parsed.start == 1 and parsed.max_results == 50


def test_parse_escapes():
    parsed = q.parse(r"SELECT * FROM Customer WHERE DisplayName = 'O\'Brien \\ Sons'")
    assert parsed.conditions[0].values == ["O'Brien \\ Sons"]


@pytest.mark.parametrize("text", ["SELECT * FROM Customer WHERE DisplayName = 'x' OR Id = 'y'", "SELECT * Customer",
                                  "SELECT * FROM Customer MAXRESULTS", "SELECT * FROM Customer WHERE Id = '1' X"])
def test_parse_errors(text):
    with pytest.raises(QueryParserError):
        q.parse(text)


def test_validation_errors():
    with pytest.raises(QueryValidationError):
        q.parse("SELECT * FROM Customer WHERE Notes = 'x'")
    with pytest.raises(QueryValidationError):
        q.parse("SELECT * FROM Customer MAXRESULTS 1001")


def test_execute_active_default_and_paging():
    records = [{"Id": str(i), "Name": f"N{i}", "Active": i % 2 == 0} for i in range(1, 11)]
    page, total = q.execute(q.parse("SELECT * FROM Item STARTPOSITION 2 MAXRESULTS 2"), records)
    assert [r["Id"] for r in page] == ["4", "6"] and total == 5
    page, total = q.execute(q.parse("SELECT * FROM Item WHERE Active IN (true, false) ORDER BY Id DESC"), records)
    assert page[0]["Id"] == "10" and total == 10
    _, total = q.execute(q.parse("SELECT COUNT(*) FROM Item WHERE Name LIKE '%1%'"), records)
    assert total == 1  # N1 is inactive, N10 active
    _, total = q.execute(q.parse("SELECT COUNT(*) FROM Item WHERE Name LIKE '%1%' AND Active IN (true,false)"),
                         records)
    assert total == 2


# -- OAuth --------------------------------------------------------------------------------------------------------
def test_oauth_rotation_and_expiry():
    now = [1000.0]
    store = Store()
    oauth = OAuthServer(store, "123", lambda: 1.0, wall=lambda: now[0])
    oauth.register_client("c", "s")
    first = oauth.start_grant("c")
    doc = oauth.refresh("c", first)
    with pytest.raises(OAuthError) as exc:
        oauth.refresh("c", first)
    assert exc.value.error == "invalid_grant"
    assert oauth.check_access(f"Bearer {doc['access_token']}") == ("123", "")
    now[0] += 3600
    assert oauth.check_access(f"Bearer {doc['access_token']}") == (None, "Token expired")
    now[0] += 8726400
    with pytest.raises(OAuthError):
        oauth.refresh("c", doc["refresh_token"])  # the refresh token expired too


def test_company_info_read_by_realm_id(backend):
    assert backend.read("CompanyInfo", "123")["CompanyName"] == "Twin MSP Demo Co"


def test_sub_customers_nest_at_most_four_levels(backend):
    from sandbox.qbo.exceptions import BusinessValidation, RequiredParamMissing
    parent = "1"
    for level in range(1, 5):
        parent = backend.save("Customer", {"DisplayName": f"Level {level}", "ParentRef": {"value": parent}})["Id"]
    with pytest.raises(BusinessValidation):
        backend.save("Customer", {"DisplayName": "Level 5", "ParentRef": {"value": parent}})
    with pytest.raises(RequiredParamMissing):
        backend.save("Customer", {"DisplayName": "Jobless", "Job": True})


def test_query_dates_and_refs(backend):
    backend.save("Invoice", _invoice(TxnDate="2026-03-01"))
    backend.save("Invoice", _invoice(customer="2", TxnDate="2026-04-01"))
    assert [r["TxnDate"] for r in backend.query("SELECT * FROM Invoice WHERE TxnDate >= '2026-03-15'")["Invoice"]] \
        == ["2026-04-01"]
    assert backend.query("SELECT COUNT(*) FROM Invoice WHERE CustomerRef IN ('1', '2')") == {"totalCount": 2}
    assert backend.query("SELECT * FROM Invoice WHERE TotalAmt > 1000") == {}


def test_cdc_answers_at_most_1000_objects(backend):
    import datetime as dt
    for _ in range(1005):
        backend.save("Invoice", _invoice())
    since = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).isoformat()
    groups = backend.cdc("Invoice,Customer", since)
    assert sum(len(g.get("Invoice", [])) + len(g.get("Customer", [])) for g in groups) == 1000


def test_renaming_a_parent_renames_the_children(backend):
    backend.save("Customer", {"Id": "1", "SyncToken": "0", "sparse": True, "DisplayName": "Contoso Group"})
    assert backend.realm.get("Customer", "29")["FullyQualifiedName"] == "Contoso Group:Contoso Warehouse"
    backend.save("Item", {"Id": "58", "SyncToken": "0", "sparse": True, "Name": "Devices"})
    item = backend.realm.get("Item", "24")
    assert item["FullyQualifiedName"] == "Devices:Firewall Appliance FG-60F"
    assert item["ParentRef"] == {"value": "58", "name": "Devices"}
