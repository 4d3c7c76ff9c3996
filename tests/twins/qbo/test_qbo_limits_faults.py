"""Throttling (429/3001), injected faults, commit-then-drop, and the control plane (reset, company, limits)."""
from __future__ import annotations

import threading
import time

import pytest
import requests
from qbo_twin_helpers import fault


def _throttled(r):
    assert r.status_code == 429
    error = fault(r)
    assert error["code"] == "3001"
    assert error["Message"] == "message=ThrottleExceeded; errorCode=003001; statusCode=429"


def test_default_limits(api):
    assert api.admin("GET", "/limits").json() == {"per_minute": 500, "concurrent": 10, "batch_per_minute": 40,
                                                  "time_scale": 1.0}


def test_requests_per_minute(api):
    api.token  # noqa: B018 - token endpoint calls are not throttled
    assert api.admin("PUT", "/limits", json={"per_minute": 5}).status_code == 200
    for _ in range(5):
        assert api.get("/customer/1").status_code == 200
    _throttled(api.get("/customer/1"))


def test_the_window_slides_with_time_scale(api, manual_clock):
    api.token  # noqa: B018
    clock = manual_clock(api.twin)
    r = api.admin("PUT", "/limits", json={"per_minute": 2, "time_scale": 600.5})  # a minute lasts ~0.1 s
    assert r.status_code == 200 and r.json()["time_scale"] == 600.5
    assert api.get("/customer/1").status_code == 200
    assert api.get("/customer/1").status_code == 200
    assert api.get("/customer/1").status_code == 429
    clock.advance(0.099)  # 60 / 600.5 = 0.0999 s: still inside the window
    _throttled(api.get("/customer/1"))
    clock.advance(0.001)
    assert api.get("/customer/1").status_code == 200


def test_batch_requests_per_minute(api):
    api.token  # noqa: B018
    api.admin("PUT", "/limits", json={"batch_per_minute": 2})
    doc = {"BatchItemRequest": [{"bId": "1", "Query": "SELECT COUNT(*) FROM Item"}]}
    assert api.post("/batch", json=doc).status_code == 200
    assert api.post("/batch", json=doc).status_code == 200
    _throttled(api.post("/batch", json=doc))
    assert api.get("/customer/1").status_code == 200  # other requests still pass


def test_429_can_be_xml(api):
    api.token  # noqa: B018
    api.admin("PUT", "/limits", json={"per_minute": 1})
    api.admin("PUT", "/faults", json={"xml_429": True})
    api.get("/customer/1")
    r = api.get("/customer/1")
    assert r.status_code == 429
    assert r.headers["Content-Type"].startswith("application/xml")
    assert b'<Error code="3001">' in r.content and b"ThrottleExceeded" in r.content


