"""The services' published rules, end to end against the twins at those rules: QBO's 10 requests/s per realm is
never exceeded by the sync (not one 1-second window with more than 10 of its requests), a 429 is retried no
sooner than Intuit says (60 s, or Retry-After), and against a bearer-only Atera with an expiring token the catalog
sync works with a token and fails naming an expired one."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from atera_qbo.atera.client import AteraClient
from atera_qbo.errors import AuthError, RateLimitedError
from atera_qbo.extract import extract_atera_catalog, extract_qbo_catalog
from atera_qbo.http import ApiSession, RetryPolicy
from sandbox.control import AteraControl, QboControl
from sandbox.core.http import Request, Response, TwinServer
from sandbox.launch import start_twin
from scripts.airflow_env import DEMO
from tests.fake_time import FakeTime

from .test_extract_qbo import client as qbo_client


def test_no_second_holds_more_than_ten_of_our_requests_to_a_realm(qbo_twin, engine):
    control = QboControl(qbo_twin.url)
    control.set_limits(per_minute=500, per_second=10, concurrent=10, batch_per_minute=40)  # Intuit's
    control.clear_requests()
    qbo = qbo_client(qbo_twin, engine)
    extract_qbo_catalog(qbo, engine, full_refresh=True)
    with ThreadPoolExecutor(max_workers=8) as pool:  # and a burst from eight threads at once, as an export's
        list(pool.map(lambda i: qbo.read("Customer", str(1 + i % 20)), range(60)))
    times = sorted(r["time"] for r in control.requests() if "/v3/company/" in r["path"])
    assert len(times) > 60, "too few requests to say anything about a second"
    busiest = max(sum(1 for t in times[i:] if t < start + 1.0) for i, start in enumerate(times))
    assert busiest <= 10 and not [r for r in control.requests() if r["status"] == 429]


class Once429:
    """A 429 (with ``retry_after`` when given), then 200."""

    def __init__(self, retry_after: str | None = None) -> None:
        self.retry_after, self.seen = retry_after, 0
        self.server = TwinServer(self.handle).start()

    def handle(self, request: Request) -> Response:
        self.seen += 1
        if self.seen > 1:
            return Response.json({"ok": True})
        headers = {"Retry-After": self.retry_after} if self.retry_after else {}
        return Response.json({"Fault": {"Error": [{"Message": "ThrottleExceeded", "code": "3001"}]}}, 429, headers)


@pytest.fixture
def once429():
    made: list[Once429] = []

    def make(retry_after: str | None = None) -> Once429:
        made.append(Once429(retry_after))
        return made[-1]

    yield make
    for server in made:
        server.server.stop()


@pytest.mark.parametrize(("retry_after", "waited"), [(None, 60.0), ("120", 120.0), ("5", 5.0)])
def test_a_429_is_retried_no_sooner_than_intuit_says(once429, retry_after, waited):
    server, t = once429(retry_after), FakeTime()
    session = ApiSession(server.server.url, policy=RetryPolicy(initial_wait=1, max_wait=30, throttle_wait=60),
                         sleep=t.sleep, clock=t.clock)
    assert ApiSession.json(session.request("GET", "/x", entity="x")) == {"ok": True}
    assert t.slept == [waited] and server.seen == 2  # 60 s without Retry-After; Retry-After, never capped


def test_a_429_is_not_retried_sooner_when_the_runs_deadline_is_nearer(once429):
    server, t = once429(), FakeTime()
    session = ApiSession(server.server.url, policy=RetryPolicy(throttle_wait=60, throttle_deadline=45),
                         sleep=t.sleep, clock=t.clock)
    with pytest.raises(RateLimitedError):
        session.request("GET", "/x", entity="x")
    assert t.slept == [] and server.seen == 1  # failed at once: waiting 45 s would have retried too soon


@pytest.fixture
def bearer_only_atera(tmp_path):
    twin = start_twin("atera", ["--seed", "demo", "--api-key", DEMO["atera_api_key"], "--bearer-only"],
                      log_path=tmp_path / "atera.log")
    yield twin
    twin.stop()


def test_a_bearer_only_atera_syncs_with_a_token_and_refuses_an_expired_one_naming_it(bearer_only_atera, engine):
    control = AteraControl(bearer_only_atera.url, api_key=DEMO["atera_api_key"])
    key_client = AteraClient(bearer_only_atera.url, DEMO["atera_api_key"], rate_per_minute=None)
    with pytest.raises(AuthError, match="legacy API key"):  # the legacy key no longer works
        key_client.get("/customers", entity="Atera customers")
    token = control.mint_token(3600)
    results = extract_atera_catalog(AteraClient(bearer_only_atera.url, token["token"], rate_per_minute=None), engine)
    assert results["customers"].rows > 0

    short = control.mint_token(1)
    time.sleep(2.1)  # the twin's clock: the token is past its exp
    expired = AteraClient(bearer_only_atera.url, short["token"], rate_per_minute=None)
    assert expired.credential.expires_at is not None and expired.credential.expires_at < datetime.now(UTC)
    with pytest.raises(AuthError, match=r"refused the API token \(it expired on .*create a new token"):
        extract_atera_catalog(expired, engine)
