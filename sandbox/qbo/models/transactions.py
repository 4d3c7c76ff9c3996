"""Sales transactions: Invoice and CreditMemo (lines, tax, DocNumber, currency), and Payment applied to invoices.

Balances move: an invoice adds its TotalAmt to the customer's Balance, a credit memo subtracts it, a payment
lowers the Balance of each invoice it is applied to and the customer's Balance by its TotalAmt.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from ..exceptions import (
    BusinessValidation,
    DuplicateDocNumber,
    InvalidReference,
    InvalidRequest,
    MissingInventoryQuantity,
    ObjectNotFound,
    RequiredParamMissing,
)
from ..times import today
from .base import Record, as_bool, as_text, cents, check_date, check_length, money, prune, ref_value
from .company import CompanySettings
from .entity import Backend, EntityModel

MAX_LINES = 750
AMOUNT_LIMIT = Decimal("9999999999.99999")  # 15 digits in 10.5 format

# The discount line of a body, kept until the subtotal it applies to is known: (LineNum, line, Description).
_Discount = tuple[int, Record, str | None]
# What a payment applies: {(TxnType, TxnId): amount}.
Applications = dict[tuple[str, str], Decimal]


def active_customer(backend: Backend, body: Record) -> tuple[str, Record]:
    """The transaction's CustomerRef: required (2020), existing (2500) and active (610)."""
    customer_id = ref_value(body.get("CustomerRef"), "CustomerRef")
    if customer_id is None:
        raise RequiredParamMissing("Required parameter CustomerRef is missing in the request", "CustomerRef")
    customer = backend.lookup("Customer", customer_id)
    if customer is None:
        raise InvalidReference(f"Invalid Reference Id : Customer {customer_id} does not exist", "CustomerRef")
    if not customer.get("Active", True):
        raise ObjectNotFound(element="CustomerRef")
    return customer_id, customer


