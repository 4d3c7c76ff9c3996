"""Contacts (end users): CRUD, ``Email``/``Phone``/``FromLastModifiedDate`` filters, 409 on a duplicate email."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from ..exceptions import BadRequest, Conflict, NotFound, ValidationFailed
from ..schema import read_body
from ..wire import utc_text
from .base import EntityModel, Record, RecordList, parse_local_param, parse_wire_time, public
from .customers import SORTS, Customers

CONTACT_FIELDS = ("EndUserID", "CustomerID", "CustomerName", "Firstname", "Lastname", "JobTitle", "Email", "Phone",
                  "MobilePhone", "IsContactPerson", "InIgnoreMode", "CreatedOn", "LastModified", "Archived",
                  "DepartmentID", "DepartmentName", "DefaultAgentId")


class Contacts(EntityModel):
    collection = "contacts"

    def get(self, contact_id: int) -> Record:
        record = self.records().get(str(contact_id))
        if record is None:
            raise NotFound(f"Contact {contact_id} was not found.")
        return record

    def _email_index(self) -> dict[str, Record]:
        def build() -> list[dict[str, Record]]:
            return [{(r["Email"] or "").strip().casefold(): r for r in self.records().values() if r["Email"]}]
        return self.views.get(self.tenant, self.collection, "by_email", build)[0]

    def list(self, email: str | None = None, phone: str | None = None, from_modified: str | None = None,
             sort_by: str | None = None) -> RecordList:
        if sort_by is not None and sort_by.lower() not in [s.lower() for s in SORTS]:
            raise ValidationFailed({"SortBy": [f"The value '{sort_by}' is not valid."]})
        if email:
            found = self._email_index().get(email.strip().casefold())
            items = [found] if found else []
        else:
            items = self.ordered()
        if phone:
            items = [r for r in items if phone in (r.get("Phone") or "", r.get("MobilePhone") or "")]
        if from_modified:
            since = utc_text(parse_local_param("FromLastModifiedDate", from_modified, self.account.zone))
            items = [r for r in items if r["LastModified"] >= since]
        if sort_by and sort_by.lower() == "lastmodified":
            items = sorted(items, key=lambda r: (r["LastModified"], r["EndUserID"]))
        return items

    def _customer(self, customer_id: Any, customer_name: Any) -> Record:
        customers: Customers = self.account.customers
        if customer_id is not None:
            customer = customers.find(customer_id)
            if customer is None:
                raise BadRequest(f"Customer {customer_id} was not found.")
            return customer
        if customer_name:
            matches = customers.by_name(customer_name)
            if matches:
                return matches[0]
            raise BadRequest(f"Customer '{customer_name}' was not found.")
        raise ValidationFailed({"CustomerID": ["A contact needs a CustomerID or a CustomerName."]})

    def create(self, body: Any, now: datetime) -> Record:
        fields = read_body("CreateContactRequest", body)
        email = (fields.get("Email") or "").strip()
        if not email:
            raise ValidationFailed({"Email": ["The Email field is required."]})
        if "@" not in email:
            raise ValidationFailed({"Email": ["The Email field is not a valid e-mail address."]})
        if email.casefold() in self._email_index():
            raise Conflict(f"A contact with the email '{email}' already exists.")
        customer = self._customer(fields.get("CustomerID"), fields.get("CustomerName"))
        created = parse_wire_time(fields.get("CreatedOn")) or now
        record = dict.fromkeys(CONTACT_FIELDS)
        record.update({k: v for k, v in fields.items() if k != "CreatedOn"})
        record.update(EndUserID=self.next_id(), CustomerID=customer["CustomerID"],
                      CustomerName=customer["CustomerName"], Email=email, CreatedOn=utc_text(created),
                      LastModified=utc_text(now), Archived=False,
                      IsContactPerson=bool(fields.get("IsContactPerson") or False),
                      InIgnoreMode=bool(fields.get("InIgnoreMode") or False))
        return self.put(record["EndUserID"], record)

    def insert_seeded(self, record: Record) -> Record:
        record = {**dict.fromkeys(CONTACT_FIELDS), **record}
        record["EndUserID"] = self.next_id()
        return self.put(record["EndUserID"], record)

    def update(self, contact_id: int, body: Any, now: datetime) -> Record:
        record = dict(self.get(contact_id))
        fields = read_body("UpdateContactRequest", body)
        if fields.get("CustomerID") is not None or fields.get("CustomerName"):
            customer = self._customer(fields.get("CustomerID"), fields.get("CustomerName"))
            fields["CustomerID"], fields["CustomerName"] = customer["CustomerID"], customer["CustomerName"]
        record.update({k: v for k, v in fields.items() if v is not None})
        record["LastModified"] = utc_text(now)
        return self.put(contact_id, record)

    def delete(self, contact_id: int) -> None:
        self.get(contact_id)
        self.remove(contact_id)

    def of_customer(self, customer_id: int) -> RecordList:
        return [r for r in self.ordered() if r["CustomerID"] == customer_id]

    def customer_renamed(self, customer: Record) -> None:
        for record in self.of_customer(customer["CustomerID"]):
            self.put(record["EndUserID"], {**record, "CustomerName": customer["CustomerName"]})

    def customer_deleted(self, customer_id: int) -> None:
        for record in self.of_customer(customer_id):
            self.remove(record["EndUserID"])

    @staticmethod
    def render(record: Record) -> Record:
        return public(record)
