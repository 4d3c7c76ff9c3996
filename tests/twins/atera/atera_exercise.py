"""One walk through every implemented operation of the Atera twin, with every status the schema model lists for it.

Used by ``test_atera_schema.py`` (validates against the twin's schema model) and by ``check_openapi.py`` (validates
the same real responses against Atera's own OpenAPI document, by hand, outside the test suite).

``exercise(base_url)`` expects a freshly seeded ``demo`` twin and answers ``[(method, template, status, body)]``
where ``body`` is the parsed JSON (or None for an empty body).
"""
from __future__ import annotations

import json
from typing import Any

import requests

KEY = "twin-atera-key"
A = "/api/v3"

# (method, template, concrete path, JSON body or None, expected status)
CALLS: list[tuple[str, str, str, Any, int]] = [
    ("GET", "/account", "/account", None, 200),
    ("GET", "/customers", "/customers?itemsInPage=5", None, 200),
    ("GET", "/customers", "/customers?SortBy=Nope", None, 400),
    ("POST", "/customers", "/customers", {"CustomerName": "Walk Co", "ZipCodeStr": "02108"}, 201),
    ("POST", "/customers", "/customers", {"City": "no name"}, 400),
    ("GET", "/customers/{customerId}", "/customers/27", None, 200),
    ("GET", "/customers/{customerId}", "/customers/9999", None, 404),
    ("PUT", "/customers/{customerId}", "/customers/27", {"Phone": "555-0100"}, 200),
    ("PUT", "/customers/{customerId}", "/customers/27", {"CustomerName": ""}, 400),
    ("PUT", "/customers/{customerId}", "/customers/9999", {"Phone": "1"}, 404),
    ("POST", "/customers/{customerId}", "/customers/27", {"Notes": "hello"}, 200),
    ("POST", "/customers/{customerId}", "/customers/27", {"Latitude": "far"}, 400),
    ("POST", "/customers/{customerId}", "/customers/9999", {"Notes": "x"}, 404),
    ("GET", "/contacts", "/contacts?itemsInPage=5", None, 200),
    ("GET", "/contacts", "/contacts?FromLastModifiedDate=soon", None, 400),
    ("POST", "/contacts", "/contacts", {"Email": "walker@walkco.example.com", "CustomerID": 27}, 201),
    ("POST", "/contacts", "/contacts", {"CustomerID": 27}, 400),
    ("POST", "/contacts", "/contacts", {"Email": "walker@walkco.example.com", "CustomerID": 27}, 409),
    ("GET", "/contacts/{contactId}", "/contacts/1", None, 200),
    ("GET", "/contacts/{contactId}", "/contacts/9999", None, 404),
    ("PUT", "/contacts/{contactId}", "/contacts/1", {"JobTitle": "Owner"}, 200),
    ("PUT", "/contacts/{contactId}", "/contacts/1", {"CustomerID": 9999}, 400),
    ("PUT", "/contacts/{contactId}", "/contacts/9999", {"JobTitle": "x"}, 404),
    ("POST", "/contacts/{contactId}", "/contacts/1", {"Phone": "555"}, 200),
    ("POST", "/contacts/{contactId}", "/contacts/1", {"IsContactPerson": "yes"}, 400),
    ("POST", "/contacts/{contactId}", "/contacts/9999", {"Phone": "555"}, 404),
    ("GET", "/contracts", "/contracts?itemsInPage=50", None, 200),
    ("POST", "/contracts", "/contracts", {"ContractName": "Walk Hourly", "CustomerID": 27, "ContractType": "Hourly",
                                          "HourlyContract": {"HourlyRateID": 1}}, 201),
    ("POST", "/contracts", "/contracts", {"ContractName": "Bad", "CustomerID": 27, "ContractType": "Hourly"}, 400),
    ("GET", "/contracts/{contractId}", "/contracts/1", None, 200),
    ("GET", "/contracts/{contractId}", "/contracts/9999", None, 404),
    ("PUT", "/contracts/{contractId}", "/contracts/1", {"Active": True}, 204),
    ("PUT", "/contracts/{contractId}", "/contracts/1", {"OnlineBackupContract": {"CountBy": "All"}}, 400),
    ("PUT", "/contracts/{contractId}", "/contracts/9999", {"Active": True}, 404),
    ("POST", "/contracts/{contractId}", "/contracts/2", {"Notes": "n"}, 204),
    ("POST", "/contracts/{contractId}", "/contracts/2", {"ContractName": ""}, 400),
    ("POST", "/contracts/{contractId}", "/contracts/9999", {"Notes": "n"}, 404),
    ("GET", "/contracts/customer/{customerId}", "/contracts/customer/1", None, 200),
    ("GET", "/rates/products", "/rates/products?itemsInPage=50", None, 200),
    ("POST", "/rates/products", "/rates/products", {"Description": "Walk Widget", "Amount": 3.5}, 201),
    ("POST", "/rates/products", "/rates/products", {"Amount": 3.5}, 400),
    ("GET", "/rates/products/{productId}", "/rates/products/1", None, 200),
    ("GET", "/rates/products/{productId}", "/rates/products/9999", None, 404),
    ("PUT", "/rates/products/{productId}", "/rates/products/37", {"Archived": True}, 200),
    ("PUT", "/rates/products/{productId}", "/rates/products/37", {"Amount": "free"}, 400),
    ("PUT", "/rates/products/{productId}", "/rates/products/9999", {"Amount": 1}, 404),
    ("DELETE", "/rates/products/{productId}", "/rates/products/37", None, 204),
    ("DELETE", "/rates/products/{productId}", "/rates/products/37", None, 404),
    ("GET", "/rates/expenses", "/rates/expenses", None, 200),
    ("POST", "/rates/expenses", "/rates/expenses", {"Description": "Walk Fee", "Amount": 9}, 201),
    ("POST", "/rates/expenses", "/rates/expenses", {"Description": ""}, 400),
    ("GET", "/rates/expenses/{expenseId}", "/rates/expenses/1", None, 200),
    ("GET", "/rates/expenses/{expenseId}", "/rates/expenses/9999", None, 404),
    ("PUT", "/rates/expenses/{expenseId}", "/rates/expenses/9", {"SKU": "WF"}, 200),
    ("PUT", "/rates/expenses/{expenseId}", "/rates/expenses/9", {"Archived": "no"}, 400),
    ("PUT", "/rates/expenses/{expenseId}", "/rates/expenses/9999", {"SKU": "x"}, 404),
    ("DELETE", "/rates/expenses/{expenseId}", "/rates/expenses/9", None, 204),
    ("DELETE", "/rates/expenses/{expenseId}", "/rates/expenses/9", None, 404),
    ("GET", "/customvalues/customfields", "/customvalues/customfields", None, 200),
    ("PUT", "/customvalues/customerfield/{customerId}/{fieldName}", "/customvalues/customerfield/27/QuickBooks%20ID",
     {"Value": "QB-1"}, 200),
    ("PUT", "/customvalues/customerfield/{customerId}/{fieldName}", "/customvalues/customerfield/27/Nope",
     {"Value": "QB-1"}, 400),
    ("POST", "/customvalues/customerfield/{customerId}/{fieldName}", "/customvalues/customerfield/27/Seats",
     {"Value": "4"}, 200),
    ("POST", "/customvalues/customerfield/{customerId}/{fieldName}", "/customvalues/customerfield/27/Seats",
     {"Value": "four"}, 400),
    ("GET", "/customvalues/customerfield/{customerId}/{fieldName}", "/customvalues/customerfield/27/QuickBooks%20ID",
     None, 200),
    ("GET", "/customvalues/customerfield/{customerId}/{fieldName}", "/customvalues/customerfield/9999/Seats",
     None, 400),
    ("GET", "/customvalues/customerfields/{customerId}", "/customvalues/customerfields/27", None, 200),
    ("GET", "/customvalues/customerfields/{customerId}", "/customvalues/customerfields/9999", None, 400),
    ("GET", "/billing/invoices", "/billing/invoices?invoiceDateFrom=2026-08-01&invoiceDateTo=2026-10-31"
     "&itemsInPage=50&page=2", None, 200),
    ("GET", "/billing/invoices", "/billing/invoices?invoiceDateFrom=01/08/2026", None, 400),
    ("GET", "/billing/invoice/{invoiceNumber}", "/billing/invoice/1001", None, 200),
    ("GET", "/billing/invoice/{invoiceNumber}", "/billing/invoice/99", None, 404),
    ("GET", "/tickets", "/tickets?itemsInPage=10", None, 200),
    ("GET", "/tickets", "/tickets?customerId=x", None, 400),
    ("GET", "/tickets/lastmodified", "/tickets/lastmodified?date=2026-10-01", None, 200),
    ("GET", "/tickets/lastmodified", "/tickets/lastmodified?date=tomorrow", None, 400),
    ("GET", "/tickets/{ticketId}", "/tickets/1", None, 200),
    ("GET", "/tickets/{ticketId}", "/tickets/99999", None, 404),
    ("GET", "/workhours", "/workhours?includeRates=true&itemsInPage=10", None, 200),
    ("GET", "/workhours", "/workhours?startWorkhour=whenever", None, 400),
    ("DELETE", "/contacts/{contactId}", "/contacts/2", None, 204),
    ("DELETE", "/contacts/{contactId}", "/contacts/2", None, 404),
    ("DELETE", "/customers/{customerId}", "/customers/27", None, 204),
    ("DELETE", "/customers/{customerId}", "/customers/27", None, 404),
]


def exercise(base_url: str, key: str = KEY) -> list[tuple[str, str, int, Any]]:
    session = requests.Session()
    session.headers["X-API-KEY"] = key
    out = []
    for method, template, path, body, expected in CALLS:
        response = session.request(method, base_url + A + path, json=body, timeout=10)
        if response.status_code != expected:
            raise AssertionError(f"{method} {path}: expected {expected}, got {response.status_code} "
                                 f"{response.text[:300]}")
        parsed = json.loads(response.content) if response.content else None
        out.append((method, A + template, response.status_code, parsed))
    return out
