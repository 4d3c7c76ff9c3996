"""/batch, requestid idempotency, /cdc and minorversion."""
from __future__ import annotations

import datetime as dt

from qbo_twin_helpers import fault


def _line(item="1", qty=1, price=125.0):
    return {"DetailType": "SalesItemLineDetail", "Amount": qty * price,
            "SalesItemLineDetail": {"ItemRef": {"value": item}, "Qty": qty, "UnitPrice": price,
                                    "TaxCodeRef": {"value": "NON"}}}


def test_batch_creates_with_per_item_results_and_faults(api):
    r = api.post("/batch", json={"BatchItemRequest": [
        {"bId": "a", "operation": "create", "Customer": {"DisplayName": "Batch One"}},
        {"bId": "b", "operation": "create", "Customer": {"DisplayName": "Contoso Ltd"}},
        {"bId": "c", "operation": "create", "Invoice": {"CustomerRef": {"value": "2"}, "Line": [_line()]}},
        {"bId": "d", "Query": "SELECT * FROM Customer WHERE DisplayName = 'Batch One'"},
    ]})
    assert r.status_code == 200
    items = {i["bId"]: i for i in r.json()["BatchItemResponse"]}
    assert items["a"]["Customer"]["DisplayName"] == "Batch One"
    assert items["b"]["Fault"]["Error"][0]["code"] == "6240"
    assert items["b"]["Fault"]["type"] == "ValidationFault"
    assert items["c"]["Invoice"]["TotalAmt"] == 125
    # no rollback: "a" exists although "b" failed; the query in the same batch cannot see it
    assert items["d"]["QueryResponse"] == {}
    assert api.rows("SELECT * FROM Customer WHERE DisplayName = 'Batch One'")


def test_batch_item_cannot_reference_an_object_created_earlier_in_the_batch(api):
    r = api.post("/batch", json={"BatchItemRequest": [
        {"bId": "1", "operation": "create", "Customer": {"DisplayName": "Fresh Customer"}},
        {"bId": "2", "operation": "create", "Invoice": {"CustomerRef": {"value": "31"}, "Line": [_line()]}},
    ]})
    items = {i["bId"]: i for i in r.json()["BatchItemResponse"]}
    assert items["1"]["Customer"]["Id"] == "31"
    assert items["2"]["Fault"]["Error"][0]["code"] == "2500"
    # after the batch it is visible
    assert api.post("/invoice", json={"CustomerRef": {"value": "31"}, "Line": [_line()]}).status_code == 200


def test_batch_update_and_delete(api):
    inv = api.post("/invoice", json={"CustomerRef": {"value": "1"}, "Line": [_line()]}).json()["Invoice"]
    r = api.post("/batch", json={"BatchItemRequest": [
        {"bId": "u", "operation": "update", "Customer": {"Id": "2", "SyncToken": "0", "sparse": True,
                                                         "Notes": "batched"}},
        {"bId": "x", "operation": "update", "Customer": {"Id": "2", "SyncToken": "0", "sparse": True,
                                                         "Notes": "stale"}},
        {"bId": "d", "operation": "delete", "Invoice": {"Id": inv["Id"], "SyncToken": "0"}},
        {"bId": "l", "operation": "delete", "Customer": {"Id": "3", "SyncToken": "0"}},
    ]})
    items = {i["bId"]: i for i in r.json()["BatchItemResponse"]}
    assert items["u"]["Customer"]["SyncToken"] == "1"
    assert items["x"]["Fault"]["Error"][0]["code"] == "5010"
    assert items["d"]["Invoice"]["status"] == "Deleted"
    assert items["l"]["Fault"]["Error"][0]["code"] == "500"


def test_batch_of_30_is_fine_31_is_a_fault(api):
    ok = api.post("/batch", json={"BatchItemRequest": [
        {"bId": str(i), "Query": "SELECT COUNT(*) FROM Item"} for i in range(30)]})
    assert ok.status_code == 200 and len(ok.json()["BatchItemResponse"]) == 30
    r = api.post("/batch", json={"BatchItemRequest": [
        {"bId": str(i), "operation": "create", "Customer": {"DisplayName": f"Too Many {i}"}} for i in range(31)]})
    assert r.status_code == 400
    assert fault(r)["code"] == "6000"
    assert api.rows("SELECT * FROM Customer WHERE DisplayName LIKE 'Too Many%'") == []


def test_batch_requires_bid_and_operation(api):
    r = api.post("/batch", json={"BatchItemRequest": [{"operation": "create", "Customer": {"DisplayName": "X"}}]})
    assert r.status_code == 400 and fault(r)["code"] == "2020"
    r = api.post("/batch", json={"BatchItemRequest": [{"bId": "1", "Customer": {"DisplayName": "X"}}]})
    assert r.json()["BatchItemResponse"][0]["Fault"]["Error"][0]["code"] == "2020"


def test_requestid_replays_the_original_response(api):
    body = {"CustomerRef": {"value": "1"}, "Line": [_line()]}
    first = api.post("/invoice", params={"requestid": "req-0001"}, json=body)
    again = api.post("/invoice", params={"requestid": "req-0001"}, json=body)
    assert first.status_code == again.status_code == 200
    assert first.content == again.content
    assert len(api.rows("SELECT * FROM Invoice")) == 1
    other = api.post("/invoice", params={"requestid": "req-0002"}, json=body)
    assert other.json()["Invoice"]["Id"] != first.json()["Invoice"]["Id"]


