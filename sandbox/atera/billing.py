"""Atera's invoice arithmetic and numbering, shared by the invoice model (posted invoices) and the seed (generated
ones), so both follow the same money rules (Decimal, half-up to cents):

    line Subtotal = Quantity × Rate × (1 − DiscountPercentage/100)
    line Tax      = line Subtotal × TaxPercentage/100
    line Total    = line Subtotal + line Tax
    invoice Subtotal = Σ line Subtotal, Tax = Σ line Tax, Total = Subtotal + Tax
"""
from __future__ import annotations

import bisect
import calendar
import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from .wire import money

INVOICE_NAMESPACE = uuid.UUID("6f1c1f2e-4b8e-4c39-9a55-0a7e2a7d1001")
FIRST_INVOICE_NUMBER = 1001


def line_amounts(quantity: Decimal, rate: Decimal, tax_pct: Decimal | None,
                 discount_pct: Decimal | None) -> tuple[Decimal, Decimal, Decimal]:
    """(Subtotal, Tax, Total) of one line."""
    gross = quantity * rate
    if discount_pct:
        gross = gross * (Decimal(100) - discount_pct) / Decimal(100)
    subtotal = money(gross)
    tax = money(subtotal * tax_pct / Decimal(100)) if tax_pct else Decimal("0.00")
    return subtotal, tax, subtotal + tax


def make_line(idx: int, product: str, description: str | None, quantity: Decimal, rate: Decimal,
              tax_pct: Decimal | None, discount_pct: Decimal | None) -> dict[str, Any]:
    subtotal, tax, total = line_amounts(quantity, rate, tax_pct, discount_pct)
    return {"Product": product, "Description": description, "Quantity": quantity, "Rate": rate,
            "TaxPercentage": tax_pct, "DiscountPercentage": discount_pct, "Total": total, "Subtotal": subtotal,
            "Tax": tax, "LineIdx": idx}


def invoice_totals(lines: list[dict[str, Any]]) -> tuple[Decimal, Decimal, Decimal]:
    subtotal = sum((line["Subtotal"] for line in lines), Decimal("0.00"))
    tax = sum((line["Tax"] for line in lines), Decimal("0.00"))
    return subtotal, tax, subtotal + tax


def zip_code_int(zip_text: str | None) -> int | None:
    """Atera's InvoiceContactDetailsDto.ZipCode is an int32: "02108" becomes 2108, "M5H 2N2" becomes null."""
    if zip_text and zip_text.strip().isdigit():
        value = int(zip_text.strip())
        return value if value <= 2 ** 31 - 1 else None
    return None


def month_bounds(day: date) -> tuple[date, date]:
    last = calendar.monthrange(day.year, day.month)[1]
    return day.replace(day=1), day.replace(day=last)


def invoice_uuid(key: str) -> str:
    return str(uuid.uuid5(INVOICE_NAMESPACE, key))


def day_index(days: list[int], day: date | None, upper: bool) -> int:
    """Position in a sorted list of date ordinals: first index with ordinal >= day (or > day when ``upper``)."""
    if day is None:
        return len(days) if upper else 0
    ordinal = day.toordinal()
    return bisect.bisect_right(days, ordinal) if upper else bisect.bisect_left(days, ordinal)
