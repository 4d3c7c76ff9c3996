"""Invoices, credit memos and payments over HTTP: shape, references, amounts, DocNumber, currency, tax, void/delete."""
from __future__ import annotations

from decimal import Decimal

import pytest
from qbo_twin_helpers import fault, invoice_body

UK_MESSAGE = "Make sure all your transactions have a VAT rate before you save."


def line(item="1", qty=1, price="125.00", amount=None, tax="NON", **detail):
    amount = amount if amount is not None else str(Decimal(str(qty)) * Decimal(price))
    sd = {"ItemRef": {"value": item}, "Qty": qty, "UnitPrice": Decimal(price) if False else float(price)}
    if tax is not None:
        sd["TaxCodeRef"] = {"value": tax}
    sd.update(detail)
    return {"DetailType": "SalesItemLineDetail", "Amount": float(amount), "SalesItemLineDetail": sd}


def create_invoice(api, **body):
    body.setdefault("CustomerRef", {"value": "1"})
    body.setdefault("Line", [line()])
    r = api.post("/invoice", json=body)
    assert r.status_code == 200, r.text
    return r.json()["Invoice"]


def test_invoice_shape(api):
    inv = create_invoice(api, DocNumber="INV-1001", TxnDate="2026-10-01",
                         Line=[line("1", 2, "125.00"), line("13", 3, "6.00", tax="TAX")])
    assert inv["Id"] == "1" and inv["SyncToken"] == "0" and inv["DocNumber"] == "INV-1001"
    assert inv["TxnDate"] == "2026-10-01"
    assert inv["CustomerRef"] == {"value": "1", "name": "Contoso Ltd"}
    sales = [ln for ln in inv["Line"] if ln["DetailType"] == "SalesItemLineDetail"]
    assert [(ln["Id"], ln["LineNum"]) for ln in sales] == [("1", 1), ("2", 2)]
    assert sales[0]["SalesItemLineDetail"]["ItemRef"] == {"value": "1", "name": "Remote Support (hourly)"}
    assert sales[0]["SalesItemLineDetail"]["TaxCodeRef"] == {"value": "NON"}
    subtotal = [ln for ln in inv["Line"] if ln["DetailType"] == "SubTotalLineDetail"]
    assert subtotal == [{"Amount": 268.0, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}}]
    assert "TotalTax" in inv["TxnTaxDetail"]
    assert inv["Balance"] == inv["TotalAmt"]
    assert inv["MetaData"]["CreateTime"]


def test_money_is_exact_decimal_in_json(api):
    r = api.post("/invoice", json={"CustomerRef": {"value": "1"}, "Line": [line("9", 3, "0.35", tax="NON")]})
    assert b'"TotalAmt":1.05' in r.content
    raw = api.get("/invoice/" + r.json()["Invoice"]["Id"]).content
    assert b'"Amount":1.05' in raw


def test_us_automated_sales_tax_stand_in(api):
    # Customer 3 (O'Brien & Sons Plumbing) is billed in TX and has no shipping address: QBO's AST sources tax at the
    # ship-to address, and with none at the company's address (CA, 7.75 %), never at the billing address.
    inv = create_invoice(api, CustomerRef={"value": "3"}, Line=[line("13", 10, "6.00", tax="TAX"),
                                                                   line("1", 1, "125.00", tax="NON")])
    assert inv["TxnTaxDetail"]["TotalTax"] == 4.65
    assert inv["TotalAmt"] == 60 + 125 + 4.65
    no_code = create_invoice(api, CustomerRef={"value": "3"}, Line=[line("13", 10, "6.00", tax=None)])
    assert no_code["Line"][0]["SalesItemLineDetail"]["TaxCodeRef"] == {"value": "TAX"}  # default since 2018
    assert no_code["TxnTaxDetail"]["TotalTax"] == 4.65


def test_us_takes_only_tax_and_non(api):
    r = api.post("/invoice", json={"CustomerRef": {"value": "1"}, "Line": [line(tax="2")]})
    assert r.status_code == 400 and fault(r)["code"] == "2500"


