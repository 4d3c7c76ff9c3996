"""Throttling waited out until the run's deadline instead of failing after a few attempts, against a scripted server
on loopback (the budgets themselves: tests/unit/test_pacing.py)."""
from __future__ import annotations

import pytest

from atera_qbo.errors import RateLimitedError, RetriableApiError
from atera_qbo.http import ApiSession, RetryPolicy
from sandbox.core.http import Request, Response, TwinServer
from tests.fake_time import FakeTime


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
    # never retried sooner than the wait asked: it gave up when the next wait (at most max_wait) would pass the
    # deadline, not before
    assert 600 - 60 < sum(t.slept) <= 600
    seen = server.seen
    with pytest.raises(RateLimitedError):  # the deadline is the run's: the next request waits at most what is left
        session.request("GET", "/y", entity="y")
    assert server.seen > seen and sum(t.slept) <= 600
    assert session.throttled_seconds == pytest.approx(sum(t.slept))


def test_server_errors_are_retried_until_their_own_bound(throttling):
    server, t = throttling(10_000, status=503), FakeTime()
    session = ApiSession(server.server.url, policy=RetryPolicy(initial_wait=1, max_wait=30, error_deadline=300,
                                                               throttle_deadline=0), sleep=t.sleep, clock=t.clock)
    with pytest.raises(RetriableApiError, match="HTTP 503"):
        session.request("GET", "/x", entity="x")
    assert server.seen > 6 and sum(t.slept) <= 300
    assert session.throttled_seconds == 0
