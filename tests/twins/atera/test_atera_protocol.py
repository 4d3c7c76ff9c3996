"""Protocol of the Atera twin: auth, paging envelope, errors, rate limit, fault injection, accounts (tenants)."""
from __future__ import annotations

import json
import time

import pytest
import requests

from sandbox.atera.models import AccountConfig
from sandbox.control import AteraControl

KEY = "twin-atera-key"


# -- auth ------------------------------------------------------------------------------------------------------------
def test_x_api_key_and_bearer_are_both_accepted(demo, client_cls):
    assert demo.get("/api/v3/customers")["totalItemCount"] == 26
    bearer = client_cls(demo.base_url, KEY, bearer=True)
    assert bearer.get("/api/v3/customers")["totalItemCount"] == 26


@pytest.mark.parametrize("headers", [{}, {"X-API-KEY": "wrong"}, {"Authorization": "Bearer wrong"},
                                     {"Authorization": f"Basic {KEY}"}, {"Authorization": KEY},
                                     {"X-API-KEY": ""}])
def test_401_with_an_empty_body_and_no_challenge(demo, headers):
    response = requests.get(demo.base_url + "/api/v3/customers", headers=headers, timeout=5)
    assert response.status_code == 401
    assert response.content == b""
    assert "WWW-Authenticate" not in response.headers


def test_401_also_on_unknown_paths_and_writes(demo):
    assert requests.post(demo.base_url + "/api/v3/customers", json={"CustomerName": "x"}, timeout=5).status_code == 401
    assert requests.get(demo.base_url + "/api/v3/nothing", timeout=5).status_code == 401


# -- paging ----------------------------------------------------------------------------------------------------------
def test_paging_defaults_to_20_and_links_are_full_urls(demo):
    env = demo.get("/api/v3/customers")
    assert env["page"] == 1 and env["itemsInPage"] == 20 and len(env["items"]) == 20
    assert env["totalItemCount"] == 26 and env["totalPages"] == 2
    assert env["prevLink"] is None
    assert env["nextLink"] == f"{demo.base_url}/api/v3/customers?page=2&itemsInPage=20"
    last = requests.get(env["nextLink"], headers={"X-API-KEY": KEY}, timeout=5).json()
    assert last["page"] == 2 and len(last["items"]) == 6
    assert last["nextLink"] is None
    assert last["prevLink"] == f"{demo.base_url}/api/v3/customers?page=1&itemsInPage=20"


def test_items_in_page_is_capped_at_50(demo):
    env = demo.get("/api/v3/rates/products?itemsInPage=500")
    assert env["itemsInPage"] == 50 and len(env["items"]) == 36 and env["totalPages"] == 1
    assert env["nextLink"] is None


def test_page_beyond_the_end_is_empty(demo):
    env = demo.get("/api/v3/customers?page=9&itemsInPage=10")
    assert env["items"] == [] and env["nextLink"] is None and env["totalPages"] == 3


def test_next_link_keeps_the_filters(demo):
    env = demo.get("/api/v3/billing/invoices?invoiceDateFrom=2026-08-01&invoiceDateTo=2026-10-31&itemsInPage=5")
    assert "invoiceDateFrom=2026-08-01" in env["nextLink"] and "invoiceDateTo=2026-10-31" in env["nextLink"]
    assert "page=2" in env["nextLink"] and "itemsInPage=5" in env["nextLink"]


def test_query_parameter_names_are_case_insensitive(demo):
    assert demo.get("/api/v3/customers?ITEMSINPAGE=3&Page=2")["items"][0]["CustomerID"] == 4


@pytest.mark.parametrize("query", ["page=abc", "itemsInPage=x", "page=0", "itemsInPage=0", "page=-1", "page=1.5",
                                   "itemsInPage=99999999999"])
def test_bad_paging_parameters_are_400_problem_details(demo, query):
    response = demo.call("GET", f"/api/v3/customers?{query}", 400)
    body = response.json()
    assert body["status"] == 400 and body["title"] and body["errors"]