def test_amount_must_equal_qty_times_unit_price(api):
    r = api.post("/invoice", json={"CustomerRef": {"value": "1"}, "Line": [line("1", 2, "125.00", amount="249.99")]})
    assert r.status_code == 400
    error = fault(r)
    assert error["code"] == "6000" and error["element"] == "Line.Amount"
    ok = api.post("/invoice", json={"CustomerRef": {"value": "1"}, "Line": [line("9", 3, "0.333", amount="1.00")]})
    assert ok.status_code == 200  # 0.999 rounds to the cent


def test_customer_reference_rules(api):
    r = api.post("/invoice", json={"CustomerRef": {"value": "999"}, "Line": [line()]})
    assert r.status_code == 400 and fault(r)["code"] == "2500" and fault(r)["element"] == "CustomerRef"
    r = api.post("/invoice", json={"CustomerRef": {"value": "28"}, "Line": [line()]})  # Old Mill Bakery, inactive
    assert r.status_code == 400 and fault(r)["code"] == "610"
    r = api.post("/invoice", json={"Line": [line()]})
    assert fault(r)["code"] == "2020"


def test_item_reference_rules(api):
    r = api.post("/invoice", json={"CustomerRef": {"value": "1"}, "Line": [line(item="99999")]})
    assert r.status_code == 400
    error = fault(r)
    assert error["code"] == "2500" and error["element"] == "Line.SalesItemLineDetail.ItemRef"
    inactive = next(i for i in api.rows("SELECT * FROM Item WHERE Active = false"))
    r = api.post("/invoice", json={"CustomerRef": {"value": "1"},
                                   "Line": [line(item=inactive["Id"], price=str(inactive["UnitPrice"]))]})
    assert fault(r)["code"] == "610"


def test_invoice_needs_lines(api):
    r = api.post("/invoice", json={"CustomerRef": {"value": "1"}, "Line": []})
    assert r.status_code == 400 and fault(r)["code"] == "2020"


def test_duplicate_docnumber_is_6140_unless_allowed(api):
    create_invoice(api, DocNumber="D-1")
    r = api.post("/invoice", json={"CustomerRef": {"value": "2"}, "DocNumber": "D-1", "Line": [line()]})
    assert r.status_code == 400
    assert fault(r)["code"] == "6140" and fault(r)["Message"] == "Duplicate Document Number Error"
    r = api.post("/invoice", params={"include": "allowduplicatedocnum"},
                 json={"CustomerRef": {"value": "2"}, "DocNumber": "D-1", "Line": [line()]})
    assert r.status_code == 200


def test_docnumber_length(api):
    r = api.post("/invoice", json={"CustomerRef": {"value": "1"}, "DocNumber": "X" * 22, "Line": [line()]})
    assert r.status_code == 400 and fault(r)["code"] == "6000"
    assert api.post("/invoice", json={"CustomerRef": {"value": "1"}, "DocNumber": "X" * 21,
                                      "Line": [line()]}).status_code == 200


def test_docnumber_without_custom_numbers_is_generated(api):
    assert api.control.set_company(custom_txn_numbers=False)["custom_txn_numbers"] is False
    first = create_invoice(api, DocNumber="MINE-1")
    second = create_invoice(api, DocNumber="MINE-1")
    assert first["DocNumber"] == "1001" and second["DocNumber"] == "1002"
    prefs = api.get("/preferences").json()["Preferences"]
    assert prefs["SalesFormsPrefs"]["CustomTxnNumbers"] is False


def test_docnumber_absent_stays_absent_with_custom_numbers(api):
    assert "DocNumber" not in create_invoice(api)


def test_currency_rules(api):
    # demo has a CAD customer, so multi-currency is on
    prefs = api.get("/preferences").json()["Preferences"]
    assert prefs["CurrencyPrefs"]["MultiCurrencyEnabled"] is True
    cad = api.rows("SELECT * FROM Customer WHERE DisplayName = 'Maple Leaf Outfitters'")[0]
    assert cad["CurrencyRef"]["value"] == "CAD"
    inv = create_invoice(api, CustomerRef={"value": cad["Id"]})
    assert inv["CurrencyRef"]["value"] == "CAD" and inv["ExchangeRate"] != 1
    r = api.post("/invoice", json={"CustomerRef": {"value": cad["Id"]}, "CurrencyRef": {"value": "USD"},
                                   "Line": [line()]})
    assert r.status_code == 400 and fault(r)["code"] == "6000"


