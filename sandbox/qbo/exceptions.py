"""QBO's errors, one class per Intuit error code (moto style: the state model raises these, the HTTP layer renders).

    QboError(code, message, detail, element)            → 400 {"Fault":{"Error":[...],"type":"ValidationFault"}}
    ├── UnsupportedOperation      500   e.g. delete on a list
    │   └── UnsupportedMediaType  500   (HTTP 415) a body the endpoint cannot consume
    ├── ObjectNotFound            610   an inactive or missing object is referenced / read
    ├── RequiredParamMissing      2020
    ├── InvalidRequest            2010  malformed body, unsupported property
    ├── InvalidReference          2500  a reference to something that does not exist
    ├── QueryParserError          4000  "Error parsing query"
    ├── QueryValidationError      4001  "Invalid query": unknown entity/property, operator, MAXRESULTS > 1000
    ├── StaleObject               5010  SyncToken out of date
    ├── BusinessValidation        6000  the cause is in Detail
    ├── DuplicateDocNumber        6140
    ├── DuplicateName             6240
    ├── MissingInventoryQuantity  6520
    ├── ThrottleExceeded          3001  429   (rendered by responses.throttle_response, JSON or XML)
    ├── GatewayAuthenticationFailed 3200 401  (rendered by responses.gateway_fault: lower-case body)
    └── GatewayAuthorizationFailed  3100 403  (idem)

OAuth errors (token endpoint) are ``OAuthError(status, error)`` and render as ``{"error": ...}``.

Messages are Intuit's where a public source shows them (see ../shared/reference/qbo-api.md §4).
"""
from __future__ import annotations


class QboError(Exception):
    code = "6000"
    status = 400
    fault_type = "ValidationFault"
    message = "A business validation error has occurred while processing your request"

    def __init__(self, detail: str = "", element: str = "", message: str | None = None) -> None:
        super().__init__(detail or self.message)
        self.detail = detail
        self.element = element
        if message is not None:
            self.message = message

    def error_doc(self) -> dict[str, str]:
        return {"Message": self.message, "Detail": self.detail, "code": self.code, "element": self.element}


class UnsupportedOperation(QboError):
    """E.g. ``operation=delete`` on a name list (lists are only made inactive)."""
    code = "500"
    message = "Unsupported Operation"


class UnsupportedMediaType(UnsupportedOperation):
    """A body in a content type the endpoint does not consume (gomodule/oauth1#25 shows the Fault; HTTP 415 assumed)."""
    status = 415

    def __init__(self) -> None:
        super().__init__("Operation Cannot consume content type is not supported.")


class ObjectNotFound(QboError):
    code = "610"
    message = "Object Not Found"

    def __init__(self, detail: str = "", element: str = "") -> None:
        super().__init__(detail or ("Object Not Found : Something you're trying to use has been made inactive. "
                                    "Check the fields with accounts, customers, items, vendors or employees."),
                         element)


class InvalidRequest(QboError):
    code = "2010"
    message = "Request has invalid or unsupported property"


class RequiredParamMissing(QboError):
    code = "2020"
    message = "Required param missing, need to supply the required value for the API"


class InvalidReference(QboError):
    code = "2500"
    message = "Invalid Reference Id"


class QueryParserError(QboError):
    code = "4000"
    message = "Error parsing query"

    def __init__(self, detail: str) -> None:
        super().__init__(f"QueryParserError: {detail}")


class QueryValidationError(QboError):
    """A well-formed query that names an unknown entity or property, or uses an unsupported operator."""
    code = "4001"
    message = "Invalid query"


class StaleObject(QboError):
    code = "5010"
    message = "Stale Object Error"

    def __init__(self, entity: str, object_id: str, supplied: str, current: str) -> None:
        super().__init__(
            f"Stale Object Error : You and another user were working on the same thing. Please refresh your "
            f"{entity} and try again. (Id={object_id}, supplied SyncToken={supplied}, current SyncToken={current})")


class BusinessValidation(QboError):
    code = "6000"
    message = "A business validation error has occurred while processing your request"


class DuplicateDocNumber(QboError):
    code = "6140"
    message = "Duplicate Document Number Error"

    def __init__(self, doc_number: str, txn_type: str = "Invoice") -> None:
        super().__init__(f"Duplicate Document Number Error : You must specify a different number. "
                         f"This number has already been used. DocNumber={doc_number} is assigned to TxnType={txn_type}")


class MissingInventoryQuantity(QboError):
    """A sales line for an Inventory item without Qty (n8n-io/n8n#12956 shows the Fault)."""
    code = "6520"
    message = "Missing Inventory Item Quantity"

    def __init__(self) -> None:
        super().__init__("Quantity required for inventory item", "Line.SalesItemLineDetail.Qty")


class DuplicateName(QboError):
    code = "6240"
    message = "Duplicate Name Exists Error"
    CUSTOMER_DETAIL = ("The name supplied already exists. : Another customer, vendor or employee is already using "
                       "this name. Please use a different name.")
    ITEM_DETAIL = "The name supplied already exists. : Another product or service is already using this name. " \
                  "Please use a different name."


class ThrottleExceeded(QboError):
    code = "3001"
    status = 429
    fault_type = "SERVICE"
    message = "message=ThrottleExceeded; errorCode=003001; statusCode=429"

    def __init__(self) -> None:
        super().__init__("The request limit was reached.")


class GatewayAuthenticationFailed(QboError):
    """401 from Intuit's gateway: lower-case keys, not the Fault document."""
    code = "3200"
    status = 401
    message = "message=AuthenticationFailed; errorCode=003200; statusCode=401"


class GatewayAuthorizationFailed(QboError):
    """403 from Intuit's gateway (e.g. a token for another company)."""
    code = "3100"
    status = 403
    message = "message=AuthorizationFailed; errorCode=003100; statusCode=403"


class OAuthError(Exception):
    """An answer of the token/revoke endpoints: ``{"error": error}`` with ``status``."""

    def __init__(self, status: int, error: str, description: str | None = None) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.description = description