class SalesTransactionModel(EntityModel):
    """What Invoice and CreditMemo share."""

    is_list = False
    has_active = False
    writable = frozenset({"CustomerRef", "Line", "DocNumber", "TxnDate", "DueDate", "PrivateNote", "CustomerMemo",
                          "BillAddr", "ShipAddr", "BillEmail", "BillEmailCc", "BillEmailBcc", "CurrencyRef",
                          "ExchangeRate", "GlobalTaxCalculation", "TxnTaxDetail", "SalesTermRef", "ShipDate",
                          "TrackingNum", "ShipMethodRef", "ClassRef", "DepartmentRef", "CustomField",
                          "ApplyTaxAfterDiscount", "PrintStatus", "EmailStatus", "AllowIPNPayment",
                          "AllowOnlineACHPayment", "AllowOnlineCreditCardPayment", "DepositToAccountRef",
                          "FreeFormAddress", "TaxExemptionRef", "PaymentMethodRef", "TransactionLocationType"})
    readonly = frozenset({"TotalAmt", "Balance", "HomeTotalAmt", "HomeBalance", "Deposit", "LinkedTxn",
                          "InvoiceLink", "RecurDataRef", "EInvoiceStatus", "DeliveryInfo", "RemainingCredit"})
    balance_sign = 1

    def build(self, body: Record, current: Record | None) -> Record:
        company = self.backend.company_settings()
        customer_id, customer = active_customer(self.backend, body)
        out: Record = {"CustomerRef": {"value": customer_id, "name": customer["DisplayName"]}}
        out.update(self._dates(body, current, customer))
        out.update(self._texts(body, current, customer))
        currency, rate = self._currency(body, company, customer)
        out["CurrencyRef"] = {"value": currency, "name": self.backend.currency_name(currency)}
        out["ExchangeRate"] = rate
        amounts, subtotal, total = self._amounts(body, company, customer, rate, out.get("ShipAddr"))
        out.update(amounts)
        out["DocNumber"] = self._doc_number(body, current, company)
        out.update(self.status_fields(body, current, total))
        out["_subtotal"] = subtotal
        return out

    def status_fields(self, body: Record, current: Record | None, total: Decimal) -> Record:
        return {}

    def _dates(self, body: Record, current: Record | None, customer: Record) -> Record:
        """TxnDate, the terms and the DueDate they give (an invoice's), ShipDate."""
        out: Record = {}
        txn_date = as_text(body.get("TxnDate"), "TxnDate") or (current or {}).get("TxnDate") or today()
        check_date(txn_date, "TxnDate")
        out["TxnDate"] = txn_date
        due = as_text(body.get("DueDate"), "DueDate")
        check_date(due, "DueDate")
        term_id = ref_value(body.get("SalesTermRef"), "SalesTermRef") or \
            ref_value(customer.get("SalesTermRef"), "SalesTermRef")
        if term_id is None and self.name == "Invoice" and due is None:
            # the company's default terms (Preferences.SalesFormsPrefs.DefaultTerms)
            default = (self.realm.preferences().get("SalesFormsPrefs") or {}).get("DefaultTerms") or {}
            term_id = default.get("value")
        if term_id is not None:
            term = self.backend.require_ref("Term", term_id, "SalesTermRef")
            out["SalesTermRef"] = {"value": term_id, "name": term["Name"]}
            if due is None:
                due = (dt.date.fromisoformat(txn_date) + dt.timedelta(days=int(term.get("DueDays", 0)))).isoformat()
        if self.name == "Invoice":
            out["DueDate"] = due or txn_date
        out["ShipDate"] = as_text(body.get("ShipDate"), "ShipDate")
        check_date(out["ShipDate"], "ShipDate")
        return out

    @staticmethod
    def _texts(body: Record, current: Record | None, customer: Record) -> Record:
        """Notes, memo, addresses (the customer's on create) and the billing email."""
        out: Record = {}
        private = as_text(body.get("PrivateNote"), "PrivateNote")
        check_length(private, 4000, "PrivateNote")
        out["PrivateNote"] = private
        memo = body.get("CustomerMemo")
        memo_text = as_text(memo.get("value") if isinstance(memo, dict) else memo, "CustomerMemo")
        check_length(memo_text, 1000, "CustomerMemo")
        out["CustomerMemo"] = {"value": memo_text} if memo_text else None
        out["TrackingNum"] = as_text(body.get("TrackingNum"), "TrackingNum")
        for key in ("BillAddr", "ShipAddr"):
            value = body.get(key)
            out[key] = value if isinstance(value, dict) and value else (customer.get(key) if current is None else None)
        email = body.get("BillEmail")
        if isinstance(email, dict) and email.get("Address"):
            address = str(email["Address"])
            if "@" not in address or "." not in address:
                raise BusinessValidation(f"Email Address does not conform to the syntax rules of RFC 822. Supplied "
                                         f"value:{address}", "BillEmail.Address",
                                         message="Invalid Email Address format")
            out["BillEmail"] = {"Address": address}
        elif current is None and customer.get("PrimaryEmailAddr"):
            out["BillEmail"] = customer["PrimaryEmailAddr"]
        return out

    def _currency(self, body: Record, company: CompanySettings, customer: Record) -> tuple[str, Decimal]:
        """The transaction's currency (the customer's) and its exchange rate to the home currency."""
        home = company["home_currency"]
        customer_currency = (customer.get("CurrencyRef") or {}).get("value", home)
        currency = ref_value(body.get("CurrencyRef"), "CurrencyRef") or customer_currency
        if not company["multicurrency"] and currency != home:
            raise BusinessValidation(
                f"Multicurrency is not enabled for this company: the transaction currency must be the home currency "
                f"({home}), not {currency}.", "CurrencyRef", message="Invalid Currency")
        if currency != customer_currency:
            raise BusinessValidation(
                f"The currency of the transaction ({currency}) must match the currency of the customer "
                f"({customer_currency}).", "CurrencyRef", message="Invalid Currency")
        rate = money(body.get("ExchangeRate"), "ExchangeRate")
        if currency == home:
            rate = Decimal(1)
        elif rate is None or rate <= 0:
            rate = self.backend.exchange_rate(currency)
        return currency, rate

    def _amounts(self, body: Record, company: CompanySettings, customer: Record, rate: Decimal,
                 ship_to: Record | None) -> tuple[Record, Decimal, Decimal]:
        """Lines, tax (sourced at ``ship_to``, the transaction's ShipAddr) and totals: (their fields, the subtotal,
        the total)."""
        lines, subtotal, tax_detail, total = self._lines(body, company, customer, ship_to)
        out: Record = {"Line": lines, "TxnTaxDetail": tax_detail}
        if company["country"] != "US":
            calc = as_text(body.get("GlobalTaxCalculation"), "GlobalTaxCalculation") or "TaxExcluded"
            if calc not in ("TaxExcluded", "TaxInclusive", "NotApplicable"):
                raise BusinessValidation(f"Invalid GlobalTaxCalculation {calc!r}", "GlobalTaxCalculation",
                                         message="Invalid Enumeration")
            out["GlobalTaxCalculation"] = calc
        if total < 0:
            raise BusinessValidation(f"The transaction total cannot be negative ({total}). Use a credit memo for "
                                     f"credits.", "TotalAmt", message="Invalid Amount")
        out["TotalAmt"] = total
        if rate != 1:
            out["HomeTotalAmt"] = cents(total * rate)
        return out, subtotal, total

    # -- lines ---------------------------------------------------------------------------------------------
    def _lines(self, body: Record, company: CompanySettings, customer: Record,
               ship_to: Record | None = None) -> tuple[list[Record], Decimal, Record, Decimal]:
        """(Line, subtotal, TxnTaxDetail, total): the lines with the discount last, the tax on what is taxable."""
        raw = body.get("Line")
        if raw in (None, "", []):
            raise RequiredParamMissing("Required parameter Line is missing in the request", "Line")
        if not isinstance(raw, list):
            raise InvalidRequest("Property Name:Line specified is unsupported or invalid", "Line")
        lines, subtotal, taxable_by_code, discount = self._read_lines(raw, company, customer)
        if not any(line["DetailType"] == "SalesItemLineDetail" for line in lines):
            raise RequiredParamMissing("Required parameter Line.SalesItemLineDetail is missing in the request: a "
                                       "transaction needs at least one sales line", "Line")
        if len(lines) > MAX_LINES:
            raise BusinessValidation(f"A transaction can have at most {MAX_LINES} lines", "Line")
        discount_amount = Decimal(0)
        if discount is not None:
            line, discount_amount = self._discount_line(*discount, cents(subtotal))
            lines.append(line)
            if as_bool(body.get("ApplyTaxAfterDiscount"), "ApplyTaxAfterDiscount", False) and subtotal:
                factor = (subtotal - discount_amount) / subtotal
                taxable_by_code = {code: amount * factor for code, amount in taxable_by_code.items()}
        tax_detail, total_tax = self.backend.taxes.compute(company, customer, taxable_by_code,
                                                           body.get("GlobalTaxCalculation"), ship_to)
        total = subtotal - discount_amount + total_tax
        if company["country"] != "US" and body.get("GlobalTaxCalculation") == "TaxInclusive":
            total = subtotal - discount_amount
        return lines, cents(subtotal), tax_detail, cents(total)

    def _read_lines(self, raw: list[Any], company: CompanySettings, customer: Record,
                    ) -> tuple[list[Record], Decimal, dict[str, Decimal], _Discount | None]:
        """The sales and description lines, numbered in body order; their subtotal and taxable amounts by tax code;
        and the discount line (numbered in its place, computed once the subtotal is known)."""
        lines: list[Record] = []
        subtotal = Decimal(0)
        taxable_by_code: dict[str, Decimal] = {}
        number = 0
        discount: _Discount | None = None
        for raw_line in raw:
            if not isinstance(raw_line, dict):
                raise InvalidRequest("Property Name:Line specified is unsupported or invalid", "Line")
            detail_type = raw_line.get("DetailType")
            if detail_type == "SubTotalLineDetail":
                continue  # computed by QBO
            description = as_text(raw_line.get("Description"), "Line.Description")
            check_length(description, 4000, "Line.Description")
            detail = raw_line.get("SalesItemLineDetail")
            if detail_type == "SalesItemLineDetail" and isinstance(detail, dict) and \
                    ref_value(detail.get("ItemRef"), "Line.SalesItemLineDetail.ItemRef") is None:
                # "A line without ItemRef is treated as a description line and its Amount is ignored."
                detail_type = "DescriptionOnly"
            if detail_type == "DescriptionOnly":
                number += 1
                lines.append({"Id": str(number), "LineNum": number, "Description": description,
                              "DetailType": "DescriptionOnly", "DescriptionLineDetail": {}})
                continue
            if detail_type == "DiscountLineDetail":
                if discount is not None:
                    raise BusinessValidation("A transaction can have only one discount line", "Line.DetailType")
                number += 1
                discount = (number, raw_line, description)
                continue
            if detail_type != "SalesItemLineDetail":
                raise BusinessValidation(
                    f"Unsupported line DetailType {detail_type!r}: the twin takes SalesItemLineDetail, "
                    f"DiscountLineDetail, SubTotalLineDetail and DescriptionOnly lines", "Line.DetailType")
            if not isinstance(detail, dict):
                raise RequiredParamMissing("Required parameter Line.SalesItemLineDetail is missing in the request",
                                           "Line.SalesItemLineDetail")
            number += 1
            line, taxed = self._sales_line(raw_line, detail, number, description, company, customer)
            lines.append(line)
            subtotal += line["Amount"]
            if taxed is not None:
                taxable_by_code[taxed] = taxable_by_code.get(taxed, Decimal(0)) + line["Amount"]
        return lines, subtotal, taxable_by_code, discount

    def _discount_line(self, number: int, raw: Record, description: str | None,
                       subtotal: Decimal) -> tuple[Record, Decimal]:
        """A transaction-level discount on the lines before it: a percentage QBO computes, or an amount."""
        detail = raw.get("DiscountLineDetail")
        if not isinstance(detail, dict):
            raise RequiredParamMissing("Required parameter Line.DiscountLineDetail is missing in the request",
                                       "Line.DiscountLineDetail")
        percent_based = as_bool(detail.get("PercentBased"), "Line.DiscountLineDetail.PercentBased", False)
        percent = money(detail.get("DiscountPercent"), "Line.DiscountLineDetail.DiscountPercent")
        if percent_based:
            if percent is None or not 0 <= percent <= 100:
                raise BusinessValidation("DiscountPercent must be between 0 and 100",
                                         "Line.DiscountLineDetail.DiscountPercent")
            amount = cents(subtotal * percent / 100)
        else:
            amount = cents(money(raw.get("Amount"), "Line.Amount", required=True))
        if amount < 0 or amount > subtotal:
            raise BusinessValidation(f"The discount ({amount}) must be between 0 and the subtotal ({subtotal})",
                                     "Line.Amount", message="Invalid Amount")
        account_id = ref_value(detail.get("DiscountAccountRef"), "Line.DiscountLineDetail.DiscountAccountRef") or "9"
        account = self.backend.require_ref("Account", account_id, "Line.DiscountLineDetail.DiscountAccountRef")
        out: Record = {"PercentBased": percent_based,
                       "DiscountAccountRef": {"value": account_id, "name": account["Name"]}}
        if percent_based:
            out["DiscountPercent"] = percent
        return {"Id": str(number), "LineNum": number, "Description": description, "Amount": amount,
                "DetailType": "DiscountLineDetail", "DiscountLineDetail": out}, amount

    def _sales_line(self, raw: Record, detail: Record, number: int, description: str | None,
                    company: CompanySettings, customer: Record) -> tuple[Record, str | None]:
        backend = self.backend
        element = "Line.SalesItemLineDetail.ItemRef"
        item_id = ref_value(detail.get("ItemRef"), element)
        item = backend.lookup("Item", item_id)
        if item is None:
            raise InvalidReference(f"Invalid Reference Id : Item {item_id} does not exist", element)
        if not item.get("Active", True):
            raise ObjectNotFound(element=element)
        if item.get("Type") == "Category":
            raise BusinessValidation(f"Item {item_id} is a category and cannot be used on a transaction line",
                                     element)
        amount = money(raw.get("Amount"), "Line.Amount", required=True)
        if item.get("Type") == "Inventory" and money(detail.get("Qty"), "Line.SalesItemLineDetail.Qty") is None:
            raise MissingInventoryQuantity()
        if abs(amount) > AMOUNT_LIMIT:
            raise BusinessValidation("Line.Amount exceeds 15 digits (10.5 format)", "Line.Amount")
        qty = money(detail.get("Qty"), "Line.SalesItemLineDetail.Qty")
        price = money(detail.get("UnitPrice"), "Line.SalesItemLineDetail.UnitPrice")
        if qty is not None and price is not None and cents(qty * price) != cents(amount):
            raise BusinessValidation(
                f"Amount is not equal to UnitPrice * Qty. Supplied value:{amount}", "Line.Amount",
                message="Amount calculation incorrect in the request")
        line: Record = {"Id": str(number), "LineNum": number, "Description": description, "Amount": cents(amount),
                        "DetailType": "SalesItemLineDetail"}
        sd: Record = {"ItemRef": {"value": item_id, "name": item["Name"]}}
        if price is not None:
            sd["UnitPrice"] = price
        if qty is not None:
            sd["Qty"] = qty
        service_date = as_text(detail.get("ServiceDate"), "Line.SalesItemLineDetail.ServiceDate")
        check_date(service_date, "Line.SalesItemLineDetail.ServiceDate")
        sd["ServiceDate"] = service_date
        code = backend.taxes.line_code(company, ref_value(detail.get("TaxCodeRef"),
                                                          "Line.SalesItemLineDetail.TaxCodeRef"))
        sd["TaxCodeRef"] = {"value": code}
        line["SalesItemLineDetail"] = sd
        return line, code

    # -- DocNumber ---------------------------------------------------------------------------------------------
    def _doc_number(self, body: Record, current: Record | None, company: CompanySettings) -> str | None:
        supplied = as_text(body.get("DocNumber"), "DocNumber")
        if not company["custom_txn_numbers"]:
            # QBO numbers the document itself and ignores a supplied DocNumber.
            if current is not None:
                kept: str | None = current.get("DocNumber")
                return kept
            return self.backend.generate_doc_number(self.name)
        if supplied is None:
            return None
        check_length(supplied, 21, "DocNumber")
        if not self.backend.allow_duplicate_docnum:
            owner = self.backend.docnums(self.name).get(supplied.strip().casefold())
            if owner is not None and (current is None or owner != current["Id"]):
                raise DuplicateDocNumber(supplied, self.name)
        return supplied

    def finish(self, record: Record) -> Record:
        """Prune empty fields and add the computed SubTotal line."""
        subtotal = record.pop("_subtotal")
        record = prune(record)
        record["Line"].append({"Amount": subtotal, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}})
        record.setdefault("TxnTaxDetail", {"TotalTax": 0})
        return record

    def after_store(self, record: Record, previous: Record | None) -> None:
        backend = self.backend
        backend.index_docnum(self.name, record, previous)
        delta = Decimal(0)
        if previous is not None:
            delta -= Decimal(previous.get("Balance", 0)) if self.name == "Invoice" else \
                Decimal(previous.get("TotalAmt", 0))
            if previous["CustomerRef"]["value"] != record["CustomerRef"]["value"]:
                backend.adjust_customer_balance(previous["CustomerRef"]["value"], self.balance_sign * delta)
                delta = Decimal(0)
        delta += Decimal(record.get("Balance", 0)) if self.name == "Invoice" else Decimal(record.get("TotalAmt", 0))
        backend.adjust_customer_balance(record["CustomerRef"]["value"], self.balance_sign * delta)


