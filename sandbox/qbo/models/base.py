"""Shared pieces of the QBO state model: field helpers, the per-realm view of the store, record bookkeeping.

Records are kept exactly as QBO returns them (Intuit field names, ``Id``/``SyncToken`` as strings, money as
``Decimal``, only fields that have values), one store collection per entity name, keyed by ``Id``, tenant = realm id.
Collections whose name starts with ``_`` are the twin's own bookkeeping (request ids, tombstones).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Literal, overload

from sandbox.core.store import Store

from ..exceptions import BusinessValidation, InvalidRequest, ObjectNotFound, RequiredParamMissing
from ..times import stamp

CENT = Decimal("0.01")

# One QBO entity as stored and answered: Intuit's field names, only fields that have values.
Record = dict[str, Any]

# Company setup: kept by /_sandbox/reset.
SETUP_COLLECTIONS = frozenset({"CompanyInfo", "Preferences", "Account", "TaxCode", "TaxRate", "TaxAgency", "Term",
                               "_company"})
LIST_ENTITIES = ("Customer", "Vendor", "Employee", "Item", "Account", "TaxCode", "TaxRate", "Term")
TXN_ENTITIES = ("Invoice", "CreditMemo", "Payment")
NAME_ENTITIES = ("Customer", "Vendor", "Employee")  # DisplayName is unique across these


@overload
def prune(obj: Record) -> Record: ...
@overload
def prune(obj: Any) -> Any: ...
def prune(obj: Any) -> Any:
    """Only fields that have values: drop None, "" and empty lists/objects, recursively."""
    if isinstance(obj, dict):
        out = {}
        for key, value in obj.items():
            value = prune(value)
            if value is None or value == "" or value == [] or value == {}:
                continue
            out[key] = value
        return out
    if isinstance(obj, list):
        return [prune(v) for v in obj if v is not None]
    return obj


@overload
def money(value: Any, element: str, *, required: Literal[True], places: int = 2) -> Decimal: ...
@overload
def money(value: Any, element: str, *, required: bool = False, places: int = 2) -> Decimal | None: ...
def money(value: Any, element: str, *, required: bool = False, places: int = 2) -> Decimal | None:
    """A JSON number as Decimal (never float); '' and None are absent."""
    if value is None or value == "":
        if required:
            raise RequiredParamMissing(f"Required parameter {element} is missing in the request", element)
        return None
    if isinstance(value, bool):
        raise InvalidRequest(f"Property Name:{element} specified is unsupported or invalid", element)
    try:
        number = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise InvalidRequest(f"Property Name:{element} specified is unsupported or invalid", element) from None
    if not number.is_finite():
        raise InvalidRequest(f"Property Name:{element} specified is unsupported or invalid", element)
    return number


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def ref_value(ref: Any, element: str) -> str | None:
    """The ``value`` of a reference object (``{"value": "1", "name": ...}``); '' counts as absent."""
    if ref is None or ref == "":
        return None
    if not isinstance(ref, dict):
        raise InvalidRequest(f"Property Name:{element} specified is unsupported or invalid", element)
    value = ref.get("value")
    if value is None or value == "":
        return None
    return str(value)


def as_bool(value: Any, element: str, default: bool | None = None) -> bool | None:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise InvalidRequest(f"Property Name:{element} specified is unsupported or invalid", element)


def as_text(value: Any, element: str) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, (dict, list, bool)):
        raise InvalidRequest(f"Property Name:{element} specified is unsupported or invalid", element)
    return str(value)


def check_length(value: str | None, limit: int, element: str) -> None:
    if value is not None and len(value) > limit:
        raise BusinessValidation(f"String length is either shorter or longer than supported by specification. "
                                 f"{element}:Length = {len(value)}, Max supported = {limit}", element,
                                 message="String length specified does not match the supported length")


def check_date(value: str | None, element: str) -> None:
    if value is None:
        return
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidRequest(f"Property Name:{element} specified is unsupported or invalid "
                             f"(not a yyyy-mm-dd date: {value!r})", element) from None


def norm_name(name: str) -> str:
    """How QBO compares names for uniqueness: case-insensitively, ignoring surrounding blanks.

    Inner blanks are significant (not documented; keeping them is the stricter reading for a matcher, since
    "Northwind  Traders" and "Northwind Traders" then both exist)."""
    return name.strip().casefold()


class Realm:
    """One company's records in the store (the tenant is the realm id)."""

    def __init__(self, store: Store, realm_id: str) -> None:
        self.store = store
        self.realm_id = realm_id

    def all(self, entity: str) -> dict[str, Record]:
        return self.store.collection(self.realm_id, entity)

    def get(self, entity: str, object_id: Any) -> Record | None:
        record: Record | None = self.store.get(self.realm_id, entity, object_id)
        return record

    def put(self, entity: str, record: Record) -> Record:
        self.store.put(self.realm_id, entity, record["Id"], record)
        return record

    def delete(self, entity: str, object_id: str) -> None:
        self.store.delete(self.realm_id, entity, object_id)

    def next_id(self, entity: str) -> str:
        return str(self.store.next_id(self.realm_id, entity))

    def require(self, entity: str, object_id: Any, element: str = "Id") -> Record:
        record = self.get(entity, object_id) if object_id not in (None, "") else None
        if record is None:
            raise ObjectNotFound(element=element)
        return record

    def company(self) -> Record:
        return self.get("_company", "settings") or {}

    def preferences(self) -> Record:
        return self.get("Preferences", "1") or {}


def new_meta(moment: str | None = None) -> dict[str, str]:
    moment = moment or stamp()
    return {"CreateTime": moment, "LastUpdatedTime": moment}


def touch(record: Record, moment: str | None = None) -> None:
    meta = dict(record.get("MetaData") or {})
    meta["LastUpdatedTime"] = moment or stamp()
    meta.setdefault("CreateTime", meta["LastUpdatedTime"])
    record["MetaData"] = meta


def bump_sync_token(record: Record) -> None:
    record["SyncToken"] = str(int(record.get("SyncToken", "0")) + 1)


def first(values: Iterable[Any]) -> Any:
    for value in values:
        return value
    return None
