"""The twin's schema model: Atera's DTOs as JSON Schema, field names and types following Atera's OpenAPI v3 document
(``../shared/specs/atera-openapi-v3.json``, which stays outside this repository).

Two uses:
- tests validate every response of every implemented operation against ``RESPONSES`` (``validate``);
- request bodies are read through ``read_body``, which applies the request DTO's field types the way ASP.NET's
  System.Text.Json does: unknown fields are ignored, a value of the wrong type is a 400 ValidationProblemDetails.

The model is stricter than the document where the twin is sure of itself: every field the twin always emits is
``required``, so a dropped field fails the tests. Objects are closed (``additionalProperties: false``), as in the
document. Nullable fields are ``[type, "null"]``.
"""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from .exceptions import ValidationFailed

DATE_TIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?(Z|[+-]\d{2}:\d{2})?$"
UUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
INT32_MIN, INT32_MAX = -(2 ** 31), 2 ** 31 - 1
INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1


def _n(schema: dict[str, Any]) -> dict[str, Any]:
    """The nullable form of a scalar schema."""
    out = dict(schema)
    out["type"] = [schema["type"], "null"]
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    return out


STR = {"type": "string"}
INT32 = {"type": "integer", "minimum": INT32_MIN, "maximum": INT32_MAX}
INT64 = {"type": "integer", "minimum": INT64_MIN, "maximum": INT64_MAX}
NUM = {"type": "number"}
BOOL = {"type": "boolean"}
DT = {"type": "string", "pattern": DATE_TIME}
UUID_S = {"type": "string", "pattern": UUID}


def enum(*values: str) -> dict[str, Any]:
    return {"type": "string", "enum": list(values)}


def obj(props: dict[str, Any], optional: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": props, "additionalProperties": False,
            "required": [k for k in props if k not in optional]}


def array(items: dict[str, Any], nullable: bool = False) -> dict[str, Any]:
    return {"type": ["array", "null"] if nullable else "array", "items": items}


def paged(item: dict[str, Any]) -> dict[str, Any]:
    return obj({"items": array(item, nullable=True), "page": INT32, "itemsInPage": INT32,
                "totalItemCount": INT32, "totalPages": INT32, "prevLink": _n(STR), "nextLink": _n(STR)})


CONTRACT_TYPES = ("RetainerFlatFee", "BlockHours", "Hourly", "RemoteMonitoring", "BlockMoney", "ProjectOneTimeFee",
                  "ProjectHourlyRate", "OnlineBackup")
BILLING_PERIODS = ("EndOfContractDuration", "Weekly", "BiWeekly", "Monthly", "Quarterly", "TwiceAYear", "Yearly",
                   "OnDemand")
COUNT_BY = ("PCAgents", "ServerAgents", "OtherDevices", "AgentsOnly", "All", "PCsTotalGB", "ServersTotalGB",
            "TotalGB", "MacAgents")
CUSTOM_FIELD_TYPES = ("Text", "Boolean", "Numeric", "Date", "Options", "OptionsWithDependencies")
CUSTOM_FIELD_TARGETS = ("Customer", "Ticket", "Contact", "Contract", "SLA", "Agent", "SNMPDevice", "TCPDevice",
                        "HTTPDevice", "GenericDevice")

RESULT = obj({"ActionID": _n(STR)})
PROBLEM_DETAILS = {"type": "object", "properties": {
    "type": _n(STR), "title": _n(STR), "status": _n(INT32), "detail": _n(STR), "instance": _n(STR)},
    "required": ["type", "title", "status"], "additionalProperties": True}

ACCOUNT = obj({
    "AccountID": _n(STR), "Country": _n(STR), "CompanyName": _n(STR), "CreatedOn": _n(STR), "State": _n(STR),
    "TimeZoneName": _n(STR), "City": _n(STR), "Address": _n(STR), "PostalCode": _n(STR), "Phone": _n(STR),
    "IsITDepartment": BOOL, "Plan": _n(STR)})

CUSTOMER = obj({
    "CustomerID": _n(INT64), "CustomerName": _n(STR), "CreatedOn": _n(DT), "LastModified": _n(DT),
    "BusinessNumber": _n(STR), "Domain": _n(STR), "Address": _n(STR), "City": _n(STR), "State": _n(STR),
    "Country": _n(STR), "Phone": _n(STR), "Fax": _n(STR), "Notes": _n(STR), "Logo": _n(STR), "Links": _n(STR),
    "Longitude": _n(NUM), "Latitude": _n(NUM), "ZipCodeStr": _n(STR)})

