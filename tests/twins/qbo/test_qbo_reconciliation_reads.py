"""What reconciliation reads from the QBO twin: payments and applied credit memos show on the invoice (Balance,
SyncToken, LastUpdatedTime, so CDC sees them), void and delete as CDC reports them, customer merge, revoke."""
from __future__ import annotations

import base64
import datetime as dt
import time

from qbo_twin_helpers import fault
from test_qbo_transactions import create_invoice, line


def _cdc(api, since: str, entities: str = "Invoice,CreditMemo,Payment,Customer") -> dict[str, dict[str, dict]]:
    r = api.get("/cdc", params={"entities": entities, "changedSince": since})
    assert r.status_code == 200, r.text
    out: dict[str, dict[str, dict]] = {}
    for group in r.json()["CDCResponse"][0]["QueryResponse"]:
        for entity, records in group.items():
            if isinstance(records, list):
                out[entity] = {rec["Id"]: rec for rec in records}
    return out


def _later_than(api) -> str:
    """A changedSince just after every change made so far (the twin stamps whole seconds)."""
    time.sleep(1.1)
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def test_a_payment_updates_the_invoice_so_cdc_sees_it(api):
    inv = create_invoice(api, Line=[line("1", 2, "125.00")])
    since = _later_than(api)
    assert _cdc(api, since) == {}
    payment = api.post("/payment", json={"CustomerRef": {"value": "1"}, "TotalAmt": 100, "Line": [
        {"Amount": 100, "LinkedTxn": [{"TxnId": inv["Id"], "TxnType": "Invoice"}]}]}).json()["Payment"]
    now = api.get(f"/invoice/{inv['Id']}").json()["Invoice"]
    assert now["Balance"] == 150 and now["SyncToken"] == "1"
    assert now["MetaData"]["LastUpdatedTime"] > inv["MetaData"]["LastUpdatedTime"]
    changed = _cdc(api, since)
    assert changed["Invoice"][inv["Id"]]["Balance"] == 150
    assert payment["Id"] in changed["Payment"]
    rows = api.rows(f"SELECT * FROM Invoice WHERE Metadata.LastUpdatedTime >= '{since}'")
    assert [r["Id"] for r in rows] == [inv["Id"]]
    # a stale SyncToken (from before the payment) is refused
    r = api.post("/invoice", json={**inv, "sparse": True, "PrivateNote": "x"})
    assert fault(r)["code"] == "5010"


def test_an_applied_credit_memo_changes_and_shows_in_cdc(api):
    inv = create_invoice(api, Line=[line("1", 2, "125.00")])
    memo = api.post("/creditmemo", json={"CustomerRef": {"value": "1"},
                                         "Line": [line("1", 1, "50.00")]}).json()["CreditMemo"]
    since = _later_than(api)
    api.post("/payment", json={"CustomerRef": {"value": "1"}, "TotalAmt": 0, "Line": [
        {"Amount": 50, "LinkedTxn": [{"TxnId": inv["Id"], "TxnType": "Invoice"}]},
        {"Amount": 50, "LinkedTxn": [{"TxnId": memo["Id"], "TxnType": "CreditMemo"}]}]}).raise_for_status()
    changed = _cdc(api, since)
    assert changed["CreditMemo"][memo["Id"]]["RemainingCredit"] == 0
    assert changed["CreditMemo"][memo["Id"]]["SyncToken"] == "1"
    assert changed["Invoice"][inv["Id"]]["Balance"] == 200


def test_void_and_delete_as_cdc_reports_them(api):
    voided = create_invoice(api)
    deleted = create_invoice(api)
    since = _later_than(api)
    api.post("/invoice", params={"operation": "void"}, json={"Id": voided["Id"], "SyncToken": "0"}).raise_for_status()
    api.post("/invoice", params={"operation": "delete"},
             json={"Id": deleted["Id"], "SyncToken": "0"}).raise_for_status()
    invoices = _cdc(api, since)["Invoice"]
    assert invoices[voided["Id"]]["TotalAmt"] == 0 and invoices[voided["Id"]]["PrivateNote"] == "Voided"
    assert invoices[deleted["Id"]]["status"] == "Deleted"
    assert fault(api.get(f"/invoice/{deleted['Id']}"))["code"] == "610"


def test_customer_merge_moves_transactions_and_deletes_the_source(api):
    inv = create_invoice(api, CustomerRef={"value": "2"})
    since = _later_than(api)
    api.control.merge_customers("2", "3")
    assert fault(api.get("/customer/2"))["code"] == "610"
    assert not api.rows("SELECT * FROM Customer WHERE Id = '2'")
    moved = api.get(f"/invoice/{inv['Id']}").json()["Invoice"]
    assert moved["CustomerRef"]["value"] == "3" and moved["SyncToken"] == "1"
    assert api.get("/customer/3").json()["Customer"]["Balance"] == 125
    changed = _cdc(api, since)
    assert changed["Customer"]["2"]["status"] == "Deleted"
    assert "3" in changed["Customer"] and inv["Id"] in changed["Invoice"]
    # refused merges: the route's own answer (400) is the subject, so raw HTTP
    assert api.admin("POST", "/customers/merge", json={"from": "3", "into": "3"}).status_code == 400
    assert api.admin("POST", "/customers/merge", json={"from": "2", "into": "3"}).status_code == 400  # gone


def test_a_revoked_refresh_token_and_its_access_tokens_stay_unusable(api):
    doc = api.refresh(api.mint_refresh_token()).json()
    auth = "Basic " + base64.b64encode(b"twin-client-id:twin-client-secret").decode()
    r = api.http.post(f"{api.url}/v2/oauth2/tokens/revoke", json={"token": doc["refresh_token"]},
                      headers={"Authorization": auth}, timeout=10)
    assert r.status_code == 200
    for _ in range(2):  # and again later: revocation is permanent
        assert api.refresh(doc["refresh_token"]).json() == {"error": "invalid_grant"}
        assert api.get("/customer/1", token=doc["access_token"]).status_code == 401
    # other grants of the same app are not affected
    assert api.get("/customer/1", token=api.refresh(api.mint_refresh_token()).json()["access_token"]).status_code \
        == 200
