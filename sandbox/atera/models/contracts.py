"""Contracts, each of one ``ContractType`` with its typed sub-object whose rates are embedded RateDtos.

The hourly rates / services (collection ``services``) have no endpoint: contracts are where they show. A contract
keeps rate ids in ``_terms``; rendering embeds the current RateDto of each.
"""
from __future__ import annotations

from typing import Any

from ..exceptions import BadRequest, NotFound, ValidationFailed
from ..schema import SUBOBJECT_OF_TYPE, read_body
from .base import EntityModel, Record, RecordList

RATE_KEYS = ("Rate", "PrimaryRate", "PricePerHour", "OverageRate", "ContractAmount", "RatePerDevice", "RatePerGB",
             "TotalAmount")
LIST_KEYS = ("AdditionalRates",)
# The order of the keys of each typed sub-object on the wire, as in the OpenAPI document.
SUB_FIELDS = {
    "RetainerFlatFeeContract": ("BillingPeriod", "Quantity", "Rate"),
    "HourlyContract": ("PrimaryRate", "AdditionalRates", "BillingPeriod"),
    "BlockHoursContract": ("HoursIncluded", "PricePerHour", "OverageRate", "CommitRollover", "BillingPeriod"),
    "BlockMoneyContract": ("Amount", "ContractAmount", "PrimaryRate", "AdditionalRates", "CommitRollover",
                           "BillingPeriod"),
    "RemoteMonitoringContract": ("RatePerDevice", "CountBy", "BillingPeriod"),
    "OnlineBackupContract": ("RatePerGB", "CountBy", "BillingPeriod"),
    "ProjectOneTimeFeeContract": ("TotalAmount",),
    "ProjectHourlyRateContract": ("PrimaryRate", "AdditionalRates"),
}
# Create requests: which request field feeds which sub-object field.
CREATE_MAP = {
    "RetainerFlatFee": ("CreateRetainerFlatFeeContractDto", {"RateID": "Rate"}),
    "Hourly": ("CreateHourlyContractDto", {"HourlyRateID": "PrimaryRate", "AdditionalRateIDs": "AdditionalRates"}),
    "BlockHours": ("CreateBlockHoursContractDto", {"HourlyRateID": "PricePerHour", "OverageRateID": "OverageRate"}),
    "BlockMoney": ("CreateBlockMoneyContractDto", {"ContractAmountRateID": "ContractAmount",
                                                   "HourlyRateID": "PrimaryRate", "OverageRateID": "AdditionalRates"}),
    "RemoteMonitoring": ("CreateRemoteMonitoringContractDto", {"PerDeviceRateID": "RatePerDevice"}),
    "OnlineBackup": ("CreateOnlineBackupContractDto", {"PerGBRateID": "RatePerGB"}),
    "ProjectOneTimeFee": ("CreateProjectOneTimeFeeContractDto", {"TotalAmountRateId": "TotalAmount"}),
    "ProjectHourlyRate": ("CreateProjectHourlyRateContractDto", {"TotalAmountRateId": "PrimaryRate",
                                                                 "AdditionalRateIDs": "AdditionalRates"}),
}
UPDATABLE_SUBS = ("RetainerFlatFeeContract", "HourlyContract", "BlockHoursContract", "BlockMoneyContract",
                  "RemoteMonitoringContract", "OnlineBackupContract")
HEADER_FIELDS = ("ContractName", "Default", "StartDate", "EndDate", "Active", "Taxable", "TaxId", "Notes")


