"""The query endpoint over HTTP: grammar, filters, paging, active-only default, COUNT, parse errors."""
from __future__ import annotations

import pytest
from qbo_twin_helpers import fault


def test_select_all_customers_get_and_post(api):
    for method in ("GET", "POST"):
        r = api.query("SELECT * FROM Customer", method=method)
        assert r.status_code == 200
        doc = r.json()
        assert "time" in doc
        qr = doc["QueryResponse"]
        assert qr["startPosition"] == 1
        assert qr["maxResults"] == len(qr["Customer"]) == 29  # active only (Old Mill Bakery is inactive)
        assert [c["Id"] for c in qr["Customer"]][:3] == ["1", "2", "3"]


def test_empty_result_is_an_empty_query_response(api):
    r = api.query("SELECT * FROM Customer WHERE DisplayName = 'Nobody At All'")
    assert r.json()["QueryResponse"] == {}


def test_count(api):
    assert api.query("SELECT COUNT(*) FROM Customer").json()["QueryResponse"] == {"totalCount": 29}
    assert api.query("select count(*) from Customer where Active IN (true, false)").json()[
        "QueryResponse"] == {"totalCount": 30}


def test_inactive_only_when_the_query_filters_on_active(api):
    names = [c["DisplayName"] for c in api.rows("SELECT * FROM Customer WHERE Active = false")]
    assert names == ["Old Mill Bakery"]
    assert "Old Mill Bakery" not in [c["DisplayName"] for c in api.rows("SELECT * FROM Customer MAXRESULTS 1000")]


def test_equality_with_backslash_escaped_quote(api):
    rows = api.rows("SELECT * FROM Customer WHERE DisplayName = 'O\\'Brien & Sons Plumbing'")
    assert [r["Id"] for r in rows] == ["3"]


def test_string_equality_is_case_insensitive(api):
    rows = api.rows("SELECT * FROM Customer WHERE DisplayName = 'contoso LTD'")
    assert [r["DisplayName"] for r in rows] == ["Contoso Ltd"]


def test_like_with_percent(api):
    rows = api.rows("SELECT * FROM Item WHERE Name LIKE 'Microsoft 365%'")
    assert {r["Name"] for r in rows} == {"Microsoft 365 Business Basic", "Microsoft 365 Business Standard",
                                         "Microsoft 365 Business Premium", "Microsoft 365 Backup Seat"}
    assert api.rows("SELECT * FROM Item WHERE Name LIKE '%FG-60F%'")


def test_in_and_comparisons(api):
    rows = api.rows("SELECT * FROM Customer WHERE Id IN ('1', '3', '5')")
    assert [r["Id"] for r in rows] == ["1", "3", "5"]
    rows = api.rows("SELECT * FROM Customer WHERE Id > '27' AND Active IN (true,false)")
    assert [r["Id"] for r in rows] == ["28", "29", "30"]
    rows = api.rows("SELECT * FROM Item WHERE Type = 'Category'")
    assert sorted(r["Name"] for r in rows) == ["Hardware", "Software"]


