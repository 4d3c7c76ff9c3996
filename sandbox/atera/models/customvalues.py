"""Custom fields: the definitions (``/customvalues/customfields``) and customer values
(``/customvalues/customerfield/{customerId}/{fieldName}``, read and write; ``/customerfields/{customerId}``).

Definitions are made in Atera's UI; every twin account starts with ``DEFAULT_FIELDS`` and the control plane can add
more. A value is set from a string (``{"Value": "..."}``) and converted by the field's DataType; a value that does
not convert is a 400.
"""
from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ..exceptions import BadRequest, ValidationFailed
from ..schema import CUSTOM_FIELD_TARGETS, CUSTOM_FIELD_TYPES, read_body
from .base import EntityModel, Record, RecordList

NAMESPACE = uuid.UUID("1b0c3a8e-5f0e-4c0e-8d4c-7f7a6f0c2a11")
DEFAULT_FIELDS = [
    {"Name": "QuickBooks ID", "DataType": "Text", "Target": "Customer", "PossibleValues": [],
     "ParentAttributeName": None},
    {"Name": "Billing Notes", "DataType": "Text", "Target": "Customer", "PossibleValues": [],
     "ParentAttributeName": None},
    {"Name": "Priority Client", "DataType": "Boolean", "Target": "Customer", "PossibleValues": [],
     "ParentAttributeName": None},
    {"Name": "Seats", "DataType": "Numeric", "Target": "Customer", "PossibleValues": [],
     "ParentAttributeName": None},
    {"Name": "Renewal Date", "DataType": "Date", "Target": "Customer", "PossibleValues": [],
     "ParentAttributeName": None},
    {"Name": "Tier", "DataType": "Options", "Target": "Customer", "PossibleValues": [
        {"Value": "Gold", "Text": "Gold", "ParentName": None},
        {"Value": "Silver", "Text": "Silver", "ParentName": None},
        {"Value": "Bronze", "Text": "Bronze", "ParentName": None}], "ParentAttributeName": None},
    {"Name": "Ticket Category", "DataType": "Text", "Target": "Ticket", "PossibleValues": [],
     "ParentAttributeName": None},
]


class CustomValues(EntityModel):
    collection = "customvalues"
    fields_collection = "customfields"

    def definitions(self) -> RecordList:
        return list(self.records(self.fields_collection).values())

    def define(self, definition: Any) -> Record:
        if not isinstance(definition, dict) or not isinstance(definition.get("Name"), str) \
                or not definition["Name"].strip():
            raise BadRequest("A custom field needs a Name.")
        data_type = definition.get("DataType", "Text")
        target = definition.get("Target", "Customer")
        if data_type not in CUSTOM_FIELD_TYPES or target not in CUSTOM_FIELD_TARGETS:
            raise BadRequest(f"DataType must be one of {CUSTOM_FIELD_TYPES}, Target one of {CUSTOM_FIELD_TARGETS}.")
        record = {"Name": definition["Name"], "DataType": data_type, "Target": target,
                  "PossibleValues": list(definition.get("PossibleValues") or []),
                  "ParentAttributeName": definition.get("ParentAttributeName")}
        return self.put(f"{target}:{record['Name'].casefold()}", record, name=self.fields_collection)

    def _field(self, target: str, name: str) -> Record:
        record = self.records(self.fields_collection).get(f"{target}:{name.casefold()}")
        if record is None:
            raise BadRequest(f"Custom field '{name}' does not exist for {target}.")
        return record

    def _customer(self, customer_id: int) -> None:
        if self.account.customers.find(customer_id) is None:
            raise BadRequest(f"Customer {customer_id} was not found.")

    def customer_value(self, customer_id: int, field_name: str) -> RecordList:
        self._customer(customer_id)
        definition = self._field("Customer", field_name)
        record = self.records().get(f"Customer:{customer_id}:{definition['Name'].casefold()}")
        return [self.render(record)] if record else []

    def customer_values(self, customer_id: int) -> RecordList:
        self._customer(customer_id)
        prefix = f"Customer:{customer_id}:"
        return [self.render(r) for key, r in self.records().items() if key.startswith(prefix)]

    def set_customer_value(self, customer_id: int, field_name: str, body: Any) -> Record:
        self._customer(customer_id)
        definition = self._field("Customer", field_name)
        fields = read_body("SetCustomValueRequest", body)
        value = fields.get("Value")
        record = {"ItemId": customer_id,
                  "Id": str(uuid.uuid5(NAMESPACE, f"{self.tenant}:Customer:{customer_id}:{definition['Name']}")),
                  "FieldName": definition["Name"], "ValueAsString": value, "ValueAsDecimal": Decimal(0),
                  "ValueAsDateTime": None, "ValueAsBool": False, "OptionId": None}
        if value is not None and value != "":
            kind = definition["DataType"]
            if kind == "Boolean":
                if value.strip().lower() not in ("true", "false"):
                    raise ValidationFailed({"Value": [f"'{value}' is not a Boolean value (true or false)."]})
                record["ValueAsBool"] = value.strip().lower() == "true"
            elif kind == "Numeric":
                try:
                    record["ValueAsDecimal"] = Decimal(value.strip())
                except InvalidOperation:
                    raise ValidationFailed({"Value": [f"'{value}' is not a number."]}) from None
            elif kind == "Date":
                try:
                    moment = datetime.fromisoformat(value.strip()) if "T" in value else \
                        datetime.combine(date.fromisoformat(value.strip()), datetime.min.time())
                except ValueError:
                    raise ValidationFailed({"Value": [f"'{value}' is not a date."]}) from None
                record["ValueAsDateTime"] = moment.strftime("%Y-%m-%dT%H:%M:%S")
            elif kind in ("Options", "OptionsWithDependencies"):
                options = definition.get("PossibleValues") or []
                match = next((o for o in options if value in (o.get("Value"), o.get("Text"))), None)
                if match is None:
                    raise ValidationFailed({"Value": [f"'{value}' is not an option of '{definition['Name']}'."]})
                record["OptionId"] = str(uuid.uuid5(NAMESPACE, f"{definition['Name']}:{match.get('Value')}"))
        self.put(f"Customer:{customer_id}:{definition['Name'].casefold()}", record)
        return record

    def customer_deleted(self, customer_id: int) -> None:
        prefix = f"Customer:{customer_id}:"
        for key in [k for k in self.records() if k.startswith(prefix)]:
            self.remove(key)

    @staticmethod
    def render(record: Record) -> Record:
        return dict(record)