class Contracts(EntityModel):
    collection = "contracts"

    def get(self, contract_id: int) -> Record:
        record = self.records().get(str(contract_id))
        if record is None:
            raise NotFound(f"Contract {contract_id} was not found.")
        return record

    def list(self) -> RecordList:
        return self.ordered()

    def _by_customer(self) -> dict[int, RecordList]:
        def build() -> list[dict[int, RecordList]]:
            index: dict[int, RecordList] = {}
            for record in self.records().values():
                index.setdefault(record["CustomerID"], []).append(record)
            return [index]
        return self.views.get(self.tenant, self.collection, "by_customer", build)[0]

    def of_customer(self, customer_id: int) -> RecordList:
        return self._by_customer().get(customer_id, [])

    def insert(self, header: dict[str, Any], terms: dict[str, Any]) -> Record:
        """Store a contract: ``terms`` is its typed sub-object with rate ids in place of RateDtos."""
        contract_id = self.next_id()
        record = {"ContractID": contract_id, "CustomerID": header["CustomerID"],
                  "ContractName": header["ContractName"], "ContractType": header["ContractType"],
                  "Active": header.get("Active", True), "Default": header.get("Default", False),
                  "Taxable": header.get("Taxable", False), "StartDate": header.get("StartDate"),
                  "EndDate": header.get("EndDate"), "_notes": header.get("Notes"), "_sla": header.get("SLAId"),
                  "_tax": header.get("TaxId"), "_terms": terms}
        return self.put(contract_id, record)

    def create(self, body: Any) -> Record:
        fields = read_body("CreateContractDto", body)
        if not (fields.get("ContractName") or "").strip():
            raise ValidationFailed({"ContractName": ["The ContractName field is required."]})
        customer_id = fields.get("CustomerID", 0)
        if self.account.customers.find(customer_id) is None:
            raise BadRequest(f"Customer {customer_id} was not found.")
        ctype = fields.get("ContractType") or "RetainerFlatFee"  # the enum's default value, as .NET binds it
        sub_name = SUBOBJECT_OF_TYPE[ctype]
        for other in SUBOBJECT_OF_TYPE.values():
            if other != sub_name and fields.get(other) is not None:
                raise BadRequest(f"{other} does not fit a contract of type {ctype}.")
        if fields.get(sub_name) is None:
            raise ValidationFailed({sub_name: [f"The {sub_name} field is required for a {ctype} contract."]})
        request_name, rate_map = CREATE_MAP[ctype]
        sub = read_body(request_name, fields[sub_name], path=f"$.{sub_name}")
        terms: dict[str, Any] = {}
        for source, target in rate_map.items():
            value = sub.get(source)
            ids = value if isinstance(value, list) else ([] if value is None else [value])
            for rate_id in ids:
                if self.account.services.find(rate_id) is None:
                    raise BadRequest(f"Rate {rate_id} ({sub_name}.{source}) was not found.")
            if target in LIST_KEYS:
                terms.setdefault(target, []).extend(ids)
            elif value is not None:
                terms[target] = value
        missing = [f for f in SUB_FIELDS[sub_name] if f in RATE_KEYS and f != "OverageRate" and f not in terms]
        if missing:
            raise ValidationFailed({f"{sub_name}.{missing[0]}": [f"A rate is required for {missing[0]}."]})
        for name in ("BillingPeriod", "CountBy", "Quantity", "HoursIncluded", "CommitRollover"):
            if name in SUB_FIELDS[sub_name]:
                terms[name] = sub.get(name)
        self._fill_defaults(sub_name, terms)
        header = {**fields, "ContractType": ctype, "CustomerID": customer_id}
        return self.insert(header, terms)

    def _fill_defaults(self, sub_name: str, terms: dict[str, Any]) -> None:
        fields = SUB_FIELDS[sub_name]
        if "BillingPeriod" in fields and terms.get("BillingPeriod") is None:
            terms["BillingPeriod"] = "EndOfContractDuration"
        if "CountBy" in fields and terms.get("CountBy") is None:
            terms["CountBy"] = "PCAgents"
        if "CommitRollover" in fields and terms.get("CommitRollover") is None:
            terms["CommitRollover"] = False
        if "AdditionalRates" in fields:
            terms.setdefault("AdditionalRates", [])
        if sub_name == "BlockMoneyContract" and terms.get("Amount") is None:
            rate = self.account.services.find(terms.get("ContractAmount"))
            terms["Amount"] = rate["Amount"] if rate else None

    def update(self, contract_id: int, body: Any) -> Record:
        record = dict(self.get(contract_id))
        fields = read_body("UpdateContractDto", body)
        if "ContractName" in fields and fields["ContractName"] is not None and not fields["ContractName"].strip():
            raise ValidationFailed({"ContractName": ["The ContractName field cannot be empty."]})
        own = SUBOBJECT_OF_TYPE[record["ContractType"]]
        terms = dict(record["_terms"])
        for sub_name in UPDATABLE_SUBS:
            if fields.get(sub_name) is None:
                continue
            if sub_name != own:
                raise BadRequest(f"{sub_name} does not fit a contract of type {record['ContractType']}.")
            sub = read_body("UpdateContractSubDto", fields[sub_name], path=f"$.{sub_name}")
            for name, value in sub.items():
                if name in SUB_FIELDS[own] and value is not None:
                    terms[name] = value
        for name in HEADER_FIELDS:
            if fields.get(name) is not None:
                key = {"Notes": "_notes", "TaxId": "_tax"}.get(name, name)
                record[key] = fields[name]
        record["_terms"] = terms
        self.put(contract_id, record)
        return record

    def customer_deleted(self, customer_id: int) -> None:
        for record in list(self.of_customer(customer_id)):
            self.remove(record["ContractID"])

    def rate_names(self) -> set[str]:
        """Descriptions of every rate some contract carries."""
        def build() -> list[set[str]]:
            services = self.account.services
            names: set[str] = set()
            for record in self.records().values():
                for rate_id in _rate_ids(record["_terms"]):
                    rate = services.find(rate_id)
                    if rate is not None:
                        names.add(rate["Description"])
            return [names]
        return self.views.get(self.tenant, self.collection, "rate_names", build)[0]

    def render(self, record: Record) -> Record:
        customer = self.account.customers.find(record["CustomerID"])
        services = self.account.services
        sub_name = SUBOBJECT_OF_TYPE[record["ContractType"]]
        terms = record["_terms"]
        sub: dict[str, Any] = {}
        for name in SUB_FIELDS[sub_name]:
            value = terms.get(name)
            if name in RATE_KEYS:
                rate = services.find(value)
                if rate is None:
                    continue  # e.g. a block-hours contract without an overage rate
                sub[name] = services.render(rate)
            elif name in LIST_KEYS:
                sub[name] = [services.render(r) for r in (services.find(i) for i in value or []) if r is not None]
            else:
                sub[name] = value
        return {"CustomerID": record["CustomerID"],
                "CustomerName": customer["CustomerName"] if customer else None,
                "ContractID": record["ContractID"], "ContractName": record["ContractName"],
                "ContractType": record["ContractType"], "Active": record["Active"], "Default": record["Default"],
                "Taxable": record["Taxable"], "StartDate": record["StartDate"], "EndDate": record["EndDate"],
                sub_name: sub}


def _rate_ids(terms: dict[str, Any]) -> list[int]:
    ids = [terms[k] for k in RATE_KEYS if terms.get(k) is not None]
    for key in LIST_KEYS:
        ids.extend(terms.get(key) or [])
    return ids

