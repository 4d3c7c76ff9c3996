"""The QBO backend of one company (realm): every operation of the API, without HTTP (moto's ``models.py``).

Operations raise ``sandbox.qbo.exceptions.QboError`` subclasses; they validate before they mutate, so a failed
request leaves no trace (the store does not roll back the in-memory side).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any, ClassVar, cast

from sandbox.core.store import Store

from .. import query as qbo_query
from ..exceptions import (
    BusinessValidation,
    DuplicateName,
    InvalidReference,
    InvalidRequest,
    ObjectNotFound,
    QboError,
    RequiredParamMissing,
    UnsupportedOperation,
)
from ..times import now, parse_time, stamp
from ..times import response_time as response_time  # re-exported (see __all__)
from .base import (
    LIST_ENTITIES,
    NAME_ENTITIES,
    SETUP_COLLECTIONS,
    Realm,
    Record,
    as_bool,
    as_text,
    bump_sync_token,
    check_length,
    touch,
)
from .company import (
    CURRENCY_NAMES,
    EXCHANGE_RATES,
    CompanySettings,
    Taxes,
    company_info,
    default_settings,
    preferences,
    setup_records,
)
from .entity import EntityModel
from .indexes import NameIndex
from .items import ItemModel
from .names import CustomerModel, EmployeeModel, VendorModel, check_name_chars
from .transactions import CreditMemoModel, InvoiceModel, PaymentModel, applications

MAX_BATCH_ITEMS = 30
CDC_MAX_OBJECTS = 1000
CDC_MAX_DAYS = 30
CDC_UNSUPPORTED = {"TaxCode", "TaxRate", "TaxAgency", "TimeActivity"}

# URL segment (lower case) → entity name
ENTITY_BY_SEGMENT = {name.lower(): name for name in (
    "Customer", "Vendor", "Employee", "Item", "Account", "TaxCode", "TaxRate", "Term", "Invoice", "CreditMemo",
    "Payment", "CompanyInfo", "Preferences")}


class AccountModel(EntityModel):
    name = "Account"
    writable = frozenset({"Name", "AccountType", "AccountSubType", "AcctNum", "Description", "Active", "ParentRef",
                          "SubAccount", "CurrencyRef", "TaxCodeRef", "Classification"})
    readonly = frozenset({"FullyQualifiedName", "CurrentBalance", "CurrentBalanceWithSubAccounts"})
    # AccountType → Classification
    TYPES: ClassVar[dict[str, str]] = {
        "Income": "Revenue", "Other Income": "Revenue", "Expense": "Expense", "Other Expense": "Expense",
        "Cost of Goods Sold": "Expense", "Bank": "Asset", "Other Current Asset": "Asset",
        "Fixed Asset": "Asset", "Other Asset": "Asset", "Accounts Receivable": "Asset",
        "Accounts Payable": "Liability", "Credit Card": "Liability", "Other Current Liability": "Liability",
        "Long Term Liability": "Liability", "Equity": "Equity"}

    def build(self, body: Record, current: Record | None) -> Record:
        name = as_text(body.get("Name"), "Name")
        if not name:
            raise RequiredParamMissing("Required parameter Name is missing in the request", "Name")
        check_length(name, 100, "Name")
        check_name_chars(name, "Name")
        kind = as_text(body.get("AccountType"), "AccountType")
        if kind is None:
            raise RequiredParamMissing("Required parameter AccountType is missing in the request", "AccountType")
        if kind not in self.TYPES:
            raise BusinessValidation(f"Invalid AccountType {kind!r}", "AccountType", message="Invalid Enumeration")
        for other in self.realm.all("Account").values():
            if other["Name"].strip().casefold() == name.strip().casefold() and \
                    (current is None or other["Id"] != current["Id"]):
                raise DuplicateName("Another account is already using this name. Please use a different name.")
        home = self.backend.company_settings()["home_currency"]
        return {"Name": name, "FullyQualifiedName": name, "AccountType": kind, "Classification": self.TYPES[kind],
                "AccountSubType": as_text(body.get("AccountSubType"), "AccountSubType"),
                "AcctNum": as_text(body.get("AcctNum"), "AcctNum"),
                "Description": as_text(body.get("Description"), "Description"),
                "Active": as_bool(body.get("Active"), "Active", True), "SubAccount": False,
                "CurrentBalance": (current or {}).get("CurrentBalance", 0),
                "CurrentBalanceWithSubAccounts": (current or {}).get("CurrentBalanceWithSubAccounts", 0),
                "CurrencyRef": {"value": home, "name": CURRENCY_NAMES.get(home, home)}}


class QboBackend:
    def __init__(self, store: Store, realm_id: str, country: str = "US") -> None:
        self.store = store
        self.realm_id = realm_id
        self.realm = Realm(store, realm_id)
        self.default_country = country
        self.models: dict[str, EntityModel] = {
            m.name: m for m in (CustomerModel(self), VendorModel(self), EmployeeModel(self), ItemModel(self),
                                AccountModel(self), InvoiceModel(self), CreditMemoModel(self), PaymentModel(self))}
        self.taxes = Taxes(self.realm)
        self.names = NameIndex(self.realm, NAME_ENTITIES, "DisplayName")
        self.items = NameIndex(self.realm, ("Item",), "Name")
        self._docnums: dict[str, dict[str, str]] = {}
        self.hidden: set[tuple[str, str]] = set()  # created earlier in the running batch: invisible to it
        self.allow_duplicate_docnum = False

    # -- setup and reset --------------------------------------------------------------------------------------
    def invalidate(self) -> None:
        self.names.invalidate()
        self.items.invalidate()
        self._docnums.clear()

    def ensure_setup(self, country: str | None = None) -> None:
        if self.realm.get("_company", "settings") is None:
            self.apply_settings(default_settings(country or self.default_country), rebuild=True)

    def apply_settings(self, settings: CompanySettings, rebuild: bool = False, as_setup: bool = False) -> None:
        """Store company settings; a new country rebuilds the company; ``as_setup``: as if set up so (seeds)."""
        old = self.realm.get("_company", "settings")
        self.store.put(self.realm_id, "_company", "settings", settings)
        if rebuild or old is None or old.get("country") != settings["country"]:
            self.store.clear(self.realm_id, keep=set())  # a new country is a new company
            self.store.put(self.realm_id, "_company", "settings", settings)
            for entity, records in setup_records(settings).items():
                for record in records:
                    self.realm.put(entity, record)
                numeric = [int(r["Id"]) for r in records if r["Id"].isdigit()]
                if numeric:  # new records of this entity get ids after the setup's
                    self.store.next_id(self.realm_id, entity, start=max(numeric))
            self.realm.put("CompanyInfo", company_info(settings))
            self.realm.put("Preferences", preferences(settings))
            self.invalidate()
        else:
            current = self.realm.get("Preferences", "1") or {}
            token = "0" if as_setup else str(int(current.get("SyncToken", "0")) + 1)
            self.realm.put("Preferences", preferences(settings, token))

    def has_foreign_customers(self) -> bool:
        home = self.company_settings()["home_currency"]
        return any((c.get("CurrencyRef") or {}).get("value", home) != home
                   for c in self.realm.all("Customer").values())

    def reset(self) -> None:
        """Empty everything but the company setup."""
        self.store.clear(self.realm_id, keep=SETUP_COLLECTIONS)
        self.ensure_setup()
        self.invalidate()

    def company_settings(self) -> CompanySettings:
        stored = self.realm.get("_company", "settings")
        # What apply_settings stored (a CompanySettings, read back from JSON).
        return cast(CompanySettings, stored) if stored else default_settings(self.default_country)

    # -- references -----------------------------------------------------------------------------------------
    def lookup(self, entity: str, object_id: Any) -> Record | None:
        if object_id is None:
            return None
        object_id = str(object_id)
        if (entity, object_id) in self.hidden:
            return None
        return self.realm.get(entity, object_id)

    def require_ref(self, entity: str, object_id: str, element: str) -> Record:
        record = self.lookup(entity, object_id)
        if record is None:
            raise InvalidReference(f"Invalid Reference Id : {entity} {object_id} does not exist", element)
        if not record.get("Active", True):
            raise ObjectNotFound(element=element)
        return record

    def require_for_update(self, entity: str, object_id: str) -> Record:
        record = self.lookup(entity, object_id)
        if record is None:
            raise ObjectNotFound(f"Object Not Found : Something you're trying to use has been made inactive. Check "
                                 f"the fields with accounts, customers, items, vendors or employees. "
                                 f"{entity} Id={object_id}")
        return record

    def check_tax_code(self, code: str, element: str) -> None:
        if self.company_settings()["country"] == "US":
            if code not in ("TAX", "NON"):
                raise InvalidReference(f"Invalid Reference Id : US companies take the tax codes TAX or NON, not "
                                       f"{code!r}", element)
            return
        self.require_ref("TaxCode", code, element)

    def check_currency(self, currency: str, element: str) -> None:
        settings = self.company_settings()
        if currency not in CURRENCY_NAMES:
            raise InvalidReference(f"Invalid Reference Id : Currency {currency} is not supported", element)
        if currency != settings["home_currency"] and not settings["multicurrency"]:
            raise BusinessValidation(
                f"Multicurrency is not enabled for this company: the currency must be the home currency "
                f"({settings['home_currency']}), not {currency}.", element, message="Invalid Currency")

    def currency_name(self, code: str) -> str:
        return CURRENCY_NAMES.get(code, code)

    def exchange_rate(self, currency: str) -> Decimal:
        return EXCHANGE_RATES.get((self.company_settings()["home_currency"], currency), Decimal(1))

    # -- DocNumbers -----------------------------------------------------------------------------------------
    def docnums(self, entity: str) -> dict[str, str]:
        index = self._docnums.get(entity)
        if index is None:
            index = {}
            for record in self.realm.all(entity).values():
                if record.get("DocNumber"):
                    index[record["DocNumber"].strip().casefold()] = record["Id"]
            self._docnums[entity] = index
        return index

    def index_docnum(self, entity: str, record: Record, previous: Record | None) -> None:
        index = self.docnums(entity)
        if previous is not None and previous.get("DocNumber"):
            key = previous["DocNumber"].strip().casefold()
            if index.get(key) == previous["Id"]:
                del index[key]
        if record.get("DocNumber"):
            index.setdefault(record["DocNumber"].strip().casefold(), record["Id"])

    def generate_doc_number(self, entity: str) -> str:
        index = self.docnums(entity)
        while True:
            number = str(self.store.next_id(self.realm_id, f"_docnum_{entity}", start=1001))
            if number.casefold() not in index:
                return number

    # -- balances -------------------------------------------------------------------------------------------
    def adjust_customer_balance(self, customer_id: str, delta: Decimal) -> None:
        if not delta:
            return
        customer = self.realm.get("Customer", customer_id)
        if customer is None:
            return
        updated = dict(customer)
        updated["Balance"] = Decimal(customer.get("Balance", 0)) + delta
        updated["BalanceWithJobs"] = Decimal(customer.get("BalanceWithJobs", 0)) + delta
        self.realm.put("Customer", updated)
        parent_id = (customer.get("ParentRef") or {}).get("value")
        seen = {customer_id}
        while parent_id and parent_id not in seen:
            seen.add(parent_id)
            parent = self.realm.get("Customer", parent_id)
            if parent is None:
                break
            self.realm.put("Customer", {**parent, "BalanceWithJobs":
                                        Decimal(parent.get("BalanceWithJobs", 0)) + delta})
            parent_id = (parent.get("ParentRef") or {}).get("value")

    def apply_payment(self, payment: Record | None, previous: Record | None) -> None:
        """Move invoice and customer balances from ``previous`` (undone) to ``payment`` (applied)."""
        before = applications(previous)
        after = applications(payment)
        payment_id = (payment or previous or {}).get("Id")
        for txn_type, txn_id in set(before) | set(after):
            txn = self.realm.get(txn_type, txn_id)
            if txn is None:
                continue
            key = (txn_type, txn_id)
            delta = after.get(key, Decimal(0)) - before.get(key, Decimal(0))
            updated = dict(txn)
            updated["Balance"] = Decimal(txn.get("Balance", 0)) - delta
            if txn_type == "CreditMemo":
                updated["RemainingCredit"] = Decimal(txn.get("RemainingCredit", 0)) - delta
            links = [link for link in txn.get("LinkedTxn", [])
                     if not (link.get("TxnType") == "Payment" and link.get("TxnId") == payment_id)]
            if key in after:
                links.append({"TxnId": payment_id, "TxnType": "Payment"})
            updated["LinkedTxn"] = links
            if not links:
                updated.pop("LinkedTxn")
            # QBO records the application as an update of the invoice / credit memo: a new SyncToken and
            # LastUpdatedTime, so change data capture and LastUpdatedTime queries see payments.
            bump_sync_token(updated)
            touch(updated)
            self.realm.put(txn_type, updated)
        if previous is not None:
            self.adjust_customer_balance(previous["CustomerRef"]["value"], Decimal(previous.get("TotalAmt", 0)))
        if payment is not None:
            self.adjust_customer_balance(payment["CustomerRef"]["value"], -Decimal(payment.get("TotalAmt", 0)))

    # -- operations -------------------------------------------------------------------------------------------
    def model(self, entity: str) -> EntityModel:
        model = self.models.get(entity)
        if model is None:
            raise UnsupportedOperation(f"Operation Create/Update is not supported for {entity}")
        return model

    def save(self, entity: str, body: Any) -> Record:
        """POST /{entity}: a create, or an update when the body carries an Id."""
        model = self.model(entity)
        if not isinstance(body, dict):
            raise InvalidRequest(f"Request body for {entity} must be a JSON object")
        object_id = body.get("Id")
        if object_id in (None, "", 0, "0"):
            record = model.create(body)
            previous = None
        else:
            record, previous = model.update(body)
        record = model.finish(record)
        self.realm.put(entity, record)
        model.after_store(record, previous)
        return self.realm.require(entity, record["Id"])

    def read(self, entity: str, object_id: str) -> Record:
        if entity == "CompanyInfo" and str(object_id) == self.realm_id:
            object_id = "1"  # documented read: GET /companyinfo/{realmId}
        record = self.lookup(entity, object_id)
        if record is None:
            raise ObjectNotFound()
        return record

    def delete(self, entity: str, body: Any) -> Record:
        model = self.model(entity)
        if model.is_list:
            # Name lists cannot be deleted, only made inactive (Active=false).
            raise UnsupportedOperation("Operation Delete is not supported.")
        current = self._current_for(model, body)
        if any(link.get("TxnType") == "Payment" for link in current.get("LinkedTxn", [])):
            raise BusinessValidation(f"This {entity} is linked to payments. Delete or unapply the payments "
                                     f"before deleting it.", "Id",
                                     message="Transaction has linked transactions")
        self.realm.delete(entity, current["Id"])
        if entity == "Payment":
            self.apply_payment(None, current)
        else:
            self.index_docnum(entity, {}, current)
            sign = -1 if entity == "CreditMemo" else 1
            amount = Decimal(current.get("Balance", 0)) if entity == "Invoice" else Decimal(current.get("TotalAmt", 0))
            self.adjust_customer_balance(current["CustomerRef"]["value"], -sign * amount)
        moment = stamp()
        self.store.put(self.realm_id, "_deleted", f"{entity}:{current['Id']}",
                       {"entity": entity, "Id": current["Id"], "LastUpdatedTime": moment})
        return {"Id": current["Id"], "status": "Deleted", "domain": "QBO"}

    def void(self, entity: str, body: Any) -> Record:
        model = self.model(entity)
        if entity not in ("Invoice", "Payment"):
            raise UnsupportedOperation("Operation Void is not supported.")
        current = self._current_for(model, body)
        updated = dict(current)
        if entity == "Invoice":
            if any(link.get("TxnType") == "Payment" for link in current.get("LinkedTxn", [])):
                raise BusinessValidation("This invoice has payments applied to it. Unapply the payments before "
                                         "voiding the invoice.", "Id", message="Transaction has linked transactions")
            self.adjust_customer_balance(current["CustomerRef"]["value"], -Decimal(current.get("Balance", 0)))
            updated["Line"] = [_zero_line(line) for line in current.get("Line", [])]
            updated["TotalAmt"] = Decimal("0")
            updated["Balance"] = Decimal("0")
            updated["TxnTaxDetail"] = {"TotalTax": Decimal("0")}
            updated.pop("HomeTotalAmt", None)
        else:
            self.apply_payment(None, current)
            updated["TotalAmt"] = Decimal("0")
            updated["UnappliedAmt"] = Decimal("0")
            updated.pop("Line", None)
        updated["PrivateNote"] = "Voided"
        bump_sync_token(updated)
        touch(updated)
        self.realm.put(entity, updated)
        return updated

    def merge_customers(self, source_id: str, target_id: str) -> Record:
        """QBO's "merge" (a UI action, not in the API): give the second customer's name to the first — here:
        move everything of ``source_id`` to ``target_id`` and remove the source. Its transactions and balance
        move to the target (each transaction gets a new SyncToken), and the source disappears: reads answer
        610 and change data capture reports it ``Deleted``, which is what an API client sees of a merge."""
        if source_id == target_id:
            raise BusinessValidation("A customer cannot be merged into itself", "Id")
        source = self.require_for_update("Customer", source_id)
        target = self.require_for_update("Customer", target_id)
        if any(c.get("ParentRef", {}).get("value") == source_id for c in self.realm.all("Customer").values()):
            raise BusinessValidation(f"Customer {source_id} has sub-customers: move them first", "Id")
        ref = {"value": target_id, "name": target["DisplayName"]}
        for entity in ("Invoice", "CreditMemo", "Payment"):
            for txn in list(self.realm.all(entity).values()):
                if txn.get("CustomerRef", {}).get("value") == source_id:
                    moved = {**txn, "CustomerRef": ref}
                    bump_sync_token(moved)
                    touch(moved)
                    self.realm.put(entity, moved)
        balance = Decimal(source.get("Balance", 0))
        self.realm.delete("Customer", source_id)
        self.adjust_customer_balance(target_id, balance)
        merged = dict(self.realm.require("Customer", target_id))
        bump_sync_token(merged)
        touch(merged)
        self.realm.put("Customer", merged)
        self.names.invalidate()
        self.store.put(self.realm_id, "_deleted", f"Customer:{source_id}",
                       {"entity": "Customer", "Id": source_id, "LastUpdatedTime": stamp()})
        return merged

    def _current_for(self, model: EntityModel, body: Any) -> Record:
        if not isinstance(body, dict):
            raise InvalidRequest(f"Request body for {model.name} must be a JSON object")
        object_id = body.get("Id")
        if object_id in (None, ""):
            raise RequiredParamMissing("Required parameter Id is missing in the request", "Id")
        current = self.require_for_update(model.name, str(object_id))
        model.check_sync_token(current, body)
        return current

    # -- query ------------------------------------------------------------------------------------------------
    def query(self, text: str) -> Record:
        parsed = qbo_query.parse(text)
        records: Iterable[Record] = self.realm.all(parsed.entity).values()
        if self.hidden:
            hidden = {i for e, i in self.hidden if e == parsed.entity}
            records = [r for r in records if r["Id"] not in hidden]
        page, total = qbo_query.execute(parsed, records)
        if parsed.count:
            return {"totalCount": total}
        if not page:
            return {}
        return {parsed.entity: page, "startPosition": parsed.start, "maxResults": len(page)}

    # -- batch ------------------------------------------------------------------------------------------------
    def batch(self, doc: Any, run_item: Callable[[Record], tuple[str, Any, str]]) -> list[Record]:
        """Run ``BatchItemRequest`` items in order; ``run_item(item)`` answers one item's response (or raises)."""
        if not isinstance(doc, dict) or not isinstance(doc.get("BatchItemRequest"), list):
            raise RequiredParamMissing("Required parameter BatchItemRequest is missing in the request",
                                       "BatchItemRequest")
        items = doc["BatchItemRequest"]
        if not items:
            raise RequiredParamMissing("Required parameter BatchItemRequest is missing in the request",
                                       "BatchItemRequest")
        if len(items) > MAX_BATCH_ITEMS:
            raise BusinessValidation(f"The batch request has {len(items)} items; the maximum is {MAX_BATCH_ITEMS}.",
                                     "BatchItemRequest", message="Batch Size Limit Exceeded")
        seen: set[str] = set()
        for item in items:
            bid = item.get("bId") if isinstance(item, dict) else None
            if bid in (None, ""):
                raise RequiredParamMissing("Required parameter bId is missing in the request", "bId")
            if not isinstance(bid, (str, int)) or isinstance(bid, bool):
                raise InvalidRequest("Property Name:bId specified is unsupported or invalid", "bId")
            bid = str(bid)
            if bid in seen:
                raise BusinessValidation(f"Duplicate bId {bid!r} in the batch request", "bId")
            seen.add(bid)
        responses: list[Record] = []
        self.hidden = set()
        try:
            for item in items:
                bid = str(item["bId"])
                try:
                    entity, record, kind = run_item(item)
                    if kind == "query":
                        responses.append({"bId": bid, "QueryResponse": record})
                    else:
                        responses.append({"bId": bid, entity: record})
                        if kind == "create":
                            self.hidden.add((entity, record["Id"]))
                except QboError as exc:
                    responses.append({"bId": bid, "Fault": {"Error": [exc.error_doc()], "type": exc.fault_type}})
        finally:
            self.hidden = set()
        return responses

    # -- change data capture ---------------------------------------------------------------------------------
    def cdc(self, entities: str | None, changed_since: str | None) -> list[Record]:
        if not entities:
            raise RequiredParamMissing("Required parameter entities is missing in the request", "entities")
        if not changed_since:
            raise RequiredParamMissing("Required parameter changedSince is missing in the request", "changedSince")
        try:
            since = parse_time(changed_since)
        except ValueError:
            raise InvalidRequest(f"Invalid changedSince value {changed_since!r}", "changedSince") from None
        if now() - since > dt.timedelta(days=CDC_MAX_DAYS):
            raise BusinessValidation(f"changedSince must be within the last {CDC_MAX_DAYS} days",
                                     "changedSince", message="Invalid changedSince")
        names: list[str] = []
        for raw in entities.split(","):
            entity = ENTITY_BY_SEGMENT.get(raw.strip().lower())
            if entity is None or entity in CDC_UNSUPPORTED:
                raise InvalidRequest(f"CDC is not supported for entity {raw.strip()!r}", "entities")
            names.append(entity)
        budget = CDC_MAX_OBJECTS
        results: list[Record] = []
        tombstones = self.store.collection(self.realm_id, "_deleted").values()
        for entity in names:
            changed = [r for r in self.realm.all(entity).values()
                       if parse_time(r["MetaData"]["LastUpdatedTime"]) >= since]
            changed += [{"Id": t["Id"], "status": "Deleted", "domain": "QBO",
                         "MetaData": {"LastUpdatedTime": t["LastUpdatedTime"]}}
                        for t in tombstones if t["entity"] == entity and parse_time(t["LastUpdatedTime"]) >= since]
            changed = changed[:budget]
            budget -= len(changed)
            if changed:
                results.append({entity: changed, "startPosition": 1, "maxResults": len(changed)})
        return results or [{}]


def _zero_line(line: Record) -> Record:
    line = dict(line)
    if "Amount" in line:
        line["Amount"] = Decimal("0")
    detail = line.get("SalesItemLineDetail")
    if detail:
        detail = dict(detail)
        detail.pop("Qty", None)
        detail["UnitPrice"] = Decimal("0")
        line["SalesItemLineDetail"] = detail
    return line


__all__ = ["ENTITY_BY_SEGMENT", "LIST_ENTITIES", "QboBackend", "response_time"]
