"""QBO's rules for what we write, in one place: names, request ids and create payloads.

- Names: every name we send is ``clean_name``d (blanks trimmed and collapsed); a customer's DisplayName holds at
  most 500 characters, an item's Name 100; no name may contain a colon, a tab or a line break (Intuit's Customer
  and Item references). ``name_problems`` says why QBO would refuse a name before
  anything is sent; ``name_flags`` is the lenient form the extraction uses to flag staged names.
- Request ids: QBO replays the original answer to a repeated ``requestid``, so a request id derived from what a
  request creates (``request_id``) makes a retry or a re-run replay instead of repeat.
- Payloads: one Customer payload (name, address, phone) and one Item payload, for the matching commit and the
  export's ``create_missing_customers`` alike.
"""
from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from ..money import to_decimal

NAME_MAX = {"customer": 500, "product": 100}  # Customer.DisplayName, Item.Name
COMPANY_NAME_MAX = 100
PHONE_MAX = 30
SKU_MAX = 100
FORBIDDEN_CHARS = (":", "\t", "\n", "\r")
REQUEST_ID_LENGTH = 32  # QBO accepts up to 50; 32 hex characters of a SHA-1 are plenty

_ADDRESS_FIELDS = (("Line1", "address"), ("City", "city"), ("CountrySubDivisionCode", "state"),
                   ("PostalCode", "zip_code"), ("Country", "country"))


def clean_name(name: Any) -> str:
    """A name as we send it to QBO: surrounding blanks dropped, inner runs of blanks collapsed to one space."""
    return " ".join(str(name if name is not None else "").split())


FORBIDDEN_NAMES = {":": "the colon ':'", "\t": "a tab", "\n": "a line break", "\r": "a carriage return"}
NAME_FIELD = {"customer": "customer names (DisplayName)", "product": "item names"}


def name_problems(name: str, entity: str) -> list[str]:
    """Why QBO would refuse ``name`` (already cleaned) for a new ``entity`` (``customer`` | ``product``): which
    rule, the character, the length against the limit."""
    problems = []
    if not name:
        problems.append("has no name")
    for ch in FORBIDDEN_CHARS:
        if ch in name:
            problems.append(f"contains {FORBIDDEN_NAMES[ch]}, which is not allowed in QBO names")
    if len(name) > NAME_MAX[entity]:
        problems.append(f"is {len(name)} characters long: {len(name)} > {NAME_MAX[entity]}, QBO's limit for "
                        f"{NAME_FIELD[entity]}")
    return problems


def name_flags(name: Any, flags: list[str], entity: str, field_name: str = "name") -> None:
    """Append to ``flags`` what QBO would object to in a staged name (kept as it is: staging is lenient)."""
    if name is None or str(name).strip() == "":
        flags.append(f"{field_name}:missing")
        return
    text = str(name)
    if text != text.strip():
        flags.append(f"{field_name}:surrounding_blanks")
    if len(text) > NAME_MAX[entity]:
        flags.append(f"{field_name}:over_{NAME_MAX[entity]}")
    if any(ch in text for ch in FORBIDDEN_CHARS):
        flags.append(f"{field_name}:forbidden_char")


def request_id(*parts: Any) -> str:
    """A QBO ``requestid`` derived from what the request does: the same parts give the same id, so QBO replays."""
    return hashlib.sha1("|".join(str(p) for p in parts).encode()).hexdigest()[:REQUEST_ID_LENGTH]


def customer_payload(rec: Mapping[str, Any]) -> dict[str, Any]:
    """A QBO Customer create from a staged Atera customer (``name``, ``address``, ``city``, ``state``,
    ``zip_code``, ``country``, ``phone``; missing keys are left out). Atera's address is the billing AND the
    shipping address: QBO's automated US sales tax is computed from the ship-to address (the customer's
    shipping address by default), and without one from the company's own — every customer would be taxed at the
    MSP's rate."""
    name = clean_name(rec.get("name"))
    payload: dict[str, Any] = {"DisplayName": name, "CompanyName": name[:COMPANY_NAME_MAX]}
    addr = address(rec)
    if addr:
        payload["BillAddr"] = addr
        payload["ShipAddr"] = dict(addr)
    phone = text_or_none(rec.get("phone"))
    if phone:
        payload["PrimaryPhone"] = {"FreeFormNumber": phone[:PHONE_MAX]}
    return payload


def address(rec: Mapping[str, Any]) -> dict[str, str]:
    """A QBO PhysicalAddress from a staged Atera customer's address fields (the empty ones left out)."""
    out: dict[str, str] = {}
    for key, src in _ADDRESS_FIELDS:
        value = text_or_none(rec.get(src))
        if value:
            out[key] = value
    return out


def text_or_none(value: Any) -> str | None:
    """A staged text value, or None when it is missing: None, blank, or a DataFrame's NaN (a customer without
    an address must not send ``"Line1": NaN``)."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    text = str(value).strip()
    return text or None


def item_payload(rec: Mapping[str, Any], income_account_id: str, sales_tax_code: str | None = None) -> dict[str, Any]:
    """A QBO Item create from a staged Atera product or expense (NonInventory) or contract rate (Service: labour);
    the price stays a Decimal. ``sales_tax_code``: non-US companies' default code (``qbo.taxes``)."""
    payload: dict[str, Any] = {
        "Name": clean_name(rec.get("name")),
        "Type": "NonInventory" if rec.get("kind") in ("product", "expense") else "Service",
        "IncomeAccountRef": {"value": income_account_id},
    }
    if sales_tax_code:
        payload["SalesTaxCodeRef"] = {"value": sales_tax_code}
    amount = to_decimal(rec.get("amount"), field=f"price of {rec.get('atera_id')}")
    if amount is not None:
        payload["UnitPrice"] = amount
    if rec.get("sku"):
        payload["Sku"] = str(rec["sku"])[:SKU_MAX]
    return payload
