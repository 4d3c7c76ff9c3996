"""The client layer against scripted servers on loopback: paging edge cases, retry decisions, Retry-After."""
from __future__ import annotations

from collections import deque
from decimal import Decimal

import pytest

from atera_qbo.atera.client import AteraClient
from atera_qbo.errors import AuthError, FatalApiError, RateLimitedError, RetriableApiError, ValidationError
from atera_qbo.http import ApiSession, RetryPolicy
from sandbox.core.http import DropConnection, Request, Response, TwinServer

FAST = RetryPolicy(max_attempts=4, initial_wait=0.01, max_wait=0.05, timeout=5)


class Scripted:
    """A server answering from a queue of (status, body, headers) or DropConnection."""

    def __init__(self, answers):
        self.answers = deque(answers)
        self.seen: list[Request] = []
        self.server = TwinServer(self.handle).start()

    def handle(self, request: Request) -> Response:
        self.seen.append(request)
        answer = self.answers.popleft() if len(self.answers) > 1 else self.answers[0]
        if answer is DropConnection:
            raise DropConnection()
        status, body, headers = answer if len(answer) == 3 else (*answer, {})
        return Response.json(body, status, headers) if body is not None else Response.empty(status, headers)


def env(items, page, total_pages, next_link="x"):
    return {"items": items, "page": page, "itemsInPage": 50, "totalItemCount": 0, "totalPages": total_pages,
            "prevLink": None, "nextLink": next_link}


@pytest.fixture
def scripted():
    servers = []

    def make(answers):
        s = Scripted(answers)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.server.stop()


def test_atera_paging_reads_every_page_and_sends_the_key(scripted):
    s = scripted([(200, env([{"id": 1}, {"id": 2}], 1, 2)), (200, env([{"id": 3}], 2, 2, None))])
    client = AteraClient(s.server.url, "k-123", policy=FAST, rate_per_minute=None)
    assert [i["id"] for i in client.paged("/customers", entity="customers")] == [1, 2, 3]
    assert [r.arg("page") for r in s.seen] == ["1", "2"] and s.seen[0].header("X-API-KEY") == "k-123"
    assert s.seen[0].arg("itemsInPage") == "50"


def test_amounts_arrive_as_decimal(scripted):
    s = scripted([(200, env([{"Amount": Decimal("0.35")}], 1, 1, None))])
    client = AteraClient(s.server.url, "k", policy=FAST, rate_per_minute=None)
    assert next(iter(client.paged("/rates/products", entity="p")))["Amount"] == Decimal("0.35")


def test_retries_503_then_succeeds(scripted):
    s = scripted([(503, None), (503, None), (200, {"ok": True})])
    session = ApiSession(s.server.url, policy=FAST)
    assert ApiSession.json(session.request("GET", "/x", entity="thing")) == {"ok": True}
    assert len(s.seen) == 3


def test_gives_up_after_max_attempts_with_a_retriable_error(scripted):
    s = scripted([(500, None)])
    with pytest.raises(RetriableApiError, match="thing: HTTP 500"):
        ApiSession(s.server.url, policy=FAST).request("GET", "/x", entity="thing")
    assert len(s.seen) == FAST.max_attempts


def test_429_honours_retry_after(scripted):
    s = scripted([(429, None, {"Retry-After": "0.3"}), (200, {"ok": 1})])
    slept = []
    session = ApiSession(s.server.url, policy=RetryPolicy(max_attempts=3, initial_wait=0.01, max_wait=5),
                         sleep=slept.append)
    session.request("GET", "/x", entity="thing")
    assert slept and slept[0] >= 0.3


def test_unsafe_write_is_not_retried_on_5xx_but_is_on_429(scripted):
    s = scripted([(502, None)])
    with pytest.raises(RetriableApiError):
        ApiSession(s.server.url, policy=FAST).request("POST", "/x", entity="w", safe_to_retry=False)
    assert len(s.seen) == 1
    s2 = scripted([(429, None), (201, {"ActionID": 5})])
    r = ApiSession(s2.server.url, policy=FAST).request("POST", "/x", entity="w", safe_to_retry=False)
    assert r.status_code == 201 and len(s2.seen) == 2


def test_dropped_connection_is_retried_for_safe_requests(scripted):
    s = scripted([DropConnection, (200, {"ok": 1})])
    ApiSession(s.server.url, policy=FAST).request("POST", "/x", entity="w", safe_to_retry=True)
    assert len(s.seen) == 2


@pytest.mark.parametrize(("status", "error"), [(400, ValidationError), (401, AuthError), (404, FatalApiError)])
def test_fatal_statuses_are_not_retried(scripted, status, error):
    s = scripted([(status, {"title": "Bad", "detail": "CustomerName is required"})])
    with pytest.raises(error) as info:
        AteraClient(s.server.url, "k", policy=FAST, rate_per_minute=None).get("/customers", entity="Atera customers")
    assert len(s.seen) == 1 and f"HTTP {status}" in str(info.value)
    if status == 400:
        assert "CustomerName is required" in str(info.value)


def test_rate_limited_error_carries_retry_after(scripted):
    s = scripted([(429, None, {"Retry-After": "7"})])
    with pytest.raises(RateLimitedError) as info:
        ApiSession(s.server.url, policy=RetryPolicy(throttle_deadline=0)).request("GET", "/x", entity="t")
    assert info.value.retry_after == 7.0


def test_auth_failures_say_what_they_mean_and_what_to_do(scripted):
    from atera_qbo.qbo.client import QboClient

    s = scripted([(401, None)])  # Atera answers a bad or revoked key with an empty 401
    with pytest.raises(AuthError, match=r"HTTP 401.*bad or revoked.*atera_default"):
        AteraClient(s.server.url, "revoked", policy=FAST, rate_per_minute=None).get("/customers", entity="Atera")
    assert len(s.seen) == 1  # never retried

    class Tokens:  # a token store whose refresh works: QBO still refuses the fresh token
        refreshed = 0

        def access_token(self, *, stale_version=None, force_refresh=False):
            self.refreshed += stale_version is not None
            return f"token-{self.refreshed}", self.refreshed

    fault = {"Fault": {"Error": [{"Message": "AuthenticationFailed", "code": "3200"}], "type": "AUTHENTICATION"}}
    q = scripted([(401, fault)])
    tokens = Tokens()
    with pytest.raises(AuthError, match=r"refused again with a freshly refreshed token.*company 123.*reconnect"):
        QboClient(q.server.url, "123", tokens, policy=FAST, rate_per_minute=None).preferences()
    assert tokens.refreshed == 1 and len(q.seen) == 2  # one refresh, one retry, then the clear failure
