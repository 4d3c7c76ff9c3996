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

from ..companies import dag_of
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
    # Why a record has no mapping, when the export knows better than "not mapped" (export/missing.py):
    # "customer:<Atera id>" / "product:<Atera product name>" → the reason and its fix (e.g. the QBO candidate).
    unmapped_reasons: dict[str, str] = field(default_factory=dict)
    # Atera customer id → its address as a QBO PhysicalAddress: the invoice's ship-to (QBO's automated US sales
    # tax is computed from it; without one QBO falls back to the customer's shipping address, else the company's)
    ship_to: dict[str, dict[str, str]] = field(default_factory=dict)


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


class _LineProblem(Exception):
    """A line QBO cannot take; its message says why and what to do (the invoice is blocked with it)."""


def _customer_problems(invoice: dict[str, Any], ctx: InvoiceContext) -> tuple[str | None, list[str]]:
    """The QBO customer of the invoice, and what stops the invoice before its lines (customer, currency)."""
    problems: list[str] = []
    customer_id = invoice.get("customer_id")
    qbo_customer = ctx.customer_map.get(str(customer_id)) if customer_id else None
    if customer_id is None:
        problems.append(f"customer {invoice.get('customer_name')!r} is not an Atera customer in staging: re-run "
                        "the catalog sync")
    elif qbo_customer is None:
        problems.append(ctx.unmapped_reasons.get(f"customer:{customer_id}") or (
            f"Atera customer {customer_id} {invoice.get('customer_name')!r} has no QBO customer: match it in "
            f"{dag_of('atera_qbo_matching')} (or run the export with create_missing_customers=true)"))
    currency = invoice.get("currency") or ctx.home_currency
    if currency != ctx.home_currency and not ctx.multi_currency:
        problems.append(f"currency {currency} differs from QBO's home currency {ctx.home_currency} and QBO "
                        "multi-currency is off")
    return qbo_customer, problems


def _item_of(line: dict[str, Any], ctx: InvoiceContext, where: str) -> str:
    items = ctx.product_map.get(line.get("product_name") or "", set())
    if not items:
        reason = ctx.unmapped_reasons.get(f"product:{line.get('product_name') or ''}")
        raise _LineProblem(f"{where}: {reason}" if reason else (
            f"{where}: no QBO item is mapped to this Atera product: match or create it in "
            f"{dag_of('atera_qbo_matching')} "
            "(or export with create_missing_items=true)"))
    if len(items) > 1:
        raise _LineProblem(f"{where}: Atera records of this name map to different QBO items "
                           f"({', '.join(sorted(items))}): make their mappings agree")
    return next(iter(items))


def _tax_code(item_id: str, ctx: InvoiceContext, us: bool, where: str) -> str:
    """US companies: the pseudo codes TAX/NON per the item's Taxable. Elsewhere a real code on every line: the
    item's own sales tax code (non-US items carry no Taxable flag: their code says it), else the 0% code."""
    if us:
        return "TAX" if ctx.item_taxable.get(item_id, False) else "NON"
    code = ctx.item_tax_code.get(item_id) or ctx.zero_tax_code
    if not code:
        raise _LineProblem(f"{where}: no QBO tax code for this line (non-US companies need one on every line): "
                           "set the item's sales tax code in QBO or configure the 0% code")
    return code


def _qbo_line(line: dict[str, Any], ctx: InvoiceContext, us: bool) -> dict[str, Any]:
    """One Atera invoice line as a QBO SalesItemLine, pre-tax; raises ``_LineProblem`` for a line QBO cannot take."""
    where = f"line {line['line_idx']} ({line.get('product_name')!r})"
    item_id = _item_of(line, ctx, where)
    qty = to_decimal(line.get("quantity"), field=f"{where} quantity")
    rate = to_decimal(line.get("rate"), field=f"{where} rate")
    if qty is None or rate is None:
        raise _LineProblem(f"{where}: quantity or rate missing")
    discount = to_decimal(line.get("discount_percentage"), field=f"{where} discount")
    unit, amount = line_amount(qty, rate, discount)
    stated = to_decimal(line.get("subtotal"), field=f"{where} subtotal")
    if stated is not None and stated != amount:
        raise _LineProblem(f"{where}: Atera's line subtotal {stated} disagrees with quantity × rate less discount "
                           f"= {amount}: check the invoice in Atera")
    description = line.get("description") or line.get("product_name") or ""
    if discount:
        description = f"{description} ({discount.normalize()}% discount)"
    detail: dict[str, Any] = {"ItemRef": {"value": item_id}, "Qty": qty, "UnitPrice": unit,
                              "TaxCodeRef": {"value": _tax_code(item_id, ctx, us, where)}}
    return {"DetailType": "SalesItemLineDetail", "Amount": amount, "Description": description[:4000],
            "SalesItemLineDetail": detail}


def _payload(invoice: dict[str, Any], qbo_customer: str | None, qbo_lines: list[dict[str, Any]],
             ctx: InvoiceContext, us: bool, entity: str) -> dict[str, Any]:
    number = str(invoice["source_id"])
    kind = "Atera credit invoice" if entity == "CreditMemo" else "Atera invoice"
    payload: dict[str, Any] = {
        "CustomerRef": {"value": qbo_customer},
        "TxnDate": invoice.get("invoice_date"),
        "Line": qbo_lines,
        "PrivateNote": f"{kind} {number} ({invoice.get('invoice_uuid') or 'no id'}); exported without tax "
                       "by atera-qbo-sync",
    }
    ship_to = ctx.ship_to.get(str(invoice.get("customer_id") or ""))
    if ship_to:
        payload["ShipAddr"] = dict(ship_to)
    if ctx.custom_txn_numbers:
        payload["DocNumber"] = number[:21]
    if not us:
        payload["GlobalTaxCalculation"] = "TaxExcluded"
    return payload


def transform(invoice: dict[str, Any], lines: list[dict[str, Any]], ctx: InvoiceContext) -> Transformed:
    number = str(invoice["source_id"])
    qbo_customer, problems = _customer_problems(invoice, ctx)
    us = (ctx.country or "US").upper() in ("US", "USA", "UNITED STATES")
    qbo_lines: list[dict[str, Any]] = []
    for line in sorted(lines, key=lambda one: one["line_idx"]):
        try:
            qbo_lines.append(_qbo_line(line, ctx, us))
        except _LineProblem as problem:
            problems.append(str(problem))
    if not lines:
        problems.append("the invoice has no lines")
    total = sum((qbo_line["Amount"] for qbo_line in qbo_lines), Decimal(0))
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
    payload = _payload(invoice, qbo_customer, qbo_lines, ctx, us, entity)
    digest = hashlib.sha1(dumps({entity: payload}).encode()).hexdigest()
    return Transformed(number, payload, [], total, digest, entity)
