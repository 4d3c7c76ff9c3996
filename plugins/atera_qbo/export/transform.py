"""Atera invoice → QBO Invoice payload, WITHOUT tax: QBO is the master for taxes and adds them itself.

Line amounts are pre-tax: ``Quantity × Rate × (1 − Discount%)``. An Atera credit (negative total: negative
quantities) becomes a QBO CreditMemo with the same lines and positive quantities. QBO requires
``Amount = Qty × UnitPrice`` to the cent, so a discount is folded into the unit price (and said in the line
description). US companies take the pseudo tax codes ``TAX``/``NON`` per the QBO item's Taxable flag; other
countries need a real TaxCode on every line: the item's own sales tax code, or the company's 0% code for
non-taxable lines.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ..money import cents, dumps, to_decimal

HUNDRED = Decimal(100)
UNIT_PRICE_PLACES = Decimal("0.0000001")


@dataclass
class InvoiceContext:
    """What the transform needs beyond the invoice itself (all from staging)."""

    customer_map: dict[str, str]  # Atera customer id → QBO customer id
    product_map: dict[str, set[str]]  # Atera product name → QBO item ids (more than one = ambiguous)
    item_taxable: dict[str, bool]  # QBO item id → Taxable
    item_tax_code: dict[str, str] = field(default_factory=dict)  # QBO item id → SalesTaxCodeRef (non-US)
    country: str = "US"
    custom_txn_numbers: bool = True
    home_currency: str = "USD"
    multi_currency: bool = False
    zero_tax_code: str | None = None  # non-US: the 0% TaxCode id for non-taxable lines


@dataclass
class Transformed:
    number: str
    payload: dict[str, Any] | None
    problems: list[str]
    pre_tax_total: Decimal
    payload_hash: str = ""
    entity: str = "Invoice"  # or "CreditMemo" for an Atera credit (negative total)


def line_amount(quantity: Decimal, rate: Decimal, discount: Decimal | None) -> tuple[Decimal, Decimal]:
    """(unit price, amount) pre-tax, with the discount folded into the unit price; amount = cents(qty × unit)."""
    unit = rate if not discount else (rate * (HUNDRED - discount) / HUNDRED)
    unit = unit.quantize(UNIT_PRICE_PLACES).normalize()
    return unit, cents(quantity * unit)


def transform(invoice: dict[str, Any], lines: list[dict[str, Any]], ctx: InvoiceContext) -> Transformed:
    number = str(invoice["source_id"])
    problems: list[str] = []
    customer_id = invoice.get("customer_id")
    qbo_customer = ctx.customer_map.get(str(customer_id)) if customer_id else None
    if customer_id is None:
        problems.append(f"customer {invoice.get('customer_name')!r} is not an Atera customer in staging: re-run "
                        "the catalog sync")
    elif qbo_customer is None:
        problems.append(f"Atera customer {customer_id} {invoice.get('customer_name')!r} has no QBO customer: match "
                        "it in atera_qbo_matching (or run the export with create_missing_customers=true)")
    currency = invoice.get("currency") or ctx.home_currency
    if currency != ctx.home_currency and not ctx.multi_currency:
        problems.append(f"currency {currency} differs from QBO's home currency {ctx.home_currency} and QBO "
                        "multi-currency is off")
    us = (ctx.country or "US").upper() in ("US", "USA", "UNITED STATES")
    qbo_lines: list[dict[str, Any]] = []
    total = Decimal(0)
    for line in sorted(lines, key=lambda l: l["line_idx"]):
        where = f"line {line['line_idx']} ({line.get('product_name')!r})"
        items = ctx.product_map.get(line.get("product_name") or "", set())
        if not items:
            problems.append(f"{where}: no QBO item is mapped to this Atera product: match or create it in "
                            "atera_qbo_matching")
            continue
        if len(items) > 1:
            problems.append(f"{where}: Atera records of this name map to different QBO items "
                            f"({', '.join(sorted(items))}): make their mappings agree")
            continue
        item_id = next(iter(items))
        qty = to_decimal(line.get("quantity"), field=f"{where} quantity")
        rate = to_decimal(line.get("rate"), field=f"{where} rate")
        if qty is None or rate is None:
            problems.append(f"{where}: quantity or rate missing")
            continue
        discount = to_decimal(line.get("discount_percentage"), field=f"{where} discount")
        unit, amount = line_amount(qty, rate, discount)
        stated = to_decimal(line.get("subtotal"), field=f"{where} subtotal")
        if stated is not None and stated != amount:
            problems.append(f"{where}: Atera's line subtotal {stated} disagrees with quantity × rate less discount "
                            f"= {amount}: check the invoice in Atera")
            continue
        description = line.get("description") or line.get("product_name") or ""
        if discount:
            description = f"{description} ({discount.normalize()}% discount)"
        detail: dict[str, Any] = {"ItemRef": {"value": item_id}, "Qty": qty, "UnitPrice": unit}
        taxable = ctx.item_taxable.get(item_id, False)
        if us:
            detail["TaxCodeRef"] = {"value": "TAX" if taxable else "NON"}
        else:
            code = ctx.item_tax_code.get(item_id) if taxable else ctx.zero_tax_code
            if not code:
                problems.append(f"{where}: no QBO tax code for this line (non-US companies need one on every line): "
                                "set the item's sales tax code in QBO or configure the 0% code")
                continue
            detail["TaxCodeRef"] = {"value": code}
        qbo_lines.append({"DetailType": "SalesItemLineDetail", "Amount": amount,
                          "Description": description[:4000], "SalesItemLineDetail": detail})
        total += amount
    if not lines:
        problems.append("the invoice has no lines")
    entity = "Invoice"
    if total < 0:
        # An Atera credit (negative quantities) is a QBO CreditMemo with the same lines, quantities positive.
        entity = "CreditMemo"
        for qbo_line in qbo_lines:
            detail = qbo_line["SalesItemLineDetail"]
            detail["Qty"] = -detail["Qty"]
            qbo_line["Amount"] = -qbo_line["Amount"]
    if problems:
        return Transformed(number, None, problems, total, entity=entity)
    payload: dict[str, Any] = {
        "CustomerRef": {"value": qbo_customer},
        "TxnDate": invoice.get("invoice_date"),
        "Line": qbo_lines,
        "PrivateNote": f"Atera invoice {number} ({invoice.get('invoice_uuid') or 'no id'}); exported without tax "
                       "by atera-qbo-sync",
    }
    if ctx.custom_txn_numbers:
        payload["DocNumber"] = number[:21]
    if not us:
        payload["GlobalTaxCalculation"] = "TaxExcluded"
    if entity == "CreditMemo":
        payload["PrivateNote"] = payload["PrivateNote"].replace("Atera invoice", "Atera credit invoice", 1)
    digest = hashlib.sha1(dumps({entity: payload}).encode()).hexdigest()
    return Transformed(number, payload, [], total, digest, entity)
