"""Rates: products (``/rates/products``), expenses (``/rates/expenses``) and the hourly rates / services that have no
endpoint of their own and appear only inside contracts.

A RateDto is ``{RateID, Amount, Description, SKU, Category}``; ``Description`` is the name. Archiving (``Archived``
on update) takes a rate out of its list; it can still be read by id.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..exceptions import NotFound, ValidationFailed
from ..schema import read_body
from .base import EntityModel, Record, RecordList

RATE_FIELDS = ("RateID", "Amount", "Description", "SKU", "Category")
KINDS = {"products": "Product", "expenses": "Expense", "services": "Rate"}


class Rates(EntityModel):
    def __init__(self, account: Any, collection: str) -> None:
        super().__init__(account)
        self.collection = collection
        self.label = KINDS[collection]

    def get(self, rate_id: int) -> Record:
        record = self.records().get(str(rate_id))
        if record is None:
            raise NotFound(f"{self.label} {rate_id} was not found.")
        return record

    def find(self, rate_id: int | None) -> Record | None:
        return None if rate_id is None else self.records().get(str(rate_id))

    def list(self) -> RecordList:
        return self.ordered("active", keep=lambda r: not r.get("_archived"))

    def names(self) -> set[str]:
        """Descriptions of every rate of this kind, archived ones included (old invoices may name them)."""
        def build() -> list[set[str]]:
            return [{r["Description"] for r in self.records().values()}]
        return self.views.get(self.tenant, self.collection, "names", build)[0]

    def create(self, body: Any) -> Record:
        fields = read_body("CreateRateRequest", body)
        description = fields.get("Description")
        if not isinstance(description, str) or not description.strip():
            raise ValidationFailed({"Description": ["The Description field is required."]})
        return self.insert(description, fields.get("Amount", Decimal("0")), fields.get("SKU"),
                           fields.get("Category"))

    def insert(self, description: str, amount: Decimal, sku: str | None, category: str | None) -> Record:
        rate_id = self.next_id()
        record = {"RateID": rate_id, "Amount": Decimal(amount), "Description": description, "SKU": sku,
                  "Category": category, "_archived": False}
        return self.put(rate_id, record)

    def update(self, rate_id: int, body: Any) -> Record:
        record = dict(self.get(rate_id))
        fields = read_body("UpdateRateRequest", body)
        if "Description" in fields and fields["Description"] is not None and not fields["Description"].strip():
            raise ValidationFailed({"Description": ["The Description field cannot be empty."]})
        for name in ("Description", "Amount", "SKU", "Category"):
            if fields.get(name) is not None:
                record[name] = fields[name]
        if fields.get("Archived") is not None:
            record["_archived"] = fields["Archived"]
        return self.put(rate_id, record)

    def delete(self, rate_id: int) -> None:
        self.get(rate_id)
        self.remove(rate_id)

    @staticmethod
    def render(record: Record) -> Record:
        return {"RateID": record["RateID"], "Amount": record["Amount"], "Description": record["Description"],
                "SKU": record["SKU"], "Category": record["Category"]}
