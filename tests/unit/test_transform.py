from decimal import Decimal

from atera_qbo.export.transform import InvoiceContext, line_amount, transform

D = Decimal


def ctx(**kw):
    base = {"customer_map": {"5": "77"}, "product_map": {"Remote Support": {"11"}, "Laptop": {"12"}},
                "item_taxable": {"11": False, "12": True}}
    base.update(kw)
    return InvoiceContext(**base)


def invoice(**kw):
    inv = {"source_id": "1001", "invoice_uuid": "u-1", "invoice_date": "2026-09-30", "customer_id": "5",
           "customer_name": "Contoso", "currency": "USD"}
    inv.update(kw)
    return inv


def line(idx, product, qty, rate, discount=None):
    return {"line_idx": idx, "product_name": product, "description": product, "quantity": qty, "rate": rate,
            "discount_percentage": discount}


def test_pre_tax_payload_with_us_tax_codes_and_doc_number():
    t = transform(invoice(), [line(0, "Remote Support", "2.5", "125.00"), line(1, "Laptop", "1", "1149.00")], ctx())
    assert not t.problems
    p = t.payload
    assert p["CustomerRef"] == {"value": "77"} and p["DocNumber"] == "1001" and p["TxnDate"] == "2026-09-30"
    amounts = [ln["Amount"] for ln in p["Line"]]
    assert amounts == [D("312.50"), D("1149.00")]
    assert [ln["SalesItemLineDetail"]["TaxCodeRef"]["value"] for ln in p["Line"]] == ["NON", "TAX"]
    assert t.pre_tax_total == D("1461.50")
    assert "TxnTaxDetail" not in p  # QBO adds the tax


def test_discount_folds_into_unit_price_and_amount_is_qty_times_unit_to_the_cent():
    unit, amount = line_amount(D("3"), D("19.99"), D("15"))
    assert unit == D("16.9915") and amount == D("50.97")
    t = transform(invoice(), [line(0, "Laptop", "3", "19.99", "15")], ctx())
    detail = t.payload["Line"][0]
    assert detail["Amount"] == (detail["SalesItemLineDetail"]["Qty"] * detail["SalesItemLineDetail"]["UnitPrice"]
                                ).quantize(D("0.01"))
    assert "15% discount" in detail["Description"]


def test_problems_name_the_line_and_what_to_do():
    t = transform(invoice(customer_id="9"), [line(0, "Unknown Thing", "1", "5")], ctx())
    assert t.payload is None
    text = " ".join(t.problems)
    assert "Atera customer 9" in text and "line 0 ('Unknown Thing')" in text and "atera_qbo_matching" in text


def test_ambiguous_product_mapping_blocks():
    t = transform(invoice(), [line(0, "Laptop", "1", "5")], ctx(product_map={"Laptop": {"12", "13"}}))
    assert t.payload is None and "different QBO items" in t.problems[0]


def test_non_us_every_line_gets_a_tax_code_zero_rated_for_non_taxable():
    t = transform(invoice(), [line(0, "Remote Support", "1", "100"), line(1, "Laptop", "1", "10")],
                  ctx(country="GB", item_tax_code={"12": "20"}, zero_tax_code="5"))
    codes = [ln["SalesItemLineDetail"]["TaxCodeRef"]["value"] for ln in t.payload["Line"]]
    assert codes == ["5", "20"] and t.payload["GlobalTaxCalculation"] == "TaxExcluded"


def test_without_custom_txn_numbers_no_doc_number_is_sent():
    t = transform(invoice(), [line(0, "Laptop", "1", "10")], ctx(custom_txn_numbers=False))
    assert "DocNumber" not in t.payload


def test_foreign_currency_blocks_when_multicurrency_off():
    t = transform(invoice(currency="CAD"), [line(0, "Laptop", "1", "10")], ctx())
    assert t.payload is None and "multi-currency" in t.problems[0]


def test_payload_hash_is_stable_and_content_sensitive():
    a = transform(invoice(), [line(0, "Laptop", "1", "10")], ctx())
    b = transform(invoice(), [line(0, "Laptop", "1", "10")], ctx())
    c = transform(invoice(), [line(0, "Laptop", "2", "10")], ctx())
    assert a.payload_hash == b.payload_hash != c.payload_hash


def test_line_subtotal_disagreeing_with_its_parts_blocks():
    bad = dict(line(0, "Laptop", "2", "10"), subtotal="25.00")
    t = transform(invoice(), [bad], ctx())
    assert t.payload is None and "disagrees" in t.problems[0]
    good = dict(line(0, "Laptop", "2", "10"), subtotal="20.00")
    assert transform(invoice(), [good], ctx()).payload is not None


def test_a_credit_becomes_a_credit_memo_with_positive_lines():
    t = transform(invoice(), [line(0, "Laptop", "-2", "10.00"), line(1, "Remote Support", "-1", "125.00")], ctx())
    assert t.entity == "CreditMemo" and t.pre_tax_total == D("-145.00")
    assert [(ln["SalesItemLineDetail"]["Qty"], ln["Amount"]) for ln in t.payload["Line"]] == \
        [(D("2"), D("20.00")), (D("1"), D("125.00"))]
    assert "credit invoice" in t.payload["PrivateNote"]
    assert transform(invoice(), [line(0, "Laptop", "2", "10.00")], ctx()).entity == "Invoice"
