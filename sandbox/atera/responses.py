"""The HTTP layer of the Atera twin: thin handlers that read parameters, call the account's models and render.

``request.context["account"]`` is the caller's account (set by ``AteraTwin.admit`` from the API key).
Paths are matched case-insensitively, as ASP.NET does.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import unquote

from sandbox.core.http import Request, Response, Router

from .models import AteraAccount
from .paging import envelope

API = "/api/v3"


def _account(request: Request) -> AteraAccount:
    account: AteraAccount = request.context["account"]
    return account


def created(new_id: Any) -> Response:
    response = Response.json({"ActionID": str(new_id)}, 201)
    response.wrote = True
    return response


def ok_result(entity_id: Any) -> Response:
    response = Response.json({"ActionID": str(entity_id)}, 200)
    response.wrote = True
    return response


def no_content() -> Response:
    response = Response.empty(204)
    response.wrote = True
    return response


def _flag(request: Request, name: str) -> bool:
    return (request.arg(name) or "").strip().lower() == "true"


def register(router: Router) -> None:
    """Every route of the API, in this order (the first matching route wins)."""
    _register_account(router)
    # customers and contacts: the same CRUD shape
    _register_crud(router, "customers", "customers", "CustomerID", ("FromLastModifiedDate", "SortBy"))
    _register_crud(router, "contacts", "contacts", "EndUserID", ("Email", "Phone", "FromLastModifiedDate", "SortBy"))
    _register_contracts(router)
    # rates: products and expenses (no LastModified; update is PUT only in the document)
    for segment in ("products", "expenses"):
        _register_crud(router, f"rates/{segment}", segment, "RateID", stamped=False, update_methods="PUT")
    _register_custom_values(router)
    _register_billing(router)
    _register_tickets(router)


def _register_account(router: Router) -> None:
    @router.route("GET", f"{API}/account")
    def account_info(request: Request) -> Response:
        return Response.json(_account(request).info())


def _register_contracts(router: Router) -> None:
    route = router.route

    @route("GET", f"{API}/contracts")
    def list_contracts(request: Request) -> Response:
        model = _account(request).contracts
        return Response.json(envelope(model.list(), request, model.render))

    @route("POST", f"{API}/contracts")
    def create_contract(request: Request) -> Response:
        return created(_account(request).contracts.create(request.json())["ContractID"])

    @route("GET", f"{API}/contracts/customer/{{customer_id:int}}")
    def list_customer_contracts(request: Request, customer_id: int) -> Response:
        model = _account(request).contracts
        return Response.json(envelope(model.of_customer(customer_id), request, model.render))

    @route("GET", f"{API}/contracts/{{contract_id:int}}")
    def read_contract(request: Request, contract_id: int) -> Response:
        model = _account(request).contracts
        return Response.json(model.render(model.get(contract_id)))

    @route("PUT|POST", f"{API}/contracts/{{contract_id:int}}")
    def update_contract(request: Request, contract_id: int) -> Response:
        _account(request).contracts.update(contract_id, request.json())
        return no_content()


def _register_custom_values(router: Router) -> None:
    route = router.route

    @route("GET", f"{API}/customvalues/customfields")
    def custom_fields(request: Request) -> Response:
        return Response.json(_account(request).custom.definitions())

    @route("GET", f"{API}/customvalues/customerfields/{{customer_id:int}}")
    def customer_fields(request: Request, customer_id: int) -> Response:
        return Response.json(_account(request).custom.customer_values(customer_id))

    @route("GET", f"{API}/customvalues/customerfield/{{customer_id:int}}/{{field_name}}")
    def customer_field(request: Request, customer_id: int, field_name: str) -> Response:
        return Response.json(_account(request).custom.customer_value(customer_id, unquote(field_name)))

    @route("PUT|POST", f"{API}/customvalues/customerfield/{{customer_id:int}}/{{field_name}}")
    def set_customer_field(request: Request, customer_id: int, field_name: str) -> Response:
        _account(request).custom.set_customer_value(customer_id, unquote(field_name), request.json())
        return ok_result(customer_id)


def _register_billing(router: Router) -> None:
    route = router.route

    @route("GET", f"{API}/billing/invoices")
    def list_invoices(request: Request) -> Response:
        items = _account(request).invoices.list(request.arg("invoiceDateFrom"), request.arg("invoiceDateTo"))
        return Response.json(envelope(items, request))

    @route("GET", f"{API}/billing/invoice/{{number:int}}")
    def read_invoice(request: Request, number: int) -> Response:
        return Response.json(_account(request).invoices.get(number))

    @route("GET", f"{API}/billing/invoices/{{number:int}}")
    def read_invoice_plural(request: Request, number: int) -> Response:
        return Response.json(_account(request).invoices.get(number))


def _register_tickets(router: Router) -> None:
    """Tickets and work hours."""
    route = router.route

    @route("GET", f"{API}/tickets")
    def list_tickets(request: Request) -> Response:
        model = _account(request).tickets
        items = model.list(request.arg("customerId"), request.arg("ticketStatus"))
        return Response.json(envelope(items, request, model.render))

    @route("GET", f"{API}/tickets/lastmodified")
    def tickets_modified(request: Request) -> Response:
        model = _account(request).tickets
        return Response.json(envelope(model.modified_since(request.arg("date")), request, model.render))

    @route("GET", f"{API}/tickets/{{ticket_id:int}}")
    def read_ticket(request: Request, ticket_id: int) -> Response:
        model = _account(request).tickets
        return Response.json(model.render(model.get(ticket_id)))

    @route("GET", f"{API}/workhours")
    def list_workhours(request: Request) -> Response:
        model = _account(request).tickets
        include = _flag(request, "includeRates")
        items = model.workhours(request.arg("startWorkhour"), request.arg("endWorkhour"))
        return Response.json(envelope(items, request, lambda r: model.render_workhour(r, include)))


def _register_crud(router: Router, path: str, attr: str, id_field: str, list_params: tuple[str, ...] = (), *,
                   stamped: bool = True, update_methods: str = "PUT|POST") -> None:
    """List (paged, with the given query parameters), create (201 ActionID), read, update and delete (204) for one
    entity. ``stamped`` models take ``account.now()`` on writes (they keep LastModified); rates do not."""
    base = f"{API}/{path}"

    def model(request: Request) -> Any:  # Customers, Contacts or Rates: the same CRUD methods
        return getattr(_account(request), attr)

    def now(request: Request) -> tuple[datetime, ...]:
        return (_account(request).now(),) if stamped else ()

    def list_all(request: Request) -> Response:
        items = model(request).list(*(request.arg(name) for name in list_params))
        return Response.json(envelope(items, request, model(request).render))

    def create(request: Request) -> Response:
        return created(model(request).create(request.json(), *now(request))[id_field])

    def read(request: Request, entity_id: int) -> Response:
        return Response.json(model(request).render(model(request).get(entity_id)))

    def update(request: Request, entity_id: int) -> Response:
        model(request).update(entity_id, request.json(), *now(request))
        return ok_result(entity_id)

    def delete(request: Request, entity_id: int) -> Response:
        model(request).delete(entity_id)
        return no_content()

    router.add("GET", base, list_all)
    router.add("POST", base, create)
    router.add("GET", f"{base}/{{entity_id:int}}", read)
    router.add(update_methods, f"{base}/{{entity_id:int}}", update)
    router.add("DELETE", f"{base}/{{entity_id:int}}", delete)