class _OpenAmountModel(SalesTransactionModel):
    """A sales document whose open amount shrinks as payments apply to it (Balance / RemainingCredit)."""

    open_field = "Balance"
    refusal = ""  # "{total}" and "{applied}" are filled in

    def status_fields(self, body: Record, current: Record | None, total: Decimal) -> Record:
        applied = Decimal(0)
        linked: list[Record] = []
        if current is not None:
            applied = Decimal(current.get("TotalAmt", 0)) - Decimal(current.get(self.open_field, 0))
            linked = current.get("LinkedTxn", [])
            if total < applied:
                raise BusinessValidation(self.refusal.format(total=total, applied=applied), "TotalAmt")
        return {"Balance": cents(total - applied), self.open_field: cents(total - applied), "LinkedTxn": linked,
                "EmailStatus": as_text(body.get("EmailStatus"), "EmailStatus") or "NotSet",
                "PrintStatus": as_text(body.get("PrintStatus"), "PrintStatus") or "NotSet"}


class InvoiceModel(_OpenAmountModel):
    name = "Invoice"
    refusal = "The invoice total ({total}) cannot be less than the payments applied to it ({applied})."


class CreditMemoModel(_OpenAmountModel):
    name = "CreditMemo"
    balance_sign = -1
    open_field = "RemainingCredit"
    refusal = "The credit memo total ({total}) cannot be less than the credit already applied ({applied})."