CONTACT = obj({
    "EndUserID": _n(INT64), "CustomerID": _n(INT64), "CustomerName": _n(STR), "Firstname": _n(STR),
    "Lastname": _n(STR), "JobTitle": _n(STR), "Email": _n(STR), "Phone": _n(STR), "MobilePhone": _n(STR),
    "IsContactPerson": _n(BOOL), "InIgnoreMode": _n(BOOL), "CreatedOn": _n(DT), "LastModified": _n(DT),
    "Archived": _n(BOOL), "DepartmentID": _n(INT64), "DepartmentName": _n(STR), "DefaultAgentId": _n(INT64)})

RATE = obj({"RateID": INT32, "Amount": NUM, "Description": _n(STR), "SKU": _n(STR), "Category": _n(STR)})
RATES = array(RATE, nullable=True)
PERIOD = enum(*BILLING_PERIODS)
COUNTBY = enum(*COUNT_BY)

CONTRACT_SUBOBJECTS = {
    "RetainerFlatFeeContract": obj({"BillingPeriod": PERIOD, "Quantity": _n(NUM), "Rate": RATE}),
    "HourlyContract": obj({"PrimaryRate": RATE, "AdditionalRates": RATES, "BillingPeriod": PERIOD}),
    "BlockHoursContract": obj({"HoursIncluded": _n(NUM), "PricePerHour": RATE, "OverageRate": RATE,
                               "CommitRollover": BOOL, "BillingPeriod": PERIOD}, optional=("OverageRate",)),
    "BlockMoneyContract": obj({"Amount": _n(NUM), "ContractAmount": RATE, "PrimaryRate": RATE,
                               "AdditionalRates": RATES, "CommitRollover": BOOL, "BillingPeriod": PERIOD}),
    "RemoteMonitoringContract": obj({"RatePerDevice": RATE, "CountBy": COUNTBY, "BillingPeriod": PERIOD}),
    "OnlineBackupContract": obj({"RatePerGB": RATE, "CountBy": COUNTBY, "BillingPeriod": PERIOD}),
    "ProjectOneTimeFeeContract": obj({"TotalAmount": RATE}),
    "ProjectHourlyRateContract": obj({"PrimaryRate": RATE, "AdditionalRates": RATES}),
}
# Which sub-object a contract of each type carries (the others are absent).
SUBOBJECT_OF_TYPE = {
    "RetainerFlatFee": "RetainerFlatFeeContract", "Hourly": "HourlyContract", "BlockHours": "BlockHoursContract",
    "BlockMoney": "BlockMoneyContract", "RemoteMonitoring": "RemoteMonitoringContract",
    "OnlineBackup": "OnlineBackupContract", "ProjectOneTimeFee": "ProjectOneTimeFeeContract",
    "ProjectHourlyRate": "ProjectHourlyRateContract",
}
CONTRACT = obj({
    "CustomerID": INT64, "CustomerName": _n(STR), "ContractID": INT64, "ContractName": _n(STR),
    "ContractType": enum(*CONTRACT_TYPES), "Active": BOOL, "Default": BOOL, "Taxable": BOOL,
    "StartDate": _n(DT), "EndDate": _n(DT), **CONTRACT_SUBOBJECTS,
}, optional=tuple(CONTRACT_SUBOBJECTS))
# exactly one typed sub-object, the one of its ContractType
CONTRACT["oneOf"] = [
    {"properties": {"ContractType": {"const": ctype}}, "required": [sub],
     "not": {"anyOf": [{"required": [other]} for other in CONTRACT_SUBOBJECTS if other != sub]}}
    for ctype, sub in SUBOBJECT_OF_TYPE.items()
]

INVOICE_PARTY = obj({
    "CompanyName": _n(STR), "ContactFirstName": _n(STR), "ContactLastName": _n(STR), "ContactFullName": _n(STR),
    "Address": _n(STR), "State": _n(STR), "Country": _n(STR), "ZipCode": _n(INT32), "City": _n(STR),
    "Phone": _n(STR), "Email": _n(STR)})
INVOICE_LINE = obj({
    "Product": _n(STR), "Description": _n(STR), "Quantity": NUM, "Rate": NUM, "TaxPercentage": _n(NUM),
    "DiscountPercentage": _n(NUM), "Total": NUM, "Subtotal": NUM, "Tax": NUM, "LineIdx": _n(INT32)})
