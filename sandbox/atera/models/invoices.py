"""Invoices: the seeded ones are generated on demand from the seed (deterministic, any page in constant time), the
ones posted through ``POST /_sandbox/invoices`` are validated for consistency with the account and stored.

Money rules: ``sandbox.atera.billing`` (Decimal, half-up to cents; line Subtotal = Quantity × Rate less the discount,
Tax on the Subtotal, Total = Subtotal + Tax). A credit invoice has negative quantities, hence negative amounts.

Consistency rules (for posted invoices, and true of generated ones): ``To.CompanyName`` is a customer's name as
Atera prints it; ``ContractName`` is one of that customer's contracts (unless ``IsAdhoc``); every line's ``Product``
names a product, expense or contract rate of the account; the amounts agree with the rules above.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any, overload

from ..billing import FIRST_INVOICE_NUMBER, invoice_totals, invoice_uuid, make_line, month_bounds, zip_code_int
from ..billing import line_amounts as line_amounts  # re-exported: callers read the line rules here too
from ..exceptions import NotFound, ValidationFailed
from ..seed import InvoiceGenerator, invoice_generator
from ..wire import local_midnight_text
from .base import EntityModel, Record, RecordList
from .contacts import Contacts
from .contracts import Contracts
from .customers import Customers

INVOICE_FIELDS = ("IsAdhoc", "InvoiceId", "InvoiceNumber", "InvoiceNumberAsString", "Total", "Subtotal", "Tax",
                  "TaxPercentage", "InvoiceDate", "ContractName", "PeriodStartDate", "PeriodEndDate", "Currency",
                  "LineItems", "From", "To")
LINE_FIELDS = ("Product", "Description", "Quantity", "Rate", "TaxPercentage", "DiscountPercentage", "Total",
               "Subtotal", "Tax", "LineIdx")
PARTY_FIELDS = ("CompanyName", "ContactFirstName", "ContactLastName", "ContactFullName", "Address", "State",
                "Country", "ZipCode", "City", "Phone", "Email")
_DATE_PARAM = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATE_VALUE = re.compile(r"^(\d{4}-\d{2}-\d{2})(T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?(Z|[+-]\d{2}:\d{2})?)?$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

# Records a validation problem: (path below the invoice, message).
Fail = Callable[[str, str], None]


# -- the invoice list ----------------------------------------------------------------------------------------------
class GeneratedInvoices(Sequence[Record]):
    """Invoices ``lo`` .. ``hi - 1`` of a generator, built when read."""

    def __init__(self, build: Callable[[int], Record], lo: int, hi: int) -> None:
        self._build, self._lo, self._hi = build, lo, max(hi, lo)

    def __len__(self) -> int:
        return self._hi - self._lo

    @overload
    def __getitem__(self, index: int) -> Record: ...
    @overload
    def __getitem__(self, index: slice) -> RecordList: ...
    def __getitem__(self, index: int | slice) -> Record | RecordList:
        if isinstance(index, slice):
            return [self._build(self._lo + i) for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return self._build(self._lo + index)


class Concat(Sequence[Record]):
    def __init__(self, *parts: Sequence[Record]) -> None:
        self._parts = parts

    def __len__(self) -> int:
        return sum(len(p) for p in self._parts)

    @overload
    def __getitem__(self, index: int) -> Record: ...
    @overload
    def __getitem__(self, index: slice) -> RecordList: ...
    def __getitem__(self, index: int | slice) -> Record | RecordList:
        if not isinstance(index, slice):
            return self[index:index + 1][0]
        start, stop, _ = index.indices(len(self))
        out: RecordList = []
        offset = 0
        for part in self._parts:
            n = len(part)
            lo, hi = max(start - offset, 0), min(stop - offset, n)
            if lo < hi:
                out.extend(part[lo:hi])
            offset += n
        return out


class _Problems:
    """The validation problems of one posted invoice, by JSON path (``[0].To.CompanyName``), in the order found."""

    def __init__(self, at: str) -> None:
        self.at = at
        self.errors: dict[str, list[str]] = {}

    def fail(self, path: str, message: str) -> None:
        self.errors.setdefault(f"{self.at}.{path}" if path else self.at, []).append(message)

    def check(self) -> None:
        """Refuse the invoice (400) when anything was found so far."""
        if self.errors:
            raise ValidationFailed(self.errors)


class Invoices(EntityModel):
    collection = "invoices"

    # -- the seeded (generated) invoices -------------------------------------------------------------------
    def generator(self) -> InvoiceGenerator | None:
        meta = self.store.get(self.tenant, "meta", "invoices")
        if not meta:
            return None
        return invoice_generator(meta["profile"], meta["seed"])  # built once per (profile, seed) and cached

    def _generated_numbers(self) -> range:
        gen = self.generator()
        return range(FIRST_INVOICE_NUMBER, FIRST_INVOICE_NUMBER + gen.count) if gen else range(0)

    def list(self, date_from: str | None, date_to: str | None) -> Sequence[Record]:
        lo_day = self._param_date("invoiceDateFrom", date_from)
        hi_day = self._param_date("invoiceDateTo", date_to)
        if lo_day and hi_day and lo_day > hi_day:
            raise ValidationFailed({"invoiceDateFrom": ["invoiceDateFrom must be on or before invoiceDateTo."]})
        parts: list[Sequence[Record]] = []
        gen = self.generator()
        if gen is not None:
            lo, hi = gen.index_range(lo_day, hi_day)
            parts.append(GeneratedInvoices(gen.invoice, lo, hi))

        def keep(record: Record) -> bool:
            day = date.fromisoformat(record["InvoiceDate"][:10])
            return (lo_day is None or day >= lo_day) and (hi_day is None or day <= hi_day)

        stored = self.ordered(("window", lo_day, hi_day), keep=keep, sort_key=lambda r: r["InvoiceNumber"])
        parts.append(stored)
        return Concat(*parts)

    @staticmethod
    def _param_date(name: str, raw: str | None) -> date | None:
        if raw is None or raw == "":
            return None
        if not _DATE_PARAM.match(raw):
            raise ValidationFailed({name: [f"The value '{raw}' is not valid. Use the format yyyy-MM-dd."]})
        try:
            return date.fromisoformat(raw)
        except ValueError:
            raise ValidationFailed({name: [f"The value '{raw}' is not a valid date."]}) from None

    def get(self, number: int) -> Record:
        gen = self.generator()
        if gen is not None and FIRST_INVOICE_NUMBER <= number < FIRST_INVOICE_NUMBER + gen.count:
            return gen.invoice(number - FIRST_INVOICE_NUMBER)
        record = self.records().get(str(number))
        if record is None:
            raise NotFound(f"Invoice {number} was not found.")
        return record

    def count(self) -> int:
        return len(self._generated_numbers()) + len(self.records())

    # -- posted invoices -------------------------------------------------------------------------------------
    def add_many(self, docs: Any) -> RecordList:
        """Validate every invoice, then store them all (or none)."""
        if isinstance(docs, dict):
            docs = [docs]
        if not isinstance(docs, list) or not docs:
            raise ValidationFailed({"$": ["The body must be a non-empty list of InvoiceDto objects."]})
        generated = self._generated_numbers()
        taken_numbers = {int(k) for k in self.records()}
        taken_ids = {r["InvoiceId"].lower() for r in self.records().values()}
        next_number = max([generated.stop - 1 if generated else FIRST_INVOICE_NUMBER - 1, *taken_numbers]) + 1
        normalized: RecordList = []
        errors: dict[str, list[str]] = {}
        for i, doc in enumerate(docs):
            try:
                invoice = self._normalize(doc, f"[{i}]")
            except ValidationFailed as exc:
                for key, msgs in (exc.errors or {}).items():
                    errors.setdefault(key, []).extend(msgs)
                continue
            number = invoice["InvoiceNumber"]
            if number is None:
                number, next_number = next_number, next_number + 1
            elif number in generated or number in taken_numbers:
                errors[f"[{i}].InvoiceNumber"] = [f"Invoice number {number} already exists."]
                continue
            else:
                next_number = max(next_number, number + 1)
            taken_numbers.add(number)
            invoice["InvoiceNumber"] = number
            invoice["InvoiceNumberAsString"] = str(number)
            if invoice["InvoiceId"] is None:
                invoice["InvoiceId"] = invoice_uuid(f"{self.tenant}:posted:{number}")
            if invoice["InvoiceId"].lower() in taken_ids:
                errors[f"[{i}].InvoiceId"] = [f"Invoice id {invoice['InvoiceId']} already exists."]
                continue
            taken_ids.add(invoice["InvoiceId"].lower())
            normalized.append({k: invoice[k] for k in INVOICE_FIELDS})
        if errors:
            raise ValidationFailed(errors)
        for invoice in normalized:
            self.put(invoice["InvoiceNumber"], invoice)
        return normalized

    def _normalize(self, doc: Any, at: str) -> Record:
        """One InvoiceDto checked against the account (every problem reported at once) and completed."""
        if not isinstance(doc, dict):
            raise ValidationFailed({at: ["An invoice must be a JSON object (an InvoiceDto)."]})
        problems = _Problems(at)
        fail = problems.fail
        unknown = sorted(set(doc) - set(INVOICE_FIELDS))
        if unknown:
            fail("", f"Unknown InvoiceDto fields: {', '.join(unknown)}.")
        number, invoice_id, is_adhoc = _identity(doc, fail)
        dates = _dates(doc, fail)
        currency = doc.get("Currency", self.account.currency)
        if currency is not None and not isinstance(currency, str):
            fail("Currency", "Currency must be a string.")
        customers, to_doc = self._to(doc, fail)
        from_doc = self._from(doc, fail)
        contract_name = self._contract_name(doc, customers, is_adhoc, fail)
        invoice_tax_pct = _tax_percentage(doc, fail)
        lines = self._line_items(doc, invoice_tax_pct, fail)
        problems.check()
        subtotal, tax, total = invoice_totals(lines)
        for field, computed in (("Subtotal", subtotal), ("Tax", tax), ("Total", total)):
            given = doc.get(field)
            if given is not None and _decimal(given) != computed:
                fail(field, f"{field} {given} does not match the lines: expected {computed}.")
        problems.check()
        tax_pct = invoice_tax_pct
        if tax_pct is None:
            pcts = [line["TaxPercentage"] for line in lines if line["TaxPercentage"]]
            tax_pct = max(pcts) if pcts else Decimal("0")
        assert dates is not None and customers  # without either, a problem was found above
        invoice_day, period_start, period_end = dates
        to_party, from_party = self._parties(customers[0], to_doc, from_doc)
        return {
            "IsAdhoc": is_adhoc, "InvoiceId": invoice_id, "InvoiceNumber": number, "InvoiceNumberAsString": None,
            "Total": total, "Subtotal": subtotal, "Tax": tax, "TaxPercentage": tax_pct,
            "InvoiceDate": local_midnight_text(invoice_day), "ContractName": contract_name or None,
            "PeriodStartDate": local_midnight_text(period_start), "PeriodEndDate": local_midnight_text(period_end),
            "Currency": currency, "LineItems": lines, "From": from_party, "To": to_party,
        }

    def _to(self, doc: dict[str, Any], fail: Fail) -> tuple[RecordList, dict[str, Any]]:
        """``To``: an existing customer, by the name Atera prints (every customer of that name), and the party."""
        to_doc = doc.get("To")
        if not isinstance(to_doc, dict):
            fail("To", "To is required: an InvoiceContactDetailsDto naming the customer in CompanyName.")
            return [], {}
        self._check_party(to_doc, "To", fail)
        name = to_doc.get("CompanyName")
        customers: Customers = self.account.customers
        matches = customers.by_name(name) if isinstance(name, str) else []
        if not matches:
            fail("To.CompanyName", f"{name!r} is not the name of a customer of this account.")
        return matches, to_doc

    def _from(self, doc: dict[str, Any], fail: Fail) -> dict[str, Any] | None:
        from_doc = doc.get("From")
        if from_doc is not None:
            if not isinstance(from_doc, dict):
                fail("From", "From must be an InvoiceContactDetailsDto.")
                return None
            self._check_party(from_doc, "From", fail)
        return from_doc

    def _contract_name(self, doc: dict[str, Any], customers: RecordList, is_adhoc: bool, fail: Fail) -> Any:
        """``ContractName``: one of the customer's contracts, unless the invoice is ad hoc."""
        contract_name = doc.get("ContractName")
        if contract_name is not None and not isinstance(contract_name, str):
            fail("ContractName", "ContractName must be a string.")
        elif customers:
            contracts: Contracts = self.account.contracts
            names = {contract["ContractName"] for same_name in customers
                     for contract in contracts.of_customer(same_name["CustomerID"])}
            if contract_name is None or contract_name == "":
                if not is_adhoc:
                    fail("ContractName", "ContractName is required (one of the customer's contracts) unless "
                                         "IsAdhoc is true.")
            elif contract_name not in names:
                fail("ContractName",
                     f"{contract_name!r} is not a contract of customer {customers[0]['CustomerName']!r}.")
        return contract_name

    def _line_items(self, doc: dict[str, Any], invoice_tax_pct: Decimal | None, fail: Fail) -> RecordList:
        lines_doc = doc.get("LineItems")
        lines: RecordList = []
        if not isinstance(lines_doc, list) or not lines_doc:
            fail("LineItems", "LineItems must be a non-empty list.")
            lines_doc = []
        known_products = self.account.product_names()
        for j, line in enumerate(lines_doc):
            built = self._line(line, j, f"LineItems[{j}]", known_products, invoice_tax_pct, fail)
            if built is not None:
                lines.append(built)
        return lines

    def _parties(self, customer: Record, to_doc: dict[str, Any],
                 from_doc: dict[str, Any] | None) -> tuple[Record, Record]:
        """(To, From): the customer's and the MSP's details, overridden by what the invoice gives."""
        to_party = self._customer_party(customer)
        to_party.update({k: v for k, v in to_doc.items() if k in PARTY_FIELDS})
        to_party["ContactFullName"] = _full_name(to_party)
        from_party: Record = self.account.company_party()
        if from_doc:
            from_party.update({k: v for k, v in from_doc.items() if k in PARTY_FIELDS})
            from_party["ContactFullName"] = _full_name(from_party)
        return to_party, from_party

    @staticmethod
    def _check_party(party: dict[str, Any], where: str, fail: Fail) -> None:
        unknown = sorted(set(party) - set(PARTY_FIELDS))
        if unknown:
            fail(where, f"Unknown InvoiceContactDetailsDto fields: {', '.join(unknown)}.")
        zip_code = party.get("ZipCode")
        if zip_code is not None and (not isinstance(zip_code, int) or isinstance(zip_code, bool)
                                     or not -(2 ** 31) <= zip_code <= 2 ** 31 - 1):
            fail(f"{where}.ZipCode", f"ZipCode must be an int32 or null, not {zip_code!r}.")
        for field in PARTY_FIELDS:
            if field != "ZipCode" and party.get(field) is not None and not isinstance(party[field], str):
                fail(f"{where}.{field}", f"{field} must be a string.")

    def _line(self, line: Any, j: int, at: str, known: set[str], invoice_tax_pct: Decimal | None,
              fail: Fail) -> Record | None:
        if not isinstance(line, dict):
            fail(at, "A line must be an InvoiceLineItemDto object.")
            return None
        ok = True
        unknown = sorted(set(line) - set(LINE_FIELDS))
        if unknown:
            fail(at, f"Unknown InvoiceLineItemDto fields: {', '.join(unknown)}.")
            ok = False
        product = line.get("Product")
        if not isinstance(product, str) or not product:
            fail(f"{at}.Product", "Product (the name of a product, expense or contract rate) is required.")
            ok = False
        elif product not in known:
            fail(f"{at}.Product", f"{product!r} is not a product, expense or contract rate of this account.")
            ok = False
        values, numbers_ok = _line_numbers(line, at, fail)
        ok = ok and numbers_ok
        discount = values["DiscountPercentage"]
        tax_pct = values["TaxPercentage"] if line.get("TaxPercentage") is not None else invoice_tax_pct
        if tax_pct is not None and tax_pct < 0:
            fail(f"{at}.TaxPercentage", "TaxPercentage must not be negative.")
            ok = False
        description = line.get("Description")
        if description is not None and not isinstance(description, str):
            fail(f"{at}.Description", "Description must be a string.")
            ok = False
        idx = line.get("LineIdx", j)
        if idx is not None and (not isinstance(idx, int) or isinstance(idx, bool)):
            fail(f"{at}.LineIdx", "LineIdx must be an int32.")
            ok = False
        quantity, rate = values["Quantity"], values["Rate"]
        if not ok or not isinstance(product, str) or quantity is None or rate is None:  # ok implies the rest
            return None
        built = make_line(j if idx is None else idx, product, description, quantity, rate, tax_pct, discount)
        for field in ("Subtotal", "Tax", "Total"):
            given = line.get(field)
            if given is not None and _decimal(given) != built[field]:
                fail(f"{at}.{field}", f"{field} {given} does not match Quantity × Rate"
                     f"{' less discount' if discount else ''}{' plus tax' if field == 'Total' else ''}: "
                     f"expected {built[field]}.")
                return None
        return built

    def _customer_party(self, customer: Record) -> Record:
        contacts: Contacts = self.account.contacts
        of_customer = contacts.of_customer(customer["CustomerID"])
        contact = next((c for c in of_customer if c.get("IsContactPerson")), of_customer[0] if of_customer else None)
        party = {
            "CompanyName": customer["CustomerName"],
            "ContactFirstName": contact["Firstname"] if contact else None,
            "ContactLastName": contact["Lastname"] if contact else None,
            "ContactFullName": None, "Address": customer.get("Address"), "State": customer.get("State"),
            "Country": customer.get("Country"), "ZipCode": zip_code_int(customer.get("ZipCodeStr")),
            "City": customer.get("City"), "Phone": customer.get("Phone"),
            "Email": contact["Email"] if contact else None,
        }
        party["ContactFullName"] = _full_name(party)
        return party

    def reset_meta(self, profile: str, seed: int) -> None:
        self.store.put(self.tenant, "meta", "invoices", {"profile": profile, "seed": seed})
        self.views.bump(self.tenant, self.collection)


