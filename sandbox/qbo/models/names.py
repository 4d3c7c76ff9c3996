"""Name lists: Customer (with sub-customers), Vendor, Employee. DisplayName is unique across all three."""
from __future__ import annotations

import re

from ..exceptions import BusinessValidation, InvalidReference, ObjectNotFound, RequiredParamMissing
from .base import Record, as_bool, as_text, check_length, money, ref_value
from .entity import EntityModel

# No colon, tab or newline in names (Intuit Customer reference).
_BAD_NAME = re.compile(r"[:\t\n\r]")
_NAME_PARTS = ("Title", "GivenName", "MiddleName", "FamilyName", "Suffix")
_LIMITS = {"DisplayName": 500, "Title": 16, "GivenName": 100, "MiddleName": 100, "FamilyName": 100, "Suffix": 16,
           "CompanyName": 100, "PrintOnCheckName": 110, "Notes": 2000, "ResaleNum": 16}
MAX_SUB_LEVEL = 4  # sub-customers: at most 4 levels below the top-level customer


def check_name_chars(value: str | None, element: str) -> None:
    if value is not None and _BAD_NAME.search(value):
        raise BusinessValidation(f"Invalid character in {element}: names cannot contain a colon (:), a tab or a "
                                 f"new line", element, message="Invalid Name")


def _phone(body: Record, key: str) -> Record | None:
    value = body.get(key)
    if not value:
        return None
    number = as_text(value.get("FreeFormNumber") if isinstance(value, dict) else None, f"{key}.FreeFormNumber")
    check_length(number, 30, f"{key}.FreeFormNumber")
    return {"FreeFormNumber": number} if number else None


def _email(body: Record, key: str) -> Record | None:
    value = body.get(key)
    if not value:
        return None
    address = as_text(value.get("Address") if isinstance(value, dict) else None, f"{key}.Address")
    if address is None:
        return None
    if "@" not in address or "." not in address:
        raise BusinessValidation(f"Email Address does not conform to the syntax rules of RFC 822. Supplied value:"
                                 f"{address}", f"{key}.Address", message="Invalid Email Address format")
    return {"Address": address}


def _address(body: Record, key: str) -> Record | None:
    value = body.get(key)
    if not value or not isinstance(value, dict):
        return None
    keep = ("Id", "Line1", "Line2", "Line3", "Line4", "Line5", "City", "Country", "CountrySubDivisionCode",
            "PostalCode", "Lat", "Long")
    return {k: value[k] for k in keep if value.get(k) not in (None, "")} or None


class NameModel(EntityModel):
    """Customer, Vendor and Employee share DisplayName rules."""

    common = frozenset({"DisplayName", "Title", "GivenName", "MiddleName", "FamilyName", "Suffix", "CompanyName",
                        "PrintOnCheckName", "Active", "PrimaryPhone", "AlternatePhone", "Mobile", "Fax",
                        "PrimaryEmailAddr", "WebAddr", "BillAddr", "Notes"})

    def build_common(self, body: Record, current: Record | None) -> Record:
        out: Record = {}
        for key in ("DisplayName", *_NAME_PARTS, "CompanyName", "PrintOnCheckName", "Notes"):
            value = as_text(body.get(key), key)
            check_length(value, _LIMITS[key], key)
            if key in ("DisplayName", *_NAME_PARTS, "PrintOnCheckName"):
                check_name_chars(value, key)
            out[key] = value
        if not out["DisplayName"]:
            parts = [out[p] for p in _NAME_PARTS if out[p]]
            if not parts:
                raise RequiredParamMissing(
                    "Required parameter : Name parameters (DisplayName, Title, GivenName, MiddleName, FamilyName, "
                    "Suffix) are missing in the request", "DisplayName")
            out["DisplayName"] = " ".join(parts)
            check_length(out["DisplayName"], _LIMITS["DisplayName"], "DisplayName")
        if out["DisplayName"].strip() == "":
            raise RequiredParamMissing("Required parameter DisplayName is missing in the request", "DisplayName")
        out["PrintOnCheckName"] = out["PrintOnCheckName"] or out["DisplayName"]
        out["Active"] = as_bool(body.get("Active"), "Active", True)
        for key in ("PrimaryPhone", "AlternatePhone", "Mobile", "Fax"):
            out[key] = _phone(body, key)
        out["PrimaryEmailAddr"] = _email(body, "PrimaryEmailAddr")
        web = body.get("WebAddr")
        out["WebAddr"] = {"URI": web["URI"]} if isinstance(web, dict) and web.get("URI") else None
        out["BillAddr"] = _address(body, "BillAddr")
        self.backend.names.check_unique(out["DisplayName"], self.name, current["Id"] if current else None)
        return out

    def after_store(self, record: Record, previous: Record | None) -> None:
        self.backend.names.update(self.name, record, previous)
        if self.name == "Customer":
            self.cascade_names(record, previous, "DisplayName")