INVOICE = obj({
    "IsAdhoc": BOOL, "InvoiceId": UUID_S, "InvoiceNumber": INT32, "InvoiceNumberAsString": _n(STR), "Total": NUM,
    "Subtotal": NUM, "Tax": NUM, "TaxPercentage": _n(NUM), "InvoiceDate": DT, "ContractName": _n(STR),
    "PeriodStartDate": DT, "PeriodEndDate": DT, "Currency": _n(STR), "LineItems": array(INVOICE_LINE, True),
    "From": INVOICE_PARTY, "To": INVOICE_PARTY})

CUSTOM_VALUE = obj({
    "ItemId": INT64, "Id": UUID_S, "FieldName": _n(STR), "ValueAsString": _n(STR), "ValueAsDecimal": NUM,
    "ValueAsDateTime": _n(DT), "ValueAsBool": BOOL, "OptionId": {"type": ["string", "null"], "pattern": UUID}})
CUSTOM_FIELD = obj({
    "Name": _n(STR), "DataType": enum(*CUSTOM_FIELD_TYPES), "Target": enum(*CUSTOM_FIELD_TARGETS),
    "PossibleValues": array(obj({"Value": _n(STR), "Text": _n(STR), "ParentName": _n(STR)}), nullable=True),
    "ParentAttributeName": _n(STR)})

_TICKET_INTS = ("OnSiteDurationSeconds", "OnSiteDurationMinutes", "OffSiteDurationSeconds", "OffSiteDurationMinutes",
                "OnSLADurationSeconds", "OnSLADurationMinutes", "OffSLADurationSeconds", "OffSLADurationMinutes",
                "TotalDurationSeconds", "TotalDurationMinutes")
TICKET = obj({
    "TicketID": _n(INT64), "TicketTitle": _n(STR), "TicketNumber": _n(STR),
    "TicketPriority": enum("Low", "Medium", "High", "Critical"),
    "TicketImpact": enum("NoImpact", "SiteDown", "ServerIssue", "Minor", "Major", "Crisis"),
    "TicketStatus": _n(STR), "TicketSource": _n(STR), "TicketType": enum("Incident", "Problem", "Request", "Change"),
    "EndUserID": _n(INT64), "EndUserEmail": _n(STR), "EndUserFirstName": _n(STR), "EndUserLastName": _n(STR),
    "EndUserPhone": _n(STR), "TicketResolvedDate": _n(DT), "TicketCreatedDate": _n(DT),
    "TechnicianFirstCommentDate": _n(DT), "FirstResponseDueDate": _n(DT), "ClosedTicketDueDate": _n(DT),
    "FirstComment": _n(STR), "LastEndUserComment": _n(STR), "LastEndUserCommentTimestamp": _n(DT),
    "LastTechnicianComment": _n(STR), "LastTechnicianCommentTimestamp": _n(DT),
    **{name: _n(INT32) for name in _TICKET_INTS},
    "CustomerID": INT64, "CustomerName": _n(STR), "CustomerBusinessNumber": _n(STR),
    "TechnicianContactID": _n(INT64), "TechnicianFullName": _n(STR), "TechnicianEmail": _n(STR),
    "ContractID": _n(INT64), "RelationType": enum("None", "Parent", "Child"), "RelatedTicketId": _n(INT64)})

WORKHOUR = obj({
    "WorkHoursID": INT64, "TicketID": INT64, "CustomerID": INT64, "EndUserID": _n(INT64), "StartWorkHour": _n(DT),
    "EndWorkHour": _n(DT), "TechnicianContactID": _n(INT64), "Billiable": _n(BOOL), "OnCustomerSite": _n(BOOL),
    "Description": _n(STR), "TechnicianFullName": _n(STR), "TechnicianEmail": _n(STR), "RateID": _n(INT32),
    "RateAmount": _n(NUM)})

SCHEMAS: dict[str, dict[str, Any]] = {
    "Result": RESULT, "ProblemDetails": PROBLEM_DETAILS, "AccountInfoResponse": ACCOUNT,
    "CustomerDto": CUSTOMER, "CustomerDtoPagedResult": paged(CUSTOMER),
    "ContactDto": CONTACT, "ContactDtoPagedResult": paged(CONTACT),
    "RateDto": RATE, "RateDtoPagedResult": paged(RATE),
    "ContractDto": CONTRACT, "ContractDtoPagedResult": paged(CONTRACT),
    "InvoiceDto": INVOICE, "InvoiceDtoPagedResult": paged(INVOICE),
    "CustomValueDto[]": array(CUSTOM_VALUE), "CustomFieldDto[]": array(CUSTOM_FIELD),
    "TicketDto": TICKET, "TicketDtoPagedResult": paged(TICKET),
    "WorkhourRecordDto": WORKHOUR, "WorkhourRecordDtoPagedResult": paged(WORKHOUR),
}

