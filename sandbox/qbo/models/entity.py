"""What every QBO entity model does the same way: unknown-property checks, create/update bookkeeping.

An ``EntityModel`` turns a request body into a stored record (``build``) without touching the store; the backend
(``models.backend.QboBackend``) stores it. Validation therefore always happens before any mutation.

The models see the backend through ``Backend``, the part of it they use (references, company settings, indexes,
balances): the backend is built from the models, so the models do not import it.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any, Protocol

from ..exceptions import BusinessValidation, InvalidRequest, RequiredParamMissing, StaleObject
from ..times import stamp
from .base import Realm, Record, as_bool, bump_sync_token, new_meta, prune, touch
from .company import CompanySettings, Taxes
from .indexes import NameIndex

# Fields QBO returns that a client may echo back in a body (python-quickbooks sends its whole object).
ECHOED = frozenset({"Id", "SyncToken", "domain", "sparse", "MetaData", "status"})


class Backend(Protocol):
    """What the entity models use of ``QboBackend``."""

    realm: Realm
    taxes: Taxes
    names: NameIndex  # DisplayName across Customer, Vendor and Employee
    items: NameIndex  # Item names
    allow_duplicate_docnum: bool  # ``include=allowduplicatedocnum`` on the running request

    def company_settings(self) -> CompanySettings: ...
    def lookup(self, entity: str, object_id: Any) -> Record | None: ...
    def require_ref(self, entity: str, object_id: str, element: str) -> Record: ...
    def require_for_update(self, entity: str, object_id: str) -> Record: ...
    def check_tax_code(self, code: str, element: str) -> None: ...
    def check_currency(self, currency: str, element: str) -> None: ...
    def currency_name(self, code: str) -> str: ...
    def exchange_rate(self, currency: str) -> Decimal: ...
    def docnums(self, entity: str) -> dict[str, str]: ...
    def index_docnum(self, entity: str, record: Record, previous: Record | None) -> None: ...
    def generate_doc_number(self, entity: str) -> str: ...
    def adjust_customer_balance(self, customer_id: str, delta: Decimal) -> None: ...
    def apply_payment(self, payment: Record | None, previous: Record | None) -> None: ...


class EntityModel:
    name = ""
    is_list = True  # lists can only be made inactive; transactions can be deleted
    has_active = True
    writable: frozenset[str] = frozenset()
    readonly: frozenset[str] = frozenset()  # tolerated in a body and ignored (computed by QBO)
    creatable = True
    max_request_id = 50

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    @property
    def realm(self) -> Realm:
        return self.backend.realm

    # -- to override ---------------------------------------------------------------------------------------
    def build(self, body: Record, current: Record | None) -> Record:
        """Validate a complete body (for an update: merged with the current record when sparse) → record fields."""
        raise NotImplementedError

    def finish(self, record: Record) -> Record:
        """The record as stored: only fields that have values (``prune``), plus what a model computes last."""
        return prune(record)

    def after_store(self, record: Record, previous: Record | None) -> None:
        """Maintain indexes and dependent balances once ``record`` is stored."""

    # -- shared ----------------------------------------------------------------------------------------------
    def check_properties(self, body: Any) -> Record:
        if not isinstance(body, dict):
            raise InvalidRequest(f"Request body for {self.name} must be a JSON object")
        allowed = self.writable | self.readonly | ECHOED
        for key in body:
            if key not in allowed:
                raise InvalidRequest(
                    f"Property Name:Unrecognized field \"{key}\" (class com.intuit.schema.finance.v3.{self.name}), "
                    f"not marked as ignorable specified is unsupported or invalid", key)
        return body

    def create(self, body: Any) -> Record:
        if not self.creatable:
            raise BusinessValidation(f"Operation Create is not supported for {self.name}",
                                     message="Unsupported Operation")
        body = self.check_properties(body)
        if body.get("Id") not in (None, "", 0, "0"):
            # python-quickbooks only creates when Id is empty; an Id on create is an update by QBO's rules,
            # handled by the caller. Reaching here with an Id is a client error.
            raise InvalidRequest("Id must not be supplied on create", "Id")
        fields = self.build(body, None)
        object_id = self.realm.next_id(self.name)
        while self.realm.get(self.name, object_id) is not None:  # ids are never reused
            object_id = self.realm.next_id(self.name)
        record = {"Id": object_id, "SyncToken": "0", "domain": "QBO", "sparse": False}
        record.update(fields)
        record["MetaData"] = new_meta()
        return record

    def update(self, body: Any) -> tuple[Record, Record]:
        body = self.check_properties(body)
        object_id = body.get("Id")
        if object_id in (None, ""):
            raise RequiredParamMissing("Required parameter Id is missing in the request", "Id")
        current = self.backend.require_for_update(self.name, str(object_id))
        self.check_sync_token(current, body)
        sparse = as_bool(body.get("sparse"), "sparse", False)
        if sparse:
            merged = {k: v for k, v in current.items() if k not in ("MetaData",)}
            merged.update(body)
            fields = self.build(merged, current)
        else:
            fields = self.build(body, current)
        record = {"Id": current["Id"], "SyncToken": current["SyncToken"], "domain": "QBO", "sparse": False}
        record.update(fields)
        record["MetaData"] = dict(current.get("MetaData") or {})
        bump_sync_token(record)
        touch(record, stamp())
        return record, current

    def check_sync_token(self, current: Record, body: Record) -> None:
        supplied = body.get("SyncToken")
        if supplied is None or supplied == "":
            raise RequiredParamMissing("Required parameter SyncToken is missing in the request", "SyncToken")
        if str(supplied) != current.get("SyncToken"):
            raise StaleObject(self.name, current["Id"], str(supplied), current.get("SyncToken", "0"))

    def cascade_names(self, record: Record, previous: Record | None, name_field: str) -> None:
        """A renamed parent renames its children's FullyQualifiedName (sub-customers, items in categories)."""
        if previous is None or previous.get("FullyQualifiedName") == record.get("FullyQualifiedName"):
            return
        pending = [record]
        while pending:
            parent = pending.pop()
            for child in list(self.realm.all(self.name).values()):
                if (child.get("ParentRef") or {}).get("value") == parent["Id"]:
                    updated = {**child, "FullyQualifiedName": f"{parent['FullyQualifiedName']}:{child[name_field]}"}
                    if child.get("ParentRef", {}).get("name") is not None:
                        updated["ParentRef"] = {**child["ParentRef"], "name": parent[name_field]}
                    self.realm.put(self.name, updated)
                    pending.append(updated)

