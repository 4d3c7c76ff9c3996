"""Contract: python-quickbooks and intuit-oauth, unmodified, against the twin (only the URLs change)."""
from __future__ import annotations

import os
import warnings

import pytest

os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")

intuitlib = pytest.importorskip("intuitlib.client")
quickbooks = pytest.importorskip("quickbooks")

from intuitlib.client import AuthClient  # noqa: E402
from intuitlib.exceptions import AuthClientError  # noqa: E402
from quickbooks import QuickBooks  # noqa: E402
from quickbooks.batch import batch_create, batch_delete  # noqa: E402
from quickbooks.exceptions import AuthorizationException, QuickbooksException, ValidationException  # noqa: E402
from quickbooks.objects.account import Account  # noqa: E402
from quickbooks.objects.base import Ref  # noqa: E402
from quickbooks.objects.customer import Customer  # noqa: E402
from quickbooks.objects.detailline import SalesItemLine, SalesItemLineDetail  # noqa: E402
from quickbooks.objects.invoice import Invoice  # noqa: E402
from quickbooks.objects.item import Item  # noqa: E402
from quickbooks.objects.taxcode import TaxCode  # noqa: E402


@pytest.fixture
def qb(api):
    auth = AuthClient(client_id="twin-client-id", client_secret="twin-client-secret",
                      redirect_uri="http://127.0.0.1/callback",
                      environment=f"{api.url}/.well-known/openid_configuration")
    first = api.mint_refresh_token()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        client = QuickBooks(auth_client=auth, refresh_token=first, company_id=api.realm, minorversion=75)
    client.api_url_v3 = f"{api.url}/v3"
    client.first_refresh_token = first
    return client


def _ref(value: str) -> Ref:
    ref = Ref()
    ref.value = value
    return ref


def _invoice(customer_id: str, item_id: str, qty: int, price: str) -> Invoice:
    from decimal import Decimal
    invoice = Invoice()
    invoice.CustomerRef = _ref(customer_id)
    line = SalesItemLine()
    line.Amount = Decimal(price) * qty
    line.SalesItemLineDetail = SalesItemLineDetail()
    line.SalesItemLineDetail.ItemRef = _ref(item_id)
    line.SalesItemLineDetail.Qty = qty
    line.SalesItemLineDetail.UnitPrice = Decimal(price)
    line.SalesItemLineDetail.TaxCodeRef = _ref("NON")
    invoice.Line.append(line)
    return invoice


def test_intuit_oauth_refresh_rotation_and_errors(api, qb):
    auth = qb.auth_client
    assert auth.access_token and auth.refresh_token != qb.first_refresh_token
    assert auth.expires_in == 3600 and auth.x_refresh_token_expires_in == 8726400
    with pytest.raises(AuthClientError) as exc:
        auth.refresh(refresh_token=qb.first_refresh_token)
    assert exc.value.status_code == 400 and b"invalid_grant" in exc.value.content
    previous = auth.refresh_token
    auth.refresh()
    assert auth.refresh_token != previous
    bad = AuthClient("twin-client-id", "wrong-secret", "http://127.0.0.1/cb",
                     f"{api.url}/.well-known/openid_configuration")
    with pytest.raises(AuthClientError) as exc:
        bad.refresh(refresh_token=auth.refresh_token)
    assert exc.value.status_code == 401
    assert auth.revoke(token=auth.refresh_token) is True
    with pytest.raises(AuthClientError):
        auth.refresh()


def test_read_query_count(qb):
    customer = Customer.get(1, qb=qb)
    assert customer.DisplayName == "Contoso Ltd"
    customers = Customer.all(qb=qb, max_results=1000)
    assert len(customers) == 29
    found = Customer.filter(DisplayName="O'Brien & Sons Plumbing", qb=qb)
    assert [c.Id for c in found] == ["3"]
    assert Customer.count(qb=qb) == 29
    assert Customer.count("Active = False", qb=qb) == 1
    items = Item.all(qb=qb, max_results=10)  # sends "SELECT *, Sku FROM Item"
    assert len(items) == 10
    assert {a.Name for a in Account.where("AccountType = 'Income'", qb=qb)} >= {"Services",
                                                                                "Sales of Product Income"}
    assert {t.Name for t in TaxCode.all(qb=qb)} == {"TAX", "NON"}
    assert [c.Id for c in Customer.choose(["1", "2"], qb=qb)] == ["1", "2"]