class CustomerModel(NameModel):
    name = "Customer"
    writable = NameModel.common | {"ShipAddr", "Job", "ParentRef", "BillWithParent", "Taxable", "DefaultTaxCodeRef",
                                   "CurrencyRef", "SalesTermRef", "PreferredDeliveryMethod", "ResaleNum",
                                   "PaymentMethodRef", "PrimaryTaxIdentifier", "OpenBalanceDate", "ARAccountRef",
                                   "TaxExemptionReasonId", "Balance"}
    readonly = frozenset({"FullyQualifiedName", "BalanceWithJobs", "Level", "IsProject"})

    def build(self, body: Record, current: Record | None) -> Record:
        out = self.build_common(body, current)
        out["ShipAddr"] = _address(body, "ShipAddr")
        check_length(as_text(body.get("ResaleNum"), "ResaleNum"), 16, "ResaleNum")
        out["ResaleNum"] = as_text(body.get("ResaleNum"), "ResaleNum")
        out["PreferredDeliveryMethod"] = as_text(body.get("PreferredDeliveryMethod"), "PreferredDeliveryMethod")
        out["Taxable"] = as_bool(body.get("Taxable"), "Taxable", True)
        out["Job"] = as_bool(body.get("Job"), "Job", False)
        out["BillWithParent"] = as_bool(body.get("BillWithParent"), "BillWithParent", False)
        parent_id = ref_value(body.get("ParentRef"), "ParentRef")
        fqn = out["DisplayName"]
        level = 0
        if parent_id is not None:
            parent = self.backend.lookup("Customer", parent_id)
            if parent is None:
                raise InvalidReference(f"Invalid Reference Id : Customer assigned to this transaction has been "
                                       f"deleted. Before you can modify this transaction, you must restore "
                                       f"{parent_id} (deleted).", "ParentRef")
            if not parent.get("Active", True):
                raise ObjectNotFound(element="ParentRef")
            if current is not None and parent_id == current["Id"]:
                raise BusinessValidation("A customer cannot be its own parent", "ParentRef")
            level = int(parent.get("Level", 0)) + 1
            if level > MAX_SUB_LEVEL:
                raise BusinessValidation("Sub-customers can be nested at most 4 levels deep", "ParentRef")
            out["ParentRef"] = {"value": parent_id}
            out["Job"] = True
            fqn = f"{parent.get('FullyQualifiedName', parent['DisplayName'])}:{out['DisplayName']}"
        elif out["Job"]:
            raise RequiredParamMissing("Required parameter ParentRef is missing in the request: a sub-customer "
                                       "(Job=true) needs a parent", "ParentRef")
        out["FullyQualifiedName"] = fqn
        if level:
            out["Level"] = level
        company = self.backend.company_settings()
        home = company["home_currency"]
        currency = ref_value(body.get("CurrencyRef"), "CurrencyRef")
        if current is not None and currency and currency != current.get("CurrencyRef", {}).get("value", home) \
                and current.get("Balance", 0):
            raise BusinessValidation("You can't change the currency of a customer that has transactions",
                                     "CurrencyRef")
        currency = currency or (current or {}).get("CurrencyRef", {}).get("value") or home
        self.backend.check_currency(currency, "CurrencyRef")
        out["CurrencyRef"] = {"value": currency, "name": self.backend.currency_name(currency)}
        term = ref_value(body.get("SalesTermRef"), "SalesTermRef")
        if term is not None:
            self.backend.require_ref("Term", term, "SalesTermRef")
            out["SalesTermRef"] = {"value": term}
        tax = ref_value(body.get("DefaultTaxCodeRef"), "DefaultTaxCodeRef")
        if tax is not None:
            self.backend.require_ref("TaxCode", tax, "DefaultTaxCodeRef")
            out["DefaultTaxCodeRef"] = {"value": tax}
        balance = current.get("Balance", 0) if current else 0
        out["Balance"] = balance
        out["BalanceWithJobs"] = current.get("BalanceWithJobs", balance) if current else 0
        if current is not None and out["Active"] is False and current.get("Active", True):
            self.check_can_inactivate(current)
        return out

    def check_can_inactivate(self, current: Record) -> None:
        if current.get("Balance") and current["Balance"] != 0:
            # Message and detail as quickbooks-ruby#390 shows them; the numeric code is not public: 6000 assumed.
            raise BusinessValidation(
                "The entity you are trying to delete has an open balance. : This customer cannot be deleted because "
                "it has a non-zero balance", "Active", message="Delete List Has Balance Error")