def test_multicurrency_off_requires_home_currency(make_api):
    api = make_api(seed_profile="none")
    assert api.get("/preferences").json()["Preferences"]["CurrencyPrefs"]["MultiCurrencyEnabled"] is False
    customer = api.post("/customer", json={"DisplayName": "Home Co"}).json()["Customer"]
    item = api.post("/item", json={"Name": "Thing", "Type": "Service", "IncomeAccountRef": {"value": "1"}}).json()
    r = api.post("/invoice", json={"CustomerRef": {"value": customer["Id"]}, "CurrencyRef": {"value": "EUR"},
                                   "Line": [line(item["Item"]["Id"])]})
    assert r.status_code == 400 and fault(r)["code"] == "6000"
    r = api.post("/customer", json={"DisplayName": "Euro Co", "CurrencyRef": {"value": "EUR"}})
    assert r.status_code == 400 and fault(r)["code"] == "6000"
    r = api.post("/invoice", json={"CustomerRef": {"value": customer["Id"]}, "CurrencyRef": {"value": "USD"},
                                   "Line": [line(item["Item"]["Id"])]})
    assert r.status_code == 200


@pytest.mark.parametrize(("country", "message"), [("GB", UK_MESSAGE), ("CA", None)])
def test_non_us_lines_need_a_tax_code(make_api, country, message):
    api = make_api(country=country)
    codes = {c["Name"]: c["Id"] for c in api.rows("SELECT * FROM TaxCode")}
    r = api.post("/invoice", json={"CustomerRef": {"value": "1"},
                                   "Line": [line(tax=None), line(tax=codes[next(iter(codes))])]})
    assert r.status_code == 400
    error = fault(r)
    assert error["code"] == "6000"
    if message:
        assert error["Detail"] == message
    r = api.post("/invoice", json={"CustomerRef": {"value": "1"}, "Line": [line(tax="999")]})
    assert fault(r)["code"] == "2500"
    r = api.post("/invoice", json={"CustomerRef": {"value": "1"}, "Line": [line(tax="7")]})  # retired code
    assert fault(r)["code"] == "610"


def test_gb_vat_is_computed_per_code(make_api):
    api = make_api(country="GB")
    codes = {c["Name"]: c["Id"] for c in api.rows("SELECT * FROM TaxCode")}
    assert {"20.0% S", "5.0% R", "0.0% Z", "Exempt", "No VAT"} <= set(codes)
    inv = create_invoice(api, Line=[line("1", 1, "100.00", tax=codes["20.0% S"]),
                                    line("2", 1, "165.00", tax=codes["0.0% Z"])])
    assert inv["TxnTaxDetail"]["TotalTax"] == 20.0
    assert inv["TotalAmt"] == 285.0
    assert inv["CurrencyRef"]["value"] == "GBP"
    assert inv["GlobalTaxCalculation"] == "TaxExcluded"


def test_ca_codes_include_zero_and_exempt(make_api):
    api = make_api(country="CA")
    names = {c["Name"] for c in api.rows("SELECT * FROM TaxCode")}
    assert {"HST ON", "GST", "Zero-rated", "Exempt"} <= names


def test_update_invoice_with_synctoken(api):
    inv = create_invoice(api)
    r = api.post("/invoice", json={"Id": inv["Id"], "SyncToken": "0", "sparse": True,
                                   "PrivateNote": "changed"})
    assert r.status_code == 200 and r.json()["Invoice"]["SyncToken"] == "1"
    r = api.post("/invoice", json={"Id": inv["Id"], "SyncToken": "0", "sparse": True, "PrivateNote": "again"})
    assert fault(r)["code"] == "5010"
    full = dict(r.json() and api.get(f"/invoice/{inv['Id']}").json()["Invoice"])
    full["Line"] = [line("1", 3, "125.00")]
    r = api.post("/invoice", json=full)
    assert r.status_code == 200 and r.json()["Invoice"]["TotalAmt"] == 375