def test_create_update_customer_and_duplicate(qb):
    customer = Customer()
    customer.DisplayName = "Contract Test Co"
    saved = customer.save(qb=qb)
    assert saved.Id and saved.SyncToken == "0"
    saved.Notes = "updated through python-quickbooks"
    updated = saved.save(qb=qb)
    assert updated.SyncToken == "1"
    dup = Customer()
    dup.DisplayName = "contract test co "
    with pytest.raises(QuickbooksException) as exc:
        dup.save(qb=qb)
    assert exc.value.error_code == 6240
    stale = Customer.get(int(saved.Id), qb=qb)
    stale.SyncToken = "0"
    stale.Notes = "stale"
    with pytest.raises(QuickbooksException) as exc:
        stale.save(qb=qb)
    assert exc.value.error_code == 5010


def test_create_item_and_invoice_then_delete(qb):
    item = Item()
    item.Name = "Contract Item"
    item.Type = "Service"
    item.IncomeAccountRef = _ref("1")
    item.UnitPrice = 99
    saved_item = item.save(qb=qb)
    invoice = _invoice("1", saved_item.Id, 2, "99.00").save(qb=qb, request_id="contract-inv-1")
    assert float(invoice.TotalAmt) == 198.0
    same = _invoice("1", saved_item.Id, 2, "99.00").save(qb=qb, request_id="contract-inv-1")
    assert same.Id == invoice.Id  # idempotent replay
    fetched = Invoice.get(int(invoice.Id), qb=qb)
    assert fetched.CustomerRef.value == "1"
    assert Invoice.count(qb=qb) == 1
    fetched.delete(qb=qb)
    assert Invoice.count(qb=qb) == 0


def test_invoice_errors_map_to_client_exceptions(qb):
    with pytest.raises(ValidationException) as exc:
        _invoice("999", "1", 1, "125.00").save(qb=qb)
    assert exc.value.error_code == 2500
    from quickbooks.exceptions import ObjectNotFoundException
    with pytest.raises(ObjectNotFoundException):
        _invoice("28", "1", 1, "125.00").save(qb=qb)  # inactive customer → 610
    bad = _invoice("1", "1", 2, "125.00")
    bad.Line[0].Amount = 1
    with pytest.raises(QuickbooksException) as exc:
        bad.save(qb=qb)
    assert exc.value.error_code == 6000
    with pytest.raises(ValidationException) as exc:
        Customer.where("DisplayName = 'O'Brien'", qb=qb)
    assert exc.value.error_code == 4000


def test_void_invoice(qb):
    invoice = _invoice("2", "1", 1, "125.00").save(qb=qb)
    fetched = Invoice.get(int(invoice.Id), qb=qb)
    fetched.void(qb=qb)
    assert float(Invoice.get(int(invoice.Id), qb=qb).TotalAmt) == 0


def test_batch_create_and_delete(qb):
    invoices = [_invoice(str(c), "1", 1, "125.00") for c in range(1, 36)]  # 35 → two batches of 30 and 5
    invoices[3] = _invoice("28", "1", 1, "125.00")  # inactive customer: one fault
    result = batch_create(invoices, qb=qb)
    assert len(result.successes) + len(result.faults) == 35
    codes = sorted(int(f.Error[0].code) for f in result.faults)
    assert 610 in codes
    created = result.successes
    deleted = batch_delete(created[:5], qb=qb)
    assert len(deleted.successes) == 5 and not deleted.faults


def test_change_data_capture(qb):
    import datetime as dt

    from quickbooks.cdc import change_data_capture
    _invoice("1", "1", 1, "125.00").save(qb=qb)
    since = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    result = change_data_capture([Invoice], since.strftime("%Y-%m-%dT%H:%M:%S+00:00"), qb=qb)
    assert len(result.Invoice) == 1


def test_expired_token_raises_authorization_exception(api, qb):
    api.control.expire_access_tokens()
    with pytest.raises(AuthorizationException):
        Customer.get(1, qb=qb)


def test_throttle_xml_body_is_an_unreadable_json_error_as_in_the_wild(api, qb):
    api.control.set_limits(per_minute=1)
    api.control.set_faults(xml_429=True)
    Customer.get(1, qb=qb)
    with pytest.raises(QuickbooksException) as exc:
        Customer.get(1, qb=qb)
    assert exc.value.error_code == 10000


def test_intuit_oauth_authorization_code_flow(api):
    from urllib.parse import parse_qs, urlsplit

    from intuitlib.enums import Scopes

    from sandbox.control import QboControl
    auth = AuthClient("twin-client-id", "twin-client-secret", "http://127.0.0.1/callback",
                      f"{api.url}/.well-known/openid_configuration")
    url = auth.get_authorization_url([Scopes.ACCOUNTING])
    redirect = QboControl.consent(url)  # the user presses Connect on the consent page
    query = parse_qs(urlsplit(redirect).query)
    auth.get_bearer_token(query["code"][0], realm_id=query["realmId"][0])
    assert auth.access_token and auth.refresh_token and auth.realm_id == api.realm