# Every implemented operation: (method, path as in the OpenAPI document) -> {status: schema name or None (empty)}.
OPERATIONS: dict[tuple[str, str], dict[int, str | None]] = {
    ("GET", "/api/v3/account"): {200: "AccountInfoResponse"},
    ("GET", "/api/v3/customers"): {200: "CustomerDtoPagedResult", 400: "ProblemDetails"},
    ("POST", "/api/v3/customers"): {201: "Result", 400: "ProblemDetails"},
    ("GET", "/api/v3/customers/{customerId}"): {200: "CustomerDto", 404: "ProblemDetails"},
    ("PUT", "/api/v3/customers/{customerId}"): {200: "Result", 400: "ProblemDetails", 404: "ProblemDetails"},
    ("POST", "/api/v3/customers/{customerId}"): {200: "Result", 400: "ProblemDetails", 404: "ProblemDetails"},
    ("DELETE", "/api/v3/customers/{customerId}"): {204: None, 404: "ProblemDetails"},
    ("GET", "/api/v3/contacts"): {200: "ContactDtoPagedResult", 400: "ProblemDetails"},
    ("POST", "/api/v3/contacts"): {201: "Result", 400: "ProblemDetails", 409: "ProblemDetails"},
    ("GET", "/api/v3/contacts/{contactId}"): {200: "ContactDto", 404: "ProblemDetails"},
    ("PUT", "/api/v3/contacts/{contactId}"): {200: "Result", 400: "ProblemDetails", 404: "ProblemDetails"},
    ("POST", "/api/v3/contacts/{contactId}"): {200: "Result", 400: "ProblemDetails", 404: "ProblemDetails"},
    ("DELETE", "/api/v3/contacts/{contactId}"): {204: None, 404: "ProblemDetails"},
    ("GET", "/api/v3/contracts"): {200: "ContractDtoPagedResult"},
    ("POST", "/api/v3/contracts"): {201: "Result", 400: "ProblemDetails"},
    ("GET", "/api/v3/contracts/{contractId}"): {200: "ContractDto", 404: "ProblemDetails"},
    ("PUT", "/api/v3/contracts/{contractId}"): {204: None, 400: "ProblemDetails", 404: "ProblemDetails"},
    ("POST", "/api/v3/contracts/{contractId}"): {204: None, 400: "ProblemDetails", 404: "ProblemDetails"},
    ("GET", "/api/v3/contracts/customer/{customerId}"): {200: "ContractDtoPagedResult"},
    ("GET", "/api/v3/rates/products"): {200: "RateDtoPagedResult"},
    ("POST", "/api/v3/rates/products"): {201: "Result", 400: "ProblemDetails"},
    ("GET", "/api/v3/rates/products/{productId}"): {200: "RateDto", 404: "ProblemDetails"},
    ("PUT", "/api/v3/rates/products/{productId}"): {200: "Result", 400: "ProblemDetails", 404: "ProblemDetails"},
    ("DELETE", "/api/v3/rates/products/{productId}"): {204: None, 404: "ProblemDetails"},
    ("GET", "/api/v3/rates/expenses"): {200: "RateDtoPagedResult"},
    ("POST", "/api/v3/rates/expenses"): {201: "Result", 400: "ProblemDetails"},
    ("GET", "/api/v3/rates/expenses/{expenseId}"): {200: "RateDto", 404: "ProblemDetails"},
    ("PUT", "/api/v3/rates/expenses/{expenseId}"): {200: "Result", 400: "ProblemDetails", 404: "ProblemDetails"},
    ("DELETE", "/api/v3/rates/expenses/{expenseId}"): {204: None, 404: "ProblemDetails"},
    ("GET", "/api/v3/customvalues/customerfield/{customerId}/{fieldName}"): {200: "CustomValueDto[]",
                                                                            400: "ProblemDetails"},
    ("PUT", "/api/v3/customvalues/customerfield/{customerId}/{fieldName}"): {200: "Result", 400: "ProblemDetails"},
    ("POST", "/api/v3/customvalues/customerfield/{customerId}/{fieldName}"): {200: "Result", 400: "ProblemDetails"},
    ("GET", "/api/v3/customvalues/customerfields/{customerId}"): {200: "CustomValueDto[]", 400: "ProblemDetails"},
    ("GET", "/api/v3/customvalues/customfields"): {200: "CustomFieldDto[]"},
    ("GET", "/api/v3/billing/invoices"): {200: "InvoiceDtoPagedResult", 400: "ProblemDetails"},
    ("GET", "/api/v3/billing/invoice/{invoiceNumber}"): {200: "InvoiceDto", 404: "ProblemDetails"},
    ("GET", "/api/v3/tickets"): {200: "TicketDtoPagedResult", 400: "ProblemDetails"},
    ("GET", "/api/v3/tickets/lastmodified"): {200: "TicketDtoPagedResult", 400: "ProblemDetails"},
    ("GET", "/api/v3/tickets/{ticketId}"): {200: "TicketDto", 404: "ProblemDetails"},
    ("GET", "/api/v3/workhours"): {200: "WorkhourRecordDtoPagedResult", 400: "ProblemDetails"},
}