def test_delete_invoice(api):
    inv = create_invoice(api, DocNumber="DEL-1")
    assert api.get("/customer/1").json()["Customer"]["Balance"] == 125
    r = api.post("/invoice", params={"operation": "delete"}, json={"Id": inv["Id"], "SyncToken": "5"})
    assert fault(r)["code"] == "5010"
    r = api.post("/invoice", params={"operation": "delete"}, json={"Id": inv["Id"], "SyncToken": "0"})
    assert r.status_code == 200
    assert r.json()["Invoice"] == {"Id": inv["Id"], "status": "Deleted", "domain": "QBO"}
    assert fault(api.get(f"/invoice/{inv['Id']}"))["code"] == "610"
    assert api.get("/customer/1").json()["Customer"]["Balance"] == 0
    create_invoice(api, DocNumber="DEL-1")  # the number is free again


def test_void_invoice(api):
    inv = create_invoice(api)
    r = api.post("/invoice", params={"operation": "void"}, json={"Id": inv["Id"], "SyncToken": "0"})
    assert r.status_code == 200, r.text
    voided = r.json()["Invoice"]
    assert voided["TotalAmt"] == 0 and voided["Balance"] == 0 and voided["SyncToken"] == "1"
    assert voided["PrivateNote"] == "Voided"
    assert api.get("/customer/1").json()["Customer"]["Balance"] == 0


def test_payment_applied_to_invoices_changes_balances(api):
    # 11 API requests back to back: more than Intuit's 10 per second, whose limit is not this test's subject
    api.control.set_limits(per_second=0)
    a = create_invoice(api, Line=[line("1", 2, "125.00")])
    b = create_invoice(api, Line=[line("2", 1, "165.00")])
    assert api.get("/customer/1").json()["Customer"]["Balance"] == 415
    r = api.post("/payment", json={"CustomerRef": {"value": "1"}, "TotalAmt": 300, "Line": [
        {"Amount": 250, "LinkedTxn": [{"TxnId": a["Id"], "TxnType": "Invoice"}]},
        {"Amount": 50, "LinkedTxn": [{"TxnId": b["Id"], "TxnType": "Invoice"}]}]})
    assert r.status_code == 200, r.text
    payment = r.json()["Payment"]
    assert payment["UnappliedAmt"] == 0
    assert api.get(f"/invoice/{a['Id']}").json()["Invoice"]["Balance"] == 0
    inv_b = api.get(f"/invoice/{b['Id']}").json()["Invoice"]
    assert inv_b["Balance"] == 115 and inv_b["LinkedTxn"] == [{"TxnId": payment["Id"], "TxnType": "Payment"}]
    assert api.get("/customer/1").json()["Customer"]["Balance"] == 115
    # overpaying an invoice is refused
    r = api.post("/payment", json={"CustomerRef": {"value": "1"}, "TotalAmt": 200, "Line": [
        {"Amount": 200, "LinkedTxn": [{"TxnId": b["Id"], "TxnType": "Invoice"}]}]})
    assert r.status_code == 400 and fault(r)["code"] == "6000"
    # an invoice with payments cannot be deleted (the payment gave it a new SyncToken)
    r = api.post("/invoice", params={"operation": "delete"}, json={"Id": a["Id"], "SyncToken": "1"})
    assert fault(r)["code"] == "6000"
    # deleting the payment restores the balances
    r = api.post("/payment", params={"operation": "delete"}, json={"Id": payment["Id"], "SyncToken": "0"})
    assert r.status_code == 200
    assert api.get(f"/invoice/{a['Id']}").json()["Invoice"]["Balance"] == 250
    assert api.get("/customer/1").json()["Customer"]["Balance"] == 415