# -- the parts of a posted invoice that need no account --------------------------------------------------------
def _identity(doc: dict[str, Any], fail: Fail) -> tuple[Any, Any, bool]:
    """(InvoiceNumber or None, InvoiceId or None, IsAdhoc), each checked."""
    number = doc.get("InvoiceNumber")
    if number is not None and (not isinstance(number, int) or isinstance(number, bool)
                               or not 0 < number <= 2 ** 31 - 1):
        fail("InvoiceNumber", "InvoiceNumber must be a positive int32.")
        number = None
    as_string = doc.get("InvoiceNumberAsString")
    if as_string is not None and (number is None or as_string != str(number)):
        fail("InvoiceNumberAsString", "InvoiceNumberAsString must be the InvoiceNumber as text (or omitted).")
    invoice_id = doc.get("InvoiceId")
    if invoice_id is not None and (not isinstance(invoice_id, str) or not _UUID.match(invoice_id)):
        fail("InvoiceId", "InvoiceId must be a uuid string.")
    is_adhoc = doc.get("IsAdhoc", False)
    if not isinstance(is_adhoc, bool):
        fail("IsAdhoc", "IsAdhoc must be a boolean.")
        is_adhoc = False
    return number, invoice_id, is_adhoc


def _dates(doc: dict[str, Any], fail: Fail) -> tuple[date, date, date] | None:
    """(InvoiceDate, PeriodStartDate, PeriodEndDate): the period defaults to the invoice's month; None without a
    valid InvoiceDate."""
    invoice_day = _date_value(doc.get("InvoiceDate"))
    if invoice_day is None:
        fail("InvoiceDate", "InvoiceDate is required (yyyy-MM-dd or yyyy-MM-ddTHH:mm:ss).")
    period_start = _date_value(doc.get("PeriodStartDate")) if doc.get("PeriodStartDate") is not None else None
    period_end = _date_value(doc.get("PeriodEndDate")) if doc.get("PeriodEndDate") is not None else None
    if doc.get("PeriodStartDate") is not None and period_start is None:
        fail("PeriodStartDate", "PeriodStartDate is not a date.")
    if doc.get("PeriodEndDate") is not None and period_end is None:
        fail("PeriodEndDate", "PeriodEndDate is not a date.")
    if invoice_day is None:
        return None
    first_day, last_day = month_bounds(invoice_day)
    period_start = period_start or first_day
    period_end = period_end or last_day
    if period_start > period_end:
        fail("PeriodEndDate", "PeriodEndDate is before PeriodStartDate.")
    return invoice_day, period_start, period_end