def validate(schema_name: str, instance: Any) -> None:
    """Raise ``jsonschema.ValidationError`` when ``instance`` does not fit the named schema."""
    import jsonschema  # a test-time dependency of the model, not of the running twin

    jsonschema.Draft202012Validator(SCHEMAS[schema_name]).validate(instance)


# -- request bodies ------------------------------------------------------------------------------------------------
# field -> kind: str, int32, int64, number, bool, datetime, or ("enum", values), ("int32[]")
REQUESTS: dict[str, dict[str, Any]] = {
    "CreateCustomerRequest": {
        "CustomerName": "str", "CreatedOn": "datetime", "BusinessNumber": "str", "Domain": "str", "Address": "str",
        "City": "str", "State": "str", "Country": "str", "Phone": "str", "Fax": "str", "Notes": "str",
        "Links": "str", "Longitude": "number", "Latitude": "number", "ZipCodeStr": "str"},
    "UpdateCustomerRequest": {
        "CustomerName": "str", "BusinessNumber": "str", "Domain": "str", "Address": "str", "City": "str",
        "State": "str", "Country": "str", "Phone": "str", "Fax": "str", "Notes": "str", "Links": "str",
        "Longitude": "number", "Latitude": "number", "ZipCodeStr": "str"},
    "CreateContactRequest": {
        "Email": "str", "CustomerID": "int64", "CustomerName": "str", "Firstname": "str", "Lastname": "str",
        "JobTitle": "str", "Phone": "str", "MobilePhone": "str", "IsContactPerson": "bool", "InIgnoreMode": "bool",
        "CreatedOn": "datetime", "DepartmentID": "int64", "DepartmentName": "str", "DefaultAgentId": "int64"},
    "UpdateContactRequest": {
        "Firstname": "str", "Lastname": "str", "JobTitle": "str", "Phone": "str", "MobilePhone": "str",
        "IsContactPerson": "bool", "InIgnoreMode": "bool", "Archived": "bool", "CustomerID": "int64",
        "CustomerName": "str", "DepartmentID": "int64", "DepartmentName": "str", "DefaultAgentId": "int64"},
    "CreateRateRequest": {"Description": "str", "Amount": "number!", "SKU": "str", "Category": "str"},
    "UpdateRateRequest": {"Description": "str", "Amount": "number", "SKU": "str", "Archived": "bool",
                          "Category": "str"},
    "SetCustomValueRequest": {"Value": "str"},
    "CreateContractDto": {
        "ContractName": "str", "SLAId": "int64!", "CustomerID": "int64!", "Default": "bool!",
        "StartDate": "datetime", "EndDate": "datetime", "Active": "bool!", "Taxable": "bool!", "TaxId": "int32",
        "ContractType": ("enum", CONTRACT_TYPES), "Notes": "str",
        "RetainerFlatFeeContract": "object", "HourlyContract": "object", "BlockHoursContract": "object",
        "BlockMoneyContract": "object", "RemoteMonitoringContract": "object", "OnlineBackupContract": "object",
        "ProjectOneTimeFeeContract": "object", "ProjectHourlyRateContract": "object"},
    "UpdateContractDto": {
        "ContractName": "str", "Default": "bool", "StartDate": "datetime", "EndDate": "datetime", "Active": "bool",
        "Taxable": "bool", "TaxId": "int32", "Notes": "str",
        "RetainerFlatFeeContract": "object", "HourlyContract": "object", "BlockHoursContract": "object",
        "BlockMoneyContract": "object", "RemoteMonitoringContract": "object", "OnlineBackupContract": "object"},
    # typed contract sub-objects of create requests
    "CreateRetainerFlatFeeContractDto": {"RateID": "int32!", "Quantity": "number",
                                         "BillingPeriod": ("enum", BILLING_PERIODS)},
    "CreateHourlyContractDto": {"HourlyRateID": "int32!", "AdditionalRateIDs": "int32[]",
                                "BillingPeriod": ("enum", BILLING_PERIODS)},
    "CreateBlockHoursContractDto": {"BillingPeriod": ("enum", BILLING_PERIODS), "HoursIncluded": "number",
                                    "CommitRollover": "bool!", "HourlyRateID": "int32!", "OverageRateID": "int32"},
    "CreateBlockMoneyContractDto": {"ContractAmountRateID": "int32!", "BillingPeriod": ("enum", BILLING_PERIODS),
                                    "CommitRollover": "bool!", "HourlyRateID": "int32!", "OverageRateID": "int32"},
    "CreateRemoteMonitoringContractDto": {"CountBy": ("enum", COUNT_BY), "BillingPeriod": ("enum", BILLING_PERIODS),
                                          "PerDeviceRateID": "int32!"},
    "CreateOnlineBackupContractDto": {"CountBy": ("enum", COUNT_BY), "BillingPeriod": ("enum", BILLING_PERIODS),
                                      "PerGBRateID": "int32!"},
    "CreateProjectOneTimeFeeContractDto": {"TotalAmountRateId": "int32!"},
    "CreateProjectHourlyRateContractDto": {"TotalAmountRateId": "int32!", "AdditionalRateIDs": "int32[]"},
    "UpdateContractSubDto": {"Quantity": "number", "BillingPeriod": ("enum", BILLING_PERIODS),
                             "HoursIncluded": "number", "CommitRollover": "bool", "CountBy": ("enum", COUNT_BY)},
}