def test_void_payment(api):
    inv = create_invoice(api)
    payment = api.post("/payment", json={"CustomerRef": {"value": "1"}, "TotalAmt": 125, "Line": [
        {"Amount": 125, "LinkedTxn": [{"TxnId": inv["Id"], "TxnType": "Invoice"}]}]}).json()["Payment"]
    r = api.post("/payment", params={"operation": "update", "include": "void"},
                 json={"Id": payment["Id"], "SyncToken": "0", "sparse": True})
    assert r.status_code == 200 and r.json()["Payment"]["TotalAmt"] == 0
    assert api.get(f"/invoice/{inv['Id']}").json()["Invoice"]["Balance"] == 125


def test_payment_for_another_customers_invoice_is_refused(api):
    inv = create_invoice(api)
    r = api.post("/payment", json={"CustomerRef": {"value": "2"}, "TotalAmt": 10, "Line": [
        {"Amount": 10, "LinkedTxn": [{"TxnId": inv["Id"], "TxnType": "Invoice"}]}]})
    assert fault(r)["code"] == "6000"


def test_credit_memo_lowers_the_customer_balance(api):
    create_invoice(api)
    r = api.post("/creditmemo", json={"CustomerRef": {"value": "1"}, "Line": [line("1", 1, "25.00")]})
    assert r.status_code == 200, r.text
    memo = r.json()["CreditMemo"]
    assert memo["TotalAmt"] == 25 and memo["RemainingCredit"] == 25
    assert api.get("/customer/1").json()["Customer"]["Balance"] == 100


def test_customer_with_open_balance_cannot_be_made_inactive(api):
    create_invoice(api)
    r = api.post("/customer", json={"Id": "1", "SyncToken": "0", "sparse": True, "Active": False})
    assert r.status_code == 400 and fault(r)["code"] == "6000"


def test_invoice_body_helper_round_trip(api):
    r = api.post("/invoice", json=invoice_body())
    assert r.status_code == 200


def test_due_date_from_terms(api):
    inv = create_invoice(api, TxnDate="2026-10-01")
    assert inv["SalesTermRef"]["value"] == "3" and inv["DueDate"] == "2026-10-31"  # company default: Net 30
    inv = create_invoice(api, TxnDate="2026-10-01", SalesTermRef={"value": "2"})
    assert inv["DueDate"] == "2026-10-16"
    inv = create_invoice(api, TxnDate="2026-10-01", DueDate="2026-12-01")
    assert inv["DueDate"] == "2026-12-01"
    r = api.post("/invoice", json={"CustomerRef": {"value": "1"}, "TxnDate": "01/10/2026", "Line": [line()]})
    assert r.status_code == 400 and fault(r)["code"] == "2010"


def test_credit_memo_applied_to_an_invoice_through_a_payment(api):
    inv = create_invoice(api, Line=[line("1", 2, "125.00")])
    memo = api.post("/creditmemo", json={"CustomerRef": {"value": "1"},
                                         "Line": [line("1", 1, "50.00")]}).json()["CreditMemo"]
    assert api.get("/customer/1").json()["Customer"]["Balance"] == 200
    r = api.post("/payment", json={"CustomerRef": {"value": "1"}, "TotalAmt": 0, "Line": [
        {"Amount": 50, "LinkedTxn": [{"TxnId": inv["Id"], "TxnType": "Invoice"}]},
        {"Amount": 50, "LinkedTxn": [{"TxnId": memo["Id"], "TxnType": "CreditMemo"}]}]})
    assert r.status_code == 200, r.text
    assert api.get(f"/invoice/{inv['Id']}").json()["Invoice"]["Balance"] == 200
    memo_now = api.get(f"/creditmemo/{memo['Id']}").json()["CreditMemo"]
    assert memo_now["RemainingCredit"] == 0
    assert api.get("/customer/1").json()["Customer"]["Balance"] == 200
    # more credit than the memo holds is refused; so is a credit memo with links being deleted
    r = api.post("/payment", json={"CustomerRef": {"value": "1"}, "TotalAmt": 0, "Line": [
        {"Amount": 10, "LinkedTxn": [{"TxnId": inv["Id"], "TxnType": "Invoice"}]},
        {"Amount": 10, "LinkedTxn": [{"TxnId": memo["Id"], "TxnType": "CreditMemo"}]}]})
    assert fault(r)["code"] == "6000"
    r = api.post("/creditmemo", params={"operation": "delete"},
                 json={"Id": memo["Id"], "SyncToken": memo_now["SyncToken"]})
    assert fault(r)["code"] == "6000"