def test_dotted_fields_and_refs(api):
    invoice = api.post("/invoice", json={"CustomerRef": {"value": "2"}, "Line": [
        {"DetailType": "SalesItemLineDetail", "Amount": 125,
         "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "Qty": 1, "UnitPrice": 125}}]}).json()["Invoice"]
    rows = api.rows("SELECT * FROM Invoice WHERE CustomerRef = '2'")
    assert [r["Id"] for r in rows] == [invoice["Id"]]
    assert api.rows("SELECT * FROM Invoice WHERE CustomerRef IN ('1', '3')") == []
    since = invoice["MetaData"]["LastUpdatedTime"]
    rows = api.rows(f"SELECT * FROM Invoice WHERE Metadata.LastUpdatedTime >= '{since}' "
                    f"ORDER BY Metadata.LastUpdatedTime")
    assert [r["Id"] for r in rows] == [invoice["Id"]]
    assert api.rows("SELECT * FROM Customer WHERE MetaData.LastUpdatedTime > '2027-01-01T00:00:00-08:00'") == []


def test_order_by_and_orderby(api):
    asc = [r["DisplayName"] for r in api.rows("SELECT * FROM Customer ORDER BY DisplayName")]
    assert asc == sorted(asc, key=str.casefold)
    desc = [r["DisplayName"] for r in api.rows("SELECT * FROM Customer ORDERBY DisplayName DESC")]
    assert desc == list(reversed(asc))


def test_paging_startposition_and_maxresults(api):
    page1 = api.query("SELECT * FROM Item STARTPOSITION 1 MAXRESULTS 10").json()["QueryResponse"]
    assert page1["startPosition"] == 1 and page1["maxResults"] == 10
    page0 = api.query("SELECT * FROM Item STARTPOSITION 0 MAXRESULTS 10").json()["QueryResponse"]
    assert page0["Item"] == page1["Item"] and page0["startPosition"] == 1
    page2 = api.query("SELECT * FROM Item STARTPOSITION 11 MAXRESULTS 10").json()["QueryResponse"]
    assert page2["Item"][0]["Id"] == "11"
    assert api.query("SELECT * FROM Item STARTPOSITION 5000").json()["QueryResponse"] == {}


def test_default_page_size_is_100(make_api):
    api = make_api(seed_profile="small")
    qr = api.query("SELECT * FROM Item").json()["QueryResponse"]
    assert qr["maxResults"] == 100 and len(qr["Item"]) == 100
    assert len(api.rows("SELECT * FROM Item MAXRESULTS 1000")) == 1000


def test_maxresults_over_1000_is_rejected(api):
    r = api.query("SELECT * FROM Item MAXRESULTS 1001")
    assert r.status_code == 400
    assert fault(r)["code"] == "4001"


def test_select_star_with_field_list_is_accepted(api):
    # python-quickbooks sends this for Item.all()
    assert api.query("SELECT *, Sku FROM Item").status_code == 200


@pytest.mark.parametrize("text", [
    "SELECT * FROM Customer WHERE DisplayName = 'O'Brien'",        # unescaped quote
    "SELECT * FROM Customer WHERE DisplayName = 'A' OR Id = '1'",  # no OR
    "SELECT * FROM Customer WHERE DisplayName != 'A'",             # no !=
    "SELECT * FROM Customer WHERE DisplayName = 'unterminated",
    "SELECT FROM Customer",
    "SELEC * FROM Customer",
    "SELECT * FROM Customer WHERE",
    "SELECT * FROM Customer GROUP BY DisplayName",
    "SELECT * FROM Customer STARTPOSITION -1",
    "SELECT * FROM Customer WHERE (Id = '1')",
    "",
])
def test_parse_errors_are_4000(api, text):
    r = api.query(text)
    assert r.status_code == 400, text
    error = fault(r)
    assert error["code"] == "4000"
    assert error["Message"] == "Error parsing query"
    assert error["Detail"].startswith("QueryParserError:")
    assert r.json()["Fault"]["type"] == "ValidationFault"


@pytest.mark.parametrize("text", [
    "SELECT * FROM Customer WHERE Notes = 'x'",          # not filterable
    "SELECT * FROM Customer WHERE Active LIKE 'tr%'",     # LIKE on a boolean
    "SELECT * FROM Customer WHERE Active = 'maybe'",
    "SELECT * FROM Widget",
])
def test_invalid_queries_are_4001(api, text):
    r = api.query(text)
    assert r.status_code == 400
    assert fault(r)["code"] == "4001"


def test_query_reference_entities(api):
    assert {a["Name"] for a in api.rows("SELECT * FROM Account WHERE AccountType = 'Income'")} >= {
        "Services", "Sales of Product Income"}
    assert {t["Id"] for t in api.rows("SELECT * FROM TaxCode")} == {"TAX", "NON"}
    assert api.rows("SELECT * FROM TaxRate")
    assert api.rows("SELECT * FROM Term")
    info = api.rows("SELECT * FROM CompanyInfo")
    assert info[0]["Country"] == "US"
    prefs = api.rows("SELECT * FROM Preferences")[0]
    assert prefs["SalesFormsPrefs"]["CustomTxnNumbers"] is True
    assert prefs["CurrencyPrefs"]["HomeCurrency"]["value"] == "USD"


def test_order_by_id_stays_ascending_after_creates_and_updates_across_pages():
    """ORDERBY Id skips re-sorting (records are kept in Id order): prove the order holds after writes."""
    from sandbox.qbo.query import execute, parse

    records = [{"Id": str(i), "Name": f"I{i}", "Active": True} for i in range(1, 2501)]
    page1, _ = execute(parse("SELECT * FROM Item ORDERBY Id STARTPOSITION 1 MAXRESULTS 1000"), records)
    page3, _ = execute(parse("SELECT * FROM Item ORDER BY Id STARTPOSITION 2001 MAXRESULTS 1000"), records)
    assert [r["Id"] for r in page1][:3] == ["1", "2", "3"] and len(page3) == 500 and page3[-1]["Id"] == "2500"
    desc, _ = execute(parse("SELECT * FROM Item ORDERBY Id DESC MAXRESULTS 2"), records)
    assert [r["Id"] for r in desc] == ["2500", "2499"]


def test_store_keeps_items_in_id_order_after_writes(api):
    created = [api.post("/item", json={"Name": f"Zeta {i}", "Type": "Service", "IncomeAccountRef": {"value": "1"}})
               for i in range(3)]
    assert all(r.status_code == 200 for r in created)
    first = api.rows("SELECT * FROM Item WHERE Id = '2'")[0]
    upd = api.post("/item", json={"Id": "2", "SyncToken": first["SyncToken"], "sparse": True, "UnitPrice": 1})
    assert upd.status_code == 200
    ids = [int(r["Id"]) for r in api.rows("SELECT * FROM Item WHERE Active IN (true, false) ORDERBY Id "
                                          "MAXRESULTS 1000")]
    assert ids == sorted(ids) and len(ids) >= 62