class PaymentModel(EntityModel):
    name = "Payment"
    is_list = False
    has_active = False
    writable = frozenset({"CustomerRef", "TotalAmt", "Line", "TxnDate", "PrivateNote", "PaymentRefNum",
                          "DepositToAccountRef", "PaymentMethodRef", "CurrencyRef", "ExchangeRate", "ARAccountRef",
                          "CreditCardPayment", "TxnSource", "TransactionLocationType", "TaxExemptionRef",
                          "ProcessPayment"})
    readonly = frozenset({"UnappliedAmt", "TxnStatus", "LinkedTxn"})

    def build(self, body: Record, current: Record | None) -> Record:
        backend = self.backend
        company = backend.company_settings()
        customer_id, customer = active_customer(backend, body)
        total = money(body.get("TotalAmt"), "TotalAmt", required=True)
        if total < 0:
            raise BusinessValidation("A payment amount cannot be negative", "TotalAmt")
        txn_date = as_text(body.get("TxnDate"), "TxnDate") or (current or {}).get("TxnDate") or today()
        check_date(txn_date, "TxnDate")
        currency = _payment_currency(body, company, customer)
        lines, applied = self._applied_lines(body, current, customer_id)
        applied_total = _applied_total(applied, total)
        deposit = ref_value(body.get("DepositToAccountRef"), "DepositToAccountRef")
        if deposit is not None:
            backend.require_ref("Account", deposit, "DepositToAccountRef")
        return {"CustomerRef": {"value": customer_id, "name": customer["DisplayName"]}, "TotalAmt": cents(total),
                "UnappliedAmt": cents(total - applied_total), "TxnDate": txn_date, "Line": lines,
                "CurrencyRef": {"value": currency, "name": backend.currency_name(currency)},
                "PrivateNote": as_text(body.get("PrivateNote"), "PrivateNote"),
                "PaymentRefNum": as_text(body.get("PaymentRefNum"), "PaymentRefNum"),
                "DepositToAccountRef": {"value": deposit} if deposit else None,
                "ProcessPayment": False}

    def _applied_lines(self, body: Record, current: Record | None,
                       customer_id: str) -> tuple[list[Record], Applications]:
        """The payment's lines, each applying an amount to one invoice or credit memo of the customer, and what
        they apply in all."""
        previous_applied = _applications(current) if current is not None else {}
        applied: Applications = {}
        lines = []
        raw_lines = body.get("Line") or []
        if not isinstance(raw_lines, list):
            raise InvalidRequest("Property Name:Line specified is unsupported or invalid", "Line")
        for raw in raw_lines:
            key, amount = self._application(raw, customer_id, previous_applied, applied)
            applied[key] = applied.get(key, Decimal(0)) + amount
            txn_type, txn_id = key
            lines.append({"Amount": amount, "LinkedTxn": [{"TxnId": txn_id, "TxnType": txn_type}]})
        return lines, applied

    def _application(self, raw: Any, customer_id: str, previous_applied: Applications,
                     applied: Applications) -> tuple[tuple[str, str], Decimal]:
        """One payment line: ((TxnType, TxnId), amount), within what is open on that transaction (counting what
        this payment applied to it before an update, and what its earlier lines apply)."""
        if not isinstance(raw, dict):
            raise InvalidRequest("Property Name:Line specified is unsupported or invalid", "Line")
        amount = money(raw.get("Amount"), "Line.Amount", required=True)
        if amount <= 0:
            raise BusinessValidation("An applied amount must be positive", "Line.Amount")
        linked = raw.get("LinkedTxn") or []
        if not isinstance(linked, list) or len(linked) != 1 or not isinstance(linked[0], dict):
            raise BusinessValidation("Each payment line must link exactly one transaction", "Line.LinkedTxn")
        txn_id = str(linked[0].get("TxnId", ""))
        txn_type = linked[0].get("TxnType")
        if txn_type not in ("Invoice", "CreditMemo"):
            raise BusinessValidation(f"Payments can be applied to invoices and credit memos only "
                                     f"(TxnType={txn_type!r})", "Line.LinkedTxn.TxnType")
        txn = self.backend.lookup(txn_type, txn_id)
        if txn is None:
            raise InvalidReference(f"Invalid Reference Id : {txn_type} {txn_id} does not exist",
                                   "Line.LinkedTxn.TxnId")
        if txn["CustomerRef"]["value"] != customer_id:
            raise BusinessValidation(f"{txn_type} {txn_id} belongs to another customer", "Line.LinkedTxn.TxnId")
        key = (txn_type, txn_id)
        field = "Balance" if txn_type == "Invoice" else "RemainingCredit"
        available = Decimal(txn.get(field, 0)) + previous_applied.get(key, Decimal(0)) \
            - applied.get(key, Decimal(0))
        if amount > available:
            raise BusinessValidation(
                f"The amount applied to {txn_type} {txn_id} ({amount}) exceeds what is open on it ({available}).",
                "Line.Amount", message="Invalid Amount")
        return key, amount

    def after_store(self, record: Record, previous: Record | None) -> None:
        self.backend.apply_payment(record, previous)