def test_requestid_replays_a_fault_too(api):
    first = api.post("/customer", params={"requestid": "dup-1"}, json={"DisplayName": "Contoso Ltd"})
    assert fault(first)["code"] == "6240"
    again = api.post("/customer", params={"requestid": "dup-1"}, json={"DisplayName": "Something Else"})
    assert again.content == first.content


def test_requestid_length_limits(api):
    r = api.post("/customer", params={"requestid": "x" * 51}, json={"DisplayName": "Long Id"})
    assert r.status_code == 400
    error = fault(r)
    assert error["code"] == "6000"
    assert error["Detail"] == "You cannot enter more than 50 characters in the request_id field"
    assert api.post("/customer", params={"requestid": "x" * 50}, json={"DisplayName": "Long Id"}).status_code == 200
    r = api.post("/batch", params={"requestid": "y" * 37}, json={"BatchItemRequest": [
        {"bId": "1", "Query": "SELECT * FROM Item"}]})
    assert r.status_code == 400 and fault(r)["code"] == "6000"
    assert "36" in fault(r)["Detail"]


def test_batch_requestid_replays_and_limits_bid(api):
    doc = {"BatchItemRequest": [{"bId": "1", "operation": "create", "Customer": {"DisplayName": "Batch Replay"}}]}
    first = api.post("/batch", params={"requestid": "b" * 36}, json=doc)
    again = api.post("/batch", params={"requestid": "b" * 36}, json=doc)
    assert first.content == again.content
    assert "Fault" not in first.json()["BatchItemResponse"][0]
    long_bid = {"BatchItemRequest": [{"bId": "b" * 11, "Query": "SELECT * FROM Item"}]}
    r = api.post("/batch", params={"requestid": "other"}, json=long_bid)
    assert r.status_code == 400 and fault(r)["code"] == "6000"
    assert api.post("/batch", json=long_bid).status_code == 200  # without requestid a long bId is fine


def test_minorversion_is_accepted_and_ignored(api):
    r = api.get("/customer/1", params={"minorversion": "75"})
    assert r.status_code == 200
    r = api.query("SELECT * FROM Item MAXRESULTS 1")
    assert r.status_code == 200


def test_cdc_returns_changes_and_deletes(api):
    since = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)).isoformat()
    inv = api.post("/invoice", json={"CustomerRef": {"value": "1"}, "Line": [_line()]}).json()["Invoice"]
    gone = api.post("/invoice", json={"CustomerRef": {"value": "2"}, "Line": [_line()]}).json()["Invoice"]
    api.post("/invoice", params={"operation": "delete"}, json={"Id": gone["Id"], "SyncToken": "0"})
    r = api.get("/cdc", params={"entities": "Invoice,Customer", "changedSince": since})
    assert r.status_code == 200, r.text
    groups = r.json()["CDCResponse"][0]["QueryResponse"]
    invoices = next(g["Invoice"] for g in groups if "Invoice" in g)
    by_id = {i["Id"]: i for i in invoices}
    assert by_id[inv["Id"]]["TotalAmt"] == 125
    assert by_id[gone["Id"]]["status"] == "Deleted"
    assert not any("Customer" in g for g in groups)  # balances moved, the customers were not edited


def test_cdc_limits(api):
    old = (dt.datetime.now(dt.UTC) - dt.timedelta(days=31)).isoformat()
    r = api.get("/cdc", params={"entities": "Invoice", "changedSince": old})
    assert r.status_code == 400
    recent = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).isoformat()
    r = api.get("/cdc", params={"entities": "TaxCode", "changedSince": recent})
    assert r.status_code == 400
    r = api.get("/cdc", params={"entities": "Invoice", "changedSince": recent})
    assert r.json()["CDCResponse"] == [{"QueryResponse": [{}]}]


def _send_headers_and_part_of_the_body(api, path: str, body: bytes) -> None:
    """A client that sends its headers and half its body, then dies (the socket closes)."""
    import socket
    from urllib.parse import urlsplit

    url = urlsplit(api.base + path)
    head = (f"POST {url.path}?{url.query} HTTP/1.1\r\nHost: {url.netloc}\r\n"
            f"Authorization: Bearer {api.token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(head + body[: len(body) // 2])
        sock.shutdown(socket.SHUT_WR)
        assert sock.recv(1024) == b"", "the twin answered an incomplete request"


def test_a_request_cut_before_its_body_ends_is_never_performed_nor_remembered(api):
    """Real QBO never performs a request whose body did not arrive; its requestid stays unused, so the retry (with
    the whole body) is performed, not answered with a stored fault."""
    import json

    items = [{"bId": "1", "operation": "create", "Invoice": {"CustomerRef": {"value": "1"}, "Line": [_line()]}}]
    body = json.dumps({"BatchItemRequest": items}).encode()
    before = len(api.rows("SELECT * FROM Invoice"))
    _send_headers_and_part_of_the_body(api, "/batch?requestid=cut-0001", body)
    _send_headers_and_part_of_the_body(api, "/invoice?requestid=cut-0002", json.dumps(items[0]["Invoice"]).encode())
    assert len(api.rows("SELECT * FROM Invoice")) == before
    retry = api.post("/batch", params={"requestid": "cut-0001"}, json={"BatchItemRequest": items})
    assert retry.status_code == 200, retry.text
    assert "Invoice" in retry.json()["BatchItemResponse"][0], retry.text
    single = api.post("/invoice", params={"requestid": "cut-0002"}, json=items[0]["Invoice"])
    assert single.status_code == 200 and single.json()["Invoice"]["Id"]
    assert len(api.rows("SELECT * FROM Invoice")) == before + 2
