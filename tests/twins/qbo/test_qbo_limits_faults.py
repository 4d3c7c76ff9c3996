"""Throttling (429/3001), injected faults, commit-then-drop, and the control plane (reset, company, limits)."""
from __future__ import annotations

import argparse
import threading
import time

import pytest
import requests
from qbo_twin_helpers import fault

from sandbox.qbo.server import add_arguments, create_twin


def _throttled(r):
    assert r.status_code == 429
    error = fault(r)
    assert error["code"] == "3001"
    assert error["Message"] == "message=ThrottleExceeded; errorCode=003001; statusCode=429"


def test_default_limits(api):
    assert api.control.get_limits() == {"per_minute": 500, "per_second": 10, "concurrent": 10, "batch_per_minute": 40,
                                        "time_scale": 1.0}


def test_requests_per_minute(api):
    api.token  # noqa: B018 - token endpoint calls are not throttled
    assert api.control.set_limits(per_minute=5)["per_minute"] == 5
    for _ in range(5):
        assert api.get("/customer/1").status_code == 200
    _throttled(api.get("/customer/1"))


def test_the_window_slides_with_time_scale(api, manual_clock):
    api.token  # noqa: B018
    clock = manual_clock(api.twin)
    assert api.control.set_limits(per_minute=2, time_scale=600.5)["time_scale"] == 600.5  # a minute lasts ~0.1 s
    assert api.get("/customer/1").status_code == 200
    assert api.get("/customer/1").status_code == 200
    assert api.get("/customer/1").status_code == 429
    clock.advance(0.099)  # 60 / 600.5 = 0.0999 s: still inside the window
    _throttled(api.get("/customer/1"))
    clock.advance(0.001)
    assert api.get("/customer/1").status_code == 200


def test_batch_requests_per_minute(api):
    api.token  # noqa: B018
    api.control.set_limits(batch_per_minute=2)
    doc = {"BatchItemRequest": [{"bId": "1", "Query": "SELECT COUNT(*) FROM Item"}]}
    assert api.post("/batch", json=doc).status_code == 200
    assert api.post("/batch", json=doc).status_code == 200
    _throttled(api.post("/batch", json=doc))
    assert api.get("/customer/1").status_code == 200  # other requests still pass


def test_429_can_be_xml(api):
    api.token  # noqa: B018
    api.control.set_limits(per_minute=1)
    api.control.set_faults(xml_429=True)
    api.get("/customer/1")
    r = api.get("/customer/1")
    assert r.status_code == 429
    assert r.headers["Content-Type"].startswith("application/xml")
    assert b'<Error code="3001">' in r.content and b"ThrottleExceeded" in r.content


def test_ten_requests_in_flight_the_eleventh_is_429(api):
    token = api.token
    twin = api.twin
    # 12 requests inside a second, on purpose: lift the 10/s limit (tested on its own) so concurrency answers
    api.control.set_limits(per_second=0)
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
    with api.control.faults(error_rate=1.0, error_status=503):
        r = api.post("/customer", json={"DisplayName": "Never Made"})
    assert r.status_code == 503 and fault(r)["code"] == "10000"
    assert api.rows("SELECT * FROM Customer WHERE DisplayName = 'Never Made'") == []


def test_injected_errors_can_target_paths(api):
    api.token  # noqa: B018
    with api.control.faults(error_rate=1.0, error_status=400, paths=["/batch"]):
        assert api.query("SELECT * FROM Item MAXRESULTS 1").status_code == 200
        r = api.post("/batch", json={"BatchItemRequest": [{"bId": "1", "Query": "SELECT COUNT(*) FROM Item"}]})
        assert r.status_code == 400 and fault(r)["Detail"].endswith("Injected fault")
        # a paths value that is not a list: the route's own answer (400) is the subject, so raw HTTP
        assert api.admin("PUT", "/faults", json={"paths": "/batch"}).status_code == 400


def test_injected_latency(api):
    api.token  # noqa: B018
    api.control.set_faults(latency_ms=120)
    started = time.monotonic()
    api.get("/customer/1")
    assert time.monotonic() - started >= 0.12


def test_commit_then_drop_performs_the_write_without_answering(api):
    api.token  # noqa: B018
    with api.control.faults(commit_then_drop_rate=1.0), pytest.raises(requests.ConnectionError):
        api.post("/customer", params={"requestid": "drop-1"}, json={"DisplayName": "Dropped Answer"})
    assert len(api.rows("SELECT * FROM Customer WHERE DisplayName = 'Dropped Answer'")) == 1
    # a naive retry without requestid fails on the duplicate...
    r = api.post("/customer", json={"DisplayName": "Dropped Answer"})
    assert fault(r)["code"] == "6240"
    # ...a retry with the same requestid gets the original answer
    r = api.post("/customer", params={"requestid": "drop-1"}, json={"DisplayName": "Dropped Answer"})
    assert r.status_code == 200 and r.json()["Customer"]["DisplayName"] == "Dropped Answer"
    assert any(e.get("dropped") for e in api.control.requests())