def _payment_currency(body: Record, company: CompanySettings, customer: Record) -> str:
    """A payment is in its customer's currency (the home one without multi-currency)."""
    home = company["home_currency"]
    customer_currency = (customer.get("CurrencyRef") or {}).get("value", home)
    currency = ref_value(body.get("CurrencyRef"), "CurrencyRef") or customer_currency
    if currency != customer_currency or (not company["multicurrency"] and currency != home):
        raise BusinessValidation(f"The currency of the payment ({currency}) must match the currency of the "
                                 f"customer ({customer_currency}).", "CurrencyRef",
                                 message="Invalid Currency")
    return currency


def _applied_total(applied: Applications, total: Decimal) -> Decimal:
    """What a payment pays: applied to invoices less credits applied, at most its total."""
    to_invoices = sum((v for (t, _), v in applied.items() if t == "Invoice"), Decimal(0))
    credits = sum((v for (t, _), v in applied.items() if t == "CreditMemo"), Decimal(0))
    if credits > to_invoices:
        raise BusinessValidation(f"The credits applied ({credits}) exceed the amounts applied to invoices "
                                 f"({to_invoices}).", "Line.Amount", message="Invalid Amount")
    applied_total = to_invoices - credits
    if applied_total > total:
        raise BusinessValidation(f"The amounts applied ({applied_total}) exceed the payment total ({total}).",
                                 "TotalAmt", message="Invalid Amount")
    return applied_total


def _applications(payment: Record | None) -> Applications:
    """What a payment applies: ``{(TxnType, TxnId): amount}``."""
    out: Applications = {}
    for line in (payment or {}).get("Line", []):
        for link in line.get("LinkedTxn", []):
            if link.get("TxnType") in ("Invoice", "CreditMemo"):
                key = (link["TxnType"], link["TxnId"])
                out[key] = out.get(key, Decimal(0)) + Decimal(line["Amount"])
    return out


applications = _applications