_NET_TYPES = {"str": "System.String", "int32": "System.Int32", "int64": "System.Int64", "number": "System.Double",
              "bool": "System.Boolean", "datetime": "System.DateTime", "object": "an object",
              "int32[]": "System.Int32[]"}
_DT_VALUE = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?(Z|[+-]\d{2}:\d{2})?)?$")


def _conforms(kind: str, value: Any) -> bool:
    if kind == "str":
        return isinstance(value, str)
    if kind in ("int32", "int64"):
        lo, hi = (INT32_MIN, INT32_MAX) if kind == "int32" else (INT64_MIN, INT64_MAX)
        return isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi
    if kind == "number":
        return isinstance(value, (int, Decimal, float)) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "datetime":
        return isinstance(value, str) and bool(_DT_VALUE.match(value))
    if kind == "object":
        return isinstance(value, dict)
    if kind == "int32[]":
        return isinstance(value, list) and all(_conforms("int32", v) for v in value)
    raise AssertionError(kind)


def read_body(request_name: str, body: Any, path: str = "$") -> dict[str, Any]:
    """The known fields of a request body, type-checked the way ASP.NET binds them (unknown fields dropped).

    Field names bind case-insensitively, as System.Text.Json does in ASP.NET's web defaults. Fields marked ``!``
    are non-nullable value types: ``null`` is refused, absence gives the type's default (not added here).
    """
    if body is None:
        raise ValidationFailed({"": ["A non-empty request body is required."]})
    if not isinstance(body, dict):
        raise ValidationFailed({path: [f"The JSON value could not be converted to {request_name}. Path: {path}"]})
    spec = REQUESTS[request_name]
    by_lower = {name.lower(): name for name in spec}
    out: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for key, value in body.items():
        name = by_lower.get(key.lower())
        if name is None:
            continue
        kind = spec[name]
        field_path = f"{path}.{name}"
        if isinstance(kind, tuple):
            if value is None or value in kind[1]:
                out[name] = value
            else:
                errors[field_path] = [f"The JSON value could not be converted to {name}Options. Path: {field_path}"]
            continue
        required_value = kind.endswith("!")
        kind = kind.rstrip("!")
        if value is None:
            if required_value:
                errors[field_path] = [f"The JSON value could not be converted to {_NET_TYPES[kind]}. "
                                      f"Path: {field_path}"]
            else:
                out[name] = None
            continue
        if not _conforms(kind, value):
            errors[field_path] = [f"The JSON value could not be converted to {_NET_TYPES[kind]}. Path: {field_path}"]
            continue
        out[name] = Decimal(str(value)) if kind == "number" and not isinstance(value, Decimal) else value
    if errors:
        raise ValidationFailed(errors)
    return out
