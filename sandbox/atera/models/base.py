"""What every entity model of one Atera account shares: the store slice of its tenant, its clock and timezone,
ordered views over collections that stay cheap on large accounts, and the date parameters of the API."""
from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sandbox.core.store import Store

from ..exceptions import ValidationFailed

# One stored entity, a JSON object with Atera's field names (and the model's private ``_`` fields).
Record = dict[str, Any]
RecordList = list[Record]  # also spares the models' ``list`` methods from shadowing ``list`` in annotations
T = TypeVar("T")

# Atera shows Windows time zone names; the twin keeps the IANA zone beside it.
WINDOWS_ZONES = {
    "Eastern Standard Time": "America/New_York", "Central Standard Time": "America/Chicago",
    "Mountain Standard Time": "America/Denver", "US Mountain Standard Time": "America/Phoenix",
    "Pacific Standard Time": "America/Los_Angeles", "Alaskan Standard Time": "America/Anchorage",
    "Hawaiian Standard Time": "Pacific/Honolulu", "GMT Standard Time": "Europe/London",
    "W. Europe Standard Time": "Europe/Berlin", "Romance Standard Time": "Europe/Paris",
    "Israel Standard Time": "Asia/Jerusalem", "AUS Eastern Standard Time": "Australia/Sydney",
    "Tokyo Standard Time": "Asia/Tokyo", "UTC": "UTC",
}
IANA_TO_WINDOWS = {v: k for k, v in WINDOWS_ZONES.items()}


def resolve_zone(name: str) -> tuple[str, ZoneInfo]:
    """(Windows display name, ZoneInfo) for a Windows or IANA time zone name."""
    if name in WINDOWS_ZONES:
        return name, ZoneInfo(WINDOWS_ZONES[name])
    zone = ZoneInfo(name)  # raises for an unknown zone
    return IANA_TO_WINDOWS.get(name, name), zone


_LOCAL_PARAM = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:T(\d{2}:\d{2}(?::\d{2})?))?$")


def parse_local_param(name: str, raw: str, zone: ZoneInfo) -> datetime:
    """A date query parameter in the account's timezone (``yyyy-MM-dd`` or ``yyyy-MM-ddTHH:mm:ss``, no offset)
    as an aware UTC datetime; anything else is a 400."""
    m = _LOCAL_PARAM.match(raw.strip())
    if not m:
        raise ValidationFailed({name: [f"The value '{raw}' is not valid. Use yyyy-MM-dd or yyyy-MM-ddTHH:mm:ss "
                                       "(account timezone, no offset)."]})
    try:
        day = date.fromisoformat(m.group(1))
        clock = time.fromisoformat(m.group(2)) if m.group(2) else time(0, 0)
    except ValueError:
        raise ValidationFailed({name: [f"The value '{raw}' is not valid."]}) from None
    return datetime.combine(day, clock, tzinfo=zone).astimezone(UTC)


def parse_utc_param(name: str, raw: str) -> datetime:
    """A UTC date query parameter (``/tickets/lastmodified?date=``); an offset is accepted."""
    text = raw.strip().replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationFailed({name: [f"The value '{raw}' is not valid."]}) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_wire_time(text: str | None) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def public(record: Record) -> Record:
    """A record without the model's private fields (``_``-prefixed)."""
    return {k: v for k, v in record.items() if not k.startswith("_")}


class Views:
    """Ordered, filtered views over collections, cached until the collection changes.

    Listing a 100,000-record collection costs one pass when it changes, then each page is a slice: late pages
    cost what early pages cost.
    """

    def __init__(self) -> None:
        self._versions: dict[tuple[str, str], int] = {}
        self._cache: dict[tuple[Any, ...], tuple[int, list[Any]]] = {}

    def bump(self, tenant: str, name: str) -> None:
        key = (tenant, name)
        self._versions[key] = self._versions.get(key, 0) + 1

    def bump_all(self) -> None:
        for key in list(self._versions):
            self._versions[key] += 1
        self._cache.clear()

    def get(self, tenant: str, name: str, variant: Any, build: Callable[[], list[T]]) -> list[T]:
        version = self._versions.get((tenant, name), 0)
        key = (tenant, name, variant)
        hit = self._cache.get(key)
        if hit is not None and hit[0] == version:
            return hit[1]
        items = build()
        if len(self._cache) > 256:
            self._cache.clear()
        self._cache[key] = (version, items)
        return items


class EntityModel:
    """Base of the entity models: a collection of one tenant in the shared store."""

    collection = ""

    def __init__(self, account: Any) -> None:
        # The ``AteraAccount`` (models/__init__.py) the model belongs to, through which it reaches its sibling
        # models (``account.customers`` ...). Typed Any: that class is built from the entity models, so naming it
        # here would make the modules of this package import each other.
        self.account = account
        self.store: Store = account.store
        self.tenant: str = account.tenant
        self.views: Views = account.views

    def records(self, name: str | None = None) -> dict[str, Record]:
        return self.store.collection(self.tenant, name or self.collection)

    def put(self, key: Any, record: Record, name: str | None = None) -> Record:
        name = name or self.collection
        self.store.put(self.tenant, name, key, record)
        self.views.bump(self.tenant, name)
        return record

    def remove(self, key: Any, name: str | None = None) -> None:
        name = name or self.collection
        self.store.delete(self.tenant, name, key)
        self.views.bump(self.tenant, name)

    def next_id(self, name: str | None = None) -> int:
        return self.store.next_id(self.tenant, name or self.collection)

    def ordered(self, variant: Any = "all", keep: Callable[[Record], bool] | None = None,
                sort_key: Callable[[Record], Any] | None = None, name: str | None = None) -> RecordList:
        name = name or self.collection

        def build() -> RecordList:
            values = self.records(name).values()
            items = [r for r in values if keep(r)] if keep else list(values)
            if sort_key:
                items.sort(key=sort_key)
            return items

        return self.views.get(self.tenant, name, variant, build)