def test_reads_are_never_dropped(api):
    api.token  # noqa: B018
    api.control.set_faults(commit_then_drop_rate=1.0)
    assert api.get("/customer/1").status_code == 200
    assert api.query("SELECT * FROM Item MAXRESULTS 1").status_code == 200


def test_reset_keeps_company_setup(api):
    api.post("/customer", json={"DisplayName": "Temp"})
    accounts = api.rows("SELECT * FROM Account")
    prefs = api.get("/preferences").json()["Preferences"]
    api.control.reset()
    assert api.rows("SELECT * FROM Customer") == []
    assert api.rows("SELECT * FROM Item") == []
    assert api.rows("SELECT * FROM Account") == accounts
    assert api.get("/preferences").json()["Preferences"] == prefs
    assert {c["Id"] for c in api.rows("SELECT * FROM TaxCode")} == {"TAX", "NON"}
    # ids start again
    assert api.post("/customer", json={"DisplayName": "First Again"}).json()["Customer"]["Id"] == "1"


def test_seed_admin_route_is_deterministic(api):
    first = api.rows("SELECT * FROM Customer MAXRESULTS 1000")
    api.control.seed("demo", seed=42)
    assert api.rows("SELECT * FROM Customer MAXRESULTS 1000") == first


def test_company_settings_admin(api):
    doc = api.control.company()
    assert doc["country"] == "US" and doc["custom_txn_numbers"] is True and doc["home_currency"] == "USD"
    assert api.control.set_company(country="GB")["home_currency"] == "GBP"
    assert api.rows("SELECT * FROM CompanyInfo")[0]["Country"] == "GB"
    assert api.rows("SELECT * FROM Customer") == []  # a new country is a new company
    # unknown settings and limits: the routes' own answers (400) are the subject, so raw HTTP
    assert api.admin("PUT", "/company", json={"bogus": 1}).status_code == 400
    assert api.admin("PUT", "/limits", json={"bogus": 1}).status_code == 400


def test_multicurrency_cannot_be_turned_off_with_foreign_customers(api):
    # the route's own refusal (400) is the subject: raw HTTP
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


# -- 10 requests per second per realm ---------------------------------------------------------------------------------
def test_ten_requests_per_second_the_eleventh_is_429(api, manual_clock):
    api.token  # noqa: B018 - token endpoint calls are not throttled
    clock = manual_clock(api.twin)  # every request below happens in the same instant
    assert api.control.get_limits()["per_second"] == 10
    for _ in range(10):
        assert api.get("/customer/1").status_code == 200
    _throttled(api.get("/customer/1"))  # the same 429 as the per-minute limit: Fault 3001
    clock.advance(0.999)
    _throttled(api.get("/customer/1"))
    clock.advance(0.001)  # the second has passed
    assert api.get("/customer/1").status_code == 200


def test_per_second_counts_every_kind_of_request_and_follows_the_time_scale(api, manual_clock):
    api.token  # noqa: B018
    clock = manual_clock(api.twin)
    assert api.control.set_limits(per_second=3, time_scale=10)["per_second"] == 3  # a second lasts 0.1 s
    assert api.get("/customer/1").status_code == 200
    assert api.query("SELECT COUNT(*) FROM Item").status_code == 200
    assert api.post("/batch", json={"BatchItemRequest": [{"bId": "1", "Query": "SELECT COUNT(*) FROM Item"}]}
                    ).status_code == 200
    _throttled(api.get("/customer/1"))
    clock.advance(0.1)
    assert api.get("/customer/1").status_code == 200


def test_per_second_429_is_xml_when_asked_too(api):
    api.token  # noqa: B018
    api.control.set_limits(per_second=1)
    api.control.set_faults(xml_429=True)
    api.get("/customer/1")
    r = api.get("/customer/1")
    assert r.status_code == 429 and b'<Error code="3001">' in r.content


def test_per_second_zero_is_no_limit(api):
    api.token  # noqa: B018
    assert api.control.set_limits(per_second=0)["per_second"] == 0
    assert [api.get("/customer/1").status_code for _ in range(15)] == [200] * 15
    for bad in (-1, 1.5, "10", True):
        # the subject is the control route's own answer (400): raw HTTP
        assert api.admin("PUT", "/limits", json={"per_second": bad}).status_code == 400


def test_per_second_from_the_command_line():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    common = {"state": None, "seed": "none", "seed_value": 42}
    assert create_twin(parser.parse_args([], argparse.Namespace(**common))).current_limits()["per_second"] == 10
    args = parser.parse_args(["--per-second", "4"], argparse.Namespace(**common))
    assert create_twin(args).current_limits()["per_second"] == 4
    with pytest.raises(SystemExit):
        create_twin(parser.parse_args(["--per-second", "-1"], argparse.Namespace(**common)))