def test_ten_requests_in_flight_the_eleventh_is_429(api):
    token = api.token
    twin = api.twin
    results: list[int] = []
    twin.store.lock.acquire()  # every admitted request now waits inside the twin
    try:
        threads = [threading.Thread(target=lambda: results.append(
            requests.get(f"{api.base}/customer/1", headers=api.headers(token), timeout=30).status_code))
            for _ in range(10)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 10
        while twin.concurrency._inflight.get(api.realm, 0) < 10 and time.monotonic() < deadline:
            time.sleep(0.01)
        _throttled(requests.get(f"{api.base}/customer/1", headers=api.headers(token), timeout=30))
    finally:
        twin.store.lock.release()
    for t in threads:
        t.join(timeout=30)
    assert results == [200] * 10
    assert api.get("/customer/1").status_code == 200


def test_injected_errors_do_not_touch_state(api):
    api.token  # noqa: B018
    api.admin("PUT", "/faults", json={"error_rate": 1.0, "error_status": 503})
    r = api.post("/customer", json={"DisplayName": "Never Made"})
    assert r.status_code == 503 and fault(r)["code"] == "10000"
    api.admin("PUT", "/faults", json={})
    assert api.rows("SELECT * FROM Customer WHERE DisplayName = 'Never Made'") == []


def test_injected_errors_can_target_paths(api):
    api.token  # noqa: B018
    api.admin("PUT", "/faults", json={"error_rate": 1.0, "error_status": 400, "paths": ["/batch"]})
    try:
        assert api.query("SELECT * FROM Item MAXRESULTS 1").status_code == 200
        r = api.post("/batch", json={"BatchItemRequest": [{"bId": "1", "Query": "SELECT COUNT(*) FROM Item"}]})
        assert r.status_code == 400 and fault(r)["Detail"].endswith("Injected fault")
        assert api.admin("PUT", "/faults", json={"paths": "/batch"}).status_code == 400
    finally:
        api.admin("PUT", "/faults", json={})


def test_injected_latency(api):
    api.token  # noqa: B018
    api.admin("PUT", "/faults", json={"latency_ms": 120})
    started = time.monotonic()
    api.get("/customer/1")
    assert time.monotonic() - started >= 0.12


def test_commit_then_drop_performs_the_write_without_answering(api):
    api.token  # noqa: B018
    api.admin("PUT", "/faults", json={"commit_then_drop_rate": 1.0})
    with pytest.raises(requests.ConnectionError):
        api.post("/customer", params={"requestid": "drop-1"}, json={"DisplayName": "Dropped Answer"})
    api.admin("PUT", "/faults", json={})
    assert len(api.rows("SELECT * FROM Customer WHERE DisplayName = 'Dropped Answer'")) == 1
    # a naive retry without requestid fails on the duplicate...
    r = api.post("/customer", json={"DisplayName": "Dropped Answer"})
    assert fault(r)["code"] == "6240"
    # ...a retry with the same requestid gets the original answer
    r = api.post("/customer", params={"requestid": "drop-1"}, json={"DisplayName": "Dropped Answer"})
    assert r.status_code == 200 and r.json()["Customer"]["DisplayName"] == "Dropped Answer"
    log = api.admin("GET", "/requests").json()
    assert any(e.get("dropped") for e in log)


def test_reads_are_never_dropped(api):
    api.token  # noqa: B018
    api.admin("PUT", "/faults", json={"commit_then_drop_rate": 1.0})
    assert api.get("/customer/1").status_code == 200
    assert api.query("SELECT * FROM Item MAXRESULTS 1").status_code == 200


def test_reset_keeps_company_setup(api):
    api.post("/customer", json={"DisplayName": "Temp"})
    accounts = api.rows("SELECT * FROM Account")
    prefs = api.get("/preferences").json()["Preferences"]
    assert api.admin("POST", "/reset").status_code == 200
    assert api.rows("SELECT * FROM Customer") == []
    assert api.rows("SELECT * FROM Item") == []
    assert api.rows("SELECT * FROM Account") == accounts
    assert api.get("/preferences").json()["Preferences"] == prefs
    assert {c["Id"] for c in api.rows("SELECT * FROM TaxCode")} == {"TAX", "NON"}
    # ids start again
    assert api.post("/customer", json={"DisplayName": "First Again"}).json()["Customer"]["Id"] == "1"


def test_seed_admin_route_is_deterministic(api):
    first = api.rows("SELECT * FROM Customer MAXRESULTS 1000")
    assert api.admin("POST", "/seed", json={"profile": "demo", "seed": 42}).status_code == 200
    assert api.rows("SELECT * FROM Customer MAXRESULTS 1000") == first


def test_company_settings_admin(api):
    doc = api.admin("GET", "/company").json()
    assert doc["country"] == "US" and doc["custom_txn_numbers"] is True and doc["home_currency"] == "USD"
    r = api.admin("PUT", "/company", json={"country": "GB"})
    assert r.status_code == 200 and r.json()["home_currency"] == "GBP"
    assert api.rows("SELECT * FROM CompanyInfo")[0]["Country"] == "GB"
    assert api.rows("SELECT * FROM Customer") == []  # a new country is a new company
    assert api.admin("PUT", "/company", json={"bogus": 1}).status_code == 400
    assert api.admin("PUT", "/limits", json={"bogus": 1}).status_code == 400


def test_multicurrency_cannot_be_turned_off_with_foreign_customers(api):
    r = api.admin("PUT", "/company", json={"multicurrency": False})
    assert r.status_code == 400
    prefs = api.get("/preferences").json()["Preferences"]
    assert prefs["CurrencyPrefs"]["MultiCurrencyEnabled"] is True and prefs["SyncToken"] == "0"


def test_concurrent_creates_of_one_name_let_exactly_one_through(api):
    token = api.token
    codes: list[int] = []
    errors: list[str] = []

    def create() -> None:
        r = requests.post(f"{api.base}/customer", json={"DisplayName": "Race Co"}, headers=api.headers(token),
                          timeout=30)
        codes.append(r.status_code)
        if r.status_code != 200:
            errors.append(fault(r)["code"])

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(codes) == [200] + [400] * 7
    assert set(errors) == {"6240"}
