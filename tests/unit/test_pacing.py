"""Budgets as QBO counts them (a sliding window per limit, a cap on requests in flight), and throttling waited out
until the run's deadline instead of failing after a few attempts."""
from __future__ import annotations

import threading

import pytest

from atera_qbo.errors import RateLimitedError, RetriableApiError
from atera_qbo.http import ApiSession, RetryPolicy
from atera_qbo.pacing import WindowBudget
from atera_qbo.qbo.client import QboBudgets, QboLimits
from sandbox.core.http import Request, Response, TwinServer


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_window_budget_grants_the_whole_allowance_then_waits_for_the_oldest_answer_to_age_out():
    t = FakeTime()
    budget = WindowBudget("batch", 3, 60.0, clock=t.clock, sleep=t.sleep)
    for ended_at in (1000.0, 1001.0, 1002.0):
        budget.acquire()
        t.now = ended_at
        budget.release()
    assert t.slept == []  # three at once: the window was empty
    budget.acquire()  # the fourth waits until the first answer is a full window old
    assert t.now == pytest.approx(1060.0)
    budget.acquire()
    assert t.now == pytest.approx(1061.0)


def test_a_request_in_flight_keeps_its_slot_until_its_answer():
    t = FakeTime()
    budget = WindowBudget("requests", 1, 60.0, clock=t.clock, sleep=t.sleep)
    budget.acquire()
    t.now += 500  # long after the start: still in flight, still counted
    waiter = threading.Thread(target=budget.acquire)
    waiter.start()
    waiter.join(timeout=0.2)
    assert waiter.is_alive()
    budget.release()  # the answer came at 1500: the slot is free again at 1560
    waiter.join(timeout=5)
    assert not waiter.is_alive() and t.now == pytest.approx(1560.0)


def test_in_flight_budget_is_a_cap_on_concurrent_requests():
    budget = WindowBudget("in_flight", 2, 0.0)
    budget.acquire()
    budget.acquire()
    third = threading.Thread(target=budget.acquire)
    third.start()
    third.join(timeout=0.2)
    assert third.is_alive()
    budget.release()
    third.join(timeout=5)
    assert not third.is_alive()


def test_a_batch_holds_the_batch_budget_other_requests_do_not():
    budgets = QboBudgets("qbo:test", QboLimits(per_minute=500, batch_per_minute=40, in_flight=10))
    batch = budgets.for_path("/batch")
    assert [b.name for b in batch] == ["batch", "requests", "in_flight"]
    assert [(b.limit, b.window) for b in batch] == [(40, 60.0), (500, 60.0), (10, 0.0)]
    assert [b.name for b in budgets.for_path("/query")] == ["requests", "in_flight"]
    scaled = QboBudgets("qbo:test", QboLimits(minute=3.0, per_minute=None))
    assert [(b.name, b.window) for b in scaled.for_path("/batch")] == [("batch", 3.0), ("in_flight", 0.0)]


class Throttling:
    """Answers 429 (JSON or XML, without Retry-After) ``times`` times, then 200."""

    def __init__(self, times: int, xml: bool = False, status: int = 429) -> None:
        self.left, self.xml, self.status, self.seen = times, xml, status, 0
        self.server = TwinServer(self.handle).start()

    def handle(self, request: Request) -> Response:
        self.seen += 1
        if self.left <= 0:
            return Response.json({"ok": True})
        self.left -= 1
        if self.xml:
            return Response(self.status, b'<?xml version="1.0"?><IntuitResponse><Fault type="SERVICE">'
                                         b'<Error code="3001"><Message>ThrottleExceeded</Message></Error>'
                                         b'</Fault></IntuitResponse>', {"Content-Type": "application/xml"})
        return Response.json({"Fault": {"Error": [{"Message": "ThrottleExceeded", "code": "3001"}],
                                        "type": "SERVICE"}}, self.status)


@pytest.fixture
def throttling():
    made: list[Throttling] = []

    def make(*args, **kwargs) -> Throttling:
        made.append(Throttling(*args, **kwargs))
        return made[-1]

    yield make
    for t in made:
        t.server.stop()


@pytest.mark.parametrize("xml", [False, True])
def test_429_without_retry_after_is_waited_out_past_any_attempt_count(throttling, xml):
    server, t = throttling(20, xml=xml), FakeTime()
    session = ApiSession(server.server.url, policy=RetryPolicy(max_attempts=3, initial_wait=1, max_wait=60),
                         sleep=t.sleep, clock=t.clock)
    assert ApiSession.json(session.request("POST", "/batch", entity="batch", safe_to_retry=True)) == {"ok": True}
    assert server.seen == 21 and max(t.slept) <= 60
    assert session.throttled_seconds == pytest.approx(sum(t.slept))


def test_throttling_fails_only_at_the_runs_deadline(throttling):
    server, t = throttling(10_000), FakeTime()
    session = ApiSession(server.server.url, policy=RetryPolicy(initial_wait=1, max_wait=60, throttle_deadline=600),
                         sleep=t.sleep, clock=t.clock)
    with pytest.raises(RateLimitedError):
        session.request("GET", "/x", entity="x")
    assert sum(t.slept) == pytest.approx(600)
    seen = server.seen
    with pytest.raises(RateLimitedError):  # the deadline is the run's: the next request does not wait again
        session.request("GET", "/y", entity="y")
    assert server.seen == seen + 1


def test_server_errors_are_retried_until_their_own_bound(throttling):
    server, t = throttling(10_000, status=503), FakeTime()
    session = ApiSession(server.server.url, policy=RetryPolicy(initial_wait=1, max_wait=30, error_deadline=300,
                                                               throttle_deadline=0), sleep=t.sleep, clock=t.clock)
    with pytest.raises(RetriableApiError, match="HTTP 503"):
        session.request("GET", "/x", entity="x")
    assert server.seen > 6 and sum(t.slept) <= 300
    assert session.throttled_seconds == 0