def test_gb_tax_inclusive_amounts(make_api):
    api = make_api(country="GB")
    standard = next(c["Id"] for c in api.rows("SELECT * FROM TaxCode WHERE Name = '20.0% S'"))
    inv = create_invoice(api, GlobalTaxCalculation="TaxInclusive", Line=[line("1", 1, "120.00", tax=standard)])
    assert inv["TotalAmt"] == 120.0 and inv["TxnTaxDetail"]["TotalTax"] == 20.0
    r = api.post("/invoice", json={"CustomerRef": {"value": "1"}, "GlobalTaxCalculation": "Sometimes",
                                   "Line": [line(tax=standard)]})
    assert fault(r)["code"] == "6000"


def test_negative_total_is_refused_but_negative_lines_are_fine(api):
    r = api.post("/invoice", json={"CustomerRef": {"value": "1"}, "Line": [line("1", -1, "125.00")]})
    assert r.status_code == 400 and fault(r)["code"] == "6000"
    inv = create_invoice(api, Line=[line("1", 2, "125.00"), line("49", -1, "15.00")])
    assert inv["TotalAmt"] == 235


def test_discount_lines(api):
    pct = {"DetailType": "DiscountLineDetail", "Amount": 0,
           "DiscountLineDetail": {"PercentBased": True, "DiscountPercent": 10}}
    inv = create_invoice(api, Line=[line("1", 2, "125.00"), pct])
    discount = next(ln for ln in inv["Line"] if ln["DetailType"] == "DiscountLineDetail")
    assert discount["Amount"] == 25 and discount["DiscountLineDetail"]["DiscountAccountRef"]["value"] == "9"
    assert inv["TotalAmt"] == 225 and inv["Balance"] == 225
    fixed = {"DetailType": "DiscountLineDetail", "Amount": 300, "DiscountLineDetail": {"PercentBased": False}}
    r = api.post("/invoice", json={"CustomerRef": {"value": "1"}, "Line": [line("1", 2, "125.00"), fixed]})
    assert r.status_code == 400 and fault(r)["code"] == "6000"  # more than the subtotal
    r = api.post("/invoice", json={"CustomerRef": {"value": "1"}, "Line": [line(), pct, pct]})
    assert fault(r)["code"] == "6000"  # one discount line only


def test_inventory_lines_need_a_quantity(api):
    item = api.post("/item", json={"Name": "Boxed Router", "Type": "Inventory", "IncomeAccountRef": {"value": "2"},
                                   "ExpenseAccountRef": {"value": "7"}, "AssetAccountRef": {"value": "6"},
                                   "TrackQtyOnHand": True, "QtyOnHand": 5, "InvStartDate": "2026-01-01",
                                   "UnitPrice": 80}).json()["Item"]
    no_qty = {"DetailType": "SalesItemLineDetail", "Amount": 80,
              "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}, "UnitPrice": 80,
                                      "TaxCodeRef": {"value": "NON"}}}
    r = api.post("/invoice", json={"CustomerRef": {"value": "1"}, "Line": [no_qty]})
    assert r.status_code == 400
    error = fault(r)
    assert error["code"] == "6520" and error["Message"] == "Missing Inventory Item Quantity"
    assert create_invoice(api, Line=[line(item["Id"], 1, "80.00")])["TotalAmt"] == 80


def test_duplicate_doc_number_fault_names_the_transaction_type(api):
    body = dict(invoice_body(), DocNumber="CM-77")
    assert api.post("/creditmemo", json=body).status_code == 200
    again = api.post("/creditmemo", json=body)
    error = fault(again)
    assert again.status_code == 400 and error["code"] == "6140" and "TxnType=CreditMemo" in error["Detail"]
