"""Customers: CRUD, ``FromLastModifiedDate`` (account timezone) and ``SortBy`` (Creation | LastModified)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from ..exceptions import NotFound, ValidationFailed
from ..schema import read_body
from ..wire import utc_text
from .base import EntityModel, Record, RecordList, parse_local_param, parse_wire_time, public

CUSTOMER_FIELDS = ("CustomerID", "CustomerName", "CreatedOn", "LastModified", "BusinessNumber", "Domain", "Address",
                   "City", "State", "Country", "Phone", "Fax", "Notes", "Logo", "Links", "Longitude", "Latitude",
                   "ZipCodeStr")
SORTS = ("Creation", "LastModified")


class Customers(EntityModel):
    collection = "customers"

    def get(self, customer_id: int) -> Record:
        record = self.records().get(str(customer_id))
        if record is None:
            raise NotFound(f"Customer {customer_id} was not found.")
        return record

    def find(self, customer_id: int | None) -> Record | None:
        return None if customer_id is None else self.records().get(str(customer_id))

    def by_name(self, name: str) -> RecordList:
        """Customers whose name is exactly ``name`` (as Atera prints it)."""
        index = self.views.get(self.tenant, self.collection, "by_name", lambda: [self._name_index()])[0]
        return index.get(name, [])

    def _name_index(self) -> dict[str, RecordList]:
        index: dict[str, RecordList] = {}
        for record in self.records().values():
            index.setdefault(record["CustomerName"], []).append(record)
        return index

    def list(self, from_modified: str | None = None, sort_by: str | None = None) -> RecordList:
        if sort_by is not None and sort_by not in SORTS:
            matched = [s for s in SORTS if s.lower() == sort_by.lower()]
            if not matched:
                raise ValidationFailed({"SortBy": [f"The value '{sort_by}' is not valid."]})
            sort_by = matched[0]
        since: datetime | None = None
        if from_modified:
            since = parse_local_param("FromLastModifiedDate", from_modified, self.account.zone)
        since_text = utc_text(since) if since else None
        keep = (lambda r: r["LastModified"] >= since_text) if since_text else None
        sort_key = (lambda r: (r["LastModified"], r["CustomerID"])) if sort_by == "LastModified" else None
        return self.ordered(("list", since_text, sort_by), keep=keep, sort_key=sort_key)

    def create(self, body: Any, now: datetime) -> Record:
        fields = read_body("CreateCustomerRequest", body)
        name = fields.get("CustomerName")
        if not isinstance(name, str) or not name.strip():
            raise ValidationFailed({"CustomerName": ["The CustomerName field is required."]})
        created = parse_wire_time(fields.get("CreatedOn")) or now
        record = dict.fromkeys(CUSTOMER_FIELDS)
        record.update({k: v for k, v in fields.items() if k != "CreatedOn"})
        record.update(CustomerID=self.next_id(), CustomerName=name, CreatedOn=utc_text(created),
                      LastModified=utc_text(now), Logo=None)
        return self.put(record["CustomerID"], record)

    def insert_seeded(self, record: Record) -> Record:
        record = {**dict.fromkeys(CUSTOMER_FIELDS), **record}
        record["CustomerID"] = self.next_id()
        return self.put(record["CustomerID"], record)

    def update(self, customer_id: int, body: Any, now: datetime) -> Record:
        record = dict(self.get(customer_id))
        fields = read_body("UpdateCustomerRequest", body)
        if fields.get("CustomerName") is not None and not fields["CustomerName"].strip():
            raise ValidationFailed({"CustomerName": ["The CustomerName field cannot be empty."]})
        # Atera's update changes the fields the request carries (null leaves a field as it is).
        record.update({k: v for k, v in fields.items() if v is not None})
        record["LastModified"] = utc_text(now)
        self.put(customer_id, record)
        if fields.get("CustomerName") is not None:
            self.account.on_customer_renamed(record)
        return record

    def delete(self, customer_id: int) -> None:
        self.get(customer_id)
        self.remove(customer_id)
        self.account.on_customer_deleted(customer_id)

    @staticmethod
    def render(record: Record) -> Record:
        return public(record)