def test_paging_visits_every_record_once(demo):
    ids = [c["CustomerID"] for c in demo.all_items("/api/v3/customers")]
    assert ids == list(range(1, 27))


# -- errors ----------------------------------------------------------------------------------------------------------
def test_404_for_unknown_ids_is_problem_details(demo):
    for path in ("/api/v3/customers/9999", "/api/v3/contacts/9999", "/api/v3/contracts/9999",
                 "/api/v3/rates/products/9999", "/api/v3/rates/expenses/9999", "/api/v3/billing/invoice/99999",
                 "/api/v3/tickets/99999"):
        body = demo.call("GET", path, 404).json()
        assert body["status"] == 404 and body["title"] == "Not Found", path


def test_unknown_route_is_404_and_a_wrong_method_405(demo):
    response = demo.raw("GET", "/api/v3/nothing-here")
    assert response.status_code == 404 and response.content == b""
    response = demo.raw("PATCH", "/api/v3/customers/1")
    assert response.status_code == 405 and response.headers["Allow"] == "DELETE, GET, POST, PUT"
    assert demo.raw("POST", "/api/v3/rates/products/1", json={}).status_code == 405
    assert demo.raw("DELETE", "/api/v3/contracts/1").status_code == 405


def test_malformed_json_is_400(fresh):
    response = fresh.raw("POST", "/api/v3/customers", data=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and response.json()["status"] == 400


def test_missing_body_is_400(fresh):
    response = fresh.raw("POST", "/api/v3/customers", headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and response.json()["status"] == 400


@pytest.mark.parametrize(("headers", "data"), [({}, b""), ({"Content-Type": "text/plain"}, b'{"CustomerName": "x"}'),
                                           ({"Content-Type": "application/x-www-form-urlencoded"}, b"CustomerName=x")])
def test_a_body_that_is_not_json_is_415(fresh, headers, data):
    response = fresh.raw("POST", "/api/v3/customers", headers=headers, data=data)
    assert response.status_code == 415 and response.json()["title"] == "Unsupported Media Type"
    ok = fresh.raw("PUT", "/api/v3/customers/1", headers={"Content-Type": "application/json; charset=utf-8"},
                   data=b'{"City": "Here"}')
    assert ok.status_code == 200
    assert fresh.get("/api/v3/customers")["totalItemCount"] == 26


@pytest.mark.parametrize(("path", "param"), [("/api/v3/customers/abc", "customerId"),
                                         ("/api/v3/billing/invoice/INV-1", "invoiceNumber"),
                                         ("/api/v3/contracts/customer/x", "customerId"),
                                         ("/api/v3/rates/products/1.5", "productId")])
def test_an_id_that_is_not_a_number_is_400(demo, path, param):
    body = demo.call("GET", path, 400).json()
    assert param in body["errors"]


# -- rate limit ------------------------------------------------------------------------------------------------------
def test_429_with_retry_after_above_the_configured_rate(make_twin, client_cls):
    _, url = make_twin(seed_profile="demo")
    client = client_cls(url)
    assert client.control.get_limits() == {"per_minute": 700, "time_scale": 1.0}
    assert client.control.set_limits(per_minute=5) == {"per_minute": 5, "time_scale": 1.0}
    statuses = [client.raw("GET", "/api/v3/customers").status_code for _ in range(7)]
    assert statuses[:5] == [200] * 5 and statuses[5:] == [429, 429]
    limited = client.raw("GET", "/api/v3/customers")
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.json()["status"] == 429


def test_rate_limit_window_slides(make_twin, client_cls, manual_clock):
    twin, url = make_twin(seed_profile="none")
    clock = manual_clock(twin)
    client = client_cls(url)
    client.control.set_limits(per_minute=3, time_scale=200)  # a "minute" is 0.3 s
    assert [client.raw("GET", "/api/v3/account").status_code for _ in range(4)] == [200, 200, 200, 429]
    clock.advance(0.29)  # still inside the window
    assert client.raw("GET", "/api/v3/account").status_code == 429
    clock.advance(0.02)  # the first three left the window
    assert [client.raw("GET", "/api/v3/account").status_code for _ in range(4)] == [200, 200, 200, 429]


def test_limits_are_per_account(make_twin, client_cls):
    _, url = make_twin(accounts=[AccountConfig("k1"), AccountConfig("k2")])
    a, b = client_cls(url, "k1"), client_cls(url, "k2")
    a.control.set_limits(per_minute=2)
    assert [a.raw("GET", "/api/v3/account").status_code for _ in range(3)] == [200, 200, 429]
    assert b.raw("GET", "/api/v3/account").status_code == 200


def test_bad_limits_are_refused(fresh):
    # the subject is the control route's own answer (400): raw HTTP, not the control client
    assert fresh.admin("PUT", "/_sandbox/limits", {"per_minute": -1}).status_code == 400
    assert fresh.admin("PUT", "/_sandbox/limits", {"burst": 3}).status_code == 400


# -- fault injection -------------------------------------------------------------------------------------------------
def test_injected_errors_and_latency(fresh):
    control = fresh.control
    assert control.set_faults(error_rate=1.0, error_status=503)["error_status"] == 503
    response = fresh.raw("GET", "/api/v3/customers")
    assert response.status_code == 503
    assert control.set_faults(error_rate=1.0, error_status=429)["error_status"] == 429
    response = fresh.raw("GET", "/api/v3/customers")
    assert response.status_code == 429 and response.headers["Retry-After"] == "1"
    control.set_faults(latency_ms=120)
    started = time.monotonic()
    assert fresh.raw("GET", "/api/v3/account").status_code == 200
    assert time.monotonic() - started >= 0.12
    control.clear_faults()
    assert control.get_faults()["error_rate"] == 0 and control.get_faults()["latency_ms"] == 0
    assert fresh.raw("GET", "/api/v3/account").status_code == 200


def test_injected_errors_do_not_touch_state(fresh):
    with fresh.control.faults(error_rate=1.0):
        assert fresh.raw("POST", "/api/v3/customers", json={"CustomerName": "Ghost"}).status_code == 503
    assert fresh.get("/api/v3/customers")["totalItemCount"] == 26


def test_commit_then_drop_performs_the_write_and_drops_the_answer(fresh):
    with fresh.control.faults(commit_then_drop_rate=1.0):
        with pytest.raises(requests.ConnectionError):
            fresh.raw("POST", "/api/v3/customers", json={"CustomerName": "Dropped Answer LLC"})
        # reads are not writes: they are answered
        assert fresh.raw("GET", "/api/v3/account").status_code == 200
    names = [c["CustomerName"] for c in fresh.all_items("/api/v3/customers")]
    assert names.count("Dropped Answer LLC") == 1
    log = fresh.control.requests()
    assert any(e.get("dropped") and e["method"] == "POST" for e in log)


def test_request_log_keeps_no_secrets(fresh):
    fresh.get("/api/v3/customers?itemsInPage=1")
    log = fresh.control.requests()
    assert "/api/v3/customers" in [e["path"] for e in log]
    assert KEY not in json.dumps(log)


# -- accounts (tenants) ----------------------------------------------------------------------------------------------
def test_each_api_key_is_its_own_account(make_twin, client_cls):
    _, url = make_twin(accounts=[AccountConfig("first", "Pacific Standard Time"),
                                 AccountConfig("second", "Europe/Berlin")], seed_profile="demo")
    first, second = client_cls(url, "first"), client_cls(url, "second")
    assert first.get("/api/v3/customers")["totalItemCount"] == 26  # the seed goes to the first key
    assert second.get("/api/v3/customers")["totalItemCount"] == 0
    assert second.get("/api/v3/billing/invoices")["totalItemCount"] == 0
    new_id = int(second.post("/api/v3/customers", {"CustomerName": "Only In Second"})["ActionID"])
    assert new_id == 1
    assert first.get("/api/v3/customers/1")["CustomerName"] == "Contoso Ltd"
    assert first.get("/api/v3/account")["TimeZoneName"] == "Pacific Standard Time"
    assert second.get("/api/v3/account")["TimeZoneName"] == "W. Europe Standard Time"
    assert first.get("/api/v3/account")["AccountID"] != second.get("/api/v3/account")["AccountID"]


def test_reset_and_seed_admin_routes(fresh):
    # the routes' own answers are the subject here: raw HTTP where the test reads them
    assert fresh.admin("POST", "/_sandbox/reset").json() == {"reset": True}
    assert fresh.get("/api/v3/customers")["totalItemCount"] == 0
    assert fresh.get("/api/v3/billing/invoices")["totalItemCount"] == 0
    assert len(fresh.get("/api/v3/customvalues/customfields")) >= 1  # account setup survives a reset
    seeded = fresh.control.seed("demo", seed=42)
    assert seeded["customers"] == 26 and seeded["invoices"] == 150
    assert fresh.get("/api/v3/customers")["totalItemCount"] == 26
    assert fresh.admin("POST", "/_sandbox/seed", {"profile": "nope"}).status_code == 400


def test_atera_control_plane_extras(make_twin, client_cls):
    _, url = make_twin(accounts=[AccountConfig("first"), AccountConfig("second", "UTC")])
    first, second = client_cls(url, "first"), client_cls(url, "second")
    # a refused seed is the route's own answer (400): raw HTTP
    assert first.admin("POST", "/_sandbox/seed", {"profile": "demo", "api_key": "nope"}).status_code == 400
    seeded = first.control.seed("demo", seed=42, api_key="second")
    assert seeded["customers"] == 26
    assert second.get("/api/v3/customers")["totalItemCount"] == 26
    assert first.get("/api/v3/customers")["totalItemCount"] == 0
    accounts = first.control.accounts()
    assert [a["customers"] for a in accounts] == [0, 26] and accounts[1]["invoices"] == 150
    # hourly rates for contracts (no public endpoint) and custom field definitions
    of_first = AteraControl(url, api_key="first")
    made = of_first.add_services([{"Description": "Remote Support", "Amount": 120}])
    assert made == [{"RateID": 1, "Amount": 120, "Description": "Remote Support", "SKU": None, "Category": None}]
    customer = first.post("/api/v3/customers", {"CustomerName": "Solo"})["ActionID"]
    contract = first.post("/api/v3/contracts", {"ContractName": "Solo - Hourly", "CustomerID": int(customer),
                                                "ContractType": "Hourly", "HourlyContract": {"HourlyRateID": 1}})
    assert first.get(f"/api/v3/contracts/{contract['ActionID']}")["HourlyContract"]["PrimaryRate"]["Amount"] == 120
    assert [f["Name"] for f in of_first.define_custom_fields([{"Name": "Region", "DataType": "Text"}])] == ["Region"]
    assert "Region" in [f["Name"] for f in first.get("/api/v3/customvalues/customfields")]
    assert "Region" not in [f["Name"] for f in second.get("/api/v3/customvalues/customfields")]
    # a key of no account is the route's own answer (400): raw HTTP
    assert requests.post(url + "/_sandbox/services", headers={"X-API-KEY": "bad"}, timeout=5,
                         json=[]).status_code == 400


def test_seed_with_an_unknown_key_is_refused_before_anything_is_reset():
    """A refused control-plane call leaves the data as it was (no half-applied state). The route's own answer (400)
    is the subject: raw HTTP, not the control client."""
    from sandbox.atera.server import AteraTwin, account_configs
    from sandbox.core.http import TwinServer

    twin = AteraTwin(account_configs(None), seed_profile="demo")
    server = TwinServer(twin.handle).start()
    try:
        headers = {"X-API-KEY": "twin-atera-key"}
        before = requests.get(f"{server.url}/api/v3/customers", headers=headers, timeout=5).json()["totalItemCount"]
        refused = requests.post(f"{server.url}/_sandbox/seed", json={"profile": "demo", "api_key": "nope"}, timeout=5)
        assert refused.status_code == 400 and "api_key" in refused.json()["error"]
        after = requests.get(f"{server.url}/api/v3/customers", headers=headers, timeout=5).json()["totalItemCount"]
        assert after == before > 0
    finally:
        server.stop()