def _tax_percentage(doc: dict[str, Any], fail: Fail) -> Decimal | None:
    invoice_tax_pct = _decimal(doc.get("TaxPercentage"))
    if doc.get("TaxPercentage") is not None and (invoice_tax_pct is None or invoice_tax_pct < 0):
        fail("TaxPercentage", "TaxPercentage must be a non-negative number.")
        invoice_tax_pct = None
    return invoice_tax_pct


def _line_numbers(line: dict[str, Any], at: str, fail: Fail) -> tuple[dict[str, Decimal | None], bool]:
    """A line's Quantity, Rate (required), TaxPercentage and DiscountPercentage, and whether they are valid."""
    ok = True
    values: dict[str, Decimal | None] = {}
    for field, required in (("Quantity", True), ("Rate", True), ("TaxPercentage", False),
                            ("DiscountPercentage", False)):
        raw = line.get(field)
        value = _decimal(raw)
        if raw is None and required:
            fail(f"{at}.{field}", f"{field} is required.")
            ok = False
        elif raw is not None and value is None:
            fail(f"{at}.{field}", f"{field} must be a number.")
            ok = False
        values[field] = value
    discount = values["DiscountPercentage"]
    if discount is not None and not 0 <= discount <= 100:
        fail(f"{at}.DiscountPercentage", "DiscountPercentage must be between 0 and 100.")
        ok = False
    return values, ok


def _full_name(party: dict[str, Any]) -> str | None:
    parts = [p for p in (party.get("ContactFirstName"), party.get("ContactLastName")) if p]
    return " ".join(parts) if parts else None


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, Decimal)):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(str(value))
    return None


def _date_value(value: Any) -> date | None:
    if not isinstance(value, str):
        return None
    m = _DATE_VALUE.match(value)
    if not m:
        return None
    try:
        return date.fromisoformat(m.group(1))
    except ValueError:
        return None