class VendorModel(NameModel):
    name = "Vendor"
    writable = NameModel.common | {"CurrencyRef", "TermRef", "AcctNum", "Vendor1099", "TaxIdentifier",
                                   "APAccountRef", "BillRate", "TaxReportingBasis", "OtherContactInfo"}
    readonly = frozenset({"Balance"})

    def build(self, body: Record, current: Record | None) -> Record:
        out = self.build_common(body, current)
        out["AcctNum"] = as_text(body.get("AcctNum"), "AcctNum")
        out["Vendor1099"] = as_bool(body.get("Vendor1099"), "Vendor1099", False)
        home = self.backend.company_settings()["home_currency"]
        currency = ref_value(body.get("CurrencyRef"), "CurrencyRef") or home
        self.backend.check_currency(currency, "CurrencyRef")
        out["CurrencyRef"] = {"value": currency, "name": self.backend.currency_name(currency)}
        out["Balance"] = current.get("Balance", 0) if current else 0
        return out


class EmployeeModel(NameModel):
    name = "Employee"
    writable = (NameModel.common - {"CompanyName", "BillAddr", "Notes", "Fax", "AlternatePhone", "WebAddr"}) | {
        "PrimaryAddr", "EmployeeNumber", "SSN", "BillableTime", "BillRate", "CostRate", "BirthDate", "Gender",
        "HiredDate", "ReleasedDate", "Organization", "EmailAddress"}

    def build(self, body: Record, current: Record | None) -> Record:
        out = self.build_common(body, current)
        for key in ("CompanyName", "BillAddr", "Notes", "Fax", "AlternatePhone", "WebAddr"):
            out.pop(key, None)
        out["PrimaryAddr"] = _address(body, "PrimaryAddr")
        out["EmployeeNumber"] = as_text(body.get("EmployeeNumber"), "EmployeeNumber")
        out["BillableTime"] = as_bool(body.get("BillableTime"), "BillableTime", False)
        for key in ("HiredDate", "ReleasedDate", "BirthDate"):
            out[key] = as_text(body.get(key), key)
        rate = money(body.get("BillRate"), "BillRate")
        out["BillRate"] = rate
        return out
